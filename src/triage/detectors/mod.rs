//! The detectors, one module per family (services, memory, disk, auth, dns, tls, clock,
//! crashes, load), and the helpers they share. Each detector reads the corpus (every
//! command's output, split into lines) and returns findings; correlation across calls happens
//! in the detector (a bind error and the process holding the port, a dead resolver and the
//! `nameserver` line that names it). Each detector also declares the journal lines it reads
//! ([`Detector::journal`]); the triage sweep's journal search is built from those
//! declarations ([`journal_signatures`]), so a new detector cannot be missing from it.
//!
//! Patterns follow the lines real software prints: systemd, the kernel (OOM killer, ext4,
//! xfs, block layer, libata), nginx, PostgreSQL, Apache, Go and Node listeners, OpenSSH,
//! glibc/curl/dig resolvers, chrony, systemd-timesyncd, OpenSSL, `df`, `ss`, `netstat`, `ps`.
use std::collections::BTreeMap;

use super::{Block, Corpus, Finding, Severity, Supporting, MAX_EVIDENCE};

macro_rules! re {
    ($s:expr) => {{
        static R: std::sync::LazyLock<regex::Regex> =
            std::sync::LazyLock::new(|| regex::Regex::new($s).expect("detector regex is valid"));
        &*R
    }};
}

mod auth;
mod clock;
mod crashes;
mod databases;
mod disk;
mod dns;
mod kernel;
mod limits;
mod load;
mod memory;
mod network_link;
mod packages;
mod processes;
mod security;
mod services;
mod storage;
mod systemd;
mod tls;

const UNIT: &str = r"[\w@.:\\-]+\.(?:service|socket|mount|timer|path|target|swap|scope)";

/// Longest evidence line kept (characters).
const MAX_LINE: usize = 400;

/// One detector: the journal lines it reads and the function that reads the corpus.
pub(crate) struct Detector {
    /// Patterns for the journal lines it recognises, as `journalctl --grep` alternatives
    /// (PCRE2, matched case-insensitively: write them in lower case). Empty for detectors that
    /// read command output only (`df`, `uptime`).
    pub journal: &'static [&'static str],
    /// Read-only tool calls the triage sweep makes so this detector has its input, as
    /// `(tool, JSON arguments)` (`("run_command", r#"{"command":"cat /proc/mdstat"}"#)`).
    /// Calls several detectors declare run once.
    pub sweep: &'static [(&'static str, &'static str)],
    pub run: fn(&Corpus, &mut Vec<Finding>),
}

/// Every detector, in the order they run.
pub(crate) const ALL: &[Detector] = &[
    services::PORT_CONFLICT,
    services::UNITS,
    services::UPSTREAM,
    memory::OOM,
    disk::DISK_SPACE,
    disk::NO_SPACE,
    disk::READONLY_FS,
    disk::IO_ERRORS,
    auth::AUTH_MODES,
    auth::AUTH_FAILURES,
    dns::DNS,
    tls::CERTIFICATES,
    clock::CLOCK,
    crashes::SEGFAULTS,
    load::LOAD,
    memory::SWAP,
    limits::FD_LIMIT,
    limits::PIDS_LIMIT,
    limits::CONNTRACK,
    databases::POSTGRES,
    databases::MYSQL,
    processes::ZOMBIES,
    processes::RUNAWAY,
    systemd::DEPENDENCY,
    systemd::START_LIMIT,
    systemd::RATE_LIMIT,
    kernel::HUNG_TASK,
    kernel::LOCKUP,
    kernel::HARDWARE,
    storage::NFS,
    storage::RAID,
    storage::FAILED_MOUNT,
    storage::DISK_GROWTH,
    network_link::LINK_FLAP,
    security::APPARMOR,
    security::SELINUX,
    security::FAILLOCK,
    packages::PACKAGES,
];

pub(crate) fn run_all(c: &Corpus) -> Vec<Finding> {
    let mut out = Vec::new();
    for d in ALL {
        (d.run)(c, &mut out);
    }
    out
}

/// The detector families (this module's submodules, read from its own `mod` lines), for the
/// report's "what was checked".
pub(crate) fn families() -> &'static [String] {
    static F: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        include_str!("mod.rs")
            .lines()
            .filter_map(|l| l.trim().strip_prefix("mod ")?.strip_suffix(';'))
            .map(str::to_string)
            .collect()
    });
    &F
}

