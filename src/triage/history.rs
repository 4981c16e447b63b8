//! Time and recovery, a post-pass over the detectors' findings: when each finding happened
//! (its newest log evidence line), whether it is current (the current boot and inside the
//! incident window, or current state read from command output), and whether the current state
//! contradicts an old error (a table of "recovered-by" checks per kind, below).
//!
//! Old entries drop one severity step (Critical → Warning → Info) with a note saying how old
//! they are; old errors the host has recovered from become Info history ("No space left on
//! device" 30 days ago with `df` showing the filesystem at 41% now). A failed unit that is
//! active now is history at any age.
use std::collections::HashMap;

use super::time::{boot_time, epoch_secs, is_kernel_relative, line_time};
use super::{Block, Corpus, Finding, Severity};

/// The incident window: log lines older than this before "now" are old.
pub const INCIDENT_WINDOW_SECS: i64 = 24 * 3600;

/// Where and when one evidence line was found.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// The line came from a log block (journal, kernel log, log file).
    log: bool,
    /// A `-- Boot … --` separator follows it in its block: written in an earlier boot.
    earlier_boot: bool,
}

/// Index of the cited blocks: line text → where it was seen, per call id.
struct Index<'c, 'a> {
    corpus: &'c Corpus<'a>,
    blocks: HashMap<&'a str, Vec<HashMap<String, Seen>>>,
}

fn is_boot_separator(line: &str) -> bool {
    let t = line.trim();
    (t.starts_with("-- Boot ") && t.ends_with(" --")) || t == "-- Reboot --"
}

/// An export-format field line: `KEY=VALUE` with an upper-case key.
fn is_field(l: &str) -> bool {
    l.split_once('=').is_some_and(|(k, _)| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })
}

/// The `_BOOT_ID` of the journal entry each line belongs to, where the output carries it
/// (`-o json`: one entry per line; `-o verbose`/`export`: a header line and its indented or
/// `KEY=VALUE` fields up to the next blank or header line). `None` for plain short output.
fn entry_boot_ids(lines: &[&str]) -> Vec<Option<String>> {
    let id_of = |l: &str| -> Option<String> {
        let rest = l
            .split_once("\"_BOOT_ID\":\"")
            .map(|(_, r)| r)
            .or_else(|| l.trim_start().strip_prefix("_BOOT_ID="))?;
        let id: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
        (id.len() >= 16).then_some(id)
    };
    if !lines.iter().any(|l| l.contains("_BOOT_ID")) {
        return vec![None; lines.len()];
    }
    let mut out = vec![None; lines.len()];
    let mut start = 0;
    while start < lines.len() {
        // One entry: a JSON line alone, or a header and the field lines under it.
        let mut end = start + 1;
        if !lines[start].trim_start().starts_with('{') {
            while end < lines.len()
                && !lines[end].trim().is_empty()
                && (lines[end].starts_with(char::is_whitespace) || is_field(lines[end]))
                && !lines[end].trim_start().starts_with('{')
            {
                end += 1;
            }
        }
        let id = lines[start..end].iter().find_map(|l| id_of(l));
        for slot in &mut out[start..end] {
            slot.clone_from(&id);
        }
        start = end;
    }
    out
}

impl<'c, 'a> Index<'c, 'a> {
    fn new(corpus: &'c Corpus<'a>) -> Self {
        Index {
            corpus,
            blocks: HashMap::new(),
        }
    }

    fn block_lines(b: &Block) -> HashMap<String, Seen> {
        let lines: Vec<&str> = b.text.lines().collect();
        let last_sep = lines.iter().rposition(|l| is_boot_separator(l));
        let boots = entry_boot_ids(&lines);
        let current_boot = boots.iter().rev().find_map(|x| x.as_deref());
        let mut map = HashMap::new();
        for (i, l) in lines.iter().enumerate() {
            let t = l.trim();
            if t.is_empty() {
                continue;
            }
            let other_boot =
                matches!((&boots[i], current_boot), (Some(id), Some(cur)) if id != cur);
            map.insert(
                t.to_string(),
                Seen {
                    log: b.is_log(),
                    earlier_boot: other_boot || last_sep.is_some_and(|s| i < s),
                },
            );
        }
        map
    }

    /// Where `line` (an evidence line, possibly cut with `…`) was seen in call `call_id`.
    fn seen(&mut self, call_id: &str, line: &str) -> Option<Seen> {
        if !self.blocks.contains_key(call_id) {
            let corpus = self.corpus;
            let b = corpus.blocks.iter().find(|b| b.call_id == call_id)?;
            let maps = corpus
                .blocks
                .iter()
                .filter(|x| x.call_id == call_id)
                .map(Self::block_lines)
                .collect();
            self.blocks.insert(b.call_id, maps);
        }
        let maps = self.blocks.get(call_id)?;
        let cut = line.strip_suffix('…');
        maps.iter().find_map(|m| match cut {
            None => m.get(line.trim()).copied(),
            Some(prefix) => m
                .iter()
                .find(|(k, _)| k.starts_with(prefix))
                .map(|(_, s)| *s),
        })
    }
}

