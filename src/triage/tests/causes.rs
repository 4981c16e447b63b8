//! Tests for causality as data: `causes.toml` loads, names only kinds the detectors emit, every
//! edge's example pair links, and the report's root cause is the upstream finding.
use super::*;

/// Every `"kind"` literal in the detector sources.
fn detector_kinds() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/triage/detectors");
    let mut all = String::new();
    for e in std::fs::read_dir(&dir).expect("detectors dir") {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "rs") {
            all.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
    all
}

#[test]
fn causes_load_and_name_real_kinds() {
    let edges = crate::triage::causes::checked().unwrap_or_else(|e| panic!("{e}"));
    assert!(edges.len() >= 8);
    let src = detector_kinds();
    for e in edges {
        for k in e.cause.iter().chain(&e.effect) {
            assert!(
                src.contains(&format!("\"{k}\"")),
                "causes.toml names kind {k:?}, which no detector in src/triage/detectors emits"
            );
        }
    }
}

/// An example text as a tool outcome: `$ COMMAND` and its output, or journal lines.
fn example(id: &str, text: &str) -> ToolOutcome {
    match text.strip_prefix("$ ") {
        Some(rest) => {
            let (cmd, out) = rest.split_once('\n').unwrap_or((rest, ""));
            outcome(id, "run_command", cmd, out)
        }
        None => outcome(id, "read_journal", "journalctl --no-pager", text),
    }
}

#[test]
fn every_edge_example_links() {
    for (i, e) in crate::triage::causes::checked().unwrap().iter().enumerate() {
        let f = analyze_at(
            &[example("T1", &e.example[0]), example("T2", &e.example[1])],
            now(),
        );
        let linked = f.iter().any(|x| {
            e.effect.contains(&x.kind)
                && x.caused_by
                    .as_ref()
                    .is_some_and(|c| e.cause.contains(&c.kind))
        });
        assert!(
            linked,
            "causes.toml edge {} ({:?} -> {:?}): its example does not link: {f:#?}",
            i + 1,
            e.cause,
            e.effect
        );
        let cause = f.iter().find(|x| e.cause.contains(&x.kind)).unwrap();
        assert!(cause
            .consequences
            .iter()
            .any(|c| e.effect.contains(&c.kind)));
        assert!(e.effect.contains(&f[1].kind) || f[1].caused_by.is_some());
    }
}

#[test]
fn broken_causes_are_refused_with_the_edge_named() {
    let ok =
        "cause = \"oom_kill\"\neffect = \"unit_failed\"\nwhy = \"x\"\nexample = [\"a\", \"b\"]\n";
    assert_eq!(
        crate::triage::causes::load(&format!("[[edge]]\n{ok}"))
            .unwrap()
            .len(),
        1
    );
    let bad = [
        ("cause = \"oom_kill\"\neffect = \"unit_failed\"\nwhy = \" \"\nexample = [\"a\", \"b\"]\n", "why is empty"),
        ("cause = \"oom_kill\"\neffect = \"oom_kill\"\nwhy = \"x\"\nexample = [\"a\", \"b\"]\n", "its own cause"),
        ("cause = \"oom_kill\"\neffect = \"unit_failed\"\nwhy = \"x\"\nsame = \"pid\"\nexample = [\"a\", \"b\"]\n", "same = \"pid\""),
        ("cause = \"OOM\"\neffect = \"unit_failed\"\nwhy = \"x\"\nexample = [\"a\", \"b\"]\n", "not a kind name"),
        ("cause = \"oom_kill\"\neffect = \"unit_failed\"\nwhy = \"x\"\nexample = [\"a\", \"\"]\n", "example"),
    ];
    for (body, want) in bad {
        let e =
            crate::triage::causes::load(&format!("[[edge]]\n{ok}\n[[edge]]\n{body}")).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("edge 2") && msg.contains(want), "{msg}");
    }
    let e = crate::triage::causes::load("[[edge]]\ncause = \"a\"\neffect = \"b\"\nwhy = \"x\"\nexample = [\"a\", \"b\"]\nwhen = 1\n").unwrap_err();
    assert!(e.to_string().contains("does not parse"), "{e}");
}

#[test]
fn the_report_names_the_upstream_finding_and_the_link() {
    let log = "\
Nov 25 11:57:01 app01 kernel: Out of memory: Killed process 811 (billing) total-vm:4194304kB, anon-rss:3145728kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:6500kB oom_score_adj:0
Nov 25 11:57:02 app01 systemd[1]: billing.service: Main process exited, code=killed, status=9/KILL
Nov 25 11:57:02 app01 systemd[1]: billing.service: Failed with result 'oom-kill'.
";
    let outcomes = [journal(log)];
    let f = run(&outcomes);
    // Classified as a service issue, the unit failure alone would win; the OOM kill explains it.
    let r = report("app01", "billing service is down", "service", &outcomes, &f);
    assert_eq!(r.findings[0].kind, "oom_kill");
    assert_eq!(r.findings[1].kind, "unit_failed");
    assert_eq!(r.findings[1].caused_by.as_ref().unwrap().kind, "oom_kill");
    assert_eq!(r.findings[0].consequences[0].subject, "billing.service");
    assert!(
        r.root_cause.contains("OOM killer")
            && r.root_cause.contains("consequence: billing.service failed"),
        "{}",
        r.root_cause
    );
    let json = serde_json::to_value(&r).unwrap();
    let first = &json["findings"][0];
    assert_eq!(first["kind"], "oom_kill");
    assert_eq!(first["severity"], "critical");
    assert!(
        first["when"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-25T11:57:0"),
        "{first}"
    );
    assert_eq!(first["current"], true);
    assert_eq!(first["evidence"][0]["call_id"], "T1");
    assert_eq!(first["evidence"][0]["tool"], "read_journal");
    assert!(json["findings"][1]["caused_by"]["why"]
        .as_str()
        .unwrap()
        .contains("OOM"));
}

#[test]
fn an_unsynchronised_clock_explains_not_yet_valid_certificates() {
    let td = "System clock synchronized: no\n              NTP service: inactive\n";
    let log = "Nov 25 11:58:01 web01 curl[811]: curl: (60) SSL certificate problem: certificate is not yet valid\n";
    let f = run(&[
        outcome("T1", "time_sync", "timedatectl status", td),
        outcome("T2", "read_journal", "journalctl --no-pager", log),
    ]);
    assert_eq!(
        kinds(&f),
        vec!["clock_unsynchronised", "certificate_expiry"]
    );
    assert_eq!(
        f[1].caused_by.as_ref().unwrap().kind,
        "clock_unsynchronised"
    );
    // History cannot explain a current error: an old full disk does not explain today's crash.
    let old = "Oct 01 00:00:00 db01 app[1]: write /data/x: No space left on device\n";
    let now_fail =
        "Nov 25 11:58:01 db01 systemd[1]: app.service: Failed with result 'exit-code'.\n";
    let f = run(&[journal(&format!("{old}{now_fail}"))]);
    assert!(f.iter().all(|x| x.caused_by.is_none()), "{f:#?}");
}
