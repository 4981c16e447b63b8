//! `tai cleanup`: remove sessions, audit files and model recordings older than the
//! `[retention]` bounds (or `--retain-days N`), or all of a kind with `--all --yes`.
//!
//! - sessions: from the store, one write transaction (with their vectors);
//! - audit: whole monthly files (`audit/2025-01.jsonl`) whose month ended before the bound,
//!   never the newest file (the chain is appended there). Before a file goes, the `prev` hash
//!   its successor's first line carries is appended to `audit/.base`; `tai audit verify`
//!   accepts a first remaining line chained to [`crate::audit::GENESIS`] or to a hash in
//!   `.base`, so what remains still verifies from its first line, and the removal itself is a
//!   `Retention` line in the chain naming the files and that hash;
//! - records: `--record` fixtures (`session-*.json`) under `TAI_HOME/records/` and under the
//!   `--record DIR` given, when that is inside `TAI_HOME`; files elsewhere are not tai's to
//!   remove.
//!
//! `--dry-run` lists exactly what would go (kind, id or file, host, date, size). The
//! operation is written to the audit log *before* anything is removed: when the audit log
//! cannot be written, nothing is removed. `--all` never prompts: without `--yes` it is
//! refused (exit 2), on a terminal or not, so scripts and people get the same behaviour.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use super::args::{CleanupArgs, CleanupWhat};
use super::export::{audit_retention, existing_store};
use super::CliError;
use crate::config::Config;
use crate::exit::Code;
use crate::knowledge::format_time;
use crate::knowledge::store::{now_secs, Store};

const DAY: u64 = 86_400;

#[derive(Debug, Clone, Serialize)]
struct Item {
    /// `session`, `audit` or `record`.
    kind: &'static str,
    /// `#12` for a session, the path under TAI_HOME for a file.
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<String>,
    /// Unix seconds: when the session ended, the end of the audit month, the record's mtime.
    time: u64,
    date: String,
    bytes: u64,
    #[serde(skip)]
    target: Target,
}

#[derive(Debug, Clone)]
enum Target {
    Session(u32),
    File(PathBuf),
}

#[derive(Debug, Serialize)]
struct Plan {
    dry_run: bool,
    items: Vec<Item>,
    counts: BTreeMap<String, u64>,
    bytes: u64,
    /// For audit removals: the `prev` the first remaining line carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    audit_base: Option<String>,
}

pub async fn run(config: &Config, args: CleanupArgs) -> Result<Code> {
    if args.all && !args.yes && !args.dry_run {
        return Err(CliError::Usage(
            "--all removes everything of the chosen kind whatever its age; add --yes to \
             confirm (tai never prompts), or --dry-run to see the list first"
                .into(),
        )
        .into());
    }
    if args.retain_days == Some(0) {
        return Err(CliError::Usage(
            "--retain-days must be at least 1; use --all --yes to remove everything".into(),
        )
        .into());
    }
    if config.no_persist && !args.dry_run {
        return Err(CliError::Usage(
            "tai cleanup changes TAI_HOME, which --no-persist forbids; drop --no-persist (or \
             add --dry-run to only list)"
                .into(),
        )
        .into());
    }
    let wants = |k: CleanupWhat| args.what == k || args.what == CleanupWhat::All;
    if args.host.is_some() && matches!(args.what, CleanupWhat::Audit | CleanupWhat::Records) {
        return Err(CliError::Usage(
            "--host applies to sessions only: audit files and recordings cover every host".into(),
        )
        .into());
    }
    if args.host.is_some() && args.what == CleanupWhat::All {
        eprintln!("note: --host limits cleanup to that host's sessions; audit files and recordings are left alone");
    }
    let now = now_secs();
    let cutoff = |default_days: u32| {
        (!args.all)
            .then(|| now.saturating_sub(u64::from(args.retain_days.unwrap_or(default_days)) * DAY))
    };
    let r = config.retention;
    let mut items = Vec::new();
    let mut audit_base = None;
    if wants(CleanupWhat::Sessions) {
        if let Some(dir) = existing_store(config) {
            let host = args.host.clone();
            let before = cutoff(r.sessions_days);
            let mut found = tokio::task::spawn_blocking(move || session_items(&dir, host, before))
                .await
                .context("the store task did not finish")??;
            items.append(&mut found);
        }
    }
    if wants(CleanupWhat::Audit) && args.host.is_none() {
        let (mut found, base) = audit_items(&config.tai_home, cutoff(r.audit_days))?;
        items.append(&mut found);
        audit_base = base;
    }
    if wants(CleanupWhat::Records) && args.host.is_none() {
        items.append(&mut record_items(config, cutoff(r.records_days))?);
    }
    let mut counts = BTreeMap::new();
    for kind in ["session", "audit", "record"] {
        counts.insert(
            kind.to_string(),
            items.iter().filter(|i| i.kind == kind).count() as u64,
        );
    }
    let plan = Plan {
        dry_run: args.dry_run,
        bytes: items.iter().map(|i| i.bytes).sum(),
        items,
        counts,
        audit_base,
    };
    if !args.dry_run && !plan.items.is_empty() {
        let mut scope = describe(&args, config);
        if let Some(b) = &plan.audit_base {
            scope.push_str(&format!("; audit chain continues from prev={b}"));
        }
        let mut counts = plan.counts.clone();
        counts.insert("bytes".into(), plan.bytes);
        // Audited first: when the log cannot be written, nothing is removed.
        audit_retention(config, "cleanup", scope, counts).await?;
        remove(config, &plan).await?;
    }
    print(config, &args, &plan)?;
    Ok(Code::Success)
}

