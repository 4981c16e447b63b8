//! Shared set-up for subcommands that run tools on a host: connect, load the policy, detect
//! the host facts, and cancel on Ctrl-C.
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::policy::Policy;
use crate::tools::ExecContext;
use crate::transport::{self, Target};

/// Connect to `host` and build the execution context. Ctrl-C cancels running commands.
pub async fn open(host: &str, config: &Config) -> Result<(ExecContext, String)> {
    let target = Target::parse(host)?;
    let name = target.display_name();
    let transport = transport::connect(&target, config).await?;
    let policy = Arc::new(Policy::load(config.sudo).context("loading the read-only policy")?);
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: stopping running commands");
            on_signal.cancel();
        }
    });
    let ctx = ExecContext::detect(transport, policy, config.limits, cancel).await;
    Ok((ctx, name))
}
