//! Tests for the storage detectors: NFS/CIFS servers not responding (and their recovery), md
//! RAID degraded (`/proc/mdstat` and kernel lines), failed mounts at boot, and disk growth with
//! the directory and the writer.
use super::*;

fn kernel(stdout: &str) -> ToolOutcome {
    outcome("T2", "kernel_log", "journalctl -k --no-pager", stdout)
}

#[test]
fn nfs_server_not_responding() {
    let log = "\
Nov 25 11:38:02 app01 kernel: nfs: server filer01.example.com not responding, still trying
Nov 25 11:38:32 app01 kernel: nfs: server filer01.example.com not responding, still trying
Nov 25 11:39:02 app01 kernel: nfs: server 10.0.5.20 not responding, timed out
";
    let f = run(&[kernel(log)]);
    let n: Vec<&Finding> = f
        .iter()
        .filter(|x| x.kind == "nfs_not_responding")
        .collect();
    assert_eq!(n.len(), 2, "{f:#?}");
    let filer = n
        .iter()
        .find(|x| x.subject == "filer01.example.com")
        .unwrap();
    assert_eq!(filer.severity, Severity::Critical);
    assert!(
        filer.summary.contains("still retrying"),
        "{}",
        filer.summary
    );
    let ip = n.iter().find(|x| x.subject == "10.0.5.20").unwrap();
    assert!(ip.summary.contains("time out"), "{}", ip.summary);
}

#[test]
fn nfs_server_ok_afterwards_is_recovered() {
    let log = "\
Nov 25 11:38:02 app01 kernel: nfs: server filer01 not responding, still trying
Nov 25 11:39:10 app01 kernel: nfs: server filer01 OK
";
    let f = run(&[kernel(log)]);
    let n = only(&f, "nfs_not_responding");
    assert_eq!(n.severity, Severity::Info);
    assert!(n.summary.contains("recovered"), "{}", n.summary);
    // And the reverse order: OK, then down again, is down.
    let log = "\
Nov 25 11:30:00 app01 kernel: nfs: server filer01 OK
Nov 25 11:38:02 app01 kernel: nfs: server filer01 not responding, still trying
";
    assert_eq!(
        only(&run(&[kernel(log)]), "nfs_not_responding").severity,
        Severity::Critical
    );
}

#[test]
fn cifs_server_not_responding() {
    for line in [
        r"Nov 25 11:40:00 app01 kernel: CIFS: VFS: \\fs01.corp.example has not responded in 180 seconds. Reconnecting...",
        r"Nov 25 11:40:00 app01 kernel: CIFS VFS: Server fs01.corp.example has not responded in 120 seconds. Reconnecting...",
    ] {
        let f = run(&[kernel(line)]);
        let n = only(&f, "nfs_not_responding");
        assert_eq!(n.subject, "fs01.corp.example", "{line}");
        assert!(n.summary.starts_with("CIFS server"), "{}", n.summary);
    }
}

#[test]
fn nfs_mount_options_and_exports_are_not_outages() {
    let log = "\
Nov 25 11:00:00 app01 kernel: NFS: Registering the id_resolver key type
Nov 25 11:00:00 app01 kernel: FS-Cache: Netfs 'nfs' registered for caching
Nov 25 11:00:01 app01 rpc.mountd[700]: authenticated mount request from 10.0.0.5:812 for /export/home (/export/home)
Nov 25 11:00:02 app01 kernel: CIFS: Attempting to mount \\\\fs01\\share
";
    none(&run(&[kernel(log)]));
}

const MDSTAT_DEGRADED: &str = "\
Personalities : [raid1] [linear] [multipath] [raid0] [raid6] [raid5] [raid4] [raid10]
md1 : active raid1 sdb2[1](F) sda2[0]
      976630464 blocks super 1.2 [2/1] [U_]
      bitmap: 3/8 pages [12KB], 65536KB chunk

md0 : active raid1 sdb1[1] sda1[0]
      1046528 blocks super 1.2 [2/2] [UU]

md2 : active raid5 sde[3] sdd[1] sdc[0]
      1953260544 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/2] [UU_]
      [====>................]  recovery = 23.4% (228627200/976630272) finish=81.3min speed=153284K/sec

unused devices: <none>
";

