//! Scenario hosts end to end: each scenario in `fixtures/scenarios/` comes up as a real sshd in
//! a private mount namespace; its probes (OpenSSH client) prove the host state is real;
//! `tai run HOST ISSUE --no-llm --json` names the expected category and quotes the evidence;
//! and neither the scenario host nor the real machine is changed.
//!
//! Runs as root (CI does). The scenarios run in parallel threads of one test.
use crate::support;

use crate::support::scenario::{all_names, Scenario};

fn run_scenario(name: &str) {
    let t0 = std::time::Instant::now();
    let sc = Scenario::start(name);
    eprintln!("{name}: host up in {:?}", t0.elapsed());
    sc.check_probes();
    let before = sc.checksum_inside();

    // Triage over an OpenSSH-collected snapshot: the detectors see the real host output
    // (unless the fault is only visible to tai's own plan and sweep: `snapshot = false`).
    if sc.spec.snapshot {
        let snap = sc.snapshot();
        let findings = tai::triage::analyze(&snap);
        let report = tai::triage::report(&sc.target(), &sc.spec.issue, "general", &snap, &findings);
        check_report(&sc, &report, "snapshot triage");
    }

    // The real binary, no model: connect, classify, baseline plan + sweep, triage, report.
    let t1 = std::time::Instant::now();
    let (report, _) = tai_run(&sc, &["--no-llm"]);
    eprintln!("{name}: tai run --no-llm took {:?}", t1.elapsed());
    check_report(&sc, &report, "tai run --no-llm");
    eprintln!("{name}: first action: {:?}", report.actions.first());
    assert_eq!(report.mode, "triage");
    assert!(!report.tool_calls.is_empty());
    if name == "port-conflict" {
        // No model listening: tai says so on stderr and falls back to the same triage.
        let md = sc.known_hosts().with_file_name("report.md");
        let md_arg = md.to_string_lossy().into_owned();
        let (fallback, stderr) = tai_run(
            &sc,
            &[
                "--base-url",
                "http://127.0.0.1:9/v1",
                "--output-file",
                &md_arg,
            ],
        );
        let written = std::fs::read_to_string(&md).expect("--output-file was written");
        assert!(
            written.contains("## Root Cause") && written.contains("Address already in use"),
            "{written}"
        );
        assert!(stderr.contains("the model cannot be reached"), "{stderr}");
        check_report(&sc, &fallback, "tai run (model unreachable)");
        assert!(
            fallback
                .warnings
                .iter()
                .any(|w| w.contains("no model was used")),
            "{:?}",
            fallback.warnings
        );
    }

    let after = sc.checksum_inside();
    assert_eq!(
        before, after,
        "scenario {name}: the scenario host changed during the run"
    );
    sc.finish();
    eprintln!("{name}: scenario took {:?}", t0.elapsed());
}

/// `tai run TARGET ISSUE --json -i KEY --known-hosts FILE EXTRA...` against the scenario host;
/// returns the parsed report and stderr.
fn tai_run(sc: &Scenario, extra: &[&str]) -> (tai::report::Report, String) {
    let home = tempfile::tempdir().unwrap();
    let out = support::tai_cmd(home.path())
        .args(["run", &sc.target(), &sc.spec.issue, "--json", "-i"])
        .arg(sc.key())
        .arg("--known-hosts")
        .arg(sc.known_hosts())
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("{}: tai stderr:\n{stderr}", sc.name);
    assert!(
        out.status.success(),
        "scenario {}: tai run failed ({}):\n{stderr}\nrunner log:\n{}",
        sc.name,
        out.status,
        sc.runner_log()
    );
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "scenario {}: tai run --json printed no report ({e}):\n{}\n{stderr}",
            sc.name,
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (report, stderr)
}

