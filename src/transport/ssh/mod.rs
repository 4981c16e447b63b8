//! The SSH transport on russh: key-only authentication ([`auth`]), ssh_config resolution
//! ([`config`]), known_hosts checking ([`known_hosts`]), jump hosts ([`jump`]) and
//! concurrent command channels over one connection ([`exec`]).
//!
//! One connection per host; each command gets its own session channel; at most
//! `limits.max_concurrency` run at once. If the connection dropped between commands it is
//! re-established once, transparently (with the same host-key check). Every hop's host key
//! is checked before anything else happens on it; a changed key stops tai before any command.
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::client::{self, Handle};
use russh::keys::{Algorithm, HashAlg, PublicKeyOrCertificate};
use serde::Serialize;

use super::{CommandOutput, ExecOptions, HostSpec, Transport, TransportError};
use crate::config::Config;
use crate::policy::ApprovedCommand;

pub mod auth;
pub mod config;
pub mod exec;
pub mod jump;
pub mod known_hosts;

/// Most hops in a jump chain (including those added by a hop's own ProxyJump).
const MAX_HOPS: usize = 8;
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
    fn display(&self) -> String {
        let host = if self.hostname.contains(':') {
            format!("[{}]", self.hostname)
        } else {
            self.hostname.clone()
        };
        format!("{}@{host}:{}", self.user, self.port)
    }

    /// User files first, then the system-wide ones.
    fn all_known_hosts_files(&self) -> Vec<PathBuf> {
        let mut all = self.known_hosts_files.clone();
        all.extend(self.global_known_hosts_files.iter().cloned());
        all
    }

    fn known_hosts_name(&self) -> String {
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

/// How a hop's host key was accepted.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum HostKeyStatus {
    /// Recorded at `file:line`.
    Known { file: PathBuf, line: usize },
    /// First connection: learned into `file`.
    Learned { file: PathBuf },
    /// First connection, but there is no known_hosts file to record it in.
    NotRecorded,
}

/// What happened while connecting one hop.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HopReport {
    pub host: String,
    pub host_key: Option<HostKeyStatus>,
    pub fingerprint: Option<String>,
    /// The server's SSH identification string (e.g. `SSH-2.0-OpenSSH_9.2p1 Debian-2`).
    pub server_version: Option<String>,
    pub auth: Option<String>,
}

/// Connection details for `tai doctor`.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectReport {
    pub connect_ms: u128,
    pub hops: Vec<HopReport>,
}

/// Errors the russh client handler can return.
#[derive(Debug)]
pub enum HandlerError {
    Ssh(russh::Error),
    Rejected(TransportError),
}

impl From<russh::Error> for HandlerError {
    fn from(e: russh::Error) -> Self {
        HandlerError::Ssh(e)
    }
}

/// The russh client handler: checks the server's host key against known_hosts.
pub struct ClientHandler {
    hop: Hop,
    report: Arc<Mutex<HopReport>>,
}

