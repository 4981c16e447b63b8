//! Tests for the process-table detectors: zombies grouped by parent, runaway processes.
use super::*;

const PS_SWEEP: &str = "ps -eo pid,ppid,stat,etimes,time,rss,pcpu,comm";

#[test]
fn many_zombies_name_their_parent() {
    let mut ps = String::from("    PID    PPID STAT ELAPSED     TIME   RSS %CPU COMMAND\n");
    ps.push_str("      1       0 Ss   1036800 00:00:09 12000  0.0 systemd\n");
    ps.push_str("   4100       1 Ss     86400 00:03:10 52000  0.2 report-worker\n");
    for i in 0..24 {
        ps.push_str(&format!(
            "   {}    4100 Z       {} 00:00:00     0  0.0 report-job <defunct>\n",
            5000 + i,
            3600 - i
        ));
    }
    // One zombie of another parent, briefly: normal.
    ps.push_str("   6000     900 Z          1 00:00:00     0  0.0 sh <defunct>\n");
    let f = run(&[outcome("T5", "run_command", PS_SWEEP, &ps)]);
    let z = only(&f, "zombie_processes");
    assert_eq!(z.subject, "pid 4100");
    assert_eq!(z.severity, Severity::Critical);
    assert!(z.summary.starts_with("24 zombie"), "{}", z.summary);
    assert!(
        z.summary.contains("report-worker (pid 4100)"),
        "{}",
        z.summary
    );
    assert!(z.evidence[0].contains("report-worker"));
}

#[test]
fn tai_s_own_unreaped_probes_are_not_zombies_of_the_host() {
    // The local transport: tai (pid 18926) runs its probes under `timeout`; the listing caught
    // five of them finished and not yet reaped. Another parent's zombies still count.
    let mut ps = String::from(
        "    PID    PPID STAT ELAPSED     TIME   RSS %CPU COMMAND
",
    );
    ps.push_str(
        "  18926   18922 Rl         2 00:00:00 42264 38.9 tai
",
    );
    for pid in [19057, 19058, 19061, 19065, 19070] {
        ps.push_str(&format!(
            "  {pid}   18926 Z          0 00:00:00     0  0.0 timeout
"
        ));
    }
    ps.push_str(
        "  19080   18926 S          0 00:00:00  2100  0.0 timeout
",
    );
    ps.push_str(
        "  19081   19080 R          0 00:00:00  3900  0.0 ps
",
    );
    let f = run(&[outcome("T17", "run_command", PS_SWEEP, &ps)]);
    assert!(f.iter().all(|x| x.kind != "zombie_processes"), "{f:#?}");

    ps.push_str(
        "   4100       1 Ss     86400 00:03:10 52000  0.2 report-worker
",
    );
    for pid in 5000..5004 {
        ps.push_str(&format!(
            "   {pid}    4100 Z        3600 00:00:00     0  0.0 report-job
"
        ));
    }
    let f = run(&[outcome("T17", "run_command", PS_SWEEP, &ps)]);
    assert_eq!(only(&f, "zombie_processes").subject, "pid 4100");
}

#[test]
fn zombies_in_ps_aux_and_few_zombies() {
    let aux = "\
USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
root        1822  0.0  0.1  10000  4000 ?        Ss   08:00   0:00 /usr/bin/python3 /opt/agent/agent.py
root        1901  0.0  0.0      0     0 ?        Z    08:01   0:00 [check_disk] <defunct>
root        1902  0.0  0.0      0     0 ?        Z    08:02   0:00 [check_disk] <defunct>
root        1903  0.0  0.0      0     0 ?        Z    08:03   0:00 [check_disk] <defunct>
";
    // ps aux has no PPID column: the zombies are still counted, without a parent.
    let z = only(
        &run(&[outcome("T5", "list_processes", "ps aux", aux)]),
        "zombie_processes",
    );
    assert_eq!(z.severity, Severity::Warning);
    let two = "\
    PID    PPID STAT ELAPSED     TIME   RSS %CPU COMMAND
   1901    1822 Z          3 00:00:00     0  0.0 check_disk <defunct>
   1902    1822 Z          2 00:00:00     0  0.0 check_disk <defunct>
";
    none(&run(&[outcome("T5", "run_command", PS_SWEEP, two)]));
    // "<defunct>" in a log line is not a process table.
    none(&run(&[journal(
        "Nov 25 10:00:00 app01 monit[900]: 'agent' process is a zombie: check_disk <defunct> <defunct> <defunct>\n",
    )]));
}