fn describe(args: &CleanupArgs, config: &Config) -> String {
    let what = match args.what {
        CleanupWhat::Sessions => "sessions",
        CleanupWhat::Audit => "audit",
        CleanupWhat::Records => "records",
        CleanupWhat::All => "all",
    };
    let age = if args.all {
        "all".to_string()
    } else if let Some(d) = args.retain_days {
        format!("older than {d} days")
    } else {
        let r = config.retention;
        format!(
            "older than [retention] sessions {}d, audit {}d, records {}d",
            r.sessions_days, r.audit_days, r.records_days
        )
    };
    let host = args
        .host
        .as_ref()
        .map(|h| format!(" host={h}"))
        .unwrap_or_default();
    format!("{what} {age}{host}")
}

fn session_items(dir: &Path, host: Option<String>, before: Option<u64>) -> Result<Vec<Item>> {
    let store = Store::open(dir)?;
    Ok(store
        .sessions()?
        .into_iter()
        .filter(|s| host.as_ref().is_none_or(|h| &s.summary.host == h))
        .filter(|s| before.is_none_or(|t| s.summary.time < t))
        .map(|s| Item {
            kind: "session",
            id: format!("#{}", s.id),
            host: Some(s.summary.host.clone()),
            time: s.summary.time,
            date: format_time(s.summary.time),
            bytes: serde_json::to_vec(&s).map(|v| v.len() as u64).unwrap_or(0),
            target: Target::Session(s.id),
        })
        .collect())
}

/// Unix seconds when the month of `2025-01.jsonl` ended (the first second of the next).
fn month_end(name: &str) -> Option<u64> {
    let y: i32 = name.get(..4)?.parse().ok()?;
    let m: u32 = name.get(5..7)?.parse().ok()?;
    let (ny, nm) = if m >= 12 { (y + 1, 1) } else { (y, m + 1) };
    let t = chrono::NaiveDate::from_ymd_opt(ny, nm, 1)?.and_hms_opt(0, 0, 0)?;
    u64::try_from(t.and_utc().timestamp()).ok()
}

/// Whole monthly audit files that ended before `before` (all but the newest with `--all`),
/// and the `prev` hash the first remaining line carries.
fn audit_items(home: &Path, before: Option<u64>) -> Result<(Vec<Item>, Option<String>)> {
    let dir = crate::audit::dir(home);
    let files = crate::audit::chain::month_files(&dir)?;
    let Some((newest, older)) = files.split_last() else {
        return Ok((Vec::new(), None));
    };
    let mut items = Vec::new();
    let mut next_first = Some(newest.clone());
    for (i, f) in older.iter().enumerate() {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let Some(end) = month_end(name) else { continue };
        if before.is_some_and(|t| end > t) {
            next_first = Some(f.clone());
            break;
        }
        next_first = older.get(i + 1).cloned().or_else(|| Some(newest.clone()));
        let bytes = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        items.push(Item {
            kind: "audit",
            id: rel(home, f),
            host: None,
            time: end,
            date: name.trim_end_matches(".jsonl").to_string(),
            bytes,
            target: Target::File(f.clone()),
        });
    }
    let base = match (items.is_empty(), next_first) {
        (false, Some(f)) => Some(first_prev(&f)?),
        _ => None,
    };
    Ok((items, base))
}

/// The `prev` of the first line of an audit file.
fn first_prev(file: &Path) -> Result<String> {
    use std::io::BufRead;
    let mut first = String::new();
    std::fs::File::open(file)
        .map(std::io::BufReader::new)
        .and_then(|mut r| r.read_line(&mut first))
        .with_context(|| format!("cannot read the audit file {}", file.display()))?;
    serde_json::from_str::<serde_json::Value>(&first)
        .ok()
        .and_then(|v| v.get("prev").and_then(|p| p.as_str()).map(str::to_string))
        .with_context(|| {
            format!(
                "the first line of {} has no `prev` hash; run `tai audit verify` before removing \
                 older audit files",
                file.display()
            )
        })
}