#[test]
fn mdstat_degraded_failed_member_and_rebuild() {
    let f = run(&[outcome(
        "T7",
        "run_command",
        "cat /proc/mdstat",
        MDSTAT_DEGRADED,
    )]);
    let r: Vec<&Finding> = f.iter().filter(|x| x.kind == "raid_degraded").collect();
    assert_eq!(r.len(), 2, "{f:#?}");
    let md1 = r.iter().find(|x| x.subject == "md1").unwrap();
    assert_eq!(md1.severity, Severity::Critical);
    assert!(
        md1.summary.contains("1 of 2 devices working [U_]"),
        "{}",
        md1.summary
    );
    assert!(md1.summary.contains("sdb2[1](F)"), "{}", md1.summary);
    let md2 = r.iter().find(|x| x.subject == "md2").unwrap();
    assert_eq!(md2.severity, Severity::Warning);
    assert!(md2.summary.contains("recovery at 23.4%"), "{}", md2.summary);
}

#[test]
fn healthy_mdstat_and_a_check_are_quiet() {
    let md = "\
Personalities : [raid1]
md0 : active raid1 sdb1[1] sda1[0]
      1046528 blocks super 1.2 [2/2] [UU]
      [=>...................]  check =  8.5% (89088/1046528) finish=0.1min speed=89088K/sec

unused devices: <none>
";
    none(&run(&[outcome(
        "T7",
        "run_command",
        "cat /proc/mdstat",
        md,
    )]));
    // The same text in a log file (a runbook pasted into a ticket) is not /proc/mdstat.
    none(&run(&[outcome(
        "T8",
        "read_file",
        "tail -n 50 /var/log/raid-notes.log",
        MDSTAT_DEGRADED,
    )]));
}

#[test]
fn md_kernel_lines_raid1_and_raid5() {
    let raid1 = "\
Nov 25 11:20:00 db01 kernel: md/raid1:md0: Disk failure on sdb1, disabling device.
Nov 25 11:20:00 db01 kernel: md/raid1:md0: Operation continuing on 1 devices.
";
    let f = run(&[kernel(raid1)]);
    let r = only(&f, "raid_degraded");
    assert_eq!(r.subject, "md0");
    assert_eq!(r.severity, Severity::Critical);
    let raid5 = "\
Nov 25 11:20:00 db01 kernel: md/raid:md127: Disk failure on sdc, disabling device.
Nov 25 11:20:00 db01 kernel: md/raid:md127: Operation continuing on 2 devices.
Nov 25 11:20:05 db01 mdadm[812]: Fail event detected on md device /dev/md127, component device /dev/sdc
";
    let r = only(&run(&[journal(raid5)]), "raid_degraded");
    assert_eq!(r.subject, "md127");
    assert_eq!(r.evidence.len(), 3);
    // Assembled degraded at boot.
    let boot = "Nov 25 11:00:00 db01 kernel: md/raid1:md0: active with 1 out of 2 mirrors";
    assert_eq!(
        only(&run(&[kernel(boot)]), "raid_degraded").severity,
        Severity::Critical
    );
}

#[test]
fn md_healthy_assembly_and_finished_rebuild() {
    let log = "\
Nov 25 08:00:00 db01 kernel: md/raid1:md0: active with 2 out of 2 mirrors
Nov 25 08:00:00 db01 kernel: md0: detected capacity change from 0 to 1071644672
Nov 25 08:00:00 db01 kernel: md: raid1 personality registered for level 1
";
    none(&run(&[kernel(log)]));
    let rebuilt = "\
Nov 25 09:00:00 db01 kernel: md/raid1:md0: Disk failure on sdb1, disabling device.
Nov 25 11:00:00 db01 kernel: md: md0: recovery done.
";
    let r = only(&run(&[kernel(rebuilt)]), "raid_degraded");
    assert_eq!(r.severity, Severity::Info);
}

