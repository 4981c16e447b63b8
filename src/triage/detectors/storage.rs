//! Storage detectors: network filesystems that stopped answering (SUNRPC's `nfs: server X not
//! responding`, with its `OK` recovery line; CIFS/SMB `has not responded … Reconnecting`),
//! degraded md RAID (`/proc/mdstat` and the md/mdadm kernel and monitor lines), filesystems that
//! failed to mount at boot (systemd mount units, `mount:` errors, device timeouts, emergency
//! mode), and disk growth: which directory under a filling filesystem grew, and the likely
//! writer (dated backup archives without rotation, huge logs, core dumps, the journal).
use super::{plural, Corpus, Detector, Finding, New, Severity};

mod growth;

pub(super) use growth::DISK_GROWTH;

/// A block's lines oldest first: sorted by their own timestamps (a line without one keeps the
/// time of the line before it), so "the last word" (a server `OK` again, a link up, a login
/// after a lockout) does not depend on the order a tool printed them in.
pub(super) fn in_time_order<'b>(c: &Corpus, b: &'b super::Block) -> Vec<&'b str> {
    let now = crate::triage::time::epoch_secs(c.now);
    let mut last = i64::MIN;
    let mut v: Vec<(i64, usize, &str)> = b
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if let Some(t) = crate::triage::time::line_time(l, now, None) {
                last = t;
            }
            (last, i, l)
        })
        .collect();
    v.sort_by_key(|(t, i, _)| (*t, *i));
    v.into_iter().map(|(_, _, l)| l).collect()
}

/// Every line of every log block, oldest first, each message once (the same journal line read
/// by two calls, in two output formats, counts once), with the block it came from. A state
/// machine over this sees a recovery line even when the call that found the error grepped only
/// for errors.
pub(super) fn all_logs_in_time_order<'c>(c: &'c Corpus) -> Vec<(&'c super::Block<'c>, &'c str)> {
    let now = crate::triage::time::epoch_secs(c.now);
    let mut v: Vec<(i64, usize, usize, &super::Block, &str)> = Vec::new();
    for (bi, b) in c.logs().enumerate() {
        let mut last = i64::MIN;
        for (i, l) in b.lines().enumerate() {
            if let Some(t) = crate::triage::time::line_time(l, now, None) {
                last = t;
            }
            v.push((last, bi, i, b, l));
        }
    }
    v.sort_by_key(|(t, bi, i, _, _)| (*t, *bi, *i));
    let mut seen = std::collections::HashSet::new();
    v.into_iter()
        .filter(|(t, _, _, _, l)| seen.insert((*t, super::message_part(l))))
        .map(|(_, _, _, b, l)| (b, l))
        .collect()
}

/// A finding's block and lines from lines gathered across blocks: the block of the newest line,
/// the last `MAX_EVIDENCE` lines from it as evidence, lines from other blocks as support.
pub(super) fn split_evidence<'a>(
    lines: &[(&'a super::Block<'a>, &str)],
) -> (&'a super::Block<'a>, Vec<String>, Vec<super::Supporting>) {
    let b = lines.last().expect("at least one line").0;
    let own: Vec<String> = lines
        .iter()
        .filter(|(x, _)| std::ptr::eq(*x, b))
        .map(|(_, l)| l.to_string())
        .collect();
    let own = own[own.len().saturating_sub(super::MAX_EVIDENCE)..].to_vec();
    let others: Vec<super::Supporting> = lines
        .iter()
        .filter(|(x, _)| !std::ptr::eq(*x, b))
        .rev()
        .take(3)
        .map(|(x, l)| super::support(x, l))
        .collect();
    (b, own, others)
}

/// The kind the disk-growth detector (in `storage/growth.rs`) emits.
const DISK_GROWTH_KIND: &str = "disk_growth";

/// The `nfs_not_responding` detector.
pub(super) const NFS: Detector = Detector {
    journal: &[
        r"server [^ ]+ not responding",
        r"(nfs|lockd): server [^ ]+ ok",
        r"has not responded in \d+ seconds",
        r"cifs.{0,20}reconnect",
    ],
    sweep: &[],
    run: nfs,
};

