//! Unit tests of the audit writer, chain and readers (real files in temp dirs).
use std::collections::BTreeMap;

use super::*;

fn retention(n: u64) -> AuditEvent {
    AuditEvent::Retention {
        op: "cleanup".into(),
        scope: "sessions older than 30 days".into(),
        counts: BTreeMap::from([("sessions".to_string(), n)]),
    }
}

fn lines(dir: &Path) -> Vec<String> {
    chain::month_files(dir)
        .unwrap()
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn lines_chain_from_genesis_and_verify() {
    let home = tempfile::tempdir().unwrap();
    let log = AuditLog::open(home.path());
    assert!(
        !dir(home.path()).exists(),
        "nothing is created before the first append"
    );
    for n in 0..3 {
        log.append(retention(n)).unwrap();
    }
    let all = lines(&dir(home.path()));
    assert_eq!(all.len(), 3);
    let first: Value = serde_json::from_str(&all[0]).unwrap();
    assert_eq!(first["prev"], GENESIS);
    assert_eq!(first["event"], "retention");
    assert_eq!(first["version"], env!("CARGO_PKG_VERSION"));
    let whoami = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    assert_eq!(
        first["user"],
        String::from_utf8_lossy(&whoami.stdout).trim()
    );
    assert!(first["time"].as_str().unwrap().ends_with('Z'));
    let second: Value = serde_json::from_str(&all[1]).unwrap();
    assert_eq!(second["prev"], chain::hash_line(all[0].as_bytes()));
    let report = verify(&dir(home.path())).unwrap();
    assert_eq!((report.files, report.lines, report.broken), (1, 3, None));
}

#[test]
fn the_chain_continues_across_monthly_files() {
    let home = tempfile::tempdir().unwrap();
    let d = dir(home.path());
    let log = AuditLog::open(home.path());
    log.append(retention(1)).unwrap();
    // Move the line into an older month: the next append chains to it.
    let current = chain::month_files(&d).unwrap().remove(0);
    let older = d.join("2000-01.jsonl");
    std::fs::rename(&current, &older).unwrap();
    log.append(retention(2)).unwrap();
    let files = chain::month_files(&d).unwrap();
    assert_eq!(files.len(), 2);
    let old_line = std::fs::read_to_string(&older).unwrap();
    let new_line: Value =
        serde_json::from_str(std::fs::read_to_string(&files[1]).unwrap().trim()).unwrap();
    assert_eq!(
        new_line["prev"],
        chain::hash_line(old_line.trim_end().as_bytes())
    );
    assert_eq!(verify(&d).unwrap().broken, None);
}

#[test]
fn edits_deletions_reorders_and_a_removed_tail_break_the_chain_at_the_line() {
    let home = tempfile::tempdir().unwrap();
    let d = dir(home.path());
    let log = AuditLog::open(home.path());
    for n in 0..4 {
        log.append(retention(n)).unwrap();
    }
    let file = chain::month_files(&d).unwrap().remove(0);
    let original = std::fs::read_to_string(&file).unwrap();
    let orig: Vec<&str> = original.lines().collect();
    let check = |body: Vec<String>, line: usize| {
        std::fs::write(&file, body.join("\n") + "\n").unwrap();
        let b = verify(&d).unwrap().broken.expect("broken");
        assert_eq!((b.file.as_path(), b.line), (file.as_path(), line), "{b:?}");
    };
    let mut edited: Vec<String> = orig.iter().map(|s| s.to_string()).collect();
    edited[1] = edited[1].replace("\"sessions\":1", "\"sessions\":9");
    check(edited, 3);
    let deleted: Vec<String> = [0, 2, 3].iter().map(|&i| orig[i].to_string()).collect();
    check(deleted, 2);
    let reordered: Vec<String> = [0, 2, 1, 3].iter().map(|&i| orig[i].to_string()).collect();
    check(reordered, 2);
    let tail_cut: Vec<String> = orig[..3].iter().map(|s| s.to_string()).collect();
    check(tail_cut, 3);
    let mut last_edited: Vec<String> = orig.iter().map(|s| s.to_string()).collect();
    last_edited[3] = last_edited[3].replace("cleanup", "cleanuq");
    check(last_edited, 4);
    std::fs::write(&file, &original).unwrap();
    assert_eq!(verify(&d).unwrap().broken, None);
}

#[test]
fn strings_are_redacted_and_content_fields_are_not_invented() {
    let home = tempfile::tempdir().unwrap();
    let log = AuditLog::open(home.path());
    let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";
    log.append(AuditEvent::Retention {
        op: "export".into(),
        scope: key.into(),
        counts: BTreeMap::new(),
    })
    .unwrap();
    let text = lines(&dir(home.path())).join("\n");
    assert!(!text.contains("b3BlbnNzaC1rZXktdjEAAAAA"), "{text}");
    assert!(text.contains("[REDACTED:private-key]"), "{text}");
}

#[test]
fn disabled_writes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let log = AuditLog::for_home(home.path(), true);
    log.append(retention(1)).unwrap();
    assert_eq!(std::fs::read_dir(home.path()).unwrap().count(), 0);
}

