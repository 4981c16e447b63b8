//! The built-in tools. Most are a typed argument struct plus a `steps` function that renders
//! argv for the host's distro family ([`Spec`]); `read_file` (symlinks resolved on the host
//! and re-checked), `run_command` (a command line split without a shell) and the knowledge
//! tools implement [`Tool`] directly. Tool names and argument names are part of tai's contract.
use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::pipeline;
use super::schema::{parse_args, schema_for};
use super::step::run_step;
use super::types::{CallStatus, ExecContext, HostFacts, Run, Step, Tool, ToolError};
use super::variants::{self, Variants};

/// Every built-in tool, in the order `tai tools list` shows them.
pub fn all() -> Vec<Arc<dyn Tool>> {
    vec![
        Arc::new(Simple(ReadJournal)),
        Arc::new(Simple(ServiceStatus)),
        Arc::new(Simple(ListServices)),
        Arc::new(Simple(ListSockets)),
        Arc::new(Simple(NetworkInterfaces)),
        Arc::new(Simple(Routes)),
        Arc::new(Simple(ResolveHost)),
        Arc::new(Simple(DiskUsage)),
        Arc::new(Simple(InodeUsage)),
        Arc::new(Simple(BlockDevices)),
        Arc::new(Simple(Mounts)),
        Arc::new(ReadFile),
        Arc::new(super::service_config::ServiceConfig),
        Arc::new(Simple(ListDir)),
        Arc::new(Simple(ListProcesses)),
        Arc::new(Simple(ProcessInfo)),
        Arc::new(Simple(MemoryInfo)),
        Arc::new(Simple(CpuLoad)),
        Arc::new(Simple(KernelLog)),
        Arc::new(Simple(SystemInfo)),
        Arc::new(Simple(PackageVersion)),
        Arc::new(Simple(CertInfo)),
        Arc::new(Simple(TimeSync)),
        Arc::new(RunCommand),
        Arc::new(SearchRunbooks),
        Arc::new(SearchHistory),
    ]
}

/// A tool that is a typed argument struct rendered to a fixed list of steps.
pub trait Spec: Send + Sync + 'static {
    type Args: JsonSchema + DeserializeOwned + Send + Sync;
    const NAME: &'static str;
    const DESCRIPTION: &'static str;
    fn steps(&self, args: &Self::Args, v: &Variants) -> Result<Vec<Step>, String>;
    /// Shape the stdout of step `index` (keep the last N lines, sort, ...).
    fn post(&self, _args: &Self::Args, _index: usize, stdout: String) -> String {
        stdout
    }
}

/// Adapter from [`Spec`] to [`Tool`].
pub struct Simple<S>(pub S);

#[async_trait::async_trait]
impl<S: Spec> Tool for Simple<S> {
    fn name(&self) -> &'static str {
        S::NAME
    }
    fn description(&self) -> &'static str {
        S::DESCRIPTION
    }
    fn parameters(&self) -> Value {
        schema_for::<S::Args>()
    }
    fn render(&self, args: &Value, facts: &HostFacts) -> Result<Vec<Step>, String> {
        let a: S::Args = parse_args(S::NAME, args)?;
        self.0.steps(&a, &variants::for_family(&facts.family))
    }
    async fn run(&self, ctx: &ExecContext, args: &Value) -> Result<Run, ToolError> {
        let a: S::Args = parse_args(S::NAME, args).map_err(ToolError::RespondToModel)?;
        let steps = self
            .0
            .steps(&a, &variants::for_family(&ctx.facts.family))
            .map_err(ToolError::RespondToModel)?;
        let mut run = Run::default();
        for (i, step) in steps.iter().enumerate() {
            if !run_step(ctx, step, &mut run, |s| self.0.post(&a, i, s)).await? {
                break;
            }
        }
        Ok(run)
    }
}

// ------------------------------------------------------------------------------------------
// Argument checks shared by the tools. The policy checks everything again; these give the
// model a precise message first.

/// A plain name (unit, package, host): no leading `-`, no whitespace or control characters.
fn plain(what: &str, v: &str) -> Result<(), String> {
    if v.is_empty() || v.len() > 255 {
        return Err(format!("{what} must be 1-255 characters"));
    }
    if v.starts_with('-') {
        return Err(format!("{what} `{v}` may not start with `-`"));
    }
    if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{what} `{v}` may not contain spaces or control characters"
        ));
    }
    Ok(())
}

