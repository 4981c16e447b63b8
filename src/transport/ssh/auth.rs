//! Public-key authentication, and nothing else: identity files (flag, then ssh_config, then
//! `~/.ssh/id_ed25519`, `~/.ssh/id_rsa`) and ssh-agent identities (`SSH_AUTH_SOCK`).
//!
//! Order: identity files the agent also holds (signed by the agent), then unencrypted
//! identity files, then the agent's other keys (unless `IdentitiesOnly yes`), then encrypted
//! files. Named keys thus come before unrelated agent keys (a server stops after
//! MaxAuthTries), and a passphrase is asked for only when nothing else worked: on the
//! terminal, never stored; without a terminal the key is skipped, and if nothing else works
//! the error names the key and says how to fix it.
//! No password or keyboard-interactive authentication is ever attempted.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use russh::client::{AuthResult, Handle};
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey};

use super::ClientHandler;
use crate::transport::TransportError;

/// Where keys come from for one hop.
#[derive(Debug, Clone)]
pub struct KeySources {
    /// Candidate identity files in order (missing ones are skipped).
    pub files: Vec<PathBuf>,
    /// Only use the listed files (still through the agent when it holds them).
    pub identities_only: bool,
    /// The ssh-agent socket to consult (`SSH_AUTH_SOCK`), if any.
    pub agent_socket: Option<PathBuf>,
}

/// How authentication succeeded (for `tai doctor`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuthOutcome {
    pub method: String,
}

/// Authenticate `user` on `handle`; `host` is for messages.
pub async fn authenticate(
    handle: &mut Handle<ClientHandler>,
    user: &str,
    host: &str,
    keys: &KeySources,
) -> Result<AuthOutcome, TransportError> {
    let mut agent = None;
    let mut agent_keys: Vec<PublicKey> = Vec::new();
    if let Some(sock) = &keys.agent_socket {
        if let Ok(mut a) = AgentClient::connect_uds(sock).await {
            if let Some(binding) = handle.agent_session_binding() {
                // Lets the agent enforce destination constraints; older agents refuse it.
                let _ = a.bind_session(binding, false).await;
            }
            if let Ok(ids) = a.request_identities().await {
                agent_keys = ids.iter().map(|i| i.public_key().into_owned()).collect();
            }
            agent = Some(a);
        }
    }

    let mut files: Vec<(PathBuf, Option<PublicKey>)> = Vec::new();
    for f in &keys.files {
        if f.is_file() && !files.iter().any(|(p, _)| p == f) {
            files.push((f.clone(), public_key_of(f)));
        }
    }

    let mut tried: Vec<String> = Vec::new();
    let mut encrypted_skipped: Vec<PathBuf> = Vec::new();
    let mut load_errors: Vec<(PathBuf, String)> = Vec::new();

    // 1. Files the agent holds: sign with the agent.
    let mut used_agent = vec![false; agent_keys.len()];
    for (path, pubkey) in &files {
        let Some(pk) = pubkey else { continue };
        let Some(idx) = agent_keys
            .iter()
            .position(|k| k.key_data() == pk.key_data())
        else {
            continue;
        };
        used_agent[idx] = true;
        if let Some(a) = agent.as_mut() {
            tried.push(format!("{} (via ssh-agent)", path.display()));
            if agent_auth(handle, user, &agent_keys[idx], a).await? {
                return Ok(AuthOutcome {
                    method: format!("publickey {} via ssh-agent", path.display()),
                });
            }
        }
    }
    // 2. Unencrypted files the agent does not hold, loaded here: the keys the user named
    //    come before unrelated agent keys (servers stop after MaxAuthTries attempts).
    let in_agent = |pk: &Option<PublicKey>| {
        agent.is_some()
            && pk
                .as_ref()
                .is_some_and(|pk| agent_keys.iter().any(|k| k.key_data() == pk.key_data()))
    };
    let mut encrypted: Vec<PathBuf> = Vec::new();
    for (path, pubkey) in &files {
        if in_agent(pubkey) {
            continue;
        }
        let key = match russh::keys::load_secret_key(path, None) {
            Ok(k) => k,
            Err(russh::keys::Error::KeyIsEncrypted) => {
                encrypted.push(path.clone());
                continue;
            }
            Err(e) => {
                load_errors.push((path.clone(), e.to_string()));
                continue;
            }
        };
        tried.push(path.display().to_string());
        if key_auth(handle, user, key).await? {
            return Ok(AuthOutcome {
                method: format!("publickey {}", path.display()),
            });
        }
    }
    // 3. The agent's other keys.
    if !keys.identities_only {
        if let Some(a) = agent.as_mut() {
            for (idx, k) in agent_keys.iter().enumerate() {
                if used_agent[idx] {
                    continue;
                }
                tried.push(format!(
                    "ssh-agent key {}",
                    super::known_hosts::fingerprint(k)
                ));
                if agent_auth(handle, user, k, a).await? {
                    return Ok(AuthOutcome {
                        method: format!(
                            "publickey from ssh-agent ({})",
                            super::known_hosts::fingerprint(k)
                        ),
                    });
                }
            }
        }
    }
    // 4. Encrypted files last: only now is the user asked for a passphrase.
    for path in &encrypted {
        let Some(key) = unlock_on_tty(path) else {
            encrypted_skipped.push(path.clone());
            continue;
        };
        tried.push(path.display().to_string());
        if key_auth(handle, user, key).await? {
            return Ok(AuthOutcome {
                method: format!("publickey {}", path.display()),
            });
        }
    }

    if let Some(path) = encrypted_skipped.first() {
        return Err(TransportError::Key {
            path: path.display().to_string(),
            reason: format!(
                "the key is encrypted and there is no terminal to ask for its passphrase, \
                 and no other key was accepted by {host}\n  load it into ssh-agent with \
                 `ssh-add {p}` (tai uses SSH_AUTH_SOCK), or pass an unencrypted key with -i",
                p = path.display()
            ),
        });
    }
    if tried.is_empty() {
        if let Some((path, why)) = load_errors.first() {
            return Err(TransportError::Key {
                path: path.display().to_string(),
                reason: format!("{why}\n  check the file, or pass another key with -i"),
            });
        }
        return Err(TransportError::Auth {
            host: host.to_string(),
            reason: "no key to offer: no -i FILE, no IdentityFile in ssh_config, no \
                     ~/.ssh/id_ed25519 or ~/.ssh/id_rsa, and no ssh-agent identities\n  \
                     create a key with `ssh-keygen -t ed25519` and install it with `ssh-copy-id`, \
                     or pass one with -i (tai never uses passwords)"
                .to_string(),
        });
    }
    Err(TransportError::Auth {
        host: host.to_string(),
        reason: format!(
            "the server refused every key for user {user:?}: {}\n  check the user name and \
             the host's authorized_keys; tai only uses keys, never passwords",
            tried.join(", ")
        ),
    })
}

