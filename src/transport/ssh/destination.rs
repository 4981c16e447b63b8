//! Where tai connects: a [`Destination`] (target [`Hop`] plus jump hops) resolved from
//! ssh_config and tai's flags, without touching the network.
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::{config, jump, known_hosts};
use crate::config::Config;
use crate::transport::{HostSpec, TransportError};

/// Most hops in a jump chain (including those added by a hop's own ProxyJump).
pub(super) const MAX_HOPS: usize = 8;
/// Keepalive when ssh_config sets no ServerAliveInterval.
const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(15);

/// One host on the way, fully resolved.
#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    /// As typed (alias or address).
    pub alias: String,
    pub user: String,
    pub hostname: String,
    pub port: u16,
    /// Identity files tai tries, in order (flag, ssh_config, or the defaults).
    pub identity_files: Vec<PathBuf>,
    pub identities_only: bool,
    /// known_hosts files consulted; new keys are learned into the first.
    pub known_hosts_files: Vec<PathBuf>,
    /// System-wide known_hosts files, consulted after the user's, never written.
    pub global_known_hosts_files: Vec<PathBuf>,
    pub host_key_alias: Option<String>,
    /// False with `StrictHostKeyChecking yes`: unknown hosts are refused, not learned.
    pub learn_unknown: bool,
    /// `HashKnownHosts yes`: learn host names hashed.
    pub hash_known_hosts: bool,
}

impl Hop {
    pub(super) fn display(&self) -> String {
        let host = if self.hostname.contains(':') {
            format!("[{}]", self.hostname)
        } else {
            self.hostname.clone()
        };
        format!("{}@{host}:{}", self.user, self.port)
    }

    /// User files first, then the system-wide ones.
    pub(super) fn all_known_hosts_files(&self) -> Vec<PathBuf> {
        let mut all = self.known_hosts_files.clone();
        all.extend(self.global_known_hosts_files.iter().cloned());
        all
    }

    pub(super) fn known_hosts_name(&self) -> String {
        match &self.host_key_alias {
            Some(a) => a.to_ascii_lowercase(),
            None => known_hosts::host_key_name(&self.hostname, self.port),
        }
    }
}

/// Where tai will connect and how: the answer of ssh_config plus tai's flags.
#[derive(Debug, Clone, Serialize)]
pub struct Destination {
    pub target: Hop,
    /// Jump hosts, first hop first.
    pub jumps: Vec<Hop>,
    /// The ProxyJump value in effect (`-J` wins over ssh_config).
    pub proxy_jump: Option<String>,
    /// A ProxyCommand from ssh_config: tai never runs it and refuses to connect.
    pub proxy_command: Option<String>,
    /// ssh_config files read (empty with --ignore-ssh-config).
    pub config_files: Vec<PathBuf>,
    /// Debug notes from ssh_config resolution.
    pub notes: Vec<String>,
    pub connect_timeout: Duration,
    pub keepalive: Duration,
    pub keepalive_max: usize,
    /// Name shown to the user and the model.
    pub name: String,
    /// ssh-agent socket (`SSH_AUTH_SOCK`), if set.
    pub agent_socket: Option<PathBuf>,
}

/// Resolve `spec` through ssh_config and tai's settings, without connecting.
pub fn resolve(spec: &HostSpec, config: &Config) -> Result<Destination, TransportError> {
    let local = config::LocalContext::current();
    let sources = if config.ssh.ignore_ssh_config {
        config::Sources {
            user_file: None,
            system_file: None,
        }
    } else {
        let default_user_file = crate::config::expand_tilde(std::path::Path::new("~/.ssh/config"));
        config::Sources {
            user_file: Some(config.ssh.config_file.clone()),
            // OpenSSH reads the system file too, unless -F names another file.
            system_file: (config.ssh.config_file == default_user_file)
                .then(|| PathBuf::from("/etc/ssh/ssh_config")),
        }
    };
    let (target, hc) = resolve_hop(spec, config, &sources, &local)?;
    let mut notes = hc.notes.clone();
    let proxy_jump = config.ssh.jump_host.clone().or(hc.proxy_jump.clone());
    let jumps = match &proxy_jump {
        Some(chain) => {
            let mut visited = vec![spec.host.to_ascii_lowercase()];
            expand_chain(chain, config, &sources, &local, &mut notes, &mut visited)?
        }
        None => Vec::new(),
    };
    let connect_timeout = hc
        .connect_timeout
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .unwrap_or(config.ssh.connect_timeout);
    let keepalive = hc
        .server_alive_interval
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_KEEPALIVE);
    let name = match spec.port {
        Some(p) => format!("{}@{}:{p}", target.user, spec.host),
        None => format!("{}@{}", target.user, spec.host),
    };
    Ok(Destination {
        target,
        jumps,
        proxy_command: if config.ssh.jump_host.is_some() {
            None
        } else {
            hc.proxy_command.clone()
        },
        proxy_jump,
        config_files: [sources.user_file, sources.system_file]
            .into_iter()
            .flatten()
            .filter(|p| p.exists())
            .collect(),
        notes,
        connect_timeout,
        keepalive,
        keepalive_max: hc.server_alive_count_max.unwrap_or(3).max(1) as usize,
        name,
        agent_socket: std::env::var_os("SSH_AUTH_SOCK")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from),
    })
}