impl client::Handler for ClientHandler {
    type Error = HandlerError;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key,
            PublicKeyOrCertificate::Certificate(_) => {
                return Err(HandlerError::Rejected(TransportError::HostKey {
                    host: self.hop.display(),
                    reason: "the server presented a host certificate; tai only accepts plain \
                             host keys recorded in known_hosts"
                        .into(),
                }))
            }
        };
        let name = self.hop.known_hosts_name();
        let files = &self.hop.known_hosts_files;
        let status = match known_hosts::check(&self.hop.all_known_hosts_files(), &name, key) {
            known_hosts::Verdict::Known { file, line } => HostKeyStatus::Known { file, line },
            known_hosts::Verdict::Changed { recorded }
            | known_hosts::Verdict::TypeChanged { recorded } => {
                return Err(HandlerError::Rejected(TransportError::HostKeyChanged {
                    host: self.hop.display(),
                    message: known_hosts::changed_message(
                        &self.hop.display(),
                        &name,
                        key,
                        &recorded,
                    ),
                }))
            }
            known_hosts::Verdict::Revoked { file, line } => {
                return Err(HandlerError::Rejected(TransportError::HostKeyChanged {
                    host: self.hop.display(),
                    message: format!(
                        "the host key of {} ({}) is marked @revoked in {}:{line}; tai will not connect",
                        self.hop.display(),
                        known_hosts::fingerprint(key),
                        file.display()
                    ),
                }))
            }
            known_hosts::Verdict::Unknown if !self.hop.learn_unknown => {
                return Err(HandlerError::Rejected(TransportError::HostKey {
                    host: self.hop.display(),
                    reason: format!(
                        "no host key is recorded for {name} and StrictHostKeyChecking is yes \
                         (offered {})\n  record it first, e.g. `ssh-keyscan -p {} {} >> {}`",
                        known_hosts::fingerprint(key),
                        self.hop.port,
                        self.hop.hostname,
                        files
                            .first()
                            .map(|f| f.display().to_string())
                            .unwrap_or_else(|| "~/.ssh/known_hosts".into())
                    ),
                }))
            }
            known_hosts::Verdict::Unknown => match files.first() {
                Some(file) => {
                    known_hosts::learn(file, &name, key, self.hop.hash_known_hosts).map_err(|e| {
                        HandlerError::Rejected(TransportError::HostKey {
                            host: self.hop.display(),
                            reason: format!(
                                "could not record the new host key in {}: {e}",
                                file.display()
                            ),
                        })
                    })?;
                    eprintln!(
                        "tai: learned host key for {name} ({}) into {}",
                        known_hosts::fingerprint(key),
                        file.display()
                    );
                    HostKeyStatus::Learned { file: file.clone() }
                }
                None => HostKeyStatus::NotRecorded,
            },
        };
        if let Ok(mut r) = self.report.lock() {
            r.host_key = Some(status);
            r.fingerprint = Some(known_hosts::fingerprint(key));
        }
        Ok(true)
    }

    // tai never forwards its agent, ports or X11, and never serves sessions: every channel
    // the server tries to open towards us is refused (russh's defaults would accept).
    async fn server_channel_open_agent_forward(
        &mut self,
        _channel: russh::Channel<client::Msg>,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        reply
            .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
            .await;
        Ok(())
    }

    async fn server_channel_open_session(
        &mut self,
        _channel: russh::Channel<client::Msg>,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        reply
            .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
            .await;
        Ok(())
    }

    async fn server_channel_open_forwarded_tcpip(
        &mut self,
        _channel: russh::Channel<client::Msg>,
        _connected_address: &str,
        _connected_port: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        reply
            .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
            .await;
        Ok(())
    }

    async fn server_channel_open_forwarded_streamlocal(
        &mut self,
        _channel: russh::Channel<client::Msg>,
        _socket_path: &str,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        reply
            .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
            .await;
        Ok(())
    }

    async fn server_channel_open_direct_tcpip(
        &mut self,
        _channel: russh::Channel<client::Msg>,
        _host_to_connect: &str,
        _port_to_connect: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        reply
            .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
            .await;
        Ok(())
    }

    async fn server_channel_open_direct_streamlocal(
        &mut self,
        _channel: russh::Channel<client::Msg>,
        _socket_path: &str,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        reply
            .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
            .await;
        Ok(())
    }

    async fn server_channel_open_x11(
        &mut self,
        _channel: russh::Channel<client::Msg>,
        _originator_address: &str,
        _originator_port: u32,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        reply
            .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
            .await;
        Ok(())
    }

    async fn kex_done(
        &mut self,
        _shared_secret: Option<&[u8]>,
        _names: &russh::Names,
        session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        if let Ok(mut r) = self.report.lock() {
            if r.server_version.is_none() {
                r.server_version = Some(
                    String::from_utf8_lossy(session.remote_sshid())
                        .trim()
                        .to_string(),
                );
            }
        }
        Ok(())
    }
}

/// An established connection: the target's handle and the jump handles it rides on.
pub struct Connection {
    handle: Handle<ClientHandler>,
    /// Kept alive: dropping a jump handle tears down the tunnel.
    jumps: Vec<Handle<ClientHandler>>,
}

impl Connection {
    async fn disconnect(&self) {
        for h in std::iter::once(&self.handle).chain(self.jumps.iter().rev()) {
            let _ = h
                .disconnect(russh::Disconnect::ByApplication, "tai done", "en")
                .await;
        }
    }
}

fn client_config(hop: &Hop, dest: &Destination) -> client::Config {
    let recorded =
        known_hosts::recorded_algorithms(&hop.all_known_hosts_files(), &hop.known_hosts_name());
    let mut preferred_keys: Vec<Algorithm> = Vec::new();
    for alg in recorded {
        let expanded = match alg {
            Algorithm::Rsa { .. } => vec![
                Algorithm::Rsa {
                    hash: Some(HashAlg::Sha512),
                },
                Algorithm::Rsa {
                    hash: Some(HashAlg::Sha256),
                },
                Algorithm::Rsa { hash: None },
            ],
            other => vec![other],
        };
        for a in expanded {
            if !preferred_keys.contains(&a) {
                preferred_keys.push(a);
            }
        }
    }
    for a in russh::Preferred::DEFAULT.key.iter() {
        if !preferred_keys.contains(a) {
            preferred_keys.push(a.clone());
        }
    }
    client::Config {
        keepalive_interval: Some(dest.keepalive),
        keepalive_max: dest.keepalive_max,
        nodelay: true,
        preferred: russh::Preferred {
            key: preferred_keys.into(),
            ..russh::Preferred::DEFAULT
        },
        ..Default::default()
    }
}

