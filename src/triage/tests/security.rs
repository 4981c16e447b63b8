//! Tests for the security detectors: AppArmor and SELinux denials (enforcing vs complain and
//! permissive) and PAM lockouts (faillock, tally2) against internet noise.
use super::*;

fn kernel(stdout: &str) -> ToolOutcome {
    outcome("T2", "kernel_log", "journalctl -k --no-pager", stdout)
}

#[test]
fn apparmor_denials_grouped_by_profile() {
    let log = r#"Nov 25 11:50:01 db01 kernel: audit: type=1400 audit(1795600201.123:45): apparmor="DENIED" operation="open" class="file" profile="/usr/sbin/mysqld" name="/srv/mysql/ibdata1" pid=1234 comm="mysqld" requested_mask="wr" denied_mask="wr" fsuid=112 ouid=112
Nov 25 11:50:01 db01 kernel: audit: type=1400 audit(1795600201.124:46): apparmor="DENIED" operation="mknod" class="file" profile="/usr/sbin/mysqld" name="/srv/mysql/ib_logfile0" pid=1234 comm="mysqld" requested_mask="c" denied_mask="c" fsuid=112 ouid=112
Nov 25 11:50:02 db01 kernel: audit: type=1400 audit(1795600202.000:47): apparmor="DENIED" operation="capable" class="cap" profile="/usr/sbin/chronyd" pid=700 comm="chronyd" capability=1  capname="dac_override"
"#;
    let f = run(&[kernel(log)]);
    let a: Vec<&Finding> = f.iter().filter(|x| x.kind == "apparmor_denied").collect();
    assert_eq!(a.len(), 2, "{f:#?}");
    let m = a.iter().find(|x| x.subject == "/usr/sbin/mysqld").unwrap();
    assert_eq!(m.severity, Severity::Critical);
    assert!(
        m.summary.contains("mysqld open /srv/mysql/ibdata1 (wr)"),
        "{}",
        m.summary
    );
    assert_eq!(m.evidence.len(), 2);
    let c = a.iter().find(|x| x.subject == "/usr/sbin/chronyd").unwrap();
    assert!(
        c.summary.contains("capability dac_override"),
        "{}",
        c.summary
    );
}

#[test]
fn apparmor_allowed_and_status_lines_are_not_denials() {
    let log = r#"Nov 25 11:50:01 db01 kernel: audit: type=1400 audit(1795600201.123:45): apparmor="ALLOWED" operation="open" class="file" profile="/usr/sbin/mysqld" name="/srv/mysql/ibdata1" pid=1234 comm="mysqld" requested_mask="r" denied_mask="r" fsuid=112 ouid=112
Nov 25 11:00:00 db01 kernel: audit: type=1400 audit(1795597200.000:5): apparmor="STATUS" operation="profile_load" profile="unconfined" name="/usr/sbin/mysqld" pid=600 comm="apparmor_parser"
Nov 25 11:00:00 db01 systemd[1]: Finished apparmor.service - Load AppArmor profiles.
"#;
    none(&run(&[kernel(log)]));
}

#[test]
fn selinux_enforcing_denial_is_critical_permissive_a_warning() {
    let log = r#"Nov 25 11:50:01 web01 kernel: audit: type=1400 audit(1795600201.311:812): avc:  denied  { read } for  pid=2210 comm="httpd" name="index.html" dev="dm-0" ino=1573051 scontext=system_u:system_r:httpd_t:s0 tcontext=unconfined_u:object_r:user_home_t:s0 tclass=file permissive=0
Nov 25 11:50:02 web01 setroubleshoot[3001]: SELinux is preventing /usr/sbin/httpd from read access on the file index.html. For complete SELinux messages run: sealert -l 5d1e0c2a-9c1f-4b6e-8f3a-1d2c3b4a5e6f
"#;
    let f = run(&[journal(log)]);
    let s = only(&f, "selinux_denied");
    assert_eq!(s.severity, Severity::Critical);
    assert!(
        s.summary
            .contains("httpd (httpd_t) { read } on file index.html (user_home_t)"),
        "{}",
        s.summary
    );
    assert_eq!(s.evidence.len(), 2, "{:?}", s.evidence);

    // auditd's own log format, a port denial, and no permissive= field (older kernels).
    let audit = r#"type=AVC msg=audit(1795600201.311:813): avc:  denied  { name_connect } for  pid=2211 comm="httpd" dest=5432 scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:postgresql_port_t:s0 tclass=tcp_socket"#;
    let f = run(&[outcome(
        "T4",
        "read_file",
        "tail -n 200 /var/log/audit/audit.log",
        audit,
    )]);
    let s = only(&f, "selinux_denied");
    assert_eq!(s.severity, Severity::Critical);
    assert!(s.summary.contains("tcp_socket 5432"), "{}", s.summary);

    let permissive = r#"Nov 25 11:50:01 web01 kernel: audit: type=1400 audit(1795600201.311:812): avc:  denied  { write } for  pid=2210 comm="php-fpm" name="cache" dev="dm-0" ino=1573052 scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:httpd_sys_content_t:s0 tclass=dir permissive=1"#;
    let s = only(&run(&[kernel(permissive)]), "selinux_denied");
    assert_eq!(s.severity, Severity::Warning);
    assert!(s.summary.contains("permissive"), "{}", s.summary);
}

