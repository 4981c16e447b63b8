//! Resource-limit detectors: file descriptors (`EMFILE`, `Too many open files`, the kernel's
//! `VFS: file-max limit N reached`), processes and threads (the pids cgroup controller behind
//! `TasksMax=`, bash's `fork: retry`, Java's `unable to create native thread`, Go and glibc
//! `pthread_create` failures) and the netfilter connection-tracking table.
//!
//! Log lines are read only from the journal, the kernel log and log files; the current limits
//! and counts come from the programs that print them: `systemctl show`/`status` (`LimitNOFILE=`,
//! `TasksMax=`, `Tasks: 512 (limit: 512)`), `/proc/PID/limits` (`Max open files`) and `sysctl`
//! (`fs.file-nr`, `net.netfilter.nf_conntrack_count`/`_max`).
use regex::Regex;

use super::memory::unit_of;
use super::{ident, support, Block, Corpus, Detector, Finding, Groups, New, Severity};

/// The `fd_limit` detector.
pub(super) const FD_LIMIT: Detector = Detector {
    journal: &[
        r"too many open files",
        r"\bemfile\b",
        r"\benfile\b",
        r"errno 24\b",
        r"file-max limit \d+ reached",
        r"reached process fd limit",
    ],
    sweep: &[(
        "run_command",
        r#"{"command":"sysctl fs.file-nr net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max"}"#,
    )],
    run: fd_limit,
};

/// The `pids_limit` detector.
pub(super) const PIDS_LIMIT: Detector = Detector {
    journal: &[
        r"fork rejected by pids controller",
        r"fork: retry: ",
        r"fork: resource temporarily unavailable",
        r"fork\(\) failed",
        r"could not fork",
        r"unable to create (?:new )?native thread",
        r"pthread_create failed",
        r"failed to create new os thread",
    ],
    sweep: &[],
    run: pids_limit,
};

/// The `conntrack_full` detector.
pub(super) const CONNTRACK: Detector = Detector {
    journal: &[r"conntrack: (?:nf_conntrack: )?table full"],
    sweep: &[(
        "run_command",
        r#"{"command":"sysctl fs.file-nr net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max"}"#,
    )],
    run: conntrack,
};

/// Who logged a line: the unit in a kernel cgroup path, else the syslog identifier.
fn who(line: &str) -> String {
    ident(line).unwrap_or("unknown").to_string()
}

/// Log lines matching `r`, grouped by `subject(line, captures)`.
fn grouped(b: &Block, r: &Regex, subject: impl Fn(&str, &regex::Captures) -> String) -> Groups {
    let mut g = Groups::default();
    for line in b.lines() {
        if let Some(m) = r.captures(line) {
            g.add(&subject(line, &m), line);
        }
    }
    g
}

