//! `tai export FILE` and `tai import FILE`: sessions and your runbooks as one versioned,
//! checksummed archive (format in `knowledge::store::archive`), merged back idempotently and
//! all-or-nothing. Both are audited (`Retention` events) unless `--no-persist`.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use serde::Serialize;

use super::args::{ExportArgs, ImportArgs};
use super::CliError;
use crate::audit::{AuditEvent, AuditLog};
use crate::config::Config;
use crate::exit::Code;
use crate::knowledge::store::{self, archive, ImportStats, Store};
use crate::knowledge::{format_time, Knowledge};

/// The audit log retention operations are written to: the process's installed log, or the
/// one of this `TAI_HOME` when none was installed (nothing under `--no-persist`).
pub(super) fn audit_log(config: &Config) -> Arc<AuditLog> {
    let log = crate::audit::current();
    if log.is_enabled() || config.no_persist {
        log
    } else {
        Arc::new(
            AuditLog::for_home(&config.tai_home, config.no_persist)
                .with_redactor(config.redact.to_fn()),
        )
    }
}

/// Append one `Retention` event off the async runtime (fsync).
pub(super) async fn audit_retention(
    config: &Config,
    op: &str,
    scope: String,
    counts: BTreeMap<String, u64>,
) -> Result<()> {
    let log = audit_log(config);
    let event = AuditEvent::Retention {
        op: op.to_string(),
        scope,
        counts,
    };
    tokio::task::spawn_blocking(move || log.append(event))
        .await
        .context("the audit task did not finish")?
        .with_context(|| format!("the {op} could not be recorded in the audit log"))
}

/// The store directory, when a store exists there (nothing is created to look).
pub(super) fn existing_store(config: &Config) -> Option<PathBuf> {
    let dir = Knowledge::store_dir(&config.tai_home);
    dir.join("data.mdb").exists().then_some(dir)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("a store task did not finish; run the command again")?
}

#[derive(Debug, Serialize)]
struct ExportReport {
    file: String,
    sessions: u64,
    runbooks: u64,
    bytes: u64,
    sha256: String,
}

pub async fn run_export(config: &Config, args: ExportArgs) -> Result<Code> {
    let both = !args.sessions && !args.runbooks;
    let since = match &args.since {
        None => None,
        Some(s) => {
            let t = crate::audit::parse_since(s, chrono::Utc::now())
                .map_err(|e| CliError::Usage(e.to_string()))?;
            Some(u64::try_from(t.timestamp()).unwrap_or(0))
        }
    };
    let scope = archive::Scope {
        sessions: args.sessions || both,
        runbooks: args.runbooks || both,
        host: args.host.clone(),
        since,
    };
    let Some(dir) = existing_store(config) else {
        return Err(CliError::Failed(format!(
            "no knowledge store at {}: nothing has been recorded under this TAI_HOME; check \
             --tai-home / TAI_HOME",
            Knowledge::store_dir(&config.tai_home).display()
        ))
        .into());
    };
    let file = args.file.clone();
    let s = scope.clone();
    let report = blocking(move || export_blocking(&dir, &s, &file)).await?;
    let scope_text = format!("{} to {}", describe_scope(&scope), args.file.display());
    audit_retention(
        config,
        "export",
        scope_text,
        BTreeMap::from([
            ("sessions".to_string(), report.sessions),
            ("runbooks".to_string(), report.runbooks),
            ("bytes".to_string(), report.bytes),
        ]),
    )
    .await?;
    let mut out = std::io::stdout().lock();
    if config.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "exported {} sessions and {} runbooks to {} ({} bytes, sha256 {})",
            report.sessions, report.runbooks, report.file, report.bytes, report.sha256
        )?;
    }
    Ok(Code::Success)
}

fn describe_scope(scope: &archive::Scope) -> String {
    let mut parts = Vec::new();
    if scope.sessions {
        parts.push("sessions".to_string());
    }
    if scope.runbooks {
        parts.push("runbooks".to_string());
    }
    let mut text = parts.join("+");
    if let Some(h) = &scope.host {
        text.push_str(&format!(" host={h}"));
    }
    if let Some(t) = scope.since {
        text.push_str(&format!(" since={}", format_time(t)));
    }
    text
}

