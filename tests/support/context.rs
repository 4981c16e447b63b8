//! Execution contexts for tool tests: a session over the real loopback sshd (the harness in
//! `sshd.rs`) or over the local transport, with the compiled-in policy.
use std::path::Path;
use std::sync::Arc;

use tai::config::{Config, ExecLimits, Overrides};
use tai::policy::Policy;
use tai::tools::ExecContext;
use tai::transport::local::LocalTransport;
use tai::transport::{self, Target, Transport};
use tokio_util::sync::CancellationToken;

use super::sshd::Sshd;

/// Overrides that reach `sshd` with its client key, a known_hosts file in `home`, and no
/// ssh_config from this machine.
pub fn ssh_overrides(home: &Path, sshd: &Sshd) -> Overrides {
    Overrides {
        tai_home: Some(home.join(".tai")),
        identity_files: vec![sshd.client_key().to_path_buf()],
        known_hosts: Some(home.join("known_hosts")),
        ignore_ssh_config: true,
        ..Default::default()
    }
}

/// The resolved configuration of [`ssh_overrides`].
pub fn ssh_config(home: &Path, sshd: &Sshd) -> Config {
    Config::resolve_with(&ssh_overrides(home, sshd), &|_| None).unwrap()
}

/// Connect to `sshd` with `cfg` and detect the host facts.
pub async fn connect(cfg: &Config, sshd: &Sshd) -> ExecContext {
    let target = Target::parse(&sshd.target()).unwrap();
    assert!(matches!(target, Target::Ssh(_)));
    let transport = transport::connect(&target, cfg).await.unwrap();
    let policy = Arc::new(Policy::load(false).unwrap());
    ExecContext::detect(transport, policy, cfg.limits, CancellationToken::new()).await
}

/// A context over `sshd` with the default limits.
pub async fn ssh_context(home: &Path, sshd: &Sshd) -> ExecContext {
    connect(&ssh_config(home, sshd), sshd).await
}

/// A context over the local transport with the default limits.
pub async fn local_context() -> ExecContext {
    let transport: Arc<dyn Transport> = Arc::new(LocalTransport::new());
    let policy = Arc::new(Policy::load(false).unwrap());
    ExecContext::detect(
        transport,
        policy,
        ExecLimits::default(),
        CancellationToken::new(),
    )
    .await
}
