//! Package versions across the fleet: which package to compare (the service the issue names,
//! else the category's own service, or `--package` when given), the `package_version` calls
//! that read it on each host (the package named as the host's distro family names it), the
//! version parsed from their `dpkg-query` or `rpm -q` output, and the hosts grouped by version.
//!
//! A host's value is the installed version or `not installed`; a query that gave no answer
//! (refused, timed out, no package tool on the host) is no value. The usual version is the one
//! held by more than half of the hosts with a value, and every host on another version is an
//! outlier. Without such a majority (a fleet split in halves, a rolling upgrade midway) the
//! versions are listed and no host is flagged.
use std::collections::BTreeMap;

use serde::Serialize;

use super::FleetError;
use crate::plan::{mentions, Category};
use crate::tools::{CallStatus, HostFacts, Registry, ToolCall, ToolOutcome};

/// The value of a host where the package is not installed.
pub const NOT_INSTALLED: &str = "not installed";

/// The tool that reads a version.
const TOOL: &str = "package_version";

/// Words an issue uses for a service → its package (Debian name, RPM name). Services whose
/// package depends on where it came from (docker-ce or docker.io, tomcat9 or tomcat, a JDK) are
/// left to `--package`.
const SERVICES: &[(&[&str], &str, &str)] = &[
    (&["nginx"], "nginx", "nginx"),
    (&["apache", "apache2", "httpd"], "apache2", "httpd"),
    (&["haproxy"], "haproxy", "haproxy"),
    (&["varnish"], "varnish", "varnish"),
    (&["squid"], "squid", "squid"),
    (&["php-fpm"], "php-fpm", "php-fpm"),
    (&["uwsgi"], "uwsgi", "uwsgi"),
    (
        &["postgres", "postgresql"],
        "postgresql",
        "postgresql-server",
    ),
    (&["mysql", "mysqld"], "mysql-server", "mysql-server"),
    (&["mariadb"], "mariadb-server", "mariadb-server"),
    (&["redis"], "redis-server", "redis"),
    (&["memcached"], "memcached", "memcached"),
    (&["rabbitmq"], "rabbitmq-server", "rabbitmq-server"),
    (&["kubelet"], "kubelet", "kubelet"),
    (
        &["ssh", "sshd", "openssh"],
        "openssh-server",
        "openssh-server",
    ),
    (&["sssd"], "sssd", "sssd"),
    (&["chrony", "chronyd"], "chrony", "chrony"),
    (&["bind9", "named"], "bind9", "bind"),
    (&["unbound"], "unbound", "unbound"),
    (&["dnsmasq"], "dnsmasq", "dnsmasq"),
    (&["openssl"], "openssl", "openssl"),
    (&["certbot"], "certbot", "certbot"),
    (&["postfix"], "postfix", "postfix"),
    (&["dovecot"], "dovecot-core", "dovecot"),
];

/// A category's own service (a word of [`SERVICES`]), compared when the issue names none.
const CATEGORY_SERVICE: &[(Category, &str)] = &[
    (Category::Time, "chrony"),
    (Category::Auth, "sshd"),
    (Category::Tls, "openssl"),
];

/// At most this many packages from one issue.
const MAX_FROM_ISSUE: usize = 3;

/// A package to compare, as each distro family names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    deb: String,
    rpm: String,
}

impl Package {
    /// A package named by the user (`--package NAME`): the same name on every host, checked
    /// by the tool's own argument rules.
    pub fn named(name: &str) -> Result<Package, FleetError> {
        let registry = Registry::builtin();
        if let Some(tool) = registry.get(TOOL) {
            tool.render(&serde_json::json!({ "name": name }), &HostFacts::default())
                .map_err(|e| FleetError::Usage(format!("--package {name:?}: {e}")))?;
        }
        Ok(Package {
            deb: name.to_string(),
            rpm: name.to_string(),
        })
    }

    /// The name on a host of `family` (RPM names on RHEL and SUSE, Debian names elsewhere).
    pub fn name_for(&self, family: &str) -> &str {
        match family {
            "rhel" | "suse" => &self.rpm,
            _ => &self.deb,
        }
    }
}

impl std::fmt::Display for Package {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.deb == self.rpm {
            f.write_str(&self.deb)
        } else {
            write!(f, "{}/{}", self.deb, self.rpm)
        }
    }
}

fn service(word: &str) -> Option<Package> {
    SERVICES
        .iter()
        .find(|(words, _, _)| words.contains(&word))
        .map(|(_, deb, rpm)| Package {
            deb: deb.to_string(),
            rpm: rpm.to_string(),
        })
}

