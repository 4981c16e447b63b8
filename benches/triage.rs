//! Triage benchmark (not a timed test): `triage::analyze` over a host with a 20,000-line
//! journal (a realistic mix: sshd scanner noise and logins, systemd units and timers, kernel
//! firewall and filesystem lines, nginx, cron, PostgreSQL checkpoints, sudo; one real fault: an
//! OOM kill that took `billing.service` down), next to `df`, `systemctl --failed` and `uptime`
//! outputs, every number next to baselines measured in the same run on the same text:
//!
//! 1. splitting the text into lines (`str::lines`, the least any reader does);
//! 2. one pass of the sweep's own journal signatures (`journal_signatures()` as one regex,
//!    what `journalctl --grep` does on the host) over every line.
//!
//! Also prints the peak resident memory (`VmHWM` in `/proc/self/status`) before and after.
//! Run: `cargo bench --bench triage` (`-- --rounds N`, default 20; `-- --lines N`, default
//! 20000).
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant, SystemTime};

use tai::tools::{CallStatus, CommandRecord, ToolCall, ToolOutcome};

fn outcome(id: &str, tool: &str, command: &str, stdout: String) -> ToolOutcome {
    ToolOutcome {
        call: ToolCall {
            id: id.into(),
            tool: tool.into(),
            args: serde_json::json!({}),
        },
        status: CallStatus::Ok,
        commands: vec![CommandRecord {
            command: command.into(),
            status: CallStatus::Ok,
            exit_code: Some(0),
            duration_ms: 1,
            stdout: stdout.clone(),
            stderr: String::new(),
            truncated: 0,
            note: None,
        }],
        output: stdout,
        duration_ms: 1,
    }
}

