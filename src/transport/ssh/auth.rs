//! Public-key authentication, and nothing else: identity files (flag, then ssh_config, then
//! `~/.ssh/id_ed25519`, `~/.ssh/id_rsa`) and ssh-agent identities (`SSH_AUTH_SOCK`).
//!
//! Order: identity files the agent also holds (signed by the agent), then unencrypted
//! identity files, then the agent's other keys (unless `IdentitiesOnly yes`), then encrypted
//! files. Named keys thus come before unrelated agent keys (a server stops after
//! MaxAuthTries), and a passphrase is asked for only when nothing else worked: on the
//! terminal (rpassword, on a blocking thread), held in `Zeroizing` and never stored; Ctrl-C
//! there restores echo, then ends tai (or only the prompt where SIGINT is handled); without
//! a terminal the key is skipped, and if nothing else works the error names the key and
//! says how to fix it.
//! No password or keyboard-interactive authentication is ever attempted.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use russh::client::{AuthResult, Handle};
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use zeroize::Zeroizing;

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
        let key = match unlock_on_tty(path).await {
            Unlock::Key(k) => *k,
            Unlock::Skipped => {
                encrypted_skipped.push(path.clone());
                continue;
            }
            Unlock::Interrupted => {
                return Err(TransportError::Auth {
                    host: host.to_string(),
                    reason: format!(
                        "interrupted at the passphrase prompt for {}\n  run again and type \
                         the passphrase, or load the key into ssh-agent with `ssh-add`",
                        path.display()
                    ),
                });
            }
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

/// What the terminal gave for one encrypted key.
enum Unlock {
    Key(Box<PrivateKey>),
    /// No terminal, an empty answer, end of input, or three wrong passphrases.
    Skipped,
    /// Ctrl-C at the prompt: ask for no further key.
    Interrupted,
}

/// One answer at the passphrase prompt.
enum Answer {
    Passphrase(Zeroizing<String>),
    GaveUp,
    Interrupted,
}

/// Ask for the passphrase of `path` on the controlling terminal (echo off), up to three
/// times, on a blocking thread: the read and the key derivation stay off the async runtime.
async fn unlock_on_tty(path: &Path) -> Unlock {
    // SAFETY: isatty only inspects the descriptor.
    let interactive = unsafe { libc::isatty(0) == 1 && libc::isatty(2) == 1 };
    if !interactive {
        return Unlock::Skipped;
    }
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || unlock_with(&path, ask_on_tty))
        .await
        .unwrap_or(Unlock::Skipped)
}

/// Up to three tries of `ask`; every passphrase is zeroed when dropped.
fn unlock_with(path: &Path, mut ask: impl FnMut(&str) -> Answer) -> Unlock {
    let prompt = format!("Enter passphrase for key '{}': ", path.display());
    for _ in 0..3 {
        let pass = match ask(&prompt) {
            Answer::Passphrase(p) => p,
            Answer::GaveUp => return Unlock::Skipped,
            Answer::Interrupted => return Unlock::Interrupted,
        };
        match russh::keys::load_secret_key(path, Some(pass.as_str())) {
            Ok(k) => return Unlock::Key(Box::new(k)),
            Err(_) => eprintln!("tai: wrong passphrase for {}", path.display()),
        }
    }
    Unlock::Skipped
}

/// Read one passphrase on `/dev/tty` with `rpassword` (echo off, restored when the read
/// ends, also on Ctrl-C). rpassword answers Ctrl-C by raising SIGINT while the terminal is
/// still raw; SIGINT is held back on this thread until the terminal is restored, so a
/// default SIGINT ends tai with echo back on, and a handled one ends only the prompt.
fn ask_on_tty(prompt: &str) -> Answer {
    let _held = HoldSigint::new();
    match rpassword::prompt_password(prompt) {
        Ok(p) => {
            let p = Zeroizing::new(p);
            if p.is_empty() {
                Answer::GaveUp
            } else {
                Answer::Passphrase(p)
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Answer::Interrupted,
        Err(_) => Answer::GaveUp,
    }
}

/// Blocks SIGINT on the current thread while alive; a SIGINT raised meanwhile on this thread
/// is delivered when the guard drops (the old mask is restored).
struct HoldSigint(Option<libc::sigset_t>);

impl HoldSigint {
    fn new() -> HoldSigint {
        // SAFETY: sigset_t is plain data, initialised by sigemptyset; pthread_sigmask only
        // changes this thread's mask and writes the old one into `old`.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            if libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old) != 0 {
                return HoldSigint(None);
            }
            HoldSigint(Some(old))
        }
    }
}

impl Drop for HoldSigint {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            // SAFETY: restores the mask saved in `new` on the same thread.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// An ed25519 key encrypted with `pass` (one KDF round: the tests stay fast).
    fn encrypted_key(dir: &Path, pass: &str) -> PathBuf {
        let path = dir.join("id_enc");
        let st = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-a", "1", "-C", "", "-N", pass, "-f"])
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("ssh-keygen");
        assert!(st.success());
        path
    }

    fn said(p: &str) -> Answer {
        Answer::Passphrase(Zeroizing::new(p.to_string()))
    }

