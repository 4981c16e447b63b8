//! Tests for the load detectors: load average against the CPU count.
use super::*;

#[test]
fn high_load_with_top_processes() {
    let uptime = " 10:00:00 up 12 days,  3:04,  2 users,  load average: 17.52, 15.10, 9.80\n";
    let ps = "\
    PID USER     %CPU %MEM COMMAND
   7001 app      195.2 12.0 ffmpeg
   7002 app       98.1  3.1 gzip
    611 root       0.1  0.1 sshd
";
    let f = run(&[
        outcome("T1", "cpu_load", "uptime", uptime),
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
        outcome("T1", "cpu_load", "uptime", uptime),
        outcome(
            "T2",
            "cpu_load",
            "lscpu",
            "Architecture: x86_64\nCPU(s):                  16\n",
        ),
    ]));
}