fn resolve_hop(
    spec: &HostSpec,
    config: &Config,
    sources: &config::Sources,
    local: &config::LocalContext,
) -> Result<(Hop, config::HostConfig), TransportError> {
    let hc = config::resolve(&spec.host, spec.user.as_deref(), spec.port, sources, local)?;
    let mut identity_files: Vec<PathBuf> = config.ssh.identity_files.clone();
    identity_files.extend(hc.identity_files.iter().cloned());
    if identity_files.is_empty() {
        identity_files = ["~/.ssh/id_ed25519", "~/.ssh/id_rsa"]
            .iter()
            .map(|p| crate::config::expand_tilde(std::path::Path::new(p)))
            .collect();
    }
    let known_hosts_files = match (&config.ssh.known_hosts, &hc.known_hosts_files) {
        (Some(f), _) => vec![f.clone()],
        (None, Some(list)) => list.clone(),
        (None, None) => ["~/.ssh/known_hosts", "~/.ssh/known_hosts2"]
            .iter()
            .map(|p| crate::config::expand_tilde(std::path::Path::new(p)))
            .collect(),
    };
    let global_known_hosts_files = hc.global_known_hosts_files.clone().unwrap_or_else(|| {
        vec![
            PathBuf::from("/etc/ssh/ssh_known_hosts"),
            PathBuf::from("/etc/ssh/ssh_known_hosts2"),
        ]
    });
    let hop = Hop {
        alias: spec.host.clone(),
        user: hc.user.clone().unwrap_or_else(|| local.user.clone()),
        hostname: hc.hostname.clone(),
        port: hc.port.unwrap_or(22),
        identity_files,
        identities_only: hc.identities_only,
        known_hosts_files,
        global_known_hosts_files,
        host_key_alias: hc.host_key_alias.clone(),
        learn_unknown: !hc
            .strict_host_key_checking
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("yes")),
        hash_known_hosts: hc.hash_known_hosts,
    };
    Ok((hop, hc))
}

/// Resolve a jump chain; the first hop's own ProxyJump (from ssh_config) goes before it.
/// A hop whose ProxyJump leads back to a host already on the path (e.g. a global
/// `ProxyJump bastion` that also matches `bastion`) is reached directly, with a note.
fn expand_chain(
    chain: &str,
    config: &Config,
    sources: &config::Sources,
    local: &config::LocalContext,
    notes: &mut Vec<String>,
    visited: &mut Vec<String>,
) -> Result<Vec<Hop>, TransportError> {
    let specs = jump::parse_chain(chain)?;
    let mut hops = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let (hop, hc) = resolve_hop(spec, config, sources, local)?;
        let alias = spec.host.to_ascii_lowercase();
        if i == 0 {
            if let Some(inner) = &hc.proxy_jump {
                let inner_hosts: Vec<String> = jump::parse_chain(inner)?
                    .into_iter()
                    .map(|h| h.host.to_ascii_lowercase())
                    .collect();
                if inner_hosts
                    .iter()
                    .any(|h| *h == alias || visited.contains(h))
                {
                    notes.push(format!(
                        "ProxyJump {inner} for jump host {alias} leads back into the chain; \
                         {alias} is reached directly"
                    ));
                } else if visited.len() >= MAX_HOPS {
                    return Err(TransportError::SshConfig(format!(
                        "jump chain for {alias} is longer than {MAX_HOPS} hops"
                    )));
                } else {
                    visited.push(alias.clone());
                    hops.extend(expand_chain(inner, config, sources, local, notes, visited)?);
                }
            }
        }
        visited.push(alias);
        notes.extend(hc.notes);
        hops.push(hop);
    }
    if hops.len() > MAX_HOPS {
        return Err(TransportError::SshConfig(format!(
            "jump chain {chain:?} has more than {MAX_HOPS} hops"
        )));
    }
    Ok(hops)
}