fn export_blocking(dir: &Path, scope: &archive::Scope, file: &Path) -> Result<ExportReport> {
    let store = Store::open(dir)?;
    let sessions: Vec<store::SessionRecord> = if scope.sessions {
        store
            .sessions()?
            .into_iter()
            .filter(|s| scope.host.as_ref().is_none_or(|h| &s.summary.host == h))
            .filter(|s| scope.since.is_none_or(|t| s.summary.time >= t))
            .collect()
    } else {
        Vec::new()
    };
    let runbooks: Vec<store::RunbookRecord> = if scope.runbooks {
        store
            .runbook_records()?
            .into_iter()
            .filter(|r| r.source != "bundled")
            .collect()
    } else {
        Vec::new()
    };
    let bytes = archive::encode(scope, &sessions, &runbooks, store::now_secs())
        .context("cannot encode the archive")?;
    archive::write_file(file, &bytes)?;
    Ok(ExportReport {
        file: file.display().to_string(),
        sessions: sessions.len() as u64,
        runbooks: runbooks.len() as u64,
        bytes: bytes.len() as u64,
        sha256: archive::sha256_of(&bytes),
    })
}

#[derive(Debug, Serialize)]
struct ImportReport {
    file: String,
    dry_run: bool,
    archive_tai_version: String,
    archive_created: u64,
    #[serde(flatten)]
    stats: ImportStats,
}

pub async fn run_import(config: &Config, args: ImportArgs) -> Result<Code> {
    if config.no_persist && !args.dry_run {
        return Err(CliError::Usage(
            "tai import writes the store under TAI_HOME, which --no-persist forbids; drop \
             --no-persist (or add --dry-run to only check the archive)"
                .into(),
        )
        .into());
    }
    let file = args.file.clone();
    // Sessions are redacted again on the way in, with the user's `[redact] patterns` too.
    let redactor = config.redact.clone();
    let archive = blocking(move || Ok(archive::read_file(&file, &redactor)?)).await?;
    let dry_run = args.dry_run;
    let dir = existing_store(config);
    let home = config.tai_home.clone();
    let batch = archive.batch.clone();
    let stats = blocking(move || {
        match dir {
            Some(dir) => Ok(Store::open(&dir)?.import(&batch, dry_run)?),
            // A dry run against no store answers against an empty one, made outside TAI_HOME.
            None if dry_run => {
                let tmp = tempfile::tempdir().context("cannot create a temporary store")?;
                Ok(Store::open(tmp.path())?.import(&batch, true)?)
            }
            None => Ok(Store::open(&Knowledge::store_dir(&home))?.import(&batch, false)?),
        }
    })
    .await?;
    if !dry_run {
        audit_retention(
            config,
            "import",
            format!("from {}", args.file.display()),
            BTreeMap::from([
                ("sessions_added".into(), stats.sessions_added.len() as u64),
                ("sessions_unchanged".into(), stats.sessions_unchanged as u64),
                ("runbooks_added".into(), stats.runbooks_added.len() as u64),
                (
                    "runbooks_unchanged".into(),
                    stats.runbooks_unchanged.len() as u64,
                ),
                (
                    "runbooks_conflicting".into(),
                    stats.runbooks_conflicting.len() as u64,
                ),
            ]),
        )
        .await?;
    }
    let report = ImportReport {
        file: args.file.display().to_string(),
        dry_run,
        archive_tai_version: archive.tai_version.clone(),
        archive_created: archive.created,
        stats,
    };
    let mut out = std::io::stdout().lock();
    if config.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        return Ok(Code::Success);
    }
    let s = &report.stats;
    let verb = if dry_run { "would import" } else { "imported" };
    writeln!(
        out,
        "{verb} from {} (written by tai {} on {}):",
        report.file,
        report.archive_tai_version,
        format_time(report.archive_created)
    )?;
    writeln!(
        out,
        "  sessions: {} new, {} already stored",
        s.sessions_added.len(),
        s.sessions_unchanged
    )?;
    writeln!(
        out,
        "  runbooks: {} new, {} already stored",
        s.runbooks_added.len(),
        s.runbooks_unchanged.len()
    )?;
    for name in &s.runbooks_conflicting {
        writeln!(
            out,
            "  runbook {name}: kept yours (the archive's text differs)"
        )?;
    }
    Ok(Code::Success)
}
