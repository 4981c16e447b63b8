//! Store search benchmark (not a test): `cargo bench --bench store_search`.
//!
//! Builds a TAI_HOME whose store holds 10,000 sessions and 1,000 generated runbook sections
//! (plus the bundled runbooks), then times `tai history QUERY` and `tai runbooks search QUERY`
//! as whole processes (the release binary, no embedding server: BM25 only), p50 and p90 over
//! every query and repetition. Baselines measured in the same run: `tai --version` (process
//! start alone), and in-process the search step before and after the persisted index (the
//! old path loaded every record and built BM25 per query; the new one reads the query terms'
//! postings), with the top-k compared between the two, and the one-time rebuild after a write
//! that does not maintain the index (a cleanup).
//!
//! Environment: `TAI_BENCH_SESSIONS` (default 10000), `TAI_BENCH_SECTIONS` (default 1000),
//! `TAI_BENCH_REPS` (runs per query, default 5), `TAI_BENCH_KEEP=1` keeps the TAI_HOME and
//! prints its path.
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tai::knowledge::bm25::Bm25Index;
use tai::knowledge::store::{sha256_hex, Kind, Store};
use tai::knowledge::{Knowledge, OpenOptions, SessionSummary};

const SERVICES: &[&str] = &[
    "nginx",
    "postgres",
    "mysql",
    "redis",
    "kafka",
    "haproxy",
    "sshd",
    "docker",
    "kubelet",
    "cron",
    "rsyslog",
    "chronyd",
    "bind9",
    "php-fpm",
    "gunicorn",
    "elasticsearch",
    "rabbitmq",
    "memcached",
    "apache2",
    "systemd-resolved",
];
const SYMPTOMS: &[&str] = &[
    "502 bad gateway",
    "connection refused",
    "disk full",
    "no space left on device",
    "out of memory",
    "oom killer",
    "high load",
    "slow queries",
    "replication lag",
    "certificate expired",
    "dns resolution failing",
    "permission denied",
    "too many open files",
    "segfault",
    "time drift",
    "failed to start",
    "timeout waiting for upstream",
    "inode exhaustion",
    "read-only filesystem",
    "swap storm",
];
const CAUSES: &[&str] = &[
    "the backend process crashed after a deploy",
    "log rotation stopped and the volume filled",
    "a runaway batch job leaked memory",
    "the connection pool was exhausted",
    "an expired intermediate certificate",
    "the resolver pointed at a decommissioned server",
    "a missing index on the orders table",
    "ulimit nofile too low for the worker count",
    "ntp blocked by the new firewall rule",
    "the unit file referenced a removed binary",
];

/// A small deterministic generator (no dependency on rand's API here).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.next() % v.len()]
    }
}

fn session(i: usize, rng: &mut Lcg) -> SessionSummary {
    let svc = rng.pick(SERVICES);
    let sym = rng.pick(SYMPTOMS);
    let cause = rng.pick(CAUSES);
    SessionSummary {
        host: format!("host{:03}.example.net", rng.next() % 300),
        issue: format!("{svc} {sym} since this morning (ticket {})", 10_000 + i),
        category: "service".into(),
        root_cause: format!("{svc}: {cause}"),
        actions: vec![
            format!("systemctl restart {svc}"),
            format!("add an alert on {}", rng.pick(SYMPTOMS)),
        ],
        evidence: vec![
            format!("journal: {svc}[{}]: {sym} [T1]", 1000 + rng.next() % 60_000),
            format!("{} [T2]", rng.pick(SYMPTOMS)),
        ],
        time: 1_760_000_000 + i as u64 * 60,
        model: Some("qwen3:4b".into()),
    }
}