/// The packages of the services the issue names (whole words, as the classifier matches
/// them), else the category's own service, else none.
pub fn from_issue(issue: &str, category: Category) -> Vec<Package> {
    let text = issue.to_lowercase();
    let mut found: Vec<Package> = Vec::new();
    for (words, _, _) in SERVICES {
        if let Some(w) = words.iter().find(|w| mentions(&text, w)) {
            let p = service(w).expect("a word of the table");
            if !found.contains(&p) {
                found.push(p);
            }
        }
    }
    found.truncate(MAX_FROM_ISSUE);
    if found.is_empty() {
        found.extend(
            CATEGORY_SERVICE
                .iter()
                .filter(|(c, _)| *c == category)
                .filter_map(|(_, w)| service(w)),
        );
    }
    found
}

/// The `package_version` calls for a host of `family`, with ids from `T{next_id}`.
pub fn calls(packages: &[Package], family: &str, next_id: usize) -> Vec<ToolCall> {
    packages
        .iter()
        .enumerate()
        .map(|(i, p)| ToolCall {
            id: format!("T{}", next_id + i),
            tool: TOOL.into(),
            args: serde_json::json!({ "name": p.name_for(family) }),
        })
        .collect()
}

/// The package a `package_version` outcome asked about.
pub fn name_of(o: &ToolOutcome) -> Option<&str> {
    (o.call.tool == TOOL)
        .then(|| o.call.args.get("name").and_then(|n| n.as_str()))
        .flatten()
}

/// The version one `package_version` outcome shows: the installed version (several, comma
/// separated, when more than one is installed), [`NOT_INSTALLED`], or `None` when the query
/// gave no answer. Reads `dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\n'`,
/// plain `dpkg-query -W` (`NAME\tVERSION`) and `rpm -q` (`NAME-VERSION-RELEASE.ARCH`).
pub fn version_of(o: &ToolOutcome) -> Option<String> {
    let name = name_of(o)?;
    // The last command is the one that answered (earlier ones were missing programs).
    let r = o.commands.last()?;
    if r.status == CallStatus::Denied || r.exit_code.is_none_or(|c| c == 127) {
        return None;
    }
    let mut versions: Vec<String> = Vec::new();
    for line in r.stdout.lines() {
        if let Some(v) = line_version(name, line) {
            if !versions.contains(&v) {
                versions.push(v);
            }
        }
    }
    if versions.iter().any(|v| v != NOT_INSTALLED) {
        versions.retain(|v| v != NOT_INSTALLED);
    }
    if versions.is_empty()
        && (r.stderr.contains("no packages found matching")
            || r.stdout
                .contains(&format!("package {name} is not installed")))
    {
        return Some(NOT_INSTALLED.into());
    }
    (!versions.is_empty()).then(|| versions.join(", "))
}

const RPM_ARCHES: [&str; 10] = [
    "x86_64", "noarch", "aarch64", "i686", "i586", "i386", "ppc64le", "ppc64", "s390x", "armv7hl",
];

fn line_version(name: &str, line: &str) -> Option<String> {
    let base = |pkg: &str| pkg.split(':').next().unwrap_or(pkg) == name;
    // Plain `dpkg-query -W`: NAME[:ARCH] TAB VERSION (empty when known but not installed).
    if let Some((pkg, ver)) = line.split_once('\t') {
        if base(pkg) {
            let ver = ver.trim();
            return Some(if ver.is_empty() { NOT_INSTALLED } else { ver }.to_string());
        }
    }
    // tai's dpkg-query format: NAME[:ARCH] SP VERSION SP STATUS-ABBREV (three characters:
    // wanted, state, error; state `n` is not installed, `c` only its config files left).
    let w: Vec<&str> = line.split(' ').collect();
    if w.len() >= 3 && base(w[0]) && w[2].len() >= 2 {
        let (ver, abbrev) = (w[1], w[2]);
        return Some(match abbrev.as_bytes()[1] {
            b'n' | b'c' => NOT_INSTALLED.to_string(),
            _ if ver.is_empty() => NOT_INSTALLED.to_string(),
            b'i' | b't' | b'W' => ver.to_string(),
            _ => format!("{ver} ({})", abbrev.trim()),
        });
    }
    // `rpm -q NAME`: NAME-VERSION-RELEASE.ARCH.
    let rest = line.trim().strip_prefix(name)?.strip_prefix('-')?;
    if rest.contains(char::is_whitespace) || !rest.contains('-') {
        return None;
    }
    let rest = match rest.rsplit_once('.') {
        Some((v, arch)) if RPM_ARCHES.contains(&arch) => v,
        _ => rest,
    };
    Some(rest.to_string())
}

/// The hosts on one version.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VersionGroup {
    pub version: String,
    pub hosts: Vec<String>,
}

/// One package across the reached hosts.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PackageVersions {
    pub package: String,
    /// Hosts with a value.
    pub hosts: usize,
    /// The version more than half of them have (`None`: no majority).
    pub usual: Option<String>,
    /// Largest group first.
    pub versions: Vec<VersionGroup>,
    /// Reached hosts where the query gave no answer.
    pub unread: Vec<String>,
}