/// Lines from `systemctl` output and `/proc/PID/limits` reads that state a limit matching `r`.
fn limit_lines<'c>(c: &'c Corpus, r: &Regex) -> Vec<(String, &'c Block<'c>)> {
    c.blocks
        .iter()
        .filter(|b| {
            b.program() == "systemctl"
                || (b.program() == "cat" && b.command.contains("/limits"))
                || (b.program().is_empty() && b.tool == "process_info")
        })
        .flat_map(|b| {
            b.lines()
                .filter(|l| r.is_match(l))
                .map(|l| (l.to_string(), b))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `sysctl` values: `(key, value, line, block)`.
fn sysctl<'c>(c: &'c Corpus) -> Vec<(String, String, String, &'c Block<'c>)> {
    let r = re!(r"^([\w.\-]+)\s*=\s*(.+)$");
    let mut v = Vec::new();
    for b in c.by_program("sysctl") {
        for line in b.lines() {
            if let Some(m) = r.captures(line) {
                v.push((
                    m[1].to_string(),
                    m[2].trim().to_string(),
                    line.to_string(),
                    b,
                ));
            }
        }
    }
    // `cat /proc/sys/net/netfilter/nf_conntrack_count` prints the bare number.
    for b in c.by_program("cat") {
        let key = b
            .command
            .split_whitespace()
            .find_map(|w| w.strip_prefix("/proc/sys/"))
            .map(|k| k.replace('/', "."));
        if let (Some(k), Ok(n)) = (key, b.text.trim().parse::<u64>()) {
            v.push((k.clone(), n.to_string(), format!("{k} = {n}"), b));
        }
    }
    v
}

/// `EMFILE` / `Too many open files`: per process, with its `LimitNOFILE` where seen.
fn fd_limit(c: &Corpus, out: &mut Vec<Finding>) {
    let r = re!(
        r"(?i)too many open files|\bEMFILE\b|\bENFILE\b|\[Errno 24\]|VFS: file-max limit (\d+) reached|reached process FD limit"
    );
    let system = re!(r"(?i)too many open files in system|\bENFILE\b|VFS: file-max limit");
    let limits = limit_lines(
        c,
        re!(r"^\s*LimitNOFILE(?:Soft)?=\d+|^Max open files\s+\d+\s+\d+"),
    );
    for b in c.logs() {
        let g = grouped(b, r, |line, _| {
            if system.is_match(line) {
                "system".into()
            } else {
                who(line)
            }
        });
        for (subject, lines) in g.iter() {
            let whole = subject == "system";
            let summary = if whole {
                "The kernel's system-wide open-file table is full (fs.file-max): every process fails to open files and sockets".to_string()
            } else {
                format!(
                    "{subject} ran out of file descriptors (EMFILE, Too many open files): it cannot accept connections or open files"
                )
            };
            let mut f = New {
                kind: "fd_limit",
                category: "service",
                severity: Severity::Critical,
                rank: 78,
                subject: subject.clone(),
                summary,
                block: b,
                evidence: lines.clone(),
                actions: if whole {
                    vec![
                        "See allocated vs maximum: `sysctl fs.file-nr fs.file-max`, and who holds the most: `for p in /proc/[0-9]*; do echo \"$(ls $p/fd 2>/dev/null | wc -l) $p\"; done | sort -n | tail`".into(),
                        "Raise fs.file-max (`/etc/sysctl.d/`) or stop the process leaking descriptors".into(),
                    ]
                } else {
                    vec![
                        format!("See the limit and the count: `cat /proc/$(pgrep -o {subject})/limits | grep 'open files'`, `ls /proc/$(pgrep -o {subject})/fd | wc -l`"),
                        format!("If the load is real, raise LimitNOFILE= in its unit (`systemctl edit`, then restart; nginx also needs worker_rlimit_nofile); if the count only grows, it leaks descriptors (`ls -l /proc/PID/fd`)"),
                    ]
                },
            }
            .build();
            if let Some(n) = lines
                .iter()
                .find_map(|l| r.captures(l).and_then(|m| m.get(1)))
            {
                f.summary.push_str(&format!(" (file-max {})", n.as_str()));
            }
            for (l, lb) in limits.iter().take(2) {
                f.supporting.push(support(lb, l));
            }
            if let Some((_, v, line, sb)) = sysctl(c).into_iter().find(|(k, ..)| k == "fs.file-nr")
            {
                let n: Vec<u64> = v
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                if whole || (n.len() == 3 && n[0] * 10 >= n[2] * 9) {
                    f.supporting.push(support(sb, &line));
                }
            }
            out.push(f);
        }
    }
}

/// Process and thread limits: the pids controller (`TasksMax=`), `fork: retry`, threads that
/// cannot be created.
fn pids_limit(c: &Corpus, out: &mut Vec<Finding>) {
    let pids = re!(r"cgroup: fork rejected by pids controller in (\S+)");
    let r = re!(
        r"(?i)fork rejected by pids controller|fork: retry: |fork: Resource temporarily unavailable|fork\(\) failed.*\(11: Resource temporarily unavailable\)|could not fork.*Resource temporarily unavailable|unable to create (?:new )?native thread|pthread_create failed.*(?:EAGAIN|Resource temporarily unavailable)|failed to create new OS thread"
    );
    let tasks = limit_lines(
        c,
        re!(r"^\s*Tasks:\s+\d+\s+\(limit: \d+\)|^\s*TasksMax=\d+|^Max processes\s+\d+"),
    );
    let at_limit = re!(r"Tasks:\s+(\d+)\s+\(limit: (\d+)\)");
    for b in c.logs() {
        let g = grouped(b, r, |line, _| match pids.captures(line) {
            Some(m) => unit_of(&m[1]).unwrap_or_else(|| m[1].to_string()),
            None => who(line),
        });
        for (subject, lines) in g.iter() {
            let controller = lines.iter().any(|l| pids.is_match(l));
            let summary = if controller {
                format!(
                    "{subject} hit its task limit (TasksMax=, pids cgroup controller): the kernel rejects its forks and new threads"
                )
            } else {
                format!(
                    "{subject} cannot create processes or threads (fork/pthread_create EAGAIN): a task limit (TasksMax=, ulimit -u, kernel.pid_max or threads-max) is reached"
                )
            };
            // The unit the pids controller names leads; a process name is one level below.
            let unit = if controller {
                subject.clone()
            } else {
                format!("$(ps -o unit= -p $(pgrep -o {subject}))")
            };
            let mut f = New {
                kind: "pids_limit",
                category: "service",
                severity: Severity::Critical,
                rank: if controller { 80 } else { 79 },
                subject: subject.clone(),
                summary,
                block: b,
                evidence: lines.clone(),
                actions: vec![
                    format!("See the count against the limit: `systemctl status {unit}` (Tasks: N (limit: M)), `systemctl show {unit} -p TasksMax -p TasksCurrent`"),
                    "Find who holds the tasks: `ps -eLf | awk '{print $2}' | sort | uniq -c | sort -n | tail` (threads per pid)".into(),
                    format!("If the load is real, raise TasksMax= (`systemctl edit {unit}`) or LimitNPROC=; if the count only grows, it leaks threads or children"),
                ],
            }
            .build();
            for (l, lb) in &tasks {
                let full = at_limit.captures(l).is_none_or(|m| {
                    let n: u64 = m[1].parse().unwrap_or(0);
                    let max: u64 = m[2].parse().unwrap_or(u64::MAX);
                    n * 10 >= max * 9
                });
                if full && f.supporting.len() < 2 {
                    f.supporting.push(support(lb, l));
                }
            }
            out.push(f);
        }
    }
}

/// The conntrack table is full: the kernel drops new connections' packets.
fn conntrack(c: &Corpus, out: &mut Vec<Finding>) {
    let r = re!(r"\b(?:nf|ip)_conntrack: (?:nf_conntrack: )?table full, dropping packet");
    let vals = sysctl(c);
    let get = |k: &str| {
        vals.iter()
            .find(|(key, ..)| key == k)
            .and_then(|(_, v, l, b)| v.parse::<u64>().ok().map(|n| (n, l.clone(), *b)))
    };
    let count = get("net.netfilter.nf_conntrack_count");
    let max = get("net.netfilter.nf_conntrack_max");
    let now = match (&count, &max) {
        (Some((n, ..)), Some((m, ..))) if *m > 0 => Some((*n, *m, n * 100 / m)),
        _ => None,
    };
    let mut logged = false;
    for b in c.logs() {
        let lines: Vec<String> = b
            .lines()
            .filter(|l| r.is_match(l))
            .map(str::to_string)
            .collect();
        if lines.is_empty() {
            continue;
        }
        logged = true;
        let state = match now {
            Some((n, m, p)) if p < 50 => {
                format!("; now {n} of {m} entries ({p}%): it has drained since those lines")
            }
            Some((n, m, p)) => format!("; now {n} of {m} entries ({p}%)"),
            None => String::new(),
        };
        let mut f = New {
            kind: "conntrack_full",
            category: "network",
            severity: Severity::Critical,
            rank: 80,
            subject: "conntrack".into(),
            summary: format!(
                "The netfilter connection-tracking table is full: the kernel drops packets of new connections ({} line{}){state}",
                lines.len(),
                super::plural(lines.len())
            ),
            block: b,
            evidence: lines,
            actions: conntrack_actions(),
        }
        .build();
        for (_, l, sb) in [&count, &max].into_iter().flatten() {
            f.supporting.push(support(sb, l));
        }
        out.push(f);
    }
    // No log line, but the table is (nearly) full right now.
    if let (false, Some((n, m, p)), Some((_, cl, cb))) = (logged, now, &count) {
        if p < 90 {
            return;
        }
        let mut f = New {
            kind: "conntrack_full",
            category: "network",
            severity: if p >= 98 { Severity::Critical } else { Severity::Warning },
            rank: 80,
            subject: "conntrack".into(),
            summary: format!(
                "The netfilter connection-tracking table is {p}% full ({n} of {m} entries): new connections will be dropped when it fills"
            ),
            block: cb,
            evidence: vec![cl.clone()],
            actions: conntrack_actions(),
        }
        .build();
        if let Some((_, ml, mb)) = &max {
            if mb.call_id == cb.call_id {
                f.evidence.push(ml.clone());
            } else {
                f.supporting.push(support(mb, ml));
            }
        }
        out.push(f);
    }
}

fn conntrack_actions() -> Vec<String> {
    vec![
        "See the count against the maximum: `sysctl net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max`, and what fills it: `conntrack -L -o extended | awk '{print $3, $5}' | sort | uniq -c | sort -n | tail` (if conntrack-tools is installed)".into(),
        "Raise net.netfilter.nf_conntrack_max (and nf_conntrack_buckets) in /etc/sysctl.d/, shorten nf_conntrack_tcp_timeout_established, or exempt busy local traffic with a NOTRACK/notrack rule".into(),
    ]
}