#[test]
fn failed_mount_at_boot() {
    // systemd 252 wording, with the mount error and local-fs.target.
    let log = "\
Nov 25 11:00:03 app01 systemd[1]: Mounting data.mount - /data...
Nov 25 11:00:03 app01 mount[402]: mount: /data: wrong fs type, bad option, bad superblock on /dev/sdb1, missing codepage or helper program, or other error.
Nov 25 11:00:03 app01 systemd[1]: data.mount: Mount process exited, code=exited, status=32/n/a
Nov 25 11:00:03 app01 systemd[1]: data.mount: Failed with result 'exit-code'.
Nov 25 11:00:03 app01 systemd[1]: Failed to mount data.mount - /data.
Nov 25 11:00:03 app01 systemd[1]: Dependency failed for local-fs.target - Local File Systems.
Nov 25 11:00:03 app01 systemd[1]: local-fs.target: Job local-fs.target/start failed with result 'dependency'.
";
    let f = run(&[journal(log)]);
    let m = only(&f, "failed_mount");
    assert_eq!(m.subject, "/data");
    assert_eq!(m.severity, Severity::Critical);
    assert!(m.evidence[0].contains("wrong fs type"), "{:?}", m.evidence);
    assert!(
        m.summary.contains("local-fs.target failed"),
        "{}",
        m.summary
    );
    // Older systemd, a device that never appears, emergency mode.
    let old = "\
Nov 25 11:01:33 app01 systemd[1]: Timed out waiting for device dev-disk-by\\x2duuid-3f1c2d4e.device - /dev/disk/by-uuid/3f1c2d4e.
Nov 25 11:01:33 app01 systemd[1]: Dependency failed for /srv/backup.
Nov 25 11:01:33 app01 systemd[1]: Dependency failed for Local File Systems.
Nov 25 11:01:34 app01 systemd[1]: Started emergency.service - Emergency Shell.
";
    let m = only(&run(&[journal(old)]), "failed_mount");
    assert_eq!(m.subject, "/srv/backup");
    assert!(
        m.summary.contains("/dev/disk/by-uuid/3f1c2d4e"),
        "{}",
        m.summary
    );
    assert!(m.summary.contains("emergency mode"), "{}", m.summary);
}

#[test]
fn mount_errors_from_several_util_linux_versions() {
    for (line, path) in [
        ("Nov 25 11:00:03 app01 mount[402]: mount: /data: special device /dev/sdb1 does not exist.", "/data"),
        ("Nov 25 11:00:03 app01 mount[402]: mount: /mnt/archive: can't find UUID=3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f.", "/mnt/archive"),
        ("Nov 25 11:00:03 app01 mount[402]: mount: /srv/zfs: unknown filesystem type 'zfs'.", "/srv/zfs"),
        ("Nov 25 11:00:03 app01 mount[402]: mount: /data: fsconfig system call failed: /dev/sdb1: Can't lookup blockdev.", "/data"),
        ("Nov 25 11:00:03 app01 systemd-fsck[390]: /dev/sdb1: UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.", "/dev/sdb1"),
    ] {
        let m = only(&run(&[journal(line)]), "failed_mount");
        assert_eq!(m.subject, path, "{line}");
    }
}

#[test]
fn failed_mount_unit_in_systemctl_failed() {
    let list = "\
  UNIT                   LOAD   ACTIVE SUB    DESCRIPTION
● srv-nfs\\x2ddata.mount loaded failed failed /srv/nfs-data
● nginx.service          loaded failed failed A high performance web server
";
    let f = run(&[outcome(
        "T3",
        "list_services",
        "systemctl list-units --failed --no-pager",
        list,
    )]);
    let m = only(&f, "failed_mount");
    assert_eq!(m.subject, "/srv/nfs-data");
}

#[test]
fn mounts_that_worked_are_quiet() {
    let log = "\
Nov 25 11:00:03 app01 systemd[1]: Mounting data.mount - /data...
Nov 25 11:00:03 app01 systemd[1]: Mounted data.mount - /data.
Nov 25 11:00:03 app01 systemd[1]: Reached target local-fs.target - Local File Systems.
Nov 25 11:00:03 app01 kernel: EXT4-fs (sdb1): mounted filesystem with ordered data mode. Quota mode: none.
";
    none(&run(&[journal(log)]));
}

const DF_BACKUP_FULL: &str = "\
Filesystem     Type   Size  Used Avail Use% Mounted on
/dev/vda1      ext4    40G   12G   26G  32% /
/dev/vdb1      ext4   200G  196G  4.0G  98% /var/backups
tmpfs          tmpfs  1.6G  1.2M  1.6G   1% /run
";

