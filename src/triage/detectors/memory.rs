//! Memory detectors: the kernel OOM killer, told apart by constraint (a host-wide OOM, where
//! the machine ran out of memory, versus an OOM inside a memory cgroup, where one unit hit its
//! own `MemoryMax=`/`memory.max`), systemd-oomd kills, and swap thrashing from `vmstat`/`free`.
//!
//! Kernel formats (mm/oom_kill.c, mm/memcontrol.c, Linux 4.x–6.x):
//! `Out of memory: Killed process 2211 (java) total-vm:…` (older `Kill process 2211 (java) score
//! 912 or sacrifice child`), `Memory cgroup out of memory: Killed process …`,
//! `oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/system.slice/x.service,task_memcg=…,task=java,pid=2211,uid=998`
//! (host-wide: `constraint=CONSTRAINT_NONE,…,global_oom,task_memcg=…`), the memcg report's
//! `memory: usage 524288kB, limit 524288kB, failcnt 117`, and 4.x's `Task in /x killed as a
//! result of limit of /system.slice/x.service`.
use std::collections::BTreeMap;

use super::{Block, Corpus, Detector, Finding, New, Severity, UNIT};

/// The `oom` detector: the journal lines it recognises and the function that reads them.
pub(super) const OOM: Detector = Detector {
    journal: &[
        r"out of memory",
        r"oom-kill",
        r"invoked oom-killer",
        r"killed by the oom killer",
        r"systemd-oomd.*killed",
        r"killed as a result of limit of",
        r"memory: usage \d+kb, limit \d+kb",
    ],
    sweep: &[],
    run: oom,
};

/// The `swap` detector: `vmstat` samples and `free` output (command output only).
pub(super) const SWAP: Detector = Detector {
    journal: &[],
    sweep: &[("memory_info", "{}"), ("cpu_load", "{}")],
    run: swap,
};

/// One process the OOM killer killed.
struct Victim {
    name: String,
    pid: String,
    /// The memory cgroup whose limit was hit (`oom_memcg=`), for a cgroup OOM.
    memcg: Option<String>,
    /// The cgroup the victim ran in (`task_memcg=`).
    task_memcg: Option<String>,
    cgroup: bool,
    lines: Vec<String>,
}

/// The unit a cgroup path names (`billing.service` for `/system.slice/billing.service`).
pub(super) fn unit_of(path: &str) -> Option<String> {
    path.rsplit('/')
        .find(|c| !c.is_empty())
        .filter(|c| c.contains('.'))
        .map(str::to_string)
}

/// What one log block says about OOM kills.
#[derive(Default)]
struct Parsed {
    victims: Vec<Victim>,
    /// Units systemd says were hit (`A process of this unit has been killed by the OOM killer`).
    units: BTreeMap<String, Vec<String>>,
    oomd: Vec<String>,
    invokers: Vec<String>,
    /// `memory: usage …kB, limit …kB` lines: (limit in kB, line).
    limits: Vec<(u64, String)>,
}

impl Parsed {
    fn victim(&mut self, pid: &str, name: &str) -> &mut Victim {
        let i = match self.victims.iter().position(|v| v.pid == pid) {
            Some(i) => i,
            None => {
                self.victims.push(Victim {
                    name: name.to_string(),
                    pid: pid.to_string(),
                    memcg: None,
                    task_memcg: None,
                    cgroup: false,
                    lines: Vec::new(),
                });
                self.victims.len() - 1
            }
        };
        &mut self.victims[i]
    }

    /// The unit (or cgroup path) whose memory limit a cgroup victim hit.
    fn cgroup_subject(v: &Victim) -> String {
        let path = v
            .memcg
            .clone()
            .or_else(|| v.task_memcg.clone())
            .unwrap_or_default();
        unit_of(&path).unwrap_or(if path.is_empty() {
            "memory cgroup".into()
        } else {
            path
        })
    }
}

