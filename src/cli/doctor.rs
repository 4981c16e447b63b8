//! `tai doctor`: one line per check, each with what to do when it fails. Every check has a
//! short timeout so doctor never hangs.
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use super::args::DoctorArgs;
use crate::config::Config;
use crate::exit::Code;
use crate::llm::probe;
use crate::render::Palette;

const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }
    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name,
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

pub async fn run(config: &Config, args: DoctorArgs) -> Result<Code> {
    let mut checks = model_checks(config).await;
    checks.push(ssh_key_check(config));
    checks.push(store_check(config));
    if let Some(host) = &args.host {
        checks.push(Check::fail(
            "host",
            format!("{host}: connection checks are not built yet"),
            "they land with the SSH transport (issue 3)",
        ));
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    let mut out = std::io::stdout().lock();
    if config.json {
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({ "ok": failed == 0, "checks": checks }),
        )?;
        writeln!(out)?;
    } else {
        let p = Palette::stdout(config.color);
        for c in &checks {
            let mark = if c.ok { p.ok("✓") } else { p.error("✗") };
            writeln!(out, "{mark} {:<16} {}", c.name, c.detail)?;
            if let Some(fix) = &c.fix {
                writeln!(out, "  {} {fix}", p.dim("fix:"))?;
            }
        }
        if failed > 0 {
            writeln!(out, "{failed} of {} checks failed", checks.len())?;
        }
    }
    Ok(if failed == 0 {
        Code::Success
    } else {
        Code::Failure
    })
}

async fn model_checks(config: &Config) -> Vec<Check> {
    let m = &config.model;
    let mut checks = Vec::new();
    let models = match probe::list_models(&m.base_url, m.api_key.as_deref(), PROBE_TIMEOUT).await {
        Ok(models) => {
            checks.push(Check::pass(
                "model endpoint",
                format!("{} ({} models)", m.base_url, models.len()),
            ));
            models
        }
        Err(e) => {
            checks.push(Check::fail(
                    "model endpoint",
                    first_line(&e.to_string()),
                    "start the model server (`ollama serve`) or pass --base-url / TAI_BASE_URL; `tai run --no-llm` works without one",
                ));
            checks.push(Check::fail(
                "chat model",
                format!("{}: not checked, endpoint down", m.model),
                "fix the endpoint first",
            ));
            checks.push(Check::fail(
                "embedding model",
                format!("{}: not checked, endpoint down", m.embed_model),
                "fix the endpoint first; retrieval falls back to BM25 without it",
            ));
            return checks;
        }
    };
    checks.push(model_check(config, "chat model", &m.model, &models, true).await);
    checks.push(model_check(config, "embedding model", &m.embed_model, &models, false).await);
    checks
}

fn listed(models: &[String], name: &str) -> bool {
    models.iter().any(|id| {
        id == name
            || id.strip_suffix(":latest") == Some(name)
            || name.strip_suffix(":latest") == Some(id)
    })
}

async fn model_check(
    config: &Config,
    label: &'static str,
    name: &str,
    models: &[String],
    chat: bool,
) -> Check {
    if !listed(models, name) {
        return Check::fail(
            label,
            format!("{name}: not served by {}", config.model.base_url),
            format!(
                "`ollama pull {name}`, or choose another with --{}",
                if chat { "model" } else { "embed-model" }
            ),
        );
    }
    match probe::ollama_show(&config.model.base_url, name, PROBE_TIMEOUT).await {
        Ok(Some(info)) if chat && !info.supports_tools() => Check::fail(
            label,
            format!("{name}: no native tool calling; tai will use its text protocol"),
            "for best results use a tool-capable model such as qwen3:4b",
        ),
        Ok(Some(info)) => Check::pass(
            label,
            match info.context_length {
                Some(n) => format!("{name} (context {n})"),
                None => name.to_string(),
            },
        ),
        Ok(None) => Check::pass(label, format!("{name} (served; capabilities unknown)")),
        Err(e) => Check::fail(label, first_line(&e.to_string()), "see the message above"),
    }
}

fn ssh_key_check(config: &Config) -> Check {
    let candidates: Vec<std::path::PathBuf> = if config.ssh.identity_files.is_empty() {
        ["~/.ssh/id_ed25519", "~/.ssh/id_rsa", "~/.ssh/id_ecdsa"]
            .iter()
            .map(|p| crate::config::expand_tilde(Path::new(p)))
            .collect()
    } else {
        config.ssh.identity_files.clone()
    };
    let agent = std::env::var_os("SSH_AUTH_SOCK").is_some();
    let found: Vec<_> = candidates.iter().filter(|p| p.is_file()).collect();
    if let Some(missing) = config.ssh.identity_files.iter().find(|p| !p.is_file()) {
        return Check::fail(
            "ssh key",
            format!("{}: no such file", missing.display()),
            "check the path given with -i / TAI_IDENTITY_FILE",
        );
    }
    match (found.first(), agent) {
        (Some(k), _) => Check::pass(
            "ssh key",
            format!(
                "{}{}",
                k.display(),
                if agent { " (+ ssh-agent)" } else { "" }
            ),
        ),
        (None, true) => Check::pass("ssh key", "ssh-agent (SSH_AUTH_SOCK)"),
        (None, false) => Check::fail(
            "ssh key",
            "no key in ~/.ssh and no ssh-agent",
            "create one with `ssh-keygen -t ed25519` or pass -i FILE; `local` needs none",
        ),
    }
}

fn store_check(config: &Config) -> Check {
    let home = &config.tai_home;
    if config.no_persist {
        return Check::pass(
            "store",
            format!("{} (not used: --no-persist)", home.display()),
        );
    }
    match std::fs::metadata(home) {
        Ok(m) if m.is_dir() => {
            let probe = home.join(".doctor-write-test");
            match std::fs::write(&probe, b"") {
                Ok(()) => {
                    let _ = std::fs::remove_file(&probe);
                    Check::pass("store", format!("{} (writable)", home.display()))
                }
                Err(e) => Check::fail(
                    "store",
                    format!("{}: not writable: {e}", home.display()),
                    "fix the permissions or point TAI_HOME elsewhere",
                ),
            }
        }
        Ok(_) => Check::fail(
            "store",
            format!("{} is not a directory", home.display()),
            "move it aside or set TAI_HOME",
        ),
        Err(_) => Check::pass(
            "store",
            format!("{} (will be created on first use)", home.display()),
        ),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}
