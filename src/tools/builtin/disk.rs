//! Disk tools: `disk_usage`, `inode_usage`, `block_devices`, `mounts`.
use schemars::JsonSchema;
use serde::Deserialize;

use super::common::{abs_path, clamp, NoArgs, Spec};
use crate::tools::types::{ArgsError, Step};
use crate::tools::variants::Variants;

/// Arguments of `disk_usage`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiskUsageArgs {
    /// Directory to break down by size (largest first); without it, only filesystem usage.
    pub path: Option<String>,
    /// How many directory levels to sum (default 1, at most 3).
    pub depth: Option<u32>,
}

pub struct DiskUsage;

impl Spec for DiskUsage {
    type Args = DiskUsageArgs;
    const NAME: &'static str = "disk_usage";
    const DESCRIPTION: &'static str =
        "Filesystem usage (df) and, for a path, its largest subdirectories (du, one filesystem)";

    fn steps(&self, a: &DiskUsageArgs, _v: &Variants) -> Result<Vec<Step>, ArgsError> {
        let mut steps = Vec::new();
        match &a.path {
            None => steps.push(Step::new(["df", "-hPT"])),
            Some(p) => {
                abs_path("path", p)?;
                steps.push(Step::new(["df", "-hPT", "--", p]));
                let depth = clamp(a.depth, 1, 3);
                steps.push(
                    Step::new([
                        "du".to_string(),
                        "-xk".into(),
                        format!("--max-depth={depth}"),
                        "--".into(),
                        p.clone(),
                    ])
                    .ok_codes(&[0, 1]),
                );
            }
        }
        Ok(steps)
    }

    fn post(&self, _a: &DiskUsageArgs, index: usize, out: String) -> String {
        if index == 0 {
            return out;
        }
        // du -k output: "<KiB>\t<path>", sorted largest first, top 40, human sizes.
        let mut rows: Vec<(u64, String)> = out
            .lines()
            .filter_map(|l| {
                let (k, p) = l.split_once('\t')?;
                Some((k.trim().parse().ok()?, p.to_string()))
            })
            .collect();
        if rows.is_empty() {
            return out;
        }
        rows.sort_by_key(|r| std::cmp::Reverse(r.0));
        let total = rows.len();
        let mut text: String = rows
            .iter()
            .take(40)
            .map(|(k, p)| format!("{:>8}  {p}\n", crate::render::human_kib(*k)))
            .collect();
        if total > 40 {
            text.push_str(&format!("[{} smaller entries not shown]\n", total - 40));
        }
        text
    }
}

pub struct InodeUsage;

impl Spec for InodeUsage {
    type Args = NoArgs;
    const NAME: &'static str = "inode_usage";
    const DESCRIPTION: &'static str =
        "Inode usage per filesystem (df -i): full inodes look like a full disk";

    fn steps(&self, _a: &NoArgs, _v: &Variants) -> Result<Vec<Step>, ArgsError> {
        Ok(vec![Step::new(["df", "-iPT"])])
    }
}

pub struct BlockDevices;

impl Spec for BlockDevices {
    type Args = NoArgs;
    const NAME: &'static str = "block_devices";
    const DESCRIPTION: &'static str =
        "Disks and partitions: size, type, filesystem, mount point, read-only flag";

    fn steps(&self, _a: &NoArgs, _v: &Variants) -> Result<Vec<Step>, ArgsError> {
        Ok(vec![Step::new([
            "lsblk",
            "-o",
            "NAME,SIZE,TYPE,FSTYPE,MOUNTPOINT,RO,MODEL",
        ])
        .or(["cat", "/proc/partitions"])])
    }
}

pub struct Mounts;

impl Spec for Mounts {
    type Args = NoArgs;
    const NAME: &'static str = "mounts";
    const DESCRIPTION: &'static str =
        "Mounted filesystems with source, type and options (ro, noexec, ...)";

    fn steps(&self, _a: &NoArgs, _v: &Variants) -> Result<Vec<Step>, ArgsError> {
        Ok(vec![Step::new([
            "findmnt",
            "-l",
            "-o",
            "TARGET,SOURCE,FSTYPE,OPTIONS",
        ])
        .or(["cat", "/proc/mounts"])])
    }
}