/// An absolute path without control characters.
fn abs_path(what: &str, v: &str) -> Result<(), String> {
    if !v.starts_with('/') {
        return Err(format!(
            "{what} must be an absolute path (start with `/`), got `{v}`"
        ));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(format!("{what} may not contain control characters"));
    }
    Ok(())
}

fn clamp(v: Option<u32>, default: u32, max: u32) -> u32 {
    v.unwrap_or(default).clamp(1, max)
}

/// Keep the last (or first) `n` lines of a text.
fn keep_lines(text: String, n: usize, from_end: bool) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= n {
        return text;
    }
    let kept = if from_end {
        &lines[lines.len() - n..]
    } else {
        &lines[..n]
    };
    let mut out = kept.join("\n");
    out.push('\n');
    out
}

fn args_of(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ------------------------------------------------------------------------------------------
// Logs

/// Journal priorities, most to least severe.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Emerg,
    Alert,
    Crit,
    Err,
    Warning,
    Notice,
    Info,
    Debug,
}

impl Priority {
    fn as_str(self) -> &'static str {
        match self {
            Priority::Emerg => "emerg",
            Priority::Alert => "alert",
            Priority::Crit => "crit",
            Priority::Err => "err",
            Priority::Warning => "warning",
            Priority::Notice => "notice",
            Priority::Info => "info",
            Priority::Debug => "debug",
        }
    }
    /// This level and every more severe one, as dmesg names them.
    fn dmesg_levels(self) -> String {
        let all = [
            "emerg", "alert", "crit", "err", "warn", "notice", "info", "debug",
        ];
        let idx = self as usize;
        all[..=idx].join(",")
    }
}

/// Arguments of `read_journal`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadJournalArgs {
    /// systemd unit to read, e.g. `nginx` or `nginx.service`.
    pub unit: Option<String>,
    /// Only entries at this priority or more severe.
    pub priority: Option<Priority>,
    /// Start time as journalctl understands it: `1 hour ago`, `today`, `2024-05-01 10:00`.
    pub since: Option<String>,
    /// End time, same formats as `since`.
    pub until: Option<String>,
    /// Only entries matching this pattern (case-insensitive regular expression).
    pub grep: Option<String>,
    /// How many of the most recent entries to return (default 100, at most 2000).
    pub lines: Option<u32>,
    /// Only kernel messages.
    pub kernel: Option<bool>,
}

pub struct ReadJournal;

impl Spec for ReadJournal {
    type Args = ReadJournalArgs;
    const NAME: &'static str = "read_journal";
    const DESCRIPTION: &'static str =
        "Read recent systemd journal entries, filtered by unit, priority, time and pattern (falls back to the syslog file)";

    fn steps(&self, a: &ReadJournalArgs, v: &Variants) -> Result<Vec<Step>, String> {
        let n = clamp(a.lines, 100, 2000);
        let mut argv = args_of(&["journalctl", "--no-pager", "-q", "-o", "short-iso"]);
        argv.push(format!("--lines={n}"));
        if let Some(u) = &a.unit {
            plain("unit", u)?;
            argv.push(format!("--unit={u}"));
        }
        if let Some(p) = a.priority {
            argv.push(format!("--priority={}", p.as_str()));
        }
        for (flag, val) in [("--since", &a.since), ("--until", &a.until)] {
            if let Some(t) = val {
                if t.chars().any(|c| c.is_control()) || t.is_empty() {
                    return Err(format!("{flag} must be a time like `1 hour ago`"));
                }
                argv.push(format!("{flag}={t}"));
            }
        }
        if let Some(g) = &a.grep {
            if g.is_empty() || g.chars().any(|c| c.is_control()) {
                return Err("grep must be a non-empty pattern".into());
            }
            argv.push(format!("--grep={g}"));
            argv.push("--case-sensitive=no".into());
        }
        if a.kernel == Some(true) {
            argv.push("--dmesg".into());
        }
        // Without journalctl: the syslog file, filtered by the pattern or unit if given.
        let file = if a.kernel == Some(true) {
            v.kernel_log.clone()
        } else {
            v.syslog.clone()
        };
        let filter = a.grep.clone().or_else(|| {
            a.unit
                .as_ref()
                .map(|u| u.trim_end_matches(".service").to_string())
        });
        let fallback = match filter {
            Some(f) => vec![
                "grep".to_string(),
                "-i".into(),
                format!("--regexp={f}"),
                "--".into(),
                file,
            ],
            None => vec![
                "tail".to_string(),
                "-n".into(),
                n.to_string(),
                "--".into(),
                file,
            ],
        };
        // journalctl --grep and the grep fallback exit 1 when nothing matches.
        let ok_codes = if a.grep.is_some() || a.unit.is_some() {
            vec![0, 1]
        } else {
            vec![0]
        };
        Ok(vec![Step {
            argv,
            fallbacks: vec![fallback],
            ok_codes,
        }])
    }

