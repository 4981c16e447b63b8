//! Data lifecycle on real LMDB and real `tai` processes: export/import (round trip, idempotent,
//! all or nothing, damaged and newer archives), cleanup (dry run, retention bounds, `--all`,
//! audit files with the chain still verifying, recordings), store health in `tai doctor`, and
//! faults: two processes at once, a full disk (a 2 MiB tmpfs in a private mount namespace), a
//! damaged store, an import killed half-way.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::knowledge::{ok, tai};
use crate::support::stderr_of;
use tai::knowledge::{Knowledge, OpenOptions, SessionSummary};

const DAY: u64 = 86_400;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn session(host: &str, issue: &str, time: u64) -> SessionSummary {
    SessionSummary {
        host: host.into(),
        issue: issue.into(),
        category: "disk".into(),
        root_cause: format!("{issue}: the journal filled /var"),
        actions: vec!["journalctl --vacuum-size=200M".into()],
        evidence: vec!["[T2] /var 100%".into()],
        time,
        model: Some("qwen3:4b".into()),
    }
}

/// Record sessions into `home`'s store through the library (as a finished session does).
async fn seed(home: &Path, sessions: Vec<SessionSummary>) {
    let k = Knowledge::open_with(OpenOptions {
        dir: Some(Knowledge::store_dir(home)),
        embed: None,
        rag_debug: false,
    })
    .unwrap();
    for s in sessions {
        k.record_session(s).await.unwrap();
    }
}

fn history(home: &Path) -> serde_json::Value {
    let out = ok(&tai(home)
        .args(["history", "--json", "-k", "100000"])
        .output()
        .unwrap());
    serde_json::from_str(&out).unwrap()
}

fn run(home: &Path, args: &[&str]) -> Output {
    tai(home).args(args).output().unwrap()
}

fn session_count(home: &Path) -> usize {
    history(home).as_array().unwrap().len()
}

fn audit_lines(home: &Path) -> Vec<serde_json::Value> {
    let dir = home.join("audit");
    let mut out = Vec::new();
    for f in tai::audit::chain::month_files(&dir).unwrap() {
        for l in std::fs::read_to_string(f).unwrap().lines() {
            out.push(serde_json::from_str(l).unwrap());
        }
    }
    out
}

fn retention_events(home: &Path, op: &str) -> Vec<serde_json::Value> {
    audit_lines(home)
        .into_iter()
        .filter(|l| l["event"] == "retention" && l["op"] == op)
        .collect()
}

fn runbook(service: &str, body: &str) -> String {
    format!("---\nservice: {service}\nsymptoms: [\"{service} broken\"]\ntags: [test]\n---\n# {service}\n\n## Check\n\n{body}\n")
}

/// A home with three sessions on two hosts and one runbook of its own.
async fn populated() -> (tempfile::TempDir, PathBuf) {
    let home = tempfile::tempdir().unwrap();
    let t = now() - 10 * DAY;
    seed(
        home.path(),
        vec![
            session("web01", "disk full on /var", t),
            session("db01", "postgres slow", t + 60),
            session("web01", "nginx 502", t + 120),
        ],
    )
    .await;
    let rb = home.path().join("zq-app.md");
    std::fs::write(&rb, runbook("zqapp", "unique marker zqmarker")).unwrap();
    ok(&tai(home.path())
        .args(["runbooks", "add"])
        .arg(&rb)
        .output()
        .unwrap());
    let file = home.path().join("team.tai");
    (home, file)
}

