//! Kernel detectors: hung tasks (`kernel/hung_task.c`, with the processes a `ps` table shows
//! in uninterruptible sleep), CPU lockups and RCU stalls (`kernel/watchdog.c`,
//! `kernel/rcu/tree_stall.h`), and hardware errors (x86 machine checks, APEI/GHES, EDAC memory
//! controllers: an uncorrected error is critical, corrected ones a warning with their count).
//!
//! Log lines are read only from log blocks (journal, kernel log, log files); the `ps` table
//! only from process listings.
use super::{plural, Corpus, Detector, Finding, New, Severity};

/// The `hung_task` detector.
pub(super) const HUNG_TASK: Detector = Detector {
    journal: &[r"blocked for more than \d+ seconds"],
    sweep: &[],
    run: hung_task,
};

/// The `cpu_lockup` detector: soft and hard lockups, RCU stalls.
pub(super) const LOCKUP: Detector = Detector {
    journal: &[
        r"soft lockup - cpu#",
        r"hard lockup",
        r"rcu.{0,40}stall",
        r"detected stalls on cpus",
    ],
    sweep: &[],
    run: lockup,
};

/// The `hardware_error` detector: machine checks and EDAC.
pub(super) const HARDWARE: Detector = Detector {
    journal: &[
        r"\[hardware error\]",
        r"machine check",
        r"edac[ a-z0-9_]* mc\d+: \d+ [cu]e ",
    ],
    sweep: &[],
    run: hardware,
};

/// `INFO: task nfsd:812 blocked for more than 120 seconds.`; D-state processes from any `ps`
/// table (a `STAT`/`S` column starting with `D`) back it.
fn hung_task(c: &Corpus, out: &mut Vec<Finding>) {
    let hung = re!(r"INFO: task (.+):(\d+) blocked for more than (\d+) seconds\.?");
    let hint = re!(r#""echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message"#);
    let dstate = d_state_processes(c);
    for b in c.logs() {
        let mut tasks: Vec<String> = Vec::new();
        let mut lines: Vec<String> = Vec::new();
        let mut secs = 0u64;
        for line in super::storage::in_time_order(c, b) {
            if let Some(m) = hung.captures(line) {
                let t = format!("{} (pid {})", &m[1], &m[2]);
                if !tasks.contains(&t) {
                    tasks.push(t);
                }
                secs = secs.max(m[3].parse().unwrap_or(0));
                lines.push(line.to_string());
            } else if hint.is_match(line) && !lines.is_empty() && lines.len() < 2 {
                lines.push(line.to_string());
            }
        }
        if tasks.is_empty() {
            continue;
        }
        let n = tasks.len();
        let shown: Vec<&str> = tasks.iter().take(4).map(String::as_str).collect();
        let mut summary = format!(
            "{n} task{} blocked in the kernel for more than {secs} s (hung task): {}{}",
            plural(n),
            shown.join(", "),
            if n > 4 { ", …" } else { "" }
        );
        if !dstate.is_empty() {
            summary.push_str(&format!(
                "; {} process{} in uninterruptible sleep (D) now",
                dstate.len(),
                if dstate.len() == 1 { "" } else { "es" }
            ));
        }
        let mut f = New {
            kind: "hung_task",
            category: "kernel",
            severity: Severity::Critical,
            rank: 84,
            subject: "hung_task".into(),
            summary,
            block: b,
            evidence: lines,
            actions: vec![
                "Read the stack under each `INFO: task … blocked` line (`journalctl -k | grep -A30 'blocked for more than'`): nfs_/rpc_ frames mean a network filesystem, jbd2/blk_ frames a slow or failing disk".into(),
                "List the stuck processes and what they wait on: `ps -eo pid,stat,wchan:32,comm | awk '$2 ~ /^D/'`".into(),
                "Fix what they wait on (the NFS server, the disk, the storage network); D-state processes cannot be killed until it answers".into(),
            ],
        }
        .build();
        for (blk, line) in dstate.iter().take(4) {
            f.supporting.push(super::support(blk, line));
        }
        out.push(f);
    }
}

/// Lines of `ps` tables (process listings only) whose state column starts with `D`.
fn d_state_processes<'c>(c: &'c Corpus) -> Vec<(&'c super::Block<'c>, String)> {
    let mut v = Vec::new();
    for b in c
        .blocks
        .iter()
        .filter(|b| b.source == crate::triage::Source::Processes)
    {
        let mut col: Option<usize> = None;
        for line in b.lines() {
            let toks: Vec<&str> = line.split_whitespace().collect();
            if let Some(i) = toks
                .iter()
                .position(|t| *t == "STAT" || *t == "S" || *t == "STATE")
            {
                col = Some(i);
                continue;
            }
            let Some(i) = col else { continue };
            if toks.get(i).is_some_and(|s| s.starts_with('D'))
                && !v.iter().any(|(_, l): &(_, String)| l == line)
            {
                v.push((b, line.to_string()));
            }
        }
    }
    v
}

