//! Detector tests on lines as the real software prints them, with negatives that must not fire.
use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;

use super::*;
use crate::tools::{CommandRecord, ToolCall};

fn outcome(id: &str, tool: &str, command: &str, stdout: &str) -> ToolOutcome {
    outcome_args(id, tool, json!({}), command, stdout)
}

fn outcome_args(
    id: &str,
    tool: &str,
    args: serde_json::Value,
    command: &str,
    stdout: &str,
) -> ToolOutcome {
    ToolOutcome {
        call: ToolCall {
            id: id.into(),
            tool: tool.into(),
            args,
        },
        status: CallStatus::Ok,
        commands: vec![CommandRecord {
            command: command.into(),
            status: CallStatus::Ok,
            exit_code: Some(0),
            duration_ms: 5,
            stdout: stdout.into(),
            stderr: String::new(),
            truncated: 0,
            note: None,
        }],
        output: stdout.into(),
        duration_ms: 5,
    }
}

fn journal(stdout: &str) -> ToolOutcome {
    outcome("T1", "read_journal", "journalctl --no-pager -n 200", stdout)
}

/// 2026-11-25 12:00:00 UTC.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_608_000)
}

fn run(outcomes: &[ToolOutcome]) -> Vec<Finding> {
    analyze_at(outcomes, now())
}

fn kinds(f: &[Finding]) -> Vec<&str> {
    f.iter().map(|f| f.kind.as_str()).collect()
}

fn only(f: &[Finding], kind: &str) -> Finding {
    let v: Vec<&Finding> = f.iter().filter(|x| x.kind == kind).collect();
    assert_eq!(v.len(), 1, "expected one {kind} finding, got {f:#?}");
    v[0].clone()
}

fn none(f: &[Finding]) {
    assert!(f.is_empty(), "expected no findings, got {f:#?}");
}

// --- port conflicts ---------------------------------------------------------------------------

const NGINX_BIND: &str = "\
Nov 25 08:01:02 web01 systemd[1]: Starting nginx.service - A high performance web server and a reverse proxy server...
Nov 25 08:01:02 web01 nginx[2231]: nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)
Nov 25 08:01:03 web01 nginx[2231]: nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)
Nov 25 08:01:04 web01 nginx[2231]: nginx: [emerg] still could not bind()
Nov 25 08:01:04 web01 systemd[1]: nginx.service: Control process exited, code=exited, status=1/FAILURE
Nov 25 08:01:04 web01 systemd[1]: nginx.service: Failed with result 'exit-code'.
Nov 25 08:01:04 web01 systemd[1]: Failed to start nginx.service - A high performance web server and a reverse proxy server.
";