fn parse(b: &Block) -> Parsed {
    let killed = re!(
        r"(Memory cgroup out of memory|Out of memory(?: \(oom_kill_allocating_task\))?): Kill(?:ed)? process (\d+) \(([^)]+)\)"
    );
    let oom_kill = re!(r"oom-kill:constraint=(\w+),.*?\btask=([^,\s]+),pid=(\d+)");
    let memcg = re!(r"\boom_memcg=([^,\s]+)");
    let task_memcg = re!(r"\btask_memcg=([^,\s]+)");
    let limit_of = re!(r"Task in (\S+) killed as a result of limit of (\S+)");
    let usage = re!(r"\bmemory: usage (\d+)kB, limit (\d+)kB, failcnt (\d+)");
    let invoked = re!(r"(\S+) invoked oom-killer: ");
    let unit_killed = re!(&format!(
        r"({UNIT}): A process of this unit has been killed by the OOM killer"
    ));
    let unit_result = re!(&format!(r"({UNIT}): Failed with result 'oom-kill'"));
    let oomd = re!(r"systemd-oomd\[\d+\]: Killed (\S+) due to (.+)$");
    let reaped = re!(r"oom_reaper: reaped process (\d+) \(([^)]+)\)");
    let mut p = Parsed::default();
    // The memcg named by the latest `Task in … limit of …` line (4.x kernels).
    let mut pending_memcg: Option<String> = None;
    for line in b.lines() {
        if let Some(m) = killed.captures(line) {
            let v = p.victim(&m[2], &m[3]);
            if m[1].starts_with("Memory cgroup") {
                v.cgroup = true;
                if v.memcg.is_none() {
                    v.memcg = pending_memcg.take();
                }
            }
            v.lines.insert(0, line.to_string());
        } else if let Some(m) = oom_kill.captures(line) {
            let v = p.victim(&m[3], &m[2]);
            v.cgroup |= &m[1] == "CONSTRAINT_MEMCG";
            v.memcg = memcg.captures(line).map(|x| x[1].to_string());
            v.task_memcg = task_memcg.captures(line).map(|x| x[1].to_string());
            v.lines.push(line.to_string());
        } else if let Some(m) = limit_of.captures(line) {
            pending_memcg = Some(m[2].to_string());
            p.invokers.push(line.to_string());
        } else if let Some(m) = usage.captures(line) {
            let limit: u64 = m[2].parse().unwrap_or(0);
            p.limits.push((limit, line.to_string()));
        } else if let Some(m) = unit_killed
            .captures(line)
            .or_else(|| unit_result.captures(line))
        {
            p.units
                .entry(m[1].to_string())
                .or_default()
                .push(line.to_string());
        } else if oomd.is_match(line) {
            p.oomd.push(line.to_string());
        } else if invoked.is_match(line) || reaped.is_match(line) {
            p.invokers.push(line.to_string());
        }
    }
    p
}

