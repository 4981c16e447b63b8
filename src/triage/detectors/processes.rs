//! Process-table detectors: zombies (many `<defunct>` children of one parent: the parent that
//! never reaps them is the finding) and runaway processes (a process near 100% of a CPU for a
//! long time, or one whose memory dwarfs the rest).
//!
//! They read process listings as tables (`ps` with a header: `ps -eo …`, `ps aux`,
//! `list_processes`; `top -b`), never as log messages; the columns are found by their header
//! (`PID`, `PPID`, `STAT`/`S`, `%CPU`, `RSS`/`RES`, `TIME`/`TIME+`, `COMMAND`/`CMD`).
use std::collections::BTreeMap;

use super::{plural, Block, Corpus, Detector, Finding, New, Severity};
use crate::triage::Source;

/// The `zombies` detector.
pub(super) const ZOMBIES: Detector = Detector {
    journal: &[],
    sweep: &[(
        "run_command",
        r#"{"command":"ps -eo pid,ppid,stat,etimes,time,rss,pcpu,comm"}"#,
    )],
    run: zombies,
};

/// The `runaway` detector.
pub(super) const RUNAWAY: Detector = Detector {
    journal: &[],
    sweep: &[(
        "run_command",
        r#"{"command":"ps -eo pid,ppid,stat,etimes,time,rss,pcpu,comm"}"#,
    )],
    run: runaway,
};

/// One row of a process table.
#[derive(Clone)]
struct Proc {
    pid: u32,
    ppid: Option<u32>,
    stat: String,
    cpu: Option<f64>,
    /// Resident memory in KiB.
    rss: Option<u64>,
    /// CPU time used, in seconds.
    cpu_secs: Option<u64>,
    command: String,
    line: String,
}

/// `[DD-]HH:MM:SS`, `MM:SS`, top's `MMMM:SS.hh`: seconds.
fn duration(s: &str) -> Option<u64> {
    let (days, rest) = match s.split_once('-') {
        Some((d, r)) => (d.parse::<u64>().ok()?, r),
        None => (0, s),
    };
    let rest = rest.split('.').next()?;
    let mut secs = 0u64;
    for part in rest.split(':') {
        secs = secs * 60 + part.parse::<u64>().ok()?;
    }
    Some(days * 86_400 + secs)
}

/// top's `RES` (`123456`, `1.2g`, `512m`) or ps's `RSS` (KiB): KiB.
fn kib(s: &str) -> Option<u64> {
    let (n, mul) = match s.chars().last()? {
        'g' | 'G' => (&s[..s.len() - 1], 1024.0 * 1024.0),
        'm' | 'M' => (&s[..s.len() - 1], 1024.0),
        't' | 'T' => (&s[..s.len() - 1], 1024.0 * 1024.0 * 1024.0),
        _ => (s, 1.0),
    };
    n.parse::<f64>().ok().map(|v| (v * mul) as u64)
}

/// Every process table in the corpus, one `Vec` per block.
fn tables<'c>(c: &'c Corpus) -> Vec<(Vec<Proc>, &'c Block<'c>)> {
    let mut out = Vec::new();
    for b in c.blocks.iter().filter(|b| b.source == Source::Processes) {
        let mut cols: Option<BTreeMap<&str, usize>> = None;
        let mut procs = Vec::new();
        for line in b.lines() {
            let toks: Vec<&str> = line.split_whitespace().collect();
            if toks.contains(&"PID") {
                let mut m = BTreeMap::new();
                for (i, t) in toks.iter().enumerate() {
                    let key = match *t {
                        "PID" => "pid",
                        "PPID" => "ppid",
                        "STAT" | "S" => "stat",
                        "%CPU" => "cpu",
                        "RSS" | "RES" => "rss",
                        "TIME" | "TIME+" => "time",
                        "COMMAND" | "CMD" | "COMM" | "ARGS" => "cmd",
                        _ => continue,
                    };
                    m.entry(key).or_insert(i);
                }
                cols = m.contains_key("cmd").then_some(m);
                continue;
            }
            let Some(m) = &cols else { continue };
            let cmd_at = m["cmd"];
            if toks.len() <= cmd_at {
                continue;
            }
            let tok = |k: &str| m.get(k).and_then(|i| toks.get(*i)).copied();
            let Some(pid) = tok("pid").and_then(|t| t.parse().ok()) else {
                continue;
            };
            procs.push(Proc {
                pid,
                ppid: tok("ppid").and_then(|t| t.parse().ok()),
                stat: tok("stat").unwrap_or("").to_string(),
                cpu: tok("cpu").and_then(|t| t.parse().ok()),
                rss: tok("rss").and_then(kib),
                cpu_secs: tok("time").and_then(duration),
                command: toks[cmd_at..].join(" "),
                line: line.to_string(),
            });
        }
        if !procs.is_empty() {
            out.push((procs, b));
        }
    }
    out
}

