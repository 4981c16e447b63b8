//! The command line as clap sees it (the "low-level" arguments). Everything here is converted
//! into [`crate::config::Overrides`] and resolved once into a [`crate::config::Config`].
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Overrides;

const AFTER_HELP: &str = "\
HOST is [user@]host[:port], an ssh_config alias, or `local` for this machine (no SSH).

Examples:
  tai web01 \"nginx returns 502 since the deploy\"     interactive session
  tai run web01 \"disk full on /var\" --json           one-shot report
  tai collect web01 --category disk                    baseline plan, no model
  tai policy check journalctl -u nginx -n 50           would tai run this?

Configuration: defaults < TAI_HOME/config.toml < TAI_* environment < flags.
TAI_HOME defaults to ~/.tai. `tai config` shows the effective settings.";

/// Troubleshoot Linux hosts over SSH with a local LLM. Read-only, always.
#[derive(Debug, Parser)]
#[command(
    name = "tai",
    version = super::dist::LONG_VERSION,
    about,
    after_help = AFTER_HELP,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// Host to investigate: [user@]host[:port], an ssh_config alias, or `local`.
    #[arg(value_name = "HOST")]
    pub host: Option<String>,

    /// What is wrong, in your words; starts the first turn.
    #[arg(value_name = "ISSUE", trailing_var_arg = true)]
    pub issue: Vec<String>,
}

/// Options shared by every subcommand.
#[derive(Debug, Clone, Args, Default)]
pub struct GlobalArgs {
    /// Private key for SSH authentication (repeatable); tried before ssh_config and defaults.
    #[arg(
        short = 'i',
        long = "identity-file",
        value_name = "FILE",
        global = true
    )]
    pub identity_file: Vec<PathBuf>,

    /// Jump host(s): [user@]host[:port][,...], like ssh -J.
    #[arg(short = 'J', long = "jump-host", value_name = "HOSTS", global = true)]
    pub jump_host: Option<String>,

    /// Do not read ~/.ssh/config.
    #[arg(long, global = true)]
    pub ignore_ssh_config: bool,

    /// ssh_config file to read instead of ~/.ssh/config.
    #[arg(short = 'F', long = "ssh-config", value_name = "FILE", global = true)]
    pub ssh_config: Option<PathBuf>,

    /// known_hosts file to check and record host keys in.
    #[arg(long, value_name = "FILE", global = true)]
    pub known_hosts: Option<PathBuf>,

    /// Model endpoint (OpenAI-compatible /v1 URL, or an Ollama root URL).
    #[arg(long, value_name = "URL", global = true)]
    pub base_url: Option<String>,

    /// Chat model name (default qwen3:4b).
    #[arg(long, value_name = "NAME", global = true)]
    pub model: Option<String>,

    /// Embedding model name (default nomic-embed-text).
    #[arg(long, value_name = "NAME", global = true)]
    pub embed_model: Option<String>,

    /// Maximum model steps per turn (default 12).
    #[arg(long, value_name = "N", global = true)]
    pub max_steps: Option<usize>,

    /// Per-command timeout on the host, in seconds (default 30).
    #[arg(long, value_name = "SECS", global = true)]
    pub timeout: Option<u64>,

    /// Send whole tool outputs to the model instead of retrieved chunks.
    #[arg(long, global = true)]
    pub no_rag: bool,

    /// Show lexical and vector scores for every retrieved item.
    #[arg(long, global = true)]
    pub rag_debug: bool,

    /// Write nothing under TAI_HOME (no history, no audit log, no store).
    #[arg(long, global = true)]
    pub no_persist: bool,

    /// Do not use a model: run the baseline plan and deterministic triage only.
    #[arg(long, global = true)]
    pub no_llm: bool,

    /// Run approved commands as `sudo -n` (never prompts); the policy still decides.
    #[arg(long, global = true)]
    pub sudo: bool,

    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    /// Also write the report (Markdown) to FILE.
    #[arg(long, value_name = "FILE", global = true)]
    pub output_file: Option<PathBuf>,

    /// Record every model request and response into DIR as replayable fixtures.
    #[arg(long, value_name = "DIR", global = true)]
    pub record: Option<PathBuf>,

    /// Config file (default TAI_HOME/config.toml).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Directory for tai's state (default ~/.tai; env TAI_HOME).
    #[arg(long, value_name = "DIR", global = true)]
    pub tai_home: Option<PathBuf>,

    /// More detail on stderr (-v, -vv).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Plain output without colours (also when NO_COLOR is set).
    #[arg(long, global = true)]
    pub no_color: bool,
}

