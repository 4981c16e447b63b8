//! Shared set-up for subcommands that run tools on a host: connect, load the policy, detect
//! the host facts; and Ctrl-C handling for every one-shot subcommand ([`CtrlC`]).
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::exit::Code;
use crate::policy::Policy;
use crate::tools::ExecContext;
use crate::transport::{self, Target};

/// Ctrl-C while a one-shot subcommand works: the first cancels the token (running commands
/// stop; what finished is kept), a second quits at once with exit code 130. The listener ends
/// when the guard is dropped, so a later Ctrl-C is not swallowed by a finished task.
pub struct CtrlC(tokio::task::JoinHandle<()>);

impl CtrlC {
    /// Listen for Ctrl-C; on the first, print `message` on stderr and cancel `cancel`.
    pub fn cancels(cancel: CancellationToken, message: &'static str) -> CtrlC {
        CtrlC(tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            eprintln!("\n{message} (Ctrl-C again quits at once)");
            cancel.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted again: quitting");
                std::process::exit(Code::Interrupted as i32);
            }
        }))
    }
}

impl Drop for CtrlC {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A connected host for a one-shot subcommand; Ctrl-C cancels its commands while it lives.
pub struct Opened {
    pub ctx: ExecContext,
    /// The host's display name (`local`, `ops@web01`).
    pub name: String,
    _interrupt: CtrlC,
}

/// Connect to `host` and build the execution context. Ctrl-C cancels running commands.
pub async fn open(host: &str, config: &Config) -> Result<Opened> {
    let target = Target::parse(host)?;
    let name = target.display_name();
    let transport = transport::connect(&target, config).await?;
    let policy = Arc::new(Policy::load(config.sudo).context("loading the read-only policy")?);
    let cancel = CancellationToken::new();
    let interrupt = CtrlC::cancels(cancel.clone(), "interrupted: stopping running commands");
    let scope = crate::audit::Scope::new_session(&name);
    let ctx = crate::tools::audited::context(
        transport,
        policy,
        config.limits,
        cancel,
        Some(std::sync::Arc::new(scope)),
    )
    .await;
    Ok(Opened {
        ctx,
        name,
        _interrupt: interrupt,
    })
}