const SS_LISTEN: &str = "\
State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
LISTEN 0      128          0.0.0.0:22         0.0.0.0:*    users:((\"sshd\",pid=611,fd=3))
LISTEN 0      5            0.0.0.0:80         0.0.0.0:*    users:((\"perl\",pid=4242,fd=3))
";

#[test]
fn nginx_bind_error_with_the_listener_from_ss() {
    let f = run(&[
        journal(NGINX_BIND),
        outcome("T2", "list_sockets", "ss -ltnp", SS_LISTEN),
    ]);
    let p = only(&f, "port_conflict");
    assert_eq!(p.category, "service");
    assert_eq!(p.severity, Severity::Critical);
    assert_eq!(p.call_id, "T1");
    assert!(p.summary.contains("nginx"), "{}", p.summary);
    assert!(p.summary.contains("perl (pid 4242)"), "{}", p.summary);
    assert!(p.evidence[0].contains("bind() to 0.0.0.0:80 failed (98: Address already in use)"));
    // The repeated bind error (nginx retries) is quoted once.
    assert_eq!(p.evidence.len(), 1, "{:?}", p.evidence);
    assert_eq!(p.supporting.len(), 1);
    assert_eq!(p.supporting[0].call_id, "T2");
    assert!(p.supporting[0].line.contains("\"perl\",pid=4242"));
    // The failed unit is seen too, but the port conflict explains it and ranks first.
    assert!(kinds(&f).contains(&"unit_failed"));
    assert_eq!(f[0].kind, "port_conflict");
}

#[test]
fn postgres_bind_error_takes_the_port_from_the_hint() {
    let log = "\
2026-11-25 08:10:01.123 UTC [812] LOG:  starting PostgreSQL 15.8 (Debian 15.8-0+deb12u1) on x86_64-pc-linux-gnu
2026-11-25 08:10:01.124 UTC [812] LOG:  could not bind IPv4 address \"127.0.0.1\": Address already in use
2026-11-25 08:10:01.124 UTC [812] HINT:  Is another postmaster already running on port 5432? If not, wait a few seconds and retry.
2026-11-25 08:10:01.124 UTC [812] WARNING:  could not create listen socket for \"localhost\"
2026-11-25 08:10:01.124 UTC [812] FATAL:  could not create any TCP/IP sockets
";
    let netstat = "\
Active Internet connections (only servers)
Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name
tcp        0      0 127.0.0.1:5432          0.0.0.0:*               LISTEN      990/postgres
";
    let f = run(&[
        outcome_args(
            "T4",
            "read_file",
            json!({"path": "/var/log/postgresql/postgresql-15-main.log"}),
            "tail -n 200 /var/log/postgresql/postgresql-15-main.log",
            log,
        ),
        outcome("T5", "list_sockets", "netstat -ltnp", netstat),
    ]);
    let p = only(&f, "port_conflict");
    assert_eq!(p.subject, "port 5432");
    assert!(p.summary.contains("postgres (pid 990)"), "{}", p.summary);
    assert!(p.evidence.iter().any(|e| e.contains("HINT:")));
}

#[test]
fn apache_go_node_sshd_and_redis_bind_errors() {
    let lines = "\
Nov 25 08:00:00 web01 apachectl[1200]: (98)Address already in use: AH00072: make_sock: could not bind to address [::]:443
Nov 25 08:00:01 web01 api[1300]: 2026/11/25 08:00:01 listen tcp :8080: bind: address already in use
Nov 25 08:00:02 web01 node[1400]: Error: listen EADDRINUSE: address already in use :::3000
Nov 25 08:00:03 web01 sshd[1500]: error: Bind to port 2222 on 0.0.0.0 failed: Address already in use.
Nov 25 08:00:04 web01 redis-server[1600]: 1600:M 25 Nov 2026 08:00:04.000 # Warning: Could not create server TCP listening socket *:6379: bind: Address already in use
";
    let f = run(&[journal(lines)]);
    let subjects: Vec<&str> = f
        .iter()
        .filter(|x| x.kind == "port_conflict")
        .map(|x| x.subject.as_str())
        .collect();
    for p in [
        "port 443",
        "port 8080",
        "port 3000",
        "port 2222",
        "port 6379",
    ] {
        assert!(subjects.contains(&p), "{p} missing from {subjects:?}");
    }
    let go = f.iter().find(|x| x.subject == "port 8080").unwrap();
    assert!(go.summary.starts_with("api "), "{}", go.summary);
    assert!(go.summary.contains("was not in the collected output"));
}

#[test]
fn listeners_alone_are_not_a_conflict() {
    none(&run(&[outcome(
        "T2",
        "list_sockets",
        "ss -ltnp",
        SS_LISTEN,
    )]));
}

// --- units ----------------------------------------------------------------------------------

#[test]
fn crash_looping_unit_from_the_journal() {
    let log = "\
Nov 25 07:40:11 app01 systemd[1]: myapp.service: Main process exited, code=exited, status=1/FAILURE
Nov 25 07:40:11 app01 systemd[1]: myapp.service: Failed with result 'exit-code'.
Nov 25 07:40:16 app01 systemd[1]: myapp.service: Scheduled restart job, restart counter is at 4.
Nov 25 07:40:16 app01 systemd[1]: Stopped myapp.service - My App.
Nov 25 07:40:16 app01 systemd[1]: Started myapp.service - My App.
Nov 25 07:40:17 app01 myapp[3001]: panic: open /etc/myapp/config.yaml: no such file or directory
Nov 25 07:40:17 app01 systemd[1]: myapp.service: Main process exited, code=exited, status=2/INVALIDARGUMENT
Nov 25 07:40:22 app01 systemd[1]: myapp.service: Scheduled restart job, restart counter is at 5.
";
    let f = run(&[journal(log)]);
    let c = only(&f, "unit_crash_loop");
    assert_eq!(c.subject, "myapp.service");
    assert!(c.summary.contains("5 times"), "{}", c.summary);
    assert!(c.evidence[0].contains("restart counter is at 5"));
    assert!(!kinds(&f).contains(&"unit_failed"), "{f:#?}");
}

#[test]
fn crash_loop_from_systemctl_status() {
    let status = "\
● myapp.service - My App
     Loaded: loaded (/etc/systemd/system/myapp.service; enabled; preset: enabled)
     Active: activating (auto-restart) (Result: exit-code) since Wed 2026-11-25 07:40:22 UTC; 3s ago
    Process: 3044 ExecStart=/usr/local/bin/myapp (code=exited, status=2)
   Main PID: 3044 (code=exited, status=2)
        CPU: 12ms
";
    let f = run(&[outcome(
        "T3",
        "service_status",
        "systemctl status myapp",
        status,
    )]);
    let c = only(&f, "unit_crash_loop");
    assert_eq!(c.subject, "myapp.service");
}

#[test]
fn failed_units_from_list_and_status() {
    let list = "\
  UNIT          LOAD   ACTIVE SUB    DESCRIPTION
● nginx.service loaded failed failed A high performance web server and a reverse proxy server

LOAD   = Reflects whether the unit definition was properly loaded.
1 loaded units listed.
";
    let f = run(&[outcome(
        "T1",
        "list_services",
        "systemctl list-units --failed --no-pager",
        list,
    )]);
    assert_eq!(only(&f, "unit_failed").subject, "nginx.service");

    let status = "\
× postgresql@15-main.service - PostgreSQL Cluster 15-main
     Loaded: loaded (/lib/systemd/system/postgresql@.service; enabled-runtime; preset: enabled)
     Active: failed (Result: protocol) since Wed 2026-11-25 08:10:02 UTC; 2min ago
";
    let f = run(&[outcome(
        "T2",
        "service_status",
        "systemctl status postgresql@15-main",
        status,
    )]);
    let u = only(&f, "unit_failed");
    assert_eq!(u.subject, "postgresql@15-main.service");
    assert!(u.summary.contains("result: protocol"), "{}", u.summary);
}

#[test]
fn healthy_units_do_not_fire() {
    let list = "  UNIT LOAD ACTIVE SUB DESCRIPTION\n0 loaded units listed.\n";
    let status = "\
● nginx.service - A high performance web server and a reverse proxy server
     Loaded: loaded (/lib/systemd/system/nginx.service; enabled; preset: enabled)
     Active: active (running) since Wed 2026-11-25 07:00:00 UTC; 1h ago
";
    let log = "\
Nov 25 07:00:00 web01 systemd[1]: Started nginx.service - A high performance web server and a reverse proxy server.
Nov 25 07:00:05 web01 systemd[1]: myapp.service: Scheduled restart job, restart counter is at 1.
Nov 25 07:00:05 web01 systemd[1]: myapp.service: Deactivated successfully.
";
    none(&run(&[
        outcome("T1", "list_services", "systemctl list-units --failed", list),
        outcome("T2", "service_status", "systemctl status nginx", status),
        journal(log),
    ]));
}

// --- memory ---------------------------------------------------------------------------------

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

// --- disk -----------------------------------------------------------------------------------

const DF_FULL: &str = "\
Filesystem     Type     Size  Used Avail Use% Mounted on
udev           devtmpfs  3.9G     0  3.9G   0% /dev
/dev/vda1      ext4       40G   21G   17G  56% /
/dev/vdb1      ext4      100G   95G     0 100% /data
/dev/vdc1      xfs        50G   46G  4.0G  92% /srv/backup
/dev/loop0     squashfs   64M   64M     0 100% /snap/core20/2318
/dev/mapper/vg0-very--long--logical--volume--name
               ext4       20G  3.0G   16G  16% /var/lib/docker
";

#[test]
fn df_full_and_nearly_full_but_not_snaps() {
    let f = run(&[outcome("T3", "disk_usage", "df -hT", DF_FULL)]);
    let full = only(&f, "filesystem_full");
    assert_eq!(full.subject, "/data");
    assert!(full.summary.contains("100% full"), "{}", full.summary);
    assert_eq!(full.severity, Severity::Critical);
    let near = only(&f, "filesystem_nearly_full");
    assert_eq!(near.subject, "/srv/backup");
    assert_eq!(near.severity, Severity::Warning);
    assert!(!f.iter().any(|x| x.subject.starts_with("/snap")));
}

#[test]
fn df_posix_output_and_wrapped_device_names() {
    let df = "\
Filesystem                                        1024-blocks     Used Available Capacity Mounted on
/dev/mapper/vg0-very--long--logical--volume--name
                                                     20511312 20494928         0     100% /var/lib/postgresql
";
    let f = run(&[outcome("T3", "disk_usage", "df -P", df)]);
    let full = only(&f, "filesystem_full");
    assert_eq!(full.subject, "/var/lib/postgresql");
    assert!(full.evidence[0].starts_with("/dev/mapper/vg0"));
}

#[test]
fn inode_exhaustion_from_df_i() {
    let df = "\
Filesystem      Inodes   IUsed  IFree IUse% Mounted on
/dev/vda1      2621440  412345 2209095   16% /
/dev/vdb1       655360  655360       0  100% /var/spool
tmpfs           500000       1  499999    1% /run/user/0
/dev/vdc1            -       -       -     - /boot/efi
";
    let f = run(&[outcome("T4", "inode_usage", "df -i", df)]);
    let i = only(&f, "inode_exhaustion");
    assert_eq!(i.subject, "/var/spool");
    assert_eq!(i.severity, Severity::Critical);
    assert!(!kinds(&f).contains(&"filesystem_full"));
}

#[test]
fn enospc_lines_from_real_software() {
    let log = "\
Nov 25 05:00:01 db01 postgres[901]: 2026-11-25 05:00:01.001 UTC [901] PANIC:  could not write to file \"pg_wal/xlogtemp.901\": No space left on device
Nov 25 05:00:02 web01 nginx[700]: 2026/11/25 05:00:02 [crit] 700#700: *45 pwrite() \"/var/lib/nginx/body/0000000001\" failed (28: No space left on device), client: 10.0.0.5, server: _, request: \"POST /upload HTTP/1.1\"
Nov 25 05:00:03 db01 systemd-journald[300]: Failed to open system journal: No space left on device
";
    let f = run(&[journal(log)]);
    let n = only(&f, "no_space");
    assert_eq!(n.category, "disk");
    assert_eq!(n.evidence.len(), 3);
    assert!(n.summary.contains("3 lines"));
}

#[test]
fn healthy_df_does_not_fire() {
    let df = "\
Filesystem     1K-blocks    Used Available Use% Mounted on
/dev/vda1       41152736 9000000  30000000  24% /
tmpfs            1000000       0   1000000   0% /dev/shm
";
    none(&run(&[outcome("T3", "disk_usage", "df", df)]));
}

#[test]
fn read_only_remount_correlates_kernel_and_mounts() {
    let kernel = "\
Nov 25 04:10:00 db01 kernel: EXT4-fs error (device sdb1): ext4_journal_check_start:83: comm postgres: Detected aborted journal
Nov 25 04:10:00 db01 kernel: EXT4-fs (sdb1): Remounting filesystem read-only
";
    let mounts = "\
/dev/sda1 on / type ext4 (rw,relatime,errors=remount-ro)
/dev/sdb1 on /var/lib/postgresql type ext4 (ro,relatime)
/dev/loop3 on /snap/lxd/29351 type squashfs (ro,nodev,relatime,errors=continue)
proc on /proc type proc (rw,nosuid,nodev,noexec,relatime)
";
    let app = "\
Nov 25 04:10:05 db01 postgres[901]: 2026-11-25 04:10:05.100 UTC [901] ERROR:  could not open file \"/var/lib/postgresql/15/main/base/16384/2601\": Read-only file system
";
    let f = run(&[
        outcome("T1", "kernel_log", "journalctl -k", kernel),
        outcome("T2", "mounts", "mount", mounts),
        journal(app).clone_with_id("T3"),
    ]);
    let r: Vec<&Finding> = f
        .iter()
        .filter(|x| x.kind == "readonly_filesystem")
        .collect();
    assert_eq!(r.len(), 1, "{f:#?}");
    let r = r[0];
    assert_eq!(r.subject, "/var/lib/postgresql");
    assert_eq!(r.severity, Severity::Critical);
    assert!(r.summary.contains("remounted"), "{}", r.summary);
    let sources = r.sources();
    assert!(sources.contains(&"T1".to_string()) && sources.contains(&"T3".to_string()));
}

#[test]
fn xfs_shutdown_and_proc_mounts_format() {
    let kernel = "\
Nov 25 04:10:00 db01 kernel: XFS (dm-2): log I/O error -5
Nov 25 04:10:00 db01 kernel: XFS (dm-2): Filesystem has been shut down due to log error (0x2).
Nov 25 04:10:00 db01 kernel: XFS (dm-2): Please unmount the filesystem and rectify the problem(s).
";
    let f = run(&[outcome("T1", "kernel_log", "journalctl -k", kernel)]);
    assert!(
        f.iter()
            .any(|x| x.kind == "readonly_filesystem" && x.subject == "dm-2"),
        "{f:#?}"
    );
    assert!(
        f.iter()
            .any(|x| x.kind == "io_error" && x.subject == "dm-2"),
        "{f:#?}"
    );

    let proc_mounts = "/dev/vdb /data ext4 ro,relatime 0 0\n/dev/vda / ext4 rw,relatime 0 0\nsysfs /sys sysfs ro,nosuid 0 0\n";
    let f = run(&[outcome("T2", "mounts", "cat /proc/mounts", proc_mounts)]);
    let r = only(&f, "readonly_filesystem");
    assert_eq!(r.subject, "/data");
    assert_eq!(r.severity, Severity::Warning);
}

#[test]
fn read_write_mounts_do_not_fire() {
    let mounts = "\
/dev/sda1 on / type ext4 (rw,relatime,errors=remount-ro)
/dev/loop0 on /snap/core22/1612 type squashfs (ro,nodev,relatime,errors=continue,threads=single)
sysfs on /sys type sysfs (rw,nosuid,nodev,noexec,relatime)
cgroup2 on /sys/fs/cgroup type cgroup2 (ro,nosuid,nodev,noexec,relatime)
";
    none(&run(&[outcome("T2", "mounts", "mount", mounts)]));
}

#[test]
fn block_layer_and_libata_io_errors() {
    let kernel = "\
Nov 25 03:00:00 nas01 kernel: ata3.00: exception Emask 0x0 SAct 0x1000 SErr 0x0 action 0x0
Nov 25 03:00:00 nas01 kernel: ata3.00: failed command: READ FPDMA QUEUED
Nov 25 03:00:00 nas01 kernel: ata3.00: error: { UNC }
Nov 25 03:00:00 nas01 kernel: sd 2:0:0:0: [sdc] tag#12 FAILED Result: hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=3s
Nov 25 03:00:00 nas01 kernel: I/O error, dev sdc, sector 1953525000 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 2
Nov 25 03:00:01 nas01 kernel: Buffer I/O error on dev sdc1, logical block 244190000, async page read
";
    let f = run(&[outcome("T1", "kernel_log", "journalctl -k", kernel)]);
    let subjects: Vec<&str> = f
        .iter()
        .filter(|x| x.kind == "io_error")
        .map(|x| x.subject.as_str())
        .collect();
    assert!(subjects.contains(&"sdc"), "{subjects:?}");
    assert!(subjects.contains(&"ata3.00"), "{subjects:?}");
    assert!(subjects.contains(&"sdc1"), "{subjects:?}");
}

#[test]
fn io_scheduler_chatter_is_not_an_io_error() {
    let kernel = "\
Nov 25 03:00:00 nas01 kernel: io scheduler mq-deadline registered
Nov 25 03:00:00 nas01 kernel: ata3: SATA link up 6.0 Gbps (SStatus 133 SControl 300)
Nov 25 03:00:00 nas01 kernel: sd 2:0:0:0: [sdc] 3907029168 512-byte logical blocks: (2.00 TB/1.82 TiB)
";
    none(&run(&[outcome(
        "T1",
        "kernel_log",
        "journalctl -k",
        kernel,
    )]));
}

// --- auth -----------------------------------------------------------------------------------

#[test]
fn sshd_bad_modes() {
    let log = "\
Nov 25 09:00:01 bastion sshd[5101]: Authentication refused: bad ownership or modes for file /root/.ssh/authorized_keys
Nov 25 09:00:01 bastion sshd[5101]: Connection closed by authenticating user root 192.0.2.10 port 50122 [preauth]
Nov 25 09:01:12 bastion sshd[5120]: Authentication refused: bad ownership or modes for file /root/.ssh/authorized_keys
";
    let f = run(&[journal(log)]);
    let m = only(&f, "auth_bad_modes");
    // The same refusal from another sshd process is quoted once.
    assert_eq!(m.evidence.len(), 1, "{:?}", m.evidence);
    assert_eq!(m.subject, "/root/.ssh/authorized_keys");
    assert_eq!(m.severity, Severity::Critical);
    assert_eq!(f[0].kind, "auth_bad_modes");
}

#[test]
fn ls_and_stat_show_writable_ssh_files() {
    let ls = "\
total 12
drwx------  2 deploy deploy 4096 Nov 25 08:00 .
drwxr-xr-x  5 deploy deploy 4096 Nov 25 08:00 ..
-rw-rw-rw-  1 deploy deploy  400 Nov 25 08:00 authorized_keys
-rw-r--r--  1 deploy deploy  222 Nov 25 08:00 known_hosts
";
    let f = run(&[outcome_args(
        "T2",
        "list_dir",
        json!({"path": "/home/deploy/.ssh"}),
        "ls -la /home/deploy/.ssh",
        ls,
    )]);
    let m = only(&f, "auth_bad_modes");
    assert_eq!(m.subject, "/home/deploy/.ssh/authorized_keys");
    assert_eq!(m.severity, Severity::Warning);

    let stat = "  File: /root/.ssh/authorized_keys\n  Size: 400\tBlocks: 8\tIO Block: 4096   regular file\nAccess: (0666/-rw-rw-rw-)  Uid: (    0/    root)   Gid: (    0/    root)\n";
    let f = run(&[outcome(
        "T3",
        "run_command",
        "stat /root/.ssh/authorized_keys",
        stat,
    )]);
    assert_eq!(
        only(&f, "auth_bad_modes").subject,
        "/root/.ssh/authorized_keys"
    );
}

#[test]
fn tight_modes_do_not_fire() {
    let ls = "\
drwx------  2 root root 4096 Nov 25 08:00 .ssh
-rw-------  1 root root  400 Nov 25 08:00 authorized_keys
-rw-r--r--  1 root root  400 Nov 25 08:00 id_ed25519.pub
drwxrwxrwt 10 root root 4096 Nov 25 08:00 tmp
";
    none(&run(&[outcome("T2", "list_dir", "ls -la /root", ls)]));
}

#[test]
fn failed_logins_are_counted_by_source() {
    let mut log = String::new();
    for i in 0..25 {
        log.push_str(&format!(
            "Nov 25 09:01:{:02} bastion sshd[{}]: Failed password for invalid user admin from 203.0.113.7 port {} ssh2\n",
            i,
            6000 + i,
            40000 + i
        ));
    }
    log.push_str(
        "Nov 25 09:02:00 bastion sshd[6100]: Invalid user oracle from 198.51.100.3 port 41000\n",
    );
    log.push_str("Nov 25 09:02:01 bastion sshd[6101]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.3\n");
    log.push_str("Nov 25 09:03:00 bastion sshd[6200]: Accepted publickey for deploy from 10.0.0.4 port 52000 ssh2: ED25519 SHA256:abc\n");
    let f = run(&[journal(&log)]);
    let a = only(&f, "auth_failures");
    assert_eq!(a.severity, Severity::Warning);
    assert!(a.summary.starts_with("27 failed"), "{}", a.summary);
    assert!(a.summary.contains("203.0.113.7 ×25"), "{}", a.summary);
}

#[test]
fn successful_logins_do_not_fire() {
    let log = "\
Nov 25 09:03:00 bastion sshd[6200]: Accepted publickey for deploy from 10.0.0.4 port 52000 ssh2: ED25519 SHA256:abc
Nov 25 09:03:00 bastion sshd[6200]: pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)
";
    none(&run(&[journal(log)]));
}

// --- dns ------------------------------------------------------------------------------------

#[test]
fn dead_resolver_from_dig_and_resolv_conf() {
    let resolv = "# Generated by NetworkManager\nsearch corp.example\nnameserver 10.20.0.53\n";
    let dig = "\
;; communications error to 10.20.0.53#53: timed out
;; communications error to 10.20.0.53#53: timed out
;; communications error to 10.20.0.53#53: timed out

; <<>> DiG 9.18.28-1~deb12u2-Debian <<>> api.corp.example
;; global options: +cmd
;; no servers could be reached
";
    let f = run(&[
        outcome_args(
            "T1",
            "read_file",
            json!({"path": "/etc/resolv.conf"}),
            "cat /etc/resolv.conf",
            resolv,
        ),
        outcome("T2", "resolve_host", "dig api.corp.example", dig),
    ]);
    let d = only(&f, "dns_dead_resolver");
    assert_eq!(d.subject, "10.20.0.53");
    assert_eq!(d.severity, Severity::Critical);
    assert!(d.summary.contains("resolv.conf"), "{}", d.summary);
    assert_eq!(d.supporting[0].call_id, "T1");
}

#[test]
fn resolution_failures_in_application_logs() {
    let log = "\
Nov 25 10:00:00 app01 curl[700]: curl: (6) Could not resolve host: api.corp.example
Nov 25 10:00:01 app01 api[701]: dial tcp: lookup db.corp.example on 10.20.0.53:53: read udp 10.0.0.5:41234->10.20.0.53:53: i/o timeout
Nov 25 10:00:02 app01 app[702]: psql: error: could not translate host name \"db.corp.example\" to address: Temporary failure in name resolution
Nov 25 10:00:03 app01 nginx[703]: nginx: [emerg] host not found in upstream \"backend.corp.example\" in /etc/nginx/conf.d/app.conf:12
";
    let f = run(&[journal(log)]);
    let d = only(&f, "dns_failure");
    assert_eq!(d.severity, Severity::Critical);
    assert_eq!(d.evidence.len(), 4);
    assert_eq!(only(&f, "dns_dead_resolver").subject, "10.20.0.53");
}

#[test]
fn resolv_conf_without_nameserver() {
    let f = run(&[outcome_args(
        "T1",
        "read_file",
        json!({"path": "/etc/resolv.conf"}),
        "cat /etc/resolv.conf",
        "# managed by hand\nsearch corp.example\noptions timeout:1\n",
    )]);
    assert_eq!(only(&f, "dns_no_nameserver").category, "dns");
}

#[test]
fn working_dns_does_not_fire() {
    let dig = "\
; <<>> DiG 9.18.28-1~deb12u2-Debian <<>> example.com
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 4242
;; ANSWER SECTION:
example.com.\t\t3600\tIN\tA\t93.184.215.14
;; SERVER: 127.0.0.53#53(127.0.0.53) (UDP)
";
    let resolv = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n";
    none(&run(&[
        outcome("T1", "resolve_host", "dig example.com", dig),
        outcome_args(
            "T2",
            "read_file",
            json!({"path": "/etc/resolv.conf"}),
            "cat /etc/resolv.conf",
            resolv,
        ),
    ]));
}

// --- tls ------------------------------------------------------------------------------------

#[test]
fn expired_and_expiring_certificates_from_openssl() {
    let expired = "subject=CN = shop.example.com\nnotBefore=Aug 20 00:00:00 2025 GMT\nnotAfter=Nov 18 23:59:59 2025 GMT\n";
    let f = run(&[outcome_args(
        "T5",
        "cert_info",
        json!({"path": "/etc/ssl/certs/shop.example.com.pem"}),
        "openssl x509 -noout -subject -dates -in /etc/ssl/certs/shop.example.com.pem",
        expired,
    )]);
    let c = only(&f, "certificate_expiry");
    assert_eq!(c.severity, Severity::Critical);
    assert!(
        c.summary.contains("/etc/ssl/certs/shop.example.com.pem"),
        "{}",
        c.summary
    );
    assert!(c.summary.contains("expired"), "{}", c.summary);
    assert!(c.evidence[0].starts_with("notAfter=Nov 18 23:59:59 2025 GMT"));

    // now() is 2026-11-25: 10 days left is a warning, 20 days is info, a year is nothing.
    let soon = "notAfter=Dec  5 12:00:00 2026 GMT\n";
    let f = run(&[outcome(
        "T6",
        "cert_info",
        "openssl x509 -noout -enddate -in a.pem",
        soon,
    )]);
    assert_eq!(only(&f, "certificate_expiry").severity, Severity::Warning);
    let later = "            Not After : Dec 15 12:00:00 2026 GMT\n";
    let f = run(&[outcome(
        "T7",
        "cert_info",
        "openssl x509 -noout -text -in b.pem",
        later,
    )]);
    assert_eq!(only(&f, "certificate_expiry").severity, Severity::Info);
    none(&run(&[outcome(
        "T8",
        "cert_info",
        "openssl x509 -noout -enddate",
        "notAfter=Dec 31 23:59:59 2099 GMT\n",
    )]));
}

#[test]
fn expiry_errors_in_logs() {
    let log = "\
Nov 25 10:00:00 app01 curl[900]: curl: (60) SSL certificate problem: certificate has expired
Nov 25 10:00:01 app01 api[901]: Get \"https://payments.example.com/v1\": tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time 2026-11-25T10:00:01Z is after 2025-11-18T23:59:59Z
Nov 25 10:00:02 web01 nginx[902]: 2026/11/25 10:00:02 [error] 902#902: *7 upstream SSL certificate verify error: (10:certificate has expired) while SSL handshaking to upstream
";
    let f = run(&[journal(log)]);
    let c = only(&f, "certificate_expiry");
    assert_eq!(c.evidence.len(), 3);
    none(&run(&[journal("Nov 25 10:00:00 web01 certbot[1]: Certificate not yet due for renewal\nCertificate will not expire\n")]));
}

// --- time -----------------------------------------------------------------------------------

#[test]
fn timedatectl_and_chrony_unsynchronised() {
    let td = "\
               Local time: Wed 2026-11-25 12:00:00 UTC
           Universal time: Wed 2026-11-25 12:00:00 UTC
                 RTC time: Wed 2026-11-25 11:12:13
                Time zone: Etc/UTC (UTC, +0000)
System clock synchronized: no
              NTP service: inactive
          RTC in local TZ: no
";
    let f = run(&[outcome("T1", "time_sync", "timedatectl status", td)]);
    let t = only(&f, "clock_unsynchronised");
    assert_eq!(t.category, "time");
    assert_eq!(t.severity, Severity::Critical);
    assert!(t
        .evidence
        .iter()
        .any(|e| e.contains("System clock synchronized: no")));

    let tracking = "\
Reference ID    : 00000000 ()
Stratum         : 0
System time     : 0.000000000 seconds fast of NTP time
Leap status     : Not synchronised
";
    let f = run(&[outcome("T2", "time_sync", "chronyc tracking", tracking)]);
    assert_eq!(only(&f, "clock_unsynchronised").severity, Severity::Warning);

    let log = "\
Nov 25 11:00:00 app01 chronyd[500]: Can't synchronise: no selectable sources
Nov 25 11:00:05 app01 chronyd[500]: System clock wrong by 3602.512345 seconds
Nov 25 11:00:09 app01 systemd-timesyncd[410]: Timed out waiting for reply from 192.0.2.123:123 (0.debian.pool.ntp.org).
";
    let f = run(&[journal(log)]);
    let t = only(&f, "clock_unsynchronised");
    assert_eq!(t.severity, Severity::Critical);
    assert!(t.summary.contains("3602.5 s"), "{}", t.summary);
}

#[test]
fn synchronised_clock_does_not_fire() {
    let td = "System clock synchronized: yes\n              NTP service: active\n";
    let tracking =
        "Leap status     : Normal\nSystem time     : 0.000012345 seconds slow of NTP time\n";
    let log = "\
Nov 25 11:00:00 app01 systemd-timesyncd[410]: Initial clock synchronization to Wed 2026-11-25 11:00:00.123456 UTC.
Nov 25 11:00:00 app01 systemd-timesyncd[410]: Contacted time server 192.0.2.123:123 (0.debian.pool.ntp.org).
Nov 25 11:00:00 app01 chronyd[500]: Selected source 192.0.2.10 (2.debian.pool.ntp.org)
Nov 25 11:00:01 app01 chronyd[500]: System clock wrong by 0.000812 seconds
";
    none(&run(&[
        outcome("T1", "time_sync", "timedatectl status", td),
        outcome("T2", "time_sync", "chronyc tracking", tracking),
        journal(log),
    ]));
}

// --- crashes, upstreams, load ---------------------------------------------------------------

#[test]
fn segfaults_and_core_dumps() {
    let log = "\
Nov 25 07:58:01 app01 kernel: imgproc[4412]: segfault at 0 ip 000055d0c1a2b3c4 sp 00007ffd5e6f7a80 error 4 in imgproc[55d0c1a2b000+2000] likely on CPU 1 (core 1, socket 0)
Nov 25 07:58:01 app01 systemd-coredump[4413]: Process 4412 (imgproc) of user 998 dumped core.
Nov 25 07:58:01 app01 systemd[1]: imgproc.service: Main process exited, code=dumped, status=11/SEGV
Nov 25 07:59:00 app01 kernel: traps: php-fpm8.2[5000] general protection fault ip:7f1c2b3d4e5f sp:7ffd00000000 error:0 in libc.so.6[7f1c2b300000+155000]
";
    let f = run(&[journal(log)]);
    let s: Vec<&Finding> = f.iter().filter(|x| x.kind == "segfault").collect();
    assert_eq!(s.len(), 2, "{f:#?}");
    let img = s.iter().find(|x| x.subject == "imgproc").unwrap();
    assert_eq!(img.evidence.len(), 3);
    assert!(img.summary.contains("1 time)"), "{}", img.summary);
}

#[test]
fn upstream_refused() {
    let log = "2026/11/25 10:00:00 [error] 902#902: *19 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.9, server: shop.example.com, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:8080/\", host: \"shop.example.com\"\n";
    let f = run(&[outcome_args(
        "T3",
        "read_file",
        json!({"path": "/var/log/nginx/error.log"}),
        "tail /var/log/nginx/error.log",
        log,
    )]);
    let u = only(&f, "upstream_unreachable");
    assert_eq!(u.subject, "http://127.0.0.1:8080/");
}

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

// --- plumbing -------------------------------------------------------------------------------

#[test]
fn runbook_text_and_denied_calls_are_not_host_state() {
    let runbook = "If you see `bind() to 0.0.0.0:80 failed (98: Address already in use)` stop the other listener.\nOut of memory: Killed process 1 (x)\n";
    let mut denied = journal(NGINX_BIND);
    denied.status = CallStatus::Denied;
    none(&run(&[
        outcome("T1", "search_runbooks", "", runbook),
        denied,
    ]));
}

#[test]
fn the_same_finding_in_two_calls_is_merged() {
    let f = run(&[
        journal(NGINX_BIND),
        outcome("T9", "service_status", "journalctl -u nginx", NGINX_BIND),
    ]);
    let p = only(&f, "port_conflict");
    assert_eq!(p.call_id, "T1");
    assert_eq!(p.sources(), vec!["T1".to_string(), "T9".to_string()]);
    let r = report("web01", "down", "service", &[], &f);
    let bind = r
        .evidence
        .iter()
        .find(|e| e.text.contains("0.0.0.0:80 failed"))
        .unwrap();
    assert_eq!(bind.sources, vec!["T1".to_string(), "T9".to_string()]);
}

#[test]
fn report_from_findings() {
    let outcomes = [
        journal(NGINX_BIND),
        outcome("T2", "list_sockets", "ss -ltnp", SS_LISTEN),
    ];
    let f = run(&outcomes);
    let r = report("web01", "the site is down", "network", &outcomes, &f);
    assert_eq!(r.mode, "triage");
    assert_eq!(r.category, "service");
    assert_eq!(r.confidence, "high");
    assert!(
        r.root_cause.contains("Address already in use"),
        "{}",
        r.root_cause
    );
    assert!(r
        .evidence
        .iter()
        .any(|e| e.text.contains("Address already in use") && e.sources == vec!["T1".to_string()]));
    assert!(r
        .evidence
        .iter()
        .any(|e| e.text.contains("perl") && e.sources == vec!["T2".to_string()]));
    assert!(r.actions.iter().any(|a| a.contains("ss -ltnp")));
    assert_eq!(r.tool_calls.len(), 2);
    let md = r.to_markdown();
    assert!(md.contains("[T1]"), "{md}");
}

#[test]
fn report_without_findings_says_so() {
    let outcomes = [outcome(
        "T1",
        "cpu_load",
        "uptime",
        " 10:00:00 up 1 day, load average: 0.10, 0.20, 0.30\n",
    )];
    let r = report("web01", "slow", "performance", &outcomes, &run(&outcomes));
    assert_eq!(r.category, "performance");
    assert_eq!(r.confidence, "low");
    assert!(r.root_cause.contains("No deterministic detector fired"));
    assert!(r.evidence.is_empty());
}

#[test]
fn prompt_section_lists_findings_with_call_ids() {
    let outcomes = [journal(NGINX_BIND)];
    let s = prompt_section(&run(&outcomes));
    assert!(s.starts_with("Deterministic findings"));
    assert!(s.contains("port_conflict") && s.contains("T1"));
}

trait WithId {
    fn clone_with_id(&self, id: &str) -> ToolOutcome;
}

impl WithId for ToolOutcome {
    fn clone_with_id(&self, id: &str) -> ToolOutcome {
        let mut o = self.clone();
        o.call.id = id.to_string();
        o
    }
}

#[test]
fn runbook_steps_and_query() {
    let body = "Error log: `connect() failed (111: Connection refused)`.\n\n1. Check the upstream unit: `systemctl status app`.\n2. Read its log with `journalctl -u app`\n   and look for the exit reason.\n3. Restart it once fixed.\n\nNotes afterwards.\n- a bullet\n";
    let steps = steps_from_section(body, 3);
    assert_eq!(
        steps,
        vec![
            "Check the upstream unit: `systemctl status app`.".to_string(),
            "Read its log with `journalctl -u app` and look for the exit reason.".to_string(),
            "Restart it once fixed.".to_string(),
        ]
    );
    let f = run(&[journal(NGINX_BIND)]);
    let q = runbook_query(&f[0]);
    assert!(
        q.contains("address already in use") && q.contains("0.0.0.0:80"),
        "{q}"
    );

    let outcomes = [journal(NGINX_BIND)];
    let r = report_with_actions(
        "web01",
        "down",
        "service",
        &outcomes,
        &f,
        Some(("nginx.md#Port already in use".into(), steps)),
    );
    assert!(
        r.actions[0].ends_with("[nginx.md#Port already in use]"),
        "{:?}",
        r.actions
    );
    assert!(r.actions.iter().any(|a| a.contains("ss -ltnp")));
}

#[test]
fn resolver_and_time_daemon_failures_belong_to_dns_and_time() {
    let log = "\
Nov 25 08:00:40 app02 systemd[1]: systemd-resolved.service: Start request repeated too quickly.
Nov 25 08:00:40 app02 systemd[1]: systemd-resolved.service: Failed with result 'signal'.
Nov 25 08:00:41 app02 systemd[1]: chrony.service: Failed with result 'exit-code'.
Nov 25 08:00:42 app02 systemd[1]: postgresql@15-main.service: Failed with result 'exit-code'.
";
    let f = run(&[journal(log)]);
    let cat = |s: &str| f.iter().find(|x| x.subject == s).unwrap().category.clone();
    assert_eq!(cat("systemd-resolved.service"), "dns");
    assert_eq!(cat("chrony.service"), "time");
    assert_eq!(cat("postgresql@15-main.service"), "service");
}

#[test]
fn the_sweep_renders_and_the_policy_allows_it() {
    let registry = crate::tools::Registry::builtin();
    let policy = crate::policy::Policy::load(false).unwrap();
    let mut next = 7;
    let base = crate::plan::baseline_calls(crate::plan::Category::Disk, &mut next);
    assert!(base
        .iter()
        .any(|c| c.tool == "disk_usage" && c.args == json!({})));
    let sweep = sweep_calls(&base, &mut next);
    assert!(!sweep
        .iter()
        .any(|c| c.tool == "disk_usage" && c.args == json!({})));
    assert_eq!(sweep[0].id, format!("T{}", 7 + base.len()));
    assert!(sweep.iter().any(|c| c.args == json!({"command": "nproc"})));
    // The general plan runs cpu_load, which already reports load and CPU count.
    let general = crate::plan::baseline_calls(crate::plan::Category::General, &mut 1);
    assert!(!sweep_calls(&general, &mut 1)
        .iter()
        .any(|c| c.tool == "run_command"));
    for c in &sweep {
        let tool = registry
            .get(&c.tool)
            .unwrap_or_else(|| panic!("{} is not a tool", c.tool));
        let steps = tool
            .render(&c.args, &crate::tools::HostFacts::default())
            .unwrap_or_else(|e| panic!("{} {}: {e}", c.tool, c.args));
        for s in &steps {
            for argv in s.all_argv() {
                assert!(
                    matches!(policy.check(argv), crate::policy::Decision::Allow { .. }),
                    "{argv:?} denied"
                );
            }
        }
    }
}

#[test]
fn runbook_section_must_match_the_finding() {
    let f = run(&[journal(NGINX_BIND)]);
    let port = f.iter().find(|x| x.kind == "port_conflict").unwrap();
    let hits = vec![
        (
            "nginx.md#Symptoms".to_string(),
            "Symptoms".to_string(),
            "- Nothing listens on :80/:443, or the port is taken by another process.\n".to_string(),
        ),
        (
            "disk-full.md#Database and application data".to_string(),
            "Database and application data".to_string(),
            "- Database WAL retained by replication slots.\n".to_string(),
        ),
        (
            "apache.md#Port already in use".to_string(),
            "Port already in use".to_string(),
            "`(98)Address already in use`: another process holds the port.\n\n1. `list_sockets` shows who holds it.\n2. Stop it or change `Listen`.\n".to_string(),
        ),
    ];
    let (cite, steps) = pick_runbook_section(port, &hits).unwrap();
    assert_eq!(cite, "apache.md#Port already in use");
    assert_eq!(steps.len(), 2);
    assert!(pick_runbook_section(port, &hits[..2]).is_none());
}

#[test]
fn crash_and_upstream_lookalikes_do_not_fire() {
    let log = "\
Nov 25 07:58:01 app01 systemd[1]: systemd-coredump.socket: Deactivated successfully.
Nov 25 07:58:02 app01 kernel: Segment Routing with IPv6
Nov 25 07:58:03 app01 systemd[1]: imgproc.service: Main process exited, code=exited, status=0/SUCCESS
2026/11/25 10:00:00 [warn] 902#902: *19 an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/1/00/0000000001 while reading upstream, client: 10.0.0.9, server: shop.example.com, request: \"GET /big HTTP/1.1\", upstream: \"http://127.0.0.1:8080/big\", host: \"shop.example.com\"
";
    none(&run(&[journal(log)]));
}
