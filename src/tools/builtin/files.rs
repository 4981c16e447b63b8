//! File tools: `read_file` (the path resolved and re-checked on the host by `run_step`),
//! `list_dir`, `cert_info`.
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::common::{abs_path, clamp, keep_lines, Spec};
use crate::tools::schema::{parse_args, schema_for};
use crate::tools::step::run_step;
use crate::tools::types::{ArgsError, ExecContext, HostFacts, Run, Step, Tool, ToolError};
use crate::tools::variants::Variants;

/// Arguments of `read_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadFileArgs {
    /// Absolute path of the file, e.g. `/var/log/nginx/error.log`.
    pub path: String,
    /// How many lines to return (default 200, at most 5000).
    pub lines: Option<u32>,
    /// Read from the end of the file (default true: the newest log lines).
    pub from_end: Option<bool>,
    /// Only lines matching this regular expression (grep -E), with line numbers.
    pub grep: Option<String>,
}

/// `read_file`: judge the read as asked, then [`run_step`] resolves the path on the host,
/// re-checks the target against the policy and reads it.
pub struct ReadFile;

impl ReadFile {
    fn read_step(a: &ReadFileArgs, path: &str) -> Step {
        let n = clamp(a.lines, 200, 5000).to_string();
        match &a.grep {
            Some(g) => Step::new([
                "grep".to_string(),
                "-n".into(),
                "-E".into(),
                format!("--regexp={g}"),
                "--".into(),
                path.to_string(),
            ])
            .ok_codes(&[0, 1]),
            None if a.from_end.unwrap_or(true) => Step::new(["tail", "-n", n.as_str(), "--", path]),
            None => Step::new(["head", "-n", n.as_str(), "--", path]),
        }
    }

    fn validate(a: &ReadFileArgs) -> Result<(), ArgsError> {
        abs_path("path", &a.path)?;
        if let Some(g) = &a.grep {
            if g.is_empty() || g.chars().any(|c| c.is_control()) {
                return Err(ArgsError::Pattern {
                    what: "grep",
                    extra: " without control characters",
                });
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Tool for ReadFile {
    fn name(&self) -> &'static str {
        "read_file"
    }
    fn description(&self) -> &'static str {
        "Read a text file (last or first lines, or lines matching a pattern); secrets and private keys are refused"
    }
    fn parameters(&self) -> Value {
        schema_for::<ReadFileArgs>()
    }
    fn render(&self, args: &Value, _facts: &HostFacts) -> Result<Vec<Step>, ArgsError> {
        let a: ReadFileArgs = parse_args("read_file", args)?;
        Self::validate(&a)?;
        Ok(vec![Self::read_step(&a, &a.path)])
    }
    async fn run(&self, ctx: &ExecContext, args: &Value) -> Result<Run, ToolError> {
        let a: ReadFileArgs = parse_args("read_file", args)?;
        Self::validate(&a)?;
        let mut run = Run::default();
        // run_step judges the read, resolves the path on the host, re-checks the target,
        // then reads it.
        let step = Self::read_step(&a, &a.path);
        let n = clamp(a.lines, 200, 5000) as usize;
        let from_end = a.from_end.unwrap_or(true);
        run_step(ctx, &step, &mut run, |s| keep_lines(s, n, from_end)).await?;
        Ok(run)
    }
}

/// Arguments of `list_dir`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListDirArgs {
    /// Absolute path of the directory.
    pub path: String,
    /// Levels to descend (default 1 = just this directory, at most 4).
    pub depth: Option<u32>,
}

pub struct ListDir;

impl Spec for ListDir {
    type Args = ListDirArgs;
    const NAME: &'static str = "list_dir";
    const DESCRIPTION: &'static str =
        "List a directory with owners, permissions, sizes and times (optionally a few levels deep)";

    fn steps(&self, a: &ListDirArgs, _v: &Variants) -> Result<Vec<Step>, ArgsError> {
        abs_path("path", &a.path)?;
        let depth = clamp(a.depth, 1, 4);
        if depth == 1 {
            return Ok(vec![Step::new([
                "ls",
                "-la",
                "--time-style=long-iso",
                "--",
                a.path.as_str(),
            ])]);
        }
        Ok(vec![Step::new([
            "find".to_string(),
            a.path.clone(),
            "-xdev".into(),
            "-maxdepth".into(),
            depth.to_string(),
            "-printf".into(),
            r"%M %u:%g %10s %TY-%Tm-%Td %TH:%TM %p\n".into(),
        ])
        .ok_codes(&[0, 1])])
    }

    fn post(&self, _a: &ListDirArgs, _i: usize, out: String) -> String {
        keep_lines(out, 2000, false)
    }
}

/// Arguments of `cert_info`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertInfoArgs {
    /// Absolute path of a PEM certificate, e.g. `/etc/nginx/ssl/site.crt`.
    pub path: String,
}

pub struct CertInfo;

impl Spec for CertInfo {
    type Args = CertInfoArgs;
    const NAME: &'static str = "cert_info";
    const DESCRIPTION: &'static str =
        "A certificate's subject, issuer, validity dates, serial, fingerprint and names (openssl x509)";

    fn steps(&self, a: &CertInfoArgs, _v: &Variants) -> Result<Vec<Step>, ArgsError> {
        abs_path("path", &a.path)?;
        Ok(vec![Step::new([
            "openssl",
            "x509",
            "-noout",
            "-subject",
            "-issuer",
            "-dates",
            "-serial",
            "-fingerprint",
            "-sha256",
            "-ext",
            "subjectAltName",
            "-in",
            a.path.as_str(),
        ])])
    }
}