impl GlobalArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            tai_home: self.tai_home.clone(),
            config_file: self.config.clone(),
            base_url: self.base_url.clone(),
            model: self.model.clone(),
            embed_model: self.embed_model.clone(),
            identity_files: self.identity_file.clone(),
            jump_host: self.jump_host.clone(),
            ignore_ssh_config: self.ignore_ssh_config,
            ssh_config: self.ssh_config.clone(),
            known_hosts: self.known_hosts.clone(),
            max_steps: self.max_steps,
            command_timeout_secs: self.timeout,
            no_rag: self.no_rag,
            rag_debug: self.rag_debug,
            no_persist: self.no_persist,
            no_llm: self.no_llm,
            sudo: self.sudo,
            json: self.json,
            output_file: self.output_file.clone(),
            record_dir: self.record.clone(),
            verbose: self.verbose,
            no_color: self.no_color,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One-shot investigation: run the agent loop, print the report, exit.
    Run(RunArgs),
    /// Run the baseline plan for a category and print what it collected (no model).
    Collect(CollectArgs),
    /// List, inspect and run the read-only tools.
    #[command(subcommand)]
    Tools(ToolsCommand),
    /// Ask the read-only policy about a command.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Manage and search the runbook library.
    #[command(subcommand)]
    Runbooks(RunbooksCommand),
    /// Search and export past sessions.
    History(HistoryArgs),
    /// Check the model endpoint, models, SSH keys and the store; with HOST, the connection too.
    Doctor(DoctorArgs),
    /// Show the effective configuration and where each value came from.
    Config,
    /// Remove sessions, audit files and model recordings older than the [retention] bounds.
    Cleanup(CleanupArgs),
    /// Write sessions and runbooks to one versioned, checksummed archive file.
    Export(ExportArgs),
    /// Merge an archive written by `tai export` into the store (idempotent, all or nothing).
    Import(ImportArgs),
    /// Show the audit log (every command run or refused, model requests, retention); `verify`
    /// checks its hash chain.
    Audit(AuditArgs),
    /// Print shell completions.
    Completions(CompletionsArgs),
    /// Serve tai's read-only tools, triage and runbooks to MCP clients (stdio, or --http).
    Mcp(McpArgs),
    /// Investigate many hosts at once: findings grouped across hosts, outliers against the
    /// fleet median, unreachable hosts with the reason (no model unless --ask).
    Fleet(FleetArgs),
    /// The full-screen workspace: probes, output, answer, input and history panes.
    Tui(TuiArgs),
    /// Write the release tarball (binary, man pages, completions, README, LICENSE) to OUTDIR.
    #[command(hide = true)]
    Dist(DistArgs),
}

/// `tai dist OUTDIR` (hidden): release artifacts from the clap definitions.
#[derive(Debug, Args)]
pub struct DistArgs {
    /// Directory to write `tai-VERSION-TARGET/` and its `.tar.gz` into (created if missing).
    #[arg(value_name = "OUTDIR")]
    pub outdir: PathBuf,
}

/// `tai tui HOST [ISSUE...]`.
#[derive(Debug, Args)]
pub struct TuiArgs {
    /// Host to investigate.
    pub host: String,
    /// What is wrong, in your words (optional: ask in the input bar).
    #[arg(trailing_var_arg = true)]
    pub issue: Vec<String>,
}

/// `tai fleet TARGET... [--inventory FILE:GROUP] [-- ISSUE...]`.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// Hosts: [user@]host[:port], @FILE (one per line), or ssh_config Host patterns (`web*`).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// The issue, in your words (or give it after `--`).
    #[arg(long, value_name = "TEXT")]
    pub issue: Option<String>,
    /// Ansible inventory (INI or YAML) and group: FILE:GROUP, or FILE for every host.
    #[arg(long, value_name = "FILE[:GROUP]")]
    pub inventory: Option<String>,
    /// Force the issue category instead of classifying the issue text.
    #[arg(long, value_name = "CAT")]
    pub category: Option<String>,
    /// Hosts in flight at once.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub forks: usize,
    /// Give up on a host after this many seconds (connect and every call).
    #[arg(long = "host-timeout", value_name = "SECS", default_value_t = 120)]
    pub host_timeout: u64,
    /// Compare this package's version across the hosts (repeatable; default: the service the
    /// issue names, e.g. nginx, else the category's own service).
    #[arg(long = "package", value_name = "NAME")]
    pub packages: Vec<String>,
    /// Hand the fleet summary to the model for a cross-host root cause (one request).
    #[arg(long)]
    pub ask: bool,
    /// The issue words after `--`.
    #[arg(last = true, value_name = "ISSUE")]
    pub issue_words: Vec<String>,
}

