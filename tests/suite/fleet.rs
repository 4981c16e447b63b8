//! `tai fleet` end to end on loopback: ten plain sshd hosts, two scenario hosts that are broken
//! (`disk-full`: a full filesystem; `crash-loop`: a unit systemd restarts forever), one closed
//! port and one host whose key changed. Every host shares one client key and one known_hosts
//! file. The summary must name the broken hosts under their findings, list the unreachable ones
//! with the reason (refused; changed host key, a stop for that host only), and every other host
//! must complete. `--ask` goes to a wiremock model in Ollama's native wire format: the one
//! request carries the fleet summary, not the hosts' raw outputs.
use serde_json::Value;

use crate::support::model::{native_text, ModelServer, Scripted};
use crate::support::scenario::Scenario;
use crate::support::sshd::{free_port, keygen, Sshd};
use crate::support::{self, stderr_of, stdout_of};

fn authorize(dir: &std::path::Path, pubkey: &str) {
    let file = dir.join("authorized_keys");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(pubkey);
    std::fs::write(&file, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_names_broken_hosts_and_lists_unreachable_ones() {
    let _host = support::host_state_lock().await;
    let t0 = std::time::Instant::now();
    let work = tempfile::tempdir().unwrap();
    let key = keygen(work.path(), "fleet_key", "ed25519", "");
    let pubkey = std::fs::read_to_string(format!("{}.pub", key.display())).unwrap();

    // Broken hosts come up in their own threads (journal build, setup.sh) while the plain ones start.
    let disk = std::thread::spawn(|| Scenario::start("disk-full"));
    let crash = std::thread::spawn(|| Scenario::start("crash-loop"));
    let plain: Vec<Sshd> = (0..10)
        .map(|_| Sshd::builder().quiet_shell().start())
        .collect();
    let mut changed = Sshd::builder().quiet_shell().start();
    let (disk, crash) = (disk.join().unwrap(), crash.join().unwrap());
    eprintln!("fleet: 14 hosts up in {:?}", t0.elapsed());

    let mut known = String::new();
    for s in plain.iter().chain([&changed]) {
        authorize(s.dir.path(), &pubkey);
        known.push_str(&s.known_hosts_line());
    }
    for sc in [&disk, &crash] {
        authorize(sc.sshd.dir.path(), &pubkey);
        known.push_str(&sc.sshd.known_hosts_line());
    }
    changed.replace_host_key();
    let known_hosts = work.path().join("known_hosts");
    std::fs::write(&known_hosts, &known).unwrap();
    let closed = format!(
        "{}@127.0.0.1:{}",
        support::sshd::current_user(),
        free_port()
    );

    let mut targets: Vec<String> = plain.iter().map(Sshd::target).collect();
    targets.extend([
        disk.target(),
        crash.target(),
        closed.clone(),
        changed.target(),
    ]);
    let list = work.path().join("hosts.txt");
    std::fs::write(
        &list,
        format!("# the web tier\n{}\n", targets[..5].join("\n")),
    )
    .unwrap();

    let model = ModelServer::start().await;
    model
        .script(
            "/api/chat",
            vec![Scripted::ok(native_text(
                "qwen3:4b",
                "Two unrelated faults: a full /srv/uploads and a crash-looping queue-worker.",
            ))],
        )
        .await;

    let home = tempfile::tempdir().unwrap();
    let mut cmd = support::tai_cmd(home.path());
    cmd.arg("fleet")
        .arg(format!("@{}", list.display()))
        .args(&targets[5..])
        .args(["--json", "--no-persist", "--ask", "--forks", "16"])
        .args(["--host-timeout", "60", "--category", "service", "-i"])
        .arg(&key)
        .arg("--known-hosts")
        .arg(&known_hosts)
        .args(["--ignore-ssh-config", "--base-url", &model.root_url()])
        .args(["--", "uploads fail and a worker keeps restarting"]);
    let t1 = std::time::Instant::now();
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    eprintln!("fleet: tai fleet took {:?}", t1.elapsed());
    let stdout = stdout_of(&out);
    let stderr = stderr_of(&out);
    let doc: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}\nstderr:\n{stderr}"));

    // Exit code 20: a host has a critical finding.
    assert_eq!(out.status.code(), Some(20), "{stderr}");
    assert!(stderr.contains("fleet: 14/14 done, 2 failed"), "{stderr}");

    let hosts = doc["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 14);
    let by_name = |n: &str| hosts.iter().find(|h| h["host"] == n).unwrap().clone();
    for t in targets
        .iter()
        .filter(|t| **t != closed && **t != changed.target())
    {
        let h = by_name(t);
        assert!(h["error"].is_null(), "{t}: {}", h["error"]);
        assert!(h["calls"].as_u64().unwrap() >= 10, "{t}: {h}");
        assert!(h["figures"]["disk_use_pct"].is_number(), "{t}: {h}");
    }

    let summary = &doc["summary"];
    let groups = summary["groups"].as_array().unwrap();
    let hosts_of = |kind: &str| -> Vec<String> {
        groups
            .iter()
            .filter(|g| g["kind"] == kind)
            .flat_map(|g| g["hosts"].as_array().unwrap().clone())
            .map(|h| h.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        hosts_of("filesystem_full"),
        vec![disk.target()],
        "{summary}"
    );
    assert_eq!(
        hosts_of("unit_crash_loop"),
        vec![crash.target()],
        "{summary}"
    );
    // Both broken hosts are critical (a full filesystem, a crash loop); no healthy one is.
    let mut critical: Vec<&str> = summary["critical_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    critical.sort();
    let mut broken = [disk.target(), crash.target()];
    broken.sort();
    assert_eq!(critical, broken, "{summary}");
    // The full filesystem is also an outlier on disk use against the fleet median.
    assert!(
        summary["outliers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["figure"] == "disk_use_pct" && o["host"] == disk.target().as_str()),
        "{summary}"
    );

    let unreachable = summary["unreachable"].as_array().unwrap();
    let reason = |t: &str| {
        unreachable
            .iter()
            .find(|u| u["host"] == t)
            .map(|u| u["reason"].as_str().unwrap().to_string())
    };
    assert_eq!(reason(&closed).as_deref(), Some("refused"), "{summary}");
    assert_eq!(
        reason(&changed.target()).as_deref(),
        Some("host_key_changed"),
        "{summary}"
    );
    assert_eq!(unreachable.len(), 2, "{summary}");

    // --ask: one request, the summary in it (hosts and calls to cite), no raw outputs.
    assert!(doc["analysis"]
        .as_str()
        .unwrap()
        .contains("crash-looping queue-worker"));
    let reqs = model.requests("/api/chat").await;
    assert_eq!(reqs.len(), 1);
    let sent = reqs[0].to_string();
    assert!(sent.contains("Findings across hosts"), "{sent}");
    assert!(
        sent.contains(&disk.target()) && sent.contains(&crash.target()),
        "{sent}"
    );
    assert!(
        sent.contains("disk_usage") && sent.contains("host_key_changed"),
        "{sent}"
    );
    for raw in [
        "Mounted on",
        "load average:",
        "Local Address:Port",
        "buff/cache",
    ] {
        assert!(!sent.contains(raw), "raw output {raw:?} was sent: {sent}");
    }

    disk.finish();
    crash.finish();

    // Text mode on the healthy hosts plus the closed port: a line per host as it finishes, no
    // outlier among identical hosts, the unreachable one with its reason, exit code 21.
    let mut cmd = support::tai_cmd(home.path());
    cmd.arg("fleet")
        .args(&targets[..10])
        .arg(&closed)
        .args(["--no-persist", "--category", "disk", "-i"])
        .arg(&key)
        .arg("--known-hosts")
        .arg(&known_hosts)
        .args(["--ignore-ssh-config", "--issue", "is /var full?"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(21), "{text}\n{}", stderr_of(&out));
    assert_eq!(
        text.lines().filter(|l| l.starts_with("✓ ")).count(),
        10,
        "{text}"
    );
    assert!(
        text.contains("Outliers against the fleet median:\n  none"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Not reached:\n  {closed} (refused)")),
        "{text}"
    );
    eprintln!("fleet: test took {:?}", t0.elapsed());
}
