//! Reading the fleet: per-host figures parsed from the outputs every host produced (disk and
//! inode use, load per core, memory available, failed units, clock offset, listening ports, the
//! version of the package in question), findings grouped across hosts, outliers against the
//! fleet median, and the hosts that could not be reached.
//!
//! The outlier rule is the robust one: a value is flagged when its distance from the fleet
//! median exceeds both `3 × 1.4826 × MAD` (about three standard deviations for normal data,
//! unmoved by the outliers themselves) and an absolute floor per figure, so a fleet of identical
//! hosts (MAD 0) flags nothing for noise. At least three hosts with the figure are needed.
//! Listening ports compare as sets: a port most hosts listen on that one lacks, or a port only
//! a minority opens. Package versions compare as values (see [`super::package`]): the hosts
//! off the version most hosts have are outliers.
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::package::{self, PackageVersions};
use super::run::HostResult;
use crate::tools::ToolOutcome;

/// Comparable figures of one host (`None`: the output did not show it).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Figures {
    /// Highest `Use%` of a filesystem (pseudo filesystems left out), with its mount point.
    pub disk_use_pct: Option<f64>,
    pub disk_use_mount: Option<String>,
    pub inode_use_pct: Option<f64>,
    /// 1-minute load average divided by the CPU count.
    pub load_per_core: Option<f64>,
    /// `available` / `total` of `free -m`, in percent.
    pub mem_available_pct: Option<f64>,
    pub failed_units: Option<f64>,
    /// Seconds (chrony's `System time`; `None` without chrony).
    pub clock_offset_s: Option<f64>,
    pub listening_ports: Option<BTreeSet<u16>>,
    /// Package → installed version, `not installed`, or `None` when the query gave no answer
    /// (`None` overall: no package was compared).
    pub package_versions: Option<BTreeMap<String, Option<String>>>,
}

const PSEUDO_FS: [&str; 5] = ["squashfs", "iso9660", "devtmpfs", "overlay", "udf"];

fn df_max(out: &str) -> Option<(f64, String)> {
    let mut best: Option<(f64, String)> = None;
    for l in out.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        // df -hPT / -iPT: FS TYPE SIZE USED AVAIL USE% MOUNT
        if w.len() < 7 || PSEUDO_FS.contains(&w[1]) {
            continue;
        }
        let Some(pct) = w[5].strip_suffix('%').and_then(|p| p.parse::<f64>().ok()) else {
            continue;
        };
        if best.as_ref().is_none_or(|b| pct > b.0) {
            best = Some((pct, w[6..].join(" ")));
        }
    }
    best
}

fn args_empty(o: &ToolOutcome) -> bool {
    o.call.args.as_object().is_none_or(|m| m.is_empty())
}