fn rel(home: &Path, p: &Path) -> String {
    p.strip_prefix(home)
        .map(|r| r.display().to_string())
        .unwrap_or_else(|_| p.display().to_string())
}

/// `--record` fixtures under `TAI_HOME/records` and under `--record DIR` inside TAI_HOME.
fn record_items(config: &Config, before: Option<u64>) -> Result<Vec<Item>> {
    let home = &config.tai_home;
    let mut roots = vec![home.join("records")];
    if let Some(d) = &config.model.record_dir {
        let inside = match (d.canonicalize(), home.canonicalize()) {
            (Ok(d), Ok(h)) => d.starts_with(&h),
            _ => false,
        };
        if inside {
            roots.push(d.clone());
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut items = Vec::new();
    for root in roots {
        let mut files = Vec::new();
        walk(&root, 0, &mut files);
        for (f, meta) in files {
            let Ok(canon) = f.canonicalize() else {
                continue;
            };
            if !seen.insert(canon) {
                continue;
            }
            let time = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            if before.is_some_and(|t| time >= t) {
                continue;
            }
            items.push(Item {
                kind: "record",
                id: rel(home, &f),
                host: None,
                time,
                date: format_time(time),
                bytes: meta.len(),
                target: Target::File(f),
            });
        }
    }
    items.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(items)
}

/// Regular files named `session-*.json` under `dir` (symlinks are not followed).
fn walk(dir: &Path, depth: usize, out: &mut Vec<(PathBuf, std::fs::Metadata)>) {
    if depth > 8 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let p = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            walk(&p, depth + 1, out);
        } else if meta.is_file() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("session-") && name.ends_with(".json") {
                out.push((p, meta));
            }
        }
    }
}

async fn remove(config: &Config, plan: &Plan) -> Result<()> {
    let ids: Vec<u32> = plan
        .items
        .iter()
        .filter_map(|i| match i.target {
            Target::Session(id) => Some(id),
            Target::File(_) => None,
        })
        .collect();
    if !ids.is_empty() {
        if let Some(dir) = existing_store(config) {
            tokio::task::spawn_blocking(move || Store::open(&dir)?.delete_sessions(&ids))
                .await
                .context("the store task did not finish")??;
        }
    }
    let audit_dir = crate::audit::dir(&config.tai_home);
    if let Some(base) = &plan.audit_base {
        add_audit_base(&audit_dir, base)?;
    }
    for item in &plan.items {
        if let Target::File(f) = &item.target {
            match std::fs::remove_file(f) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(CliError::Failed(format!(
                        "cannot remove {}: {e}; what was listed before it is removed, the rest \
                         is kept; fix the permission and run tai cleanup again",
                        f.display()
                    ))
                    .into())
                }
            }
        }
    }
    Ok(())
}

/// Append `hash` to `audit/.base` (fsynced) unless it is there already.
fn add_audit_base(dir: &Path, hash: &str) -> Result<()> {
    let path = dir.join(crate::audit::chain::BASE_FILE);
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    if existing.lines().any(|l| l.trim() == hash) {
        return Ok(());
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    writeln!(f, "{hash}")
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn print(config: &Config, args: &CleanupArgs, plan: &Plan) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if config.json {
        serde_json::to_writer_pretty(&mut out, plan)?;
        writeln!(out)?;
        return Ok(());
    }
    if plan.items.is_empty() {
        writeln!(out, "nothing to remove ({})", describe(args, config))?;
        return Ok(());
    }
    let head = if plan.dry_run {
        "would remove (dry run, nothing changed):"
    } else {
        "removed:"
    };
    writeln!(out, "{head}")?;
    for i in &plan.items {
        writeln!(
            out,
            "  {:<8} {:<28} {:<16} {:<22} {}",
            i.kind,
            i.id,
            i.host.as_deref().unwrap_or("-"),
            i.date,
            human(i.bytes)
        )?;
    }
    writeln!(
        out,
        "{} sessions, {} audit files, {} recordings, {}",
        plan.counts["session"],
        plan.counts["audit"],
        plan.counts["record"],
        human(plan.bytes)
    )?;
    if plan.counts["session"] > 0 && !plan.dry_run {
        writeln!(
            out,
            "the store file keeps its size (LMDB reuses the freed pages for new data)"
        )?;
    }
    Ok(())
}
