//! Layered configuration, resolved once into an immutable [`Config`].
//!
//! Precedence, lowest first: built-in defaults < `TAI_HOME/config.toml` < `TAI_*` environment
//! < command-line flags. `TAI_HOME` itself comes from `--tai-home`, then `TAI_HOME`, then
//! `~/.tai`. Every resolved value remembers where it came from (`tai config` shows it).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::exit::{Code, HasExitCode};

pub const DEFAULT_BASE_URL: &str = "http://localhost:11434/v1";
pub const DEFAULT_MODEL: &str = "qwen3:4b";
pub const DEFAULT_EMBED_MODEL: &str = "nomic-embed-text";
pub const DEFAULT_MAX_STEPS: usize = 12;
pub const DEFAULT_COMMAND_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;
pub const DEFAULT_OUTPUT_CAP: usize = 256 * 1024;
pub const DEFAULT_SESSION_OUTPUT_CAP: usize = 8 * 1024 * 1024;
pub const DEFAULT_MAX_CONCURRENCY: usize = 8;
pub const DEFAULT_MODEL_TIMEOUT_SECS: u64 = 300;
/// `[retention]` defaults: conservative, documented in README ("Retention").
pub const DEFAULT_RETAIN_SESSIONS_DAYS: u32 = 180;
pub const DEFAULT_RETAIN_AUDIT_DAYS: u32 = 400;
pub const DEFAULT_RETAIN_RECORDS_DAYS: u32 = 30;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}\n  fix the file or move it aside; `tai config` shows the effective settings")]
    Parse { path: PathBuf, message: String },
    #[error("invalid value {value:?} for {key}: {message}")]
    BadValue {
        key: String,
        value: String,
        message: String,
    },
    #[error("cannot find a home directory for TAI_HOME; set TAI_HOME=/some/dir")]
    NoHome,
    #[error("invalid config file {path}: {error}")]
    RedactPattern {
        path: PathBuf,
        error: crate::redact::PatternError,
    },
}

impl HasExitCode for ConfigError {
    fn exit_code(&self) -> Code {
        Code::Config
    }
}

/// The on-disk `config.toml`: every field optional, unknown keys rejected.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigToml {
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub embed_model: Option<String>,
    /// Base URL for embeddings, if different from the chat endpoint.
    pub embed_base_url: Option<String>,
    pub max_steps: Option<usize>,
    pub num_ctx: Option<u32>,
    pub model_timeout_secs: Option<u64>,
    pub no_rag: Option<bool>,
    pub no_persist: Option<bool>,
    pub sudo: Option<bool>,
    #[serde(default)]
    pub ssh: SshToml,
    #[serde(default)]
    pub retention: RetentionToml,
    #[serde(default)]
    pub mcp: McpToml,
    #[serde(default)]
    pub redact: RedactToml,
    #[serde(default)]
    pub ui: UiToml,
}

/// `[ui]`: the interactive front end `tai HOST` opens on a terminal.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UiToml {
    /// `repl` (the line editor, the default) or `tui` (the full-screen workspace).
    pub default: Option<UiDefault>,
}

/// The interactive front end (`[ui] default`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UiDefault {
    #[default]
    Repl,
    Tui,
}

/// `[redact]`: the user's own redaction patterns, applied with the built-ins to everything
/// tai persists (session memory, the audit log, REPL history, `--record` fixtures).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedactToml {
    /// Rust regex syntax, matched within one line; each match becomes `[REDACTED:user-pattern]`.
    pub patterns: Option<Vec<String>>,
}

/// `[mcp]`: what `tai mcp` serves.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct McpToml {
    /// Hosts MCP clients may name (added to `--hosts`); nothing else is allowed.
    pub hosts: Option<Vec<String>>,
}

/// `[retention]`: how many days `tai cleanup` keeps each kind of data by default.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionToml {
    pub sessions_days: Option<u32>,
    pub audit_days: Option<u32>,
    pub records_days: Option<u32>,
}