#[tokio::test]
async fn export_then_import_into_an_empty_home_gives_the_same_history() {
    let (a, file) = populated().await;
    let out = ok(&run(
        a.path(),
        &["export", file.to_str().unwrap(), "--json"],
    ));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["sessions"], 3, "{out}");
    assert_eq!(report["runbooks"], 1, "{out}");
    assert_eq!(report["sha256"].as_str().unwrap().len(), 64);
    let ev = retention_events(a.path(), "export");
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["counts"]["sessions"], 3);

    let b = tempfile::tempdir().unwrap();
    let out = ok(&run(b.path(), &["import", file.to_str().unwrap()]));
    assert!(out.contains("sessions: 3 new, 0 already stored"), "{out}");
    assert!(out.contains("runbooks: 1 new"), "{out}");
    assert_eq!(history(a.path()), history(b.path()));
    let ev = retention_events(b.path(), "import");
    assert_eq!(ev[0]["counts"]["sessions_added"], 3, "{ev:?}");
    // The imported runbook is indexed and searchable.
    let out = ok(&run(
        b.path(),
        &["runbooks", "search", "zqmarker", "--json"],
    ));
    assert!(out.contains("zq-app.md#Check"), "{out}");

    // Importing again changes nothing.
    let before = history(b.path());
    let out = ok(&run(b.path(), &["import", file.to_str().unwrap()]));
    assert!(out.contains("sessions: 0 new, 3 already stored"), "{out}");
    assert!(out.contains("runbooks: 0 new, 1 already stored"), "{out}");
    assert_eq!(history(b.path()), before);

    // An export never overwrites a file.
    let o = run(a.path(), &["export", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(stderr_of(&o).contains("never overwrites"), "{o:?}");
}

#[tokio::test]
async fn export_filters_by_host_and_since_and_dry_run_import_changes_nothing() {
    let (a, _) = populated().await;
    seed(
        a.path(),
        vec![session("web01", "old one", now() - 300 * DAY)],
    )
    .await;
    let file = a.path().join("web.tai");
    let out = ok(&run(
        a.path(),
        &[
            "export",
            file.to_str().unwrap(),
            "--sessions",
            "--host",
            "web01",
            "--since",
            "30d",
            "--json",
        ],
    ));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["sessions"], 2, "{out}");
    assert_eq!(report["runbooks"], 0, "{out}");

    let b = tempfile::tempdir().unwrap();
    let out = ok(&run(
        b.path(),
        &["import", file.to_str().unwrap(), "--dry-run", "--json"],
    ));
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["sessions_added"].as_array().unwrap().len(), 2, "{out}");
    assert!(
        !b.path().join("knowledge").exists(),
        "a dry run created a store"
    );
    seed(b.path(), vec![]).await;
    let before = history(b.path());
    ok(&run(
        b.path(),
        &["import", file.to_str().unwrap(), "--dry-run"],
    ));
    assert_eq!(history(b.path()), before);
    assert!(retention_events(b.path(), "import").is_empty());
}

#[tokio::test]
async fn import_redacts_with_the_users_patterns_too() {
    let files = tempfile::tempdir().unwrap();
    let a = tempfile::tempdir().unwrap();
    seed(
        a.path(),
        vec![session("web01", "ticket ZQ-SECRET-4242 again", now() - DAY)],
    )
    .await;
    let file = files.path().join("a.tai");
    ok(&run(a.path(), &["export", file.to_str().unwrap()]));
    let b = tempfile::tempdir().unwrap();
    std::fs::write(
        b.path().join("config.toml"),
        "[redact]\npatterns = [\"ZQ-SECRET-[0-9]+\"]\n",
    )
    .unwrap();
    ok(&run(b.path(), &["import", file.to_str().unwrap()]));
    let text = history(b.path()).to_string();
    assert!(!text.contains("ZQ-SECRET-4242"), "{text}");
    assert!(text.contains("REDACTED"), "{text}");
    let mut found = false;
    for f in crate::support::knowledge::tree(b.path()) {
        let bytes = std::fs::read(b.path().join(&f)).unwrap_or_default();
        found |= bytes.windows(14).any(|w| w == b"ZQ-SECRET-4242");
    }
    assert!(!found, "the secret reached a file under TAI_HOME");
}

