//! Tests for the memory detectors: host-wide OOM vs an OOM inside a memory cgroup, systemd-oomd,
//! swap thrashing from `vmstat` and `free`.
use super::*;

#[test]
fn host_wide_oom_killer() {
    let log = "\
Nov 25 06:12:40 app01 kernel: java invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0
Nov 25 06:12:40 app01 kernel: CPU: 1 PID: 2211 Comm: java Not tainted 6.1.0-26-amd64 #1  Debian 6.1.112-1
Nov 25 06:12:40 app01 kernel: oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/billing.service,task=java,pid=2211,uid=998
Nov 25 06:12:40 app01 kernel: Out of memory: Killed process 2211 (java) total-vm:6291456kB, anon-rss:3932160kB, file-rss:0kB, shmem-rss:0kB, UID:998 pgtables:8200kB oom_score_adj:0
Nov 25 06:12:40 app01 systemd[1]: billing.service: A process of this unit has been killed by the OOM killer.
Nov 25 06:12:40 app01 systemd[1]: billing.service: Failed with result 'oom-kill'.
";
    let f = run(&[outcome("T2", "kernel_log", "journalctl -k --no-pager", log)]);
    let o = only(&f, "oom_kill");
    assert_eq!(o.category, "memory");
    assert!(o.summary.contains("Host-wide"), "{}", o.summary);
    assert!(o.summary.contains("java (pid 2211)"), "{}", o.summary);
    assert!(o.summary.contains("billing.service"), "{}", o.summary);
    assert!(o.evidence[0].contains("Out of memory: Killed process 2211 (java)"));
    assert!(!kinds(&f).contains(&"cgroup_oom"), "{f:#?}");
    assert_eq!(f[0].kind, "oom_kill");
}

#[test]
fn old_kernel_host_oom_wording() {
    // 4.x: "Kill process … score … or sacrifice child", then "Killed process … total-vm".
    let log = "\
Nov 25 06:12:40 db01 kernel: Out of memory: Kill process 1432 (mysqld) score 905 or sacrifice child
Nov 25 06:12:40 db01 kernel: Killed process 1432 (mysqld) total-vm:3267364kB, anon-rss:1807320kB, file-rss:0kB, shmem-rss:0kB
";
    let o = only(&run(&[journal(log)]), "oom_kill");
    assert!(o.summary.contains("mysqld (pid 1432)"), "{}", o.summary);
}

#[test]
fn cgroup_oom_inside_memory_max() {
    // Linux 6.1, cgroup v2: the unit's MemoryMax= (512 MiB) is hit, the host has memory left.
    let log = "\
Nov 25 06:12:40 app01 kernel: php-fpm8.2 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
Nov 25 06:12:40 app01 kernel: memory: usage 524288kB, limit 524288kB, failcnt 1183
Nov 25 06:12:40 app01 kernel: swap: usage 0kB, limit 9007199254740988kB, failcnt 0
Nov 25 06:12:40 app01 kernel: Memory cgroup stats for /system.slice/php8.2-fpm.service:
Nov 25 06:12:40 app01 kernel: oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/system.slice/php8.2-fpm.service,task_memcg=/system.slice/php8.2-fpm.service,task=php-fpm8.2,pid=4100,uid=33
Nov 25 06:12:40 app01 kernel: Memory cgroup out of memory: Killed process 4100 (php-fpm8.2) total-vm:512000kB, anon-rss:260000kB, file-rss:0kB, shmem-rss:0kB, UID:33 pgtables:900kB oom_score_adj:0
Nov 25 06:12:41 app01 systemd[1]: php8.2-fpm.service: A process of this unit has been killed by the OOM killer.
";
    let f = run(&[journal(log)]);
    let o = only(&f, "cgroup_oom");
    assert_eq!(o.subject, "php8.2-fpm.service");
    assert!(o.summary.contains("php-fpm8.2 (pid 4100)"), "{}", o.summary);
    assert!(o.summary.contains("512 MiB"), "{}", o.summary);
    assert!(
        o.evidence[0].contains("Memory cgroup out of memory"),
        "{:#?}",
        o.evidence
    );
    assert!(o.actions.iter().any(|a| a.contains("MemoryMax")));
    // Not a host-wide OOM: no oom_kill finding.
    assert!(!kinds(&f).contains(&"oom_kill"), "{f:#?}");
}

