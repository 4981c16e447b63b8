//! Archive format: round trip, and every kind of damage refused with what is wrong.
use super::*;
use crate::knowledge::SessionSummary;

fn decode_builtin(path: &str, bytes: &[u8]) -> Result<Archive, ArchiveError> {
    decode(path, bytes, &Redactor::builtin())
}

fn session(id: u32, host: &str, issue: &str) -> SessionRecord {
    let summary = SessionSummary {
        host: host.into(),
        issue: issue.into(),
        category: "disk".into(),
        root_cause: "journal filled /var".into(),
        actions: vec!["journalctl --vacuum-size=200M".into()],
        evidence: vec!["/var 100% [T2]".into()],
        time: 1_764_000_000 + u64::from(id),
        model: Some("qwen3:4b".into()),
    };
    SessionRecord {
        id,
        hash: sha256_hex(&summary.index_text()),
        summary,
    }
}

fn runbook_record(name: &str) -> RunbookRecord {
    let text = "---\nservice: app\n---\n# App\n\n## Restart\n\nsystemctl status app\n".to_string();
    RunbookRecord {
        name: name.into(),
        source: "/srv/runbooks/app.md".into(),
        hash: sha256_hex(&text),
        text,
        service: "app".into(),
        title: "App".into(),
        synced_at: 1_764_000_000,
        chunk_ids: vec![7, 8],
    }
}

fn sample() -> Vec<u8> {
    let scope = Scope {
        sessions: true,
        runbooks: true,
        ..Default::default()
    };
    encode(
        &scope,
        &[session(1, "web01", "disk full"), session(4, "db01", "slow")],
        &[runbook_record("app.md")],
        1_764_100_000,
    )
    .unwrap()
}

#[test]
fn round_trip_keeps_every_record_and_counts_them() {
    let bytes = sample();
    let a = decode_builtin("a.tai", &bytes).unwrap();
    assert_eq!(a.batch.sessions.len(), 2);
    assert_eq!(a.batch.sessions[1].id, 4);
    assert_eq!(a.batch.sessions[0].summary.issue, "disk full");
    assert_eq!(
        a.batch.sessions[0].hash,
        session(1, "web01", "disk full").hash
    );
    assert_eq!(a.batch.runbooks.len(), 1);
    assert!(a.batch.runbooks[0].chunk_ids.is_empty());
    assert_eq!(a.batch.runbooks[0].source, "import:/srv/runbooks/app.md");
    assert_eq!(a.manifest.counts["session"], 2);
    assert_eq!(a.manifest.counts["runbook"], 1);
    assert_eq!(a.created, 1_764_100_000);
}

#[test]
fn a_truncated_file_is_refused_as_truncated() {
    let bytes = sample();
    for cut in [bytes.len() - 1, bytes.len() - 40, bytes.len() / 2] {
        let err = decode_builtin("a.tai", &bytes[..cut]).unwrap_err();
        assert!(
            matches!(err, ArchiveError::Truncated { .. }),
            "{cut}: {err}"
        );
        assert!(err.to_string().contains("nothing was imported"), "{err}");
    }
    // Cut exactly after a whole record line: the manifest is missing.
    let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    let cut: usize = lines[..2].iter().map(|l| l.len()).sum();
    let err = decode_builtin("a.tai", &bytes[..cut]).unwrap_err();
    assert!(matches!(err, ArchiveError::Truncated { .. }), "{err}");
}

#[test]
fn a_changed_byte_names_the_part_and_both_checksums() {
    let bytes = sample();
    let text = String::from_utf8(bytes).unwrap();
    let edited = text.replacen("disk full", "disk fuLL", 1);
    let err = decode_builtin("a.tai", edited.as_bytes()).unwrap_err();
    match &err {
        ArchiveError::Checksum {
            part,
            expected,
            actual,
            ..
        } => {
            assert_eq!(part, "the session part");
            assert_ne!(expected, actual);
            assert_eq!(expected.len(), 64);
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("manifest sha256"), "{err}");
    // A change in the header is caught by the whole-file checksum.
    let edited = text.replacen("\"created\":1764100000", "\"created\":1764100001", 1);
    let err = decode_builtin("a.tai", edited.as_bytes()).unwrap_err();
    assert!(
        matches!(&err, ArchiveError::Checksum { part, .. } if part == "the whole file"),
        "{err}"
    );
}

#[test]
fn a_dropped_record_line_is_a_count_mismatch() {
    let bytes = sample();
    let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    let mut without: Vec<u8> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if i != 2 {
            without.extend_from_slice(l);
        }
    }
    let err = decode_builtin("a.tai", &without).unwrap_err();
    assert!(
        err.to_string()
            .contains("lists 2 session records, the file holds 1"),
        "{err}"
    );
}

#[test]
fn a_newer_format_is_refused_with_what_to_do() {
    let text = String::from_utf8(sample()).unwrap();
    let newer = text.replacen("\"tai_archive\":1", "\"tai_archive\":7", 1);
    let err = decode_builtin("a.tai", newer.as_bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            ArchiveError::Newer {
                found: 7,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade tai"), "{err}");
}

#[test]
fn not_an_archive_is_said_so() {
    for bytes in [&b""[..], b"hello\n", b"{\"x\":1}\n"] {
        let err = decode_builtin("a.tai", bytes).unwrap_err();
        assert!(matches!(err, ArchiveError::NotArchive { .. }), "{err}");
    }
}

#[test]
fn sessions_are_redacted_again_and_get_their_content_id_recomputed() {
    let mut s = session(2, "web01", "login with password=hunter22 fails");
    s.hash = "0".repeat(64);
    let bytes = encode(&Scope::default(), &[s], &[], 1).unwrap();
    let a = decode_builtin("a.tai", &bytes).unwrap();
    let got = &a.batch.sessions[0];
    assert!(
        !got.summary.issue.contains("hunter22"),
        "{}",
        got.summary.issue
    );
    assert_eq!(got.hash, sha256_hex(&got.summary.index_text()));
}

#[test]
fn the_given_redaction_applies_to_every_session_field() {
    let mut s = session(3, "web01", "ticket ZQ-SECRET-42 again");
    s.summary.root_cause = "ZQ-SECRET-42".into();
    let bytes = encode(&Scope::default(), &[s], &[], 1).unwrap();
    let mine = Redactor::with_patterns(&["ZQ-SECRET-[0-9]+".to_string()]).unwrap();
    let a = decode("a.tai", &bytes, &mine).unwrap();
    let text = serde_json::to_string(&a.batch.sessions[0]).unwrap();
    assert!(!text.contains("ZQ-SECRET-42"), "{text}");
    assert!(text.contains("[REDACTED:user-pattern]"), "{text}");
}

#[test]
fn a_runbook_whose_text_does_not_match_its_hash_is_refused() {
    let mut r = runbook_record("app.md");
    r.text.push_str("\nextra\n");
    let bytes = encode(&Scope::default(), &[], &[r], 1).unwrap();
    let err = decode_builtin("a.tai", &bytes).unwrap_err();
    assert!(err.to_string().contains("runbook app.md"), "{err}");
}

#[test]
fn write_file_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.tai");
    write_file(&f, b"one\n").unwrap();
    let err = write_file(&f, b"two\n").unwrap_err();
    assert!(matches!(err, ArchiveError::Exists { .. }), "{err}");
    assert_eq!(std::fs::read(&f).unwrap(), b"one\n");
}