/// The `raid_degraded` detector.
pub(super) const RAID: Detector = Detector {
    journal: &[
        r"md/raid\d*:",
        r"md: kicking non-fresh",
        r"(degradedarray|fail) event detected",
        r"md: (md\d+: )?recovery",
    ],
    sweep: &[("run_command", r#"{"command":"cat /proc/mdstat"}"#)],
    run: raid,
};

/// The `failed_mount` detector.
pub(super) const FAILED_MOUNT: Detector = Detector {
    journal: &[
        r"failed to mount ",
        r"dependency failed for ",
        r"mount: /[^ ]*: ",
        r"timed out waiting for device",
        r"emergency mode",
        r"run fsck manually",
    ],
    sweep: &[],
    run: failed_mount,
};

/// NFS/CIFS servers that stopped answering, unless a later line says they are back.
fn nfs(c: &Corpus, out: &mut Vec<Finding>) {
    // net/sunrpc/clnt.c: "%s: server %s not responding, still trying|timed out" and "%s: server %s OK".
    let down = re!(
        r"\b(nfs|lockd|NFS4?|rpcbind|portmap): server (\S+) not responding, (still trying|timed out)"
    );
    let up = re!(r"\b(?:nfs|lockd|NFS4?|rpcbind|portmap): server (\S+) OK\b");
    // fs/smb/client: cifs_server_dbg(VFS, "has not responded in %lu seconds. Reconnecting...")
    let cifs = re!(
        r"CIFS:? VFS: (?:\\\\(\S+?)(?:\\\S*)? |Server (\S+) )has not responded in (\d+) seconds\. Reconnecting"
    );
    let cifs_other =
        re!(r"CIFS:? VFS: (?:\\\\(\S+?) )?(?:reconnect tcon failed|cifs_reconnect|Send error in)");
    // Per server: its lines (with their blocks), whether it timed out, whether the last word is "OK".
    let mut servers: Vec<Server> = Vec::new();
    for (b, line) in all_logs_in_time_order(c) {
        if let Some(m) = down.captures(line) {
            let i = entry(&mut servers, &m[2], "NFS");
            let s = &mut servers[i];
            s.2.push((b, line));
            s.3 |= &m[3] == "timed out";
            s.4 = false;
        } else if let Some(m) = up.captures(line) {
            let i = entry(&mut servers, &m[1], "NFS");
            servers[i].2.push((b, line));
            servers[i].4 = true;
        } else if let Some(m) = cifs.captures(line) {
            let name = m.get(1).or(m.get(2)).map_or("", |x| x.as_str());
            let i = entry(&mut servers, name, "CIFS");
            servers[i].2.push((b, line));
            servers[i].4 = false;
        } else if let Some(m) = cifs_other.captures(line) {
            let name = m.get(1).map_or("", |x| x.as_str());
            if let Some(i) = servers.iter().position(|s| s.0 == name || name.is_empty()) {
                servers[i].2.push((b, line));
            }
        }
    }
    for (server, fs, lines, timed_out, recovered) in servers {
        let downs = lines.iter().filter(|(_, l)| !up.is_match(l)).count();
        if downs == 0 {
            continue;
        }
        let (severity, rank, summary) = if recovered {
            (
                Severity::Info,
                20,
                format!(
                    "{fs} server {server} stopped responding ({downs} time{}) and recovered (`server {server} OK`)",
                    plural(downs)
                ),
            )
        } else {
            (
                Severity::Critical,
                91,
                format!(
                    "{fs} server {server} is not responding{}: processes reading its mounts hang in D state",
                    if timed_out { " (requests time out)" } else { " (the kernel is still retrying)" }
                ),
            )
        };
        let (b, evidence, supporting) = split_evidence(&lines);
        let mut f = New {
            kind: "nfs_not_responding",
            category: "disk",
            severity,
            rank,
            subject: server.clone(),
            summary,
            block: b,
            evidence,
            actions: vec![
                format!("Check the server and the path to it: `ping -c3 {server}`, `rpcinfo -p {server}` (NFS) or `smbclient -L //{server} -N` (CIFS), `showmount -e {server}`"),
                "See which mounts use it: `grep -E 'nfs|cifs' /proc/mounts`; processes stuck on it: `ps -eo pid,stat,wchan:32,comm | awk '$2 ~ /^D/'`".into(),
                "Fix the server or network; for a server that is gone for good, `umount -f -l` the mount (hard mounts wait forever) and fix fstab".into(),
            ],
        }
        .build();
        f.supporting = supporting;
        out.push(f);
    }
}

/// A network filesystem server: name, filesystem, lines, timed out, last word was "OK".
type Server<'a> = (
    String,
    &'static str,
    Vec<(&'a super::Block<'a>, &'a str)>,
    bool,
    bool,
);

fn entry(servers: &mut Vec<Server<'_>>, name: &str, fs: &'static str) -> usize {
    if let Some(i) = servers.iter().position(|s| s.0 == name) {
        i
    } else {
        servers.push((name.to_string(), fs, Vec::new(), false, false));
        servers.len() - 1
    }
}

/// Degraded md arrays: `/proc/mdstat` (`[2/1] [U_]`, `(F)` members, `recovery = 12.3%`) and md
/// kernel / mdadm monitor lines.
fn raid(c: &Corpus, out: &mut Vec<Finding>) {
    let array =
        re!(r"^(md\w+) : (\w+) (?:\((?:auto-)?read-only\) )?(raid\d+|linear|multipath)\b(.*)$");
    let status = re!(r"\[(\d+)/(\d+)\] \[([U_]+)\]");
    let progress = re!(r"(recovery|resync|reshape|check) =\s*([\d.]+)%.*?(?:finish=(\S+))?");
    for b in c
        .blocks
        .iter()
        .filter(|b| b.command.contains("/proc/mdstat") || b.path_arg() == Some("/proc/mdstat"))
        .filter(|b| !b.is_log())
    {
        let lines: Vec<&str> = b.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let Some(m) = array.captures(lines[i]) else {
                i += 1;
                continue;
            };
            let (md, level, members) = (m[1].to_string(), m[3].to_string(), m[4].to_string());
            let head = lines[i].to_string();
            let mut ev = vec![head.clone()];
            let mut degraded = None;
            let mut rebuild = None;
            i += 1;
            while i < lines.len()
                && !array.is_match(lines[i])
                && !lines[i].starts_with("unused devices")
            {
                if let Some(s) = status.captures(lines[i]) {
                    let (want, have) = (
                        s[1].parse::<u32>().unwrap_or(0),
                        s[2].parse::<u32>().unwrap_or(0),
                    );
                    if have < want {
                        degraded = Some((want, have, s[3].to_string()));
                        ev.push(lines[i].trim().to_string());
                    }
                }
                if let Some(p) = progress.captures(lines[i]) {
                    rebuild = Some((p[1].to_string(), p[2].to_string()));
                    ev.push(lines[i].trim().to_string());
                }
                i += 1;
            }
            let failed: Vec<&str> = members
                .split_whitespace()
                .filter(|d| d.contains("(F)"))
                .collect();
            if degraded.is_none() && failed.is_empty() {
                continue;
            }
            let mut summary = format!("RAID array /dev/{md} ({level}) is degraded");
            if let Some((want, have, map)) = &degraded {
                summary.push_str(&format!(": {have} of {want} devices working [{map}]"));
            }
            if !failed.is_empty() {
                summary.push_str(&format!(
                    "; failed member{}: {}",
                    plural(failed.len()),
                    failed.join(", ")
                ));
            }
            let rebuilding = rebuild
                .as_ref()
                .is_some_and(|(k, _)| k == "recovery" || k == "reshape");
            if let Some((kind, pctv)) = &rebuild {
                summary.push_str(&format!("; {kind} at {pctv}%"));
            }
            out.push(raid_finding(
                &md,
                summary,
                b,
                ev,
                rebuilding,
                degraded.is_some(),
            ));
        }
    }
    // Kernel and mdadm lines.
    let fail = re!(r"md/raid\d*:(md\w+): Disk failure on (\w+), disabling device");
    let cont = re!(r"md/raid\d*:(md\w+): Operation continuing on (\d+) devices");
    let active = re!(
        r"md/raid\d*:(md\w+): (?:raid level \d+ )?active with (\d+) out of (\d+) (?:mirrors|devices)"
    );
    let kick = re!(r"md: kicking non-fresh (\w+) from array");
    let mdadm = re!(r"(DegradedArray|Fail|FailSpare) event detected on md device /dev/(md\w+)");
    let done = re!(r"md: (md\w+): (?:recovery|resync) done");
    for b in c.logs() {
        let mut arrays: Vec<(String, Vec<String>, bool)> = Vec::new();
        for line in in_time_order(c, b) {
            let md = if let Some(m) = fail.captures(line) {
                Some(m[1].to_string())
            } else if let Some(m) = cont.captures(line) {
                Some(m[1].to_string())
            } else if let Some(m) = active.captures(line) {
                (m[2] != m[3]).then(|| m[1].to_string())
            } else if let Some(m) = mdadm.captures(line) {
                Some(m[2].to_string())
            } else if kick.is_match(line) {
                Some(String::from("md"))
            } else if let Some(m) = done.captures(line) {
                if let Some(a) = arrays.iter_mut().find(|a| a.0 == m[1]) {
                    a.1.push(line.to_string());
                    a.2 = true;
                }
                None
            } else {
                None
            };
            let Some(md) = md else { continue };
            match arrays.iter_mut().find(|a| a.0 == md) {
                Some(a) => {
                    a.1.push(line.to_string());
                    a.2 = false;
                }
                None => arrays.push((md, vec![line.to_string()], false)),
            }
        }
        for (md, lines, recovered) in arrays {
            let summary = if recovered {
                format!("RAID array /dev/{md} lost a member and was rebuilt (`recovery done`)")
            } else {
                format!("RAID array /dev/{md} lost a member: the kernel disabled a failed disk and the array runs degraded")
            };
            let mut f = raid_finding(&md, summary, b, lines, false, !recovered);
            if recovered {
                f.severity = Severity::Info;
                f.rank = 20;
            }
            out.push(f);
        }
    }
}

fn raid_finding<'a>(
    md: &str,
    summary: String,
    b: &'a super::Block<'a>,
    evidence: Vec<String>,
    rebuilding: bool,
    degraded: bool,
) -> Finding {
    New {
        kind: "raid_degraded",
        category: "disk",
        severity: if degraded && !rebuilding { Severity::Critical } else { Severity::Warning },
        rank: 90,
        subject: md.to_string(),
        summary,
        block: b,
        evidence,
        actions: vec![
            format!("See the array and its members: `cat /proc/mdstat`, `mdadm --detail /dev/{md}`"),
            "Check the failed disk's health (`smartctl -a /dev/sdX`) and the kernel log for its I/O errors".into(),
            format!("Replace the disk and add it back (`mdadm /dev/{md} --remove <failed>`, then `--add <new>`); until the rebuild finishes one more failure loses data: check the backups"),
        ],
    }
    .build()
}

