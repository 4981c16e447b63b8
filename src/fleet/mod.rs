//! `tai fleet`: one question across many hosts. [`targets`] turns TARGETS (hosts, `@FILE`,
//! ssh_config patterns, Ansible inventory groups from [`inventory`]) into hosts; [`run`] connects
//! to each (one connection), runs the category's baseline plan plus the triage sweep through the
//! engine (`agent::Host`, `agent::HostRunner`, `triage::analyze`) with bounded forks and a
//! per-host timeout, and streams each host's result; [`summary`] reads the fleet: findings
//! grouped across hosts, outliers against the fleet median (MAD rule with absolute floors), the
//! version of the package in question per host ([`package`]: minority versions are outliers),
//! and the hosts that could not be reached with the reason. A front end: imports the engine,
//! nothing imports it but `cli`.
pub mod inventory;
pub mod package;
pub mod run;
pub mod summary;
pub mod targets;

pub use package::Package;
pub use run::{run_fleet, FleetOptions, FleetProgress, HostResult, Unreachable};
pub use summary::{Figures, FleetSummary};
pub use targets::{resolve, FleetTarget};

use crate::exit::{Code, HasExitCode};

/// What can go wrong before any host is contacted.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("{0}")]
    Usage(String),
    #[error("{file}:{line}: malformed inventory: {reason}\n  fix the line (tai reads hosts, groups, children, ansible_host/port/user)")]
    Inventory {
        file: String,
        line: usize,
        reason: String,
    },
    #[error(transparent)]
    Target(#[from] crate::transport::TransportError),
    #[error(transparent)]
    Setup(#[from] crate::agent::AgentError),
}

impl HasExitCode for FleetError {
    fn exit_code(&self) -> Code {
        match self {
            FleetError::Usage(_) | FleetError::Inventory { .. } => Code::Usage,
            FleetError::Target(e) => e.exit_code(),
            FleetError::Setup(e) => e.exit_code(),
        }
    }
}