fn map_connect_error(hop: &Hop, e: HandlerError) -> TransportError {
    match e {
        HandlerError::Rejected(t) => t,
        HandlerError::Ssh(russh::Error::IO(io)) => TransportError::Connect {
            host: hop.display(),
            reason: io.to_string(),
        },
        HandlerError::Ssh(other) => TransportError::Connect {
            host: hop.display(),
            reason: format!("SSH handshake failed: {other}"),
        },
    }
}

/// Connect and authenticate one hop, directly or through `via`.
async fn open_hop(
    hop: &Hop,
    via: Option<(&Hop, &Handle<ClientHandler>)>,
    dest: &Destination,
) -> Result<(Handle<ClientHandler>, HopReport), TransportError> {
    let report = Arc::new(Mutex::new(HopReport {
        host: hop.display(),
        ..Default::default()
    }));
    let handler = ClientHandler {
        hop: hop.clone(),
        report: report.clone(),
    };
    let cfg = Arc::new(client_config(hop, dest));
    let handshake = async {
        match via {
            None => client::connect(cfg, (hop.hostname.as_str(), hop.port), handler)
                .await
                .map_err(|e| map_connect_error(hop, e)),
            Some((prev, prev_handle)) => {
                let channel = prev_handle
                    .channel_open_direct_tcpip(
                        hop.hostname.as_str(),
                        hop.port as u32,
                        "127.0.0.1",
                        0,
                    )
                    .await
                    .map_err(|e| TransportError::Connect {
                        host: hop.display(),
                        reason: format!(
                            "jump host {} could not open a tunnel to {}:{}: {e}",
                            prev.display(),
                            hop.hostname,
                            hop.port
                        ),
                    })?;
                client::connect_stream(cfg, channel.into_stream(), handler)
                    .await
                    .map_err(|e| map_connect_error(hop, e))
            }
        }
    };
    let mut handle = tokio::time::timeout(dest.connect_timeout, handshake)
        .await
        .map_err(|_| TransportError::ConnectTimeout {
            host: hop.display(),
            secs: dest.connect_timeout.as_secs(),
        })??;
    let keys = auth::KeySources {
        files: hop.identity_files.clone(),
        identities_only: hop.identities_only,
        agent_socket: dest.agent_socket.clone(),
    };
    let outcome = auth::authenticate(&mut handle, &hop.user, &hop.display(), &keys)
        .await
        .map_err(|e| match e {
            TransportError::ConnectionLost { reason, .. } => TransportError::ConnectionLost {
                host: hop.display(),
                reason,
            },
            other => other,
        })?;
    let mut r = report.lock().map(|r| r.clone()).unwrap_or_default();
    r.auth = Some(outcome.method);
    Ok((handle, r))
}

/// Connect the whole chain to `dest.target`.
async fn connect_destination(
    dest: &Destination,
) -> Result<(Connection, ConnectReport), TransportError> {
    if let Some(cmd) = &dest.proxy_command {
        return Err(TransportError::SshConfig(format!(
            "ssh_config sets ProxyCommand {cmd:?} for {}; tai never runs proxy commands\n  \
             use ProxyJump (or -J host) instead, or --ignore-ssh-config",
            dest.target.alias
        )));
    }
    let start = Instant::now();
    let mut jumps: Vec<Handle<ClientHandler>> = Vec::new();
    let mut reports = Vec::new();
    for i in 0..dest.jumps.len() {
        let hop = &dest.jumps[i];
        let via = match i {
            0 => None,
            _ => Some((&dest.jumps[i - 1], &jumps[i - 1])),
        };
        let (h, r) = open_hop(hop, via, dest).await?;
        jumps.push(h);
        reports.push(r);
    }
    let via = dest.jumps.last().zip(jumps.last());
    let (handle, r) = open_hop(&dest.target, via, dest).await?;
    reports.push(r);
    Ok((
        Connection { handle, jumps },
        ConnectReport {
            connect_ms: start.elapsed().as_millis(),
            hops: reports,
        },
    ))
}

/// A connected host.
pub struct SshTransport {
    dest: Destination,
    conn: tokio::sync::Mutex<Option<Arc<Connection>>>,
    permits: tokio::sync::Semaphore,
    /// Set by [`Transport::close`]: no reconnects after that.
    closed: std::sync::atomic::AtomicBool,
}

impl SshTransport {
    /// The resolved destination.
    pub fn destination(&self) -> &Destination {
        &self.dest
    }