/// Resolved `[retention]` bounds, in days (each at least 1).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RetentionSettings {
    pub sessions_days: u32,
    pub audit_days: u32,
    pub records_days: u32,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SshToml {
    pub identity_files: Option<Vec<PathBuf>>,
    pub known_hosts: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub ignore_ssh_config: Option<bool>,
    pub connect_timeout_secs: Option<u64>,
    pub command_timeout_secs: Option<u64>,
    pub max_concurrency: Option<usize>,
    /// Keep host-side shells between commands (`transport::ssh::shell`); default true.
    pub host_shells: Option<bool>,
    pub output_cap_bytes: Option<usize>,
    pub session_output_cap_bytes: Option<usize>,
}

/// Values given on the command line (the "low-level" args, before resolution).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub tai_home: Option<PathBuf>,
    pub config_file: Option<PathBuf>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub embed_model: Option<String>,
    pub identity_files: Vec<PathBuf>,
    pub jump_host: Option<String>,
    pub ignore_ssh_config: bool,
    pub ssh_config: Option<PathBuf>,
    pub known_hosts: Option<PathBuf>,
    pub max_steps: Option<usize>,
    pub command_timeout_secs: Option<u64>,
    pub no_rag: bool,
    pub rag_debug: bool,
    pub no_persist: bool,
    pub no_llm: bool,
    pub sudo: bool,
    pub json: bool,
    pub output_file: Option<PathBuf>,
    pub record_dir: Option<PathBuf>,
    pub verbose: u8,
    pub no_color: bool,
}

/// SSH settings shared by every connection of a session.
#[derive(Debug, Clone, Serialize)]
pub struct SshSettings {
    pub identity_files: Vec<PathBuf>,
    pub jump_host: Option<String>,
    pub ignore_ssh_config: bool,
    /// The ssh_config file to read (default `~/.ssh/config`).
    pub config_file: PathBuf,
    /// Explicit known_hosts file (flag or config); `None` means ssh_config or `~/.ssh/known_hosts`.
    pub known_hosts: Option<PathBuf>,
    pub connect_timeout: Duration,
}

/// Limits on what one command (and one session) may produce and take.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ExecLimits {
    pub command_timeout: Duration,
    pub output_cap: usize,
    pub session_output_cap: usize,
    pub max_concurrency: usize,
    /// Commands on an SSH connection run on kept host-side shells (false: a channel each).
    pub host_shells: bool,
}

impl Default for ExecLimits {
    fn default() -> Self {
        Self {
            command_timeout: Duration::from_secs(DEFAULT_COMMAND_TIMEOUT_SECS),
            output_cap: DEFAULT_OUTPUT_CAP,
            session_output_cap: DEFAULT_SESSION_OUTPUT_CAP,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            host_shells: true,
        }
    }
}

/// The model endpoint settings.
#[derive(Debug, Clone, Serialize)]
pub struct ModelSettings {
    pub base_url: String,
    pub model: String,
    pub embed_model: String,
    pub embed_base_url: String,
    #[serde(skip)]
    pub api_key: Option<String>,
    pub num_ctx: Option<u32>,
    pub max_steps: usize,
    pub timeout: Duration,
    pub record_dir: Option<PathBuf>,
    /// `[redact]` again, for `--record` fixtures (`Config::redact` is the one shown).
    #[serde(skip)]
    pub redact: crate::redact::Redactor,
}

/// The fully resolved, immutable configuration of one tai invocation.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub tai_home: PathBuf,
    pub model: ModelSettings,
    pub ssh: SshSettings,
    pub limits: ExecLimits,
    pub retention: RetentionSettings,
    /// `[mcp] hosts`: the hosts `tai mcp` allows besides `--hosts`.
    pub mcp_hosts: Vec<String>,
    /// `[ui] default`: what `tai HOST` opens on a terminal (`tai tui HOST` always opens the TUI).
    pub ui: UiDefault,
    /// The built-in redaction rules plus `[redact] patterns` (shown as `redact.patterns`).
    pub redact: crate::redact::Redactor,
    pub no_rag: bool,
    pub rag_debug: bool,
    pub no_persist: bool,
    pub no_llm: bool,
    pub sudo: bool,
    pub json: bool,
    pub output_file: Option<PathBuf>,
    pub verbose: u8,
    pub color: bool,
    /// Where each setting came from: `default`, `file`, `env TAI_X` or `flag`.
    pub sources: BTreeMap<&'static str, String>,
}

