//! `tai doctor`: one line per check, each with what to do when it fails. Every check has a
//! short timeout so doctor never hangs.
//!
//! With HOST it also resolves the host (user, hostname, port, jump chain, identity files,
//! known_hosts files), connects, and reports the host-key status, connect time and remote
//! OS; a failed connection exits with the transport's code (4, 5 or 6). With
//! `--resolve-only` it only resolves, like `ssh -G`, and prints nothing else.
//!
//! The knowledge check reports the store's health (schema, tai version that created it,
//! counts of runbooks, chunks and sessions, size on disk, last sync, embedding models and
//! their vectors) without creating a store where there is none.
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use super::args::DoctorArgs;
use crate::config::Config;
use crate::exit::{Code, HasExitCode};
use crate::knowledge::store::{Store, StoreHealth};
use crate::knowledge::{format_time, Knowledge};
use crate::llm::probe;
use crate::render::Palette;
use crate::transport::{ssh, ExecOptions, Target, Transport, TransportError};

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
    if args.resolve_only {
        if let Some(host) = &args.host {
            return resolve_only(config, host);
        }
    }
    let mut checks = model_checks(config).await;
    checks.push(ssh_key_check(config));
    checks.push(store_check(config));
    let (knowledge, health) = knowledge_check(config).await;
    checks.push(knowledge);
    let mut host_fields = serde_json::Map::new();
    let mut host_error: Option<TransportError> = None;
    if let Some(host) = &args.host {
        let (fields, host_checks, err) = host_report(config, host).await;
        host_fields = fields;
        checks.extend(host_checks);
        host_error = err;
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    let mut out = std::io::stdout().lock();
    if config.json {
        let mut doc = serde_json::Map::new();
        doc.insert("ok".into(), (failed == 0).into());
        doc.insert("checks".into(), serde_json::to_value(&checks)?);
        if let Some(h) = &health {
            doc.insert("store".into(), serde_json::to_value(h)?);
        }
        doc.extend(host_fields);
        serde_json::to_writer_pretty(&mut out, &doc)?;
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
    if let Some(e) = host_error {
        // The full message (e.g. the host-key warning) on stderr, and its own exit code.
        eprintln!("error: {e}");
        return Ok(e.exit_code());
    }
    Ok(if failed == 0 {
        Code::Success
    } else {
        Code::Failure
    })
}

/// The resolution part of the host report: what ssh_config and the flags say.
fn resolution_fields(dest: &ssh::Destination) -> serde_json::Map<String, serde_json::Value> {
    let t = &dest.target;
    let hop_name = |h: &ssh::Hop| format!("{}@{}:{}", h.user, h.hostname, h.port);
    let v = serde_json::json!({
        "host": t.alias,
        "user": t.user,
        "hostname": t.hostname,
        "port": t.port,
        "identity_files": t.identity_files,
        "identities_only": t.identities_only,
        "proxy_jump": dest.proxy_jump,
        "jump_chain": dest.jumps.iter().map(hop_name).collect::<Vec<_>>(),
        "proxy_command": dest.proxy_command,
        "known_hosts_files": t.known_hosts_files,
        "global_known_hosts_files": t.global_known_hosts_files,
        "host_key_alias": t.host_key_alias,
        "config_files": dest.config_files,
        "connect_timeout_secs": dest.connect_timeout.as_secs(),
        "notes": dest.notes,
    });
    match v {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// `tai doctor HOST --resolve-only`: like `ssh -G`, no connection.
fn resolve_only(config: &Config, host: &str) -> Result<Code> {
    let mut out = std::io::stdout().lock();
    let spec = match Target::parse(host)? {
        Target::Local => {
            writeln!(out, "local: this machine, no SSH")?;
            return Ok(Code::Success);
        }
        Target::Ssh(spec) => spec,
    };
    let dest = ssh::resolve(&spec, config)?;
    let fields = resolution_fields(&dest);
    if config.json {
        serde_json::to_writer_pretty(&mut out, &fields)?;
        writeln!(out)?;
    } else {
        for (k, v) in &fields {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => "-".into(),
                serde_json::Value::Array(a) if a.is_empty() => "-".into(),
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|x| x.as_str().map(String::from).unwrap_or(x.to_string()))
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            };
            writeln!(out, "{k:<22} {text}")?;
        }
    }
    Ok(Code::Success)
}

/// Resolve and connect to `host`; the JSON fields, the checks, and the error if any.
async fn host_report(
    config: &Config,
    host: &str,
) -> (
    serde_json::Map<String, serde_json::Value>,
    Vec<Check>,
    Option<TransportError>,
) {
    let mut fields = serde_json::Map::new();
    let mut checks = Vec::new();
    let spec = match Target::parse(host) {
        Ok(Target::Local) => {
            checks.push(Check::pass("host", "local: this machine, no SSH"));
            return (fields, checks, None);
        }
        Ok(Target::Ssh(spec)) => spec,
        Err(e) => {
            checks.push(Check::fail(
                "host",
                first_line(&e.to_string()),
                "see `tai --help` for the HOST forms",
            ));
            return (fields, checks, Some(e));
        }
    };
    let dest = match ssh::resolve(&spec, config) {
        Ok(d) => d,
        Err(e) => {
            checks.push(Check::fail(
                "host config",
                first_line(&e.to_string()),
                "fix the ssh_config file, or pass --ignore-ssh-config",
            ));
            return (fields, checks, Some(e));
        }
    };
    fields = resolution_fields(&dest);
    let t = &dest.target;
    let chain = if dest.jumps.is_empty() {
        String::new()
    } else {
        format!(
            " via {}",
            dest.jumps
                .iter()
                .map(|h| format!("{}@{}:{}", h.user, h.hostname, h.port))
                .collect::<Vec<_>>()
                .join(" -> ")
        )
    };
    checks.push(Check::pass(
        "host config",
        format!(
            "{}@{}:{}{chain}; keys {}; known_hosts {}",
            t.user,
            t.hostname,
            t.port,
            join_paths(&t.identity_files),
            join_paths(&t.known_hosts_files)
        ),
    ));
    let connected = ssh::connect_resolved(dest.clone(), config).await;
    let (transport, report) = match connected {
        Ok(x) => x,
        Err(e) => {
            let (name, fix) = match e.exit_code() {
                Code::HostKeyChanged => (
                    "host key",
                    "verify the new key with the host's owner before removing the old entry",
                ),
                Code::Authentication => (
                    "host auth",
                    "load the key into ssh-agent (`ssh-add`) or pass the right one with -i",
                ),
                _ => ("host connect", "check the address, port and jump hosts"),
            };
            checks.push(Check::fail(name, first_line(&e.to_string()), fix));
            fields.insert("error".into(), e.to_string().into());
            fields.insert("exit_code".into(), e.exit_code().as_u8().into());
            return (fields, checks, Some(e));
        }
    };
    let last = report.hops.last().cloned().unwrap_or_default();
    let key_detail = match &last.host_key {
        Some(ssh::HostKeyStatus::Known { file, line }) => {
            format!("known ({}:{line})", file.display())
        }
        Some(ssh::HostKeyStatus::Learned { file }) => {
            format!("new, learned into {}", file.display())
        }
        Some(ssh::HostKeyStatus::NotRecorded) | None => "accepted, not recorded".to_string(),
    };
    checks.push(Check::pass(
        "host key",
        format!(
            "{key_detail} {}",
            last.fingerprint.clone().unwrap_or_default()
        ),
    ));
    checks.push(Check::pass(
        "host connect",
        format!(
            "{} ms; {}",
            report.connect_ms,
            last.auth.clone().unwrap_or_default()
        ),
    ));
    // Its two commands are audited like every other (`tools::audited`).
    let audited = crate::tools::audited::AuditedTransport::wrap(
        transport.clone(),
        std::sync::Arc::new(crate::audit::Scope::new_session(&dest.name)),
    );
    let remote_os = remote_os(&*audited, last.server_version.as_deref()).await;
    checks.push(Check::pass("remote os", remote_os.clone()));
    transport.close().await;
    fields.insert("connect_ms".into(), (report.connect_ms as u64).into());
    fields.insert(
        "host_key".into(),
        serde_json::to_value(&last.host_key).unwrap_or_default(),
    );
    fields.insert("fingerprint".into(), last.fingerprint.clone().into());
    fields.insert("server_version".into(), last.server_version.clone().into());
    fields.insert("auth".into(), last.auth.clone().into());
    fields.insert("remote_os".into(), remote_os.into());
    fields.insert(
        "hops".into(),
        serde_json::to_value(&report.hops).unwrap_or_default(),
    );
    (fields, checks, None)
}

/// `uname -srm` when the policy allows it, else what the SSH banner says.
/// `/etc/os-release` PRETTY_NAME and `uname -srm`, run through the policy like any command;
/// the SSH banner when neither can run.
async fn remote_os(transport: &dyn Transport, banner: Option<&str>) -> String {
    let run = |argv: &'static [&'static str]| async move {
        let policy = crate::policy::Policy::load(false).ok()?;
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let cmd = policy.approve(&argv).ok()?;
        let opts = ExecOptions {
            timeout: PROBE_TIMEOUT,
            output_cap: 8192,
            cancel: tokio_util::sync::CancellationToken::new(),
        };
        let out = transport.exec(&cmd, &opts).await.ok()?;
        out.success().then_some(out.stdout)
    };
    let (release, kernel) =
        futures::join!(run(&["cat", "/etc/os-release"]), run(&["uname", "-srm"]));
    let pretty = release.and_then(|text| {
        text.lines().find_map(|l| {
            l.strip_prefix("PRETTY_NAME=")
                .map(|v| v.trim().trim_matches('"').to_string())
        })
    });
    let kernel = kernel
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty());
    match (pretty, kernel, banner) {
        (Some(p), Some(k), _) => format!("{p}; {k}"),
        (Some(p), None, _) => p,
        (None, Some(k), _) => k,
        (None, None, Some(b)) => format!(
            "{} (from the SSH banner)",
            b.strip_prefix("SSH-2.0-").unwrap_or(b)
        ),
        (None, None, None) => "unknown".into(),
    }
}

