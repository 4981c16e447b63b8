//! The audit log: an append-only, hash-chained JSONL record of everything tai did or refused
//! to do, under `TAI_HOME/audit/` in monthly files (`2026-12.jsonl`).
//!
//! This module owns the line format ([`AuditEvent`] plus the envelope: `time`, `version`,
//! `user`, `uid`, `prev`), the writer ([`AuditLog::append`]: redacted, under an exclusive
//! `flock` on `audit/.lock`, fsynced), the chain ([`chain`]: each line's `prev` is the SHA-256
//! of the exact bytes of the line before it, across monthly files; the first line of all
//! carries [`chain::GENESIS`]; `audit/.head` holds the hash of the last line so a removed tail
//! is noticed too) and the readers ([`read`]: `tai audit`, `tai audit verify`).
//!
//! It is a leaf: it imports only [`crate::redact`] and [`crate::exit`]. The hooks that feed
//! it live with what they observe: every command a host runs (`tools::audited`, a
//! [`crate::transport::Transport`] decorator every front end's `ExecContext` is built on),
//! every denied request (`tools::exec`), every model request (`llm::http`), every retention
//! operation (the cleanup/export/import commands).
//!
//! A failed write never loses the result it describes: the caller gets an error, the log
//! remembers it ([`AuditLog::failure`]) and warns once on stderr, and the command hooks refuse
//! to run further host commands in that process (no unaudited commands).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::exit::{Code, HasExitCode};

pub mod chain;
pub mod read;

pub use chain::{verify, Break, VerifyReport, GENESIS};
pub use read::{parse_since, Entry};

/// The directory under `TAI_HOME` that holds the audit files.
pub fn dir(tai_home: &Path) -> PathBuf {
    tai_home.join("audit")
}

/// Whether a command ran or was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Deny,
}

/// One command run on a host (`decision: allow`) or refused before it ran (`deny`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandEvent {
    /// The tai session (one process run, or one REPL session across `/host` switches).
    pub session: String,
    /// The host as the user named it (`local`, `ops@web01`).
    pub host: String,
    /// The address the connection reached (`203.0.113.7:22`), `local`, or `unknown`.
    pub address: String,
    /// SHA256 fingerprint of the host key the host presented (`SHA256:...`); `None` for local.
    pub host_key: Option<String>,
    /// The tool call that ran it (`T3`), when it ran for one.
    pub call_id: Option<String>,
    /// The tool (`disk_usage`), or `None` for tai's own checks outside a call (host facts).
    pub tool: Option<String>,
    /// The tool call's arguments.
    pub args: Option<Value>,
    /// The argv as it ran (with `--sudo`, `sudo -n --` first), or as it was refused.
    pub argv: Vec<String>,
    /// The same, as one quoted command line.
    pub command: String,
    /// The policy rule that allowed or refused it.
    pub rule: String,
    pub decision: Decision,
    /// Why it was refused (deny), or why it could not run (allow, transport error).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signal: Option<String>,
    #[serde(default)]
    pub timed_out: bool,
    #[serde(default)]
    pub cancelled: bool,
    pub duration_ms: u64,
    /// Bytes of output received (stdout + stderr, after redaction and the cap).
    pub bytes: u64,
    /// Bytes the output cap dropped.
    pub truncated: u64,
}

/// One event of the audit log. The envelope (time, version, user, `prev`) is added by
/// [`AuditLog::append`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AuditEvent {
    /// A command that ran on a host.
    Command(CommandEvent),
    /// A command the policy (or a host-side check) refused: nothing ran.
    Denied(CommandEvent),
    /// One request to the model endpoint: never its content.
    ModelRequest {
        /// `scheme://host:port/path`, without credentials or query.
        endpoint: String,
        model: Option<String>,
        /// HTTP status, `None` when no reply came.
        status: Option<u16>,
        tokens_in: Option<u64>,
        tokens_out: Option<u64>,
        duration_ms: u64,
    },
    /// A retention operation (`cleanup`, `export`, `import`): what it covered and how much.
    Retention {
        op: String,
        scope: String,
        counts: BTreeMap<String, u64>,
    },
}