/// The host's boot time, from `uptime`, `uptime -s`, `who -b` or `/proc/uptime` output.
fn host_boot(c: &Corpus) -> Option<i64> {
    let now = epoch_secs(c.now);
    c.blocks
        .iter()
        .find_map(|b| boot_time(b.program(), b.command, &b.text, now))
}

/// Fill `when` and `current`, demote old entries and mark what the current state contradicts.
pub(crate) fn apply(c: &Corpus, findings: &mut [Finding]) {
    let now = epoch_secs(c.now);
    let boot = host_boot(c);
    let mut index = Index::new(c);
    for f in findings.iter_mut() {
        let mut cited: Vec<(String, String)> = f
            .evidence
            .iter()
            .map(|e| (f.call_id.clone(), e.clone()))
            .collect();
        cited.extend(
            f.supporting
                .iter()
                .map(|s| (s.call_id.clone(), s.line.clone())),
        );
        let mut when: Option<i64> = None;
        let mut state_now = false;
        let mut log_lines = 0usize;
        let mut all_earlier = true;
        for (call, line) in &cited {
            let seen = index.seen(call, line);
            match seen {
                Some(s) if s.log => {
                    log_lines += 1;
                    let t = line_time(line, now, boot);
                    // dmesg without a boot time: the current boot, time unknown.
                    let earlier = s.earlier_boot
                        || matches!((t, boot), (Some(t), Some(b)) if t < b - 60 && !is_kernel_relative(line));
                    if !earlier {
                        all_earlier = false;
                    }
                    if let Some(t) = t {
                        when = Some(when.map_or(t, |w: i64| w.max(t)));
                    } else if !earlier {
                        // A current-boot line without a time: cannot be called old.
                        state_now = true;
                    }
                }
                // Command output (df, mount, systemctl, openssl): the state now.
                Some(_) => state_now = true,
                None => state_now = true,
            }
        }
        f.when = when;
        if log_lines == 0 || state_now {
            f.current = true;
        } else {
            let too_old = when.is_some_and(|w| w < now - INCIDENT_WINDOW_SECS);
            f.current = !(all_earlier || too_old);
        }
        if !f.current {
            let age = when.map(|w| age_text(now - w));
            let note = match (age, all_earlier) {
                (Some(a), true) => format!("{a} ago, earlier boot"),
                (Some(a), false) => format!("{a} ago"),
                (None, _) => "earlier boot".to_string(),
            };
            f.severity = demote(f.severity);
            f.summary = format!("{} ({note})", f.summary.trim_end_matches('.'));
        }
    }
    // Recovery: the current state contradicts the error.
    let snapshot: Vec<Finding> = findings.to_vec();
    for f in findings.iter_mut() {
        for r in RECOVERED_BY {
            if !r.kinds.contains(&f.kind.as_str()) {
                continue;
            }
            if r.any_age || !f.current {
                if let Some(why) = (r.check)(c, f, &snapshot) {
                    f.current = false;
                    f.severity = Severity::Info;
                    f.summary = format!("{}; recovered: {why}", f.summary.trim_end_matches('.'));
                    break;
                }
            }
        }
    }
}

fn demote(s: Severity) -> Severity {
    match s {
        Severity::Critical => Severity::Warning,
        _ => Severity::Info,
    }
}

