//! What the built-in tools share: the [`Spec`] trait (a typed argument struct rendered to a
//! fixed list of steps) and its [`Simple`] adapter to [`Tool`], and the argument checks that
//! give the model a precise message before the policy checks everything again.
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::tools::schema::{parse_args, schema_for};
use crate::tools::step::run_step;
use crate::tools::types::{ArgsError, ExecContext, HostFacts, Run, Step, Tool, ToolError};
use crate::tools::variants::{self, Variants};

/// A tool that is a typed argument struct rendered to a fixed list of steps.
pub trait Spec: Send + Sync + 'static {
    type Args: JsonSchema + DeserializeOwned + Send + Sync;
    const NAME: &'static str;
    const DESCRIPTION: &'static str;
    fn steps(&self, args: &Self::Args, v: &Variants) -> Result<Vec<Step>, ArgsError>;
    /// Shape the stdout of step `index` (keep the last N lines, sort, ...).
    fn post(&self, _args: &Self::Args, _index: usize, stdout: String) -> String {
        stdout
    }
}

/// Adapter from [`Spec`] to [`Tool`].
pub struct Simple<S>(pub S);

#[async_trait::async_trait]
impl<S: Spec> Tool for Simple<S> {
    fn name(&self) -> &'static str {
        S::NAME
    }
    fn description(&self) -> &'static str {
        S::DESCRIPTION
    }
    fn parameters(&self) -> Value {
        schema_for::<S::Args>()
    }
    fn render(&self, args: &Value, facts: &HostFacts) -> Result<Vec<Step>, ArgsError> {
        let a: S::Args = parse_args(S::NAME, args)?;
        self.0.steps(&a, &variants::for_family(&facts.family))
    }
    async fn run(&self, ctx: &ExecContext, args: &Value) -> Result<Run, ToolError> {
        let a: S::Args = parse_args(S::NAME, args)?;
        let steps = self.0.steps(&a, &variants::for_family(&ctx.facts.family))?;
        let mut run = Run::default();
        for (i, step) in steps.iter().enumerate() {
            if !run_step(ctx, step, &mut run, |s| self.0.post(&a, i, s)).await? {
                break;
            }
        }
        Ok(run)
    }
}

// Argument checks shared by the tools. The policy checks everything again; these give the
// model a precise message first.

/// A plain name (unit, package, host): no leading `-`, no whitespace or control characters.
pub(super) fn plain(what: &'static str, v: &str) -> Result<(), ArgsError> {
    if v.is_empty() || v.len() > 255 {
        return Err(ArgsError::Length { what });
    }
    let value = || v.to_string();
    if v.starts_with('-') {
        return Err(ArgsError::LeadingDash {
            what,
            value: value(),
        });
    }
    if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ArgsError::Spaces {
            what,
            value: value(),
        });
    }
    Ok(())
}

/// An absolute path without control characters.
pub(super) fn abs_path(what: &'static str, v: &str) -> Result<(), ArgsError> {
    if !v.starts_with('/') {
        return Err(ArgsError::NotAbsolute {
            what,
            value: v.to_string(),
        });
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(ArgsError::ControlCharacters { what });
    }
    Ok(())
}

pub(super) fn clamp(v: Option<u32>, default: u32, max: u32) -> u32 {
    v.unwrap_or(default).clamp(1, max)
}

/// Keep the last (or first) `n` lines of a text.
pub(super) fn keep_lines(text: String, n: usize, from_end: bool) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= n {
        return text;
    }
    let kept = if from_end {
        &lines[lines.len() - n..]
    } else {
        &lines[..n]
    };
    let mut out = kept.join("\n");
    out.push('\n');
    out
}

pub(super) fn args_of(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}
