//! Crash detector: segfaults, general protection faults and core dumps.
use super::{plural, Corpus, Detector, Finding, Groups, New, Severity, UNIT};

/// The `segfaults` detector: the journal lines it recognises and the function that reads them.
pub(super) const SEGFAULTS: Detector = Detector {
    journal: &[
        r"segfault at",
        r"dumped core",
        r"terminated abnormally",
        r"general protection",
        r"traps: ",
    ],
    sweep: &[],
    run: segfaults,
};

/// Segfaults, general protection faults and core dumps.
fn segfaults(c: &Corpus, out: &mut Vec<Finding>) {
    let segv = re!(r"(\S+?)\[(\d+)\]: segfault at [0-9a-fA-F]+ ip");
    let traps = re!(
        r"traps: (\S+?)\[(\d+)\] (?:general protection(?: fault)?|trap (?:divide error|invalid opcode|int3|stack segment))"
    );
    let dumped =
        re!(r"Process (\d+) \(([^)]+)\) of user \d+ (?:dumped core|terminated abnormally)");
    let unit_dumped = re!(&format!(
        r"({UNIT}): Main process exited, code=dumped, status=\d+/(SEGV|ABRT|BUS|ILL|FPE|SYS|TRAP)"
    ));
    for b in c.logs() {
        let mut g = Groups::default();
        for line in b.lines() {
            let name = if let Some(m) = segv.captures(line) {
                Some(m[1].to_string())
            } else if let Some(m) = traps.captures(line) {
                Some(m[1].to_string())
            } else if let Some(m) = dumped.captures(line) {
                Some(m[2].to_string())
            } else {
                unit_dumped
                    .captures(line)
                    .map(|m| m[1].trim_end_matches(".service").to_string())
            };
            if let Some(n) = name {
                g.add(&n, line);
            }
        }
        for (name, lines) in g.iter() {
            // One crash can show up as a kernel segfault line and a coredump line: count pids.
            let mut pids: Vec<String> = Vec::new();
            for l in lines {
                let pid = segv
                    .captures(l)
                    .map(|m| m[2].to_string())
                    .or_else(|| traps.captures(l).map(|m| m[2].to_string()))
                    .or_else(|| dumped.captures(l).map(|m| m[1].to_string()));
                if let Some(p) = pid {
                    if !pids.contains(&p) {
                        pids.push(p);
                    }
                }
            }
            let n = pids.len().max(1);
            out.push(
                New {
                    kind: "segfault",
                    category: "service",
                    severity: Severity::Critical,
                    rank: 72,
                    subject: name.clone(),
                    summary: format!("{name} crashed (segmentation fault / core dump, {n} time{})", plural(n)),
                    block: b,
                    evidence: lines.clone(),
                    actions: vec![
                        format!("List and inspect its core dumps: `coredumpctl list {name}`, `coredumpctl info {name}`"),
                        "Check what changed (package upgrade, new build, library versions) and roll back or report the crash with the backtrace".into(),
                    ],
                }
                .build(),
            );
        }
    }
}