/// The short name of a process: its program without directory or arguments.
fn name(cmd: &str) -> String {
    let first = cmd.split_whitespace().next().unwrap_or(cmd);
    first.rsplit('/').next().unwrap_or(first).to_string()
}

/// The processes that run tai's commands: the parent of the `timeout` wrapper (tai's
/// host-side prefix) around the listing's own `ps`/`top`. That is tai itself on the local
/// transport, the SSH session on a remote host: its children are tai's other probes, which can
/// be caught finished and not yet reaped while the listing runs.
fn tai_runners(procs: &[Proc]) -> Vec<u32> {
    let mut out = Vec::new();
    for p in procs {
        if !matches!(name(&p.command).as_str(), "ps" | "top") {
            continue;
        }
        let Some(wrapper) = p.ppid.and_then(|pp| procs.iter().find(|q| q.pid == pp)) else {
            continue;
        };
        if name(&wrapper.command) == "timeout" {
            out.extend(wrapper.ppid);
        }
    }
    out
}

/// Zombies: when one parent has several `<defunct>` children, that parent is not reaping them.
fn zombies(c: &Corpus, out: &mut Vec<Finding>) {
    for (procs, b) in tables(c) {
        let runners = tai_runners(&procs);
        let mut by_parent: BTreeMap<Option<u32>, Vec<&Proc>> = BTreeMap::new();
        for p in &procs {
            // tai's own probes, finished a moment ago and not yet reaped, are not the host's.
            if p.ppid.is_some_and(|pp| runners.contains(&pp)) {
                continue;
            }
            if p.stat.starts_with('Z') || p.command.ends_with("<defunct>") {
                by_parent.entry(p.ppid).or_default().push(p);
            }
        }
        for (ppid, zs) in by_parent {
            if zs.len() < 3 {
                continue;
            }
            let parent = ppid.and_then(|pp| procs.iter().find(|p| p.pid == pp));
            let pname = parent
                .map(|p| format!("{} (pid {})", name(&p.command), p.pid))
                .or_else(|| ppid.map(|pp| format!("pid {pp}")))
                .unwrap_or_else(|| "their parent".into());
            let mut evidence: Vec<String> = parent.iter().map(|p| p.line.clone()).collect();
            evidence.extend(zs.iter().take(4).map(|p| p.line.clone()));
            let n = zs.len();
            out.push(
                New {
                    kind: "zombie_processes",
                    category: "performance",
                    severity: if n >= 20 { Severity::Critical } else { Severity::Warning },
                    rank: 45,
                    subject: ppid.map(|p| format!("pid {p}")).unwrap_or_else(|| "zombies".into()),
                    summary: format!(
                        "{n} zombie (defunct) process{} with the same parent, {pname}: it does not reap its children (each zombie holds a PID until it does)",
                        if n == 1 { "" } else { "es" }
                    ),
                    block: b,
                    evidence,
                    actions: vec![
                        format!("See the parent and its children: `ps -o pid,ppid,stat,etime,args --ppid {} -p {}`", ppid.unwrap_or(0), ppid.unwrap_or(0)),
                        "Zombies cannot be killed; the parent must wait() for them: restart or fix the parent (a missing SIGCHLD handler, a wrapper script without `exec`, a container without an init), and they go away".into(),
                    ],
                }
                .build(),
            );
        }
    }
}

