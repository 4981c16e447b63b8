//! The russh client handler: checks each hop's host key against known_hosts (learning
//! unknown hosts, stopping hard on a changed or revoked key) and refuses every channel the
//! server tries to open towards tai (agent, port forwarding, X11, sessions).
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use russh::client;
use russh::keys::PublicKeyOrCertificate;
use serde::Serialize;

use super::{known_hosts, Hop};
use crate::transport::TransportError;

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
    /// The address the TCP connection reached (`203.0.113.7:22`), or the name and port a
    /// jump host was asked to tunnel to.
    pub address: Option<String>,
    /// The server's SSH identification string (e.g. `SSH-2.0-OpenSSH_9.2p1 Debian-2`).
    pub server_version: Option<String>,
    pub auth: Option<String>,
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
    pub(super) hop: Hop,
    pub(super) report: Arc<Mutex<HopReport>>,
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
                                "could not record the new host key ({}) in {}: {e}\n  \
                                 make the file writable, or pass --known-hosts FILE",
                                known_hosts::fingerprint(key),
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