/// Kernel OOM killer (host-wide and memory cgroup) and systemd-oomd. The kernel's lines and
/// systemd's unit lines may come from different calls (`journalctl -k`, `journalctl -u`): a
/// unit line joins the cgroup OOM of its unit wherever that was seen, and lines that only name
/// a unit come after the findings that name the victim (so those lead when merged).
fn oom(c: &Corpus, out: &mut Vec<Finding>) {
    let parsed: Vec<(Parsed, &Block)> = c.logs().map(|b| (parse(b), b)).collect();
    let cg_units: Vec<String> = parsed
        .iter()
        .flat_map(|(p, _)| {
            p.victims
                .iter()
                .filter(|v| v.cgroup)
                .map(Parsed::cgroup_subject)
        })
        .collect();
    let mut limits: Vec<&(u64, String)> = parsed
        .iter()
        .flat_map(|(p, _)| p.limits.iter())
        .filter(|(l, _)| *l > 0 && *l < 1 << 40)
        .collect();
    limits.dedup_by_key(|(l, _)| *l);
    let one_limit: Option<(u64, String)> = match limits.as_slice() {
        [only] => Some((*only).clone()),
        _ => None,
    };
    let mut later: Vec<Finding> = Vec::new();
    for (p, b) in &parsed {
        if p.victims.is_empty() && p.units.is_empty() && p.oomd.is_empty() {
            continue;
        }
        let (cg, host): (Vec<&Victim>, Vec<&Victim>) = p.victims.iter().partition(|v| v.cgroup);

        // Memory cgroup OOMs, one finding per cgroup whose limit was hit.
        let mut by_cgroup: BTreeMap<String, Vec<&Victim>> = BTreeMap::new();
        for v in &cg {
            by_cgroup
                .entry(Parsed::cgroup_subject(v))
                .or_default()
                .push(v);
        }
        for (subject, vs) in &by_cgroup {
            let unit = subject
                .contains('.')
                .then(|| subject.clone())
                .filter(|s| !s.starts_with('/'));
            let mut evidence: Vec<String> = vs.iter().flat_map(|v| v.lines.clone()).collect();
            // The memcg report's limit line, in this call (quoted) or, when the host logged
            // one limit only, in another (named in the summary).
            let own = p.limits.iter().find(|(l, _)| *l > 0 && *l < 1 << 40);
            if let Some((_, l)) = own {
                evidence.push(l.clone());
            }
            let limit = own.or(one_limit.as_ref());
            if let Some(ls) = unit.as_ref().and_then(|u| p.units.get(u)) {
                evidence.extend(ls.iter().cloned());
            }
            let names: Vec<String> = vs
                .iter()
                .map(|v| format!("{} (pid {})", v.name, v.pid))
                .collect();
            out.push(cgroup_finding(
                b,
                subject,
                unit.as_deref(),
                limit.map(|(l, _)| *l),
                &names,
                evidence,
            ));
        }

        // Units systemd says were hit whose cgroup OOM was seen (here or in another call).
        let mut rest_units: Vec<(&String, &Vec<String>)> = Vec::new();
        for (u, ls) in &p.units {
            if by_cgroup.contains_key(u) {
                continue;
            }
            if cg_units.contains(u) {
                later.push(cgroup_finding(b, u, Some(u), None, &[], ls.clone()));
            } else {
                rest_units.push((u, ls));
            }
        }

        // Host-wide OOM: every victim not in a cgroup OOM, the other units systemd says were
        // hit, and systemd-oomd kills (pressure on the host or a slice).
        if host.is_empty() && p.oomd.is_empty() && (rest_units.is_empty() || !cg.is_empty()) {
            continue;
        }
        let mut lines: Vec<String> = host.iter().flat_map(|v| v.lines.clone()).collect();
        lines.extend(p.oomd.iter().cloned());
        lines.extend(rest_units.iter().flat_map(|(_, l)| l.iter().cloned()));
        lines.extend(p.invokers.iter().take(1).cloned());
        let names: Vec<String> = host
            .iter()
            .map(|v| format!("{} (pid {})", v.name, v.pid))
            .collect();
        let mut hit_units: Vec<String> = rest_units.iter().map(|(u, _)| (*u).clone()).collect();
        for v in &host {
            if let Some(u) = v.task_memcg.as_deref().and_then(unit_of) {
                if !hit_units.contains(&u) {
                    hit_units.push(u);
                }
            }
        }
        let mut summary = if !names.is_empty() {
            format!(
                "Host-wide OOM: the machine ran out of memory and the kernel OOM killer killed {}",
                names.join(", ")
            )
        } else if !p.oomd.is_empty() {
            "systemd-oomd killed cgroups under memory pressure".to_string()
        } else {
            "The OOM killer has been killing processes".to_string()
        };
        if !hit_units.is_empty() {
            summary.push_str(&format!(" ({})", hit_units.join(", ")));
        }
        let first = host
            .first()
            .map(|v| v.name.clone())
            .unwrap_or_else(|| "the process".into());
        let f = New {
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
                    "The host as a whole is short of memory: add memory or swap, or cap {first} and its neighbours (MemoryMax= in their units, heap sizes); look for a leak if its RSS keeps growing"
                ),
            ],
        }
        .build();
        if names.is_empty() && p.oomd.is_empty() {
            later.push(f);
        } else {
            out.push(f);
        }
    }
    out.extend(later);
}

