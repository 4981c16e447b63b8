//! Database detectors: connection exhaustion, as the servers log it and as their clients report
//! it (the same error text travels to the application's log).
//!
//! PostgreSQL (src/backend/utils/init/postinit.c, 9.x–16): `FATAL:  sorry, too many clients
//! already`, `FATAL:  remaining connection slots are reserved for non-replication superuser
//! connections` (16: `… reserved for roles with the SUPERUSER attribute` / `… with privileges of
//! the "pg_use_reserved_connections" role`), `FATAL:  too many connections for role "app"` /
//! `for database "x"`. MySQL/MariaDB: `ERROR 1040 (HY000): Too many connections`
//! (`ER_CON_COUNT_ERROR`, SQLSTATE 08004 in some connectors), `Aborted connection … (Too many
//! connections)`, per-user limits (`max_user_connections`, errors 1203 and 1226).
use super::{ident, support, Block, Corpus, Detector, Finding, New, Severity};

/// The `postgres_connections` detector.
pub(super) const POSTGRES: Detector = Detector {
    journal: &[
        r"sorry, too many clients already",
        r"remaining connection slots are reserved",
        r"too many connections for (?:role|database)",
    ],
    sweep: &[],
    run: postgres,
};

/// The `mysql_connections` detector.
pub(super) const MYSQL: Detector = Detector {
    journal: &[
        r"too many connections",
        r"er_con_count_error",
        r"max_user_connections",
    ],
    sweep: &[],
    run: mysql,
};

/// The identifiers a database server logs under.
fn is_server(line: &str, names: &[&str]) -> bool {
    // A line without a syslog prefix comes from the server's own log file.
    ident(line).is_none_or(|i| names.iter().any(|n| i.starts_with(n)))
}

/// The log lines `keep` accepts, per log block, busiest block first: one finding is made from
/// all of them (the busiest block's call leads; the others' lines back it).
fn gather<'c>(c: &'c Corpus, keep: impl Fn(&str) -> bool) -> Vec<(&'c Block<'c>, Vec<String>)> {
    let mut v: Vec<(&Block, Vec<String>)> = c
        .logs()
        .map(|b| {
            (
                b,
                b.lines()
                    .filter(|l| keep(l))
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, ls)| !ls.is_empty())
        .collect();
    v.sort_by_key(|(_, ls)| std::cmp::Reverse(ls.len()));
    v
}

/// Every distinct line of `blocks`, in order.
fn distinct(blocks: &[(&Block, Vec<String>)]) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for (_, ls) in blocks {
        for l in ls {
            if !all.contains(l) {
                all.push(l.clone());
            }
        }
    }
    all
}

/// The finding built on the busiest block, with the other blocks' lines as support.
fn with_support(mut f: Finding, blocks: &[(&Block, Vec<String>)]) -> Finding {
    for (b, ls) in blocks.iter().skip(1) {
        for l in ls {
            if !f.evidence.contains(l) && f.supporting.len() < 4 {
                f.supporting.push(support(b, l));
            }
        }
    }
    f
}

