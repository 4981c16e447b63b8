//! Tests for the services detectors: bind conflicts, failed and crash-looping units, unreachable upstreams.
use super::*;

#[test]
fn nginx_bind_error_with_the_listener_from_ss() {
    let f = run(&[
        journal(NGINX_BIND),
        outcome("T2", "list_sockets", "ss -ltnp", SS_LISTEN),
    ]);
    let p = only(&f, "port_conflict");
    assert_eq!(p.category, "service");
    assert_eq!(p.severity, Severity::Critical);
    assert_eq!(p.call_id, "T1");
    assert!(p.summary.contains("nginx"), "{}", p.summary);
    assert!(p.summary.contains("perl (pid 4242)"), "{}", p.summary);
    assert!(p.evidence[0].contains("bind() to 0.0.0.0:80 failed (98: Address already in use)"));
    // The repeated bind error (nginx retries) is quoted once.
    assert_eq!(p.evidence.len(), 1, "{:?}", p.evidence);
    assert_eq!(p.supporting.len(), 1);
    assert_eq!(p.supporting[0].call_id, "T2");
    assert!(p.supporting[0].line.contains("\"perl\",pid=4242"));
    // The failed unit is seen too, but the port conflict explains it and ranks first.
    assert!(kinds(&f).contains(&"unit_failed"));
    assert_eq!(f[0].kind, "port_conflict");
}

#[test]
fn postgres_bind_error_takes_the_port_from_the_hint() {
    let log = "\
2026-11-25 08:10:01.123 UTC [812] LOG:  starting PostgreSQL 15.8 (Debian 15.8-0+deb12u1) on x86_64-pc-linux-gnu
2026-11-25 08:10:01.124 UTC [812] LOG:  could not bind IPv4 address \"127.0.0.1\": Address already in use
2026-11-25 08:10:01.124 UTC [812] HINT:  Is another postmaster already running on port 5432? If not, wait a few seconds and retry.
2026-11-25 08:10:01.124 UTC [812] WARNING:  could not create listen socket for \"localhost\"
2026-11-25 08:10:01.124 UTC [812] FATAL:  could not create any TCP/IP sockets
";
    let netstat = "\
Active Internet connections (only servers)
Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name
tcp        0      0 127.0.0.1:5432          0.0.0.0:*               LISTEN      990/postgres
";
    let f = run(&[
        outcome_args(
            "T4",
            "read_file",
            json!({"path": "/var/log/postgresql/postgresql-15-main.log"}),
            "tail -n 200 /var/log/postgresql/postgresql-15-main.log",
            log,
        ),
        outcome("T5", "list_sockets", "netstat -ltnp", netstat),
    ]);
    let p = only(&f, "port_conflict");
    assert_eq!(p.subject, "port 5432");
    assert!(p.summary.contains("postgres (pid 990)"), "{}", p.summary);
    assert!(p.evidence.iter().any(|e| e.contains("HINT:")));
}

#[test]
fn apache_go_node_sshd_and_redis_bind_errors() {
    let lines = "\
Nov 25 08:00:00 web01 apachectl[1200]: (98)Address already in use: AH00072: make_sock: could not bind to address [::]:443
Nov 25 08:00:01 web01 api[1300]: 2026/11/25 08:00:01 listen tcp :8080: bind: address already in use
Nov 25 08:00:02 web01 node[1400]: Error: listen EADDRINUSE: address already in use :::3000
Nov 25 08:00:03 web01 sshd[1500]: error: Bind to port 2222 on 0.0.0.0 failed: Address already in use.
Nov 25 08:00:04 web01 redis-server[1600]: 1600:M 25 Nov 2026 08:00:04.000 # Warning: Could not create server TCP listening socket *:6379: bind: Address already in use
";
    let f = run(&[journal(lines)]);
    let subjects: Vec<&str> = f
        .iter()
        .filter(|x| x.kind == "port_conflict")
        .map(|x| x.subject.as_str())
        .collect();
    for p in [
        "port 443",
        "port 8080",
        "port 3000",
        "port 2222",
        "port 6379",
    ] {
        assert!(subjects.contains(&p), "{p} missing from {subjects:?}");
    }
    let go = f.iter().find(|x| x.subject == "port 8080").unwrap();
    assert!(go.summary.starts_with("api "), "{}", go.summary);
    assert!(go.summary.contains("was not in the collected output"));
}

#[test]
fn listeners_alone_are_not_a_conflict() {
    none(&run(&[outcome(
        "T2",
        "list_sockets",
        "ss -ltnp",
        SS_LISTEN,
    )]));
}

