//! `read_journal` and `kernel_log`: the systemd journal (falling back to the syslog file) and
//! the kernel ring buffer.
use schemars::JsonSchema;
use serde::Deserialize;

use super::common::{args_of, clamp, keep_lines, plain, Spec};
use crate::tools::types::{ArgsError, Step};
use crate::tools::variants::Variants;

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

    fn steps(&self, a: &ReadJournalArgs, v: &Variants) -> Result<Vec<Step>, ArgsError> {
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
                    return Err(ArgsError::Time { flag });
                }
                argv.push(format!("{flag}={t}"));
            }
        }
        if let Some(g) = &a.grep {
            if g.is_empty() || g.chars().any(|c| c.is_control()) {
                return Err(ArgsError::Pattern {
                    what: "grep",
                    extra: " without control characters",
                });
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

    fn steps(&self, a: &KernelLogArgs, _v: &Variants) -> Result<Vec<Step>, ArgsError> {
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