/// A memory-cgroup OOM finding for `subject` (a unit, or a cgroup path).
fn cgroup_finding(
    b: &Block,
    subject: &str,
    unit: Option<&str>,
    limit_kb: Option<u64>,
    names: &[String],
    evidence: Vec<String>,
) -> Finding {
    let within = match (unit, limit_kb) {
        (Some(u), Some(l)) => format!("{u}'s memory limit ({} MiB)", l / 1024),
        (Some(u), None) => format!("{u}'s memory limit (MemoryMax=)"),
        (None, Some(l)) => format!("the memory limit of {subject} ({} MiB)", l / 1024),
        (None, None) => format!("the memory limit of {subject}"),
    };
    let killed = if names.is_empty() {
        "a process".to_string()
    } else {
        names.join(", ")
    };
    let who = unit.unwrap_or(subject);
    New {
        kind: "cgroup_oom",
        category: "memory",
        severity: Severity::Critical,
        rank: 87,
        subject: subject.to_string(),
        summary: format!(
            "OOM inside a memory cgroup: the kernel killed {killed} for exceeding {within}; the host itself was not out of memory"
        ),
        block: b,
        evidence,
        actions: vec![
            format!("See the limit and the peak: `systemctl show {who} -p MemoryMax -p MemoryHigh -p MemoryCurrent -p MemoryPeak`"),
            "Read the memcg OOM report (usage per process in the cgroup): `journalctl -k | grep -B5 -A30 'Memory cgroup out of memory'`".into(),
            format!("If {who} legitimately needs more, raise MemoryMax= (`systemctl edit {who}`); if its usage keeps growing until the limit, look for a leak (heap size, worker count)"),
        ],
    }
    .build()
}

/// One `vmstat` sample: swap-in/out per second, free memory and CPU I/O wait.
struct VmSample {
    si: u64,
    so: u64,
    free_kb: u64,
    line: String,
}

/// `vmstat` samples after the first (the first line is the average since boot; alone, it is
/// kept). Shared with the load detector.
pub(super) fn vmstat_samples<'b>(b: &'b Block) -> Vec<(BTreeMap<&'static str, u64>, &'b str)> {
    const COLS: &[&str] = &[
        "r", "b", "swpd", "free", "buff", "cache", "si", "so", "bi", "bo", "in", "cs", "us", "sy",
        "id", "wa", "st",
    ];
    let mut header: Option<Vec<&'static str>> = None;
    let mut rows = Vec::new();
    for line in b.lines() {
        let toks: Vec<&str> = line.split_whitespace().collect();
        if toks.first() == Some(&"r") && toks.contains(&"si") {
            header = Some(
                toks.iter()
                    .map(|t| COLS.iter().find(|c| *c == t).copied().unwrap_or(""))
                    .collect(),
            );
            continue;
        }
        let Some(h) = &header else { continue };
        if toks.len() < h.len().min(17) || !toks.iter().all(|t| t.parse::<u64>().is_ok()) {
            continue;
        }
        let row: BTreeMap<&'static str, u64> = h
            .iter()
            .zip(&toks)
            .filter(|(c, _)| !c.is_empty())
            .map(|(c, t)| (*c, t.parse().unwrap_or(0)))
            .collect();
        rows.push((row, line));
    }
    if rows.len() > 1 {
        rows.remove(0);
    }
    rows
}