    #[test]
    fn three_wrong_passphrases_skip_the_key_and_a_right_one_unlocks_it() {
        let dir = tempfile::tempdir().unwrap();
        let key = encrypted_key(dir.path(), "right-pass");
        let asked = Cell::new(0);
        let out = unlock_with(&key, |prompt| {
            assert!(prompt.contains(&key.display().to_string()), "{prompt}");
            asked.set(asked.get() + 1);
            said("wrong")
        });
        assert!(matches!(out, Unlock::Skipped));
        assert_eq!(asked.get(), 3);

        let answers = ["wrong", "right-pass"];
        let asked = Cell::new(0);
        let out = unlock_with(&key, |_| {
            asked.set(asked.get() + 1);
            said(answers[asked.get() - 1])
        });
        assert!(matches!(out, Unlock::Key(_)));
        assert_eq!(asked.get(), 2);
    }

    #[test]
    fn giving_up_or_ctrl_c_asks_no_more() {
        let dir = tempfile::tempdir().unwrap();
        let key = encrypted_key(dir.path(), "right-pass");
        let asked = Cell::new(0);
        let out = unlock_with(&key, |_| {
            asked.set(asked.get() + 1);
            Answer::GaveUp
        });
        assert!(matches!(out, Unlock::Skipped));
        assert_eq!(asked.get(), 1);
        let out = unlock_with(&key, |_| {
            asked.set(asked.get() + 1);
            Answer::Interrupted
        });
        assert!(matches!(out, Unlock::Interrupted));
        assert_eq!(asked.get(), 2);
    }

    #[test]
    fn sigint_raised_while_held_waits_for_the_guard() {
        // On its own thread: the mask is per thread, and the SIGINT is taken back with
        // sigtimedwait before the guard drops, so the test process never receives it.
        std::thread::spawn(|| {
            let held = HoldSigint::new();
            assert!(held.0.is_some());
            // SAFETY: sigset_t is plain data set up by sigemptyset/sigaddset; raise sends
            // SIGINT to this thread, where it is blocked, and sigtimedwait takes it back.
            unsafe {
                assert_eq!(libc::raise(libc::SIGINT), 0);
                let mut pending: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut pending);
                libc::sigpending(&mut pending);
                assert_eq!(libc::sigismember(&pending, libc::SIGINT), 1);
                let mut only: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut only);
                libc::sigaddset(&mut only, libc::SIGINT);
                let zero = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                let got = libc::sigtimedwait(&only, std::ptr::null_mut(), &zero);
                assert_eq!(got, libc::SIGINT);
            }
            drop(held);
            // SAFETY: as above; the mask is back to what it was (SIGINT not blocked).
            unsafe {
                let mut now: libc::sigset_t = std::mem::zeroed();
                libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut now);
                assert_eq!(libc::sigismember(&now, libc::SIGINT), 0);
            }
        })
        .join()
        .unwrap();
    }

    /// The prompt itself, on the terminal `script` gives it; does nothing unless started by
    /// the test below.
    #[test]
    fn prompt_child() {
        if std::env::var_os("TAI_TEST_PROMPT_CHILD").is_none() {
            return;
        }
        let answer = ask_on_tty("Enter passphrase for key 'test': ");
        // Not reached: SIGINT keeps its default action here and ends the process.
        eprintln!("prompt returned: {}", matches!(answer, Answer::Interrupted));
    }

    #[test]
    fn ctrl_c_at_the_prompt_ends_by_sigint_with_echo_back_on() {
        use std::io::{Read, Write};
        if std::process::Command::new("script")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("skipped: no `script` (util-linux) for a pseudo-terminal");
            return;
        }
        let exe = std::env::current_exe().unwrap();
        let line = format!(
            "{} --exact transport::ssh::auth::tests::prompt_child --nocapture \
             --test-threads=1; echo \"rc=$?\"; stty -a",
            exe.display()
        );
        let mut child = std::process::Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .env("TAI_TEST_PROMPT_CHILD", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let pid = child.id();
        // Watchdog: a hung prompt fails the test instead of hanging it. It kills only before
        // `done` is sent, while the child is not yet reaped (its pid cannot be reused).
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            if finished
                .recv_timeout(std::time::Duration::from_secs(30))
                .is_err()
            {
                // SAFETY: signals only the `script` process this test started, not yet reaped.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
        });
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        let mut sent = false;
        loop {
            let n = stdout.read(&mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            if !sent && String::from_utf8_lossy(&seen).contains("Enter passphrase") {
                // Let rpassword switch the terminal to raw mode, then type Ctrl-C.
                std::thread::sleep(std::time::Duration::from_millis(500));
                stdin.write_all(b"\x03").unwrap();
                stdin.flush().unwrap();
                sent = true;
            }
        }
        drop(stdin);
        let _ = done.send(());
        watchdog.join().unwrap();
        let _ = child.wait();
        let text = String::from_utf8_lossy(&seen);
        assert!(sent, "no prompt seen:\n{text}");
        assert!(text.contains("rc=130"), "not ended by SIGINT:\n{text}");
        assert!(!text.contains("prompt returned"), "{text}");
        let flags: Vec<&str> = text.split_whitespace().collect();
        assert!(flags.contains(&"echo"), "echo left off:\n{text}");
        assert!(!flags.contains(&"-echo"), "echo left off:\n{text}");
    }
}
