//! Tests for the load detectors: load average against the CPU count, CPU bound vs I/O wait.
use super::*;

const UPTIME: &str = " 10:00:00 up 12 days,  3:04,  2 users,  load average: 17.52, 15.10, 9.80\n";

#[test]
fn high_load_with_top_processes() {
    let ps = "\
    PID USER     %CPU %MEM COMMAND
   7001 app      195.2 12.0 ffmpeg
   7002 app       98.1  3.1 gzip
    611 root       0.1  0.1 sshd
";
    let f = run(&[
        outcome("T1", "cpu_load", "uptime", UPTIME),
        outcome("T2", "cpu_load", "nproc", "4\n"),
        outcome(
            "T3",
            "list_processes",
            "ps -eo pid,user,%cpu,%mem,comm --sort=-%cpu",
            ps,
        ),
    ]);
    let l = only(&f, "high_load");
    assert_eq!(l.severity, Severity::Critical);
    assert!(l.summary.contains("4 CPUs"), "{}", l.summary);
    assert!(l.supporting[0].line.contains("ffmpeg"));
    assert_eq!(l.supporting[0].call_id, "T3");

    // The same load on 16 CPUs is fine.
    none(&run(&[
        outcome("T1", "cpu_load", "uptime", UPTIME),
        outcome(
            "T2",
            "cpu_load",
            "lscpu",
            "Architecture: x86_64\nCPU(s):                  16\n",
        ),
    ]));
}

#[test]
fn cpu_bound_load_says_so() {
    let vmstat = "\
procs -----------memory---------- ---swap-- -----io---- -system-- ------cpu-----
 r  b   swpd   free   buff  cache   si   so    bi    bo   in   cs us sy id wa st
 9  0      0 812340  91204 980312    0    0     1     4  400  700 60 10 29  1  0
18  0      0 812100  91204 980320    0    0     0    12 4380 9650 88 11  1  0  0
17  0      0 811980  91204 980330    0    0     0     8 4390 9660 90  9  1  0  0
";
    let f = run(&[
        outcome("T1", "cpu_load", "uptime", UPTIME),
        outcome("T1", "cpu_load", "nproc", "4\n"),
        outcome("T1", "cpu_load", "vmstat 1 3", vmstat),
    ]);
    let l = only(&f, "high_load");
    assert!(
        l.summary
            .contains("CPU bound (99% user+system, 0% I/O wait)"),
        "{}",
        l.summary
    );
    assert!(!kinds(&f).contains(&"io_wait"));
}

#[test]
fn io_wait_load_with_d_state_processes() {
    let vmstat = "\
procs -----------memory---------- ---swap-- -----io---- -system-- ------cpu-----
 r  b   swpd   free   buff  cache   si   so    bi    bo   in   cs us sy id wa st
 1 14      0 812340  91204 980312    0    0    10    40  400  700  3  2 20 75  0
 0 16      0 812100  91204 980320    0    0     0     0  380  650  2  1 10 87  0
 1 16      0 811980  91204 980330    0    0     0     0  390  660  2  2  8 88  0
";
    let ps = "\
    PID    PPID USER     %CPU %MEM   RSS STAT     ELAPSED     TIME COMMAND
   3101       1 app       0.0  0.1  2100 D      01:10:00 00:00:01 rsync -a /srv/data/ /mnt/nfs/backup/
   3102       1 app       0.0  0.1  2100 D      01:10:00 00:00:01 ls /mnt/nfs/backup
    611       1 root      0.0  0.1  2100 Ss   12-03:00:00 00:00:01 sshd: /usr/sbin/sshd -D
";
    let f = run(&[
        outcome("T1", "cpu_load", "uptime", UPTIME),
        outcome("T1", "cpu_load", "nproc", "4\n"),
        outcome("T1", "cpu_load", "vmstat 1 3", vmstat),
        outcome(
            "T3",
            "list_processes",
            "ps -eww -o pid,ppid,user,%cpu,%mem,rss,stat,etime,time,args --sort=-%cpu",
            ps,
        ),
    ]);
    let l = only(&f, "io_wait");
    assert!(l.summary.contains("I/O wait, not CPU"), "{}", l.summary);
    assert!(l.summary.contains("87% I/O wait"), "{}", l.summary);
    assert!(
        l.summary.contains("2 processes in D state"),
        "{}",
        l.summary
    );
    assert!(
        l.supporting.iter().any(|s| s.line.contains("rsync")),
        "{l:#?}"
    );
    assert!(!kinds(&f).contains(&"high_load"));
}

#[test]
fn load_average_text_outside_uptime_is_not_load() {
    // A monitoring agent logging someone else's load, and a healthy vmstat.
    let log = "\
Nov 25 10:00:00 web01 collectd[900]: load plugin: load average: 99.00, 98.00, 97.00 on db07
";
    let vmstat = "\
 r  b   swpd   free   buff  cache   si   so    bi    bo   in   cs us sy id wa st
 1  0      0 812340  91204 980312    0    0     1     4  400  700  6  2 91  1  0
 0  0      0 812100  91204 980320    0    0     0    12  380  650  3  1 96  0  0
";
    none(&run(&[
        journal(log),
        outcome("T1", "cpu_load", "nproc", "4\n"),
        outcome("T1", "cpu_load", "vmstat 1 2", vmstat),
        outcome(
            "T1",
            "cpu_load",
            "uptime",
            " 10:00:00 up 1 day,  load average: 0.52, 0.40, 0.30\n",
        ),
    ]));
}
