//! Tests for the memory detectors: the OOM killer.
use super::*;

#[test]
fn kernel_oom_killer() {
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
    assert!(o.summary.contains("java (pid 2211)"), "{}", o.summary);
    assert!(o.summary.contains("billing.service"), "{}", o.summary);
    assert!(o.evidence[0].contains("Out of memory: Killed process 2211 (java)"));
    // The unit failed because of the OOM kill: the OOM finding is the stronger one.
    assert_eq!(f[0].kind, "oom_kill");
}

#[test]
fn cgroup_oom_and_systemd_oomd() {
    let log = "\
Nov 25 06:12:40 app01 kernel: Memory cgroup out of memory: Killed process 4100 (php-fpm8.2) total-vm:512000kB, anon-rss:260000kB, file-rss:0kB, shmem-rss:0kB, UID:33 pgtables:900kB oom_score_adj:0
Nov 25 06:13:00 app01 systemd-oomd[402]: Killed /user.slice/user-1000.slice/session-4.scope due to memory pressure for /user.slice/user-1000.slice being 72.43% > 50.00% for > 20s with reclaim activity
";
    let o = only(&run(&[journal(log)]), "oom_kill");
    assert!(o.summary.contains("php-fpm8.2 (pid 4100)"), "{}", o.summary);
    assert_eq!(o.evidence.len(), 2);
}

#[test]
fn oom_settings_are_not_oom_kills() {
    let log = "\
Nov 25 06:00:00 app01 systemd[1]: systemd-oomd.service: Deactivated successfully.
Nov 25 06:00:01 app01 dockerd[800]: time=\"2026-11-25T06:00:01Z\" level=info msg=\"Setting oom_score_adj to -500\"
Nov 25 06:00:02 app01 kernel: Adding 2097148k swap on /swapfile.  Priority:-2 extents:6 across:2097148k SS
";
    none(&run(&[journal(log)]));
}
