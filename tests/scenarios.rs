//! Scenario hosts end to end: each scenario in `fixtures/scenarios/` comes up as a real sshd in
//! a private mount namespace; its probes (OpenSSH client) prove the host state is real;
//! `tai run HOST ISSUE --no-llm --json` names the expected category and quotes the evidence;
//! and neither the scenario host nor the real machine is changed.
//!
//! Runs as root (CI does). Each scenario is its own test, so they run in parallel.
mod support;

use support::scenario::{all_names, Scenario};

fn run_scenario(name: &str) {
    let sc = Scenario::start(name);
    sc.check_probes();
    let before = sc.checksum_inside();

    // Triage over an OpenSSH-collected snapshot: the detectors see the real host output.
    let snap = sc.snapshot();
    let findings = tai::triage::analyze(&snap);
    let report = tai::triage::report(&sc.target(), &sc.spec.issue, "general", &snap, &findings);
    check_report(&sc, &report, "snapshot triage");

    let after = sc.checksum_inside();
    assert_eq!(
        before, after,
        "scenario {name}: the scenario host changed during the run"
    );
    sc.finish();
}

/// The report names one of the scenario's categories and quotes every evidence substring.
fn check_report(sc: &Scenario, report: &tai::report::Report, what: &str) {
    eprintln!(
        "scenario {} ({what}): [{}] {}",
        sc.name, report.category, report.root_cause
    );
    let dump = || serde_json::to_string_pretty(report).unwrap();
    assert!(
        sc.spec.categories.contains(&report.category),
        "scenario {}: {what} named category {:?}, expected one of {:?}\n{}",
        sc.name,
        report.category,
        sc.spec.categories,
        dump()
    );
    for want in &sc.spec.evidence {
        assert!(
            report
                .evidence
                .iter()
                .any(|e| e.text.contains(want.as_str())),
            "scenario {}: {what} evidence does not quote {want:?}\n{}",
            sc.name,
            dump()
        );
    }
    assert!(
        report.evidence.iter().all(|e| !e.sources.is_empty()),
        "every evidence item cites a call: {}",
        dump()
    );
}

macro_rules! scenarios {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                run_scenario($name);
            }
        )*

        #[test]
        fn every_scenario_folder_has_a_test() {
            let tested: Vec<&str> = vec![$($name),*];
            let found = all_names();
            for f in &found {
                assert!(tested.contains(&f.as_str()), "fixtures/scenarios/{f} has no test in tests/scenarios.rs");
            }
            assert!(found.len() >= 10, "at least 10 scenarios, found {}", found.len());
        }
    };
}

scenarios! {
    clock_unsynced => "clock-unsynced",
    crash_loop => "crash-loop",
    disk_full => "disk-full",
    dns_broken => "dns-broken",
    expired_cert => "expired-cert",
    inode_exhaustion => "inode-exhaustion",
    io_errors => "io-errors",
    oom_kill => "oom-kill",
    port_conflict => "port-conflict",
    readonly_fs => "readonly-fs",
    segfault => "segfault",
    ssh_authorized_keys_modes => "ssh-authorized-keys-modes",
    upstream_502 => "upstream-502",
}