#[test]
fn crash_looping_unit_from_the_journal() {
    let log = "\
Nov 25 07:40:11 app01 systemd[1]: myapp.service: Main process exited, code=exited, status=1/FAILURE
Nov 25 07:40:11 app01 systemd[1]: myapp.service: Failed with result 'exit-code'.
Nov 25 07:40:16 app01 systemd[1]: myapp.service: Scheduled restart job, restart counter is at 4.
Nov 25 07:40:16 app01 systemd[1]: Stopped myapp.service - My App.
Nov 25 07:40:16 app01 systemd[1]: Started myapp.service - My App.
Nov 25 07:40:17 app01 myapp[3001]: panic: open /etc/myapp/config.yaml: no such file or directory
Nov 25 07:40:17 app01 systemd[1]: myapp.service: Main process exited, code=exited, status=2/INVALIDARGUMENT
Nov 25 07:40:22 app01 systemd[1]: myapp.service: Scheduled restart job, restart counter is at 5.
";
    let f = run(&[journal(log)]);
    let c = only(&f, "unit_crash_loop");
    assert_eq!(c.subject, "myapp.service");
    assert!(c.summary.contains("5 times"), "{}", c.summary);
    assert!(c.evidence[0].contains("restart counter is at 5"));
    assert!(!kinds(&f).contains(&"unit_failed"), "{f:#?}");
}

#[test]
fn crash_loop_from_systemctl_status() {
    let status = "\
● myapp.service - My App
     Loaded: loaded (/etc/systemd/system/myapp.service; enabled; preset: enabled)
     Active: activating (auto-restart) (Result: exit-code) since Wed 2026-11-25 07:40:22 UTC; 3s ago
    Process: 3044 ExecStart=/usr/local/bin/myapp (code=exited, status=2)
   Main PID: 3044 (code=exited, status=2)
        CPU: 12ms
";
    let f = run(&[outcome(
        "T3",
        "service_status",
        "systemctl status myapp",
        status,
    )]);
    let c = only(&f, "unit_crash_loop");
    assert_eq!(c.subject, "myapp.service");
}

#[test]
fn failed_units_from_list_and_status() {
    let list = "\
  UNIT          LOAD   ACTIVE SUB    DESCRIPTION
● nginx.service loaded failed failed A high performance web server and a reverse proxy server

LOAD   = Reflects whether the unit definition was properly loaded.
1 loaded units listed.
";
    let f = run(&[outcome(
        "T1",
        "list_services",
        "systemctl list-units --failed --no-pager",
        list,
    )]);
    assert_eq!(only(&f, "unit_failed").subject, "nginx.service");

    let status = "\
× postgresql@15-main.service - PostgreSQL Cluster 15-main
     Loaded: loaded (/lib/systemd/system/postgresql@.service; enabled-runtime; preset: enabled)
     Active: failed (Result: protocol) since Wed 2026-11-25 08:10:02 UTC; 2min ago
";
    let f = run(&[outcome(
        "T2",
        "service_status",
        "systemctl status postgresql@15-main",
        status,
    )]);
    let u = only(&f, "unit_failed");
    assert_eq!(u.subject, "postgresql@15-main.service");
    assert!(u.summary.contains("result: protocol"), "{}", u.summary);
}

#[test]
fn healthy_units_do_not_fire() {
    let list = "  UNIT LOAD ACTIVE SUB DESCRIPTION\n0 loaded units listed.\n";
    let status = "\
● nginx.service - A high performance web server and a reverse proxy server
     Loaded: loaded (/lib/systemd/system/nginx.service; enabled; preset: enabled)
     Active: active (running) since Wed 2026-11-25 07:00:00 UTC; 1h ago
";
    let log = "\
Nov 25 07:00:00 web01 systemd[1]: Started nginx.service - A high performance web server and a reverse proxy server.
Nov 25 07:00:05 web01 systemd[1]: myapp.service: Scheduled restart job, restart counter is at 1.
Nov 25 07:00:05 web01 systemd[1]: myapp.service: Deactivated successfully.
";
    none(&run(&[
        outcome("T1", "list_services", "systemctl list-units --failed", list),
        outcome("T2", "service_status", "systemctl status nginx", status),
        journal(log),
    ]));
}

#[test]
fn upstream_refused() {
    let log = "2026/11/25 10:00:00 [error] 902#902: *19 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.9, server: shop.example.com, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:8080/\", host: \"shop.example.com\"\n";
    let f = run(&[outcome_args(
        "T3",
        "read_file",
        json!({"path": "/var/log/nginx/error.log"}),
        "tail /var/log/nginx/error.log",
        log,
    )]);
    let u = only(&f, "upstream_unreachable");
    assert_eq!(u.subject, "http://127.0.0.1:8080/");
}