/// Reads an environment variable; injectable so tests need not touch the process environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

struct Resolver<'a> {
    env: EnvLookup<'a>,
    sources: BTreeMap<&'static str, String>,
}

impl Resolver<'_> {
    fn pick<T: std::str::FromStr>(
        &mut self,
        name: &'static str,
        flag: Option<T>,
        env_key: &str,
        file: Option<T>,
        default: T,
    ) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        if let Some(v) = flag {
            self.sources.insert(name, "flag".into());
            return Ok(v);
        }
        if let Some(raw) = (self.env)(env_key) {
            let v = raw.parse::<T>().map_err(|e| ConfigError::BadValue {
                key: env_key.to_string(),
                value: raw.clone(),
                message: e.to_string(),
            })?;
            self.sources.insert(name, format!("env {env_key}"));
            return Ok(v);
        }
        if let Some(v) = file {
            self.sources.insert(name, "file".into());
            return Ok(v);
        }
        self.sources.insert(name, "default".into());
        Ok(default)
    }

    /// A boolean switch: a flag can only turn it on; env accepts 1/true/yes and 0/false/no.
    fn switch(
        &mut self,
        name: &'static str,
        flag: bool,
        env_key: &str,
        file: Option<bool>,
    ) -> Result<bool, ConfigError> {
        if flag {
            self.sources.insert(name, "flag".into());
            return Ok(true);
        }
        if let Some(raw) = (self.env)(env_key) {
            let v = parse_bool(&raw).ok_or_else(|| ConfigError::BadValue {
                key: env_key.to_string(),
                value: raw.clone(),
                message: "expected 1/0, true/false, yes/no or on/off".into(),
            })?;
            self.sources.insert(name, format!("env {env_key}"));
            return Ok(v);
        }
        self.pick(name, None, "", file, false)
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Expand a leading `~/` against the home directory.
pub fn expand_tilde(p: &Path) -> PathBuf {
    match p.strip_prefix("~") {
        Ok(rest) => dirs::home_dir()
            .map(|h| h.join(rest))
            .unwrap_or_else(|| p.to_path_buf()),
        Err(_) => p.to_path_buf(),
    }
}

impl Config {
    /// Resolve the configuration from the real process environment.
    pub fn resolve(o: &Overrides) -> Result<Config, ConfigError> {
        Self::resolve_with(o, &process_env)
    }

    /// Resolve with an injected environment (tests).
    pub fn resolve_with(o: &Overrides, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
        let tai_home = match (&o.tai_home, env("TAI_HOME")) {
            (Some(p), _) => expand_tilde(p),
            (None, Some(p)) => expand_tilde(Path::new(&p)),
            (None, None) => dirs::home_dir().ok_or(ConfigError::NoHome)?.join(".tai"),
        };
        let file_path = o
            .config_file
            .clone()
            .or_else(|| env("TAI_CONFIG").map(PathBuf::from))
            .unwrap_or_else(|| tai_home.join("config.toml"));
        let file = load_file(&file_path, o.config_file.is_some())?;
        let mut r = Resolver {
            env,
            sources: BTreeMap::new(),
        };

        let base_url = r.pick(
            "base_url",
            o.base_url.clone(),
            "TAI_BASE_URL",
            file.base_url.clone(),
            DEFAULT_BASE_URL.to_string(),
        )?;
        let model = r.pick(
            "model",
            o.model.clone(),
            "TAI_MODEL",
            file.model.clone(),
            DEFAULT_MODEL.to_string(),
        )?;
        let embed_model = r.pick(
            "embed_model",
            o.embed_model.clone(),
            "TAI_EMBED_MODEL",
            file.embed_model.clone(),
            DEFAULT_EMBED_MODEL.to_string(),
        )?;
        let embed_base_url = r.pick(
            "embed_base_url",
            None,
            "TAI_EMBED_BASE_URL",
            file.embed_base_url.clone(),
            base_url.clone(),
        )?;
        let max_steps = r.pick(
            "max_steps",
            o.max_steps,
            "TAI_MAX_STEPS",
            file.max_steps,
            DEFAULT_MAX_STEPS,
        )?;
        if max_steps == 0 {
            return Err(ConfigError::BadValue {
                key: "max_steps".into(),
                value: "0".into(),
                message: "must be at least 1".into(),
            });
        }
        let num_ctx = r
            .pick("num_ctx", None, "TAI_NUM_CTX", file.num_ctx, 0u32)
            .map(|v| (v > 0).then_some(v))?;
        let model_timeout = r.pick(
            "model_timeout_secs",
            None,
            "TAI_MODEL_TIMEOUT",
            file.model_timeout_secs,
            DEFAULT_MODEL_TIMEOUT_SECS,
        )?;
        let api_key = env("TAI_API_KEY").or_else(|| env("OPENAI_API_KEY"));

        let ssh_file = &file.ssh;
        let identity_files = if !o.identity_files.is_empty() {
            r.sources.insert("identity_files", "flag".into());
            o.identity_files.clone()
        } else if let Some(p) = env("TAI_IDENTITY_FILE") {
            r.sources
                .insert("identity_files", "env TAI_IDENTITY_FILE".into());
            vec![PathBuf::from(p)]
        } else if let Some(v) = &ssh_file.identity_files {
            r.sources.insert("identity_files", "file".into());
            v.clone()
        } else {
            r.sources.insert("identity_files", "default".into());
            Vec::new()
        };
        let identity_files = identity_files.iter().map(|p| expand_tilde(p)).collect();
        let known_hosts = o
            .known_hosts
            .clone()
            .or_else(|| env("TAI_KNOWN_HOSTS").map(PathBuf::from))
            .or_else(|| ssh_file.known_hosts.clone())
            .map(|p| expand_tilde(&p));
        let config_file = o
            .ssh_config
            .clone()
            .or_else(|| env("TAI_SSH_CONFIG").map(PathBuf::from))
            .or_else(|| ssh_file.config.clone())
            .map(|p| expand_tilde(&p))
            .unwrap_or_else(|| expand_tilde(Path::new("~/.ssh/config")));
        let ignore_ssh_config = r.switch(
            "ignore_ssh_config",
            o.ignore_ssh_config,
            "TAI_IGNORE_SSH_CONFIG",
            ssh_file.ignore_ssh_config,
        )?;
        let connect_timeout = r.pick(
            "connect_timeout_secs",
            None,
            "TAI_CONNECT_TIMEOUT",
            ssh_file.connect_timeout_secs,
            DEFAULT_CONNECT_TIMEOUT_SECS,
        )?;
        let command_timeout = r.pick(
            "command_timeout_secs",
            o.command_timeout_secs,
            "TAI_COMMAND_TIMEOUT",
            ssh_file.command_timeout_secs,
            DEFAULT_COMMAND_TIMEOUT_SECS,
        )?;
        let max_concurrency = r.pick(
            "max_concurrency",
            None,
            "TAI_MAX_CONCURRENCY",
            ssh_file.max_concurrency,
            DEFAULT_MAX_CONCURRENCY,
        )?;
        if !(1..=9).contains(&max_concurrency) {
            return Err(ConfigError::BadValue {
                key: "max_concurrency".into(),
                value: max_concurrency.to_string(),
                message: "must be 1..=9 (OpenSSH allows 10 sessions per connection)".into(),
            });
        }
        let host_shells = r.pick(
            "host_shells",
            None,
            "TAI_HOST_SHELLS",
            ssh_file.host_shells,
            true,
        )?;
        let output_cap = r.pick(
            "output_cap_bytes",
            None,
            "TAI_OUTPUT_CAP",
            ssh_file.output_cap_bytes,
            DEFAULT_OUTPUT_CAP,
        )?;
        let session_output_cap = r.pick(
            "session_output_cap_bytes",
            None,
            "TAI_SESSION_OUTPUT_CAP",
            ssh_file.session_output_cap_bytes,
            DEFAULT_SESSION_OUTPUT_CAP,
        )?;

        let mut days = |name: &'static str, file: Option<u32>, default: u32| {
            let v = r.pick(name, None, "", file, default)?;
            if v == 0 {
                return Err(ConfigError::BadValue {
                    key: format!("retention.{name}"),
                    value: "0".into(),
                    message: "must be at least 1 day (`tai cleanup --all` removes everything)"
                        .into(),
                });
            }
            Ok(v)
        };
        let retention = RetentionSettings {
            sessions_days: days(
                "sessions_days",
                file.retention.sessions_days,
                DEFAULT_RETAIN_SESSIONS_DAYS,
            )?,
            audit_days: days(
                "audit_days",
                file.retention.audit_days,
                DEFAULT_RETAIN_AUDIT_DAYS,
            )?,
            records_days: days(
                "records_days",
                file.retention.records_days,
                DEFAULT_RETAIN_RECORDS_DAYS,
            )?,
        };

        let redact = match &file.redact.patterns {
            Some(p) => {
                r.sources.insert("patterns", "file".into());
                crate::redact::Redactor::with_patterns(p).map_err(|error| {
                    ConfigError::RedactPattern {
                        path: file_path.clone(),
                        error,
                    }
                })?
            }
            None => {
                r.sources.insert("patterns", "default".into());
                crate::redact::Redactor::builtin()
            }
        };

        let no_rag = r.switch("no_rag", o.no_rag, "TAI_NO_RAG", file.no_rag)?;
        let no_persist = r.switch(
            "no_persist",
            o.no_persist,
            "TAI_NO_PERSIST",
            file.no_persist,
        )?;
        let no_llm = r.switch("no_llm", o.no_llm, "TAI_NO_LLM", None)?;
        let sudo = r.switch("sudo", o.sudo, "TAI_SUDO", file.sudo)?;
        let color = !(o.no_color || env("NO_COLOR").is_some());

        Ok(Config {
            tai_home,
            model: ModelSettings {
                base_url,
                model,
                embed_model,
                embed_base_url,
                api_key,
                num_ctx,
                max_steps,
                timeout: Duration::from_secs(model_timeout),
                record_dir: o.record_dir.clone(),
                redact: redact.clone(),
            },
            ssh: SshSettings {
                identity_files,
                jump_host: o.jump_host.clone(),
                ignore_ssh_config,
                config_file,
                known_hosts,
                connect_timeout: Duration::from_secs(connect_timeout),
            },
            limits: ExecLimits {
                command_timeout: Duration::from_secs(command_timeout),
                output_cap,
                session_output_cap,
                max_concurrency,
                host_shells,
            },
            retention,
            mcp_hosts: file.mcp.hosts.clone().unwrap_or_default(),
            ui: file.ui.default.unwrap_or_default(),
            redact,
            no_rag,
            rag_debug: o.rag_debug,
            no_persist,
            no_llm,
            sudo,
            json: o.json,
            output_file: o.output_file.clone(),
            verbose: o.verbose,
            color,
            sources: r.sources,
        })
    }
}

