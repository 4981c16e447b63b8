//! Read-only parsing of Ansible inventories (INI and YAML) for `tai fleet --inventory FILE:GROUP`:
//! hosts, groups, `children`, and the connection variables tai uses (`ansible_host`,
//! `ansible_port`, `ansible_user`); every other key is ignored. Malformed input is an error
//! naming the file and line. The YAML reader covers the inventory shape only (nested mappings,
//! `key: value`), without a YAML library.
use std::collections::BTreeMap;
use std::path::Path;

use super::FleetError;

/// One inventory host and the variables tai uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InventoryHost {
    pub name: String,
    pub address: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
}

/// Hosts (with variables) and groups (direct hosts and child groups).
#[derive(Debug, Default)]
pub struct Inventory {
    hosts: BTreeMap<String, InventoryHost>,
    groups: BTreeMap<String, (Vec<String>, Vec<String>)>,
}

impl Inventory {
    /// Read `path`: YAML when it ends in `.yml`/`.yaml` or starts like YAML, INI otherwise.
    pub fn load(path: &Path) -> Result<Inventory, FleetError> {
        let text = std::fs::read_to_string(path).map_err(|e| FleetError::Inventory {
            file: path.display().to_string(),
            line: 0,
            reason: format!("cannot read it: {e}"),
        })?;
        let name = path.to_string_lossy();
        let yaml = name.ends_with(".yml")
            || name.ends_with(".yaml")
            || text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'))
                .is_some_and(|l| l == "---" || (l.ends_with(':') && !l.starts_with('[')));
        if yaml {
            parse_yaml(&text, &name)
        } else {
            parse_ini(&text, &name)
        }
    }

    fn host_mut(&mut self, name: &str) -> &mut InventoryHost {
        self.hosts
            .entry(name.to_string())
            .or_insert_with(|| InventoryHost {
                name: name.to_string(),
                ..Default::default()
            })
    }

    fn group_mut(&mut self, name: &str) -> &mut (Vec<String>, Vec<String>) {
        self.groups.entry(name.to_string()).or_default()
    }