/// What went wrong with the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("could not {op} {}: {source}\n  the audit log needs a writable TAI_HOME/audit with free space; tai runs no further host commands in this session until it can write it", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the audit file {} ends in a partial line (tai was stopped mid-write, or the file was edited)\n  check it with `tai audit verify`, then move the file aside; tai appends nothing after a damaged line", path.display())]
    PartialLine { path: PathBuf },
    #[error("the audit chain is broken at {}:{line}: {reason}", file.display())]
    ChainBroken {
        file: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("could not encode an audit line: {0}")]
    Encode(#[from] serde_json::Error),
}

impl HasExitCode for AuditError {
    fn exit_code(&self) -> Code {
        match self {
            AuditError::ChainBroken { .. } => Code::AuditBroken,
            _ => Code::Store,
        }
    }
}

/// How a line's strings are redacted before they are written.
pub type RedactFn = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// The audit log of one `TAI_HOME` (or the disabled log of `--no-persist`).
pub struct AuditLog {
    /// `None`: disabled, nothing is written.
    dir: Option<PathBuf>,
    redact: RedactFn,
    /// The first write failure, kept for the rest of the process.
    failed: Mutex<Option<String>>,
    /// Lines waiting for the next group commit, and who is committing.
    group: Mutex<Group>,
    /// Signalled after every commit.
    committed: Condvar,
}

/// The group commit's state: lines are numbered as they are queued; a line is settled once
/// `committed` is past its number, and failed if a recorded range holds it.
#[derive(Default)]
struct Group {
    queue: Vec<serde_json::Map<String, Value>>,
    next: u64,
    committed: u64,
    flushing: bool,
    /// `[lo, hi)` ranges whose commit failed, with the reason (after the first failure no
    /// further host command runs, so this stays as short as the concurrency).
    failed: Vec<(u64, u64, String)>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("dir", &self.dir)
            .field("failed", &self.failure())
            .finish()
    }
}

impl AuditLog {
    /// The log under `tai_home/audit/`. Nothing is created until the first append.
    pub fn open(tai_home: &Path) -> AuditLog {
        AuditLog {
            dir: Some(dir(tai_home)),
            redact: Arc::new(crate::redact::redact),
            failed: Mutex::new(None),
            group: Mutex::new(Group::default()),
            committed: Condvar::new(),
        }
    }

    /// A log that writes nothing (`--no-persist`).
    pub fn disabled() -> AuditLog {
        AuditLog {
            dir: None,
            redact: Arc::new(crate::redact::redact),
            failed: Mutex::new(None),
            group: Mutex::new(Group::default()),
            committed: Condvar::new(),
        }
    }

    /// [`AuditLog::open`] on `tai_home`, or [`AuditLog::disabled`] under `--no-persist`.
    pub fn for_home(tai_home: &Path, no_persist: bool) -> AuditLog {
        if no_persist {
            AuditLog::disabled()
        } else {
            AuditLog::open(tai_home)
        }
    }

    /// Redact every string of every line with `redact` (the built-ins plus the user's
    /// `[redact] patterns`) instead of the built-in patterns alone.
    pub fn with_redactor(mut self, redact: RedactFn) -> AuditLog {
        self.redact = redact;
        self
    }

