//! `service_status` and `list_services`: systemd units (SysV scripts without systemd).
use schemars::JsonSchema;
use serde::Deserialize;

use super::common::{args_of, plain, Spec};
use crate::tools::types::{ArgsError, Step};
use crate::tools::variants::Variants;

/// Arguments of `service_status`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceStatusArgs {
    /// systemd unit, e.g. `nginx` or `postgresql@15-main.service`.
    pub unit: String,
}

pub struct ServiceStatus;

impl Spec for ServiceStatus {
    type Args = ServiceStatusArgs;
    const NAME: &'static str = "service_status";
    const DESCRIPTION: &'static str =
        "State of one service: active or failed, since when, main PID, memory, and its last log lines";

    fn steps(&self, a: &ServiceStatusArgs, _v: &Variants) -> Result<Vec<Step>, ArgsError> {
        plain("unit", &a.unit)?;
        let u = a.unit.clone();
        Ok(vec![Step::new([
            "systemctl",
            "status",
            "--no-pager",
            "--full",
            "--lines=20",
            "--",
            &u,
        ])
        .or(["service", &u, "status"])
        .ok_codes(&[0, 3])])
    }
}

/// Which services to list.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceState {
    Running,
    Failed,
    Active,
    Inactive,
    Exited,
    All,
}

/// Arguments of `list_services`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListServicesArgs {
    /// Only services in this state (default: all loaded services).
    pub state: Option<ServiceState>,
}

pub struct ListServices;

impl Spec for ListServices {
    type Args = ListServicesArgs;
    const NAME: &'static str = "list_services";
    const DESCRIPTION: &'static str =
        "List systemd services and their state (running, failed, ...)";

    fn steps(&self, a: &ListServicesArgs, _v: &Variants) -> Result<Vec<Step>, ArgsError> {
        let mut argv = args_of(&[
            "systemctl",
            "list-units",
            "--type=service",
            "--no-pager",
            "--no-legend",
            "--plain",
        ]);
        match a.state {
            None | Some(ServiceState::All) => argv.push("--all".into()),
            Some(s) => argv.push(format!("--state={}", format!("{s:?}").to_ascii_lowercase())),
        }
        // Without systemd: the SysV scripts that exist. `service --status-all` is refused (the
        // scripts' status branches may run `systemctl daemon-reload` and other writers).
        Ok(vec![Step::new(argv).or(["ls", "-1", "/etc/init.d"])])
    }
}
