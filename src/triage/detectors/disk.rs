//! Disk detectors: full filesystems and inode tables (`df`), `No space left on device`,
//! read-only filesystems (kernel remounts, `mount` output) and block-layer I/O errors.
use regex::Regex;
use std::collections::BTreeMap;

use super::{
    pct, plural, support, Block, Corpus, Detector, Finding, Groups, New, Severity, MAX_EVIDENCE,
};

/// The `disk_space` detector: the journal lines it recognises and the function that reads them.
pub(super) const DISK_SPACE: Detector = Detector {
    journal: &[],
    sweep: &[],
    run: disk_space,
};

/// The `no_space` detector: the journal lines it recognises and the function that reads them.
pub(super) const NO_SPACE: Detector = Detector {
    journal: &[r"no space left on device", r"enospc"],
    sweep: &[],
    run: no_space,
};

/// The `readonly_fs` detector: the journal lines it recognises and the function that reads them.
pub(super) const READONLY_FS: Detector = Detector {
    journal: &[
        r"read-only file system",
        r"remounting filesystem read-only",
        r"forced readonly",
        r"xfs .*(error|shut)",
    ],
    sweep: &[],
    run: readonly_fs,
};

/// The `io_errors` detector: the journal lines it recognises and the function that reads them.
pub(super) const IO_ERRORS: Detector = Detector {
    journal: &[
        r"i/o error",
        r"input/output error",
        r"ext4-fs error",
        r"critical (medium|target|nexus) error",
        r"ata[0-9.]+: (failed command|error: |status: )",
        r"sense key : (medium|hardware) error",
        r"unrecovered read error",
        r"btrfs error",
    ],
    sweep: &[],
    run: io_errors,
};

fn pseudo_mount(fstype: &str, source: &str, mount: &str) -> bool {
    const SKIP_TYPES: &[&str] = &["squashfs", "iso9660", "udf", "erofs", "cramfs", "romfs"];
    SKIP_TYPES.contains(&fstype)
        || mount.starts_with("/snap/")
        || mount.starts_with("/proc")
        || mount.starts_with("/sys")
        || mount.starts_with("/run/credentials")
        || (source.starts_with("/dev/loop") && mount.starts_with("/snap"))
}

fn readonly_actions(mount: &str, dev: &str) -> Vec<String> {
    vec![
        format!("Read the kernel messages that explain it: `journalctl -k | grep -iE 'ext4|xfs|btrfs|I/O error'` (device {dev})"),
        "Check the disk's health (`smartctl -a`, the hypervisor/storage console) before anything else".into(),
        format!("Plan downtime: unmount {mount}, run fsck/xfs_repair, then remount read-write; restore from backup if the device is failing"),
    ]
}