    /// Where the files are; `None` when disabled.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    pub fn is_enabled(&self) -> bool {
        self.dir.is_some()
    }

    /// The first write failure of this process, if any: while set, no host command runs.
    pub fn failure(&self) -> Option<String> {
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Append one event: redacted, chained to the last line under the lock, fsynced. Blocks on
    /// file IO; async callers run it on `spawn_blocking`. A failure is remembered
    /// ([`AuditLog::failure`]) and warned about on stderr once.
    pub fn append(&self, event: AuditEvent) -> Result<(), AuditError> {
        self.append_all(vec![event])
    }

    /// [`AuditLog::append`] for several events, written in order in one group commit.
    pub fn append_all(&self, events: Vec<AuditEvent>) -> Result<(), AuditError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let mut maps = Vec::with_capacity(events.len());
        for event in &events {
            match self.encode(event) {
                Ok(m) => maps.push(m),
                Err(e) => {
                    self.note_failure(&e);
                    return Err(e);
                }
            }
        }
        if maps.is_empty() {
            return Ok(());
        }
        self.commit(dir, maps)
    }

    /// Group commit: queue the line; the first writer to find no commit running writes every
    /// queued line with one fdatasync and one `.head` update ([`chain::append_all`]) while
    /// later writers wait. Each caller returns once its own line is on disk (or failed), so
    /// concurrent commands (a fleet's hosts, a step's checks) share syncs instead of queueing
    /// for one each.
    fn commit(
        &self,
        dir: &Path,
        maps: Vec<serde_json::Map<String, Value>>,
    ) -> Result<(), AuditError> {
        let relock = |p: std::sync::PoisonError<_>| p.into_inner();
        let mut g = self.group.lock().unwrap_or_else(relock);
        g.next += maps.len() as u64;
        // The caller's last line: once it is settled, all of its lines are.
        let id = g.next - 1;
        g.queue.extend(maps);
        loop {
            if g.committed > id {
                return match g.failed.iter().find(|(lo, hi, _)| (*lo..*hi).contains(&id)) {
                    None => Ok(()),
                    Some((_, _, why)) => Err(AuditError::Io {
                        op: "write",
                        path: dir.to_path_buf(),
                        source: std::io::Error::other(why.clone()),
                    }),
                };
            }
            if g.flushing {
                g = self.committed.wait(g).unwrap_or_else(relock);
                continue;
            }
            g.flushing = true;
            let batch = std::mem::take(&mut g.queue);
            let (lo, hi) = (g.committed, g.next);
            drop(g);
            let result = chain::append_all(dir, batch);
            g = self.group.lock().unwrap_or_else(relock);
            g.flushing = false;
            g.committed = hi;
            if let Err(e) = &result {
                self.note_failure(e);
                g.failed.push((lo, hi, e.to_string()));
            }
            self.committed.notify_all();
            // This caller's line was in the batch it wrote (it queued it before leading).
            return result;
        }
    }

    /// Remember the first failure and warn about it on stderr (once per process).
    fn note_failure(&self, e: &AuditError) {
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        if failed.is_none() {
            eprintln!("tai: warning: the audit log could not be written: {e}");
            *failed = Some(e.to_string());
        }
    }

    /// The event as one JSON object with the envelope, every string redacted.
    fn encode(&self, event: &AuditEvent) -> Result<serde_json::Map<String, Value>, AuditError> {
        let mut value = serde_json::to_value(event)?;
        redact_strings(&mut value, &*self.redact);
        let Value::Object(mut map) = value else {
            return Err(AuditError::Encode(serde::ser::Error::custom(
                "an audit event is not a JSON object",
            )));
        };
        map.insert("time".into(), Value::String(now_rfc3339()));
        map.insert("version".into(), env!("CARGO_PKG_VERSION").into());
        let (user, uid) = local_user();
        map.insert("user".into(), Value::String((self.redact)(&user)));
        map.insert("uid".into(), uid.into());
        Ok(map)
    }
}

fn redact_strings(v: &mut Value, redact: &(dyn Fn(&str) -> String + Send + Sync)) {
    match v {
        Value::String(s) => *s = redact(s),
        Value::Array(a) => a.iter_mut().for_each(|x| redact_strings(x, redact)),
        Value::Object(m) => m.values_mut().for_each(|x| redact_strings(x, redact)),
        _ => {}
    }
}

/// Now, RFC 3339 UTC with milliseconds (`2026-12-02T07:15:00.123Z`).
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    chrono::DateTime::from_timestamp(now.as_secs() as i64, now.subsec_nanos())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| format!("{}", now.as_secs()))
}