#[test]
fn disk_growth_names_backups_without_rotation() {
    let mut du = String::from("4\t/var/log/apt\n120\t/var/log/syslog\n");
    for d in 1..=25 {
        du.push_str(&format!(
            "8126464\t/var/backups/pgdump-2026-11-{d:02}.sql.gz\n"
        ));
    }
    du.push_str("203161600\t/var/backups\n");
    let f = run(&[
        outcome("T3", "disk_usage", "df -hPT", DF_BACKUP_FULL),
        outcome(
            "T9",
            "run_command",
            "du -xak -d 1 /var/log /var/backups /var/crash /var/lib/systemd/coredump",
            &du,
        ),
    ]);
    let g = only(&f, "disk_growth");
    assert_eq!(g.subject, "/var/backups");
    assert_eq!(g.severity, Severity::Critical);
    assert!(
        g.summary
            .contains("25 dated backup archives in /var/backups"),
        "{}",
        g.summary
    );
    assert!(
        g.summary.contains("2026-11-01 to 2026-11-25"),
        "{}",
        g.summary
    );
    assert!(g
        .supporting
        .iter()
        .any(|s| s.line.contains("pgdump-2026-11-01") && s.call_id == "T9"));
    assert!(g.actions[0].contains("rotation"), "{:?}", g.actions);
}

#[test]
fn disk_growth_names_logs_cores_and_the_journal() {
    let df = "\
Filesystem     1K-blocks     Used Available Use% Mounted on
/dev/vda1       41152736 38000000   1000000  98% /
";
    let du = "\
9437184\t/var/log/app/debug.log
2097152\t/var/lib/systemd/coredump/core.worker.1000.abc.2211.1764000000000000.zst
2097152\t/var/lib/systemd/coredump/core.worker.1000.abc.2212.1764000100000000.zst
";
    let journal = "Archived and active journals take up 3.9G in the file system.\n";
    let f = run(&[
        outcome("T3", "run_command", "df -P", df),
        outcome(
            "T9",
            "run_command",
            "du -xak -d 1 /var/log /var/lib/systemd/coredump",
            du,
        ),
        outcome("T10", "run_command", "journalctl --disk-usage", journal),
    ]);
    let g = only(&f, "disk_growth");
    assert_eq!(g.subject, "/");
    assert!(
        g.summary.contains("log file /var/log/app/debug.log (9.0G)"),
        "{}",
        g.summary
    );
    assert!(g.summary.contains("2 core dumps (4.0G)"), "{}", g.summary);
    assert!(
        g.summary.contains("the systemd journal (3.9G)"),
        "{}",
        g.summary
    );
}

#[test]
fn disk_growth_needs_a_filling_filesystem_and_a_writer() {
    let mut du = String::new();
    for d in 1..=25 {
        du.push_str(&format!(
            "8126464\t/var/backups/pgdump-2026-11-{d:02}.sql.gz\n"
        ));
    }
    let df_fine = "\
Filesystem     Type   Size  Used Avail Use% Mounted on
/dev/vdb1      ext4   2.0T  200G  1.8T  10% /var/backups
";
    // Plenty of room: many archives are not a problem.
    none(&run(&[
        outcome("T3", "disk_usage", "df -hPT", df_fine),
        outcome("T9", "run_command", "du -xak -d 1 /var/backups", &du),
    ]));
    // Full, but a handful of dated files and small logs name no writer.
    let du_small = "\
40\t/var/log/nginx/access.log-20261124.gz
40\t/var/log/nginx/access.log-20261123.gz
120\t/var/log/syslog
";
    let f = run(&[
        outcome("T3", "disk_usage", "df -hPT", DF_BACKUP_FULL),
        outcome("T9", "run_command", "du -xak -d 1 /var/log", du_small),
    ]);
    assert!(!kinds(&f).contains(&"disk_growth"), "{f:#?}");
}

#[test]
fn recovery_seen_by_another_call_counts() {
    // One call grepped only for errors; the sweep's journal read also has the `OK`.
    let errors_only =
        "2026-11-25T11:38:02+0000 app01 kernel: nfs: server filer01 not responding, still trying\n";
    let both = "\
2026-11-25T11:38:02+0000 app01 kernel: nfs: server filer01 not responding, still trying
2026-11-25T11:39:10+0000 app01 kernel: nfs: server filer01 OK
";
    let f = run(&[
        outcome(
            "T3",
            "read_journal",
            "journalctl --no-pager -q -o short-iso --grep=responding",
            errors_only,
        ),
        outcome(
            "T7",
            "read_journal",
            "journalctl --no-pager -q -o short-iso",
            both,
        ),
    ]);
    let n = only(&f, "nfs_not_responding");
    assert_eq!(n.severity, Severity::Info, "{n:#?}");
    assert_eq!(n.call_id, "T7");
}
