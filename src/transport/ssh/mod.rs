//! The SSH transport on russh: key-only authentication ([`auth`]), ssh_config resolution
//! ([`config`]) into a [`Destination`] (`destination.rs`), known_hosts checking
//! ([`known_hosts`], applied by the russh handler in `handler.rs`), jump hosts ([`jump`])
//! and concurrent commands over one connection: on host-side shells kept between commands
//! ([`shell`]), or a session channel each ([`exec`]). This file connects the hops and
//! implements [`Transport`].
//!
//! One connection per host; each command runs on an idle kept shell, a new one, or (shells
//! off, or not working on that host) its own session channel; at most
//! `limits.max_concurrency` run at once. If the connection dropped between commands it is
//! re-established once, transparently (with the same host-key check). Every hop's host key
//! is checked before anything else happens on it; a changed key stops tai before any command.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::client::{self, Handle};
use russh::keys::{Algorithm, HashAlg};
use serde::Serialize;

use super::{
    wrapper, CommandOutput, ExecOptions, Guard, Guarded, HostSpec, Transport, TransportError,
};
use crate::config::Config;
use crate::policy::ApprovedCommand;

pub mod auth;
pub mod config;
mod destination;
pub mod exec;
mod handler;
pub mod jump;
pub mod known_hosts;
pub mod shell;

pub use destination::{resolve, Destination, Hop};
pub use handler::{ClientHandler, HandlerError, HopReport, HostKeyStatus};

/// Connection details for `tai doctor`.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectReport {
    pub connect_ms: u128,
    pub hops: Vec<HopReport>,
}

/// An established connection: the target's handle and the jump handles it rides on.
pub struct Connection {
    handle: Handle<ClientHandler>,
    /// Kept alive: dropping a jump handle tears down the tunnel.
    jumps: Vec<Handle<ClientHandler>>,
    /// Host-side shells kept between commands on this connection.
    shells: Arc<shell::ShellPool>,
}

