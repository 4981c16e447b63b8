//! Tests for the package manager detector: dpkg interrupted, locks, half-configured packages
//! (`dpkg --audit`, `dpkg -l`), rpm/yum locks, and what must stay quiet.
use super::*;

#[test]
fn dpkg_interrupted_with_half_configured_packages() {
    let log = "\
Nov 25 11:40:00 web01 apt-get[4100]: E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem.
";
    let audit = "\
The following packages are only half configured, probably due to problems
configuring them the first time.  The configuration should be retried using
dpkg --configure <package> or the configure menu option in dselect:
 postgresql-15        The World's Most Advanced Open Source Relational Database
 nginx-common         small, powerful, scalable web/proxy server - common files
";
    let f = run(&[
        journal(log),
        outcome("T8", "run_command", "dpkg --audit", audit),
    ]);
    let p = only(&f, "package_manager_broken");
    assert_eq!(p.severity, Severity::Critical);
    assert!(p.summary.contains("dpkg was interrupted"), "{}", p.summary);
    assert!(p
        .supporting
        .iter()
        .any(|s| s.line.contains("postgresql-15") && s.call_id == "T8"));
    assert!(p.actions.iter().any(|a| a.contains("dpkg --configure -a")));
}

#[test]
fn locks_held_and_failed_configure() {
    let log = "\
Nov 25 11:40:00 web01 apt-get[4100]: E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 2345 (unattended-upgr)
Nov 25 11:40:00 web01 apt-get[4100]: E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?
";
    let p = only(&run(&[journal(log)]), "package_manager_broken");
    // A lock alone: someone else is working; a warning.
    assert_eq!(p.severity, Severity::Warning);
    assert!(
        p.summary.contains("unattended-upgr (pid 2345)"),
        "{}",
        p.summary
    );
    let old = "\
Nov 25 11:40:00 web01 apt-get[4100]: E: Could not get lock /var/lib/dpkg/lock - open (11: Resource temporarily unavailable)
Nov 25 11:40:05 web01 apt-get[4101]: dpkg: error processing package mysql-server-8.0 (--configure):
";
    let p = only(&run(&[journal(old)]), "package_manager_broken");
    assert_eq!(p.severity, Severity::Critical);
    assert!(p.summary.contains("mysql-server-8.0"), "{}", p.summary);
}

#[test]
fn dpkg_l_half_installed_rows() {
    let l = "\
Desired=Unknown/Install/Remove/Purge/Hold
| Status=Not/Inst/Conf-files/Unpacked/halF-conf/Half-inst/trig-aWait/Trig-pend
|/ Err?=(none)/Reinst-required (Status,Err: uppercase=bad)
||/ Name           Version        Architecture Description
+++-==============-==============-============-=================================
ii  bash           5.2.15-2+b7    amd64        GNU Bourne Again SHell
iF  postgresql-15  15.10-0+deb12u1 amd64       The World's Most Advanced Open Source Relational Database
rc  apache2        2.4.62-1~deb12u1 amd64      Apache HTTP Server
";
    let p = only(
        &run(&[outcome("T8", "run_command", "dpkg -l", l)]),
        "package_manager_broken",
    );
    assert!(p.summary.contains("postgresql-15"), "{}", p.summary);
    assert!(!p.summary.contains("apache2"), "{}", p.summary);
}

#[test]
fn rpm_and_yum_locks() {
    let log = "\
Nov 25 11:40:00 c01 yum[900]: Existing lock /var/run/yum.pid: another copy is running as pid 812.
Nov 25 11:40:02 c01 rpm[901]: error: can't create transaction lock on /var/lib/rpm/.rpm.lock (Resource temporarily unavailable)
";
    let p = only(&run(&[journal(log)]), "package_manager_broken");
    assert!(p.summary.contains("yum (pid 812)"), "{}", p.summary);
}

#[test]
fn clean_audit_installed_packages_and_routine_apt_are_quiet() {
    let log = "\
Nov 25 06:10:00 web01 systemd[1]: Starting apt-daily-upgrade.service - Daily apt upgrade and clean activities...
Nov 25 06:10:30 web01 systemd[1]: apt-daily-upgrade.service: Deactivated successfully.
Nov 25 06:10:30 web01 dpkg[5000]: status installed libssl3:amd64 3.0.15-1~deb12u1
";
    none(&run(&[
        journal(log),
        outcome("T8", "run_command", "dpkg --audit", ""),
        outcome(
            "T9",
            "run_command",
            "dpkg -l bash",
            "ii  bash 5.2.15-2+b7 amd64 GNU Bourne Again SHell\n",
        ),
    ]));
}

#[test]
fn dpkg_s_status_half_configured() {
    let st = "\
Package: postgresql-15
Status: install ok half-configured
Priority: optional
Version: 15.10-0+deb12u1
";
    let p = only(
        &run(&[outcome("T8", "run_command", "dpkg -s postgresql-15", st)]),
        "package_manager_broken",
    );
    assert!(p.summary.contains("postgresql-15"), "{}", p.summary);
    let ok = "Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b7\n";
    none(&run(&[outcome("T8", "run_command", "dpkg -s bash", ok)]));
}