/// Group the reached hosts' values (`host`, package → version or `None` for no answer) by
/// package and version.
pub fn group<'a>(
    hosts: impl IntoIterator<Item = (&'a str, &'a BTreeMap<String, Option<String>>)>,
) -> Vec<PackageVersions> {
    // package → (version → hosts, hosts without an answer)
    type Hosts<'a> = (BTreeMap<&'a str, Vec<String>>, Vec<String>);
    let mut by: BTreeMap<&str, Hosts> = BTreeMap::new();
    for (host, values) in hosts {
        for (package, value) in values {
            let (versions, unread) = by.entry(package).or_default();
            match value {
                Some(v) => versions.entry(v).or_default().push(host.to_string()),
                None => unread.push(host.to_string()),
            }
        }
    }
    by.into_iter()
        .map(|(package, (versions, unread))| {
            let mut versions: Vec<VersionGroup> = versions
                .into_iter()
                .map(|(v, hosts)| VersionGroup {
                    version: v.to_string(),
                    hosts,
                })
                .collect();
            versions.sort_by_key(|g| std::cmp::Reverse(g.hosts.len()));
            let n: usize = versions.iter().map(|g| g.hosts.len()).sum();
            let usual = versions
                .first()
                .filter(|g| g.hosts.len() * 2 > n)
                .map(|g| g.version.clone());
            PackageVersions {
                package: package.to_string(),
                hosts: n,
                usual,
                versions,
                unread,
            }
        })
        .collect()
}

fn host_list(hosts: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut s = hosts
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if hosts.len() > SHOWN {
        s.push_str(&format!(" and {} more", hosts.len() - SHOWN));
    }
    s
}

impl PackageVersions {
    /// The hosts off the usual version, with their version.
    pub fn off_usual(&self) -> Vec<(&str, &str)> {
        let Some(usual) = &self.usual else {
            return Vec::new();
        };
        self.versions
            .iter()
            .filter(|g| &g.version != usual)
            .flat_map(|g| g.hosts.iter().map(|h| (h.as_str(), g.version.as_str())))
            .collect()
    }