fn runbook(n: usize, sections: usize, rng: &mut Lcg) -> String {
    let svc = SERVICES[n % SERVICES.len()];
    let mut md = format!(
        "---\nservice: {svc}\nsymptoms:\n  - {}\ntags: [generated, {svc}]\n---\n# {svc} runbook {n}\n\nGenerated for the store benchmark.\n",
        rng.pick(SYMPTOMS)
    );
    for s in 0..sections {
        let sym = rng.pick(SYMPTOMS);
        md.push_str(&format!(
            "\n## {sym} ({n}.{s})\n\n1. `read_journal` for `{svc}`; look for `{svc}: {sym}`.\n2. Check whether {}.\n3. `run_command` with `ss -ltnp`; `disk_usage` on `/var`.\n\nIf {}, restart {svc} and watch the error rate for ten minutes.\n",
            rng.pick(CAUSES),
            rng.pick(CAUSES)
        ));
    }
    md
}

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn report(name: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "{name:<44} n={:<4} p50 {:>9}  p90 {:>9}  max {:>9}",
        v.len(),
        ms(pct(&v, 0.5)),
        ms(pct(&v, 0.9)),
        ms(*v.last().unwrap())
    );
}

fn tai(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tai"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("TAI_HOME", home.join(".tai"))
        // No embedding server: a refused connection, as in an air-gapped setup.
        .env("TAI_EMBED_BASE_URL", "http://127.0.0.1:9")
        .env("NO_COLOR", "1");
    c
}

fn timed(mut c: Command) -> Duration {
    let t = Instant::now();
    let out = c.output().expect("tai runs");
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "tai failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.is_empty());
    d
}