    fn post(&self, a: &ReadJournalArgs, _i: usize, out: String) -> String {
        keep_lines(out, clamp(a.lines, 100, 2000) as usize, true)
    }
}

/// Arguments of `kernel_log`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KernelLogArgs {
    /// Only messages at this level or more severe (default: warning).
    pub level: Option<Priority>,
}

pub struct KernelLog;

impl Spec for KernelLog {
    type Args = KernelLogArgs;
    const NAME: &'static str = "kernel_log";
    const DESCRIPTION: &'static str =
        "Kernel ring buffer messages (dmesg) at or above a severity: OOM kills, disk and NIC errors";

    fn steps(&self, a: &KernelLogArgs, _v: &Variants) -> Result<Vec<Step>, String> {
        let level = a.level.unwrap_or(Priority::Warning);
        Ok(vec![Step::new([
            "dmesg".to_string(),
            "-T".into(),
            format!("--level={}", level.dmesg_levels()),
        ])
        .or([
            "journalctl".to_string(),
            "--no-pager".into(),
            "-q".into(),
            "--dmesg".into(),
            "--lines=300".into(),
            format!("--priority={}", level.as_str()),
        ])])
    }

    fn post(&self, _a: &KernelLogArgs, _i: usize, out: String) -> String {
        keep_lines(out, 500, true)
    }
}

// ------------------------------------------------------------------------------------------
// Services

/// Arguments of `service_status`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceStatusArgs {
    /// systemd unit, e.g. `nginx` or `postgresql@15-main.service`.
    pub unit: String,
}

pub struct ServiceStatus;

impl Spec for ServiceStatus {
    type Args = ServiceStatusArgs;
    const NAME: &'static str = "service_status";
    const DESCRIPTION: &'static str =
        "State of one service: active or failed, since when, main PID, memory, and its last log lines";

    fn steps(&self, a: &ServiceStatusArgs, _v: &Variants) -> Result<Vec<Step>, String> {
        plain("unit", &a.unit)?;
        let u = a.unit.clone();
        Ok(vec![Step::new([
            "systemctl",
            "status",
            "--no-pager",
            "--full",
            "--lines=20",
            "--",
            &u,
        ])
        .or(["service", &u, "status"])
        .ok_codes(&[0, 3])])
    }
}

/// Which services to list.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceState {
    Running,
    Failed,
    Active,
    Inactive,
    Exited,
    All,
}

/// Arguments of `list_services`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListServicesArgs {
    /// Only services in this state (default: all loaded services).
    pub state: Option<ServiceState>,
}

pub struct ListServices;

impl Spec for ListServices {
    type Args = ListServicesArgs;
    const NAME: &'static str = "list_services";
    const DESCRIPTION: &'static str =
        "List systemd services and their state (running, failed, ...)";

    fn steps(&self, a: &ListServicesArgs, _v: &Variants) -> Result<Vec<Step>, String> {
        let mut argv = args_of(&[
            "systemctl",
            "list-units",
            "--type=service",
            "--no-pager",
            "--no-legend",
            "--plain",
        ]);
        match a.state {
            None | Some(ServiceState::All) => argv.push("--all".into()),
            Some(s) => argv.push(format!("--state={}", format!("{s:?}").to_ascii_lowercase())),
        }
        // Without systemd: the SysV scripts that exist. `service --status-all` is refused (the
        // scripts' status branches may run `systemctl daemon-reload` and other writers).
        Ok(vec![Step::new(argv).or(["ls", "-1", "/etc/init.d"])])
    }
}

