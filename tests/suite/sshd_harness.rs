//! The harness itself works: a real sshd accepts the generated key through the OpenSSH client.

use crate::support::sshd::Sshd;

#[test]
fn openssh_client_logs_in_with_the_generated_key() {
    let sshd = Sshd::start();
    let kh = sshd.dir.path().join("client_known_hosts");
    let out = sshd
        .ssh_command(&kh)
        .args(["echo", "hello-from-sshd"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ssh failed: {}\nsshd log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        sshd.log_text()
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hello-from-sshd"
    );
    let learned = std::fs::read_to_string(&kh).unwrap();
    assert!(
        learned.contains(&format!("[127.0.0.1]:{}", sshd.port)),
        "{learned}"
    );
    assert_eq!(
        sshd.known_hosts_line().split_whitespace().nth(2),
        learned.split_whitespace().nth(2)
    );
}

#[test]
fn password_auth_is_off_on_the_test_server() {
    let sshd = Sshd::start();
    let kh = sshd.dir.path().join("kh");
    let out = std::process::Command::new("ssh")
        .args([
            "-p",
            &sshd.port.to_string(),
            "-o",
            "BatchMode=yes",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            &format!("UserKnownHostsFile={}", kh.display()),
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-F",
            "/dev/null",
            "127.0.0.1",
            "true",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Permission denied (publickey)"), "{err}");
}
