//! The SSH transport through the `tai` binary against a real sshd: `tai doctor HOST` learns an
//! unknown host, stops with exit 6 when the host key changed, and exits 5 with a clear
//! message for an encrypted key without a terminal.
use crate::support;

use std::path::Path;
use std::process::Output;

use crate::support::sshd::Sshd;

/// `tai doctor TARGET -i KEY --known-hosts KH --json`, model endpoint pointed at a closed port.
fn doctor(home: &Path, target: &str, key: &Path, kh: &Path) -> Output {
    support::tai_cmd(home)
        .args(["doctor", target, "--json", "--ignore-ssh-config"])
        .args(["--base-url", "http://127.0.0.1:9/v1"])
        .arg("-i")
        .arg(key)
        .arg("--known-hosts")
        .arg(kh)
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn doctor_learns_then_refuses_a_changed_host_key_with_exit_6() {
    let mut sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let kh = home.path().join("known_hosts");

    let out = doctor(home.path(), &sshd.target(), sshd.client_key(), &kh);
    let v = json(&out);
    assert_eq!(v["host_key"]["status"], "learned", "{v}");
    assert_eq!(v["user"], sshd.user.as_str());
    assert_eq!(v["hostname"], "127.0.0.1");
    assert_eq!(v["port"], sshd.port);
    assert!(v["connect_ms"].as_u64().is_some(), "{v}");
    // `uname -srm` ran over SSH through the policy: the kernel name is in the answer.
    assert!(
        v["remote_os"].as_str().is_some_and(|s| s.contains("Linux")),
        "{v}"
    );
    let old_fp = v["fingerprint"].as_str().unwrap().to_string();
    let recorded = std::fs::read_to_string(&kh).unwrap();
    assert!(
        recorded.starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", sshd.port)),
        "{recorded}"
    );

    let out = doctor(home.path(), &sshd.target(), sshd.client_key(), &kh);
    assert_eq!(json(&out)["host_key"]["status"], "known");

    sshd.replace_host_key();
    let out = doctor(home.path(), &sshd.target(), sshd.client_key(), &kh);
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{err}"
    );
    assert!(err.contains(&format!("{}:1", kh.display())), "{err}");
    assert!(err.contains(&old_fp), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{}", sshd.port)), "{err}");
    // The new key was not learned and the server never saw a login.
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), recorded);
    let log = sshd.log_text();
    let after_restart = log.rsplit("Server listening").next().unwrap_or("");
    assert!(!after_restart.contains("Accepted publickey"), "{log}");
}

#[test]
fn doctor_with_an_encrypted_key_and_no_terminal_exits_5_naming_the_key() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let enc = home.path().join("id_encrypted");
    std::fs::copy(sshd.client_key(), &enc).unwrap();
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-p", "-N", "pass-phrase", "-P", "", "-f"])
        .arg(&enc)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let out = doctor(
        home.path(),
        &sshd.target(),
        &enc,
        &home.path().join("known_hosts"),
    );
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&enc.display().to_string()), "{err}");
    assert!(err.contains("encrypted"), "{err}");
    assert!(err.contains("ssh-add"), "{err}");
}