#[tokio::test]
async fn damaged_truncated_and_newer_archives_are_refused_and_the_store_is_unchanged() {
    let (a, file) = populated().await;
    ok(&run(a.path(), &["export", file.to_str().unwrap()]));
    let good = std::fs::read_to_string(&file).unwrap();
    let b = tempfile::tempdir().unwrap();
    seed(
        b.path(),
        vec![session("mail01", "queue stuck", now() - DAY)],
    )
    .await;
    let before = history(b.path());
    let dir = b.path();

    let damaged = dir.join("damaged.tai");
    std::fs::write(&damaged, good.replacen("postgres slow", "postgres SLOW", 1)).unwrap();
    let o = run(dir, &["import", damaged.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = stderr_of(&o);
    assert!(
        err.contains("the session part checksum differs") && err.contains("manifest sha256"),
        "{err}"
    );

    let truncated = dir.join("truncated.tai");
    std::fs::write(&truncated, &good[..good.len() * 2 / 3]).unwrap();
    let o = run(dir, &["import", truncated.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(stderr_of(&o).contains("is truncated"), "{o:?}");

    let newer = dir.join("newer.tai");
    std::fs::write(
        &newer,
        good.replacen("\"tai_archive\":1", "\"tai_archive\":99", 1),
    )
    .unwrap();
    let o = run(dir, &["import", newer.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = stderr_of(&o);
    assert!(
        err.contains("archive format 99") && err.contains("upgrade tai"),
        "{err}"
    );

    assert_eq!(history(dir), before);
    assert!(retention_events(dir, "import").is_empty());
}

#[tokio::test]
async fn cleanup_lists_then_removes_old_sessions_and_audits_first() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    seed(
        h,
        vec![
            session("web01", "ancient", now() - 400 * DAY),
            session("db01", "old", now() - 200 * DAY),
            session("web01", "recent", now() - 2 * DAY),
        ],
    )
    .await;

    let out = ok(&run(h, &["cleanup", "--what", "sessions", "--dry-run"]));
    assert!(out.contains("would remove"), "{out}");
    assert!(
        out.contains("#1") && out.contains("#2") && !out.contains("#3"),
        "{out}"
    );
    assert!(out.contains("2 sessions"), "{out}");
    assert_eq!(session_count(h), 3);

    // --all without --yes is refused, whatever the terminal.
    let o = run(h, &["cleanup", "--all"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(stderr_of(&o).contains("--yes"), "{o:?}");
    assert_eq!(session_count(h), 3);

    // --host limits it; a tighter bound with --retain-days.
    let out = ok(&run(
        h,
        &["cleanup", "--what", "sessions", "--host", "web01", "--json"],
    ));
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["counts"]["session"], 1, "{out}");
    assert_eq!(plan["items"][0]["id"], "#1");
    let ev = retention_events(h, "cleanup");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["counts"]["session"], 1);
    assert!(
        ev[0]["scope"].as_str().unwrap().contains("host=web01"),
        "{ev:?}"
    );

    ok(&run(
        h,
        &["cleanup", "--what", "sessions", "--retain-days", "1"],
    ));
    assert_eq!(session_count(h), 0);
    let out = ok(&run(h, &["cleanup", "--what", "sessions"]));
    assert!(out.contains("nothing to remove"), "{out}");
    assert_eq!(retention_events(h, "cleanup").len(), 2);
}

/// An audit line as the audit log writes it, chained to `prev`.
fn audit_line(time: &str, prev: &str) -> String {
    serde_json::json!({
        "event": "retention", "op": "export", "scope": "test", "counts": {},
        "time": time, "version": "0.0.0", "user": "root", "uid": 0, "prev": prev
    })
    .to_string()
}

#[test]
fn audit_cleanup_removes_whole_old_months_and_what_remains_still_verifies() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let dir = h.join("audit");
    std::fs::create_dir_all(&dir).unwrap();
    let mut prev = tai::audit::GENESIS.to_string();
    for month in ["2024-01", "2024-02", "2024-03"] {
        let mut text = String::new();
        for day in ["01", "02"] {
            let line = audit_line(&format!("{month}-{day}T00:00:00.000Z"), &prev);
            prev = tai::audit::chain::hash_line(line.as_bytes());
            text.push_str(&line);
            text.push('\n');
        }
        std::fs::write(dir.join(format!("{month}.jsonl")), text).unwrap();
    }
    std::fs::write(dir.join(".head"), &prev).unwrap();
    assert!(tai::audit::verify(&dir).unwrap().broken.is_none());

    // 2024-03 is within a bound that reaches back to the middle of April 2024.
    let days = (now() - 1_713_139_200) / DAY; // 2024-04-15
    let days = days.to_string();
    let out = ok(&run(
        h,
        &[
            "cleanup",
            "--what",
            "audit",
            "--retain-days",
            &days,
            "--dry-run",
        ],
    ));
    assert!(
        out.contains("audit/2024-01.jsonl") && out.contains("audit/2024-02.jsonl"),
        "{out}"
    );
    assert!(!out.contains("2024-03.jsonl"), "{out}");
    ok(&run(
        h,
        &["cleanup", "--what", "audit", "--retain-days", &days],
    ));
    let files = tai::audit::chain::month_files(&dir).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names[0], "2024-03.jsonl", "{names:?}");
    assert!(!names.contains(&"2024-01.jsonl".to_string()));
    // The removal is in the chain, and the chain verifies from its first remaining line.
    let ev = retention_events(h, "cleanup");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["counts"]["audit"], 2);
    assert!(ev[0]["scope"].as_str().unwrap().contains("prev="), "{ev:?}");
    let report = tai::audit::verify(&dir).unwrap();
    assert!(report.broken.is_none(), "{:?}", report.broken);

    // The newest file (where the chain is appended) is never removed, even with --all.
    ok(&run(h, &["cleanup", "--what", "audit", "--all", "--yes"]));
    let left = tai::audit::chain::month_files(&dir).unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(tai::audit::verify(&dir).unwrap().broken.is_none());
}

#[test]
fn cleanup_removes_old_recordings_under_tai_home_only() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let rec = h.join("records/incident-42");
    std::fs::create_dir_all(&rec).unwrap();
    let old = rec.join("session-1000.json");
    let new = rec.join("session-2000.json");
    let other = rec.join("notes.json");
    for f in [&old, &new, &other] {
        std::fs::write(f, "{\"exchanges\":[]}").unwrap();
    }
    let status = Command::new("touch")
        .args(["-d", "90 days ago"])
        .arg(&old)
        .arg(&other)
        .status()
        .unwrap();
    assert!(status.success());
    let out = ok(&run(h, &["cleanup", "--what", "records"]));
    assert!(
        out.contains("records/incident-42/session-1000.json"),
        "{out}"
    );
    assert!(!old.exists());
    assert!(new.exists() && other.exists());
    // --host has no meaning for recordings.
    let o = run(h, &["cleanup", "--what", "records", "--host", "web01"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
}

#[tokio::test]
async fn doctor_reports_store_health_without_creating_a_store() {
    let empty = tempfile::tempdir().unwrap();
    let o = tai(empty.path())
        .args(["doctor", "--json"])
        .env("TAI_BASE_URL", "http://127.0.0.1:9/v1")
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let check = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "knowledge")
        .unwrap()
        .clone();
    assert_eq!(check["ok"], true, "{check}");
    assert!(!empty.path().join("knowledge").exists());

    let (a, _) = populated().await;
    let o = tai(a.path())
        .args(["doctor", "--json"])
        .env("TAI_BASE_URL", "http://127.0.0.1:9/v1")
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let store = &doc["store"];
    assert_eq!(store["schema_version"], 1, "{doc}");
    assert_eq!(store["sessions"], 3, "{doc}");
    assert!(store["runbooks"].as_u64().unwrap() >= 16, "{doc}");
    assert!(store["chunks"].as_u64().unwrap() > store["runbooks"].as_u64().unwrap());
    assert!(store["disk_bytes"].as_u64().unwrap() > 0);
    assert!(store["last_sync"].as_u64().unwrap() > now() - 600, "{doc}");
    assert_eq!(store["created_by"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn a_damaged_store_is_exit_9_for_every_lifecycle_command_and_nothing_is_deleted() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let data = h.join("knowledge/data.mdb");
    std::fs::create_dir_all(data.parent().unwrap()).unwrap();
    let garbage: Vec<u8> = (0..65_536u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&data, &garbage).unwrap();
    let archive = tempfile::tempdir().unwrap();
    let file = archive.path().join("x.tai");
    let out_file = archive.path().join("out.tai");
    let empty = tempfile::tempdir().unwrap();
    seed_blocking(empty.path());
    ok(&run(empty.path(), &["export", file.to_str().unwrap()]));
    for args in [
        vec!["import", file.to_str().unwrap()],
        vec!["export", out_file.to_str().unwrap()],
        vec!["cleanup", "--what", "sessions", "--all", "--yes"],
        vec!["history"],
    ] {
        let o = run(h, &args);
        assert_eq!(o.status.code(), Some(9), "{args:?}: {o:?}");
        let err = stderr_of(&o);
        assert!(
            err.contains("damaged") && err.contains("move it aside"),
            "{err}"
        );
    }
    assert_eq!(std::fs::read(&data).unwrap(), garbage);
    assert!(!out_file.exists());
    let o = tai(h)
        .args(["doctor", "--json"])
        .env("TAI_BASE_URL", "http://127.0.0.1:9/v1")
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let check = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "knowledge")
        .unwrap()
        .clone();
    assert_eq!(check["ok"], false, "{check}");
    assert!(
        check["fix"].as_str().unwrap().contains("move it aside"),
        "{check}"
    );
    assert_eq!(std::fs::read(&data).unwrap(), garbage);
}

/// Stamp a newer schema version into a store, as a newer tai would leave it.
fn stamp_schema(store: &Path, schema: u32) {
    use heed::types::{SerdeJson, Str};
    // SAFETY: no other environment on this path is open in this process.
    let env = unsafe {
        heed::EnvOpenOptions::new()
            .map_size(tai::knowledge::store::MAP_SIZE)
            .max_dbs(16)
            .open(store)
    }
    .unwrap();
    let wtxn = env.write_txn().unwrap();
    env.create_databases_and_commit(wtxn, |dbo, wtxn| -> heed::Result<_> {
        let meta = dbo.create_database::<Str, SerdeJson<serde_json::Value>>(wtxn, Some("meta"))?;
        meta.put(wtxn, "schema_version", &serde_json::json!(schema))?;
        Ok(heed::CommitOrAbort::<(), ()>::Commit(()))
    })
    .unwrap();
}

#[tokio::test]
async fn a_newer_store_is_refused_by_import_export_cleanup_and_left_untouched() {
    let (a, file) = populated().await;
    ok(&run(a.path(), &["export", file.to_str().unwrap()]));
    let b = tempfile::tempdir().unwrap();
    seed(b.path(), vec![session("web01", "one", now() - 400 * DAY)]).await;
    let store = Knowledge::store_dir(b.path());
    stamp_schema(&store, 99);
    let data = std::fs::read(store.join("data.mdb")).unwrap();
    let out_file = b.path().join("out.tai");
    for args in [
        vec!["import", file.to_str().unwrap()],
        vec!["export", out_file.to_str().unwrap()],
        vec!["cleanup", "--what", "sessions"],
    ] {
        let o = run(b.path(), &args);
        assert_eq!(o.status.code(), Some(9), "{args:?}: {o:?}");
        let err = stderr_of(&o);
        assert!(
            err.contains("newer tai") && err.contains("upgrade tai"),
            "{err}"
        );
    }
    assert_eq!(std::fs::read(store.join("data.mdb")).unwrap(), data);
    assert!(!out_file.exists());
}

fn seed_blocking(home: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(seed(home, vec![session("web01", "one", now() - DAY)]));
}

/// An archive of `n` sessions on `host`, encoded directly (seeding thousands of sessions
/// through a store first would only slow the tests; the round trip above covers real exports).
async fn archive_of(n: usize, host: &str, dir: &Path) -> PathBuf {
    use tai::knowledge::store::{archive, sha256_hex, SessionRecord};
    let t = now() - 5 * DAY;
    let sessions: Vec<SessionRecord> = (0..n)
        .map(|i| {
            let summary = session(host, &format!("{host} issue {i} zq{i}q"), t + i as u64);
            SessionRecord {
                id: i as u32 + 1,
                hash: sha256_hex(&summary.index_text()),
                summary,
            }
        })
        .collect();
    let scope = archive::Scope {
        sessions: true,
        ..Default::default()
    };
    let bytes = archive::encode(&scope, &sessions, &[], now()).unwrap();
    let file = dir.join(format!("{host}-{n}.tai"));
    archive::write_file(&file, &bytes).unwrap();
    file
}

#[tokio::test]
async fn two_processes_importing_at_once_lose_nothing_and_duplicate_nothing() {
    let files = tempfile::tempdir().unwrap();
    let a = archive_of(40, "alpha", files.path()).await;
    let b = archive_of(40, "beta", files.path()).await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_path_buf();
    // Four processes at once: each archive twice.
    let children: Vec<_> = [&a, &b, &a, &b]
        .iter()
        .map(|f| {
            tai(&h)
                .arg("import")
                .arg(f)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        ok(&c.wait_with_output().unwrap());
    }
    let hist = history(&h);
    let all = hist.as_array().unwrap();
    assert_eq!(all.len(), 80, "lost or duplicated sessions");
    for host in ["alpha", "beta"] {
        assert_eq!(
            all.iter().filter(|s| s["summary"]["host"] == host).count(),
            40
        );
    }
    assert_eq!(retention_events(&h, "import").len(), 4);
}

#[tokio::test]
async fn an_import_killed_half_way_leaves_the_store_as_it_was_or_complete() {
    let files = tempfile::tempdir().unwrap();
    let big = archive_of(4000, "bulk", files.path()).await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    seed(h, vec![session("web01", "kept", now() - DAY)]).await;
    let before = history(h);
    // A debug build imports it in about 0.2 s: these land before, inside and after the
    // write transaction.
    for delay_ms in [20u64, 60, 100, 140, 180, 400] {
        let mut child = tai(h)
            .arg("import")
            .arg(&big)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let n = session_count(h);
        assert!(
            n == 1 || n == 4001,
            "after a kill at {delay_ms} ms: {n} sessions"
        );
        if n == 1 {
            assert_eq!(history(h), before);
        }
    }
    // A truncated copy of the big archive changes nothing either.
    let bytes = std::fs::read(&big).unwrap();
    let cut = files.path().join("cut.tai");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let n = session_count(h);
    let o = run(h, &["import", cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert_eq!(session_count(h), n);
    // And the whole import still works afterwards (no stale lock, no half-written state).
    ok(&run(h, &["import", big.to_str().unwrap()]));
    assert_eq!(session_count(h), 4001);
}

#[tokio::test]
async fn a_full_disk_fails_the_import_clearly_and_keeps_what_was_stored() {
    let files = tempfile::tempdir().unwrap();
    let small = archive_of(3, "small", files.path()).await;
    let big = archive_of(6000, "big", files.path()).await;
    let mnt = tempfile::tempdir().unwrap();
    let outs = tempfile::tempdir().unwrap();
    // A runbook of 3 MiB: more than the 2 MiB disk can take.
    let big_runbook = files.path().join("big.md");
    let body: String = (0..3000)
        .map(|i| format!("\n## Section {i}\n\n{}\n", "lorem ipsum dolor ".repeat(55)))
        .collect();
    std::fs::write(
        &big_runbook,
        format!("---\nservice: big\n---\n# Big\n{body}"),
    )
    .unwrap();
    let home = mnt.path().join("home");
    let script = format!(
        r#"set -u
mount -t tmpfs -o size=2m tai-full "{mnt}" || exit 90
mkdir -p "{home}"
export TAI_HOME="{home}"
"{tai}" import "{small}" >/dev/null 2>&1 || exit 91
"{tai}" history --json -k 100 > "{out}/before.json" 2>/dev/null || exit 92
"{tai}" import "{big}" > /dev/null 2> "{out}/import.err"
echo $? > "{out}/import.rc"
"{tai}" history --json -k 100 > "{out}/after.json" 2>/dev/null || exit 93
"{tai}" runbooks add "{runbook}" > /dev/null 2> "{out}/add.err"
echo $? > "{out}/add.rc"
"{tai}" history --json -k 100 > "{out}/after-add.json" 2>/dev/null || exit 94
"#,
        mnt = mnt.path().display(),
        out = outs.path().display(),
        home = home.display(),
        tai = env!("CARGO_BIN_EXE_tai"),
        small = small.display(),
        big = big.display(),
        runbook = big_runbook.display(),
    );
    let outer = outs.path().to_path_buf();
    let o = Command::new("unshare")
        .args([
            "-m",
            "--propagation",
            "private",
            "--",
            "/bin/sh",
            "-c",
            &script,
        ])
        .env("TAI_EMBED_BASE_URL", "http://127.0.0.1:9")
        .env("NO_COLOR", "1")
        .env("HOME", mnt.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "namespace script failed: {o:?}");
    let read = |n: &str| std::fs::read_to_string(outer.join(n)).unwrap();
    let rc = read("import.rc");
    let err = read("import.err");
    assert_eq!(rc.trim(), "9", "{err}");
    assert!(
        err.contains("no space left")
            && err.contains(&home.join("knowledge").display().to_string()),
        "{err}"
    );
    assert!(err.contains("what was stored before is intact"), "{err}");
    let before: serde_json::Value = serde_json::from_str(&read("before.json")).unwrap();
    let after: serde_json::Value = serde_json::from_str(&read("after.json")).unwrap();
    assert_eq!(before.as_array().unwrap().len(), 3);
    assert_eq!(before, after);
    // A runbook write on the full disk says the same; the sessions are still all there.
    let err = read("add.err");
    assert_eq!(read("add.rc").trim(), "9", "{err}");
    assert!(err.contains("no space left"), "{err}");
    let after_add: serde_json::Value = serde_json::from_str(&read("after-add.json")).unwrap();
    assert_eq!(before, after_add);
}
