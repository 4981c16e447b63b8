//! Host facts: distro family, kernel, name and uptime, detected once per connection through
//! the policy, and [`ExecContext::detect`], the connect-time constructor that uses them.
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::types::{ExecContext, HostFacts};
use crate::config::ExecLimits;
use crate::policy::Policy;
use crate::transport::{ExecOptions, Transport};

impl ExecContext {
    /// Connect-time convenience: detect the host facts, then build the context.
    pub async fn detect(
        transport: Arc<dyn Transport>,
        policy: Arc<Policy>,
        limits: ExecLimits,
        cancel: CancellationToken,
    ) -> Self {
        let facts = detect_facts(&transport, &policy, &limits, &cancel).await;
        Self::new(transport, policy, facts, limits, cancel)
    }
}

/// Detect the host's distro family, kernel, name and uptime (once per host). Commands that
/// fail leave their fields empty; the family falls back to `unknown`.
pub async fn detect_facts(
    transport: &Arc<dyn Transport>,
    policy: &Policy,
    limits: &ExecLimits,
    cancel: &CancellationToken,
) -> HostFacts {
    let opts = ExecOptions::from_limits(limits, cancel.clone());
    let run = |argv: &[&str]| {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let transport = transport.clone();
        let opts = opts.clone();
        let approved = policy.approve(&argv);
        async move {
            let approved = approved.ok()?;
            let out = transport.exec(&approved, &opts).await.ok()?;
            out.success().then_some(out.stdout)
        }
    };
    let (os, kernel, host, up) = tokio::join!(
        run(&["cat", "/etc/os-release"]),
        run(&["uname", "-r"]),
        run(&["hostname"]),
        run(&["uptime"]),
    );
    let mut facts = HostFacts::default();
    if let Some(os) = os {
        for line in os.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
            match k.trim() {
                "ID" => facts.os_id = v.to_ascii_lowercase(),
                "ID_LIKE" => {
                    facts.os_like = v
                        .split_whitespace()
                        .map(|s| s.to_ascii_lowercase())
                        .collect()
                }
                "PRETTY_NAME" => facts.os_pretty = v,
                _ => {}
            }
        }
    }
    facts.family = super::variants::family_for(&facts.os_id, &facts.os_like);
    facts.kernel = kernel.unwrap_or_default().trim().to_string();
    facts.hostname = host.unwrap_or_default().trim().to_string();
    facts.uptime = up.unwrap_or_default().trim().to_string();
    facts
}
