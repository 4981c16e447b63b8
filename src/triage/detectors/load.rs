//! Load detectors: load average far above the CPU count, told apart by what the load is made
//! of. With a `vmstat` sample, high `wa` (and tasks blocked in `b`, processes in state `D` in a
//! `ps` table) means the load is I/O wait (`io_wait`: look at the disks or a network
//! filesystem), high `us`+`sy` means it is CPU bound (`high_load`, with the busiest processes).
//!
//! Reads only the programs that print these: `uptime`/`w`/`top` and `/proc/loadavg` for the
//! load, `nproc`/`getconf`/`lscpu`/`/proc/cpuinfo` for the CPU count, `vmstat`, and process
//! listings as tables.
use super::memory::vmstat_samples;
use super::{ev, plural, support, Block, Corpus, Detector, Finding, New, Severity};
use crate::triage::Source;

/// The `load` detector: the journal lines it recognises and the function that reads them.
pub(super) const LOAD: Detector = Detector {
    journal: &[],
    sweep: &[("cpu_load", "{}")],
    run: load,
};

/// What a `vmstat` run says about the CPU: average user+system, I/O wait, blocked tasks.
struct Cpu {
    busy: u64,
    wa: u64,
    blocked: u64,
    lines: Vec<String>,
}

fn vmstat<'c>(c: &'c Corpus) -> Option<(Cpu, &'c Block<'c>)> {
    for b in c.by_program("vmstat") {
        let s = vmstat_samples(b);
        if s.is_empty() || !s[0].0.contains_key("wa") {
            continue;
        }
        let n = s.len() as u64;
        let sum = |k: &str| {
            s.iter()
                .map(|(r, _)| r.get(k).copied().unwrap_or(0))
                .sum::<u64>()
        };
        return Some((
            Cpu {
                busy: (sum("us") + sum("sy")) / n,
                wa: sum("wa") / n,
                blocked: sum("b") / n,
                lines: s.iter().map(|(_, l)| l.to_string()).collect(),
            },
            b,
        ));
    }
    None
}

/// Whether a block printed the load average: `uptime`, `w`, `top`, or a read of `/proc/loadavg`.
fn prints_load(b: &Block) -> bool {
    match b.program() {
        "uptime" | "w" | "top" => true,
        "cat" => b.command.contains("/proc/loadavg"),
        "" => b.tool == "cpu_load" || b.tool == "system_info",
        _ => false,
    }
}

