//! Network tools: `list_sockets`, `network_interfaces`, `routes`, `resolve_host`.
use schemars::JsonSchema;
use serde::Deserialize;

use super::common::{plain, NoArgs, Spec};
use crate::tools::types::{ArgsError, Step};
use crate::tools::variants::Variants;

/// Arguments of `list_sockets`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListSocketsArgs {
    /// Only listening sockets (default true); false lists established connections too.
    pub listening: Option<bool>,
    /// Show the owning process (default true; needs root for other users' processes).
    pub process: Option<bool>,
}

pub struct ListSockets;

impl Spec for ListSockets {
    type Args = ListSocketsArgs;
    const NAME: &'static str = "list_sockets";
    const DESCRIPTION: &'static str =
        "TCP and UDP sockets: what listens on which port, and optionally open connections, with processes";

    fn steps(&self, a: &ListSocketsArgs, v: &Variants) -> Result<Vec<Step>, ArgsError> {
        let mut flags = String::from("-tun");
        flags.push(if a.listening.unwrap_or(true) {
            'l'
        } else {
            'a'
        });
        if a.process.unwrap_or(true) {
            flags.push('p');
        }
        let mut programs = v.sockets.iter();
        let first = programs.next().cloned().unwrap_or_else(|| "ss".into());
        let mut step = Step::new([first, flags.clone()]);
        for p in programs {
            step = step.or([p.clone(), flags.clone()]);
        }
        Ok(vec![step])
    }
}

pub struct NetworkInterfaces;

impl Spec for NetworkInterfaces {
    type Args = NoArgs;
    const NAME: &'static str = "network_interfaces";
    const DESCRIPTION: &'static str =
        "Network interfaces with state, MTU, addresses and error counters";

    fn steps(&self, _a: &NoArgs, _v: &Variants) -> Result<Vec<Step>, ArgsError> {
        Ok(vec![
            Step::new(["ip", "addr", "show"]).or(["cat", "/proc/net/dev"]),
            Step::new(["ip", "-s", "link", "show"]),
        ])
    }
}

pub struct Routes;

impl Spec for Routes {
    type Args = NoArgs;
    const NAME: &'static str = "routes";
    const DESCRIPTION: &'static str = "IPv4 and IPv6 routing tables";

    fn steps(&self, _a: &NoArgs, _v: &Variants) -> Result<Vec<Step>, ArgsError> {
        Ok(vec![
            Step::new(["ip", "route", "show"]).or(["netstat", "-rn"]),
            Step::new(["ip", "-6", "route", "show"]),
        ])
    }
}

/// Arguments of `resolve_host`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveHostArgs {
    /// Host name to resolve, as the host's resolver (NSS: /etc/hosts, DNS) sees it.
    pub name: String,
}

pub struct ResolveHost;

impl Spec for ResolveHost {
    type Args = ResolveHostArgs;
    const NAME: &'static str = "resolve_host";
    const DESCRIPTION: &'static str =
        "Resolve a host name the way the host does (getent ahosts) and show its resolver configuration";

    fn steps(&self, a: &ResolveHostArgs, _v: &Variants) -> Result<Vec<Step>, ArgsError> {
        plain("name", &a.name)?;
        Ok(vec![
            Step::new(["getent", "ahosts", &a.name]).ok_codes(&[0, 2]),
            Step::new(["cat", "/etc/resolv.conf"]),
        ])
    }
}