fn join_paths(p: &[std::path::PathBuf]) -> String {
    if p.is_empty() {
        return "-".into();
    }
    p.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
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

/// The knowledge store's health, opened off the async runtime; no store is created.
async fn knowledge_check(config: &Config) -> (Check, Option<StoreHealth>) {
    const NAME: &str = "knowledge";
    let dir = Knowledge::store_dir(&config.tai_home);
    if config.no_persist {
        return (Check::pass(NAME, "not used (--no-persist)"), None);
    }
    if !dir.join("data.mdb").exists() {
        return (
            Check::pass(
                NAME,
                format!("{}: no store yet (created on first use)", dir.display()),
            ),
            None,
        );
    }
    let opened = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || Store::open(&dir).and_then(|s| s.health())).await
    };
    match opened {
        Ok(Ok(h)) => (Check::pass(NAME, health_line(&h)), Some(h)),
        Ok(Err(e)) => {
            let msg = e.to_string();
            let fix = msg
                .lines()
                .skip(1)
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ");
            let fix = if fix.is_empty() {
                "check the permissions and free space of TAI_HOME".to_string()
            } else {
                fix
            };
            (Check::fail(NAME, first_line(&msg), fix), None)
        }
        Err(e) => (
            Check::fail(
                NAME,
                format!("the store check did not finish: {e}"),
                "run tai doctor again",
            ),
            None,
        ),
    }
}

fn health_line(h: &StoreHealth) -> String {
    let mut line = format!(
        "schema {}, {} runbooks ({} chunks), {} sessions, {:.1} MiB",
        h.schema_version,
        h.runbooks,
        h.chunks,
        h.sessions,
        h.disk_bytes as f64 / (1024.0 * 1024.0)
    );
    match h.last_sync {
        Some(t) => line.push_str(&format!(", last sync {}", format_time(t))),
        None => line.push_str(", never synced"),
    }
    if h.embeddings.is_empty() {
        line.push_str(", no embeddings yet (BM25 only)");
    }
    for e in &h.embeddings {
        line.push_str(&format!(
            ", {} ({} dims: {}/{} chunks, {}/{} sessions embedded)",
            e.model, e.dimensions, e.runbook_vectors, h.chunks, e.session_vectors, h.sessions
        ));
    }
    if let Some(v) = &h.created_by {
        line.push_str(&format!(", created by tai {v}"));
    }
    line
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}
