//! Disk growth: for a filesystem that is filling (`df` at 85% or more), the directories under it
//! that take the space (`du` output, raw `du -k` or the `disk_usage` tool's sorted table) and the
//! likely writer: dated backup archives that nobody rotates, huge or unrotated logs, core dumps,
//! or the systemd journal (`journalctl --disk-usage`).
use super::super::{support, Block, Corpus, Detector, Finding, New, Severity, MAX_EVIDENCE};

/// The `disk_growth` detector. Its sweep call is bounded: one level under the usual writers'
/// directories, one filesystem each (`-x`), files listed (`-a`) so dated archives and core files
/// are named; the journal's own size.
pub(in crate::triage::detectors) const DISK_GROWTH: Detector = Detector {
    journal: &[],
    sweep: &[
        (
            "run_command",
            r#"{"command":"du -xak -d 1 /var/log /var/backups /var/crash /var/lib/systemd/coredump"}"#,
        ),
        ("run_command", r#"{"command":"journalctl --disk-usage"}"#),
    ],
    run: disk_growth,
};

/// Filling threshold (percent used).
const FILLING: u32 = 85;

struct Fs<'a> {
    mount: String,
    size_k: u64,
    used: u32,
    line: String,
    block: &'a Block<'a>,
}

struct Entry<'a> {
    path: String,
    size_k: u64,
    line: String,
    block: &'a Block<'a>,
}

/// `4.0K`, `3.9G`, `812M`, `1.5T` (powers of 1024), or a bare number of KiB.
fn kib(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Some(n);
    }
    let (num, unit) = s.split_at(s.len().checked_sub(1)?);
    let v: f64 = num.parse().ok()?;
    let mul = match unit.to_ascii_uppercase().as_str() {
        "B" => 1.0 / 1024.0,
        "K" => 1.0,
        "M" => 1024.0,
        "G" => 1024.0 * 1024.0,
        "T" => 1024.0 * 1024.0 * 1024.0,
        "P" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((v * mul) as u64)
}

/// Filesystems from `df` output (blocks, not inodes).
fn filesystems<'a>(c: &'a Corpus) -> Vec<Fs<'a>> {
    let mut v: Vec<Fs> = Vec::new();
    for b in c.by_program("df") {
        let mut cols: Option<(usize, usize, bool)> = None;
        for line in b.lines() {
            let toks: Vec<&str> = line.split_whitespace().collect();
            if line.contains("Mounted on") {
                let used = toks.iter().position(|t| *t == "Use%" || *t == "Capacity");
                let size = toks
                    .iter()
                    .position(|t| *t == "Size" || t.ends_with("-blocks"));
                let kblocks = toks
                    .iter()
                    .any(|t| *t == "1K-blocks" || *t == "1024-blocks");
                cols = used.zip(size).map(|(u, s)| (u, s, kblocks));
                continue;
            }
            let Some((u, s, kblocks)) = cols else {
                continue;
            };
            if toks.len() <= u + 1 || toks.len() < 2 {
                continue;
            }
            let Some(used) = toks[u].strip_suffix('%').and_then(|p| p.parse().ok()) else {
                continue;
            };
            let size_k = if kblocks {
                toks[s].parse().ok()
            } else {
                kib(toks[s])
            };
            let mount = toks[u + 1..].join(" ");
            if !mount.starts_with('/') || mount.starts_with("/snap/") || mount.starts_with("/proc")
            {
                continue;
            }
            if v.iter().any(|f| f.mount == mount) {
                continue;
            }
            v.push(Fs {
                mount,
                size_k: size_k.unwrap_or(0),
                used,
                line: line.to_string(),
                block: b,
            });
        }
    }
    v
}

/// `du` rows: `<KiB>\t<path>` (raw) or `   3.9G  /path` (the `disk_usage` tool).
fn du_entries<'a>(c: &'a Corpus) -> Vec<Entry<'a>> {
    let mut v: Vec<Entry> = Vec::new();
    for b in c.by_program("du") {
        for line in b.lines() {
            let t = line.trim_start();
            let Some(i) = t.find(|ch: char| ch.is_whitespace()) else {
                continue;
            };
            let (size, path) = (&t[..i], t[i..].trim());
            if !path.starts_with('/') {
                continue;
            }
            let Some(size_k) = kib(size) else { continue };
            if !v.iter().any(|e| e.path == path) {
                v.push(Entry {
                    path: path.to_string(),
                    size_k,
                    line: line.to_string(),
                    block: b,
                });
            }
        }
    }
    v
}

fn under(path: &str, mount: &str) -> bool {
    mount == "/" || path == mount || path.starts_with(&format!("{mount}/"))
}

