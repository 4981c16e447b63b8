//! Load detector: load average far above the CPU count, with the busiest processes.
use super::{ev, plural, support, Block, Corpus, Detector, Finding, New, Severity};

/// The `load` detector: the journal lines it recognises and the function that reads them.
pub(super) const LOAD: Detector = Detector {
    journal: &[],
    sweep: &[],
    run: load,
};

/// Load average far above the CPU count, with the busiest processes.
fn load(c: &Corpus, out: &mut Vec<Finding>) {
    let la = re!(r"load average:\s*([\d.]+),\s*([\d.]+),\s*([\d.]+)");
    let loadavg = re!(r"^([\d.]+) ([\d.]+) ([\d.]+) \d+/\d+ \d+$");
    let lscpu = re!(r"^CPU\(s\):\s+(\d+)$");
    let cpuinfo = re!(r"^processor\s*:\s*\d+$");
    let mut cpus: Option<u32> = None;
    let mut top: Vec<(f64, String, &Block)> = Vec::new();
    for b in &c.blocks {
        let cmd = b.command.trim_start_matches("sudo -n ");
        let text = b.text.trim();
        if (cmd.starts_with("nproc") || cmd.starts_with("getconf")) && text.parse::<u32>().is_ok() {
            cpus = text.parse().ok();
        }
        let mut procs = 0u32;
        let mut header: Option<(usize, usize)> = None;
        for line in b.lines() {
            if let Some(m) = lscpu.captures(line) {
                cpus = m[1].parse().ok();
            }
            if cpuinfo.is_match(line) {
                procs += 1;
            }
            let toks: Vec<&str> = line.split_whitespace().collect();
            if let Some(i) = toks.iter().position(|t| *t == "%CPU") {
                header = Some((i, toks.len()));
                continue;
            }
            if let Some((i, n)) = header {
                if toks.len() >= n.min(i + 2) {
                    if let Some(v) = toks.get(i).and_then(|t| t.parse::<f64>().ok()) {
                        top.push((v, line.to_string(), b));
                    }
                }
            }
        }
        if procs > 0 && cpus.is_none() {
            cpus = Some(procs);
        }
    }
    for b in &c.blocks {
        for line in b.lines() {
            let m = la.captures(line).or_else(|| loadavg.captures(line));
            let Some(m) = m else { continue };
            let l1: f64 = m[1].parse().unwrap_or(0.0);
            let l5: f64 = m[2].parse().unwrap_or(0.0);
            let (warn, crit) = match cpus {
                Some(n) => (2.0 * n as f64, 4.0 * n as f64),
                None => (16.0, 64.0),
            };
            let level = l1.max(l5.min(l1 * 1.5));
            if level < warn {
                continue;
            }
            top.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
            let mut f = New {
                kind: "high_load",
                category: "performance",
                severity: if level >= crit { Severity::Critical } else { Severity::Warning },
                rank: 40,
                subject: "load".into(),
                summary: match cpus {
                    Some(n) => format!("Load average {l1:.2} on {n} CPU{} ({:.1}× the CPU count)", plural(n as usize), l1 / n as f64),
                    None => format!("Load average {l1:.2} (CPU count unknown)"),
                },
                block: b,
                evidence: vec![line.to_string()],
                actions: vec![
                    "See what runs and what waits: `top -b -n1 | head -30`, `vmstat 1 5` (high `wa` means I/O wait, `r` above the CPU count means CPU saturation)".into(),
                    "Look at the top processes below; throttle, reschedule or stop what should not be running now".into(),
                ],
            }
            .build();
            let mut seen_pids: Vec<&str> = Vec::new();
            let busiest = top.iter().filter(|(_, pl, _)| {
                let pid = pl.split_whitespace().next().unwrap_or("");
                let fresh = !seen_pids.contains(&pid);
                seen_pids.push(pid);
                fresh
            });
            for (_, pl, pb) in busiest.take(3) {
                if pb.call_id == b.call_id {
                    f.evidence.push(ev(pl));
                } else {
                    f.supporting.push(support(pb, pl));
                }
            }
            out.push(f);
            return;
        }
    }
}
