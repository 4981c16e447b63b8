//! Which hosts an MCP client may name ([`Allowlist`]: `--hosts`, `[mcp] hosts`, and ssh_config
//! aliases matching `--host-pattern`), and the warm connections to them ([`Pool`]): one
//! [`Host`] per name, built by the same [`Host::connect`] as `tai run` and the REPL, kept across
//! calls until it has been idle for the idle timeout, and reconnected once when it drops.
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::McpError;
use crate::agent::{AgentError, Host, HostRunner, SessionTools};
use crate::config::Config;
use crate::transport::{Target, TransportError};
use crate::wildcard::wildcard_match;

/// The hosts a client may name. Deny by default: an empty allowlist allows nothing.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    names: Vec<String>,
}

impl Allowlist {
    /// `explicit` (from `--hosts` and `[mcp] hosts`) plus every alias of the ssh_config file
    /// `ssh_config` that matches one of `patterns` (`*`/`?` globs, as ssh_config's own).
    pub fn new(explicit: &[String], patterns: &[String], ssh_config: &Path) -> Allowlist {
        let mut names: Vec<String> = explicit
            .iter()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .collect();
        if !patterns.is_empty() {
            for alias in crate::transport::ssh::config::host_aliases(ssh_config) {
                if patterns.iter().any(|p| wildcard_match(p, &alias)) {
                    names.push(alias);
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        names.retain(|h| seen.insert(h.clone()));
        Allowlist { names }
    }

    /// The allowed names, in the order given.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// `Ok` when `host` is allowed (exactly as listed), else the refusal naming the allowed ones.
    pub fn check(&self, host: &str) -> Result<(), McpError> {
        if self.names.iter().any(|h| h == host) {
            Ok(())
        } else {
            Err(McpError::HostNotAllowed {
                host: host.to_string(),
                allowed: self.names.clone(),
            })
        }
    }
}

/// One host's connection slot.
#[derive(Default)]
struct Slot {
    host: Option<Host>,
    last_used: Option<Instant>,
}

/// Warm connections, one per allowed host, shared by every client of this server.
pub struct Pool {
    config: Config,
    tools: SessionTools,
    idle: Duration,
    slots: StdMutex<HashMap<String, Arc<Mutex<Slot>>>>,
}

impl Pool {
    pub fn new(config: Config, tools: SessionTools, idle: Duration) -> Arc<Pool> {
        Arc::new(Pool {
            config,
            tools,
            idle,
            slots: StdMutex::new(HashMap::new()),
        })
    }

    pub fn tools(&self) -> &SessionTools {
        &self.tools
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    fn slot(&self, name: &str) -> Arc<Mutex<Slot>> {
        let mut slots = match self.slots.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        slots.entry(name.to_string()).or_default().clone()
    }

    /// The warm connection to `name`, connecting (and detecting its facts) when there is none
    /// or it has been idle too long.
    pub async fn host(&self, name: &str) -> Result<Host, AgentError> {
        let slot = self.slot(name);
        let mut slot = slot.lock().await;
        let expired = slot
            .last_used
            .is_some_and(|t| t.elapsed() >= self.idle && self.idle > Duration::ZERO);
        if expired {
            if let Some(old) = slot.host.take() {
                old.transport.close().await;
            }
        }
        let host = match &slot.host {
            Some(h) => h.clone(),
            None => {
                let target = Target::parse(name)?;
                let h = Host::connect(&self.config, &self.tools, &target).await?;
                slot.host = Some(h.clone());
                h
            }
        };
        slot.last_used = Some(Instant::now());
        Ok(host)
    }

    /// Drop the connection to `name` (it failed); the next call connects again.
    pub async fn forget(&self, name: &str) {
        let slot = self.slot(name);
        let mut slot = slot.lock().await;
        if let Some(old) = slot.host.take() {
            old.transport.close().await;
        }
    }

    /// A runner over the warm connection to `name` for one MCP call: the session's tools and
    /// policy, the host's facts, and an output budget of its own.
    pub async fn runner(&self, name: &str) -> Result<HostRunner, AgentError> {
        let mut host = self.host(name).await?;
        host.ctx = host.ctx.with_fresh_budget();
        Ok(HostRunner::new(self.tools.clone(), host))
    }

    /// Close connections idle for longer than the idle timeout; returns how many were closed.
    pub async fn close_idle(&self) -> usize {
        let slots: Vec<Arc<Mutex<Slot>>> = match self.slots.lock() {
            Ok(g) => g.values().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().values().cloned().collect(),
        };
        let mut closed = 0;
        for slot in slots {
            // A slot busy with a call is in use, not idle.
            let Ok(mut slot) = slot.try_lock() else {
                continue;
            };
            let idle = slot.last_used.is_some_and(|t| t.elapsed() >= self.idle);
            if idle {
                if let Some(old) = slot.host.take() {
                    old.transport.close().await;
                    closed += 1;
                }
            }
        }
        closed
    }

    /// How many connections are open now.
    pub async fn open_count(&self) -> usize {
        let slots: Vec<Arc<Mutex<Slot>>> = match self.slots.lock() {
            Ok(g) => g.values().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().values().cloned().collect(),
        };
        let mut n = 0;
        for slot in slots {
            if slot.lock().await.host.is_some() {
                n += 1;
            }
        }
        n
    }

    /// Close every connection (server shutdown).
    pub async fn close_all(&self) {
        let names: Vec<String> = match self.slots.lock() {
            Ok(g) => g.keys().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().keys().cloned().collect(),
        };
        for name in names {
            self.forget(&name).await;
        }
    }

    /// Close idle connections every quarter of the idle timeout until the pool is dropped.
    pub fn spawn_reaper(self: &Arc<Pool>) {
        if self.idle.is_zero() {
            return;
        }
        let weak = Arc::downgrade(self);
        let every = (self.idle / 4).max(Duration::from_millis(250));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(pool) = weak.upgrade() else { break };
                pool.close_idle().await;
            }
        });
    }
}

/// Whether a failed call is worth one reconnect: the connection dropped. A changed or
/// unverifiable host key, bad credentials or configuration never are.
pub fn is_dropped_connection(e: &TransportError) -> bool {
    matches!(
        e,
        TransportError::ConnectionLost { .. } | TransportError::Connect { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowlist_is_explicit_hosts_plus_matching_ssh_config_aliases() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config");
        std::fs::write(
            &cfg,
            "Host web01 web02 db01\n  User ops\nHost *.internal\n  User x\nHost bastion\n",
        )
        .unwrap();
        let a = Allowlist::new(&["local".into(), "web01".into()], &["web*".into()], &cfg);
        assert_eq!(a.names(), ["local", "web01", "web02"]);
        assert!(a.check("web02").is_ok());
        let err = a.check("db01").unwrap_err().to_string();
        assert!(err.contains("db01"), "{err}");
        assert!(err.contains("local, web01, web02"), "{err}");
        // Deny by default.
        let none = Allowlist::new(&[], &[], &cfg);
        assert!(none.is_empty());
        assert!(none.check("web01").is_err());
    }

    fn config(home: &Path) -> Config {
        let o = crate::config::Overrides {
            tai_home: Some(home.to_path_buf()),
            no_persist: true,
            ..Default::default()
        };
        Config::resolve_with(&o, &|_| None).expect("config")
    }

    #[tokio::test]
    async fn a_host_stays_connected_across_calls_and_idle_ones_are_closed() {
        let home = tempfile::tempdir().unwrap();
        let cfg = config(home.path());
        let tools = SessionTools::without_knowledge(&cfg).unwrap();
        let pool = Pool::new(cfg, tools, Duration::from_millis(300));
        let first = pool.host("local").await.unwrap();
        let second = pool.host("local").await.unwrap();
        assert!(Arc::ptr_eq(&first.transport, &second.transport));
        assert_eq!(pool.open_count().await, 1);
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(pool.close_idle().await, 1);
        assert_eq!(pool.open_count().await, 0);
        let third = pool.host("local").await.unwrap();
        assert!(!Arc::ptr_eq(&first.transport, &third.transport));
    }
}