#[test]
fn doctor_resolve_only_reports_alias_include_and_jump_chain_without_connecting() {
    let home = tempfile::tempdir().unwrap();
    let inc = home.path().join("hosts.conf");
    std::fs::write(
        &inc,
        "Host web01\n  HostName 10.1.2.3\n  User ops\n  Port 2201\n  ProxyJump jump@bastion:2222,inner\n",
    )
    .unwrap();
    let cfg = home.path().join("config");
    std::fs::write(
        &cfg,
        format!(
            "Include {}\nHost bastion\n  HostName 10.9.9.9\nHost *\n  IdentityFile ~/.ssh/id_test\n",
            inc.display()
        ),
    )
    .unwrap();
    let out = support::tai_cmd(home.path())
        .args(["doctor", "web01", "--resolve-only", "--json", "-F"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v = json(&out);
    assert_eq!(v["user"], "ops");
    assert_eq!(v["hostname"], "10.1.2.3");
    assert_eq!(v["port"], 2201);
    assert_eq!(v["proxy_jump"], "jump@bastion:2222,inner");
    assert_eq!(
        v["jump_chain"],
        serde_json::json!(["jump@10.9.9.9:2222", format!("{}@inner:22", local_user())])
    );
    assert_eq!(
        v["identity_files"],
        serde_json::json!([home.path().join(".ssh/id_test")])
    );
    // No connection was attempted: there is no connect time.
    assert!(v.get("connect_ms").is_none());
}

fn local_user() -> String {
    support::sshd::current_user()
}

#[test]
fn doctor_through_a_jump_host_checks_both_host_keys() {
    use support::sshd::JumpNet;
    let net = JumpNet::create();
    let bastion = Sshd::builder()
        .listen(&net.bastion_ip)
        .wrapper(&JumpNet::exec_in(&net.bastion_ns))
        .start();
    let target = Sshd::builder()
        .listen(&net.target_ip)
        .wrapper(&JumpNet::exec_in(&net.target_ns))
        .start();
    let home = tempfile::tempdir().unwrap();
    let kh = home.path().join("known_hosts");
    let out = support::tai_cmd(home.path())
        .args(["doctor", &target.target(), "--json", "--ignore-ssh-config"])
        .args(["--base-url", "http://127.0.0.1:9/v1"])
        .args(["-J", &bastion.target()])
        .arg("-i")
        .arg(bastion.client_key())
        .arg("-i")
        .arg(target.client_key())
        .arg("--known-hosts")
        .arg(&kh)
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(
        v["jump_chain"],
        serde_json::json!([format!(
            "{}@{}:{}",
            bastion.user, net.bastion_ip, bastion.port
        )]),
        "{v}"
    );
    let hops = v["hops"].as_array().expect("hops");
    assert_eq!(hops.len(), 2, "{v}");
    assert!(
        hops.iter().all(|h| h["host_key"]["status"] == "learned"),
        "{v}"
    );
    assert_eq!(std::fs::read_to_string(&kh).unwrap().lines().count(), 2);
    assert!(target
        .log_text()
        .contains(&format!("from {} port", net.bastion_inner_ip)));
}

#[test]
fn encrypted_key_asks_for_its_passphrase_on_a_terminal_and_stores_it_nowhere() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let enc = home.path().join("id_encrypted");
    std::fs::copy(sshd.client_key(), &enc).unwrap();
    let passphrase = "correct-horse-7731";
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-p", "-N", passphrase, "-P", "", "-f"])
        .arg(&enc)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let kh = home.path().join("known_hosts");
    // `script` gives tai a pseudo-terminal; the passphrase is typed into it.
    let line = format!(
        "{} doctor {} --json --ignore-ssh-config --base-url http://127.0.0.1:9/v1 -i {} --known-hosts {}",
        env!("CARGO_BIN_EXE_tai"),
        sshd.target(),
        enc.display(),
        kh.display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("TAI_HOME", home.path().join(".tai"))
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux)");
    // Type the passphrase; keep the terminal's input open while tai runs (at most 20 s).
    let mut stdin = child.stdin.take().unwrap();
    let _typist = std::thread::spawn(move || {
        use std::io::Write;
        stdin
            .write_all(format!("{passphrase}\n").as_bytes())
            .unwrap();
        std::thread::sleep(std::time::Duration::from_secs(20));
        drop(stdin);
    });
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Enter passphrase for key"), "{text}");
    assert!(text.contains("\"status\": \"learned\""), "{text}");
    assert!(
        sshd.log_text().contains("Accepted publickey"),
        "{}",
        sshd.log_text()
    );
    // The passphrase is not written anywhere under HOME (the key file stays encrypted).
    for entry in walk(home.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(passphrase),
            "passphrase found in {}",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    for _ in 0..10_000 {
        let Some(d) = stack.pop() else { break };
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn collect_over_ssh_works_and_after_a_host_key_change_exits_6_running_nothing() {
    let mut sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let kh = home.path().join("known_hosts");
    let (target, key) = (sshd.target(), sshd.client_key().to_path_buf());
    let collect = |home: &Path| {
        support::tai_cmd(home)
            .args(["collect", &target, "--category", "disk"])
            .arg("-i")
            .arg(&key)
            .arg("--known-hosts")
            .arg(&kh)
            .output()
            .unwrap()
    };
    let out = collect(home.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("df "), "{text}");

    sshd.replace_host_key();
    let out = collect(home.path());
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{err}"
    );
    // Nothing ran: the restarted server never authenticated anyone.
    let log = sshd.log_text();
    let since_restart = log.rsplit("Server listening").next().unwrap_or("");
    assert!(!since_restart.contains("Accepted publickey"), "{log}");
    assert!(!since_restart.contains("Starting session"), "{log}");
}
