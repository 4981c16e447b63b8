//! `tai fleet` end to end on loopback: ten plain sshd hosts, two scenario hosts that are broken
//! (`disk-full`: a full filesystem; `crash-loop`: a unit systemd restarts forever), one closed
//! port, one host whose key changed, and one whose dpkg database has an older openssh-server.
//! Every host shares one client key and one known_hosts file. The summary must name the broken
//! hosts under their findings, list the unreachable ones with the reason (refused; changed host
//! key, a stop for that host only), flag the older package version, and every other host must
//! complete. `--ask` goes to a wiremock model in Ollama's native wire format: the one request
//! carries the fleet summary, not the hosts' raw outputs.
//!
//! Every loopback host is this machine, so its packages are this machine's. The older host is
//! an sshd whose sessions get `DPKG_ADMINDIR` (sshd_config `SetEnv`) naming a copy of this
//! machine's `/var/lib/dpkg/status` with openssh-server's `Version:` changed: the real
//! `dpkg-query` that `package_version` runs reads it there, as it would on a host not upgraded.
use std::path::Path;

use serde_json::Value;

use crate::support::model::{native_text, ModelServer, Scripted};
use crate::support::scenario::Scenario;
use crate::support::sshd::{free_port, keygen, Sshd};
use crate::support::{self, stderr_of, stdout_of};

/// This machine's installed openssh-server version (the tests run on Debian, as CI does).
fn installed_sshd_version() -> String {
    let out = std::process::Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", "openssh-server"])
        .output()
        .expect("dpkg-query (the fleet test runs on Debian, as CI does)");
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && !v.is_empty(),
        "openssh-server is not installed by dpkg"
    );
    v
}

/// A dpkg database in `dir`: this machine's, with openssh-server at `version`.
fn dpkg_db_with_sshd_at(dir: &Path, version: &str) {
    let status = std::fs::read_to_string("/var/lib/dpkg/status").unwrap();
    let mut changed = 0;
    let stanzas: Vec<String> = status
        .split("\n\n")
        .map(|st| {
            if !st.starts_with("Package: openssh-server\n") {
                return st.to_string();
            }
            changed += 1;
            st.lines()
                .map(|l| {
                    if l.starts_with("Version: ") {
                        format!("Version: {version}")
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    assert_eq!(
        changed, 1,
        "one openssh-server stanza in /var/lib/dpkg/status"
    );
    for sub in ["info", "updates"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(dir.join("status"), stanzas.join("\n\n")).unwrap();
}

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
    let sshd_version = installed_sshd_version();
    let older = if sshd_version == "1:8.4p1-5+deb11u3" {
        "1:8.4p1-5+deb11u1"
    } else {
        "1:8.4p1-5+deb11u3"
    };
    let dpkg_db = work.path().join("dpkg");
    dpkg_db_with_sshd_at(&dpkg_db, older);

    // Broken hosts come up in their own threads (journal build, setup.sh) while the plain ones start.
    let disk = std::thread::spawn(|| Scenario::start("disk-full"));
    let crash = std::thread::spawn(|| Scenario::start("crash-loop"));
    // The plain hosts get the scenario hosts' shared shims first on PATH (`uptime`: booted 80
    // minutes ago, calm load), so a test machine busy with the rest of the suite does not make
    // every healthy host critical for load.
    let shims = crate::support::scenario::scenarios_dir().join("_shared/shims");
    let path = format!(
        "PATH={}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        shims.display()
    );
    let plain: Vec<Sshd> = (0..10)
        .map(|_| {
            Sshd::builder()
                .quiet_shell()
                .config(&format!("SetEnv {path}"))
                .start()
        })
        .collect();
    let mut changed = Sshd::builder().quiet_shell().start();
    let not_upgraded = Sshd::builder()
        .quiet_shell()
        .config(&format!(
            "SetEnv {path} DPKG_ADMINDIR={}",
            dpkg_db.display()
        ))
        .start();
    let (disk, crash) = (disk.join().unwrap(), crash.join().unwrap());
    eprintln!("fleet: 15 hosts up in {:?}", t0.elapsed());

    let mut known = String::new();
    for s in plain.iter().chain([&changed, &not_upgraded]) {
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
        not_upgraded.target(),
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
        .args(["--host-timeout", "60", "--category", "service"])
        .args(["--package", "openssh-server", "-i"])
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
    assert!(stderr.contains("fleet: 15/15 done, 2 failed"), "{stderr}");

    let hosts = doc["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 15);
    let by_name = |n: &str| hosts.iter().find(|h| h["host"] == n).unwrap().clone();
    for t in targets
        .iter()
        .filter(|t| **t != closed && **t != changed.target())
    {
        let h = by_name(t);
        assert!(h["error"].is_null(), "{t}: {}", h["error"]);
        assert!(h["calls"].as_u64().unwrap() >= 10, "{t}: {h}");
        assert!(h["figures"]["disk_use_pct"].is_number(), "{t}: {h}");
        // Every reached host reports the package's version: the installed one, except the
        // host whose dpkg database has the older one.
        let want = if *t == not_upgraded.target() {
            older
        } else {
            sshd_version.as_str()
        };
        assert_eq!(
            h["figures"]["package_versions"]["openssh-server"], want,
            "{t}: {h}"
        );
        // The plain hosts answer with the shared `uptime` shim (load average 0.31).
        if plain.iter().any(|p| p.target() == *t) {
            let per_core = h["figures"]["load_per_core"].as_f64().unwrap_or(f64::NAN);
            assert!(per_core <= 0.31, "{t}: the uptime shim was not used: {h}");
        }
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

    // The older openssh-server is the one package outlier, against the version of the 12 others.
    let package_outliers: Vec<&Value> = summary["outliers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["figure"] == "package_version")
        .collect();
    assert_eq!(package_outliers.len(), 1, "{summary}");
    let o = package_outliers[0];
    assert_eq!(o["host"], not_upgraded.target().as_str(), "{summary}");
    assert_eq!(o["package"], "openssh-server", "{summary}");
    assert_eq!(o["value"], older, "{summary}");
    assert_eq!(o["median"], sshd_version.as_str(), "{summary}");
    let packages = summary["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 1, "{summary}");
    assert_eq!(packages[0]["hosts"], 13, "{summary}");
    assert_eq!(packages[0]["usual"], sshd_version.as_str(), "{summary}");
    assert_eq!(
        packages[0]["versions"][1]["hosts"],
        serde_json::json!([not_upgraded.target()]),
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
    assert!(
        sent.contains(&format!(
            "openssh-server {sshd_version} on 12 of 13; {older} on {}",
            not_upgraded.target()
        )),
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
    // outlier among identical hosts, the package the issue names (sshd: openssh-server) at one
    // version everywhere, the unreachable one with its reason, exit code 21.
    let mut cmd = support::tai_cmd(home.path());
    cmd.arg("fleet")
        .args(&targets[..10])
        .arg(&closed)
        .args(["--no-persist", "--category", "disk", "-i"])
        .arg(&key)
        .arg("--known-hosts")
        .arg(&known_hosts)
        .args([
            "--ignore-ssh-config",
            "--issue",
            "is /var full? sshd cannot log",
        ]);
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
        text.contains(&format!(
            "Package versions:\n  openssh-server {sshd_version} on all 10 hosts\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("Not reached:\n  {closed} (refused)")),
        "{text}"
    );
    eprintln!("fleet: test took {:?}", t0.elapsed());
}
