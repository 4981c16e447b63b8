//! The tool registry: the names promised, schemas strict servers accept (snapshotted in
//! `tests/snapshots/tools/`; regenerate with `UPDATE_SNAPSHOTS=1`), argv rendering per distro
//! family, and every argv any tool can render approved by the policy.

use crate::support::tool_samples::{sample_args, CONTRACT};
use serde_json::{json, Value};
use tai::policy::{Decision, Policy};
use tai::tools::{variants, HostFacts, Registry};

fn facts(family: &str) -> HostFacts {
    HostFacts {
        family: family.to_string(),
        ..HostFacts::default()
    }
}

fn all_families() -> Vec<String> {
    let mut f = variants::families();
    f.push("unknown".into());
    f
}

#[test]
fn every_promised_tool_is_registered() {
    let r = Registry::builtin();
    let names = r.names();
    for n in CONTRACT {
        assert!(names.contains(n), "missing tool {n}");
    }
    assert_eq!(r.specs().len(), names.len());
    for s in r.specs() {
        assert!(
            !s.description.is_empty() && !s.description.contains('\n'),
            "{}",
            s.name
        );
    }
}

fn check_strict(path: &str, v: &Value) {
    match v {
        Value::Object(m) => {
            for banned in ["$schema", "title", "$ref", "$defs", "definitions"] {
                assert!(!m.contains_key(banned), "{path}: has {banned}");
            }
            if let Some(f) = m.get("format") {
                panic!("{path}: non-standard format {f}");
            }
            if m.get("type") == Some(&json!("object")) {
                assert_eq!(m.get("additionalProperties"), Some(&json!(false)), "{path}");
            }
            if let Some(Value::Array(t)) = m.get("type") {
                assert!(!t.contains(&json!("null")), "{path}: null type");
            }
            for (k, c) in m {
                check_strict(&format!("{path}.{k}"), c);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| check_strict(path, c)),
        _ => {}
    }
}

#[test]
fn schemas_are_strict_and_match_their_snapshots() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/tools");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    for spec in Registry::builtin().specs() {
        check_strict(&spec.name, &spec.parameters);
        assert_eq!(spec.parameters["type"], "object", "{}", spec.name);
        let text = serde_json::to_string_pretty(&json!({
            "name": spec.name,
            "description": spec.description,
            "parameters": spec.parameters,
        }))
        .unwrap()
            + "\n";
        let file = dir.join(format!("{}.json", spec.name));
        if update {
            std::fs::write(&file, &text).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&file).unwrap_or_else(|_| {
            panic!(
                "no snapshot {}; run with UPDATE_SNAPSHOTS=1",
                file.display()
            )
        });
        assert_eq!(
            text, want,
            "schema of {} changed (UPDATE_SNAPSHOTS=1 to accept)",
            spec.name
        );
    }
}

#[test]
fn every_rendered_argv_is_approved_for_every_family() {
    let policy = Policy::load(false).unwrap();
    let r = Registry::builtin();
    for family in all_families() {
        for name in r.names() {
            let tool = r.get(name).unwrap();
            let steps = tool
                .render(&sample_args(name), &facts(&family))
                .unwrap_or_else(|e| panic!("{name} on {family}: {e}"));
            for step in &steps {
                for argv in step.all_argv() {
                    if let Decision::Deny { rule, reason } = policy.check(argv) {
                        panic!("{name} on {family}: {argv:?} denied by {rule}: {reason}");
                    }
                }
            }
        }
    }
}

/// Extra argument combinations, rendered on every family, must also stay inside the policy.
#[test]
fn argument_variants_stay_inside_the_policy() {
    let policy = Policy::load(false).unwrap();
    let r = Registry::builtin();
    let cases = [
        (
            "read_journal",
            json!({"unit": "nginx.service", "since": "1 hour ago", "until": "now", "grep": "upstream timed out", "lines": 5000, "kernel": false}),
        ),
        ("read_journal", json!({"kernel": true, "priority": "err"})),
        ("read_journal", json!({"grep": "-rf", "since": "-1h"})),
        (
            "read_file",
            json!({"path": "/var/log/syslog", "grep": "error|fail", "lines": 50}),
        ),
        (
            "read_file",
            json!({"path": "/var/log/syslog", "from_end": false}),
        ),
        ("read_file", json!({"path": "/tmp/-rf"})),
        ("list_dir", json!({"path": "/var/log", "depth": 3})),
        ("disk_usage", json!({})),
        ("disk_usage", json!({"path": "/var", "depth": 9})),
        ("list_sockets", json!({"listening": false, "process": true})),
        ("list_services", json!({"state": "failed"})),
        ("list_services", json!({"state": "all"})),
        ("list_processes", json!({"sort": "time", "limit": 1000})),
        ("kernel_log", json!({})),
        ("package_version", json!({"name": "openssl"})),
        (
            "run_command",
            json!({"command": "journalctl -u nginx -n 50"}),
        ),
    ];
    for family in all_families() {
        for (name, args) in &cases {
            let steps = r.get(name).unwrap().render(args, &facts(&family)).unwrap();
            for argv in steps.iter().flat_map(|s| s.all_argv()) {
                assert!(
                    matches!(policy.check(argv), Decision::Allow { .. }),
                    "{name} {args} on {family}: {argv:?} -> {:?}",
                    policy.check(argv)
                );
            }
        }
    }
}

