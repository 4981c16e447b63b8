//! Tests for the database detectors: PostgreSQL and MySQL/MariaDB connection exhaustion.
use super::*;

#[test]
fn postgres_too_many_clients_server_and_clients() {
    let log = "\
Nov 25 10:00:01 db01 postgres[8801]: [3-1] 2026-11-25 10:00:01.101 UTC [8801] app@orders FATAL:  sorry, too many clients already
Nov 25 10:00:01 db01 postgres[8802]: [3-1] 2026-11-25 10:00:01.212 UTC [8802] report@orders FATAL:  remaining connection slots are reserved for non-replication superuser connections
Nov 25 10:00:02 db01 orders-api[9100]: psycopg2.OperationalError: connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  sorry, too many clients already
Nov 25 10:00:03 db01 billing[9200]: org.postgresql.util.PSQLException: FATAL: sorry, too many clients already
";
    let f = run(&[journal(log)]);
    let p = only(&f, "postgres_connections");
    assert_eq!(p.severity, Severity::Critical);
    assert!(
        p.summary.contains("max_connections is reached"),
        "{}",
        p.summary
    );
    assert!(p.summary.contains("orders-api, billing"), "{}", p.summary);
    assert!(!kinds(&f).contains(&"mysql_connections"), "{f:#?}");
}

#[test]
fn postgres_16_and_role_limits_in_its_log_file() {
    let log = "\
2026-11-25 10:00:01.101 UTC [8801] app@orders FATAL:  remaining connection slots are reserved for roles with the SUPERUSER attribute
2026-11-25 10:00:02.101 UTC [8802] etl@dw FATAL:  too many connections for role \"etl\"
";
    let f = run(&[outcome(
        "T2",
        "read_file",
        "tail -n 200 /var/log/postgresql/postgresql-16-main.log",
        log,
    )]);
    let p = only(&f, "postgres_connections");
    assert!(p.summary.contains("role etl"), "{}", p.summary);
    assert!(!kinds(&f).contains(&"mysql_connections"), "{f:#?}");
}

#[test]
fn postgres_look_alikes() {
    let log = "\
Nov 25 10:00:01 db01 postgres[8801]: [3-1] 2026-11-25 10:00:01.101 UTC [8801] app@orders FATAL:  password authentication failed for user \"app\"
Nov 25 10:00:02 db01 postgres[8800]: [1-1] 2026-11-25 10:00:02.101 UTC [8800] LOG:  connection received: host=10.0.0.5 port=51234
";
    none(&run(&[journal(log)]));
    // The setting in the config file is not an error.
    none(&run(&[outcome(
        "T2",
        "read_file",
        "grep max_connections /etc/postgresql/16/main/postgresql.conf",
        "max_connections = 100\t\t\t# (change requires restart)\n",
    )]));
}

#[test]
fn mysql_and_mariadb_too_many_connections() {
    let log = "\
Nov 25 10:00:01 web01 php-fpm8.2[7100]: PHP Fatal error:  Uncaught PDOException: SQLSTATE[HY000] [1040] Too many connections in /var/www/app/db.php:12
Nov 25 10:00:02 web01 api[7200]: Error 1040: Too many connections
Nov 25 10:00:03 web01 node[7300]: Error: ER_CON_COUNT_ERROR: Too many connections
Nov 25 10:00:04 db02 mariadbd[900]: 2026-11-25 10:00:04 1203 [Warning] Aborted connection 1203 to db: 'unconnected' user: 'unauthenticated' host: '10.0.0.7' (Too many connections)
";
    let m = only(&run(&[journal(log)]), "mysql_connections");
    assert!(m.summary.contains("error 1040"), "{}", m.summary);
    assert!(m.summary.contains("php-fpm8.2"), "{}", m.summary);
    assert_eq!(m.evidence.len(), 4);

    let user = "Nov 25 10:00:01 web01 app[7100]: ERROR 1203 (42000): User app already has more than 'max_user_connections' active connections\n";
    let u = only(&run(&[journal(user)]), "mysql_connections");
    assert!(u.summary.contains("max_user_connections"), "{}", u.summary);
}

#[test]
fn mysql_look_alikes() {
    let log = "\
Nov 25 10:00:01 db02 mysqld[900]: 2026-11-25T10:00:01.000000Z 12 [Note] [MY-010914] [Server] Aborted connection 12 to db: 'shop' user: 'app' host: '10.0.0.5' (Got timeout reading communication packets).
Nov 25 10:00:02 db02 mysqld[900]: 2026-11-25T10:00:02.000000Z 0 [System] [MY-010931] [Server] /usr/sbin/mysqld: ready for connections. Version: '8.0.36'  socket: '/var/run/mysqld/mysqld.sock'  port: 3306  MySQL Community Server - GPL.
Nov 25 10:00:03 web01 app[7100]: ERROR 1045 (28000): Access denied for user 'app'@'10.0.0.5' (using password: YES)
";
    none(&run(&[journal(log)]));
}

#[test]
fn one_finding_from_several_calls_led_by_the_busiest() {
    // The priority-filtered journal read sees one client's lines, the sweep's search all of them.
    let err = "Nov 25 10:00:02 web01 api[7200]: Error 1040: Too many connections\n";
    let all = "\
Nov 25 10:00:01 web01 php-fpm8.2[7100]: [pool www] child 7123 said into stderr: \"PHP Fatal error:  Uncaught PDOException: SQLSTATE[HY000] [1040] Too many connections in /var/www/shop/lib/Db.php:31\"
Nov 25 10:00:02 web01 api[7200]: Error 1040: Too many connections
Nov 25 10:00:03 web01 php-fpm8.2[7100]: [pool www] child 7124 said into stderr: \"PHP Fatal error:  Uncaught PDOException: SQLSTATE[HY000] [1040] Too many connections in /var/www/shop/lib/Db.php:31\"
";
    let f = run(&[
        outcome(
            "T1",
            "read_journal",
            "journalctl --no-pager -p err -n 100",
            err,
        ),
        outcome(
            "T2",
            "read_journal",
            "journalctl --no-pager --grep 'too many connections'",
            all,
        ),
    ]);
    let m = only(&f, "mysql_connections");
    assert_eq!(m.call_id, "T2");
    assert!(
        m.summary.contains("(3 lines); seen by php-fpm8.2, api"),
        "{}",
        m.summary
    );
}
