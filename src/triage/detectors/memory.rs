//! Memory detector: the kernel OOM killer, memory-cgroup OOM and systemd-oomd.
use super::{Corpus, Detector, Finding, New, Severity, UNIT};

/// The `oom` detector: the journal lines it recognises and the function that reads them.
pub(super) const OOM: Detector = Detector {
    journal: &[
        r"out of memory",
        r"oom-kill",
        r"invoked oom-killer",
        r"killed by the oom killer",
        r"systemd-oomd.*killed",
    ],
    sweep: &[],
    run: oom,
};

/// Kernel OOM killer, memory-cgroup OOM, systemd-oomd.
fn oom(c: &Corpus, out: &mut Vec<Finding>) {
    let killed = re!(
        r"(?:Memory cgroup out of memory|Out of memory(?: \(oom_kill_allocating_task\))?): Kill(?:ed)? process (\d+) \(([^)]+)\)"
    );
    let oom_kill = re!(r"oom-kill:.*?\btask=([^,\s]+),pid=(\d+)");
    let invoked = re!(r"(\S+) invoked oom-killer: ");
    let unit_killed = re!(&format!(
        r"({UNIT}): A process of this unit has been killed by the OOM killer"
    ));
    let unit_result = re!(&format!(r"({UNIT}): Failed with result 'oom-kill'"));
    let oomd = re!(r"systemd-oomd\[\d+\]: Killed (\S+) due to (.+)$");
    let reaped = re!(r"oom_reaper: reaped process (\d+) \(([^)]+)\)");
    for b in &c.blocks {
        let mut victims: Vec<String> = Vec::new();
        let mut units: Vec<String> = Vec::new();
        let mut lines: Vec<String> = Vec::new();
        let mut invokers: Vec<String> = Vec::new();
        for line in b.lines() {
            if let Some(m) = killed.captures(line) {
                let v = format!("{} (pid {})", &m[2], &m[1]);
                if !victims.contains(&v) {
                    victims.push(v);
                }
                lines.push(line.to_string());
            } else if let Some(m) = oom_kill.captures(line) {
                let v = format!("{} (pid {})", &m[1], &m[2]);
                if !victims.contains(&v) {
                    victims.push(v);
                }
                lines.push(line.to_string());
            } else if let Some(m) = unit_killed
                .captures(line)
                .or_else(|| unit_result.captures(line))
            {
                if !units.contains(&m[1].to_string()) {
                    units.push(m[1].to_string());
                }
                lines.push(line.to_string());
            } else if let Some(m) = oomd.captures(line) {
                units.push(m[1].to_string());
                lines.push(line.to_string());
            } else if let Some(m) = invoked.captures(line) {
                invokers.push(m[1].to_string());
                lines.push(line.to_string());
            } else if reaped.is_match(line) {
                lines.push(line.to_string());
            }
        }
        if lines.is_empty() {
            continue;
        }
        // Lead with the kill lines; the "invoked" line is context.
        lines.sort_by_key(|l| !(killed.is_match(l) || unit_killed.is_match(l) || oomd.is_match(l)));
        let mut summary = if victims.is_empty() {
            "The OOM killer has been killing processes".to_string()
        } else {
            format!("The kernel OOM killer killed {}", victims.join(", "))
        };
        if !units.is_empty() {
            summary.push_str(&format!(" ({})", units.join(", ")));
        }
        let first = victims
            .first()
            .and_then(|v| v.split(' ').next())
            .unwrap_or("the process")
            .to_string();
        out.push(
            New {
                kind: "oom_kill",
                category: "memory",
                severity: Severity::Critical,
                rank: 86,
                subject: "oom".into(),
                summary,
                block: b,
                evidence: lines,
                actions: vec![
                    "See memory now and who uses it: `free -m`, `ps aux --sort=-rss | head`".into(),
                    "Read the full OOM report (task list, memory per cgroup): `journalctl -k | grep -A40 'invoked oom-killer'`".into(),
                    format!(
                        "Give {first} a memory limit it fits in (MemoryMax= in its unit, heap size) or add memory; look for a leak if its RSS keeps growing"
                    ),
                ],
            }
            .build(),
        );
    }
}