impl Figures {
    /// Parse the figures from one host's outcomes (tool names and their usual output).
    pub fn from_outcomes(outcomes: &[ToolOutcome]) -> Figures {
        let mut f = Figures::default();
        let mut load: Option<f64> = None;
        let mut cpus: Option<f64> = None;
        for o in outcomes {
            let out = o.output.as_str();
            match o.call.tool.as_str() {
                "disk_usage" if args_empty(o) => {
                    if let Some((p, m)) = df_max(out) {
                        f.disk_use_pct = Some(p);
                        f.disk_use_mount = Some(m);
                    }
                }
                "inode_usage" => f.inode_use_pct = df_max(out).map(|b| b.0).or(f.inode_use_pct),
                "memory_info" => {
                    for l in out.lines() {
                        let w: Vec<&str> = l.split_whitespace().collect();
                        if w.first() == Some(&"Mem:") && w.len() >= 7 {
                            if let (Ok(total), Ok(avail)) =
                                (w[1].parse::<f64>(), w[6].parse::<f64>())
                            {
                                if total > 0.0 {
                                    f.mem_available_pct =
                                        Some((avail / total * 1000.0).round() / 10.0);
                                }
                            }
                        }
                    }
                }
                "list_services" => {
                    let n = out
                        .lines()
                        .filter(|l| {
                            let w: Vec<&str> = l.split_whitespace().collect();
                            w.iter().any(|x| x.contains('.') && !x.starts_with('$'))
                                && w.contains(&"failed")
                                && !l.starts_with('$')
                        })
                        .count();
                    if !out.trim().is_empty() {
                        f.failed_units = Some(n as f64);
                    }
                }
                "list_sockets" => {
                    let mut ports = BTreeSet::new();
                    for l in out.lines() {
                        let w: Vec<&str> = l.split_whitespace().collect();
                        if w.len() >= 5 && w[1] == "LISTEN" {
                            if let Some(p) = w[4].rsplit(':').next().and_then(|p| p.parse().ok()) {
                                ports.insert(p);
                            }
                        }
                    }
                    if out.contains("Local Address") {
                        f.listening_ports = Some(ports);
                    }
                }
                "package_version" => {
                    if let Some(name) = package::name_of(o) {
                        f.package_versions
                            .get_or_insert_with(BTreeMap::new)
                            .insert(name.to_string(), package::version_of(o));
                    }
                }
                "time_sync" => {
                    for l in out.lines() {
                        if let Some(rest) = l.trim().strip_prefix("System time") {
                            let w: Vec<&str> = rest.split_whitespace().collect();
                            if let Some(v) = w.get(1).and_then(|v| v.parse::<f64>().ok()) {
                                let sign = if rest.contains("slow") { -1.0 } else { 1.0 };
                                f.clock_offset_s = Some(sign * v);
                            }
                        }
                    }
                }
                "run_command" | "cpu_load" => {
                    for l in out.lines() {
                        if let Some((_, avg)) = l.split_once("load average:") {
                            load = avg.split(',').next().and_then(|v| v.trim().parse().ok());
                        }
                    }
                    let cmd = o.call.args.get("command").and_then(|c| c.as_str());
                    if cmd == Some("nproc") || o.call.tool == "cpu_load" {
                        if let Some(n) = out
                            .lines()
                            .skip_while(|l| !l.starts_with("$ nproc"))
                            .nth(1)
                            .and_then(|l| l.trim().parse::<f64>().ok())
                        {
                            cpus = Some(n);
                        }
                    }
                }
                _ => {}
            }
        }
        if let (Some(l), Some(c)) = (load, cpus) {
            if c > 0.0 {
                f.load_per_core = Some((l / c * 100.0).round() / 100.0);
            }
        }
        f
    }
}

/// One numeric figure: its name, getter and absolute floor (the smallest distance from the
/// median worth flagging).
type Getter = fn(&Figures) -> Option<f64>;
const NUMERIC: [(&str, Getter, f64); 6] = [
    ("disk_use_pct", |f| f.disk_use_pct, 15.0),
    ("inode_use_pct", |f| f.inode_use_pct, 15.0),
    ("load_per_core", |f| f.load_per_core, 1.0),
    ("mem_available_pct", |f| f.mem_available_pct, 20.0),
    ("failed_units", |f| f.failed_units, 1.0),
    ("clock_offset_s", |f| f.clock_offset_s, 0.5),
];

/// Median of a non-empty slice.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Indexes of the outliers in `values` (see the module doc) and the (median, MAD).
pub fn outliers(values: &[f64], floor: f64) -> (Vec<usize>, f64, f64) {
    if values.len() < 3 {
        return (Vec::new(), 0.0, 0.0);
    }
    let m = median(values);
    let dev: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    let mad = median(&dev);
    let limit = (3.0 * 1.4826 * mad).max(floor);
    let idx = dev
        .iter()
        .enumerate()
        .filter(|(_, d)| **d >= limit && **d > 0.0)
        .map(|(i, _)| i)
        .collect();
    (idx, m, mad)
}

/// A finding seen on one or more hosts.
#[derive(Debug, Clone, Serialize)]
pub struct FindingGroup {
    pub kind: String,
    pub subject: String,
    pub severity: String,
    pub hosts: Vec<String>,
    /// The summary line from the first host.
    pub example: String,
    /// The calls behind it on the first host (`web07 T3 disk_usage`), for citations.
    pub calls: Vec<String>,
}