/// The filesystem a path is on: the longest mount point that holds it.
fn mount_of<'f>(fss: &'f [Fs<'f>], path: &str) -> Option<&'f Fs<'f>> {
    fss.iter()
        .filter(|f| under(path, &f.mount))
        .max_by_key(|f| f.mount.len())
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => path,
    }
}

/// A date in a file name, normalised to `YYYY-MM-DD` for ordering.
fn date_in(name: &str) -> Option<String> {
    let r = re!(r"((?:19|20)\d\d)[-_.]?([01]\d)[-_.]?([0-3]\d)");
    r.captures(name)
        .map(|m| format!("{}-{}-{}", &m[1], &m[2], &m[3]))
}

fn is_archive(name: &str) -> bool {
    let r = re!(
        r"(?i)\.(?:tar|tgz|gz|bz2|xz|zst|zip|7z|sql|dump|bak|backup|dmp|tar\.\w+|sql\.\w+|img|qcow2|snap)$|backup|dump"
    );
    r.is_match(name)
}

fn is_log(path: &str) -> bool {
    let r =
        re!(r"(?i)(?:\.log(?:\.\d+)?(?:\.gz)?|/syslog(?:\.\d+)?|/messages|\.out|/catalina\.out)$");
    r.is_match(path)
}

fn is_core(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    path.starts_with("/var/lib/systemd/coredump/")
        || path.starts_with("/var/crash/")
        || name == "core"
        || name.starts_with("core.")
}

struct Writer<'a> {
    what: String,
    size_k: u64,
    evidence: Vec<(&'a Block<'a>, String)>,
    action: String,
}