// ------------------------------------------------------------------------------------------
// Network

/// Arguments of `list_sockets`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListSocketsArgs {
    /// Only listening sockets (default true); false lists established connections too.
    pub listening: Option<bool>,
    /// Show the owning process (default true; needs root for other users' processes).
    pub process: Option<bool>,
}

pub struct ListSockets;

impl Spec for ListSockets {
    type Args = ListSocketsArgs;
    const NAME: &'static str = "list_sockets";
    const DESCRIPTION: &'static str =
        "TCP and UDP sockets: what listens on which port, and optionally open connections, with processes";

    fn steps(&self, a: &ListSocketsArgs, v: &Variants) -> Result<Vec<Step>, String> {
        let mut flags = String::from("-tun");
        flags.push(if a.listening.unwrap_or(true) {
            'l'
        } else {
            'a'
        });
        if a.process.unwrap_or(true) {
            flags.push('p');
        }
        let mut programs = v.sockets.iter();
        let first = programs.next().cloned().unwrap_or_else(|| "ss".into());
        let mut step = Step::new([first, flags.clone()]);
        for p in programs {
            step = step.or([p.clone(), flags.clone()]);
        }
        Ok(vec![step])
    }
}

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

pub struct NetworkInterfaces;

impl Spec for NetworkInterfaces {
    type Args = NoArgs;
    const NAME: &'static str = "network_interfaces";
    const DESCRIPTION: &'static str =
        "Network interfaces with state, MTU, addresses and error counters";

    fn steps(&self, _a: &NoArgs, _v: &Variants) -> Result<Vec<Step>, String> {
        Ok(vec![
            Step::new(["ip", "addr", "show"]).or(["cat", "/proc/net/dev"]),
            Step::new(["ip", "-s", "link", "show"]),
        ])
    }
}

pub struct Routes;

impl Spec for Routes {
    type Args = NoArgs;
    const NAME: &'static str = "routes";
    const DESCRIPTION: &'static str = "IPv4 and IPv6 routing tables";

    fn steps(&self, _a: &NoArgs, _v: &Variants) -> Result<Vec<Step>, String> {
        Ok(vec![
            Step::new(["ip", "route", "show"]).or(["netstat", "-rn"]),
            Step::new(["ip", "-6", "route", "show"]),
        ])
    }
}

/// Arguments of `resolve_host`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveHostArgs {
    /// Host name to resolve, as the host's resolver (NSS: /etc/hosts, DNS) sees it.
    pub name: String,
}

pub struct ResolveHost;

impl Spec for ResolveHost {
    type Args = ResolveHostArgs;
    const NAME: &'static str = "resolve_host";
    const DESCRIPTION: &'static str =
        "Resolve a host name the way the host does (getent ahosts) and show its resolver configuration";

    fn steps(&self, a: &ResolveHostArgs, _v: &Variants) -> Result<Vec<Step>, String> {
        plain("name", &a.name)?;
        Ok(vec![
            Step::new(["getent", "ahosts", &a.name]).ok_codes(&[0, 2]),
            Step::new(["cat", "/etc/resolv.conf"]),
        ])
    }
}

// ------------------------------------------------------------------------------------------
// Disk

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

    fn steps(&self, a: &DiskUsageArgs, _v: &Variants) -> Result<Vec<Step>, String> {
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
            .map(|(k, p)| format!("{:>8}  {p}\n", human_kib(*k)))
            .collect();
        if total > 40 {
            text.push_str(&format!("[{} smaller entries not shown]\n", total - 40));
        }
        text
    }
}

fn human_kib(k: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    let mut v = k as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{k}K")
    } else {
        format!("{v:.1}{}", UNITS[u])
    }
}

pub struct InodeUsage;

impl Spec for InodeUsage {
    type Args = NoArgs;
    const NAME: &'static str = "inode_usage";
    const DESCRIPTION: &'static str =
        "Inode usage per filesystem (df -i): full inodes look like a full disk";

    fn steps(&self, _a: &NoArgs, _v: &Variants) -> Result<Vec<Step>, String> {
        Ok(vec![Step::new(["df", "-iPT"])])
    }
}

pub struct BlockDevices;