fn main() {
    let n_sessions = env_usize("TAI_BENCH_SESSIONS", 10_000);
    let n_sections = env_usize("TAI_BENCH_SECTIONS", 1_000);
    let reps = env_usize("TAI_BENCH_REPS", 5);
    let home = tempfile::tempdir().expect("temp dir");
    let store_dir = Knowledge::store_dir(&home.path().join(".tai"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut rng = Lcg(42);

    // Runbooks: 20 sections per file, synced like `tai runbooks sync DIR`.
    let t = Instant::now();
    let rb_dir = home.path().join("runbooks");
    std::fs::create_dir_all(&rb_dir).unwrap();
    let per = 20;
    for n in 0..n_sections.div_ceil(per) {
        let k = per.min(n_sections - n * per);
        std::fs::write(
            rb_dir.join(format!("gen-{n:03}.md")),
            runbook(n, k, &mut rng),
        )
        .unwrap();
    }
    {
        let k = Knowledge::open_with(OpenOptions {
            dir: Some(store_dir.clone()),
            embed: None,
            rag_debug: false,
        })
        .unwrap();
        rt.block_on(k.sync_dir(&rb_dir)).unwrap();
    }
    let store = Store::open(&store_dir).unwrap();
    let chunks = store.chunks().unwrap().len();
    println!("runbooks: {chunks} sections indexed in {}", ms(t.elapsed()));

    // Sessions, each in its own write transaction as `tai run` records them, each appended to
    // the (current) index in that transaction.
    store
        .lexical_search(Kind::Sessions, "warm up", None, 1)
        .unwrap();
    let t = Instant::now();
    let mut appends = Vec::with_capacity(n_sessions);
    for i in 0..n_sessions {
        let s = session(i, &mut rng);
        let hash = sha256_hex(&s.index_text());
        let a = Instant::now();
        store.add_session(s, hash, None).unwrap();
        appends.push(a.elapsed());
    }
    println!(
        "sessions: {n_sessions} recorded in {} (store {:.1} MiB)",
        ms(t.elapsed()),
        store.disk_size() as f64 / (1024.0 * 1024.0)
    );
    report(
        "record one session (append to the index)",
        appends[appends.len().saturating_sub(1000)..].to_vec(),
    );

    let history_q = [
        "nginx 502 bad gateway",
        "postgres replication lag",
        "disk full no space left",
        "oom killer memory",
        "certificate expired",
        "dns resolution failing",
        "kafka consumer timeout",
        "too many open files ulimit",
        "redis connection refused",
        "time drift ntp firewall",
    ];
    let runbook_q = [
        "nginx 502 bad gateway upstream",
        "disk full",
        "postgres slow queries missing index",
        "out of memory",
        "dns resolution",
        "permission denied publickey",
        "certificate expired",
        "segfault after deploy",
        "read-only filesystem",
        "high load swap storm",
    ];

    // The search step in process: the old path (every record loaded, BM25 built per query)
    // against the persisted index; same top 50 or the benchmark fails.
    let mut old_s = Vec::new();
    let mut new_s = Vec::new();
    for q in history_q {
        let t = Instant::now();
        let all = store.sessions().unwrap();
        let texts: Vec<String> = all.iter().map(|s| s.summary.index_text()).collect();
        let old: Vec<(u32, f32)> = Bm25Index::build(texts.iter().map(String::as_str))
            .search(q, 50)
            .into_iter()
            .map(|(i, s)| (all[i].id, s))
            .collect();
        old_s.push(t.elapsed());
        let t = Instant::now();
        let new = store.lexical_search(Kind::Sessions, q, None, 50).unwrap();
        new_s.push(t.elapsed());
        assert_eq!(old, new, "history ranking changed for {q:?}");
    }
    let mut old_r = Vec::new();
    let mut new_r = Vec::new();
    for q in runbook_q {
        let t = Instant::now();
        let all = store.chunks().unwrap();
        let old: Vec<(u32, f32)> = Bm25Index::build(all.iter().map(|c| c.text.as_str()))
            .search(q, 50)
            .into_iter()
            .map(|(i, s)| (all[i].id, s))
            .collect();
        old_r.push(t.elapsed());
        let t = Instant::now();
        let new = store.lexical_search(Kind::Runbooks, q, None, 50).unwrap();
        new_r.push(t.elapsed());
        assert_eq!(old, new, "runbook ranking changed for {q:?}");
    }
    println!("\nin process (top 50 identical for every query):");
    report("sessions: old (load all + build BM25)", old_s);
    report("sessions: persisted index", new_s);
    report("runbooks: old (load all + build BM25)", old_r);
    report("runbooks: persisted index", new_r);
    // A write that does not maintain the index (cleanup removing one session): the next
    // search rebuilds it once, then reads it again.
    store.delete_sessions(&[1]).unwrap();
    assert!(!store.lexical_is_current(Kind::Sessions).unwrap());
    let t = Instant::now();
    store
        .lexical_search(Kind::Sessions, history_q[0], None, 50)
        .unwrap();
    report(
        "sessions: first search after cleanup (rebuild)",
        vec![t.elapsed()],
    );
    let t = Instant::now();
    store
        .lexical_search(Kind::Sessions, history_q[1], None, 50)
        .unwrap();
    report("sessions: the search after it", vec![t.elapsed()]);
    drop(store);

    println!("\nwhole processes (release binary, {reps} runs per query):");
    let mut version = Vec::new();
    for _ in 0..reps * 4 {
        let mut c = tai(home.path());
        c.arg("--version");
        version.push(timed(c));
    }
    report("tai --version (baseline)", version);
    let mut hist = Vec::new();
    for _ in 0..reps {
        for q in history_q {
            let mut c = tai(home.path());
            c.arg("history").args(q.split(' '));
            hist.push(timed(c));
        }
    }
    report("tai history QUERY", hist);
    let mut rb = Vec::new();
    for _ in 0..reps {
        for q in runbook_q {
            let mut c = tai(home.path());
            c.args(["runbooks", "search"]).args(q.split(' '));
            rb.push(timed(c));
        }
    }
    report("tai runbooks search QUERY", rb);
    if std::env::var("TAI_BENCH_KEEP").is_ok() {
        println!("kept TAI_HOME at {}", home.keep().join(".tai").display());
    }
}