/// `3 days` / `5 hours` / `20 minutes`.
fn age_text(secs: i64) -> String {
    let secs = secs.max(0);
    let (n, unit) = if secs >= 2 * 86_400 {
        (secs / 86_400, "day")
    } else if secs >= 2 * 3600 {
        (secs / 3600, "hour")
    } else {
        (secs / 60, "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// A check that the current state contradicts a finding: `Some(what shows it)`.
struct Recovery {
    kinds: &'static [&'static str],
    /// Applies to current findings too (a failed unit that is active now); otherwise only to
    /// old ones (earlier boots, before the incident window).
    any_age: bool,
    check: fn(&Corpus, &Finding, &[Finding]) -> Option<String>,
}

/// The recovered-by table, per kind.
const RECOVERED_BY: &[Recovery] = &[
    Recovery {
        kinds: &[
            "no_space",
            "filesystem_full",
            "filesystem_nearly_full",
            "inode_exhaustion",
        ],
        any_age: false,
        check: disk_has_room,
    },
    Recovery {
        kinds: &["unit_failed", "unit_crash_loop"],
        any_age: true,
        check: unit_active_now,
    },
    Recovery {
        kinds: &["unit_failed", "unit_crash_loop"],
        any_age: false,
        check: unit_not_failed_now,
    },
    Recovery {
        kinds: &["readonly_filesystem"],
        any_age: false,
        check: mounted_rw_now,
    },
    Recovery {
        kinds: &["clock_unsynchronised"],
        any_age: false,
        check: clock_synced_now,
    },
    Recovery {
        kinds: &[
            "oom_kill",
            "cgroup_oom",
            "oom_kill_cgroup",
            "segfault",
            "hung_task",
            "soft_lockup",
            "io_error",
        ],
        any_age: false,
        check: rebooted_since,
    },
];

/// Mount points and use% from every `df` block (blocks, not inodes).
fn df_usage(c: &Corpus) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for b in c.by_program("df") {
        let mut col: Option<usize> = None;
        for line in b.lines() {
            let toks: Vec<&str> = line.split_whitespace().collect();
            if line.contains("Mounted on") {
                col = toks
                    .iter()
                    .position(|t| *t == "Use%" || *t == "Capacity" || *t == "IUse%");
                continue;
            }
            if let Some(p) = col {
                if let (Some(u), Some(_)) = (toks.get(p), toks.get(p + 1)) {
                    if let Some(n) = u.strip_suffix('%').and_then(|x| x.parse().ok()) {
                        out.push((toks[p + 1..].join(" "), n));
                    }
                }
            }
        }
    }
    out
}

fn disk_has_room(c: &Corpus, f: &Finding, all: &[Finding]) -> Option<String> {
    let usage = df_usage(c);
    if usage.is_empty() {
        return None;
    }
    let full_now = all.iter().any(|x| {
        x.current
            && x.when.is_none()
            && matches!(x.kind.as_str(), "filesystem_full" | "inode_exhaustion")
    });
    if full_now {
        return None;
    }
    // The filesystem the evidence names (longest mount point that prefixes a path in it).
    let paths: Vec<&str> = f
        .evidence
        .iter()
        .flat_map(|e| e.split(|ch: char| ch.is_whitespace() || "'\"(),:".contains(ch)))
        .filter(|w| w.starts_with('/'))
        .collect();
    let best = usage
        .iter()
        .filter(|(m, _)| {
            let m = m.trim_end_matches('/');
            paths
                .iter()
                .any(|p| m.is_empty() || *p == m || p.starts_with(&format!("{m}/")))
        })
        .max_by_key(|(m, _)| m.len());
    Some(match best {
        Some((m, u)) => format!("{m} is at {u}% now (df)"),
        None => "no filesystem is full now (df)".to_string(),
    })
}

/// The unit named by a finding's subject, as `systemctl` prints it.
fn unit_of(f: &Finding) -> String {
    if f.subject.contains('.') {
        f.subject.clone()
    } else {
        format!("{}.service", f.subject)
    }
}

fn unit_active_now(c: &Corpus, f: &Finding, _: &[Finding]) -> Option<String> {
    let unit = unit_of(f);
    for b in c.by_program("systemctl") {
        let mut in_unit = false;
        for line in b.lines() {
            let t = line.trim_start();
            let head = t.trim_start_matches(['●', '×', '○', '↻', '*', 'x', ' ']);
            if head.starts_with(&unit) && !t.starts_with("Active:") {
                in_unit = head[unit.len()..].is_empty() || head[unit.len()..].starts_with(' ');
            }
            if in_unit && t.starts_with("Active: active (running)") {
                return Some(format!("{unit} is active (running) now"));
            }
        }
    }
    None
}

fn unit_not_failed_now(c: &Corpus, f: &Finding, _: &[Finding]) -> Option<String> {
    let unit = unit_of(f);
    let listing = c.by_program("systemctl").find(|b| {
        b.command.contains("--failed")
            || b.command.contains("--state=failed")
            || b.args.get("state").and_then(|s| s.as_str()) == Some("failed")
    })?;
    (!listing.text.contains(&unit))
        .then(|| format!("{unit} is not failed now (systemctl --failed)"))
}

fn mounted_rw_now(c: &Corpus, _: &Finding, all: &[Finding]) -> Option<String> {
    let listed = c
        .blocks
        .iter()
        .any(|b| matches!(b.program(), "mount" | "findmnt") || b.command.contains("/proc/mounts"));
    let ro_now = all
        .iter()
        .any(|x| x.kind == "readonly_filesystem" && x.current && x.when.is_none());
    (listed && !ro_now).then(|| "no filesystem is mounted read-only now (mounts)".to_string())
}

fn clock_synced_now(c: &Corpus, f: &Finding, _: &[Finding]) -> Option<String> {
    f.when?;
    c.blocks
        .iter()
        .filter(|b| matches!(b.program(), "timedatectl" | "chronyc"))
        .find(|b| {
            b.text.contains("System clock synchronized: yes")
                || b.text.contains("Leap status     : Normal")
        })
        .map(|_| "the clock is synchronised now (timedatectl/chronyc)".to_string())
}

fn rebooted_since(c: &Corpus, f: &Finding, _: &[Finding]) -> Option<String> {
    let boot = host_boot(c);
    let before_boot = matches!((f.when, boot), (Some(w), Some(b)) if w < b);
    (before_boot || f.summary.contains("earlier boot"))
        .then(|| "the host has rebooted since".to_string())
}