impl Spec for BlockDevices {
    type Args = NoArgs;
    const NAME: &'static str = "block_devices";
    const DESCRIPTION: &'static str =
        "Disks and partitions: size, type, filesystem, mount point, read-only flag";

    fn steps(&self, _a: &NoArgs, _v: &Variants) -> Result<Vec<Step>, String> {
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

    fn steps(&self, _a: &NoArgs, _v: &Variants) -> Result<Vec<Step>, String> {
        Ok(vec![Step::new([
            "findmnt",
            "-l",
            "-o",
            "TARGET,SOURCE,FSTYPE,OPTIONS",
        ])
        .or(["cat", "/proc/mounts"])])
    }
}

// ------------------------------------------------------------------------------------------
// Files

/// Arguments of `read_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadFileArgs {
    /// Absolute path of the file, e.g. `/var/log/nginx/error.log`.
    pub path: String,
    /// How many lines to return (default 200, at most 5000).
    pub lines: Option<u32>,
    /// Read from the end of the file (default true: the newest log lines).
    pub from_end: Option<bool>,
    /// Only lines matching this regular expression (grep -E), with line numbers.
    pub grep: Option<String>,
}

/// `read_file`: judge the read as asked, then [`run_step`] resolves the path on the host,
/// re-checks the target against the policy and reads it.
pub struct ReadFile;

impl ReadFile {
    fn read_step(a: &ReadFileArgs, path: &str) -> Step {
        let n = clamp(a.lines, 200, 5000).to_string();
        match &a.grep {
            Some(g) => Step::new([
                "grep".to_string(),
                "-n".into(),
                "-E".into(),
                format!("--regexp={g}"),
                "--".into(),
                path.to_string(),
            ])
            .ok_codes(&[0, 1]),
            None if a.from_end.unwrap_or(true) => Step::new(["tail", "-n", n.as_str(), "--", path]),
            None => Step::new(["head", "-n", n.as_str(), "--", path]),
        }
    }

    fn validate(a: &ReadFileArgs) -> Result<(), String> {
        abs_path("path", &a.path)?;
        if let Some(g) = &a.grep {
            if g.is_empty() || g.chars().any(|c| c.is_control()) {
                return Err("grep must be a non-empty pattern without control characters".into());
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Tool for ReadFile {
    fn name(&self) -> &'static str {
        "read_file"
    }
    fn description(&self) -> &'static str {
        "Read a text file (last or first lines, or lines matching a pattern); secrets and private keys are refused"
    }
    fn parameters(&self) -> Value {
        schema_for::<ReadFileArgs>()
    }
    fn render(&self, args: &Value, _facts: &HostFacts) -> Result<Vec<Step>, String> {
        let a: ReadFileArgs = parse_args("read_file", args)?;
        Self::validate(&a)?;
        Ok(vec![Self::read_step(&a, &a.path)])
    }
    async fn run(&self, ctx: &ExecContext, args: &Value) -> Result<Run, ToolError> {
        let a: ReadFileArgs = parse_args("read_file", args).map_err(ToolError::RespondToModel)?;
        Self::validate(&a).map_err(ToolError::RespondToModel)?;
        let mut run = Run::default();
        // run_step judges the read, resolves the path on the host, re-checks the target,
        // then reads it.
        let step = Self::read_step(&a, &a.path);
        let n = clamp(a.lines, 200, 5000) as usize;
        let from_end = a.from_end.unwrap_or(true);
        run_step(ctx, &step, &mut run, |s| keep_lines(s, n, from_end)).await?;
        Ok(run)
    }
}

/// Arguments of `list_dir`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListDirArgs {
    /// Absolute path of the directory.
    pub path: String,
    /// Levels to descend (default 1 = just this directory, at most 4).
    pub depth: Option<u32>,
}

pub struct ListDir;

impl Spec for ListDir {
    type Args = ListDirArgs;
    const NAME: &'static str = "list_dir";
    const DESCRIPTION: &'static str =
        "List a directory with owners, permissions, sizes and times (optionally a few levels deep)";