/// `Nov 25 HH:MM:SS` for second `i` of a day that starts at 00:00.
fn stamp(i: usize) -> String {
    let s = i % 86_400;
    format!("Nov 25 {:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// A journal of `n` lines, one real fault near the end.
fn journal(n: usize) -> String {
    let ips = ["203.0.113.5", "198.51.100.23", "192.0.2.77", "203.0.113.9"];
    let users = [
        "admin", "test", "oracle", "ubuntu", "git", "postgres", "ftpuser",
    ];
    let mut s = String::with_capacity(n * 140);
    let fault_at = n - n / 20;
    for i in 0..n {
        let t = stamp(i * 4);
        let ip = ips[i % ips.len()];
        let line = if i == fault_at {
            format!("{t} app01 kernel: Out of memory: Killed process 8811 (billing) total-vm:4194304kB, anon-rss:3145728kB, file-rss:0kB, shmem-rss:0kB, UID:1001 pgtables:6500kB oom_score_adj:0")
        } else if i == fault_at + 1 {
            format!("{t} app01 systemd[1]: billing.service: Main process exited, code=killed, status=9/KILL")
        } else if i == fault_at + 2 {
            format!("{t} app01 systemd[1]: billing.service: Failed with result 'oom-kill'.")
        } else {
            match i % 20 {
                0..=2 => format!("{t} app01 sshd[{}]: Invalid user {} from {ip} port {}", 3000 + i % 500, users[i % users.len()], 40000 + i % 20000),
                3 | 4 => format!("{t} app01 sshd[{}]: Connection closed by authenticating user root {ip} port {} [preauth]", 3000 + i % 500, 40000 + i % 20000),
                5 => format!("{t} app01 sshd[{}]: Accepted publickey for alice from 10.20.0.15 port {} ssh2: ED25519 SHA256:3q2+7wXbVhJd5kQm0Yx9pTzR1sLcNfGaHuIeOjPk4Lw", 3000 + i % 500, 50000 + i % 10000),
                6 => format!("{t} app01 systemd[1]: Started session-{}.scope - Session {} of User alice.", i, i),
                7 => format!("{t} app01 systemd[1]: Starting logrotate.service - Rotate log files..."),
                8 => format!("{t} app01 systemd[1]: logrotate.service: Deactivated successfully."),
                9 => format!("{t} app01 kernel: [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC={ip} DST=10.20.0.4 LEN=44 TOS=0x00 PREC=0x00 TTL=241 ID=54321 PROTO=TCP SPT=53211 DPT=23 WINDOW=1024 RES=0x00 SYN URGP=0"),
                10 => format!("{t} app01 nginx[1120]: 10.20.0.{} - - [25/Nov/2026:08:00:00 +0000] \"GET /api/v1/items?page={} HTTP/1.1\" 200 5120 \"-\" \"Mozilla/5.0\"", i % 250, i % 40),
                11 => format!("{t} app01 CRON[{}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)", 5000 + i % 900),
                12 => format!("{t} app01 postgres[950]: 2026-11-25 08:10:01.004 UTC [950] LOG:  checkpoint starting: time"),
                13 => format!("{t} app01 postgres[950]: 2026-11-25 08:10:03.511 UTC [950] LOG:  checkpoint complete: wrote 12 buffers (0.1%); 0 WAL file(s) added, 0 removed, 0 recycled; write=1.203 s, sync=0.004 s, total=1.214 s"),
                14 => format!("{t} app01 sudo[{}]:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/grep -i \"No space left on device\" /var/log/syslog", 6000 + i % 100),
                15 => format!("{t} app01 systemd-logind[420]: New session {i} of user alice."),
                16 => format!("{t} app01 kernel: EXT4-fs (vda1): mounted filesystem 5c0e5d2f-2b8a-4f3e-9c1d-1a2b3c4d5e6f with ordered data mode. Quota mode: none."),
                17 => format!("{t} app01 billing[8811]: INFO processed batch {} in 412 ms", i),
                18 => format!("{t} app01 systemd[1]: Finished apt-daily.service - Daily apt download activities."),
                _ => format!("{t} app01 sshd[{}]: Received disconnect from {ip} port {}:11: Bye Bye [preauth]", 3000 + i % 500, 40000 + i % 20000),
            }
        };
        s.push_str(&line);
        s.push('\n');
    }
    s
}

const DF: &str = "\
Filesystem     Type      Size  Used Avail Use% Mounted on
udev           devtmpfs  3.9G     0  3.9G   0% /dev
/dev/vda1      ext4       40G   17G   21G  45% /
/dev/vdb1      ext4      100G   41G   55G  43% /var/lib/postgresql
tmpfs          tmpfs     794M  1.2M  793M   1% /run
";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn vm_hwm_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rounds = arg("--rounds", 20).max(1);
    let lines = arg("--lines", 20_000).max(100);
    let text = journal(lines);
    let outcomes = vec![
        outcome("T1", "read_journal", "journalctl --no-pager -n 20000", text.clone()),
        outcome("T2", "disk_usage", "df -hT", DF.to_string()),
        outcome(
            "T3",
            "list_services",
            "systemctl list-units --failed --no-pager",
            "  UNIT             LOAD   ACTIVE SUB    DESCRIPTION\n● billing.service loaded failed failed Billing worker\n\n1 loaded units listed.\n".to_string(),
        ),
        outcome(
            "T4",
            "run_command",
            "uptime",
            " 23:00:00 up 3 days,  4:05,  1 user,  load average: 0.40, 0.35, 0.30\n".to_string(),
        ),
    ];
    // "now": just after the last journal line (Nov 25 2026, 22:13 UTC).
    let now = SystemTime::UNIX_EPOCH
        + Duration::from_secs(1_795_564_800 + (lines * 4 % 86_400) as u64 + 60);
    let hwm_before = vm_hwm_kib();

    let sigs = regex::Regex::new(&format!("(?i){}", tai::triage::journal_signatures()))
        .expect("the journal signatures are one valid regex");
    let (mut split, mut grep, mut analyze) = (Vec::new(), Vec::new(), Vec::new());
    let mut findings = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let n = text.lines().filter(|l| !l.is_empty()).count();
        split.push(t.elapsed());
        assert_eq!(n, lines);

        let t = Instant::now();
        let hits = text.lines().filter(|l| sigs.is_match(l)).count();
        grep.push(t.elapsed());
        assert!(hits > 0);

        let t = Instant::now();
        findings = tai::triage::analyze_at(&outcomes, now);
        analyze.push(t.elapsed());
    }
    let hwm_after = vm_hwm_kib();
    let (split, grep, analyze) = (median(split), median(grep), median(analyze));
    println!(
        "triage over a {lines}-line journal ({:.1} MiB) + df + systemctl --failed + uptime, median of {rounds}:",
        text.len() as f64 / (1 << 20) as f64
    );
    println!(
        "  baseline: split into lines          {:>9.2} ms",
        ms(split)
    );
    println!(
        "  baseline: journal signatures regex  {:>9.2} ms ({:.1}x split)",
        ms(grep),
        ms(grep) / ms(split)
    );
    println!(
        "  triage::analyze                     {:>9.2} ms ({:.1}x split, {:.2}x signatures)",
        ms(analyze),
        ms(analyze) / ms(split),
        ms(analyze) / ms(grep)
    );
    println!(
        "  peak RSS (VmHWM): {} KiB before, {} KiB after",
        hwm_before.map_or("?".into(), |v| v.to_string()),
        hwm_after.map_or("?".into(), |v| v.to_string())
    );
    println!("  findings ({}), strongest first:", findings.len());
    for f in &findings {
        println!(
            "    [{}] {} {}: {}",
            f.severity, f.kind, f.subject, f.summary
        );
    }
    let top = findings.first().expect("the fault is found");
    assert_eq!(top.kind, "oom_kill", "the root cause is the OOM kill");
}