#[test]
fn cgroup_oom_old_kernels_and_containers() {
    // 4.x cgroup v1: "Task in … killed as a result of limit of …", "Kill process … or sacrifice child".
    let log = "\
Nov 25 06:12:40 k8s01 kernel: Task in /kubepods/burstable/pod1234/abcd killed as a result of limit of /kubepods/burstable/pod1234
Nov 25 06:12:40 k8s01 kernel: memory: usage 262144kB, limit 262144kB, failcnt 77
Nov 25 06:12:40 k8s01 kernel: Memory cgroup out of memory: Kill process 9001 (node) score 1987 or sacrifice child
";
    let o = only(&run(&[journal(log)]), "cgroup_oom");
    assert_eq!(o.subject, "/kubepods/burstable/pod1234");
    assert!(o.summary.contains("node (pid 9001)"), "{}", o.summary);
    assert!(o.summary.contains("256 MiB"), "{}", o.summary);
}

#[test]
fn systemd_oomd_is_a_host_pressure_kill() {
    let log = "\
Nov 25 06:13:00 app01 systemd-oomd[402]: Killed /user.slice/user-1000.slice/session-4.scope due to memory pressure for /user.slice/user-1000.slice being 72.43% > 50.00% for > 20s with reclaim activity
";
    let o = only(&run(&[journal(log)]), "oom_kill");
    assert!(o.summary.contains("systemd-oomd"), "{}", o.summary);
}

#[test]
fn oom_settings_and_process_listings_are_not_oom_kills() {
    let log = "\
Nov 25 06:00:00 app01 systemd[1]: systemd-oomd.service: Deactivated successfully.
Nov 25 06:00:01 app01 dockerd[800]: time=\"2026-11-25T06:00:01Z\" level=info msg=\"Setting oom_score_adj to -500\"
Nov 25 06:00:02 app01 kernel: Adding 2097148k swap on /swapfile.  Priority:-2 extents:6 across:2097148k SS
Nov 25 06:00:03 app01 java[811]: Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space
";
    none(&run(&[journal(log)]));
    // An admin grepping for OOM kills is a process, not an OOM kill.
    let ps = "\
    PID    PPID USER     %CPU %MEM   RSS STAT     ELAPSED     TIME COMMAND
   4242    4100 root      0.0  0.0  2100 S+         00:05 00:00:00 grep Out of memory: Killed process /var/log/kern.log
";
    none(&run(&[outcome(
        "T3",
        "list_processes",
        "ps -eww -o pid,ppid,user,%cpu,%mem,rss,stat,etime,time,args --sort=-%cpu",
        ps,
    )]));
}

const VMSTAT_THRASH: &str = "\
procs -----------memory---------- ---swap-- -----io---- -system-- ------cpu-----
 r  b   swpd   free   buff  cache   si   so    bi    bo   in   cs us sy id wa st
 3  2 1953100  61232   1204  80312   45   80   310   420  900 1200 10  8 60 22  0
 2  6 1961220  52104    980  71220 4120 5532  9820  6120 3100 5400  8 14 20 58  0
 1  7 1968880  49880    912  69004 3880 4980  9120  5900 2980 5210  7 13 22 58  0
";

const FREE_LOW: &str = "\
               total        used        free      shared  buff/cache   available
Mem:            3915        3790          48           2          77          61
Swap:           2047        1922         125
";

#[test]
fn swap_thrashing_from_vmstat_and_free() {
    let f = run(&[
        outcome("T4", "cpu_load", "vmstat 1 3", VMSTAT_THRASH),
        outcome("T5", "memory_info", "free -m", FREE_LOW),
        outcome(
            "T6",
            "list_processes",
            "ps -eww -o pid,ppid,user,%cpu,%mem,rss,stat,etime,time,args --sort=-%cpu",
            "    PID    PPID USER     %CPU %MEM   RSS STAT     ELAPSED     TIME COMMAND\n     88       2 root     38.2  0.0     0 R    12-03:00:00 01:10:00 [kswapd0]\n",
        ),
    ]);
    let s = only(&f, "swap_thrashing");
    assert!(
        s.supporting
            .iter()
            .any(|x| x.line.contains("[kswapd0]") && x.call_id == "T6"),
        "{s:#?}"
    );
    assert_eq!(s.category, "memory");
    assert!(s.summary.contains("2/2 vmstat samples"), "{}", s.summary);
    assert!(
        s.summary.contains("1% of memory available"),
        "{}",
        s.summary
    );
    assert!(s.summary.contains("swap 93% used"), "{}", s.summary);
    assert!(s.evidence[0].contains("4120 5532"), "{:#?}", s.evidence);
    assert_eq!(s.supporting[0].call_id, "T5");
}