    fn steps(&self, a: &ListDirArgs, _v: &Variants) -> Result<Vec<Step>, String> {
        abs_path("path", &a.path)?;
        let depth = clamp(a.depth, 1, 4);
        if depth == 1 {
            return Ok(vec![Step::new([
                "ls",
                "-la",
                "--time-style=long-iso",
                "--",
                a.path.as_str(),
            ])]);
        }
        Ok(vec![Step::new([
            "find".to_string(),
            a.path.clone(),
            "-xdev".into(),
            "-maxdepth".into(),
            depth.to_string(),
            "-printf".into(),
            r"%M %u:%g %10s %TY-%Tm-%Td %TH:%TM %p\n".into(),
        ])
        .ok_codes(&[0, 1])])
    }

    fn post(&self, _a: &ListDirArgs, _i: usize, out: String) -> String {
        keep_lines(out, 2000, false)
    }
}

/// Arguments of `cert_info`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertInfoArgs {
    /// Absolute path of a PEM certificate, e.g. `/etc/nginx/ssl/site.crt`.
    pub path: String,
}

pub struct CertInfo;

impl Spec for CertInfo {
    type Args = CertInfoArgs;
    const NAME: &'static str = "cert_info";
    const DESCRIPTION: &'static str =
        "A certificate's subject, issuer, validity dates, serial, fingerprint and names (openssl x509)";

    fn steps(&self, a: &CertInfoArgs, _v: &Variants) -> Result<Vec<Step>, String> {
        abs_path("path", &a.path)?;
        Ok(vec![Step::new([
            "openssl",
            "x509",
            "-noout",
            "-subject",
            "-issuer",
            "-dates",
            "-serial",
            "-fingerprint",
            "-sha256",
            "-ext",
            "subjectAltName",
            "-in",
            a.path.as_str(),
        ])])
    }
}