/// Whether a block is the output of one of `programs` (`df`, `ss`, `systemctl`, …).
fn from(b: &Block, programs: &[&str]) -> bool {
    programs.contains(&b.program())
}

/// The journal lines every detector reads, as one `journalctl --grep` pattern.
pub(crate) fn journal_signatures() -> &'static str {
    static SIGS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        ALL.iter()
            .flat_map(|d| d.journal.iter().copied())
            .collect::<Vec<_>>()
            .join("|")
    });
    &SIGS
}

/// Every detector's own sweep calls, in detector order, without repeats.
pub(crate) fn sweep_calls() -> Vec<(&'static str, serde_json::Value)> {
    let mut out: Vec<(&'static str, serde_json::Value)> = Vec::new();
    for d in ALL {
        for (tool, args) in d.sweep {
            let args: serde_json::Value =
                serde_json::from_str(args).expect("detector sweep arguments are valid JSON");
            if !out.iter().any(|(t, a)| t == tool && *a == args) {
                out.push((tool, args));
            }
        }
    }
    out
}

/// An evidence line: trimmed, bounded.
fn ev(line: &str) -> String {
    let t = line.trim();
    if t.chars().count() <= MAX_LINE {
        t.to_string()
    } else {
        let cut: String = t.chars().take(MAX_LINE).collect();
        format!("{cut}…")
    }
}

struct New<'a> {
    kind: &'static str,
    category: &'static str,
    severity: Severity,
    rank: u8,
    subject: String,
    summary: String,
    block: &'a Block<'a>,
    evidence: Vec<String>,
    actions: Vec<String>,
}

impl New<'_> {
    fn build(self) -> Finding {
        let mut evidence: Vec<String> = Vec::new();
        for e in self.evidence {
            let e = ev(&e);
            // The same message repeated (nginx retries a bind five times) is one piece of evidence.
            let dup = evidence.iter().any(|x| message_part(x) == message_part(&e));
            if !dup && evidence.len() < MAX_EVIDENCE {
                evidence.push(e);
            }
        }
        Finding {
            category: self.category.to_string(),
            severity: self.severity,
            kind: self.kind.to_string(),
            subject: self.subject,
            summary: self.summary,
            evidence,
            call_id: self.block.call_id.to_string(),
            tool: self.block.tool.to_string(),
            supporting: Vec::new(),
            actions: self.actions,
            rank: self.rank,
            when: None,
            current: true,
            caused_by: None,
            consequences: Vec::new(),
        }
    }
}

fn support(block: &Block, line: &str) -> Supporting {
    Supporting {
        line: ev(line),
        call_id: block.call_id.to_string(),
        tool: block.tool.to_string(),
    }
}

/// Lines grouped by subject within one block, in first-seen order.
#[derive(Default)]
struct Groups {
    order: Vec<String>,
    lines: BTreeMap<String, Vec<String>>,
}

impl Groups {
    fn add(&mut self, subject: &str, line: &str) {
        if !self.lines.contains_key(subject) {
            self.order.push(subject.to_string());
        }
        let v = self.lines.entry(subject.to_string()).or_default();
        if !v.iter().any(|l| l == line) {
            v.push(line.to_string());
        }
    }
    fn iter(&self) -> impl Iterator<Item = (&String, &Vec<String>)> {
        self.order.iter().map(|s| (s, &self.lines[s]))
    }
}

/// A log line without its timestamp, host and pid: `nginx: nginx: [emerg] …` (the whole line
/// when it has no syslog prefix). Two lines with the same message part say the same thing.
fn message_part(line: &str) -> String {
    let stamp = re!(
        r"^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\s+\S+\s+"
    );
    let pid = re!(r"^([^\s\[:]+)\[\d+\]:");
    let rest = match stamp.find(line) {
        Some(m) => &line[m.end()..],
        None => return line.to_string(),
    };
    pid.replace(rest, "$1:").into_owned()
}

/// The syslog identifier of a journal/syslog line (`nginx` in
/// `Nov 25 08:01:02 web01 nginx[1234]: …`), if the line has that shape.
pub(crate) fn ident(line: &str) -> Option<&str> {
    let r = re!(
        r"^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\s+\S+\s+([^\s\[:]+)(?:\[\d+\])?:\s"
    );
    r.captures(line).map(|c| c.get(1).unwrap().as_str())
}

fn pct(s: &str) -> Option<u32> {
    s.strip_suffix('%')?.parse().ok()
}

/// `"s"` unless there is exactly one.
fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
