//! The built-in tools, one module per family: [`logs`], [`services`], [`network`], [`disk`],
//! [`files`], [`system`], [`run_command`], [`knowledge`] (and `service_config` beside this
//! module). Most are a typed argument struct plus a `steps` function that renders argv for
//! the host's distro family ([`common::Spec`]); `read_file` (symlinks resolved on the host
//! and re-checked), `run_command` (a command line split without a shell) and the knowledge
//! tools implement [`Tool`] directly. Tool names and argument names are part of tai's contract.
use std::sync::Arc;

use crate::tools::types::Tool;

pub mod common;
pub mod disk;
pub mod files;
pub mod knowledge;
pub mod logs;
pub mod network;
pub mod run_command;
pub mod services;
pub mod system;

use common::Simple;
use disk::{BlockDevices, DiskUsage, InodeUsage, Mounts};
use files::{CertInfo, ListDir, ReadFile};
use knowledge::{SearchHistory, SearchRunbooks};
use logs::{KernelLog, ReadJournal};
use network::{ListSockets, NetworkInterfaces, ResolveHost, Routes};
use run_command::RunCommand;
use services::{ListServices, ServiceStatus};
use system::{
    CpuLoad, ListProcesses, MemoryInfo, PackageVersion, ProcessInfo, SystemInfo, TimeSync,
};

/// Every built-in tool, in the order `tai tools list` shows them.
pub fn all() -> Vec<Arc<dyn Tool>> {
    vec![
        Arc::new(Simple(ReadJournal)),
        Arc::new(Simple(ServiceStatus)),
        Arc::new(Simple(ListServices)),
        Arc::new(Simple(ListSockets)),
        Arc::new(Simple(NetworkInterfaces)),
        Arc::new(Simple(Routes)),
        Arc::new(Simple(ResolveHost)),
        Arc::new(Simple(DiskUsage)),
        Arc::new(Simple(InodeUsage)),
        Arc::new(Simple(BlockDevices)),
        Arc::new(Simple(Mounts)),
        Arc::new(ReadFile),
        Arc::new(crate::tools::service_config::ServiceConfig),
        Arc::new(Simple(ListDir)),
        Arc::new(Simple(ListProcesses)),
        Arc::new(Simple(ProcessInfo)),
        Arc::new(Simple(MemoryInfo)),
        Arc::new(Simple(CpuLoad)),
        Arc::new(Simple(KernelLog)),
        Arc::new(Simple(SystemInfo)),
        Arc::new(Simple(PackageVersion)),
        Arc::new(Simple(CertInfo)),
        Arc::new(Simple(TimeSync)),
        Arc::new(RunCommand),
        Arc::new(SearchRunbooks),
        Arc::new(SearchHistory),
    ]
}