fn argvs(name: &str, args: Value, family: &str) -> Vec<Vec<String>> {
    Registry::builtin()
        .get(name)
        .unwrap()
        .render(&args, &facts(family))
        .unwrap()
        .iter()
        .flat_map(|s| s.all_argv().cloned().collect::<Vec<_>>())
        .collect()
}

#[test]
fn argv_differs_per_distro_family() {
    // No journalctl: Debian reads /var/log/syslog, RHEL and SUSE /var/log/messages.
    let deb = argvs("read_journal", json!({}), "debian");
    assert_eq!(deb[0][0], "journalctl");
    assert_eq!(deb[1], ["tail", "-n", "100", "--", "/var/log/syslog"]);
    for fam in ["rhel", "suse"] {
        let v = argvs("read_journal", json!({}), fam);
        assert_eq!(v[1].last().unwrap(), "/var/log/messages", "{fam}");
    }
    // Packages: dpkg-query on Debian, rpm on RHEL/SUSE; unknown tries both.
    assert_eq!(
        argvs("package_version", json!({"name": "nginx"}), "debian")[0][0],
        "dpkg-query"
    );
    assert_eq!(
        argvs("package_version", json!({"name": "nginx"}), "rhel")[0],
        ["rpm", "-q", "nginx"]
    );
    assert_eq!(
        argvs("package_version", json!({"name": "nginx"}), "suse")[0],
        ["rpm", "-q", "nginx"]
    );
    let unknown = argvs("package_version", json!({"name": "nginx"}), "unknown");
    assert_eq!(
        (unknown[0][0].as_str(), unknown[1][0].as_str()),
        ("dpkg-query", "rpm")
    );
    // Sockets: ss, falling back to netstat; Alpine (busybox) prefers netstat.
    let deb = argvs("list_sockets", json!({}), "debian");
    assert_eq!(deb, [vec!["ss", "-tunlp"], vec!["netstat", "-tunlp"]]);
    assert_eq!(argvs("list_sockets", json!({}), "alpine")[0][0], "netstat");
    // A unit filter without journalctl greps the syslog file of the family.
    let rhel = argvs("read_journal", json!({"unit": "sshd.service"}), "rhel");
    assert_eq!(
        rhel[1],
        ["grep", "-i", "--regexp=sshd", "--", "/var/log/messages"]
    );
}

#[test]
fn bad_arguments_are_refused_with_a_message() {
    let r = Registry::builtin();
    let f = facts("debian");
    let cases = [
        ("read_file", json!({"path": "etc/passwd"}), "absolute"),
        (
            "read_file",
            json!({"path": "/etc/hosts", "bogus": 1}),
            "unknown field",
        ),
        (
            "service_status",
            json!({"unit": "--now"}),
            "may not start with `-`",
        ),
        ("service_status", json!({}), "missing field"),
        ("resolve_host", json!({"name": "a b"}), "spaces"),
        ("process_info", json!({"pid": -1}), "invalid"),
        (
            "list_services",
            json!({"state": "zombie"}),
            "unknown variant",
        ),
        (
            "run_command",
            json!({"command": "ls; sh"}),
            "shell operator",
        ),
        (
            "run_command",
            json!({"command": "ls | sh"}),
            "not a supported stage",
        ),
        (
            "service_config",
            json!({"service": "nginx", "path": "nginx.conf"}),
            "absolute",
        ),
        (
            "service_config",
            json!({"service": "mysql"}),
            "unknown variant",
        ),
        ("cert_info", json!({"path": "cert.pem"}), "absolute"),
    ];
    for (name, args, want) in cases {
        let err = r.get(name).unwrap().render(&args, &f).unwrap_err();
        assert!(err.to_string().contains(want), "{name} {args}: {err}");
    }
}
