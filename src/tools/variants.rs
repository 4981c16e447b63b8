//! Per-distro command variants as data (`tools/variants.toml`, compiled in): which family a
//! host belongs to, and for each family the log file paths, package query commands and
//! program preferences that differ between Debian/Ubuntu, RHEL/Fedora, SUSE and others.
use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// The compiled-in variants file.
pub const VARIANTS_TOML: &str = include_str!("../../tools/variants.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct VariantsFile {
    families: BTreeMap<String, Vec<String>>,
    family: BTreeMap<String, FamilyTable>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FamilyTable {
    syslog: Option<String>,
    kernel_log: Option<String>,
    auth_log: Option<String>,
    package_query: Option<Vec<Vec<String>>>,
    sockets: Option<Vec<String>>,
    time_sync: Option<Vec<Vec<String>>>,
}

/// The resolved variants for one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variants {
    pub family: String,
    pub syslog: String,
    pub kernel_log: String,
    pub auth_log: String,
    pub package_query: Vec<Vec<String>>,
    pub sockets: Vec<String>,
    pub time_sync: Vec<Vec<String>>,
}

fn file() -> &'static VariantsFile {
    static FILE: OnceLock<VariantsFile> = OnceLock::new();
    FILE.get_or_init(|| {
        // The file is compiled in and checked by the unit test below; a parse failure here
        // is a build defect, not a runtime condition.
        toml::from_str(VARIANTS_TOML).unwrap_or_else(|e| panic!("tools/variants.toml: {e}"))
    })
}

/// Map `/etc/os-release` `ID` and `ID_LIKE` to a family name (`debian`, `rhel`, `suse`,
/// `arch`, `alpine`, or `unknown`).
pub fn family_for(id: &str, like: &[String]) -> String {
    let f = file();
    let lookup = |word: &str| {
        f.families
            .iter()
            .find(|(_, ids)| ids.iter().any(|i| i.eq_ignore_ascii_case(word)))
            .map(|(name, _)| name.clone())
    };
    std::iter::once(id)
        .chain(like.iter().map(String::as_str))
        .find_map(lookup)
        .unwrap_or_else(|| "unknown".to_string())
}

/// The variants for a family (unknown families get the defaults).
pub fn for_family(family: &str) -> Variants {
    let f = file();
    let d = f.family.get("default").cloned().unwrap_or_default();
    let t = f.family.get(family).cloned().unwrap_or_default();
    Variants {
        family: family.to_string(),
        syslog: t
            .syslog
            .or(d.syslog)
            .unwrap_or_else(|| "/var/log/syslog".into()),
        kernel_log: t
            .kernel_log
            .or(d.kernel_log)
            .unwrap_or_else(|| "/var/log/kern.log".into()),
        auth_log: t
            .auth_log
            .or(d.auth_log)
            .unwrap_or_else(|| "/var/log/auth.log".into()),
        package_query: t.package_query.or(d.package_query).unwrap_or_default(),
        sockets: t.sockets.or(d.sockets).unwrap_or_default(),
        time_sync: t.time_sync.or(d.time_sync).unwrap_or_default(),
    }
}

/// Every family named in the file (for tests and docs).
pub fn families() -> Vec<String> {
    file().families.keys().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_resolve_from_os_release() {
        assert_eq!(family_for("ubuntu", &["debian".into()]), "debian");
        assert_eq!(
            family_for("rocky", &["rhel".into(), "centos".into(), "fedora".into()]),
            "rhel"
        );
        assert_eq!(family_for("opensuse-leap", &["suse".into()]), "suse");
        assert_eq!(family_for("weird", &["fedora".into()]), "rhel");
        assert_eq!(family_for("plan9", &[]), "unknown");
    }

    #[test]
    fn variants_differ_per_family() {
        let deb = for_family("debian");
        let rhel = for_family("rhel");
        assert_eq!(deb.syslog, "/var/log/syslog");
        assert_eq!(rhel.syslog, "/var/log/messages");
        assert_eq!(deb.package_query[0][0], "dpkg-query");
        assert_eq!(rhel.package_query[0][0], "rpm");
        assert_eq!(for_family("suse").auth_log, "/var/log/messages");
        assert_eq!(for_family("unknown").sockets, ["ss", "netstat"]);
        assert_eq!(families().len(), 5);
    }
}
