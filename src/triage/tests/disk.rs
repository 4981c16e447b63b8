//! Tests for the disk detectors: full filesystems and inode tables, ENOSPC, read-only filesystems, I/O errors.
use super::*;

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