fn disk_growth(c: &Corpus, out: &mut Vec<Finding>) {
    let fss = filesystems(c);
    if !fss.iter().any(|f| f.used >= FILLING) {
        return;
    }
    let entries = du_entries(c);
    let journal = re!(
        r"(?:Archived and active journals|Journals) take up (\S+) (?:in the file system|on disk)"
    );
    let journal_use = c
        .by_program("journalctl")
        .filter(|b| b.command.contains("--disk-usage"))
        .find_map(|b| {
            b.lines().find_map(|l| {
                journal
                    .captures(l)
                    .map(|m| (b, l.to_string(), m[1].to_string()))
            })
        });
    for fs in fss.iter().filter(|f| f.used >= FILLING) {
        let mine: Vec<&Entry> = entries
            .iter()
            .filter(|e| mount_of(&fss, &e.path).is_some_and(|m| m.mount == fs.mount))
            .filter(|e| e.path != fs.mount)
            .collect();
        let big = |k: u64| k >= 1024 * 1024 || (fs.size_k > 0 && k * 5 >= fs.size_k);
        let mut writers: Vec<Writer> = Vec::new();

        // Dated archives in one directory: a backup job without rotation.
        let mut dirs: Vec<(&str, Vec<&Entry>)> = Vec::new();
        for e in &mine {
            let name = e.path.rsplit('/').next().unwrap_or(&e.path);
            if date_in(name).is_some() && is_archive(&e.path) {
                let p = parent(&e.path);
                match dirs.iter_mut().find(|d| d.0 == p) {
                    Some(d) => d.1.push(e),
                    None => dirs.push((p, vec![e])),
                }
            }
        }
        for (dir, mut files) in dirs.into_iter().filter(|d| d.1.len() >= 5) {
            files.sort_by_key(|e| date_in(e.path.rsplit('/').next().unwrap_or("")));
            let total: u64 = files.iter().map(|e| e.size_k).sum();
            let oldest =
                date_in(files[0].path.rsplit('/').next().unwrap_or("")).unwrap_or_default();
            let newest = date_in(files[files.len() - 1].path.rsplit('/').next().unwrap_or(""))
                .unwrap_or_default();
            let mut ev: Vec<(&Block, String)> = vec![];
            if let Some(d) = mine.iter().find(|e| e.path == dir) {
                ev.push((d.block, d.line.clone()));
            }
            ev.push((files[0].block, files[0].line.clone()));
            ev.push((
                files[files.len() - 1].block,
                files[files.len() - 1].line.clone(),
            ));
            writers.push(Writer {
                what: format!(
                    "{} dated backup archives in {dir} ({}, {oldest} to {newest}): a backup job that never deletes old archives",
                    files.len(),
                    crate::render::human_kib(total)
                ),
                size_k: total,
                evidence: ev,
                action: format!("Add rotation to the backup job that writes {dir} (keep the last N archives, or `find {dir} -name '*<pattern>*' -mtime +14 -delete` after checking what is kept off-host); remove the oldest archives now"),
            });
        }

        // Core dumps.
        let cores: Vec<&&Entry> = mine.iter().filter(|e| is_core(&e.path)).collect();
        let core_k: u64 = cores.iter().map(|e| e.size_k).sum();
        if cores.len() >= 2 && big(core_k) {
            writers.push(Writer {
                what: format!("{} core dumps ({})", cores.len(), crate::render::human_kib(core_k)),
                size_k: core_k,
                evidence: cores.iter().take(3).map(|e| (e.block, e.line.clone())).collect(),
                action: "Find the crashing program (`coredumpctl list`), fix the crash, and cap dumps (`MaxUse=` in /etc/systemd/coredump.conf, `ulimit -c`); delete old dumps once one is kept for debugging".into(),
            });
        }

        // Huge log files.
        for e in mine.iter().filter(|e| is_log(&e.path) && big(e.size_k)) {
            writers.push(Writer {
                what: format!("log file {} ({}) that is not rotated", e.path, crate::render::human_kib(e.size_k)),
                size_k: e.size_k,
                evidence: vec![(e.block, e.line.clone())],
                action: format!("Rotate {} (logrotate with `size`/`maxsize` and `compress`; `copytruncate` or a reopen signal for the writer); find out why it logs so much", e.path),
            });
        }

        // The journal.
        if let Some((b, line, size)) = &journal_use {
            let k = kib(size).unwrap_or(0);
            if mount_of(&fss, "/var/log/journal").is_some_and(|m| m.mount == fs.mount) && big(k) {
                writers.push(Writer {
                    what: format!("the systemd journal ({size})"),
                    size_k: k,
                    evidence: vec![(b, line.clone())],
                    action: "Cap the journal: `SystemMaxUse=` in /etc/systemd/journald.conf, then `journalctl --vacuum-size=500M`; find the unit that logs most (`journalctl --since today -o json | jq -r ._SYSTEMD_UNIT | sort | uniq -c | sort -n`)".into(),
                });
            }
        }

        if writers.is_empty() {
            continue;
        }
        writers.sort_by_key(|w| std::cmp::Reverse(w.size_k));
        let top = &writers[0];
        // The largest directories (entries other entries sit under), not single files.
        let mut largest: Vec<&&Entry> = mine
            .iter()
            .filter(|e| {
                let prefix = format!("{}/", e.path);
                mine.iter().any(|o| o.path.starts_with(&prefix))
            })
            .collect();
        largest.sort_by_key(|e| std::cmp::Reverse(e.size_k));
        let largest: Vec<String> = largest
            .iter()
            .take(3)
            .map(|e| format!("{} {}", e.path, crate::render::human_kib(e.size_k)))
            .collect();
        let crit = fs.used >= 95;
        let mut summary = format!(
            "{} is {}% full and growing: the likely writer is {}",
            fs.mount, fs.used, top.what
        );
        if writers.len() > 1 {
            summary.push_str(&format!(
                "; also {}",
                writers[1..]
                    .iter()
                    .map(|w| w.what.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        if !largest.is_empty() {
            summary.push_str(&format!("; largest: {}", largest.join(", ")));
        }
        let mut evidence = vec![fs.line.clone()];
        let mut supporting = Vec::new();
        for w in &writers {
            for (b, l) in &w.evidence {
                if b.call_id == fs.block.call_id {
                    evidence.push(l.clone());
                } else {
                    supporting.push(support(b, l));
                }
            }
        }
        let mut actions: Vec<String> = writers.iter().map(|w| w.action.clone()).collect();
        actions.push(format!(
            "Confirm what grew: `du -xh --max-depth=2 {} | sort -h | tail -20`",
            fs.mount
        ));
        let mut f = New {
            kind: super::DISK_GROWTH_KIND,
            category: "disk",
            severity: if crit {
                Severity::Critical
            } else {
                Severity::Warning
            },
            rank: 88,
            subject: fs.mount.clone(),
            summary,
            block: fs.block,
            evidence,
            actions,
        }
        .build();
        supporting.truncate(MAX_EVIDENCE);
        f.supporting = supporting;
        out.push(f);
    }
}

#[cfg(test)]
mod unit {
    #[test]
    fn sizes_parse() {
        assert_eq!(super::kib("4.0K"), Some(4));
        assert_eq!(super::kib("1.5G"), Some(1572864));
        assert_eq!(super::kib("812"), Some(812));
        assert_eq!(
            super::date_in("db-20261101.sql.gz").as_deref(),
            Some("2026-11-01")
        );
        assert_eq!(
            super::date_in("app-2026-11-01T0300.tar.zst").as_deref(),
            Some("2026-11-01")
        );
        assert_eq!(super::parent("/var/backups/db.sql"), "/var/backups");
    }
}