/// Soft and hard lockups, RCU stalls.
fn lockup(c: &Corpus, out: &mut Vec<Finding>) {
    let soft = re!(r"BUG: soft lockup - CPU#(\d+) stuck for (\d+)s!(?: \[(.+?):(\d+)\])?");
    let hard = re!(r"Watchdog detected hard LOCKUP on cpu (\d+)");
    let rcu = re!(
        r"(?:rcu: )?INFO: (rcu_\w+) (?:self-detected stall on CPU|detected stalls on CPUs/tasks|detected expedited stalls)"
    );
    let panic = re!(r"Kernel panic - not syncing: (?:softlockup|Hard LOCKUP|hung_task)");
    for b in c.logs() {
        let mut lines = Vec::new();
        let mut what: Vec<String> = Vec::new();
        let mut hard_seen = false;
        let mut panicked = false;
        for line in b.lines() {
            let w = if let Some(m) = soft.captures(line) {
                match m.get(3) {
                    Some(t) => format!(
                        "soft lockup on CPU {} ({} for {}s)",
                        &m[1],
                        t.as_str(),
                        &m[2]
                    ),
                    None => format!("soft lockup on CPU {} ({}s)", &m[1], &m[2]),
                }
            } else if let Some(m) = hard.captures(line) {
                hard_seen = true;
                format!("hard lockup on CPU {}", &m[1])
            } else if let Some(m) = rcu.captures(line) {
                format!("RCU stall ({})", &m[1])
            } else if panic.is_match(line) {
                panicked = true;
                "kernel panic".to_string()
            } else {
                continue;
            };
            if !what.contains(&w) {
                what.push(w);
            }
            lines.push(line.to_string());
        }
        if lines.is_empty() {
            continue;
        }
        let n = lines.len();
        let shown: Vec<&str> = what.iter().take(3).map(String::as_str).collect();
        out.push(
            New {
                kind: "cpu_lockup",
                category: "kernel",
                severity: Severity::Critical,
                rank: if hard_seen || panicked { 87 } else { 85 },
                subject: "cpu_lockup".into(),
                summary: format!(
                    "The kernel watchdog reported CPUs stuck: {}{} ({n} line{})",
                    shown.join(", "),
                    if what.len() > 3 { ", …" } else { "" },
                    plural(n)
                ),
                block: b,
                evidence: lines,
                actions: vec![
                    "Read the stack trace after each lockup line (`journalctl -k | grep -A40 'soft lockup\\|hard LOCKUP\\|stall'`): the top frames name the driver or subsystem spinning".into(),
                    "On a VM, check the hypervisor for CPU steal and overcommit (`vmstat 1`, the `st` column); on metal, update the kernel and firmware of the driver in the trace".into(),
                    "If it repeats, capture a crash dump (kdump) and report it to the kernel or driver vendor".into(),
                ],
            }
            .build(),
        );
    }
}