#[test]
fn runaway_cpu_and_memory() {
    let ps = "\
    PID    PPID STAT ELAPSED     TIME   RSS %CPU COMMAND
   7001       1 R      14400 03:58:10 51200 99.3 php
   7002       1 S      14400 00:02:10 9900000 1.2 java
   7003       1 S      14400 00:00:10 1200000 0.0 postgres
     88       2 R    1036800 2-01:00:00     0 99.9 [kswapd0]
   7004       1 R         30 00:00:29 20000 97.0 gzip
";
    let f = run(&[
        outcome("T5", "run_command", PS_SWEEP, ps),
        outcome(
            "T6",
            "memory_info",
            "cat /proc/meminfo",
            "MemTotal:       16318412 kB\nMemFree:          812340 kB\n",
        ),
    ]);
    let cpu = f
        .iter()
        .find(|x| x.subject == "pid 7001")
        .expect("php runaway");
    assert_eq!(cpu.kind, "runaway_process");
    assert!(cpu.summary.contains("99% CPU"), "{}", cpu.summary);
    assert!(cpu.summary.contains("3h 58m"), "{}", cpu.summary);
    let mem = f
        .iter()
        .find(|x| x.subject == "pid 7002")
        .expect("java memory");
    assert_eq!(mem.category, "memory");
    assert!(mem.summary.contains("60% of memory"), "{}", mem.summary);
    // A kernel thread and a short-lived busy process are not runaways.
    assert!(
        !f.iter()
            .any(|x| x.subject == "pid 88" || x.subject == "pid 7004"),
        "{f:#?}"
    );
}

#[test]
fn runaway_from_top_and_a_quiet_table() {
    let top = "\
top - 10:00:00 up 12 days,  3:04,  2 users,  load average: 1.52, 1.10, 0.80
    PID USER      PR  NI    VIRT    RES    SHR S  %CPU  %MEM     TIME+ COMMAND
   7001 app       20   0  512000  51200   9000 R 100.0   0.3 238:10.12 node
    611 root      20   0   15000   8000   7000 S   0.0   0.1   0:01.02 sshd
";
    let r = only(
        &run(&[outcome("T5", "run_command", "top -b -n 1", top)]),
        "runaway_process",
    );
    assert_eq!(r.subject, "pid 7001");
    let quiet = "\
    PID    PPID STAT ELAPSED     TIME   RSS %CPU COMMAND
    611       1 Ss   1036800 00:00:09 8000  0.0 sshd
    900       1 Ssl  1036800 00:40:09 300000  0.1 dockerd
   1200       1 Ssl  1036800 01:40:09 900000  0.2 postgres
";
    none(&run(&[outcome("T5", "run_command", PS_SWEEP, quiet)]));
}

#[test]
fn the_sweep_keeps_the_process_table_and_sysctl_when_the_plan_reads_cpu_load() {
    // The general and performance plans run cpu_load: that covers uptime and nproc only.
    let base = [ToolCall {
        id: "T1".into(),
        tool: "cpu_load".into(),
        args: json!({}),
    }];
    let mut next = 2;
    let sweep = sweep_calls(&base, &mut next);
    let commands: Vec<&str> = sweep
        .iter()
        .filter(|c| c.tool == "run_command")
        .filter_map(|c| c.args["command"].as_str())
        .collect();
    assert!(commands.contains(&PS_SWEEP), "{commands:?}");
    assert!(
        commands.iter().any(|c| c.starts_with("sysctl ")),
        "{commands:?}"
    );
    assert!(
        !commands.contains(&"uptime") && !commands.contains(&"nproc"),
        "{commands:?}"
    );
}