/// `df` and `df -i`: full and nearly full filesystems, exhausted inode tables.
fn disk_space(c: &Corpus, out: &mut Vec<Finding>) {
    for b in c.by_program("df") {
        let lines: Vec<&str> = b.lines().collect();
        let mut i = 0usize;
        let mut header: Option<(bool, usize, Option<usize>, Option<usize>)> = None;
        for _ in 0..lines.len() {
            if i >= lines.len() {
                break;
            }
            let line = lines[i];
            i += 1;
            let toks: Vec<&str> = line.split_whitespace().collect();
            if line.contains("Mounted on") {
                let inode = toks.contains(&"IUse%");
                let idx = toks
                    .iter()
                    .position(|t| *t == "Use%" || *t == "IUse%" || *t == "Capacity");
                let avail = toks
                    .iter()
                    .position(|t| *t == "Avail" || *t == "Available" || *t == "IFree");
                let ty = toks.iter().position(|t| *t == "Type");
                header = idx.map(|p| (inode, p, avail, ty));
                continue;
            }
            let Some((inode, p, avail_idx, ty_idx)) = header else {
                continue;
            };
            let mut toks = toks;
            let mut shown = line.to_string();
            // df wraps a long device name onto its own line.
            if toks.len() == 1 && i < lines.len() && lines[i].starts_with(' ') {
                toks.extend(lines[i].split_whitespace());
                shown = format!("{} {}", line, lines[i].trim());
                i += 1;
            }
            if toks.len() <= p + 1 {
                continue;
            }
            let Some(used) = pct(toks[p]) else { continue };
            let source = toks[0];
            let mount = toks[p + 1..].join(" ");
            let fstype = ty_idx.and_then(|t| toks.get(t)).copied().unwrap_or("");
            if pseudo_mount(fstype, source, &mount) {
                continue;
            }
            let avail = avail_idx.and_then(|a| toks.get(a)).copied().unwrap_or("?");
            let zero = avail == "0" || avail == "0B" || avail == "0K";
            if inode {
                if used < 90 {
                    continue;
                }
                let crit = used >= 95 || zero;
                out.push(
                    New {
                        kind: "inode_exhaustion",
                        category: "disk",
                        severity: if crit { Severity::Critical } else { Severity::Warning },
                        rank: if crit { 89 } else { 35 },
                        subject: mount.clone(),
                        summary: format!(
                            "{mount} has used {used}% of its inodes ({avail} free): new files cannot be created{}",
                            if crit { "" } else { " soon" }
                        ),
                        block: b,
                        evidence: vec![shown],
                        actions: vec![
                            format!(
                                "Find the directories with the most files: `find {mount} -xdev -type d -size +1M` or `du --inodes -x {mount} | sort -n | tail`"
                            ),
                            "Remove or archive the small files (session files, mail queues, caches) that fill the inode table".into(),
                        ],
                    }
                    .build(),
                );
            } else {
                if used < 90 && !zero {
                    continue;
                }
                let crit = used >= 95 || zero;
                out.push(
                    New {
                        kind: if crit { "filesystem_full" } else { "filesystem_nearly_full" },
                        category: "disk",
                        severity: if crit { Severity::Critical } else { Severity::Warning },
                        rank: if crit { 87 } else { 30 },
                        subject: mount.clone(),
                        summary: if crit {
                            format!("Filesystem {mount} ({source}) is {used}% full, {avail} available")
                        } else {
                            format!("Filesystem {mount} ({source}) is nearly full: {used}% used, {avail} available")
                        },
                        block: b,
                        evidence: vec![shown],
                        actions: vec![
                            format!("Find what grew: `du -xh --max-depth=2 {mount} | sort -h | tail -20`"),
                            "Look for deleted files still held open: `lsof +L1`".into(),
                            "Free space (rotate/compress logs, remove old releases or dumps) or grow the filesystem".into(),
                        ],
                    }
                    .build(),
                );
            }
        }
    }
}

/// `No space left on device` wherever it is printed.
fn no_space(c: &Corpus, out: &mut Vec<Finding>) {
    let r = re!(r"No space left on device|\bENOSPC\b");
    for b in c.logs() {
        let lines: Vec<String> = b
            .lines()
            .filter(|l| r.is_match(l))
            .map(str::to_string)
            .collect();
        if lines.is_empty() {
            continue;
        }
        let n = lines.len();
        out.push(
            New {
                kind: "no_space",
                category: "disk",
                severity: Severity::Critical,
                rank: 80,
                subject: "enospc".into(),
                summary: format!(
                    "Writes are failing with \"No space left on device\" ({n} line{})",
                    plural(n)
                ),
                block: b,
                evidence: lines,
                actions: vec![
                    "Check both blocks and inodes of the filesystem written to: `df -h` and `df -i`".into(),
                    "Free space or inodes there, then restart what failed to write".into(),
                ],
            }
            .build(),
        );
    }
}

