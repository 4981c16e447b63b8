//! Deterministic triage: detectors over collected output that produce findings (category,
//! severity, one-line summary, the evidence lines and the tool call they came from), in the
//! style of insights-core rules. Works with no model: `tai run --no-llm` reports from these
//! findings, and with a model they open the conversation as "Deterministic findings".
//!
//! The detectors read the raw stdout/stderr of every command a tool call ran (journal lines,
//! kernel messages, `df`, `ss`, `mount`, `openssl x509`, `timedatectl`, `chronyc`, `ps`, …),
//! recognise lines as the real software prints them, and correlate across calls where one
//! line alone is not the diagnosis (the port in a bind error and the process listening on
//! it; `No space left on device` and the filesystem that is full). They never run anything.
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::tools::{CallStatus, ToolOutcome};

mod causes;
mod detectors;
mod history;
mod report;
pub(crate) mod time;

#[cfg(test)]
mod tests;

pub use report::{
    families, pick_runbook_section, record, report, report_with_actions, runbook_query,
    steps_from_section, strongest,
};

/// How bad a finding is. Ordered: `Info < Warning < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        })
    }
}

/// A line that backs a finding but came from another tool call than the finding's own
/// (the `ss` listener line behind a bind error seen in the journal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supporting {
    pub line: String,
    pub call_id: String,
    pub tool: String,
}

/// A causal link between two findings (see `causes.toml`): the other end's kind and subject,
/// and why the cause leads to the effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub kind: String,
    pub subject: String,
    pub why: String,
}

/// One deterministic finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Issue category the finding belongs to (`plan::Category` names: service, network, dns,
    /// disk, memory, kernel, auth, time, tls, performance, general).
    pub category: String,
    pub severity: Severity,
    /// Which detector fired (`port_conflict`, `oom_kill`, …).
    pub kind: String,
    /// What the finding is about (a unit, a mount point, a port, a process); used to merge
    /// the same finding seen in several calls.
    pub subject: String,
    /// One line for a human.
    pub summary: String,
    /// Lines exactly as the tool call printed them.
    pub evidence: Vec<String>,
    /// The tool call the evidence came from (`T3`) and its tool.
    pub call_id: String,
    pub tool: String,
    /// Lines from other calls that back the finding.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supporting: Vec<Supporting>,
    /// What a human should do next (tai never does it).
    pub actions: Vec<String>,
    /// How specific the finding is as a root cause (higher explains more); breaks ties
    /// between findings of the same severity.
    pub rank: u8,
    /// When the newest log line behind it was written (seconds since the epoch); `None` when
    /// it rests on command output only (current state: "now") or the lines carry no time.
    #[serde(default)]
    pub when: Option<i64>,
    /// Whether it is about now: current state, or log lines of the current boot inside the
    /// incident window. Old entries (earlier boots, before the window) and errors the current
    /// state contradicts are history: `false`, ranked below current ones.
    #[serde(default = "yes")]
    pub current: bool,
    /// The upstream finding that explains this one, when both fired (`causes.toml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<Link>,
    /// The findings this one explains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consequences: Vec<Link>,
}

fn yes() -> bool {
    true
}

impl Finding {
    /// Every call id the finding cites, its own first.
    pub fn sources(&self) -> Vec<String> {
        let mut v = vec![self.call_id.clone()];
        for s in &self.supporting {
            if !v.contains(&s.call_id) {
                v.push(s.call_id.clone());
            }
        }
        v
    }

    /// Plain-text block for a model prompt ("Deterministic findings").
    pub fn to_prompt_line(&self) -> String {
        let mut s = format!(
            "- [{}] {} ({}, from {} {}): {}",
            self.severity, self.kind, self.category, self.call_id, self.tool, self.summary
        );
        for e in &self.evidence {
            s.push_str(&format!("\n    {e}"));
        }
        for e in &self.supporting {
            s.push_str(&format!("\n    {} [{}]", e.line, e.call_id));
        }
        s
    }
}