/// The local login of this process's uid (through NSS, so LDAP/sssd users resolve; else
/// `$USER`, else `uid:N`) and the uid.
fn local_user() -> (String, u32) {
    static USER: std::sync::OnceLock<(String, u32)> = std::sync::OnceLock::new();
    USER.get_or_init(|| {
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        let name = crate::local_user::name_of(uid)
            .or_else(|| std::env::var("USER").ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| format!("uid:{uid}"));
        (name, uid)
    })
    .clone()
}

/// What a command hook needs to write a line: the log, the session and the host's name, and
/// the lines held back for the next write ([`Scope::defer`]).
#[derive(Debug, Clone)]
pub struct Scope {
    pub log: Arc<AuditLog>,
    pub session: String,
    /// The host as the user named it (`local`, `ops@web01`).
    pub host: String,
    deferred: Arc<Mutex<Vec<AuditEvent>>>,
}

impl Scope {
    pub fn new(log: Arc<AuditLog>, session: String, host: String) -> Scope {
        Scope {
            log,
            session,
            host,
            deferred: Arc::default(),
        }
    }

    /// A scope on the process's log ([`current`]) for a new session on `host`.
    pub fn new_session(host: &str) -> Scope {
        Scope::new(current(), new_session_id(), host.to_string())
    }

    /// Hold `event` back: it is written with the next [`Scope::append`] or [`Scope::flush`],
    /// in the same group commit. Only for the host-side checks a step runs before its command
    /// (`tools::audited::checks`): their output is read by tai's policy alone, never by the
    /// model or the user, and the command they guard (or its refusal) is appended next.
    pub fn defer(&self, event: AuditEvent) {
        if self.log.is_enabled() {
            self.deferred
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(event);
        }
    }

    /// Append `event` (after any deferred lines) on a blocking thread (file IO and fsync stay
    /// off the async runtime). Failures are remembered and warned about by the log
    /// ([`AuditLog::append`]).
    pub async fn append(&self, event: AuditEvent) -> Result<(), AuditError> {
        let mut events = self.take_deferred();
        events.push(event);
        self.write(events).await
    }

    /// Write the deferred lines now (none: nothing happens).
    pub async fn flush(&self) -> Result<(), AuditError> {
        let events = self.take_deferred();
        if events.is_empty() {
            return Ok(());
        }
        self.write(events).await
    }

    fn take_deferred(&self) -> Vec<AuditEvent> {
        std::mem::take(&mut *self.deferred.lock().unwrap_or_else(|p| p.into_inner()))
    }

    async fn write(&self, events: Vec<AuditEvent>) -> Result<(), AuditError> {
        if !self.log.is_enabled() {
            return Ok(());
        }
        let log = self.log.clone();
        match tokio::task::spawn_blocking(move || log.append_all(events)).await {
            Ok(r) => r,
            Err(e) => {
                let e = AuditError::Io {
                    op: "write",
                    path: self.log.dir().map(Path::to_path_buf).unwrap_or_default(),
                    source: std::io::Error::other(format!("the writer task failed: {e}")),
                };
                self.log.note_failure(&e);
                Err(e)
            }
        }
    }
}

static INSTALLED: RwLock<Option<Arc<AuditLog>>> = RwLock::new(None);

/// Make `log` the process's audit log (the CLI does this once, from the config).
pub fn install(log: Arc<AuditLog>) {
    *INSTALLED.write().unwrap_or_else(|p| p.into_inner()) = Some(log);
}

/// The process's audit log: the installed one, or a disabled log when none was installed
/// (library use, unit tests).
pub fn current() -> Arc<AuditLog> {
    INSTALLED
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .unwrap_or_else(|| Arc::new(AuditLog::disabled()))
}

/// A new session id: UTC time plus random hex (`20261202T071500-3f9a1c2e`).
pub fn new_session_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let stamp = chrono::DateTime::from_timestamp(now.as_secs() as i64, 0)
        .map(|t| t.format("%Y%m%dT%H%M%S").to_string())
        .unwrap_or_default();
    format!("{stamp}-{:08x}", rand::random::<u32>())
}

#[cfg(test)]
mod tests;