/// Machine checks, APEI/GHES hardware errors, EDAC corrected (CE) and uncorrected (UE) errors.
fn hardware(c: &Corpus, out: &mut Vec<Finding>) {
    let edac = re!(r"EDAC (?:\w+ )?(MC\d+): (\d+) (CE|UE) (.*)$");
    let mce_logged = re!(r"mce: \[Hardware Error\]: Machine check events logged");
    let mce_bank = re!(r"\[Hardware Error\]: (?:CPU \d+: )?Machine Check(?: Exception)?: ");
    let fatal = re!(
        r"\[Hardware Error\]: (?:event severity: (?:fatal|recoverable)|.*Uncorrected|.*PROCESSOR_CONTEXT_CORRUPT|.*Machine check: Processor context corrupt)|Kernel panic - not syncing: (?:Fatal )?[Mm]achine check"
    );
    let ghes = re!(r"\[Hardware Error\]: (?:event severity: (\w+)|Hardware error from APEI)");
    let dimm = re!(r"\bon (\S+) \(");
    for b in c.logs() {
        let mut lines = Vec::new();
        let mut ce = 0u64;
        let mut ue = 0u64;
        let mut mce = false;
        let mut crit = false;
        let mut mcs: Vec<String> = Vec::new();
        let mut dimms: Vec<String> = Vec::new();
        for line in b.lines() {
            if let Some(m) = edac.captures(line) {
                let n: u64 = m[2].parse().unwrap_or(1);
                if &m[3] == "UE" {
                    ue += n;
                    crit = true;
                } else {
                    ce += n;
                }
                if !mcs.contains(&m[1].to_string()) {
                    mcs.push(m[1].to_string());
                }
                if let Some(d) = dimm.captures(&m[4]) {
                    let d = d[1].to_string();
                    if d != "memory" && !dimms.contains(&d) {
                        dimms.push(d);
                    }
                }
                lines.push(line.to_string());
            } else if fatal.is_match(line) {
                crit = true;
                mce = true;
                lines.push(line.to_string());
            } else if mce_logged.is_match(line) || mce_bank.is_match(line) {
                mce = true;
                lines.push(line.to_string());
            } else if let Some(m) = ghes.captures(line) {
                // `event severity: corrected` alone is a corrected error; the APEI header is context.
                if m.get(1).is_some() {
                    mce = true;
                    lines.push(line.to_string());
                }
            }
        }
        if lines.is_empty() {
            continue;
        }
        // Uncorrected first: they are what the host cannot survive.
        lines.sort_by_key(|l| !(l.contains(" UE ") || fatal.is_match(l)));
        let mut parts = Vec::new();
        if ue > 0 {
            parts.push(format!(
                "{ue} uncorrected (UE) memory error{}",
                plural(ue as usize)
            ));
        }
        if ce > 0 {
            parts.push(format!(
                "{ce} corrected (CE) memory error{}",
                plural(ce as usize)
            ));
        }
        if mce {
            parts.push("machine-check events".to_string());
        }
        let mut summary = format!(
            "Hardware errors reported by the kernel: {}",
            parts.join(", ")
        );
        if !mcs.is_empty() {
            summary.push_str(&format!(" on memory controller {}", mcs.join(", ")));
        }
        if !dimms.is_empty() {
            summary.push_str(&format!(" ({})", dimms.join(", ")));
        }
        out.push(
            New {
                kind: "hardware_error",
                category: "kernel",
                severity: if crit { Severity::Critical } else { Severity::Warning },
                rank: if crit { 92 } else { 60 },
                subject: "hardware".into(),
                summary,
                block: b,
                evidence: lines,
                actions: vec![
                    "Decode the errors: `ras-mc-ctl --summary` / `ras-mc-ctl --errors` (rasdaemon), or `mcelog --client`; `edac-util -v` shows counts per DIMM".into(),
                    "Check the BMC/iLO/iDRAC system event log for the same DIMM or CPU".into(),
                    "Corrected errors that keep growing on one DIMM predict an uncorrected one: schedule its replacement; after an uncorrected error, move the workload off this host".into(),
                ],
            }
            .build(),
        );
    }
}