/// Tools whose output is reference text, not host state: never scanned (runbooks quote the
/// very error lines the detectors look for).
const NOT_HOST_STATE: &[&str] = &["search_runbooks", "search_history"];

/// Where a block's text comes from, which decides what a detector may read in it. Log-line
/// detectors read only [`Source::is_log`] blocks: a `ps` line whose arguments happen to say
/// "certificate has expired" (an admin's `grep`, a `tail -f`, tai's own probe) is not an error
/// the host logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Source {
    /// `journalctl` output (the `read_journal` tool, or `journalctl` through `run_command`).
    Journal,
    /// The kernel log: `dmesg`, `journalctl -k`/`--dmesg`, the `kernel_log` tool.
    Kernel,
    /// Lines of a log file: a read of a path under `/var/log/`, or named `*.log`, `syslog`,
    /// `messages`, `secure` (also through `grep`, `tail`, `zcat`).
    LogFile,
    /// Process listings (`ps`, `top`, `pgrep`, `list_processes`, `process_info`): read as
    /// tables by the detectors that understand them, never for log messages.
    Processes,
    /// Any other command's output (`df`, `ss`, `mount`, `openssl`, `systemctl`, a config file,
    /// `/proc/*`): read only by the detectors that understand that program's output.
    Command,
}

impl Source {
    /// Whether the block holds log lines a host wrote (journal, kernel log, log files).
    pub fn is_log(self) -> bool {
        matches!(self, Source::Journal | Source::Kernel | Source::LogFile)
    }

    /// Classify one command line (as it ran, `sudo -n` allowed in front) run by `tool`; also
    /// returns the program's name.
    fn classify(tool: &str, command: &str, args: &serde_json::Value) -> (Source, String) {
        let words = crate::policy::split_command_line(command).unwrap_or_default();
        let argv = strip_runner(&words);
        let program = argv
            .first()
            .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
            .unwrap_or_default();
        let operands = argv.get(1..).unwrap_or(&[]);
        let source = match program.as_str() {
            "journalctl" => {
                // -k/--dmesg, alone or in a cluster of flags that take no value (`-kb`, `-xk`).
                let kernel = operands.iter().any(|a| {
                    a == "--dmesg"
                        || (a.starts_with('-')
                            && !a.starts_with("--")
                            && a.contains('k')
                            && a[1..].chars().all(|c| "kbxqamrel".contains(c)))
                });
                if kernel {
                    Source::Kernel
                } else {
                    Source::Journal
                }
            }
            "dmesg" => Source::Kernel,
            "ps" | "top" | "pgrep" | "pstree" | "pidstat" => Source::Processes,
            "cat" | "tail" | "head" | "grep" | "egrep" | "zcat" | "zgrep" | "xzcat" | "bzcat"
            | "sed" | "awk" => {
                if operands.iter().any(|a| is_log_path(a)) {
                    Source::LogFile
                } else {
                    Source::Command
                }
            }
            "" => match tool {
                "read_journal" => Source::Journal,
                "kernel_log" => Source::Kernel,
                "list_processes" | "process_info" => Source::Processes,
                _ => match args.get("path").and_then(|v| v.as_str()) {
                    Some(p) if is_log_path(p) => Source::LogFile,
                    _ => Source::Command,
                },
            },
            _ => Source::Command,
        };
        (source, program)
    }
}

/// `argv` without the runners in front of the program: `sudo -n [--]`, `env -u VAR`,
/// `VAR=value`, `timeout [-k N] N`, `nice`, `ionice`.
fn strip_runner(words: &[String]) -> &[String] {
    let mut i = 0;
    while i < words.len() {
        match words[i].as_str() {
            "sudo" | "nice" | "ionice" | "exec" | "--" | "-n" => i += 1,
            "env" => {
                i += 1;
                while i < words.len() && (words[i] == "-u" || words[i].contains('=')) {
                    i += if words[i] == "-u" { 2 } else { 1 };
                }
            }
            "timeout" => {
                i += 1;
                while i < words.len() && words[i].starts_with('-') {
                    i += if words[i] == "-k" || words[i] == "-s" {
                        2
                    } else {
                        1
                    };
                }
                i += 1;
            }
            w if w.contains('=') && !w.starts_with('-') && !w.starts_with('/') => i += 1,
            _ => break,
        }
    }
    &words[i.min(words.len())..]
}