    /// The live connection, and whether this call had to (re)establish it.
    async fn current(&self) -> Result<(Arc<Connection>, bool), TransportError> {
        let mut guard = self.conn.lock().await;
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(self.lost("", "the connection was closed by tai"));
        }
        if let Some(c) = guard.as_ref() {
            if !c.handle.is_closed() {
                return Ok((c.clone(), false));
            }
        }
        let (c, _) = connect_destination(&self.dest).await?;
        let c = Arc::new(c);
        *guard = Some(c.clone());
        Ok((c, true))
    }

    /// Replace `old` (unless another caller already did), checking host keys again.
    async fn reconnect(&self, old: &Arc<Connection>) -> Result<Arc<Connection>, TransportError> {
        let mut guard = self.conn.lock().await;
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(self.lost("", "the connection was closed by tai"));
        }
        if let Some(c) = guard.as_ref() {
            if !Arc::ptr_eq(c, old) && !c.handle.is_closed() {
                return Ok(c.clone());
            }
        }
        let (c, _) = connect_destination(&self.dest).await?;
        let c = Arc::new(c);
        *guard = Some(c.clone());
        Ok(c)
    }

    fn lost(&self, line: &str, why: &str) -> TransportError {
        TransportError::ConnectionLost {
            host: self.dest.name.clone(),
            reason: format!(
                "while running `{line}`: {why}\n  the host may have rebooted or sshd was \
                 restarted; check it with `tai doctor {}`",
                self.dest.target.alias
            ),
        }
    }
}

#[async_trait::async_trait]
impl Transport for SshTransport {
    fn name(&self) -> String {
        self.dest.name.clone()
    }

    async fn exec(
        &self,
        cmd: &ApprovedCommand,
        opts: &ExecOptions,
    ) -> Result<CommandOutput, TransportError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| self.lost("", "the transport was closed"))?;
        let line = cmd.command_line();
        let cancelled = || CommandOutput {
            stdout: String::new(),
            stderr: String::new(),
            exit_code: None,
            signal: None,
            truncated_bytes: 0,
            timed_out: false,
            cancelled: true,
            duration: Duration::ZERO,
        };
        if opts.cancel.is_cancelled() {
            return Ok(cancelled());
        }
        let (conn, fresh) = tokio::select! {
            c = self.current() => c?,
            _ = opts.cancel.cancelled() => return Ok(cancelled()),
        };
        let first = exec::run(&conn.handle, &line, opts).await;
        let result = match first {
            // Nothing ran: the connection dropped between commands. Reconnect once (unless
            // this call just connected).
            Err(exec::ExecFailure::NotStarted(_)) if !fresh => {
                let conn = tokio::select! {
                    c = self.reconnect(&conn) => c?,
                    _ = opts.cancel.cancelled() => return Ok(cancelled()),
                };
                exec::run(&conn.handle, &line, opts).await
            }
            other => other,
        };
        result.map_err(|f| match f {
            exec::ExecFailure::NotStarted(why) => self.lost(&line, &why),
            exec::ExecFailure::Lost(why) => self.lost(&line, &why),
            exec::ExecFailure::Refused(why) => TransportError::Spawn {
                host: self.dest.name.clone(),
                program: cmd.argv().first().cloned().unwrap_or_default(),
                reason: why,
            },
        })
    }

    async fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        let conn = self.conn.lock().await.take();
        if let Some(c) = conn {
            c.disconnect().await;
        }
    }
}

/// Connect to `spec`: resolve ssh_config, connect (through any jump hosts), check host
/// keys, authenticate.
pub async fn connect(
    spec: &HostSpec,
    config: &Config,
) -> Result<Arc<dyn Transport>, TransportError> {
    let (t, _) = connect_with_report(spec, config).await?;
    Ok(t)
}

/// [`connect`], also returning what happened on the way (for `tai doctor`).
pub async fn connect_with_report(
    spec: &HostSpec,
    config: &Config,
) -> Result<(Arc<SshTransport>, ConnectReport), TransportError> {
    let dest = resolve(spec, config)?;
    connect_resolved(dest, config).await
}

/// Connect to an already resolved destination.
pub async fn connect_resolved(
    dest: Destination,
    config: &Config,
) -> Result<(Arc<SshTransport>, ConnectReport), TransportError> {
    let (conn, report) = connect_destination(&dest).await?;
    let t = SshTransport {
        dest,
        conn: tokio::sync::Mutex::new(Some(Arc::new(conn))),
        permits: tokio::sync::Semaphore::new(config.limits.max_concurrency.max(1)),
        closed: std::sync::atomic::AtomicBool::new(false),
    };
    Ok((Arc::new(t), report))
}

#[cfg(test)]
mod tests;