/// Load average far above the CPU count: CPU bound or I/O wait, with the processes behind it.
fn load(c: &Corpus, out: &mut Vec<Finding>) {
    let la = re!(r"load average:\s*([\d.]+),\s*([\d.]+),\s*([\d.]+)");
    let loadavg = re!(r"^([\d.]+) ([\d.]+) ([\d.]+) \d+/\d+ \d+$");
    let lscpu = re!(r"^CPU\(s\):\s+(\d+)$");
    let cpuinfo = re!(r"^processor\s*:\s*\d+$");
    let mut cpus: Option<u32> = None;
    let mut top: Vec<(f64, String, &Block)> = Vec::new();
    let mut dstate: Vec<(String, &Block)> = Vec::new();
    for b in &c.blocks {
        let text = b.text.trim();
        match b.program() {
            "nproc" | "getconf" => {
                if let Ok(n) = text.parse::<u32>() {
                    cpus = Some(n);
                }
            }
            "lscpu" => {
                if let Some(m) = b.lines().find_map(|l| lscpu.captures(l)) {
                    cpus = m[1].parse().ok();
                }
            }
            "cat" if b.command.contains("/proc/cpuinfo") => {
                let n = b.lines().filter(|l| cpuinfo.is_match(l)).count() as u32;
                if n > 0 && cpus.is_none() {
                    cpus = Some(n);
                }
            }
            _ => {}
        }
        if b.source != Source::Processes {
            continue;
        }
        let mut header: Option<(usize, Option<usize>, usize)> = None;
        for line in b.lines() {
            let toks: Vec<&str> = line.split_whitespace().collect();
            if let Some(i) = toks.iter().position(|t| *t == "%CPU") {
                let st = toks.iter().position(|t| *t == "STAT" || *t == "S");
                header = Some((i, st, toks.len()));
                continue;
            }
            if let Some((i, st, n)) = header {
                if toks.len() >= n.min(i + 2) {
                    if let Some(v) = toks.get(i).and_then(|t| t.parse::<f64>().ok()) {
                        top.push((v, line.to_string(), b));
                    }
                    if st
                        .and_then(|s| toks.get(s))
                        .is_some_and(|s| s.starts_with('D'))
                    {
                        dstate.push((line.to_string(), b));
                    }
                }
            }
        }
    }
    let cpu = vmstat(c);
    for b in c.blocks.iter().filter(|b| prints_load(b)) {
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
            let io_bound = cpu
                .as_ref()
                .is_some_and(|(v, _)| v.wa >= 50 || (v.wa >= 20 && v.wa + 10 >= v.busy))
                || (cpu.is_none() && dstate.len() >= cpus.unwrap_or(4).max(4) as usize);
            // Heavy I/O wait alone (every CPU mostly waiting) is a finding even below the load bar.
            let wait_only = cpu.as_ref().is_some_and(|(v, _)| v.wa >= 50);
            if level < warn && !wait_only {
                continue;
            }
            let load_text = match cpus {
                Some(n) => format!(
                    "Load average {l1:.2} on {n} CPU{} ({:.1}× the CPU count)",
                    plural(n as usize),
                    l1 / n as f64
                ),
                None => format!("Load average {l1:.2} (CPU count unknown)"),
            };
            let severity = if level >= crit {
                Severity::Critical
            } else {
                Severity::Warning
            };
            let mut f = if io_bound {
                let (v, _) = cpu
                    .as_ref()
                    .map(|(v, b)| (Some(v), Some(*b)))
                    .unwrap_or((None, None));
                let mut why = Vec::new();
                if let Some(v) = v {
                    why.push(format!(
                        "vmstat shows {}% I/O wait against {}% user+system",
                        v.wa, v.busy
                    ));
                    if v.blocked > 0 {
                        why.push(format!(
                            "{} task{} blocked on I/O",
                            v.blocked,
                            plural(v.blocked as usize)
                        ));
                    }
                }
                if !dstate.is_empty() {
                    why.push(format!(
                        "{} process{} in D state",
                        dstate.len(),
                        if dstate.len() == 1 { "" } else { "es" }
                    ));
                }
                New {
                    kind: "io_wait",
                    category: "performance",
                    severity,
                    rank: 42,
                    subject: "load".into(),
                    summary: format!("{load_text} is I/O wait, not CPU: {}", why.join(", ")),
                    block: b,
                    evidence: vec![line.to_string()],
                    actions: vec![
                        "See which device is saturated: `iostat -x 1 3` (high %util, await), and who does the I/O: `iotop -obn1` or `pidstat -d 1 3`".into(),
                        "List the processes stuck in D state and what they wait on: `ps -eo pid,stat,wchan:32,args | awk '$2 ~ /D/'`; a hung NFS/CIFS mount or a failing disk shows up in `journalctl -k`".into(),
                    ],
                }
                .build()
            } else {
                let cpu_text = cpu
                    .as_ref()
                    .map(|(v, _)| {
                        format!(": CPU bound ({}% user+system, {}% I/O wait)", v.busy, v.wa)
                    })
                    .unwrap_or_default();
                New {
                    kind: "high_load",
                    category: "performance",
                    severity,
                    rank: 40,
                    subject: "load".into(),
                    summary: format!("{load_text}{cpu_text}"),
                    block: b,
                    evidence: vec![line.to_string()],
                    actions: vec![
                        "See what runs and what waits: `top -b -n1 | head -30`, `vmstat 1 5` (high `wa` means I/O wait, `r` above the CPU count means CPU saturation)".into(),
                        "Look at the top processes below; throttle, reschedule or stop what should not be running now".into(),
                    ],
                }
                .build()
            };
            if let Some((v, vb)) = &cpu {
                for l in v.lines.iter().take(2) {
                    if vb.call_id == b.call_id {
                        f.evidence.push(ev(l));
                    } else {
                        f.supporting.push(support(vb, l));
                    }
                }
            }
            let mut shown: Vec<(String, &Block)> = Vec::new();
            if io_bound {
                shown.extend(dstate.iter().take(3).cloned());
            } else {
                top.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
                let mut seen_pids: Vec<&str> = Vec::new();
                for (_, pl, pb) in &top {
                    let pid = pl.split_whitespace().next().unwrap_or("");
                    if seen_pids.contains(&pid) {
                        continue;
                    }
                    seen_pids.push(pid);
                    shown.push((pl.clone(), pb));
                    if shown.len() == 3 {
                        break;
                    }
                }
            }
            for (pl, pb) in shown {
                if pb.call_id == b.call_id {
                    f.evidence.push(ev(&pl));
                } else {
                    f.supporting.push(support(pb, &pl));
                }
            }
            out.push(f);
            return;
        }
    }
}