/// Filesystems that failed to mount at boot: systemd mount units, `mount:` errors, device
/// timeouts, emergency mode; and `*.mount` units `systemctl --failed` lists.
fn failed_mount(c: &Corpus, out: &mut Vec<Finding>) {
    // systemd 252: "Failed to mount data.mount - /data."; older: "Failed to mount /data."
    let failed = re!(r"Failed to mount (?:\S+\.mount - )?(/\S*?)\.?$");
    let dep_mount = re!(r"Dependency failed for (?:\S+\.mount - )?(/\S*?)\.?$");
    let dep_target = re!(
        r"Dependency failed for (?:local-fs\.target - |remote-fs\.target - )?(Local File Systems|Remote File Systems)\.?$"
    );
    let mount_err = re!(
        r"mount(?:\[\d+\])?: (/\S*): (wrong fs type|special device|can't find|mount point does not exist|unknown filesystem type|cannot mount|can't read superblock|mount\(2\) system call failed|fsconfig system call failed|bad option)"
    );
    let unit = re!(
        r"([\w\\-]+)\.mount: (?:Mount process exited, code=exited, status=(\d+)|Failed with result '([\w-]+)')"
    );
    let timed_out = re!(r"Timed out waiting for device (?:\S+\.device - )?(/dev/\S+?)\.?$");
    let emergency = re!(
        r#"You are in emergency mode|Reached target emergency\.target|Started emergency\.service"#
    );
    let fsck = re!(r"(/dev/\S+): UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY");
    for b in c.logs() {
        let mut mounts: Vec<String> = Vec::new();
        let mut lines: Vec<String> = Vec::new();
        let mut device: Vec<String> = Vec::new();
        let mut emerg = false;
        let mut local_fs = false;
        for line in b.lines() {
            if let Some(m) = failed.captures(line).or_else(|| dep_mount.captures(line)) {
                push_unique(&mut mounts, &m[1]);
            } else if let Some(m) = mount_err.captures(line) {
                push_unique(&mut mounts, &m[1]);
            } else if dep_target.is_match(line) {
                local_fs = true;
            } else if let Some(m) = unit.captures(line) {
                push_unique(&mut mounts, &unit_path(&m[1]));
            } else if let Some(m) = timed_out.captures(line) {
                push_unique(&mut device, &m[1]);
            } else if let Some(m) = fsck.captures(line) {
                push_unique(&mut device, &m[1]);
            } else if emergency.is_match(line) {
                emerg = true;
            } else {
                continue;
            }
            lines.push(line.to_string());
        }
        if mounts.is_empty() && device.is_empty() {
            continue;
        }
        // The mount error and the device timeout explain more than the generic lines.
        lines.sort_by_key(|l| {
            !(mount_err.is_match(l)
                || timed_out.is_match(l)
                || failed.is_match(l)
                || fsck.is_match(l))
        });
        let what = if mounts.is_empty() {
            device.join(", ")
        } else {
            mounts.join(", ")
        };
        let mut summary = format!("{what} failed to mount at boot");
        if !device.is_empty() && !mounts.is_empty() {
            summary.push_str(&format!(
                " (device {} never appeared or failed fsck)",
                device.join(", ")
            ));
        }
        if local_fs {
            summary.push_str("; local-fs.target failed, so units that need it did not start");
        }
        if emerg {
            summary.push_str("; the host booted into emergency mode");
        }
        out.push(mount_finding(&what, summary, b, lines));
    }
    // `systemctl --failed`: `● data.mount loaded failed failed /data`.
    let listed = re!(r"^[●*\s]*([\w\\-]+)\.mount\s+loaded\s+failed\s+failed\s*(.*)$");
    for b in c.by_program("systemctl").chain(
        c.blocks
            .iter()
            .filter(|b| b.tool == "list_services" && b.program().is_empty()),
    ) {
        for line in b.lines() {
            if let Some(m) = listed.captures(line) {
                let path = if m[2].starts_with('/') {
                    m[2].trim().to_string()
                } else {
                    unit_path(&m[1])
                };
                let summary = format!(
                    "Mount unit {}.mount ({path}) is failed: the filesystem is not mounted",
                    &m[1]
                );
                out.push(mount_finding(&path, summary, b, vec![line.to_string()]));
            }
        }
    }
}

fn mount_finding<'a>(
    what: &str,
    summary: String,
    b: &'a super::Block<'a>,
    ev: Vec<String>,
) -> Finding {
    New {
        kind: "failed_mount",
        category: "disk",
        severity: Severity::Critical,
        rank: 90,
        subject: what.split(", ").next().unwrap_or(what).to_string(),
        summary,
        block: b,
        evidence: ev,
        actions: vec![
            "Read why: `journalctl -b -u '*.mount' -u local-fs.target` and `systemctl status <path>.mount`".into(),
            "Compare /etc/fstab with the devices present: `lsblk -f`, `blkid` (a changed UUID, a missing disk, a wrong fs type)".into(),
            "Fix the fstab entry (`nofail` for disks that may be absent, `x-systemd.device-timeout=`), then `systemctl daemon-reload` and `mount -a`".into(),
        ],
    }
    .build()
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

/// The path a mount unit name stands for: `srv-nfs\x2ddata` → `/srv/nfs-data`, `-` → `/`.
fn unit_path(name: &str) -> String {
    if name == "-" {
        return "/".into();
    }
    format!("/{}", name.replace('-', "/").replace("\\x2d", "-"))
}