/// A path that names a log: under `/var/log/`, or a file called `*.log[.N][.gz]`, `syslog`,
/// `messages`, `secure`, `kern.log`, `auth.log` (rotated copies too).
fn is_log_path(p: &str) -> bool {
    if p.starts_with('-') {
        return false;
    }
    if p.starts_with("/var/log/") || p.contains("/log/") || p.contains("/logs/") {
        return true;
    }
    let name = p.rsplit('/').next().unwrap_or(p);
    let base = name
        .trim_end_matches(".gz")
        .trim_end_matches(".xz")
        .trim_end_matches(".bz2");
    let base = base.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '-');
    base.ends_with(".log")
        || base.ends_with("_log")
        || matches!(
            base,
            "syslog" | "messages" | "secure" | "kern" | "daemon" | "log"
        )
}

/// The text of one command a tool call ran, as the detectors see it.
#[derive(Debug, Clone)]
pub(crate) struct Block<'a> {
    pub call_id: &'a str,
    pub tool: &'a str,
    /// The command line as it ran (empty when the outcome has no command records).
    pub command: &'a str,
    pub args: &'a serde_json::Value,
    pub text: String,
    /// What kind of text it is: only [`Source::is_log`] blocks are read for log messages.
    pub source: Source,
    /// The program the command ran, without `sudo -n`/`timeout` and directories.
    pub program: String,
}

impl Block<'_> {
    /// The program the command ran (`df` for `sudo -n df -h`), or "" when the outcome has no
    /// command record.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// Whether the block holds log lines (journal, kernel log, a log file).
    pub fn is_log(&self) -> bool {
        self.source.is_log()
    }

    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.text
            .lines()
            .map(|l| l.trim_end())
            .filter(|l| !l.is_empty())
    }

    /// The `path` argument of the call, if it has one.
    pub fn path_arg(&self) -> Option<&str> {
        self.args.get("path").and_then(|v| v.as_str())
    }
}

/// Everything collected, split into blocks.
pub(crate) struct Corpus<'a> {
    pub blocks: Vec<Block<'a>>,
    pub now: SystemTime,
}

impl<'a> Corpus<'a> {
    /// The blocks that hold log lines a host wrote (journal, kernel log, log files): the only
    /// text log-line detectors read.
    pub fn logs(&self) -> impl Iterator<Item = &Block<'a>> {
        self.blocks.iter().filter(|b| b.is_log())
    }

    /// The blocks a given program printed (`df`, `ss`, `mount`, …).
    pub fn by_program<'s>(&'s self, program: &'s str) -> impl Iterator<Item = &'s Block<'a>> {
        self.blocks.iter().filter(move |b| b.program() == program)
    }

    fn new(outcomes: &'a [ToolOutcome], now: SystemTime) -> Self {
        let mut blocks = Vec::new();
        for o in outcomes {
            if o.status == CallStatus::Denied || NOT_HOST_STATE.contains(&o.call.tool.as_str()) {
                continue;
            }
            let ran: Vec<_> = o
                .commands
                .iter()
                .filter(|c| c.status != CallStatus::Denied)
                .collect();
            if ran.is_empty() {
                if !o.commands.is_empty() {
                    continue;
                }
                let (source, program) = Source::classify(&o.call.tool, "", &o.call.args);
                let text = if source.is_log() {
                    without_command_echoes(&o.output)
                } else {
                    o.output.clone()
                };
                blocks.push(Block {
                    call_id: &o.call.id,
                    tool: &o.call.tool,
                    command: "",
                    args: &o.call.args,
                    text,
                    source,
                    program,
                });
                continue;
            }
            for c in ran {
                let mut text = c.stdout.clone();
                if !c.stderr.is_empty() {
                    if !text.is_empty() && !text.ends_with('\n') {
                        text.push('\n');
                    }
                    text.push_str(&c.stderr);
                }
                let (source, program) = Source::classify(&o.call.tool, &c.command, &o.call.args);
                if source.is_log() {
                    text = without_command_echoes(&text);
                }
                blocks.push(Block {
                    call_id: &o.call.id,
                    tool: &o.call.tool,
                    command: &c.command,
                    args: &o.call.args,
                    text,
                    source,
                    program,
                });
            }
        }
        Corpus { blocks, now }
    }
}

