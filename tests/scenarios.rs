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

    let after = sc.checksum_inside();
    assert_eq!(
        before, after,
        "scenario {name}: the scenario host changed during the run"
    );
    sc.finish();
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