/// Swap thrashing: `vmstat` shows pages swapped in and out in every sample with little free
/// memory, backed by `free` (swap heavily used, little available).
fn swap(c: &Corpus, out: &mut Vec<Finding>) {
    let mem = re!(r"^Mem:\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+\d+\s+(\d+)\s*$");
    let swp = re!(r"^Swap:\s+(\d+)\s+(\d+)\s+(\d+)\s*$");
    // `free -m` (MiB): total, used, available; swap total, used.
    let mut free_lines: Vec<(String, &Block)> = Vec::new();
    let mut avail_pct: Option<u64> = None;
    let mut swap_pct: Option<u64> = None;
    for b in c.by_program("free") {
        for line in b.lines() {
            if let Some(m) = mem.captures(line) {
                let total: u64 = m[1].parse().unwrap_or(0);
                let avail: u64 = m[4].parse().unwrap_or(0);
                if let Some(p) = (avail * 100).checked_div(total) {
                    avail_pct = Some(p);
                    free_lines.push((line.to_string(), b));
                }
            } else if let Some(m) = swp.captures(line) {
                let total: u64 = m[1].parse().unwrap_or(0);
                let used: u64 = m[2].parse().unwrap_or(0);
                if let Some(p) = (used * 100).checked_div(total) {
                    swap_pct = Some(p);
                    free_lines.push((line.to_string(), b));
                }
            }
        }
    }
    for b in c.by_program("vmstat") {
        let samples = vmstat_samples(b);
        if samples.is_empty() {
            continue;
        }
        let get = |r: &BTreeMap<&str, u64>, k: &str| r.get(k).copied().unwrap_or(0);
        let swapping: Vec<&(BTreeMap<&str, u64>, &str)> = samples
            .iter()
            .filter(|(r, _)| get(r, "si") + get(r, "so") >= 200 && get(r, "si") >= 50)
            .collect();
        // Sustained: every sample (at least two of three) swaps.
        if swapping.len() * 3 < samples.len() * 2 || swapping.is_empty() {
            continue;
        }
        let worst = swapping
            .iter()
            .map(|(r, l)| VmSample {
                si: get(r, "si"),
                so: get(r, "so"),
                free_kb: get(r, "free"),
                line: l.to_string(),
            })
            .max_by_key(|s| s.si + s.so)
            .expect("at least one sample swaps");
        let low_free = avail_pct
            .map(|p| p <= 10)
            .unwrap_or(worst.free_kb < 262_144);
        if !low_free {
            continue;
        }
        let mut f = New {
            kind: "swap_thrashing",
            category: "memory",
            severity: Severity::Critical,
            rank: 70,
            subject: "swap".into(),
            summary: format!(
                "Swap thrashing: pages are swapped in and out in {}/{} vmstat samples (up to {} KiB/s in, {} KiB/s out) with {} free{}",
                swapping.len(),
                samples.len(),
                worst.si,
                worst.so,
                match avail_pct {
                    Some(p) => format!("{p}% of memory available"),
                    None => format!("{} MiB", worst.free_kb / 1024),
                },
                swap_pct.map(|p| format!(", swap {p}% used")).unwrap_or_default(),
            ),
            block: b,
            evidence: std::iter::once(worst.line)
                .chain(swapping.iter().map(|(_, l)| l.to_string()))
                .collect(),
            actions: vec![
                "See who holds the memory: `ps aux --sort=-rss | head -15`, and swap per process: `grep VmSwap /proc/*/status | sort -k2 -n | tail`".into(),
                "Stop or cap the process that grew (MemoryMax= in its unit, a smaller heap or worker count), or add memory; swap only hides a host that is out of memory".into(),
            ],
        }
        .build();
        for (l, fb) in &free_lines {
            f.supporting.push(super::support(fb, l));
        }
        // kswapd busy reclaiming, from a process table.
        for (l, pb) in kswapd_busy(c) {
            f.supporting.push(super::support(pb, &l));
        }
        out.push(f);
        return;
    }
}

/// `kswapd` lines of process tables where it uses at least 10% of a CPU.
fn kswapd_busy<'c>(c: &'c Corpus) -> Vec<(String, &'c Block<'c>)> {
    let mut out = Vec::new();
    for b in c
        .blocks
        .iter()
        .filter(|b| b.source == crate::triage::Source::Processes)
    {
        let mut cpu_col: Option<usize> = None;
        for line in b.lines() {
            let toks: Vec<&str> = line.split_whitespace().collect();
            if let Some(i) = toks.iter().position(|t| *t == "%CPU") {
                cpu_col = Some(i);
            } else if let Some(i) = cpu_col {
                let busy = toks
                    .get(i)
                    .and_then(|t| t.parse::<f64>().ok())
                    .unwrap_or(0.0);
                if line.contains("kswapd") && busy >= 10.0 {
                    out.push((line.to_string(), b));
                }
            }
        }
    }
    out
}