/// Log lines that only record a command line someone ran: sudo's `COMMAND=…`, cron's
/// `CMD (…)`, auditd `EXECVE`/`PROCTITLE`/`USER_CMD` records. An admin's
/// `sudo grep "No space left" /var/log/syslog` is not the host running out of space.
pub(crate) fn is_command_echo(line: &str) -> bool {
    static ECHO: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r#"(?:^|[\s;])COMMAND=|\bCRON\[\d+\]: \([^)]*\) CMD \(|\btype=(?:EXECVE|PROCTITLE|USER_CMD|SYSCALL)\b|\bproctitle=|\baudit\(\d+\.\d+:\d+\): argc=\d+ a0="#,
        )
        .expect("valid regex")
    });
    ECHO.is_match(line)
}

fn without_command_echoes(text: &str) -> String {
    if !text.lines().any(is_command_echo) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for l in text.lines().filter(|l| !is_command_echo(l)) {
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// Run every detector over the outcomes. Findings come back strongest first (severity, then
/// rank), one per (kind, subject).
pub fn analyze(outcomes: &[ToolOutcome]) -> Vec<Finding> {
    analyze_at(outcomes, SystemTime::now())
}

/// [`analyze`] with an explicit "now" (certificate expiry is judged against it).
pub fn analyze_at(outcomes: &[ToolOutcome], now: SystemTime) -> Vec<Finding> {
    let corpus = Corpus::new(outcomes, now);
    let raw = detectors::run_all(&corpus);
    let mut out: Vec<Finding> = Vec::new();
    for f in raw {
        if let Some(prev) = out
            .iter_mut()
            .find(|p| p.kind == f.kind && p.subject == f.subject)
        {
            merge(prev, f);
        } else {
            out.push(f);
        }
    }
    history::apply(&corpus, &mut out);
    causes::link(&mut out);
    order(&mut out);
    out
}

/// Strongest first (severity, current before history, rank, evidence), with every effect right
/// after the finding that caused it (a cause ranks as high as its strongest effect).
fn order(out: &mut Vec<Finding>) {
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.current.cmp(&a.current))
            .then(b.rank.cmp(&a.rank))
            .then(evidence_weight(b).cmp(&evidence_weight(a)))
    });
    let mut ordered: Vec<Finding> = Vec::with_capacity(out.len());
    let mut taken = vec![false; out.len()];
    fn place(i: usize, out: &[Finding], taken: &mut [bool], ordered: &mut Vec<Finding>) {
        if taken[i] {
            return;
        }
        taken[i] = true;
        ordered.push(out[i].clone());
        for (j, f) in out.iter().enumerate() {
            if let Some(c) = &f.caused_by {
                if c.kind == out[i].kind && c.subject == out[i].subject {
                    place(j, out, taken, ordered);
                }
            }
        }
    }
    for i in 0..out.len() {
        let is_effect = out[i].caused_by.as_ref().is_some_and(|c| {
            out.iter()
                .any(|p| p.kind == c.kind && p.subject == c.subject)
        });
        if !is_effect {
            place(i, out, &mut taken, &mut ordered);
        }
    }
    for i in 0..out.len() {
        place(i, out, &mut taken, &mut ordered);
    }
    *out = ordered;
}