impl Connection {
    async fn disconnect(&self) {
        self.shells.close_all().await;
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
            None => {
                // What `client::connect` does, keeping the address reached for the audit log.
                let socket = tokio::net::TcpStream::connect((hop.hostname.as_str(), hop.port))
                    .await
                    .map_err(|e| map_connect_error(hop, HandlerError::Ssh(russh::Error::IO(e))))?;
                if let Ok(mut r) = report.lock() {
                    r.address = socket.peer_addr().ok().map(|a| a.to_string());
                }
                let _ = socket.set_nodelay(true);
                client::connect_stream(cfg, socket, handler)
                    .await
                    .map_err(|e| map_connect_error(hop, e))
            }
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
                if let Ok(mut r) = report.lock() {
                    r.address = Some(format!(
                        "{}:{} via {}",
                        hop.hostname,
                        hop.port,
                        prev.display()
                    ));
                }
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

fn peer_of(hop: &HopReport) -> crate::transport::PeerIdentity {
    crate::transport::PeerIdentity {
        address: hop.address.clone(),
        host_key: hop.fingerprint.clone(),
    }
}

/// Connect the whole chain to `dest.target`.
async fn connect_destination(
    dest: &Destination,
    shells: usize,
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
        Connection {
            handle,
            jumps,
            shells: shell::ShellPool::new(shells),
        },
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
    /// Host-side shells kept per connection (0: a channel per command).
    shells: usize,
    /// Set by [`Transport::close`]: no reconnects after that.
    closed: std::sync::atomic::AtomicBool,
    /// The target's address and host key, from the latest (re)connection.
    peer: std::sync::Mutex<crate::transport::PeerIdentity>,
}

impl SshTransport {
    /// The resolved destination.
    pub fn destination(&self) -> &Destination {
        &self.dest
    }

    fn remember_peer(&self, report: &ConnectReport) {
        if let (Some(hop), Ok(mut peer)) = (report.hops.last(), self.peer.lock()) {
            *peer = peer_of(hop);
        }
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
        let (c, report) = connect_destination(&self.dest, self.shells).await?;
        self.remember_peer(&report);
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
        let (c, report) = connect_destination(&self.dest, self.shells).await?;
        self.remember_peer(&report);
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

    fn peer(&self) -> crate::transport::PeerIdentity {
        self.peer.lock().map(|p| p.clone()).unwrap_or_default()
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
        let wrapped = wrapper::wrap(cmd, opts.timeout);
        // Errors name the approved command, not tai's fixed wrapper around it.
        let shown = cmd.display();
        let line = shown.as_str();
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
        let first = run_on(&conn, &wrapped, opts).await;
        let result = match first {
            // Nothing ran: the connection dropped between commands. Reconnect once (unless
            // this call just connected).
            Err(exec::ExecFailure::NotStarted(_)) if !fresh => {
                let conn = tokio::select! {
                    c = self.reconnect(&conn) => c?,
                    _ = opts.cancel.cancelled() => return Ok(cancelled()),
                };
                run_on(&conn, &wrapped, opts).await
            }
            other => other,
        };
        let program = cmd.checked_argv().first().cloned().unwrap_or_default();
        let spawn = |reason: String| TransportError::Spawn {
            host: self.dest.name.clone(),
            program: program.clone(),
            reason,
        };
        let out = result.map_err(|f| match f {
            exec::ExecFailure::NotStarted(why) => self.lost(line, &why),
            exec::ExecFailure::Lost(why) => self.lost(line, &why),
            exec::ExecFailure::Refused(why) => spawn(why),
        })?;
        wrapped.finish(out, spawn)
    }

    async fn exec_guarded(
        &self,
        guards: &[Guard],
        cmd: &ApprovedCommand,
        opts: &ExecOptions,
    ) -> Result<Guarded, TransportError> {
        if self.shells == 0 || opts.cancel.is_cancelled() {
            return Ok(Guarded::Unsupported);
        }
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| self.lost("", "the transport was closed"))?;
        let (conn, _) = tokio::select! {
            c = self.current() => c?,
            _ = opts.cancel.cancelled() => return Ok(Guarded::Unsupported),
        };
        if !conn.shells.usable() {
            return Ok(Guarded::Unsupported);
        }
        let checks: Vec<(wrapper::Wrapped, crate::transport::Expect)> = guards
            .iter()
            .map(|g| (wrapper::wrap(&g.cmd, opts.timeout), g.expect.clone()))
            .collect();
        let wrapped = wrapper::wrap(cmd, opts.timeout);
        let shown = cmd.display();
        let (out, held) = match conn
            .shells
            .run_guarded(&conn.handle, &checks, &wrapped, opts)
            .await
        {
            Ok(Some(ran)) => ran,
            // Nothing ran: the ordinary path (checks, then the command) takes it from here.
            Ok(None) | Err(exec::ExecFailure::NotStarted(_) | exec::ExecFailure::Refused(_)) => {
                return Ok(Guarded::Unsupported)
            }
            Err(exec::ExecFailure::Lost(why)) => return Err(self.lost(&shown, &why)),
        };
        if out.timed_out || out.cancelled {
            // The line did not finish, so whether the guards held is unknown: nothing of what
            // came back is used, and the checks run one by one (they refuse, or run the
            // command again under its own timeout).
            return Ok(Guarded::Missed { ran: guards.len() });
        }
        if held < guards.len() {
            return Ok(Guarded::Missed { ran: held + 1 });
        }
        let program = cmd.checked_argv().first().cloned().unwrap_or_default();
        let spawn = |reason: String| TransportError::Spawn {
            host: self.dest.name.clone(),
            program: program.clone(),
            reason,
        };
        wrapped.finish(out, spawn).map(Guarded::Ran)
    }

    async fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        let conn = self.conn.lock().await.take();
        if let Some(c) = conn {
            c.disconnect().await;
        }
    }
}

/// Run `wrapped` on one of the connection's kept shells, or on a channel of its own where
/// shells are off or do not work on this host.
async fn run_on(
    conn: &Connection,
    wrapped: &wrapper::Wrapped,
    opts: &ExecOptions,
) -> Result<CommandOutput, exec::ExecFailure> {
    if conn.shells.usable() {
        if let Some(out) = conn.shells.run(&conn.handle, wrapped, opts).await? {
            return Ok(out);
        }
    }
    exec::run(&conn.handle, wrapped, opts).await
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
    if config.verbose > 0 {
        for note in &dest.notes {
            eprintln!("tai: ssh_config: {note}");
        }
    }
    connect_resolved(dest, config).await
}

/// Connect to an already resolved destination.
pub async fn connect_resolved(
    dest: Destination,
    config: &Config,
) -> Result<(Arc<SshTransport>, ConnectReport), TransportError> {
    let shells = if config.limits.host_shells {
        config.limits.max_concurrency.max(1)
    } else {
        0
    };
    let (conn, report) = connect_destination(&dest, shells).await?;
    let t = SshTransport {
        dest,
        conn: tokio::sync::Mutex::new(Some(Arc::new(conn))),
        permits: tokio::sync::Semaphore::new(config.limits.max_concurrency.max(1)),
        shells,
        closed: std::sync::atomic::AtomicBool::new(false),
        peer: std::sync::Mutex::new(report.hops.last().map(peer_of).unwrap_or_default()),
    };
    Ok((Arc::new(t), report))
}

#[cfg(test)]
mod tests;