/// Runaway processes: near 100% of a CPU for long (CPU time ≥ 10 minutes at ≥ 90%), or one
/// process holding most of the memory.
fn runaway(c: &Corpus, out: &mut Vec<Finding>) {
    let mem_total = mem_total_kib(c);
    for (procs, b) in tables(c) {
        for p in &procs {
            let kernel_thread = p.command.starts_with('[');
            let (Some(cpu), Some(secs)) = (p.cpu, p.cpu_secs) else {
                continue;
            };
            if kernel_thread || cpu < 90.0 || secs < 600 || p.stat.starts_with('Z') {
                continue;
            }
            let n = name(&p.command);
            out.push(
                New {
                    kind: "runaway_process",
                    category: "performance",
                    severity: Severity::Warning,
                    rank: 46,
                    subject: format!("pid {}", p.pid),
                    summary: format!(
                        "{n} (pid {}) has been running at {cpu:.0}% CPU for a long time ({} of CPU time): a busy loop or a stuck job",
                        p.pid,
                        human(secs)
                    ),
                    block: b,
                    evidence: vec![p.line.clone()],
                    actions: vec![
                        format!("See what it is doing: `top -H -p {}` (threads), `cat /proc/{}/stack`, `strace -p {} -c` (if allowed)", p.pid, p.pid, p.pid),
                        format!("If it should not be running (a stuck cron job, a retry loop), stop it; otherwise cap it (CPUQuota= in its unit, `renice`)"),
                    ],
                }
                .build(),
            );
        }
        // Memory: the largest resident process far above the rest.
        let mut by_rss: Vec<&Proc> = procs.iter().filter(|p| p.rss.is_some()).collect();
        by_rss.sort_by_key(|p| std::cmp::Reverse(p.rss));
        if let Some(top) = by_rss.first() {
            let rss = top.rss.unwrap_or(0);
            let next = by_rss.get(1).and_then(|p| p.rss).unwrap_or(0);
            let huge = match mem_total {
                Some(t) => rss * 2 >= t,
                None => rss >= 2 * 1024 * 1024 && rss >= next * 5,
            };
            if huge && rss >= 1024 * 1024 && !top.command.starts_with('[') {
                let n = name(&top.command);
                let share = mem_total
                    .map(|t| format!(", {}% of memory", rss * 100 / t))
                    .unwrap_or_default();
                out.push(
                    New {
                        kind: "runaway_process",
                        category: "memory",
                        severity: Severity::Warning,
                        rank: 46,
                        subject: format!("pid {}", top.pid),
                        summary: format!(
                            "{n} (pid {}) holds {} MiB of memory{share}, far more than any other process (next: {} MiB)",
                            top.pid,
                            rss / 1024,
                            next / 1024
                        ),
                        block: b,
                        evidence: vec![top.line.clone()],
                        actions: vec![
                            format!("Watch whether it grows: `ps -o pid,rss,etime,args -p {}` a few minutes apart; steady growth is a leak", top.pid),
                            "Cap it (MemoryMax= in its unit, a heap limit) or restart it before the OOM killer picks a victim".into(),
                        ],
                    }
                    .build(),
                );
            }
        }
    }
}

/// Total memory in KiB from `/proc/meminfo` or `free`.
fn mem_total_kib(c: &Corpus) -> Option<u64> {
    let meminfo = re!(r"^MemTotal:\s+(\d+) kB");
    let free = re!(r"^Mem:\s+(\d+)\s");
    for b in &c.blocks {
        let unit = match b.program() {
            "cat" if b.command.contains("/proc/meminfo") => 1,
            "free" if b.command.contains("-m") => 1024,
            "free" if b.command.contains("-g") => 1024 * 1024,
            "free" if !b.command.contains("-h") => 1,
            _ => continue,
        };
        for line in b.lines() {
            if let Some(m) = meminfo.captures(line).or_else(|| free.captures(line)) {
                return m[1].parse::<u64>().ok().map(|v| v * unit);
            }
        }
    }
    None
}

/// `2h 05m` / `14m` / `3d 4h`.
fn human(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    if d > 0 {
        format!("{d} day{} {h}h", plural(d as usize))
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else {
        format!("{m} minutes")
    }
}