/// The report names one of the scenario's categories and quotes every evidence substring; its
/// first finding is `root_kind` (and the root cause states it), the `consequences` are linked
/// to it, no `absent_kinds` is reported at warning or above, and a `healthy` host gets no
/// critical finding and a "No fault found" report that says what was checked.
fn check_report(sc: &Scenario, report: &tai::report::Report, what: &str) {
    eprintln!(
        "scenario {} ({what}): [{}] {}",
        sc.name, report.category, report.root_cause
    );
    let dump = || serde_json::to_string_pretty(report).unwrap();
    let kinds: Vec<String> = report
        .findings
        .iter()
        .map(|f| format!("{}/{}:{}", f.kind, f.subject, f.severity))
        .collect();
    eprintln!("scenario {} ({what}): findings {kinds:?}", sc.name);
    if let Some(root) = &sc.spec.root_kind {
        let first = report.findings.first().unwrap_or_else(|| {
            panic!(
                "scenario {}: {what} has no findings, expected root {root}\n{}",
                sc.name,
                dump()
            )
        });
        assert_eq!(
            &first.kind, root,
            "scenario {}: {what} root finding is {} ({}), expected {root}; findings {kinds:?}",
            sc.name, first.kind, first.summary
        );
        assert!(
            report
                .root_cause
                .starts_with(first.summary.trim_end_matches('.')),
            "scenario {}: {what} root cause does not state the {root} finding ({}):\n{}",
            sc.name,
            first.summary,
            report.root_cause
        );
        for c in &sc.spec.consequences {
            assert!(
                report
                    .findings
                    .iter()
                    .any(|f| &f.kind == c && f.caused_by.as_ref().is_some_and(|l| &l.kind == root)),
                "scenario {}: {what}: no {c} finding linked to {root} (caused_by)\n{}",
                sc.name,
                dump()
            );
        }
    }
    for k in &sc.spec.absent_kinds {
        assert!(
            !report
                .findings
                .iter()
                .any(|f| &f.kind == k && f.severity != "info"),
            "scenario {}: {what} reports the red herring {k} at warning or above\n{}",
            sc.name,
            dump()
        );
    }
    if sc.spec.healthy {
        assert!(
            report.findings.iter().all(|f| f.severity != "critical"),
            "scenario {}: {what}: a healthy host got a critical finding\n{}",
            sc.name,
            dump()
        );
        assert!(
            report.root_cause.starts_with("No fault found") && report.root_cause.contains("Checked"),
            "scenario {}: {what}: a healthy host's report must say no fault was found and what was checked: {}",
            sc.name,
            report.root_cause
        );
    } else {
        assert!(
            !report.root_cause.starts_with("No fault found"),
            "scenario {}: {what} found no fault: {}",
            sc.name,
            report.root_cause
        );
    }
    assert!(
        sc.spec.categories.is_empty() || sc.spec.categories.contains(&report.category),
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

/// Scenarios run at once, at most this many.
const PARALLEL: usize = 4;

/// Every scenario folder, [`PARALLEL`] at a time (they mostly wait on SSH and on commands).
/// `TAI_SCENARIO=name` runs just one.
#[test]
fn scenarios_end_to_end() {
    let names = all_names();
    assert!(
        names.len() >= 14,
        "at least 14 scenarios (the 13 broken hosts and healthy-noisy), found {}",
        names.len()
    );
    let only = std::env::var("TAI_SCENARIO").ok();
    let selected: Vec<String> = names
        .into_iter()
        .filter(|n| only.as_deref().is_none_or(|o| o == n))
        .collect();
    assert!(!selected.is_empty(), "no scenario named {only:?}");
    // Every scenario checks that the real host's files did not change while it ran.
    let _host = crate::support::host_state_lock_blocking();
    let started = std::time::Instant::now();
    // A few at a time: bringing a host up (keys, journal, setup.sh) is CPU work; running one
    // is mostly waiting.
    // Scenario hosts share the machine's process table (a mount namespace each, no PID
    // namespace): one host's processes (zombie-parent's zombies) show in another's `ps`. A
    // healthy host must see nothing wrong, so healthy hosts run alone, after the others.
    let (healthy, broken): (Vec<String>, Vec<String>) = selected
        .into_iter()
        .partition(|n| crate::support::scenario::spec(n).healthy);
    let queue = std::sync::Mutex::new(broken);
    let failed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..PARALLEL {
            s.spawn(|| loop {
                let Some(name) = queue.lock().unwrap().pop() else {
                    break;
                };
                let n = name.clone();
                let ok = std::thread::spawn(move || run_scenario(&n)).join().is_ok();
                if !ok {
                    failed.lock().unwrap().push(name);
                }
            });
        }
    });
    for name in healthy {
        let n = name.clone();
        if std::thread::spawn(move || run_scenario(&n)).join().is_err() {
            failed.lock().unwrap().push(name);
        }
    }
    let failed = failed.into_inner().unwrap();
    eprintln!("scenarios finished in {:?}", started.elapsed());
    assert!(
        failed.is_empty(),
        "scenarios failed (their panics are above): {failed:?}"
    );
}