/// A host whose figure is far from the fleet median (for ports and package versions: off what
/// most hosts have, in `median`).
#[derive(Debug, Clone, Serialize)]
pub struct Outlier {
    pub figure: String,
    /// The package, for `package_version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    pub host: String,
    pub value: String,
    pub median: String,
    pub detail: String,
}

/// A host without a result.
#[derive(Debug, Clone, Serialize)]
pub struct UnreachableHost {
    pub host: String,
    pub reason: String,
    pub message: String,
}

/// The fleet read for the user.
#[derive(Debug, Clone, Serialize)]
pub struct FleetSummary {
    pub hosts: usize,
    pub reached: usize,
    /// Current findings, critical first, then by how many hosts share them.
    pub groups: Vec<FindingGroup>,
    pub outliers: Vec<Outlier>,
    /// The compared packages, hosts grouped by version (empty: no package compared).
    pub packages: Vec<PackageVersions>,
    pub unreachable: Vec<UnreachableHost>,
    /// Hosts with a current critical finding.
    pub critical_hosts: Vec<String>,
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

impl FleetSummary {
    pub fn build(results: &[HostResult]) -> FleetSummary {
        let reached: Vec<&HostResult> = results.iter().filter(|r| r.error.is_none()).collect();
        let mut groups: BTreeMap<(String, String), FindingGroup> = BTreeMap::new();
        for r in &reached {
            for f in r.findings.iter().filter(|f| f.current) {
                let g = groups
                    .entry((f.kind.clone(), f.subject.clone()))
                    .or_insert_with(|| FindingGroup {
                        kind: f.kind.clone(),
                        subject: f.subject.clone(),
                        severity: f.severity.clone(),
                        hosts: Vec::new(),
                        example: f.summary.clone(),
                        calls: {
                            let mut c: Vec<String> = f
                                .evidence
                                .iter()
                                .map(|e| format!("{} {} {}", r.host, e.call_id, e.tool))
                                .collect();
                            c.dedup();
                            c
                        },
                    });
                if !g.hosts.contains(&r.host) {
                    g.hosts.push(r.host.clone());
                }
            }
        }
        let rank = |s: &str| match s {
            "critical" => 0,
            "warning" => 1,
            _ => 2,
        };
        let mut groups: Vec<FindingGroup> = groups.into_values().collect();
        groups.sort_by(|a, b| {
            rank(&a.severity)
                .cmp(&rank(&b.severity))
                .then(b.hosts.len().cmp(&a.hosts.len()))
                .then(a.kind.cmp(&b.kind))
        });
        let mut outs = Vec::new();
        for (name, get, floor) in NUMERIC {
            let pairs: Vec<(&HostResult, f64)> = reached
                .iter()
                .filter_map(|r| get(&r.figures).map(|v| (*r, v)))
                .collect();
            let values: Vec<f64> = pairs.iter().map(|p| p.1).collect();
            let (idx, m, mad) = outliers(&values, floor);
            for i in idx {
                let (r, v) = pairs[i];
                let detail = match (name, &r.figures.disk_use_mount) {
                    ("disk_use_pct", Some(mount)) => format!("on {mount}"),
                    _ => String::new(),
                };
                outs.push(Outlier {
                    figure: name.into(),
                    package: None,
                    host: r.host.clone(),
                    value: fmt_num(v),
                    median: fmt_num(m),
                    detail: format!(
                        "{detail}{}MAD {}",
                        if detail.is_empty() { "" } else { ", " },
                        fmt_num(mad)
                    ),
                });
            }
        }
        outs.extend(port_outliers(&reached));
        let packages = package::group(reached.iter().filter_map(|r| {
            r.figures
                .package_versions
                .as_ref()
                .map(|p| (r.host.as_str(), p))
        }));
        outs.extend(package_outliers(&packages));
        let unreachable = results
            .iter()
            .filter_map(|r| {
                r.error.as_ref().map(|e| UnreachableHost {
                    host: r.host.clone(),
                    reason: e.reason.clone(),
                    message: e.message.clone(),
                })
            })
            .collect();
        FleetSummary {
            hosts: results.len(),
            reached: reached.len(),
            groups,
            outliers: outs,
            packages,
            unreachable,
            critical_hosts: reached
                .iter()
                .filter(|r| r.critical())
                .map(|r| r.host.clone())
                .collect(),
        }
    }