/// Read-only filesystems: kernel remounts and shutdowns, `Read-only file system` errors, and
/// real filesystems mounted `ro`.
fn readonly_fs(c: &Corpus, out: &mut Vec<Finding>) {
    let remount = re!(
        r"(EXT[234]-fs|BTRFS[^(]*) \(?(?:device )?([^):\s]+)\)?: .*(?:Remounting filesystem read-only|forced readonly)"
    );
    let xfs_down = re!(
        r"XFS \(([^)]+)\): .*(?:Shutting down filesystem|Filesystem has been shut down|Please unmount the filesystem)"
    );
    let erofs = re!(r"Read-only file system|\bEROFS\b");
    let mount_out = re!(r"^(\S+) on (\S+) type (\S+) \(([^)]*)\)$");
    let proc_mounts = re!(r"^(\S+) (/\S*) (\S+) (\S+) \d+ \d+$");
    let findmnt = re!(r"^[\s│├└─|`-]*(/\S*)\s+(\S+)\s+(\S+)\s+(\S+)$");
    const REAL: &[&str] = &[
        "ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "jfs", "reiserfs", "vfat", "exfat", "ntfs",
        "ntfs3", "zfs",
    ];

    struct RoMount<'a> {
        source: String,
        mount: String,
        line: String,
        block: &'a Block<'a>,
    }
    let mut ro: Vec<RoMount> = Vec::new();
    let mut kernel: Vec<(String, String, &Block)> = Vec::new();
    let mut eroses: Vec<(String, &Block)> = Vec::new();
    for b in c
        .blocks
        .iter()
        .filter(|b| b.is_log() || is_mount_listing(b))
    {
        for line in b.lines() {
            if !b.is_log() {
                // fall through to the mount-table parsers below
            } else if let Some(m) = remount.captures(line) {
                kernel.push((m[2].to_string(), line.to_string(), b));
                continue;
            } else if let Some(m) = xfs_down.captures(line) {
                kernel.push((m[1].to_string(), line.to_string(), b));
                continue;
            } else {
                if erofs.is_match(line) {
                    eroses.push((line.to_string(), b));
                }
                continue;
            }
            let parsed = mount_out
                .captures(line)
                .map(|m| {
                    (
                        m[1].to_string(),
                        m[2].to_string(),
                        m[3].to_string(),
                        m[4].to_string(),
                    )
                })
                .or_else(|| {
                    proc_mounts.captures(line).map(|m| {
                        (
                            m[1].to_string(),
                            m[2].to_string(),
                            m[3].to_string(),
                            m[4].to_string(),
                        )
                    })
                })
                .or_else(|| {
                    findmnt.captures(line).map(|m| {
                        (
                            m[2].to_string(),
                            m[1].to_string(),
                            m[3].to_string(),
                            m[4].to_string(),
                        )
                    })
                });
            if let Some((source, mount, fstype, opts)) = parsed {
                let is_ro = opts.split(',').any(|o| o == "ro");
                if is_ro
                    && source.starts_with("/dev/")
                    && REAL.contains(&fstype.as_str())
                    && !pseudo_mount(&fstype, &source, &mount)
                    && !ro.iter().any(|r| r.mount == mount)
                {
                    ro.push(RoMount {
                        source,
                        mount,
                        line: line.to_string(),
                        block: b,
                    });
                }
            }
        }
    }
    let dev_matches = |dev: &str, source: &str| {
        let base = source.rsplit('/').next().unwrap_or(source);
        base == dev || source == dev
    };
    let mut used_kernel = vec![false; kernel.len()];
    let mut used_erofs = vec![false; eroses.len()];
    for r in &ro {
        let mut f = New {
            kind: "readonly_filesystem",
            category: "disk",
            severity: Severity::Warning,
            rank: 86,
            subject: r.mount.clone(),
            summary: format!("{} ({}) is mounted read-only", r.mount, r.source),
            block: r.block,
            evidence: vec![r.line.clone()],
            actions: readonly_actions(&r.mount, &r.source),
        }
        .build();
        for (i, (dev, line, b)) in kernel.iter().enumerate() {
            if dev_matches(dev, &r.source) {
                used_kernel[i] = true;
                f.severity = Severity::Critical;
                f.summary = format!(
                    "The kernel remounted {} ({}) read-only after filesystem errors",
                    r.mount, r.source
                );
                f.supporting.push(support(b, line));
            }
        }
        let prefix = format!("{}/", r.mount.trim_end_matches('/'));
        for (i, (line, b)) in eroses.iter().enumerate() {
            if line.contains(&prefix) || line.contains(&format!("'{}'", r.mount)) {
                used_erofs[i] = true;
                f.severity = Severity::Critical;
                if f.supporting.len() < MAX_EVIDENCE {
                    f.supporting.push(support(b, line));
                }
            }
        }
        if f.severity == Severity::Critical && !f.summary.starts_with("The kernel") {
            f.summary = format!(
                "{} ({}) is mounted read-only and writes to it fail with \"Read-only file system\"",
                r.mount, r.source
            );
        }
        out.push(f);
    }
    let mut by_dev: Groups = Groups::default();
    let mut blocks: BTreeMap<String, &Block> = BTreeMap::new();
    for (i, (dev, line, b)) in kernel.iter().enumerate() {
        if !used_kernel[i] {
            by_dev.add(dev, line);
            blocks.entry(dev.clone()).or_insert(b);
        }
    }
    for (dev, lines) in by_dev.iter() {
        out.push(
            New {
                kind: "readonly_filesystem",
                category: "disk",
                severity: Severity::Critical,
                rank: 86,
                subject: dev.clone(),
                summary: format!("The kernel made the filesystem on {dev} read-only after errors"),
                block: blocks[dev],
                evidence: lines.clone(),
                actions: readonly_actions("the mount point", dev),
            }
            .build(),
        );
    }
    let rest: Vec<(String, &Block)> = eroses
        .iter()
        .enumerate()
        .filter(|(i, _)| !used_erofs[*i])
        .map(|(_, (l, b))| (l.clone(), *b))
        .collect();
    if let Some((_, b)) = rest.first() {
        let lines: Vec<String> = rest
            .iter()
            .filter(|(_, x)| x.call_id == b.call_id)
            .map(|(l, _)| l.clone())
            .collect();
        out.push(
            New {
                kind: "readonly_filesystem",
                category: "disk",
                severity: Severity::Critical,
                rank: 84,
                subject: "erofs".into(),
                summary: "Writes are failing with \"Read-only file system\"".into(),
                block: b,
                evidence: lines,
                actions: readonly_actions("the affected mount", "its device"),
            }
            .build(),
        );
    }
}