#[test]
fn selinux_granted_and_policy_loads_are_quiet() {
    let log = r#"Nov 25 11:00:00 web01 kernel: audit: type=1403 audit(1795597200.000:3): auid=4294967295 ses=4294967295 lsm=selinux res=1
Nov 25 11:00:00 web01 kernel: SELinux:  policy capability network_peer_controls=1
Nov 25 11:50:01 web01 kernel: audit: type=1400 audit(1795600201.311:814): avc:  granted  { setsecparam } for  pid=3100 comm="tuned" scontext=system_u:system_r:tuned_t:s0 tcontext=system_u:object_r:security_t:s0 tclass=security
"#;
    none(&run(&[kernel(log)]));
}

#[test]
fn faillock_lockout_is_not_internet_noise() {
    let log = "\
Nov 25 11:40:00 bastion sshd[3001]: Invalid user admin from 203.0.113.5 port 51234
Nov 25 11:40:01 bastion sshd[3001]: Failed password for invalid user admin from 203.0.113.5 port 51234 ssh2
Nov 25 11:41:10 bastion sshd[3010]: Failed password for alice from 198.51.100.20 port 40112 ssh2
Nov 25 11:41:20 bastion sshd[3010]: pam_faillock(sshd:auth): Consecutive login failures for user alice account temporarily locked
Nov 25 11:45:00 bastion sshd[3020]: Failed password for alice from 198.51.100.20 port 40200 ssh2
";
    let f = run(&[journal(log)]);
    let l = only(&f, "account_locked");
    assert_eq!(l.subject, "alice");
    assert_eq!(l.severity, Severity::Critical);
    assert!(l.summary.contains("sshd"), "{}", l.summary);
    assert!(!f
        .iter()
        .any(|x| x.kind == "account_locked" && x.subject == "admin"));
}

#[test]
fn pam_tally2_over_the_limit_and_a_later_login() {
    let log = "\
Nov 25 11:41:10 db01 sshd[3010]: pam_tally2(sshd:auth): user bob (1002) tally 6, deny 5
";
    let l = only(&run(&[journal(log)]), "account_locked");
    assert_eq!(l.subject, "bob");
    // Under the limit: counting, not locked.
    let under =
        "Nov 25 11:41:10 db01 sshd[3010]: pam_tally2(sshd:auth): user bob (1002) tally 2, deny 5";
    none(&run(&[journal(under)]));
    // Locked, then logged in (the lock expired or was reset): resolved.
    let later = "\
Nov 25 10:41:20 bastion sshd[3010]: pam_faillock(sshd:auth): Consecutive login failures for user alice account temporarily locked
Nov 25 11:30:00 bastion sshd[3300]: Accepted publickey for alice from 198.51.100.20 port 40500 ssh2: ED25519 SHA256:abc
";
    assert_eq!(
        only(&run(&[journal(later)]), "account_locked").severity,
        Severity::Info
    );
}

#[test]
fn denials_in_auditd_s_own_log() {
    // /var/log/audit/audit.log: AppArmor through auditd, and an SELinux denial next to a
    // permissive one of another domain.
    let audit = r#"type=AVC msg=audit(1795600201.123:45): apparmor="DENIED" operation="open" profile="/usr/sbin/named" name="/srv/dns/zones/example.com.zone" pid=812 comm="named" requested_mask="r" denied_mask="r" fsuid=105 ouid=0
type=AVC msg=audit(1795600202.311:813): avc:  denied  { getattr } for  pid=2211 comm="php-fpm" path="/srv/app/config.php" dev="dm-2" ino=7731 scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:var_t:s0 tclass=file permissive=1
type=SYSCALL msg=audit(1795600202.311:813): arch=c000003e syscall=262 success=yes exit=0 a0=ffffff9c a1=55d0c a2=7ffd a3=0 items=1 ppid=1 pid=2211 auid=4294967295 uid=48 gid=48 euid=48 comm="php-fpm" exe="/usr/sbin/php-fpm" subj=system_u:system_r:httpd_t:s0 key=(null)
"#;
    let f = run(&[outcome(
        "T4",
        "read_file",
        "tail -n 200 /var/log/audit/audit.log",
        audit,
    )]);
    let a = only(&f, "apparmor_denied");
    assert_eq!(a.subject, "/usr/sbin/named");
    assert!(
        a.summary.contains("/srv/dns/zones/example.com.zone"),
        "{}",
        a.summary
    );
    let s = only(&f, "selinux_denied");
    assert_eq!(s.severity, Severity::Warning);
    assert!(s.summary.contains("/srv/app/config.php"), "{}", s.summary);
    // The same text quoted in a config file read is not a denial the host logged.
    none(&run(&[outcome(
        "T5",
        "read_file",
        "cat /etc/audit/rules.d/notes.txt",
        audit,
    )]));
}