/// PostgreSQL refuses connections: `max_connections` (or a role's/database's limit) reached.
fn postgres(c: &Corpus, out: &mut Vec<Finding>) {
    let r = re!(
        r#"sorry, too many clients already|remaining connection slots are reserved for|too many connections for (role|database) "([^"]+)""#
    );
    let blocks = gather(c, |l| r.is_match(l));
    let Some(b) = blocks.first().map(|(b, _)| *b) else {
        return;
    };
    {
        let lines = distinct(&blocks);
        let mut limited: Vec<String> = Vec::new();
        let mut clients: Vec<String> = Vec::new();
        let mut reserved = false;
        for line in &lines {
            let Some(m) = r.captures(line) else { continue };
            if let (Some(k), Some(n)) = (m.get(1), m.get(2)) {
                let s = format!("{} {}", k.as_str(), n.as_str());
                if !limited.contains(&s) {
                    limited.push(s);
                }
            }
            reserved |= line.contains("reserved for");
            if !is_server(line, &["postgres", "postmaster"]) {
                if let Some(i) = ident(line) {
                    if !clients.iter().any(|c| c == i) {
                        clients.push(i.to_string());
                    }
                }
            }
        }
        let what = if limited.is_empty() {
            if reserved {
                "max_connections is reached (only the superuser-reserved slots are left)"
                    .to_string()
            } else {
                "max_connections is reached".to_string()
            }
        } else {
            format!("the connection limit of {} is reached", limited.join(", "))
        };
        let seen_by = if clients.is_empty() {
            String::new()
        } else {
            format!("; seen by {}", clients.join(", "))
        };
        out.push(with_support(
            New {
                kind: "postgres_connections",
                category: "service",
                severity: Severity::Critical,
                rank: 76,
                subject: "postgresql".into(),
                summary: format!(
                    "PostgreSQL refuses new connections: {what} ({} line{}){seen_by}",
                    lines.len(),
                    super::plural(lines.len())
                ),
                block: b,
                evidence: blocks[0].1.clone(),
                actions: vec![
                    "See who holds the connections: `sudo -u postgres psql -c \"select usename, application_name, client_addr, state, count(*) from pg_stat_activity group by 1,2,3,4 order by 5 desc\"`".into(),
                    "Look for idle-in-transaction or leaked connections from one client (connection pool size × instances above max_connections); put a pooler (PgBouncer) in front or size the pools down".into(),
                    "Raise max_connections (restart needed) or the role's CONNECTION LIMIT only if the server has the memory for it".into(),
                ],
            }
            .build(),
            &blocks,
        ));
    }
}

/// MySQL/MariaDB refuses connections: `max_connections` (error 1040) or a per-user limit.
fn mysql(c: &Corpus, out: &mut Vec<Finding>) {
    let r = re!(r"(?i)\btoo many connections\b|\bER_CON_COUNT_ERROR\b|max_user_connections");
    // PostgreSQL's own wording is not MySQL's.
    let pg = re!(r#"(?i)too many connections for (?:role|database) ""#);
    let blocks = gather(c, |l| r.is_match(l) && !pg.is_match(l));
    let Some(b) = blocks.first().map(|(b, _)| *b) else {
        return;
    };
    {
        let lines = distinct(&blocks);
        let mut clients: Vec<String> = Vec::new();
        let mut per_user = false;
        for line in &lines {
            per_user |= line.contains("max_user_connections");
            if !is_server(line, &["mysqld", "mariadbd", "mysql", "mariadb"]) {
                if let Some(i) = ident(line) {
                    if !clients.iter().any(|c| c == i) {
                        clients.push(i.to_string());
                    }
                }
            }
        }
        let what = if per_user {
            "a user's max_user_connections is reached"
        } else {
            "max_connections is reached (error 1040, Too many connections)"
        };
        let seen_by = if clients.is_empty() {
            String::new()
        } else {
            format!("; seen by {}", clients.join(", "))
        };
        out.push(with_support(
            New {
                kind: "mysql_connections",
                category: "service",
                severity: Severity::Critical,
                rank: 76,
                subject: "mysql".into(),
                summary: format!(
                    "MySQL/MariaDB refuses new connections: {what} ({} line{}){seen_by}",
                    lines.len(),
                    super::plural(lines.len())
                ),
                block: b,
                evidence: blocks[0].1.clone(),
                actions: vec![
                    "See the count and the limit: `mysql -e \"SHOW GLOBAL STATUS LIKE 'Threads_connected'; SHOW GLOBAL STATUS LIKE 'Max_used_connections'; SHOW VARIABLES LIKE 'max_connections'\"` (MySQL keeps one extra slot for a SUPER/CONNECTION_ADMIN user)".into(),
                    "See who holds them: `mysql -e \"SELECT user, host, command, time FROM information_schema.processlist ORDER BY time DESC\"`: sleeping connections from one client mean a leak or an oversized pool (lower wait_timeout, fix the pool)".into(),
                    "Raise max_connections (`SET GLOBAL max_connections = N`, and in my.cnf) only if the server has the memory for it".into(),
                ],
            }
            .build(),
            &blocks,
        ));
    }
}