#[test]
fn swap_in_use_without_paging_is_not_thrashing() {
    // Swap used (pages parked long ago) but no si/so now, plenty available.
    let vmstat = "\
procs -----------memory---------- ---swap-- -----io---- -system-- ------cpu-----
 r  b   swpd   free   buff  cache   si   so    bi    bo   in   cs us sy id wa st
 1  0 1953100 2061232  91204 980312    3    9    31    42  400  700  5  2 92  1  0
 0  0 1953100 2061100  91204 980320    0    0     0    12  380  650  3  1 96  0  0
 1  0 1953100 2060980  91204 980330    0    0     0     8  390  660  4  1 95  0  0
";
    let free = "\
               total        used        free      shared  buff/cache   available
Mem:            7940        4820        2012           2        1108        2900
Swap:           2047        1906         141
";
    none(&run(&[
        outcome("T4", "cpu_load", "vmstat 1 3", vmstat),
        outcome("T5", "memory_info", "free -m", free),
    ]));
    // One burst of paging in one sample out of three is not sustained.
    let burst = "\
 r  b   swpd   free   buff  cache   si   so    bi    bo   in   cs us sy id wa st
 1  0 1953100  61232  91204 980312    3    9    31    42  400  700  5  2 92  1  0
 2  1 1953100  52104  91204 980320  900 1200   100    12  380  650  3  1 86 10  0
 1  0 1953100  52000  91204 980330    0    0     0     8  390  660  4  1 95  0  0
 1  0 1953100  52000  91204 980330    0    0     0     8  390  660  4  1 95  0  0
";
    none(&run(&[outcome("T4", "cpu_load", "vmstat 1 4", burst)]));
}

#[test]
fn cgroup_oom_seen_in_the_kernel_log_and_the_units_journal() {
    // `journalctl -k` has the kernel's lines, `journalctl -u` systemd's: one cgroup OOM, and no
    // host-wide OOM made from systemd's line alone.
    let kernel = "\
Nov 25 06:12:40 app01 kernel: oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/system.slice/billing.service,task_memcg=/system.slice/billing.service,task=java,pid=2211,uid=998
Nov 25 06:12:40 app01 kernel: Memory cgroup out of memory: Killed process 2211 (java) total-vm:6291456kB, anon-rss:1032160kB, file-rss:0kB, shmem-rss:0kB, UID:998 pgtables:3200kB oom_score_adj:0
";
    let unit = "\
Nov 25 06:12:40 app01 systemd[1]: billing.service: A process of this unit has been killed by the OOM killer.
Nov 25 06:12:40 app01 systemd[1]: billing.service: Failed with result 'oom-kill'.
";
    for order in [[0, 1], [1, 0]] {
        let calls = [
            outcome("T1", "kernel_log", "journalctl -k --no-pager", kernel),
            outcome(
                "T2",
                "service_status",
                "journalctl -u billing --no-pager",
                unit,
            ),
        ];
        let f = run(&[calls[order[0]].clone(), calls[order[1]].clone()]);
        let o = only(&f, "cgroup_oom");
        assert_eq!(o.subject, "billing.service");
        assert!(o.summary.contains("java (pid 2211)"), "{}", o.summary);
        assert!(o.sources().contains(&"T2".to_string()), "{o:#?}");
        assert!(!kinds(&f).contains(&"oom_kill"), "{f:#?}");
    }
}

#[test]
fn the_cgroup_limit_from_another_call() {
    // The sweep's journal search has the memcg report's limit line, a filtered read the kill.
    let kill = "Nov 25 06:12:40 app01 kernel: Memory cgroup out of memory: Killed process 4100 (php-fpm8.2) total-vm:512000kB, anon-rss:260000kB, file-rss:0kB, shmem-rss:0kB, UID:33 pgtables:900kB oom_score_adj:0\nNov 25 06:12:40 app01 kernel: oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/system.slice/php8.2-fpm.service,task_memcg=/system.slice/php8.2-fpm.service,task=php-fpm8.2,pid=4100,uid=33\n";
    let report =
        "Nov 25 06:12:40 app01 kernel: memory: usage 524288kB, limit 524288kB, failcnt 1183\n";
    let f = run(&[
        outcome(
            "T1",
            "kernel_log",
            "journalctl -k --no-pager -p warning",
            kill,
        ),
        outcome(
            "T2",
            "read_journal",
            "journalctl --no-pager --grep 'memory: usage'",
            report,
        ),
    ]);
    let o = only(&f, "cgroup_oom");
    assert!(o.summary.contains("(512 MiB)"), "{}", o.summary);
}