#[test]
fn an_unwritable_directory_fails_and_is_remembered() {
    let home = tempfile::tempdir().unwrap();
    // A file where the audit directory should be: nothing can be created under it.
    std::fs::write(dir(home.path()), "not a directory").unwrap();
    let log = AuditLog::open(home.path());
    let err = log.append(retention(1)).unwrap_err();
    assert!(err.to_string().contains("audit"), "{err}");
    assert!(log.failure().is_some());
}

#[test]
fn a_partial_last_line_is_refused_not_extended() {
    let home = tempfile::tempdir().unwrap();
    let d = dir(home.path());
    let log = AuditLog::open(home.path());
    log.append(retention(1)).unwrap();
    let file = chain::month_files(&d).unwrap().remove(0);
    let mut body = std::fs::read(&file).unwrap();
    body.extend_from_slice(b"{\"event\":\"comm");
    std::fs::write(&file, &body).unwrap();
    assert!(matches!(
        log.append(retention(2)),
        Err(AuditError::PartialLine { .. })
    ));
    assert_eq!(std::fs::read(&file).unwrap(), body);
    let b = verify(&d).unwrap().broken.unwrap();
    assert_eq!(b.line, 2);
}

#[test]
fn concurrent_appenders_keep_one_chain() {
    let home = tempfile::tempdir().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            // Separate logs: separate lock descriptors, as two processes would have.
            let log = AuditLog::open(home.path());
            std::thread::spawn(move || {
                for n in 0..25 {
                    log.append(retention(t * 100 + n)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let report = verify(&dir(home.path())).unwrap();
    assert_eq!((report.lines, report.broken), (100, None));
}

#[test]
fn one_log_shared_by_threads_commits_in_groups_and_keeps_order_per_writer() {
    let home = tempfile::tempdir().unwrap();
    let log = Arc::new(AuditLog::open(home.path()));
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for n in 0..25 {
                    log.append(retention(t * 100 + n)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let d = dir(home.path());
    let report = verify(&d).unwrap();
    assert_eq!((report.lines, report.broken), (200, None));
    // Every writer's lines are on disk in the order it wrote them.
    let counts: Vec<u64> = lines(&d)
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["counts"]["sessions"]
                .as_u64()
                .unwrap()
        })
        .collect();
    for t in 0..8u64 {
        let mine: Vec<u64> = counts.iter().copied().filter(|c| c / 100 == t).collect();
        assert_eq!(mine, (0..25).map(|n| t * 100 + n).collect::<Vec<_>>());
    }
}

#[test]
fn since_accepts_rfc3339_dates_and_ages() {
    let now = chrono::DateTime::parse_from_rfc3339("2026-12-02T07:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let at = |s: &str| parse_since(s, now).unwrap().to_rfc3339();
    assert_eq!(at("7d"), "2026-11-25T07:00:00+00:00");
    assert_eq!(at("24h"), "2026-12-01T07:00:00+00:00");
    assert_eq!(at("30m"), "2026-12-02T06:30:00+00:00");
    assert_eq!(at("2026-12-01"), "2026-12-01T00:00:00+00:00");
    assert_eq!(at("2026-12-01T08:00:00+01:00"), "2026-12-01T07:00:00+00:00");
    for bad in ["", "7", "7w", "-3d", "yesterday"] {
        assert!(parse_since(bad, now).is_err(), "{bad}");
    }
}

#[test]
fn the_host_filter_matches_names_and_addresses() {
    let e = |host: &str, address: &str| read::Entry {
        file: PathBuf::new(),
        line: 1,
        value: serde_json::json!({"host": host, "address": address, "time": "2026-12-01T00:00:00Z"}),
    };
    let f = read::Filter {
        host: Some("web01".into()),
        since: None,
    };
    assert!(f.keeps(&e("ops@web01:22", "203.0.113.7:22")));
    assert!(f.keeps(&e("web01", "unknown")));
    assert!(!f.keeps(&e("web02", "203.0.113.8:22")));
    let f = read::Filter {
        host: Some("203.0.113.7".into()),
        since: None,
    };
    assert!(f.keeps(&e("web01", "203.0.113.7:22")));
}

#[test]
fn a_prefix_removed_by_cleanup_verifies_from_the_recorded_base() {
    let home = tempfile::tempdir().unwrap();
    let d = dir(home.path());
    let log = AuditLog::open(home.path());
    log.append(retention(1)).unwrap();
    let first = chain::month_files(&d).unwrap().remove(0);
    let old = d.join("2000-01.jsonl");
    std::fs::rename(&first, &old).unwrap();
    log.append(retention(2)).unwrap();
    std::fs::remove_file(&old).unwrap();
    let b = verify(&d)
        .unwrap()
        .broken
        .expect("the first line no longer chains to genesis");
    assert_eq!(b.line, 1);
    let second: Value = serde_json::from_str(lines(&d)[0].as_str()).unwrap();
    std::fs::write(
        d.join(chain::BASE_FILE),
        format!("{}\n", second["prev"].as_str().unwrap()),
    )
    .unwrap();
    assert_eq!(verify(&d).unwrap().broken, None);
}