    /// Every host of `group` (through `children`, each once, inventory order by name);
    /// `all` is every host. An unknown group is an error listing the known ones.
    pub fn group(&self, group: &str) -> Result<Vec<InventoryHost>, FleetError> {
        if group == "all" && !self.groups.contains_key("all") {
            return Ok(self.hosts.values().cloned().collect());
        }
        if !self.groups.contains_key(group) {
            return Err(FleetError::Usage(format!(
                "inventory group {group:?} not found; groups: {}",
                self.groups.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        let mut out: Vec<String> = Vec::new();
        let mut stack = vec![group.to_string()];
        let mut seen = std::collections::HashSet::new();
        while let Some(g) = stack.pop() {
            if !seen.insert(g.clone()) {
                continue;
            }
            if let Some((hosts, children)) = self.groups.get(&g) {
                for h in hosts {
                    if !out.contains(h) {
                        out.push(h.clone());
                    }
                }
                stack.extend(children.iter().rev().cloned());
            }
        }
        Ok(out
            .iter()
            .filter_map(|h| self.hosts.get(h).cloned())
            .collect())
    }
}

fn err(file: &str, line: usize, reason: impl Into<String>) -> FleetError {
    FleetError::Inventory {
        file: file.to_string(),
        line,
        reason: reason.into(),
    }
}

fn set_var(
    h: &mut InventoryHost,
    key: &str,
    value: &str,
    file: &str,
    line: usize,
) -> Result<(), FleetError> {
    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
    match key {
        "ansible_host" | "ansible_ssh_host" => h.address = Some(value.to_string()),
        "ansible_user" | "ansible_ssh_user" => h.user = Some(value.to_string()),
        "ansible_port" | "ansible_ssh_port" => {
            h.port =
                Some(value.parse().map_err(|_| {
                    err(file, line, format!("{key}={value:?} is not a port number"))
                })?)
        }
        _ => {}
    }
    Ok(())
}

/// INI: `[group]`, `[group:children]`, `[group:vars]` (ignored), `host key=value ...`.
pub fn parse_ini(text: &str, file: &str) -> Result<Inventory, FleetError> {
    let mut inv = Inventory::default();
    let mut section = ("ungrouped".to_string(), String::new());
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some(name) = rest.strip_suffix(']') else {
                return Err(err(
                    file,
                    n,
                    format!("section header without `]`: {line:?}"),
                ));
            };
            let (g, kind) = name.split_once(':').unwrap_or((name, ""));
            if g.is_empty() || !matches!(kind, "" | "children" | "vars") {
                return Err(err(
                    file,
                    n,
                    format!(
                        "bad section {line:?}: expected [group], [group:children] or [group:vars]"
                    ),
                ));
            }
            inv.group_mut(g);
            section = (g.to_string(), kind.to_string());
            continue;
        }
        match section.1.as_str() {
            "vars" => continue,
            "children" => {
                let child = line
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                inv.group_mut(&child);
                inv.group_mut(&section.0).1.push(child);
            }
            _ => {
                let mut words = line.split_whitespace();
                let name = words.next().unwrap_or_default().to_string();
                for w in words {
                    let Some((k, v)) = w.split_once('=') else {
                        return Err(err(
                            file,
                            n,
                            format!("expected key=value after the host name, got {w:?}"),
                        ));
                    };
                    set_var(inv.host_mut(&name), k, v, file, n)?;
                }
                inv.host_mut(&name);
                let g = &mut inv.group_mut(&section.0).0;
                if !g.contains(&name) {
                    g.push(name);
                }
            }
        }
    }
    Ok(inv)
}

/// YAML inventory: `GROUP: {hosts: {H: {vars}}, children: {G: ...}, vars: ...}` from `all:`
/// down. Only block mappings (`key:` / `key: value`); a list or a tab is an error.
pub fn parse_yaml(text: &str, file: &str) -> Result<Inventory, FleetError> {
    // (indent, key, value, line)
    let mut items: Vec<(usize, String, String, usize)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let no_comment = match raw.find(" #") {
            Some(p) => &raw[..p],
            None => raw,
        };
        let t = no_comment.trim_end();
        let body = t.trim_start();
        if body.is_empty() || body.starts_with('#') || body == "---" || body == "..." {
            continue;
        }
        if t.starts_with('\t') {
            return Err(err(file, n, "tab indentation is not allowed in YAML"));
        }
        if body.starts_with("- ") || body == "-" {
            return Err(err(
                file,
                n,
                "a list is not valid here: an inventory uses mappings (`host:`)",
            ));
        }
        let Some((k, v)) = body.split_once(':') else {
            return Err(err(
                file,
                n,
                format!("expected `key:` or `key: value`, got {body:?}"),
            ));
        };
        let indent = t.len() - body.len();
        let v = v.trim();
        let v = if v == "{}" || v == "~" || v == "null" {
            ""
        } else {
            v
        };
        items.push((
            indent,
            k.trim().trim_matches(|c| c == '"' || c == '\'').to_string(),
            v.to_string(),
            n,
        ));
    }
    let mut inv = Inventory::default();
    let mut pos = 0;
    while pos < items.len() {
        let (indent, g, _, n) = items[pos].clone();
        if indent != 0 {
            return Err(err(
                file,
                n,
                "expected a group name at the start of the line",
            ));
        }
        pos = yaml_group(&items, pos, &mut inv, file)?;
        let _ = g;
    }
    Ok(inv)
}

/// The children of the item at `at`: the following items indented deeper, up to the next at
/// its level or shallower. Returns (first child index, end index, child indent).
fn block(items: &[(usize, String, String, usize)], at: usize) -> (usize, usize, usize) {
    let base = items[at].0;
    let mut end = at + 1;
    while end < items.len() && items[end].0 > base {
        end += 1;
    }
    let child_indent = items
        .get(at + 1)
        .filter(|_| end > at + 1)
        .map_or(0, |c| c.0);
    (at + 1, end, child_indent)
}

fn yaml_group(
    items: &[(usize, String, String, usize)],
    at: usize,
    inv: &mut Inventory,
    file: &str,
) -> Result<usize, FleetError> {
    let group = items[at].1.clone();
    inv.group_mut(&group);
    let (mut p, end, ci) = block(items, at);
    while p < end {
        let (ind, key, _, n) = items[p].clone();
        if ind != ci {
            return Err(err(file, n, "inconsistent indentation"));
        }
        let (_, kend, hi) = block(items, p);
        match key.as_str() {
            "hosts" => {
                let mut h = p + 1;
                while h < kend {
                    let (hind, host, _, hn) = items[h].clone();
                    if hind != hi {
                        return Err(err(file, hn, "inconsistent indentation under `hosts:`"));
                    }
                    let (_, hend, _) = block(items, h);
                    inv.host_mut(&host);
                    for v in &items[h + 1..hend] {
                        set_var(inv.host_mut(&host), &v.1, &v.2, file, v.3)?;
                    }
                    let g = &mut inv.group_mut(&group).0;
                    if !g.contains(&host) {
                        g.push(host);
                    }
                    h = hend;
                }
            }
            "children" => {
                let mut c = p + 1;
                while c < kend {
                    let child = items[c].1.clone();
                    inv.group_mut(&group).1.push(child);
                    // Re-base the child's block at indent 0 semantics: parse it in place.
                    c = yaml_group(items, c, inv, file)?;
                }
            }
            _ => {} // vars and anything else: ignored
        }
        p = kend;
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: Vec<InventoryHost>) -> Vec<String> {
        v.into_iter().map(|h| h.name).collect()
    }

    #[test]
    fn ini_groups_children_and_connection_vars() {
        let inv = parse_ini(
            "# prod\nlb01 ansible_host=10.0.0.1\n[web]\nweb01 ansible_host=10.0.0.11 ansible_port=2222 ansible_user=ops foo=bar\nweb02\n\
             [db]\ndb01 ansible_user=pg\n[prod:children]\nweb\ndb\n[prod:vars]\nntp=1.2.3.4\n",
            "inv.ini",
        )
        .unwrap();
        let web = inv.group("web").unwrap();
        assert_eq!(names(web.clone()), ["web01", "web02"]);
        assert_eq!(web[0].address.as_deref(), Some("10.0.0.11"));
        assert_eq!(web[0].port, Some(2222));
        assert_eq!(web[0].user.as_deref(), Some("ops"));
        assert_eq!(
            names(inv.group("prod").unwrap()),
            ["web01", "web02", "db01"]
        );
        assert_eq!(inv.group("all").unwrap().len(), 4);
        assert!(inv.group("nope").unwrap_err().to_string().contains("web"));
    }

    #[test]
    fn ini_errors_name_file_and_line() {
        let e = parse_ini("[web]\nweb01 ansible_port=notaport\n", "hosts.ini").unwrap_err();
        assert!(e.to_string().contains("hosts.ini:2"), "{e}");
        let e = parse_ini("[web\n", "hosts.ini").unwrap_err();
        assert!(e.to_string().contains("hosts.ini:1"), "{e}");
        let e = parse_ini("[web]\nweb01 stray\n", "h").unwrap_err();
        assert!(e.to_string().contains("h:2"), "{e}");
    }

    #[test]
    fn yaml_hosts_children_and_vars() {
        let inv = parse_yaml(
            "---\nall:\n  hosts:\n    lb01:\n      ansible_host: 10.0.0.1\n  children:\n    web:\n      hosts:\n        web01:\n          ansible_host: \"10.0.0.11\"\n          ansible_port: 2222\n          unknown_key: x\n        web02: {}\n      vars:\n        http_port: 80\n    db:\n      hosts:\n        db01:\n          ansible_user: pg\n",
            "inv.yml",
        )
        .unwrap();
        let web = inv.group("web").unwrap();
        assert_eq!(names(web.clone()), ["web01", "web02"]);
        assert_eq!(web[0].port, Some(2222));
        assert_eq!(web[0].address.as_deref(), Some("10.0.0.11"));
        assert_eq!(
            names(inv.group("all").unwrap()),
            ["lb01", "web01", "web02", "db01"]
        );
        assert_eq!(inv.group("db").unwrap()[0].user.as_deref(), Some("pg"));
    }

    #[test]
    fn yaml_errors_name_file_and_line() {
        let e = parse_yaml("all:\n  hosts:\n    - web01\n", "inv.yml").unwrap_err();
        assert!(e.to_string().contains("inv.yml:3"), "{e}");
        let e = parse_yaml(
            "all:\n  hosts:\n    web01:\n      ansible_port: x\n",
            "i.yaml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("i.yaml:4"), "{e}");
    }
}
