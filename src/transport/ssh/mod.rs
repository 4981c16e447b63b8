//! The SSH transport on russh: key-only authentication, ssh_config resolution, known_hosts
//! checking, jump hosts, and concurrent command channels over one connection.
//!
//! Lands with issue 3; until then connecting reports that it is not built yet.
use super::{HostSpec, TransportError};
use crate::config::Config;

/// Connect to `spec` (not built yet).
pub async fn connect(
    spec: &HostSpec,
    _config: &Config,
) -> Result<std::sync::Arc<dyn super::Transport>, TransportError> {
    Err(TransportError::NotYet(format!(
        "the SSH transport is not built yet, cannot reach {spec}; use `local` for this machine"
    )))
}