    /// One line: `nginx 1.22.1-9 on 38 of 40; 1.18.0-6 on web07, web12`.
    pub fn line(&self) -> String {
        let mut s = match (&self.usual, self.versions.as_slice()) {
            (_, []) => format!("{}: no host answered", self.package),
            (_, [one]) => format!(
                "{} {} on all {} hosts",
                self.package,
                one.version,
                one.hosts.len()
            ),
            (Some(usual), [first, rest @ ..]) => {
                let mut s = format!(
                    "{} {usual} on {} of {}",
                    self.package,
                    first.hosts.len(),
                    self.hosts
                );
                for g in rest {
                    s.push_str(&format!("; {} on {}", g.version, host_list(&g.hosts)));
                }
                s
            }
            (None, all) => format!(
                "{} differs, no version on most hosts: {}",
                self.package,
                all.iter()
                    .map(|g| format!("{} on {}", g.version, host_list(&g.hosts)))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        if !self.unread.is_empty() {
            s.push_str(&format!("; not read on {}", host_list(&self.unread)));
        }
        s
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A `package_version` outcome as the tool returns it: one command record (the one that
    /// answered), its streams and exit code.
    pub(crate) fn pkg(
        name: &str,
        command: &str,
        code: i32,
        stdout: &str,
        stderr: &str,
    ) -> ToolOutcome {
        let status = if code == 0 {
            CallStatus::Ok
        } else {
            CallStatus::Error
        };
        ToolOutcome {
            call: ToolCall {
                id: "T1".into(),
                tool: TOOL.into(),
                args: serde_json::json!({ "name": name }),
            },
            status,
            commands: vec![crate::tools::CommandRecord {
                command: format!("{command} {name}"),
                status,
                exit_code: Some(code),
                duration_ms: 9,
                stdout: stdout.into(),
                stderr: stderr.into(),
                truncated: 0,
                note: None,
            }],
            output: String::new(),
            duration_ms: 9,
        }
    }

    pub(crate) const DPKG: &str = "dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\\n'";

    #[test]
    fn package_versions_from_dpkg_and_rpm_output() {
        let v = |o: ToolOutcome| version_of(&o);
        // `tai tools run local package_version` on Debian 12, installed and absent.
        assert_eq!(
            v(pkg(
                "openssh-server",
                DPKG,
                0,
                "openssh-server 1:9.2p1-2+deb12u10 ii \n",
                ""
            )),
            Some("1:9.2p1-2+deb12u10".into())
        );
        assert_eq!(
            v(pkg(
                "nginx",
                DPKG,
                1,
                "",
                "dpkg-query: no packages found matching nginx\n"
            )),
            Some(NOT_INSTALLED.into())
        );
        // Removed with its config files kept, known but never installed, half configured.
        assert_eq!(
            v(pkg("nginx", DPKG, 0, "nginx 1.22.1-9 rc \n", "")),
            Some(NOT_INSTALLED.into())
        );
        assert_eq!(
            v(pkg("nginx", DPKG, 0, "nginx  un \n", "")),
            Some(NOT_INSTALLED.into())
        );
        assert_eq!(
            v(pkg("nginx", DPKG, 0, "nginx 1.22.1-9 iF \n", "")),
            Some("1.22.1-9 (iF)".into())
        );
        // Multiarch: one version per architecture, the same version once.
        assert_eq!(
            v(pkg(
                "libssl3",
                DPKG,
                0,
                "libssl3:amd64 3.0.15-1 ii \nlibssl3:i386 3.0.15-1 ii \n",
                ""
            )),
            Some("3.0.15-1".into())
        );
        // Plain `dpkg-query -W` (the arch family's fallback).
        assert_eq!(
            v(pkg("nginx", "dpkg-query -W", 0, "nginx\t1.22.1-9\n", "")),
            Some("1.22.1-9".into())
        );
        // rpm -q: NAME-VERSION-RELEASE.ARCH, the arch dropped; two kernels both shown.
        assert_eq!(
            v(pkg(
                "nginx",
                "rpm -q",
                0,
                "nginx-1.20.1-14.el9_2.1.x86_64\n",
                ""
            )),
            Some("1.20.1-14.el9_2.1".into())
        );
        assert_eq!(
            v(pkg(
                "kernel",
                "rpm -q",
                0,
                "kernel-5.14.0-362.8.1.el9_3.x86_64\nkernel-5.14.0-427.13.1.el9_4.x86_64\n",
                ""
            )),
            Some("5.14.0-362.8.1.el9_3, 5.14.0-427.13.1.el9_4".into())
        );
        assert_eq!(
            v(pkg(
                "nginx",
                "rpm -q",
                1,
                "package nginx is not installed\n",
                ""
            )),
            Some(NOT_INSTALLED.into())
        );
        // No answer: the program was missing, the policy refused, or it printed nothing known.
        assert_eq!(
            v(pkg("nginx", "rpm -q", 127, "", "sh: rpm: not found\n")),
            None
        );
        let mut denied = pkg("nginx", "rpm -q", 0, "", "");
        denied.commands[0].status = CallStatus::Denied;
        denied.commands[0].exit_code = None;
        assert_eq!(v(denied), None);
        assert_eq!(
            v(pkg(
                "nginx",
                DPKG,
                2,
                "",
                "dpkg-query: error: cannot access archive\n"
            )),
            None
        );
    }

    #[test]
    fn the_service_comes_from_the_issue_words_else_the_category() {
        let names = |issue: &str, c: Category| -> Vec<String> {
            from_issue(issue, c).iter().map(|p| p.to_string()).collect()
        };
        assert_eq!(
            names("nginx 502 since the deploy", Category::Service),
            ["nginx"]
        );
        assert_eq!(
            names("Apache and php-fpm time out", Category::Service),
            ["apache2/httpd", "php-fpm"]
        );
        // Whole words only: `apache2` names apache; `sshfs` is not ssh.
        assert_eq!(
            names("apache2 is down", Category::Service),
            ["apache2/httpd"]
        );
        assert!(names("sshfs mounts hang", Category::Disk).is_empty());
        // Nothing named: the category's own service, or nothing.
        assert_eq!(
            names("clock drift on the web tier", Category::Time),
            ["chrony"]
        );
        assert_eq!(names("logins fail", Category::Auth), ["openssh-server"]);
        assert!(names("uploads fail", Category::Disk).is_empty());
        // A named service wins over the category's.
        assert_eq!(
            names("redis clock skew", Category::Time),
            ["redis-server/redis"]
        );
        let p = service("postgres").unwrap();
        assert_eq!(p.name_for("debian"), "postgresql");
        assert_eq!(p.name_for("rhel"), "postgresql-server");
        assert_eq!(p.name_for("unknown"), "postgresql");
    }

    #[test]
    fn named_packages_follow_the_tools_argument_rules() {
        assert_eq!(Package::named("nginx").unwrap().to_string(), "nginx");
        assert!(Package::named("-nginx").is_err());
        assert!(Package::named("two words").is_err());
        assert!(Package::named("").is_err());
        let c = calls(&[Package::named("nginx").unwrap()], "rhel", 12);
        assert_eq!(c[0].id, "T12");
        assert_eq!(c[0].args, serde_json::json!({"name": "nginx"}));
    }
}
