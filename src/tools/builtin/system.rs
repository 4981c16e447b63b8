//! Processes and the system: `list_processes`, `process_info`, `memory_info`, `cpu_load`,
//! `system_info`, `package_version`, `time_sync`.
use schemars::JsonSchema;
use serde::Deserialize;

use super::common::{clamp, keep_lines, plain, NoArgs, Spec};
use crate::tools::types::{ArgsError, Step};
use crate::tools::variants::Variants;

/// Sort order for `list_processes`.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProcessSort {
    Cpu,
    Mem,
    Pid,
    Time,
}

/// Arguments of `list_processes`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListProcessesArgs {
    /// Sort by cpu (default), mem, pid or time.
    pub sort: Option<ProcessSort>,
    /// How many processes to return (default 30, at most 500).
    pub limit: Option<u32>,
}

pub struct ListProcesses;

impl Spec for ListProcesses {
    type Args = ListProcessesArgs;
    const NAME: &'static str = "list_processes";
    const DESCRIPTION: &'static str =
        "Top processes by CPU, memory, PID or CPU time, with state, age and command line";

    fn steps(&self, a: &ListProcessesArgs, _v: &Variants) -> Result<Vec<Step>, ArgsError> {
        let key = match a.sort.unwrap_or(ProcessSort::Cpu) {
            ProcessSort::Cpu => "-%cpu",
            ProcessSort::Mem => "-rss",
            ProcessSort::Pid => "pid",
            ProcessSort::Time => "-time",
        };
        Ok(vec![Step::new([
            "ps".to_string(),
            "-eww".into(),
            "-o".into(),
            "pid,ppid,user,%cpu,%mem,rss,stat,etime,time,args".into(),
            format!("--sort={key}"),
        ])])
    }

    fn post(&self, a: &ListProcessesArgs, _i: usize, out: String) -> String {
        let kept = keep_lines(out, clamp(a.limit, 30, 500) as usize + 1, false);
        // Command lines can be kilobytes long (java, rustc); keep the start of each.
        kept.lines()
            .map(|l| match l.char_indices().nth(400) {
                Some((cut, _)) => format!("{} …\n", &l[..cut]),
                None => format!("{l}\n"),
            })
            .collect()
    }
}

/// Arguments of `process_info`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessInfoArgs {
    /// Process ID.
    pub pid: u32,
}

pub struct ProcessInfo;

impl Spec for ProcessInfo {
    type Args = ProcessInfoArgs;
    const NAME: &'static str = "process_info";
    const DESCRIPTION: &'static str =
        "One process in detail: command line, state, memory, threads, limits and cgroup";

    fn steps(&self, a: &ProcessInfoArgs, _v: &Variants) -> Result<Vec<Step>, ArgsError> {
        if a.pid == 0 {
            return Err(ArgsError::Pid);
        }
        let pid = a.pid.to_string();
        let proc_file = |f: &str| format!("/proc/{pid}/{f}");
        Ok(vec![
            Step::new([
                "ps".to_string(),
                "-ww".into(),
                "-o".into(),
                "pid,ppid,user,%cpu,%mem,rss,vsz,nlwp,stat,lstart,etime,args".into(),
                "-p".into(),
                pid.clone(),
            ]),
            Step::new(["cat".to_string(), proc_file("status")]),
            Step::new(["cat".to_string(), proc_file("limits")]),
            Step::new(["cat".to_string(), proc_file("cgroup")]),
        ])
    }
}

pub struct MemoryInfo;

impl Spec for MemoryInfo {
    type Args = NoArgs;
    const NAME: &'static str = "memory_info";
    const DESCRIPTION: &'static str =
        "Memory and swap usage (free, /proc/meminfo) and memory pressure";

    fn steps(&self, _a: &NoArgs, _v: &Variants) -> Result<Vec<Step>, ArgsError> {
        Ok(vec![
            Step::new(["free", "-m"]),
            Step::new(["cat", "/proc/meminfo"]),
            Step::new(["cat", "/proc/pressure/memory"]),
        ])
    }
}

pub struct CpuLoad;

impl Spec for CpuLoad {
    type Args = NoArgs;
    const NAME: &'static str = "cpu_load";
    const DESCRIPTION: &'static str =
        "Load averages, CPU count, a 2-second vmstat sample and CPU pressure";

    fn steps(&self, _a: &NoArgs, _v: &Variants) -> Result<Vec<Step>, ArgsError> {
        Ok(vec![
            Step::new(["uptime"]),
            Step::new(["nproc"]),
            Step::new(["vmstat", "1", "3"]),
            Step::new(["cat", "/proc/pressure/cpu"]),
        ])
    }
}

pub struct SystemInfo;

impl Spec for SystemInfo {
    type Args = NoArgs;
    const NAME: &'static str = "system_info";
    const DESCRIPTION: &'static str = "Operating system, kernel, host name and uptime";

    fn steps(&self, _a: &NoArgs, _v: &Variants) -> Result<Vec<Step>, ArgsError> {
        Ok(vec![
            Step::new(["uname", "-a"]),
            Step::new(["cat", "/etc/os-release"]),
            Step::new(["hostname"]),
            Step::new(["uptime"]),
        ])
    }
}

/// Arguments of `package_version`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageVersionArgs {
    /// Package name, e.g. `nginx` or `openssl`.
    pub name: String,
}

pub struct PackageVersion;

impl Spec for PackageVersion {
    type Args = PackageVersionArgs;
    const NAME: &'static str = "package_version";
    const DESCRIPTION: &'static str =
        "Installed version of a package (dpkg-query or rpm -q, per distro)";

    fn steps(&self, a: &PackageVersionArgs, v: &Variants) -> Result<Vec<Step>, ArgsError> {
        plain("name", &a.name)?;
        let with_name = |prefix: &Vec<String>| {
            let mut argv = prefix.clone();
            argv.push(a.name.clone());
            argv
        };
        let mut queries = v.package_query.iter();
        let first = queries.next().ok_or(ArgsError::NotConfigured {
            what: "package query",
        })?;
        let mut step = Step::new(with_name(first));
        for q in queries {
            step = step.or(with_name(q));
        }
        Ok(vec![step])
    }
}

pub struct TimeSync;

impl Spec for TimeSync {
    type Args = NoArgs;
    const NAME: &'static str = "time_sync";
    const DESCRIPTION: &'static str =
        "Clock and NTP synchronisation state (timedatectl, chrony or ntpd)";

    fn steps(&self, _a: &NoArgs, v: &Variants) -> Result<Vec<Step>, ArgsError> {
        let mut steps = vec![Step::new(["timedatectl", "status"]).or(["date", "-u"])];
        let mut sync = v.time_sync.iter();
        if let Some(first) = sync.next() {
            let mut step = Step::new(first.clone());
            for alt in sync {
                step = step.or(alt.clone());
            }
            steps.push(step);
        }
        Ok(steps)
    }
}