/// The public half of an identity file: `FILE.pub`, or the public part stored in an OpenSSH
/// private key (readable even when the key is encrypted).
fn public_key_of(path: &Path) -> Option<PublicKey> {
    let pub_path = PathBuf::from(format!("{}.pub", path.display()));
    if let Ok(k) = russh::keys::load_public_key(&pub_path) {
        return Some(k);
    }
    let text = std::fs::read_to_string(path).ok()?;
    PrivateKey::from_openssh(text.as_bytes())
        .ok()
        .map(|k| k.public_key().clone())
}

async fn rsa_hash(
    handle: &Handle<ClientHandler>,
    key: &PublicKey,
) -> Result<Option<HashAlg>, TransportError> {
    if !matches!(key.algorithm(), russh::keys::Algorithm::Rsa { .. }) {
        return Ok(None);
    }
    Ok(handle
        .best_supported_rsa_hash()
        .await
        .map_err(|e| lost(&e.to_string()))?
        .flatten())
}

fn lost(why: &str) -> TransportError {
    TransportError::ConnectionLost {
        host: "the host".into(),
        reason: format!("during authentication: {why}"),
    }
}

async fn agent_auth(
    handle: &mut Handle<ClientHandler>,
    user: &str,
    key: &PublicKey,
    agent: &mut AgentClient<tokio::net::UnixStream>,
) -> Result<bool, TransportError> {
    let hash = rsa_hash(handle, key).await?;
    match handle
        .authenticate_publickey_with(user, key.clone(), hash, agent)
        .await
    {
        Ok(r) => Ok(matches!(r, AuthResult::Success)),
        // The agent could not sign (e.g. the key was removed meanwhile): try the next one.
        Err(russh::AgentAuthError::Key(_)) => Ok(false),
        Err(e) => Err(lost(&e.to_string())),
    }
}

async fn key_auth(
    handle: &mut Handle<ClientHandler>,
    user: &str,
    key: PrivateKey,
) -> Result<bool, TransportError> {
    let hash = rsa_hash(handle, key.public_key()).await?;
    let key = PrivateKeyWithHashAlg::new(Arc::new(key), hash);
    let r = handle
        .authenticate_publickey(user, key)
        .await
        .map_err(|e| lost(&e.to_string()))?;
    Ok(matches!(r, AuthResult::Success))
}

/// Ask for the passphrase of `path` on the controlling terminal (echo off), up to three
/// times. `None` when there is no terminal or the user gave up.
fn unlock_on_tty(path: &Path) -> Option<PrivateKey> {
    // SAFETY: isatty only inspects the descriptor.
    let interactive = unsafe { libc::isatty(0) == 1 && libc::isatty(2) == 1 };
    if !interactive {
        return None;
    }
    for _ in 0..3 {
        let mut pass =
            read_passphrase(&format!("Enter passphrase for key '{}': ", path.display()))?;
        let result = russh::keys::load_secret_key(path, Some(&pass));
        // Overwrite the passphrase before it is dropped; NUL bytes keep the String valid.
        // SAFETY: writing zero bytes keeps the buffer valid UTF-8.
        unsafe { pass.as_bytes_mut().fill(0) };
        match result {
            Ok(k) => return Some(k),
            Err(_) => eprintln!("tai: wrong passphrase for {}", path.display()),
        }
    }
    None
}

fn read_passphrase(prompt: &str) -> Option<String> {
    use std::io::{BufRead, Write};
    use std::os::fd::AsRawFd;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let fd = tty.as_raw_fd();
    // SAFETY: termios is plain data; tcgetattr/tcsetattr act on an fd we own.
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd, &mut old) } != 0 {
        return None;
    }
    let mut quiet = old;
    quiet.c_lflag &= !libc::ECHO;
    quiet.c_lflag |= libc::ECHONL;
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    let mut w = &tty;
    let _ = w.write_all(prompt.as_bytes());
    let _ = w.flush();
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &old) };
    read.ok()?;
    let trimmed = line.trim_end_matches(['\n', '\r']).to_string();
    // SAFETY: as above, zero bytes keep the String valid.
    unsafe { line.as_bytes_mut().fill(0) };
    if trimmed.is_empty() {
        None
    } else {
        Some(trimmed)
    }
}