    /// The summary as text (what the terminal shows and what `--ask` sends the model).
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "Fleet: {} hosts, {} reached, {} unreachable, {} with a critical finding\n",
            self.hosts,
            self.reached,
            self.unreachable.len(),
            self.critical_hosts.len()
        );
        s.push_str("\nFindings across hosts:\n");
        if self.groups.is_empty() {
            s.push_str("  none\n");
        }
        for g in &self.groups {
            s.push_str(&format!(
                "  [{}] {} {} on {} of {}: {}\n      e.g. {} (calls: {})\n",
                g.severity,
                g.kind,
                g.subject,
                g.hosts.len(),
                self.reached,
                g.hosts.join(", "),
                g.example,
                g.calls.join(", ")
            ));
        }
        s.push_str("\nOutliers against the fleet median:\n");
        if self.outliers.is_empty() {
            s.push_str("  none\n");
        }
        for o in &self.outliers {
            match &o.package {
                Some(p) => s.push_str(&format!(
                    "  {} package {p} = {} ({})\n",
                    o.host, o.value, o.detail
                )),
                None => s.push_str(&format!(
                    "  {} {} = {} (median {}; {})\n",
                    o.host, o.figure, o.value, o.median, o.detail
                )),
            }
        }
        if !self.packages.is_empty() {
            s.push_str("\nPackage versions:\n");
            for p in &self.packages {
                s.push_str(&format!("  {}\n", p.line()));
            }
        }
        if !self.unreachable.is_empty() {
            s.push_str("\nNot reached:\n");
            for u in &self.unreachable {
                s.push_str(&format!("  {} ({}): {}\n", u.host, u.reason, u.message));
            }
        }
        s
    }
}

fn package_outliers(packages: &[PackageVersions]) -> Vec<Outlier> {
    let mut out = Vec::new();
    for p in packages {
        let Some(usual) = &p.usual else { continue };
        let on_usual = p.versions.first().map_or(0, |g| g.hosts.len());
        for (host, version) in p.off_usual() {
            out.push(Outlier {
                figure: "package_version".into(),
                package: Some(p.package.clone()),
                host: host.to_string(),
                value: version.to_string(),
                median: usual.clone(),
                detail: format!("{usual} on {on_usual} of {} hosts", p.hosts),
            });
        }
    }
    out
}