fn load_file(path: &Path, must_exist: bool) -> Result<ConfigToml, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
            Ok(ConfigToml::default())
        }
        Err(source) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn precedence_default_file_env_flag() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "model = \"file-model\"\nmax_steps = 5\n",
        )
        .unwrap();
        let home = dir.path().to_str().unwrap().to_string();
        let env = env_of(&[("TAI_HOME", &home)]);
        let c = Config::resolve_with(&Overrides::default(), &env).unwrap();
        assert_eq!(c.model.model, "file-model");
        assert_eq!(c.model.max_steps, 5);
        assert_eq!(c.model.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.sources["base_url"], "default");

        let env = env_of(&[("TAI_HOME", &home), ("TAI_MODEL", "env-model")]);
        let c = Config::resolve_with(&Overrides::default(), &env).unwrap();
        assert_eq!(c.model.model, "env-model");
        assert_eq!(c.sources["model"], "env TAI_MODEL");

        let o = Overrides {
            model: Some("flag-model".into()),
            ..Default::default()
        };
        let c = Config::resolve_with(&o, &env).unwrap();
        assert_eq!(c.model.model, "flag-model");
        assert_eq!(c.sources["model"], "flag");
    }

    #[test]
    fn bad_env_value_names_the_variable() {
        let env = env_of(&[("TAI_HOME", "/nonexistent-tai"), ("TAI_MAX_STEPS", "many")]);
        let err = Config::resolve_with(&Overrides::default(), &env).unwrap_err();
        assert!(err.to_string().contains("TAI_MAX_STEPS"), "{err}");
    }

    #[test]
    fn unknown_key_in_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), "modle = \"x\"\n").unwrap();
        let home = dir.path().to_str().unwrap().to_string();
        let env = env_of(&[("TAI_HOME", &home)]);
        let err = Config::resolve_with(&Overrides::default(), &env).unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }));
        assert!(err.to_string().contains("modle"), "{err}");
    }

    #[test]
    fn ui_default_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap().to_string();
        let env = env_of(&[("TAI_HOME", &home)]);
        let c = Config::resolve_with(&Overrides::default(), &env).unwrap();
        assert_eq!(c.ui, UiDefault::Repl);
        std::fs::write(dir.path().join("config.toml"), "[ui]\ndefault = \"tui\"\n").unwrap();
        let c = Config::resolve_with(&Overrides::default(), &env).unwrap();
        assert_eq!(c.ui, UiDefault::Tui);
        std::fs::write(dir.path().join("config.toml"), "[ui]\ndefault = \"gui\"\n").unwrap();
        let err = Config::resolve_with(&Overrides::default(), &env).unwrap_err();
        assert!(err.to_string().contains("gui"), "{err}");
    }

    #[test]
    fn redact_patterns_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "[redact]\npatterns = [\"ACME-[0-9]{6}\"]\n",
        )
        .unwrap();
        let home = dir.path().to_str().unwrap().to_string();
        let env = env_of(&[("TAI_HOME", &home)]);
        let c = Config::resolve_with(&Overrides::default(), &env).unwrap();
        assert_eq!(c.redact.patterns(), ["ACME-[0-9]{6}"]);
        assert_eq!(c.sources["patterns"], "file");
        assert!(!c.redact.redact("id ACME-123456").contains("123456"));

        std::fs::write(
            dir.path().join("config.toml"),
            "[redact]\npatterns = [\"ok\", \"(unclosed\"]\n",
        )
        .unwrap();
        let err = Config::resolve_with(&Overrides::default(), &env).unwrap_err();
        assert_eq!(err.exit_code(), Code::Config);
        let msg = err.to_string();
        assert!(
            msg.contains("(unclosed") && msg.contains("pattern 2"),
            "{msg}"
        );
        assert!(msg.contains("config.toml"), "{msg}");
    }

    #[test]
    fn switches_from_env() {
        let env = env_of(&[
            ("TAI_HOME", "/nonexistent-tai"),
            ("TAI_NO_PERSIST", "yes"),
            ("NO_COLOR", "1"),
        ]);
        let c = Config::resolve_with(&Overrides::default(), &env).unwrap();
        assert!(c.no_persist);
        assert!(!c.color);
        assert_eq!(c.sources["no_persist"], "env TAI_NO_PERSIST");
    }
}