/// `tai mcp [--hosts a,b] [--host-pattern GLOB] [--http ADDR [--token-file F]]`.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// Hosts clients may name (comma-separated; added to `[mcp] hosts`). Nothing else is allowed.
    #[arg(long, value_delimiter = ',', value_name = "HOST,...")]
    pub hosts: Vec<String>,
    /// Also allow the ssh_config aliases matching this glob (`*`, `?`); may repeat.
    #[arg(long = "host-pattern", value_name = "GLOB")]
    pub host_pattern: Vec<String>,
    /// Serve streamable HTTP on ADDR (loopback unless given another address, which then needs
    /// a token) instead of stdio.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// File holding the bearer token HTTP clients must send (or set TAI_MCP_TOKEN).
    #[arg(long = "token-file", value_name = "FILE")]
    pub token_file: Option<std::path::PathBuf>,
    /// Close a host's SSH connection after this many seconds without a call.
    #[arg(long = "idle-timeout", value_name = "SECS", default_value_t = 300)]
    pub idle_timeout: u64,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Host to investigate.
    pub host: String,
    /// What is wrong, in your words (flags may follow it).
    #[arg(required = true)]
    pub issue: Vec<String>,
    /// Force the issue category instead of classifying the text.
    #[arg(long, value_name = "CAT")]
    pub category: Option<String>,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Host to collect from.
    pub host: String,
    /// Category whose baseline plan runs (service, network, dns, disk, memory, kernel, auth,
    /// time, tls, performance, general).
    #[arg(long, value_name = "CAT")]
    pub category: Option<String>,
    /// Issue text, used to pick the category when --category is not given.
    #[arg(trailing_var_arg = true)]
    pub issue: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// List every tool with a one-line description.
    List,
    /// Show a tool's JSON schema.
    Show {
        /// Tool name.
        name: String,
    },
    /// Run one tool on a host.
    Run {
        /// Host to run on.
        host: String,
        /// Tool name.
        name: String,
        /// Arguments as a JSON object.
        #[arg(long, value_name = "JSON", default_value = "{}")]
        args: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Exit 0 if the read-only policy allows COMMAND, 1 if not, with the deciding rule.
    Check {
        /// The command as separate words (argv), e.g. `journalctl -u nginx -n 50`.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunbooksCommand {
    /// Index runbooks (incremental: unchanged files are skipped).
    Sync {
        /// Directory of Markdown runbooks (default: the bundled ones).
        #[arg(long, value_name = "DIR")]
        path: Option<PathBuf>,
    },
    /// List indexed runbooks with chunk counts and last sync time.
    List,
    /// Add one runbook file to the library and index it.
    Add {
        /// Markdown file with YAML frontmatter.
        file: PathBuf,
    },
    /// Search runbooks (BM25, fused with vectors when embeddings are available).
    Search {
        /// What to look for (flags such as --json may follow it).
        #[arg(required = true)]
        query: Vec<String>,
        /// Number of results.
        #[arg(short = 'k', long, default_value_t = 5)]
        limit: usize,
    },
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Search text; without it, the most recent sessions (flags may follow it).
    pub query: Vec<String>,
    /// Only sessions on this host.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Write the matching sessions as Markdown to FILE.
    #[arg(long, value_name = "FILE")]
    pub export: Option<PathBuf>,
    /// Number of sessions.
    #[arg(short = 'k', long, default_value_t = 20)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Also resolve and connect to this host.
    pub host: Option<String>,
    /// With HOST: only resolve it through ssh_config and flags (like `ssh -G`), no
    /// connection and no other checks.
    #[arg(long, requires = "host")]
    pub resolve_only: bool,
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Remove what is older than N days (default: `[retention]` in config, per kind).
    #[arg(long, value_name = "N", conflicts_with = "all")]
    pub retain_days: Option<u32>,
    /// Only sessions on this host (audit files and recordings are not per host).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Remove everything of the chosen kind, whatever its age (needs --yes).
    #[arg(long)]
    pub all: bool,
    /// What to remove.
    #[arg(long, value_enum, default_value_t = CleanupWhat::All)]
    pub what: CleanupWhat,
    /// List exactly what would be removed, and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Confirm `--all` (tai never prompts; without --yes, `--all` is refused).
    #[arg(long)]
    pub yes: bool,
}

/// Kinds of data `tai cleanup` removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CleanupWhat {
    Sessions,
    Audit,
    Records,
    All,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Archive file to write (refused if it exists).
    pub file: PathBuf,
    /// Export sessions (without --sessions or --runbooks: both).
    #[arg(long)]
    pub sessions: bool,
    /// Export your runbooks (the bundled ones ship with every tai and are left out).
    #[arg(long)]
    pub runbooks: bool,
    /// Only sessions on this host.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Only sessions since T: YYYY-MM-DD, an RFC 3339 time, or an age like 30d or 12h.
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Archive written by `tai export`.
    pub file: PathBuf,
    /// Validate the archive and show what would be added; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `tai audit [--host H] [--since T] [--json]`, `tai audit verify`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// Only lines about this host (as named, or its address).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Only lines since T: RFC 3339 (2026-12-01T08:00:00Z), a date (2026-12-01), or an age
    /// such as 7d, 24h or 30m.
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole hash chain; exit 10 naming the first broken line (file and line).
    Verify,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to generate completions for.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}