// ------------------------------------------------------------------------------------------
// Processes, memory, CPU, system

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

    fn steps(&self, a: &ListProcessesArgs, _v: &Variants) -> Result<Vec<Step>, String> {
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

    fn steps(&self, a: &ProcessInfoArgs, _v: &Variants) -> Result<Vec<Step>, String> {
        if a.pid == 0 {
            return Err("pid must be a positive process ID".into());
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

    fn steps(&self, _a: &NoArgs, _v: &Variants) -> Result<Vec<Step>, String> {
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

    fn steps(&self, _a: &NoArgs, _v: &Variants) -> Result<Vec<Step>, String> {
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

    fn steps(&self, _a: &NoArgs, _v: &Variants) -> Result<Vec<Step>, String> {
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

    fn steps(&self, a: &PackageVersionArgs, v: &Variants) -> Result<Vec<Step>, String> {
        plain("name", &a.name)?;
        let with_name = |prefix: &Vec<String>| {
            let mut argv = prefix.clone();
            argv.push(a.name.clone());
            argv
        };
        let mut queries = v.package_query.iter();
        let first = queries
            .next()
            .ok_or("no package query is configured for this distro family")?;
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

    fn steps(&self, _a: &NoArgs, v: &Variants) -> Result<Vec<Step>, String> {
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

// ------------------------------------------------------------------------------------------
// run_command

/// Arguments of `run_command`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunCommandArgs {
    /// One read-only command line, e.g. `journalctl -u nginx -n 50`, optionally followed by
    /// `| STAGE` filters that tai applies itself to the output: grep, sort, uniq, head, tail,
    /// wc, cut, tr, column -t, simple sed (s///, p, d) and simple awk '{print $N}' (e.g.
    /// `ss -tan | awk '{print $1}' | sort | uniq -c`).
    /// No redirections, `;`, `&&`, `||`, `$(...)` or globs: only the first command runs on the
    /// host, without a shell, and the read-only policy decides.
    pub command: String,
}

pub struct RunCommand;

#[async_trait::async_trait]
impl Tool for RunCommand {
    fn name(&self) -> &'static str {
        "run_command"
    }
    fn description(&self) -> &'static str {
        "Run one read-only command line that no other tool covers, optionally with `| grep/sort/uniq/head/tail/wc/cut/tr/sed/awk` stages applied by tai; the policy decides"
    }
    fn parameters(&self) -> Value {
        schema_for::<RunCommandArgs>()
    }
    fn render(&self, args: &Value, _facts: &HostFacts) -> Result<Vec<Step>, String> {
        let a: RunCommandArgs = parse_args("run_command", args)?;
        Ok(vec![Step::new(pipeline::split_pipeline(&a.command)?.0)])
    }

    /// The paths the command would read are resolved on the host and re-checked by
    /// [`run_step`] (as for every tool), so a symlink cannot lead to a secret.
    async fn run(&self, ctx: &ExecContext, args: &Value) -> Result<Run, ToolError> {
        let a: RunCommandArgs =
            parse_args("run_command", args).map_err(ToolError::RespondToModel)?;
        // Only the first segment runs on the host; `| STAGE`s are applied by tai below.
        let (argv, stages) =
            pipeline::split_pipeline(&a.command).map_err(ToolError::RespondToModel)?;
        let mut run = Run::default();
        run_step(ctx, &Step::new(argv), &mut run, |s| {
            pipeline::apply_stages(&stages, s)
        })
        .await?;
        pipeline::annotate(&mut run.commands, &stages);
        Ok(run)
    }
}

// ------------------------------------------------------------------------------------------
// Knowledge

const NO_KNOWLEDGE: &str = "knowledge layer not available: runbooks and past sessions are not \
                            loaded in this session; continue with the host tools";

/// Arguments of `search_runbooks`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRunbooksArgs {
    /// What to look for, e.g. `nginx 502 upstream`.
    pub query: String,
    /// Number of results (default 5, at most 20).
    pub limit: Option<u32>,
}

pub struct SearchRunbooks;

#[async_trait::async_trait]
impl Tool for SearchRunbooks {
    fn name(&self) -> &'static str {
        "search_runbooks"
    }
    fn description(&self) -> &'static str {
        "Search the team's runbooks for known problems and fixes"
    }
    fn parameters(&self) -> Value {
        schema_for::<SearchRunbooksArgs>()
    }
    fn render(&self, args: &Value, _facts: &HostFacts) -> Result<Vec<Step>, String> {
        parse_args::<SearchRunbooksArgs>("search_runbooks", args)?;
        Ok(Vec::new())
    }
    async fn run(&self, ctx: &ExecContext, args: &Value) -> Result<Run, ToolError> {
        let a: SearchRunbooksArgs =
            parse_args("search_runbooks", args).map_err(ToolError::RespondToModel)?;
        let Some(k) = &ctx.knowledge else {
            return Ok(Run::message(CallStatus::Error, NO_KNOWLEDGE));
        };
        Ok(
            match k
                .search_runbooks(&a.query, clamp(a.limit, 5, 20) as usize)
                .await
            {
                Ok(text) => Run::message(CallStatus::Ok, text),
                Err(e) => Run::message(CallStatus::Error, format!("runbook search failed: {e}")),
            },
        )
    }
}

/// Arguments of `search_history`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchHistoryArgs {
    /// What to look for in past sessions, e.g. `disk full /var`.
    pub query: String,
    /// Only sessions on this host.
    pub host: Option<String>,
    /// Number of results (default 5, at most 20).
    pub limit: Option<u32>,
}

pub struct SearchHistory;

#[async_trait::async_trait]
impl Tool for SearchHistory {
    fn name(&self) -> &'static str {
        "search_history"
    }
    fn description(&self) -> &'static str {
        "Search summaries of past tai sessions (this host or others) for similar incidents"
    }
    fn parameters(&self) -> Value {
        schema_for::<SearchHistoryArgs>()
    }
    fn render(&self, args: &Value, _facts: &HostFacts) -> Result<Vec<Step>, String> {
        parse_args::<SearchHistoryArgs>("search_history", args)?;
        Ok(Vec::new())
    }
    async fn run(&self, ctx: &ExecContext, args: &Value) -> Result<Run, ToolError> {
        let a: SearchHistoryArgs =
            parse_args("search_history", args).map_err(ToolError::RespondToModel)?;
        let Some(k) = &ctx.knowledge else {
            return Ok(Run::message(CallStatus::Error, NO_KNOWLEDGE));
        };
        Ok(
            match k
                .search_history(&a.query, a.host.as_deref(), clamp(a.limit, 5, 20) as usize)
                .await
            {
                Ok(text) => Run::message(CallStatus::Ok, text),
                Err(e) => Run::message(CallStatus::Error, format!("history search failed: {e}")),
            },
        )
    }
}
