//! Tests for where lines come from: `Source::classify`, command lines logged by sudo/cron/auditd,
//! and the story (a `ps` line that quotes an error is not the error).
use super::*;

fn classify(tool: &str, command: &str) -> (Source, String) {
    Source::classify(tool, command, &json!({}))
}

#[test]
fn classify_by_program_and_operands() {
    assert_eq!(
        classify("run_command", "journalctl -k -n 100"),
        (Source::Kernel, "journalctl".into())
    );
    assert_eq!(
        classify("kernel_log", "journalctl --dmesg").0,
        Source::Kernel
    );
    assert_eq!(classify("kernel_log", "journalctl -kb").0, Source::Kernel);
    assert_eq!(
        classify("read_journal", "journalctl --no-pager -n 200 -u nginx").0,
        Source::Journal
    );
    // A -k inside an option value is not the kernel flag.
    assert_eq!(
        classify("read_journal", "journalctl --grep kill -n 5").0,
        Source::Journal
    );
    assert_eq!(classify("run_command", "dmesg -T").0, Source::Kernel);
    assert_eq!(
        classify("read_file", "sudo -n tail -n 50 /var/log/nginx/error.log"),
        (Source::LogFile, "tail".into())
    );
    assert_eq!(
        classify("run_command", "grep -i error /var/log/syslog").0,
        Source::LogFile
    );
    assert_eq!(
        classify("run_command", "zcat /var/log/syslog.2.gz").0,
        Source::LogFile
    );
    assert_eq!(
        classify("read_file", "cat /etc/nginx/nginx.conf"),
        (Source::Command, "cat".into())
    );
    assert_eq!(
        classify("list_processes", "ps aux --sort=-%cpu"),
        (Source::Processes, "ps".into())
    );
    assert_eq!(
        classify("run_command", "timeout -k 2 10 env LC_ALL=C df -hT"),
        (Source::Command, "df".into())
    );
    // Tools without command records: by tool name, or by the path argument.
    assert_eq!(classify("read_journal", "").0, Source::Journal);
    assert_eq!(classify("kernel_log", "").0, Source::Kernel);
    assert_eq!(classify("list_processes", "").0, Source::Processes);
    assert_eq!(
        Source::classify("read_file", "", &json!({"path": "/var/log/auth.log"})).0,
        Source::LogFile
    );
    assert_eq!(
        Source::classify("read_file", "", &json!({"path": "/etc/hosts"})).0,
        Source::Command
    );
}

#[test]
fn command_lines_in_logs_are_not_errors() {
    for echo in [
        "Nov 25 11:00:00 web01 sudo[4242]:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/grep \"No space left\" /var/log/syslog",
        "Nov 25 11:00:00 web01 CRON[811]: (root) CMD (grep -c 'certificate has expired' /var/log/app.log > /tmp/x)",
        "type=EXECVE msg=audit(1795604400.123:812): argc=3 a0=\"grep\" a1=\"No space left on device\" a2=\"/var/log/syslog\"",
        "Nov 25 11:00:00 web01 kernel: audit: type=1309 audit(1795604400.123:812): argc=3 a0=\"grep\" a1=\"Out of memory\"",
        "type=PROCTITLE msg=audit(1795604400.123:812): proctitle=67726570",
    ] {
        assert!(is_command_echo(echo), "{echo}");
    }
    for real in [
        "Nov 25 11:00:00 db01 postgres[900]: FATAL:  could not write to file \"pg_wal/xlogtemp.900\": No space left on device",
        "Nov 25 11:00:00 web01 sudo[4242]: pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)",
    ] {
        assert!(!is_command_echo(real), "{real}");
    }
    let log = "\
Nov 25 11:00:00 web01 sudo[4242]:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/grep \"No space left on device\" /var/log/syslog
Nov 25 11:00:01 web01 CRON[811]: (root) CMD (openssl s_client -connect x:443 2>&1 | grep 'certificate has expired')
";
    none(&run(&[journal(log)]));
}

/// The story: a process whose arguments quote errors (an admin's grep, a tail -f, a
/// script) is not a finding; the same text in the journal is.
#[test]
fn process_listings_are_not_logs() {
    let ps = "\
USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
root           1  0.0  0.1 167744 11800 ?        Ss   Nov24   0:03 /sbin/init
alice       4242  0.0  0.0   6432  2200 pts/0    S+   10:59   0:00 grep No space left on device /var/log/syslog
alice       4243  0.0  0.0   6432  2200 pts/1    S+   10:59   0:00 tail -f /var/log/syslog
bob         4250  0.1  0.0  12000  4000 ?        S    10:59   0:00 /usr/local/bin/certcheck --alert-on certificate has expired --also Out of memory: Killed process 1 (x)
";
    let outcomes = [outcome("T7", "list_processes", "ps aux --sort=-%cpu", ps)];
    none(&run(&outcomes));
    // tai's own probes and config files are not logs either.
    none(&run(&[outcome_args(
        "T8",
        "read_file",
        json!({"path": "/etc/app/alerts.conf"}),
        "cat /etc/app/alerts.conf",
        "match = \"No space left on device\"\nmatch = \"certificate has expired\"\n",
    )]));
    let r = report(
        "web01",
        "disk is filling up",
        "disk",
        &outcomes,
        &run(&outcomes),
    );
    assert!(
        r.root_cause.starts_with("No fault found"),
        "{}",
        r.root_cause
    );
    // The same text as the journal logged it is a finding.
    let f = run(&[journal(
        "Nov 25 11:00:00 db01 postgres[900]: FATAL:  could not write to file \"pg_wal/xlogtemp.900\": No space left on device\n",
    )]);
    assert_eq!(kinds(&f), vec!["no_space"]);
}

#[test]
fn command_output_parsers_read_only_their_program() {
    // A df table printed by cat (a saved report) is not the state of the host's disks.
    none(&run(&[outcome_args(
        "T3",
        "read_file",
        json!({"path": "/root/df-last-week.txt"}),
        "cat /root/df-last-week.txt",
        DF_FULL,
    )]));
    assert!(!run(&[outcome("T3", "disk_usage", "df -hT", DF_FULL)]).is_empty());
    // ss-looking lines in a log are not listeners: the bind error finds no holder.
    let f = run(&[
        journal(NGINX_BIND),
        outcome("T2", "read_file", "cat /root/notes.txt", SS_LISTEN),
    ]);
    let p = only(&f, "port_conflict");
    assert!(
        p.summary.contains("was not in the collected output"),
        "{}",
        p.summary
    );
}
