//! Tests for the auth detectors: sshd key refusals for bad modes, failed logins.
use super::*;

#[test]
fn sshd_bad_modes() {
    let log = "\
Nov 25 09:00:01 bastion sshd[5101]: Authentication refused: bad ownership or modes for file /root/.ssh/authorized_keys
Nov 25 09:00:01 bastion sshd[5101]: Connection closed by authenticating user root 192.0.2.10 port 50122 [preauth]
Nov 25 09:01:12 bastion sshd[5120]: Authentication refused: bad ownership or modes for file /root/.ssh/authorized_keys
";
    let f = run(&[journal(log)]);
    let m = only(&f, "auth_bad_modes");
    // The same refusal from another sshd process is quoted once.
    assert_eq!(m.evidence.len(), 1, "{:?}", m.evidence);
    assert_eq!(m.subject, "/root/.ssh/authorized_keys");
    assert_eq!(m.severity, Severity::Critical);
    assert_eq!(f[0].kind, "auth_bad_modes");
}

#[test]
fn ls_and_stat_show_writable_ssh_files() {
    let ls = "\
total 12
drwx------  2 deploy deploy 4096 Nov 25 08:00 .
drwxr-xr-x  5 deploy deploy 4096 Nov 25 08:00 ..
-rw-rw-rw-  1 deploy deploy  400 Nov 25 08:00 authorized_keys
-rw-r--r--  1 deploy deploy  222 Nov 25 08:00 known_hosts
";
    let f = run(&[outcome_args(
        "T2",
        "list_dir",
        json!({"path": "/home/deploy/.ssh"}),
        "ls -la /home/deploy/.ssh",
        ls,
    )]);
    let m = only(&f, "auth_bad_modes");
    assert_eq!(m.subject, "/home/deploy/.ssh/authorized_keys");
    assert_eq!(m.severity, Severity::Warning);

    let stat = "  File: /root/.ssh/authorized_keys\n  Size: 400\tBlocks: 8\tIO Block: 4096   regular file\nAccess: (0666/-rw-rw-rw-)  Uid: (    0/    root)   Gid: (    0/    root)\n";
    let f = run(&[outcome(
        "T3",
        "run_command",
        "stat /root/.ssh/authorized_keys",
        stat,
    )]);
    assert_eq!(
        only(&f, "auth_bad_modes").subject,
        "/root/.ssh/authorized_keys"
    );
}

#[test]
fn tight_modes_do_not_fire() {
    let ls = "\
drwx------  2 root root 4096 Nov 25 08:00 .ssh
-rw-------  1 root root  400 Nov 25 08:00 authorized_keys
-rw-r--r--  1 root root  400 Nov 25 08:00 id_ed25519.pub
drwxrwxrwt 10 root root 4096 Nov 25 08:00 tmp
";
    none(&run(&[outcome("T2", "list_dir", "ls -la /root", ls)]));
}

#[test]
fn failed_logins_are_counted_by_source() {
    let mut log = String::new();
    for i in 0..25 {
        log.push_str(&format!(
            "Nov 25 09:01:{:02} bastion sshd[{}]: Failed password for invalid user admin from 203.0.113.7 port {} ssh2\n",
            i,
            6000 + i,
            40000 + i
        ));
    }
    log.push_str(
        "Nov 25 09:02:00 bastion sshd[6100]: Invalid user oracle from 198.51.100.3 port 41000\n",
    );
    log.push_str("Nov 25 09:02:01 bastion sshd[6101]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.3\n");
    log.push_str("Nov 25 09:03:00 bastion sshd[6200]: Accepted publickey for deploy from 10.0.0.4 port 52000 ssh2: ED25519 SHA256:abc\n");
    let f = run(&[journal(&log)]);
    let a = only(&f, "auth_failures");
    // Scanners guessing invented names: counted, but ordinary noise.
    assert_eq!(a.severity, Severity::Info);
    assert!(a.summary.starts_with("27 failed"), "{}", a.summary);
    assert!(a.summary.contains("203.0.113.7 ×25"), "{}", a.summary);

    // Guessing a real account's password is a warning.
    let real = log.replace("for invalid user admin", "for deploy");
    let a = only(&run(&[journal(&real)]), "auth_failures");
    assert_eq!(a.severity, Severity::Warning);
}

#[test]
fn successful_logins_do_not_fire() {
    let log = "\
Nov 25 09:03:00 bastion sshd[6200]: Accepted publickey for deploy from 10.0.0.4 port 52000 ssh2: ED25519 SHA256:abc
Nov 25 09:03:00 bastion sshd[6200]: pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)
";
    none(&run(&[journal(log)]));
}