/// Maximum evidence lines kept per finding.
pub(crate) const MAX_EVIDENCE: usize = 6;

fn merge(into: &mut Finding, f: Finding) {
    if f.severity > into.severity {
        into.severity = f.severity;
        into.summary = f.summary.clone();
    }
    if f.call_id == into.call_id {
        for e in f.evidence {
            if !into.evidence.contains(&e) && into.evidence.len() < MAX_EVIDENCE {
                into.evidence.push(e);
            }
        }
    } else {
        for e in f.evidence {
            let dup = into
                .supporting
                .iter()
                .any(|s| s.line == e && s.call_id == f.call_id);
            if !dup && into.supporting.len() < MAX_EVIDENCE {
                into.supporting.push(Supporting {
                    line: e,
                    call_id: f.call_id.clone(),
                    tool: f.tool.clone(),
                });
            }
        }
    }
    for s in f.supporting {
        if !into.supporting.iter().any(|x| x.line == s.line) && into.supporting.len() < MAX_EVIDENCE
        {
            into.supporting.push(s);
        }
    }
}

/// The findings as a prompt section for the model ("Deterministic findings").
pub fn prompt_section(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "Deterministic findings: none of the detectors fired on the collected output."
            .to_string();
    }
    let mut s =
        String::from("Deterministic findings (from the collected output, strongest first):\n");
    for f in findings {
        s.push_str(&f.to_prompt_line());
        s.push('\n');
    }
    s
}

/// The journal patterns the detectors recognise, as one `journalctl --grep` (PCRE2,
/// case-insensitive): the lines a baseline plan filtered by priority or keyword can miss
/// (nginx and other services log to stderr at info level; sshd logs refused keys at info).
/// Built from every detector's own declaration.
pub fn journal_signatures() -> &'static str {
    detectors::journal_signatures()
}

/// The triage sweep: cheap read-only calls that feed every detector, run beside the category's
/// baseline plan when there is no model to follow leads (the journal search is bounded to the
/// last two days so a large journal is not scanned end to end). Calls `base` already makes
/// (same tool, same arguments) are left out; ids are `T{n}` from `next_id`.
pub fn sweep_calls(
    base: &[crate::tools::ToolCall],
    next_id: &mut u32,
) -> Vec<crate::tools::ToolCall> {
    use serde_json::json;
    let calls = [
        (
            "read_journal",
            json!({ "grep": journal_signatures(), "since": "2 days ago", "lines": 300 }),
        ),
        ("list_services", json!({ "state": "failed" })),
        ("disk_usage", json!({})),
        ("inode_usage", json!({})),
        ("mounts", json!({})),
        (
            "list_sockets",
            json!({ "listening": true, "process": true }),
        ),
        ("time_sync", json!({})),
        ("run_command", json!({ "command": "uptime" })),
        ("run_command", json!({ "command": "nproc" })),
        ("list_processes", json!({ "sort": "cpu", "limit": 10 })),
    ];
    calls
        .into_iter()
        .chain(detectors::sweep_calls())
        .filter(|(tool, args)| !base.iter().any(|b| b.tool == *tool && b.args == *args))
        // cpu_load (load, CPU count and a vmstat sample) already covers uptime and nproc.
        .filter(|(tool, args)| {
            let covered = matches!(args["command"].as_str(), Some("uptime" | "nproc"));
            !(*tool == "run_command" && covered && base.iter().any(|b| b.tool == "cpu_load"))
        })
        .map(|(tool, args)| {
            let id = format!("T{next_id}");
            *next_id += 1;
            crate::tools::ToolCall {
                id,
                tool: tool.to_string(),
                args,
            }
        })
        .collect()
}

/// How many lines back a finding: breaks ties between equally ranked findings.
fn evidence_weight(f: &Finding) -> usize {
    f.evidence.len() + f.supporting.len()
}