/// Whether a block is a mount table: `mount`, `findmnt`, or a read of `/proc/mounts`,
/// `/proc/self/mounts` or `/etc/mtab`.
fn is_mount_listing(b: &Block) -> bool {
    matches!(b.program(), "mount" | "findmnt")
        || (matches!(b.program(), "cat" | "head" | "tail" | "grep")
            && ["/proc/mounts", "/proc/self/mounts", "/etc/mtab"]
                .iter()
                .any(|p| b.command.contains(p)))
}

/// Block-layer, libata, NVMe and filesystem I/O errors.
fn io_errors(c: &Corpus, out: &mut Vec<Finding>) {
    let pats: [&Regex; 9] = [
        re!(r"I/O error, dev ([\w-]+), sector"),
        re!(r"Buffer I/O error on dev(?:ice)? ([\w-]+)"),
        re!(r"critical (?:medium|target|nexus) error, dev ([\w-]+)"),
        re!(r"\b(ata\d+(?:\.\d+)?): (?:failed command|error: \{|status: \{ ?DRDY ERR)"),
        re!(
            r"\[(sd\w+)\] tag#\d+ (?:FAILED Result|Sense Key : (?:Medium|Hardware) Error|Add\. Sense: Unrecovered read error)"
        ),
        re!(r"\b(nvme\d+(?:n\d+)?): .*I/O (?:Cmd.*)?Error"),
        re!(r"EXT[234]-fs (?:warning|error) \(device ([\w-]+)\): .*I/O error"),
        re!(r"XFS \(([\w-]+)\): .*(?:metadata I/O error|log I/O error|I/O error)"),
        re!(r"BTRFS error \(device ([\w-]+)\).*(?:bdev .* errs|I/O error)"),
    ];
    let eio = re!(r"Input/output error");
    for b in c.logs() {
        let mut g = Groups::default();
        for line in b.lines() {
            if let Some(m) = pats.iter().find_map(|r| r.captures(line)) {
                g.add(&m[1], line);
            } else if eio.is_match(line) {
                g.add("EIO", line);
            }
        }
        for (dev, lines) in g.iter() {
            let n = lines.len();
            let (sev, summary) = if dev == "EIO" {
                (
                    Severity::Warning,
                    format!(
                        "Reads or writes fail with \"Input/output error\" ({n} line{})",
                        plural(n)
                    ),
                )
            } else {
                (
                    Severity::Critical,
                    format!("The kernel reports I/O errors on {dev} ({n} line{}): the device or its path is failing", plural(n)),
                )
            };
            out.push(
                New {
                    kind: "io_error",
                    category: "disk",
                    severity: sev,
                    rank: match dev.as_str() {
                        "EIO" => 60,
                        d if d.starts_with("ata") => 83,
                        _ => 85,
                    },
                    subject: dev.clone(),
                    summary,
                    block: b,
                    evidence: lines.clone(),
                    actions: vec![
                        format!("Check the device's health: `smartctl -a /dev/{dev}` (or the storage/hypervisor console for virtual disks)"),
                        "Read the surrounding kernel messages: `journalctl -k -p warning`".into(),
                        "Move the data off the device and replace it if errors continue; restore from backup if files are damaged".into(),
                    ],
                }
                .build(),
            );
        }
    }
}