fn port_outliers(reached: &[&HostResult]) -> Vec<Outlier> {
    let sets: Vec<(&HostResult, &BTreeSet<u16>)> = reached
        .iter()
        .filter_map(|r| r.figures.listening_ports.as_ref().map(|p| (*r, p)))
        .collect();
    if sets.len() < 3 {
        return Vec::new();
    }
    let mut count: BTreeMap<u16, usize> = BTreeMap::new();
    for (_, s) in &sets {
        for p in *s {
            *count.entry(*p).or_default() += 1;
        }
    }
    let n = sets.len();
    let usual: BTreeSet<u16> = count
        .iter()
        .filter(|(_, c)| **c * 2 > n)
        .map(|(p, _)| *p)
        .collect();
    let mut out = Vec::new();
    for (r, s) in sets {
        let missing: Vec<String> = usual.difference(s).map(u16::to_string).collect();
        let extra: Vec<String> = s
            .iter()
            .filter(|p| count[p] * 4 <= n)
            .map(u16::to_string)
            .collect();
        if missing.is_empty() && extra.is_empty() {
            continue;
        }
        let mut detail = Vec::new();
        if !missing.is_empty() {
            detail.push(format!(
                "not listening on {} (most hosts do)",
                missing.join(",")
            ));
        }
        if !extra.is_empty() {
            detail.push(format!("listening on {} (few hosts do)", extra.join(",")));
        }
        out.push(Outlier {
            figure: "listening_ports".into(),
            package: None,
            host: r.host.clone(),
            value: s.iter().map(u16::to_string).collect::<Vec<_>>().join(","),
            median: usual
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(","),
            detail: detail.join("; "),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_hosts_flag_nothing_and_one_far_host_is_flagged() {
        assert!(outliers(&[40.0; 40], 15.0).0.is_empty());
        // Small noise below the floor: nothing.
        let noisy = [40.0, 42.0, 38.0, 41.0, 39.0, 45.0, 35.0];
        assert!(outliers(&noisy, 15.0).0.is_empty());
        let mut v = vec![40.0, 42.0, 38.0, 41.0, 39.0, 40.0];
        v.push(100.0);
        let (idx, m, mad) = outliers(&v, 15.0);
        assert_eq!(idx, vec![6]);
        assert_eq!(m, 40.0);
        assert_eq!(mad, 1.0);
        // A wide but honest spread: MAD rule, not the floor, decides.
        let spread = [10.0, 30.0, 50.0, 70.0, 90.0];
        assert!(outliers(&spread, 15.0).0.is_empty());
        // Too few hosts to compare.
        assert!(outliers(&[1.0, 99.0], 1.0).0.is_empty());
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), 2.5);
    }

    fn outcome(tool: &str, args: serde_json::Value, output: &str) -> ToolOutcome {
        ToolOutcome {
            call: crate::tools::ToolCall {
                id: "T1".into(),
                tool: tool.into(),
                args,
            },
            status: crate::tools::CallStatus::Ok,
            commands: Vec::new(),
            output: output.into(),
            duration_ms: 1,
        }
    }

    #[test]
    fn figures_from_real_output_shapes() {
        use serde_json::json;
        let outs = vec![
            outcome("disk_usage", json!({}), "$ df -hPT  (exit 0, 25 ms)\nFilesystem Type Size Used Avail Use% Mounted on\n/dev/vda ext4 252G 21G 71G 23% /\ntmpfs tmpfs 4.0M 4.0M 0 100% /srv/uploads\n/dev/loop0 squashfs 50M 50M 0 100% /snap/x\n"),
            outcome("inode_usage", json!({}), "Filesystem Type Inodes IUsed IFree IUse% Mounted on\n/dev/vda ext4 16777216 446787 16330429 3% /\n"),
            outcome("run_command", json!({"command": "uptime"}), "$ uptime  (exit 0, 9 ms)\n 08:26:36 up  1:31,  0 user,  load average: 1.99, 2.44, 3.70\n"),
            outcome("run_command", json!({"command": "nproc"}), "$ nproc  (exit 0, 6 ms)\n2\n"),
            outcome("memory_info", json!({}), "$ free -m  (exit 0, 7 ms)\n               total        used        free      shared  buff/cache   available\nMem:           24105         770       14846           8        8849       23334\n"),
            outcome("list_services", json!({"state": "failed"}), "$ systemctl list-units --failed\n  UNIT LOAD ACTIVE SUB DESCRIPTION\n● queue-worker.service loaded failed failed Order queue worker\n1 loaded units listed.\n"),
            outcome("list_sockets", json!({"listening": true}), "$ ss -tunlp  (exit 0, 16 ms)\nNetid State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess\ntcp   LISTEN 0      128          0.0.0.0:2024      0.0.0.0:*\ntcp   LISTEN 0      128          [::]:22      [::]:*\n"),
            outcome("time_sync", json!({}), "$ chronyc tracking\nSystem time     : 0.000012 seconds slow of NTP time\n"),
        ];
        let f = Figures::from_outcomes(&outs);
        assert_eq!(f.disk_use_pct, Some(100.0));
        assert_eq!(f.disk_use_mount.as_deref(), Some("/srv/uploads"));
        assert_eq!(f.inode_use_pct, Some(3.0));
        assert_eq!(f.load_per_core, Some(1.0));
        assert_eq!(f.mem_available_pct, Some(96.8));
        assert_eq!(f.failed_units, Some(1.0));
        assert_eq!(f.clock_offset_s, Some(-0.000012));
        assert_eq!(f.listening_ports, Some(BTreeSet::from([22, 2024])));
    }

    fn reached(host: &str, outcomes: &[ToolOutcome]) -> HostResult {
        HostResult {
            host: host.into(),
            hostname: host.into(),
            findings: Vec::new(),
            figures: Figures::from_outcomes(outcomes),
            calls: outcomes.len(),
            duration_ms: 1,
            error: None,
            outcomes: Vec::new(),
        }
    }

    #[test]
    fn figures_keep_each_package_with_its_version_or_no_answer() {
        use super::package::tests::{pkg, DPKG};
        // Figures keep the package with its value, or `None` for no answer.
        let f = Figures::from_outcomes(&[
            pkg("nginx", DPKG, 0, "nginx 1.22.1-9 ii \n", ""),
            pkg("redis-server", "rpm -q", 127, "", ""),
        ]);
        assert_eq!(
            f.package_versions,
            Some(BTreeMap::from([
                ("nginx".to_string(), Some("1.22.1-9".to_string())),
                ("redis-server".to_string(), None),
            ]))
        );
        assert_eq!(Figures::from_outcomes(&[]).package_versions, None);
    }

    #[test]
    fn minority_package_versions_are_outliers() {
        use super::package::tests::{pkg, DPKG};
        let new = pkg("nginx", DPKG, 0, "nginx 1.22.1-9 ii \n", "");
        let old = pkg("nginx", DPKG, 0, "nginx 1.18.0-6 ii \n", "");
        let absent = pkg(
            "nginx",
            DPKG,
            1,
            "",
            "dpkg-query: no packages found matching nginx\n",
        );
        let mut hosts: Vec<HostResult> = (1..=9)
            .map(|i| reached(&format!("web{i:02}"), std::slice::from_ref(&new)))
            .collect();
        hosts[6] = reached("web07", std::slice::from_ref(&old));
        hosts.push(reached("web10", &[absent]));
        hosts.push(reached("web11", &[pkg("nginx", "rpm -q", 127, "", "")]));
        let s = FleetSummary::build(&hosts);
        let flagged: Vec<(&str, &str)> = s
            .outliers
            .iter()
            .filter(|o| o.figure == "package_version")
            .map(|o| (o.host.as_str(), o.value.as_str()))
            .collect();
        assert_eq!(flagged, [("web07", "1.18.0-6"), ("web10", "not installed")]);
        let o = &s.outliers[0];
        assert_eq!(o.package.as_deref(), Some("nginx"));
        assert_eq!(o.median, "1.22.1-9");
        assert_eq!(s.packages.len(), 1);
        let p = &s.packages[0];
        assert_eq!((p.hosts, p.usual.as_deref()), (10, Some("1.22.1-9")));
        assert_eq!(p.unread, ["web11"]);
        assert_eq!(
            p.line(),
            "nginx 1.22.1-9 on 8 of 10; 1.18.0-6 on web07; not installed on web10; not read on web11"
        );
        let text = s.to_text();
        assert!(
            text.contains("  web07 package nginx = 1.18.0-6 (1.22.1-9 on 8 of 10 hosts)\n"),
            "{text}"
        );
        assert!(
            text.contains("\nPackage versions:\n  nginx 1.22.1-9 on 8 of 10;"),
            "{text}"
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["packages"][0]["usual"], "1.22.1-9");
        assert_eq!(json["outliers"][0]["package"], "nginx");

        // All agree: no outlier, one line; a split in halves: listed, nobody flagged.
        let same = FleetSummary::build(&hosts[..6]);
        assert!(same.outliers.is_empty());
        assert_eq!(same.packages[0].line(), "nginx 1.22.1-9 on all 6 hosts");
        let split = FleetSummary::build(&[
            reached("a", std::slice::from_ref(&new)),
            reached("b", std::slice::from_ref(&new)),
            reached("c", std::slice::from_ref(&old)),
            reached("d", std::slice::from_ref(&old)),
        ]);
        assert!(split.outliers.is_empty());
        assert_eq!(split.packages[0].usual, None);
        assert_eq!(
            split.packages[0].line(),
            "nginx differs, no version on most hosts: 1.18.0-6 on c, d; 1.22.1-9 on a, b"
        );
        // No package compared: no figure, no section, no JSON noise beyond an empty list.
        let none = FleetSummary::build(&[reached("a", &[]), reached("b", &[])]);
        assert!(none.packages.is_empty());
        assert!(!none.to_text().contains("Package"));
    }
}
