//! Tests for the resource-limit detectors: file descriptors, tasks/pids, the conntrack table.
use super::*;

#[test]
fn fd_exhaustion_nginx_java_go_node_python() {
    let log = "\
Nov 25 09:00:01 web01 nginx[1201]: 2026/11/25 09:00:01 [crit] 1201#1201: accept4() failed (24: Too many open files)
Nov 25 09:00:02 web01 nginx[1201]: 2026/11/25 09:00:02 [crit] 1201#1201: *88123 open() \"/var/www/html/index.html\" failed (24: Too many open files), client: 10.0.0.5, server: _, request: \"GET / HTTP/1.1\"
Nov 25 09:00:03 web01 java[2211]: java.net.SocketException: Too many open files
Nov 25 09:00:03 web01 java[2211]: \tat java.base/sun.nio.ch.Net.accept(Native Method)
Nov 25 09:00:04 web01 api[3301]: 2026/11/25 09:00:04 http: Accept error: accept tcp [::]:8080: accept4: too many open files; retrying in 5ms
Nov 25 09:00:05 web01 node[4401]: Error: EMFILE: too many open files, open '/srv/app/uploads/a.png'
Nov 25 09:00:06 web01 gunicorn[5501]: OSError: [Errno 24] Too many open files
Nov 25 09:00:07 web01 haproxy[6601]: [WARNING]  (6601) : Proxy fe_http reached process FD limit (maxsock=4096). Please check 'ulimit-n' and restart.
Nov 25 09:00:08 web01 indexer[7701]: Error: Os { code: 24, kind: Uncategorized, message: \"Too many open files\" }
";
    let f = run(&[journal(log)]);
    let subjects: Vec<&str> = f
        .iter()
        .filter(|x| x.kind == "fd_limit")
        .map(|x| x.subject.as_str())
        .collect();
    for s in [
        "nginx", "java", "api", "node", "gunicorn", "haproxy", "indexer",
    ] {
        assert!(subjects.contains(&s), "{s} missing in {subjects:?}");
    }
    let n = f.iter().find(|x| x.subject == "nginx").unwrap();
    assert_eq!(n.severity, Severity::Critical);
    assert!(n.evidence[0].contains("accept4() failed (24: Too many open files)"));
}

#[test]
fn fd_exhaustion_with_its_limit() {
    let log = "Nov 25 09:00:01 web01 nginx[1201]: 2026/11/25 09:00:01 [crit] 1201#1201: accept4() failed (24: Too many open files)\n";
    let show = "LimitNOFILE=1024\nLimitNOFILESoft=1024\n";
    let f = run(&[
        journal(log),
        outcome(
            "T2",
            "run_command",
            "systemctl show nginx -p LimitNOFILE -p LimitNOFILESoft",
            show,
        ),
    ]);
    let n = only(&f, "fd_limit");
    assert_eq!(n.supporting[0].line, "LimitNOFILE=1024");
    assert_eq!(n.supporting[0].call_id, "T2");
}

#[test]
fn system_wide_file_table_full() {
    let log = "\
Nov 25 09:00:01 web01 kernel: VFS: file-max limit 65536 reached
Nov 25 09:00:02 web01 sshd[900]: error: socket: Too many open files in system
";
    let f = run(&[
        outcome("T1", "kernel_log", "journalctl -k --no-pager", log),
        outcome(
            "T2",
            "run_command",
            "sysctl fs.file-nr net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max",
            "fs.file-nr = 65536\t0\t65536\n",
        ),
    ]);
    let s = only(&f, "fd_limit");
    assert_eq!(s.subject, "system");
    assert!(s.summary.contains("file-max 65536"), "{}", s.summary);
    assert!(s
        .supporting
        .iter()
        .any(|x| x.line.starts_with("fs.file-nr")));
}

#[test]
fn fd_limit_look_alikes() {
    let log = "\
Nov 25 09:00:01 db01 mysqld[800]: 2026-11-25T09:00:01.000000Z 0 [Warning] [MY-010140] [Server] Could not increase number of max_open_files to more than 10000 (request: 65535)
Nov 25 09:00:02 web01 systemd[1]: Started nginx.service - A high performance web server and a reverse proxy server.
Nov 25 09:00:03 web01 sudo[990]:    admin : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/usr/bin/grep -r Too many open files /var/log/nginx
";
    let f = run(&[journal(log)]);
    assert!(!kinds(&f).contains(&"fd_limit"), "{f:#?}");
    // The same text in a process listing is not a log line.
    let ps = "  PID %CPU COMMAND\n 4242  0.0 grep Too many open files /var/log/nginx/error.log\n";
    none(&run(&[outcome(
        "T3",
        "list_processes",
        "ps -eo pid,%cpu,args",
        ps,
    )]));
}

#[test]
fn pids_controller_and_fork_failures() {
    let log = "\
Nov 25 09:10:01 app01 kernel: cgroup: fork rejected by pids controller in /system.slice/worker.service
Nov 25 09:10:02 app01 worker[7000]: /usr/local/bin/run-job: fork: retry: Resource temporarily unavailable
Nov 25 09:10:03 app01 java[7100]: [0.412s][warning][os,thread] Failed to start thread \"Unknown thread\" - pthread_create failed (EAGAIN) for attributes: stacksize: 1024k, guardsize: 0k, detached.
Nov 25 09:10:03 app01 java[7100]: Exception in thread \"main\" java.lang.OutOfMemoryError: unable to create native thread: possibly out of memory or process/resource limits reached
Nov 25 09:10:04 app01 legacy[7200]: java.lang.OutOfMemoryError: unable to create new native thread
Nov 25 09:10:05 app01 postgres[7300]: 2026-11-25 09:10:05.001 UTC [7300] LOG:  could not fork new process for connection: Resource temporarily unavailable
Nov 25 09:10:06 app01 gateway[7400]: runtime: failed to create new OS thread (have 11 already; errno=11)
";
    let status = "\
● worker.service - Batch worker
     Loaded: loaded (/etc/systemd/system/worker.service; enabled; preset: enabled)
     Active: active (running) since Wed 2026-11-25 08:00:00 UTC; 1h 10min ago
      Tasks: 512 (limit: 512)
     Memory: 1.2G
";
    let f = run(&[
        outcome("T1", "kernel_log", "journalctl --no-pager", log),
        outcome(
            "T2",
            "service_status",
            "systemctl status worker --no-pager",
            status,
        ),
    ]);
    let w = f
        .iter()
        .find(|x| x.kind == "pids_limit" && x.subject == "worker.service")
        .expect("worker.service pids limit");
    assert!(w.summary.contains("TasksMax"), "{}", w.summary);
    assert!(w
        .supporting
        .iter()
        .any(|s| s.line.contains("Tasks: 512 (limit: 512)")));
    for s in ["worker", "java", "legacy", "postgres", "gateway"] {
        assert!(
            f.iter().any(|x| x.kind == "pids_limit" && x.subject == s),
            "{s}: {f:#?}"
        );
    }
}

#[test]
fn pids_look_alikes() {
    let log = "\
Nov 25 09:10:01 app01 systemd[1]: Started worker.service - Batch worker.
Nov 25 09:10:02 app01 kernel: cgroup: cgroup2: unknown option \"nsdelegate\"
Nov 25 09:10:03 app01 app[900]: forked worker 12 (pid 7012)
Nov 25 09:10:04 app01 app[900]: fork: Cannot allocate memory
";
    none(&run(&[journal(log)]));
}

#[test]
fn conntrack_table_full_with_count() {
    let log = "\
Nov 25 09:20:01 gw01 kernel: nf_conntrack: nf_conntrack: table full, dropping packet
Nov 25 09:20:01 gw01 kernel: net_ratelimit: 2311 callbacks suppressed
Nov 25 09:20:06 gw01 kernel: nf_conntrack: nf_conntrack: table full, dropping packet
";
    let old = "Nov 25 09:20:01 gw01 kernel: ip_conntrack: table full, dropping packet.\n";
    let sysctl = "\
fs.file-nr = 2080\t0\t9223372036854775807
net.netfilter.nf_conntrack_count = 262144
net.netfilter.nf_conntrack_max = 262144
";
    let f = run(&[
        outcome("T1", "kernel_log", "journalctl -k --no-pager", log),
        outcome(
            "T2",
            "run_command",
            "sysctl fs.file-nr net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max",
            sysctl,
        ),
    ]);
    let c = only(&f, "conntrack_full");
    assert_eq!(c.category, "network");
    assert!(
        c.summary.contains("262144 of 262144 entries (100%)"),
        "{}",
        c.summary
    );
    assert_eq!(c.supporting.len(), 2);
    assert!(!kinds(&f).contains(&"fd_limit"));
    only(&run(&[journal(old)]), "conntrack_full");
}

#[test]
fn conntrack_nearly_full_without_log_and_quiet_when_low() {
    let full = "net.netfilter.nf_conntrack_count = 64800\nnet.netfilter.nf_conntrack_max = 65536\n";
    let c = only(
        &run(&[outcome(
            "T2",
            "run_command",
            "sysctl net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max",
            full,
        )]),
        "conntrack_full",
    );
    assert_eq!(c.severity, Severity::Critical);
    let low = "net.netfilter.nf_conntrack_count = 1204\nnet.netfilter.nf_conntrack_max = 262144\n";
    none(&run(&[outcome(
        "T2",
        "run_command",
        "sysctl net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max",
        low,
    )]));
    // Module loaded messages are not a full table.
    none(&run(&[journal(
        "Nov 25 09:20:01 gw01 kernel: nf_conntrack: default automatic helper assignment has been turned off for security reasons and CT-based firewall rule not found. Use the iptables CT target to attach helpers instead.\n",
    )]));
}

#[test]
fn limit_messages_outside_logs_are_not_findings() {
    // An admin's greps and a runbook-like script in the process table, and a config file.
    let ps = "\
    PID    PPID USER     %CPU %MEM   RSS STAT     ELAPSED     TIME COMMAND
   4242    4100 root      0.0  0.0  2100 S+         00:05 00:00:00 grep -c nf_conntrack: table full, dropping packet /var/log/kern.log
   4243    4100 root      0.0  0.0  2100 S+         00:05 00:00:00 grep -r fork rejected by pids controller|Too many open files|sorry, too many clients already /var/log
   4244    4100 root      0.0  0.0  2100 S+         00:05 00:00:00 tail -f /var/log/syslog --grep=Dependency failed for|Start request repeated too quickly
";
    none(&run(&[outcome(
        "T3",
        "list_processes",
        "ps -eww -o pid,ppid,user,%cpu,%mem,rss,stat,etime,time,args --sort=-%cpu",
        ps,
    )]));
    let conf = "# If you see \"nf_conntrack: table full, dropping packet\" raise this:\nnet.netfilter.nf_conntrack_max = 262144\n";
    none(&run(&[outcome(
        "T4",
        "read_file",
        "cat /etc/sysctl.d/90-conntrack.conf",
        conf,
    )]));
}
