//! Turning `tai fleet` TARGETS into hosts: literal `[user@]host[:port]`, `@FILE` (one target per
//! line, `#` comments), ssh_config `Host` patterns (`web*`, matched with [`crate::wildcard`]
//! against the aliases [`crate::transport::ssh::config::host_aliases`] lists), and an Ansible
//! inventory group (`--inventory FILE:GROUP`). Duplicates are dropped, order kept.
use std::path::{Path, PathBuf};

use super::inventory::Inventory;
use super::FleetError;
use crate::transport::{HostSpec, Target};

/// One host of the fleet: the name shown in the summary and where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetTarget {
    pub name: String,
    pub target: Target,
}

/// Expand `targets` and `inventory` (`FILE:GROUP`, or `FILE` for every host) into hosts.
/// `ssh_config` is the file whose `Host` aliases patterns match (None: no patterns possible).
pub fn resolve(
    targets: &[String],
    inventory: Option<&str>,
    ssh_config: Option<&Path>,
) -> Result<Vec<FleetTarget>, FleetError> {
    let mut out: Vec<FleetTarget> = Vec::new();
    let push = |t: FleetTarget, out: &mut Vec<FleetTarget>| {
        if !out.iter().any(|o| o.name == t.name) {
            out.push(t);
        }
    };
    let aliases = || {
        ssh_config
            .map(crate::transport::ssh::config::host_aliases)
            .unwrap_or_default()
    };
    let mut words: Vec<String> = Vec::new();
    for t in targets {
        if let Some(file) = t.strip_prefix('@') {
            let text = std::fs::read_to_string(file).map_err(|e| {
                FleetError::Usage(format!("cannot read the target list {file}: {e}"))
            })?;
            words.extend(
                text.lines()
                    .map(|l| l.split('#').next().unwrap_or_default().trim())
                    .filter(|l| !l.is_empty())
                    .map(str::to_string),
            );
        } else {
            words.push(t.clone());
        }
    }
    for w in &words {
        if w.contains('*') || w.contains('?') {
            let matched: Vec<String> = aliases()
                .into_iter()
                .filter(|a| crate::wildcard::wildcard_match(w, a))
                .collect();
            if matched.is_empty() {
                return Err(FleetError::Usage(format!(
                    "the pattern {w:?} matches no Host alias in {}",
                    ssh_config.map_or("ssh_config (not read)".into(), |p| p.display().to_string())
                )));
            }
            for a in matched {
                push(literal(&a)?, &mut out);
            }
        } else {
            push(literal(w)?, &mut out);
        }
    }
    if let Some(spec) = inventory {
        let (file, group) = match spec.rsplit_once(':') {
            Some((f, g)) if !g.contains('/') => (PathBuf::from(f), g.to_string()),
            _ => (PathBuf::from(spec), "all".to_string()),
        };
        let inv = Inventory::load(&file)?;
        for h in inv.group(&group)? {
            let host = h.address.clone().unwrap_or_else(|| h.name.clone());
            let target = Target::Ssh(HostSpec {
                user: h.user.clone(),
                host,
                port: h.port,
            });
            push(
                FleetTarget {
                    name: h.name,
                    target,
                },
                &mut out,
            );
        }
    }
    if out.is_empty() {
        return Err(FleetError::Usage(
            "no hosts: give hosts, @FILE, ssh_config patterns or --inventory FILE:GROUP".into(),
        ));
    }
    Ok(out)
}

fn literal(s: &str) -> Result<FleetTarget, FleetError> {
    let target = Target::parse(s)?;
    Ok(FleetTarget {
        name: target.display_name(),
        target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_patterns_inventory_and_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("hosts.txt");
        std::fs::write(
            &list,
            "# web tier\nops@web01:2222\nweb02 # comment\n\nweb01b\n",
        )
        .unwrap();
        let cfg = dir.path().join("ssh_config");
        std::fs::write(
            &cfg,
            "Host web07 web12 db01\n  User ops\nHost *\n  Port 22\n",
        )
        .unwrap();
        let inv = dir.path().join("inv.ini");
        std::fs::write(
            &inv,
            "[web]\nweb33 ansible_host=10.0.0.33 ansible_port=2200\nweb02\n",
        )
        .unwrap();
        let got = resolve(
            &[
                format!("@{}", list.display()),
                "web*".into(),
                "web02".into(),
            ],
            Some(&format!("{}:web", inv.display())),
            Some(&cfg),
        )
        .unwrap();
        let names: Vec<&str> = got.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ops@web01:2222",
                "web02",
                "web01b",
                "web07",
                "web12",
                "web33"
            ]
        );
        assert_eq!(
            got[5].target,
            Target::Ssh(HostSpec {
                user: None,
                host: "10.0.0.33".into(),
                port: Some(2200)
            })
        );
        let e = resolve(&["zz*".into()], None, Some(&cfg)).unwrap_err();
        assert!(e.to_string().contains("matches no Host alias"), "{e}");
        assert!(resolve(&[], None, None).is_err());
    }
}
