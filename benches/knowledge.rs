//! Knowledge benchmark (not a test): `cargo bench --bench knowledge`.
//!
//! 1. Vectors: 100k synthetic 768-d "session" vectors (clustered, like real embeddings) in
//!    arroy over LMDB — build time, store size, query p50/p95 and recall@10 against exact
//!    cosine search (the baseline, timed in the same run) for several search budgets; picks
//!    the smallest budget with recall@10 >= 0.95.
//! 2. Tier 1: tokens sent versus the full dump for a large collected dump, and whether the
//!    evidence line is among the selected chunks.
//!
//! Environment: `TAI_BENCH_N` (default 100000), `TAI_BENCH_QUERIES` (default 200),
//! `TAI_BENCH_TREES` (default: tai's `N_TREES`), `TAI_BENCH_CLUSTERS` (default 500; 0 =
//! unstructured random vectors).
use std::time::{Duration, Instant};

use arroy::distances::Cosine;
use heed::{CommitOrAbort, EnvOpenOptions};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tai::knowledge::chunks::{estimate_tokens, SessionChunks};
use tai::knowledge::vector::{ArroyIndex, VectorIndex, SEARCH_BUDGET};

const DIMS: usize = 768;
const K: usize = 10;

fn gaussian(rng: &mut StdRng) -> f32 {
    // Box-Muller.
    let u1: f32 = rng.random::<f32>().max(f32::MIN_POSITIVE);
    let u2: f32 = rng.random::<f32>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}

fn normalize(v: &mut [f32]) {
    let n = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    v.iter_mut().for_each(|x| *x /= n);
}

/// `n` items then `nq` queries, all drawn around `clusters` random centres (topics).
fn dataset_with_queries(n: usize, nq: usize, clusters: usize, rng: &mut StdRng) -> Vec<Vec<f32>> {
    dataset(n + nq, clusters, rng)
}

/// Vectors around `clusters` random centres (topics), each with its own spread.
/// `clusters == 0`: unstructured random directions, the worst case for any ANN index.
fn dataset(n: usize, clusters: usize, rng: &mut StdRng) -> Vec<Vec<f32>> {
    if clusters == 0 {
        return (0..n)
            .map(|_| {
                let mut v: Vec<f32> = (0..DIMS).map(|_| gaussian(rng)).collect();
                normalize(&mut v);
                v
            })
            .collect();
    }
    let centres: Vec<Vec<f32>> = (0..clusters)
        .map(|_| {
            let mut c: Vec<f32> = (0..DIMS).map(|_| gaussian(rng)).collect();
            normalize(&mut c);
            c
        })
        .collect();
    (0..n)
        .map(|_| {
            let c = &centres[rng.random_range(0..clusters)];
            let spread = 0.6 + rng.random::<f32>() * 0.6;
            let mut v: Vec<f32> = c
                .iter()
                .map(|x| x + spread * gaussian(rng) / (DIMS as f32).sqrt())
                .collect();
            normalize(&mut v);
            v
        })
        .collect()
}

fn exact_top(data: &[Vec<f32>], q: &[f32], k: usize) -> Vec<u32> {
    let mut scored: Vec<(u32, f32)> = data
        .iter()
        .enumerate()
        .map(|(i, v)| (i as u32, v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>()))
        .collect();
    scored.select_nth_unstable_by(k, |a, b| b.1.total_cmp(&a.1));
    scored.truncate(k);
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.into_iter().map(|(i, _)| i).collect()
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn vectors() {
    let n = env_usize("TAI_BENCH_N", 100_000);
    let nq = env_usize("TAI_BENCH_QUERIES", 200);
    let clusters = env_usize("TAI_BENCH_CLUSTERS", 500);
    let mut rng = StdRng::seed_from_u64(42);
    println!(
        "## vectors: {n} x {DIMS}-d, {nq} queries, k={K}, {}",
        if clusters == 0 {
            "unstructured random directions".to_string()
        } else {
            format!("{clusters} topic clusters")
        }
    );
    let t = Instant::now();
    // Queries are new draws from the same topics (a new session's issue), not copies of
    // stored items: the nearest neighbours are not trivially one item.
    let (data, queries) = {
        let mut all = dataset_with_queries(n, nq, clusters, &mut rng);
        let queries = all.split_off(n);
        (all, queries)
    };
    println!("generated in {:.1}s", t.elapsed().as_secs_f64());

    // Baseline: exact cosine search over every vector.
    let mut exact_times = Vec::new();
    let mut truth = Vec::new();
    for q in &queries {
        let t = Instant::now();
        truth.push(exact_top(&data, q, K));
        exact_times.push(t.elapsed());
    }
    exact_times.sort();
    let exact_p50 = pct(&exact_times, 0.5);
    println!(
        "exact search (baseline): p50 {:.2} ms  p95 {:.2} ms",
        ms(exact_p50),
        ms(pct(&exact_times, 0.95))
    );

    let dir = tempfile::tempdir().unwrap();
    let env = unsafe {
        EnvOpenOptions::new()
            .map_size(16 << 30)
            .max_dbs(4)
            .open(dir.path())
    }
    .unwrap();
    let wtxn = env.write_txn().unwrap();
    let db: arroy::Database<'static, Cosine> = env
        .create_databases_and_commit(wtxn, |dbo, wtxn| -> heed::Result<_> {
            dbo.create_database(wtxn, Some("vectors"))
                .map(CommitOrAbort::<_, ()>::Commit)
        })
        .unwrap()
        .unwrap_commit();
    let index = ArroyIndex::new(db, 0, DIMS);
    let t = Instant::now();
    let mut wtxn = env.write_txn().unwrap();
    for (i, v) in data.iter().enumerate() {
        index.put(&mut wtxn, i as u32, v).unwrap();
    }
    let insert = t.elapsed();
    let trees = env_usize("TAI_BENCH_TREES", tai::knowledge::vector::N_TREES);
    index.build_with(&mut wtxn, Some(trees)).unwrap();
    wtxn.commit().unwrap();
    let build = t.elapsed();
    let size = std::fs::metadata(dir.path().join("data.mdb"))
        .map(|m| m.len())
        .unwrap_or(0);
    let rtxn = env.read_txn().unwrap();
    let reader = arroy::Reader::<Cosine>::open(&rtxn, 0, db).unwrap();
    println!(
        "build: {:.1}s (insert {:.1}s), {} trees, store {:.0} MiB ({:.0} bytes/vector; raw f32 {} bytes)",
        build.as_secs_f64(),
        insert.as_secs_f64(),
        reader.n_trees(),
        size as f64 / (1 << 20) as f64,
        size as f64 / n as f64,
        DIMS * 4
    );
    println!();
    println!("| search budget | recall@10 | p50 ms | p95 ms | p50 vs exact |");
    println!("|---|---|---|---|---|");
    let mut chosen = None;
    for budget in [1usize, 2, 4, 8, 15, 30, 60] {
        let mut times = Vec::new();
        let mut hit = 0usize;
        for (q, want) in queries.iter().zip(&truth) {
            let t = Instant::now();
            let got = index.search_with_budget(&rtxn, q, K, budget).unwrap();
            times.push(t.elapsed());
            hit += got.iter().filter(|(id, _)| want.contains(id)).count();
        }
        times.sort();
        let recall = hit as f64 / (K * queries.len()) as f64;
        let p50 = pct(&times, 0.5);
        println!(
            "| {budget}x{} | {recall:.3} | {:.2} | {:.2} | {:.2}x |",
            if budget == SEARCH_BUDGET {
                " (default)"
            } else {
                ""
            },
            ms(p50),
            ms(pct(&times, 0.95)),
            p50.as_secs_f64() / exact_p50.as_secs_f64()
        );
        if recall >= 0.95 && chosen.is_none() {
            chosen = Some(budget);
        }
    }
    match chosen {
        Some(b) => {
            println!("\nsmallest budget with recall@10 >= 0.95: {b}x (tai uses {SEARCH_BUDGET}x)")
        }
        None => println!("\nno budget tried reached recall@10 >= 0.95 (tai uses {SEARCH_BUDGET}x)"),
    }
}

/// A collected dump as `tai collect` would gather on a busy web host: a long journal with
/// several services (including unrelated warnings and errors), process and socket lists,
/// disk usage and a kernel log. One journal line is the evidence.
fn collected_dump(rng: &mut StdRng, evidence_at: usize) -> Vec<(String, String, String, String)> {
    const EVIDENCE: &str = "[error] 1211#1211: *8812 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.4.7, server: shop.example.com, request: \"GET /cart HTTP/1.1\", upstream: \"http://127.0.0.1:8080/cart\"";
    let journal_lines = 20_000;
    let mut journal = String::new();
    let units = [
        "cron", "systemd", "sshd", "nginx", "app", "postgres", "dockerd", "kernel",
    ];
    // One-off errors that have nothing to do with the question: the evidence must beat these
    // as well as the repeated noise.
    const DISTRACTORS: &[&str] = &[
        "app[2211]: ERROR unhandled exception in worker: KeyError 'sku'",
        "postgres[990]: ERROR:  duplicate key value violates unique constraint \"orders_pkey\"",
        "kernel: usb 1-1: device descriptor read/64, error -71",
        "systemd[1]: logrotate.service: Failed with result 'exit-code'.",
        "dockerd[700]: level=error msg=\"Handler for POST /containers/create returned error: conflict\"",
        "cron[501]: (root) ERROR (failed to change user)",
        "sshd[3001]: error: Received disconnect from 198.51.100.7 port 2222:11: Bye Bye [preauth]",
        "app[2211]: ERROR payment provider timeout after 30s, retrying",
        "kernel: ACPI Error: AE_NOT_FOUND, While resolving a named reference package element",
        "systemd-resolved[411]: Using degraded feature set UDP instead of EDNS0 for DNS server 10.0.0.2.",
        "postgres[990]: FATAL:  password authentication failed for user \"report\"",
        "app[2211]: WARN cache miss storm: invalid entry for key users:list",
        "kernel: EDAC MC0: 1 CE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0",
        "systemd[1]: Failed to start backup.service - Nightly backup.",
        "dockerd[700]: level=error msg=\"Error getting service: service not found\"",
        "chronyd[402]: Can't synchronise: no selectable sources",
        "sudo[4410]: pam_unix(sudo:auth): authentication failure; logname=deploy",
        "app[2211]: ERROR could not render template invoice.html: missing variable",
        "kernel: nfs: server files01 not responding, still trying",
        "postfix/smtp[8812]: connect to mx.example.net[203.0.113.25]:25: Connection timed out",
    ];
    let mut distractor_at: Vec<usize> = (0..DISTRACTORS.len())
        .map(|_| rng.random_range(0..journal_lines))
        .collect();
    distractor_at.sort();
    for i in 0..journal_lines {
        if let Some(d) = distractor_at.iter().position(|p| *p == i) {
            if i != evidence_at {
                let ts = format!(
                    "Nov 25 {:02}:{:02}:{:02} web01",
                    6 + i / 3600 % 12,
                    i / 60 % 60,
                    i % 60
                );
                journal.push_str(&format!("{ts} {}\n", DISTRACTORS[d]));
                continue;
            }
        }
        let ts = format!(
            "Nov 25 {:02}:{:02}:{:02} web01",
            6 + i / 3600 % 12,
            i / 60 % 60,
            i % 60
        );
        if i == evidence_at {
            journal.push_str(&format!(
                "{ts} nginx[1211]: 2026/11/25 08:31:07 {EVIDENCE}\n"
            ));
            continue;
        }
        let u = units[rng.random_range(0..units.len())];
        let line = match (u, rng.random_range(0..40)) {
            ("cron", 0) => "(CRON) error (grandchild #4121 failed with exit status 1)".to_string(),
            ("sshd", 0) => format!("error: kex_exchange_identification: Connection closed by remote host port {}", 40000 + i % 20000),
            ("sshd", 1) => format!("Failed password for invalid user admin from 203.0.113.{} port {} ssh2", i % 250, 30000 + i % 30000),
            ("postgres", 0) => "LOG:  checkpoint complete: wrote 1204 buffers (7.3%); 0 WAL file(s) added".to_string(),
            ("app", 0) => format!("WARN slow request GET /api/items took {} ms", 900 + i % 400),
            ("dockerd", 0) => "level=warning msg=\"failed to retrieve runc version: unknown output format\"".to_string(),
            ("kernel", 0) => format!("audit: type=1400 audit({}.123:{}): apparmor=\"ALLOWED\" operation=\"open\"", 1764000000 + i, i),
            ("nginx", _) => format!("10.0.{}.{} - - [25/Nov/2026:08:{:02}:{:02} +0000] \"GET /static/app.{}.js HTTP/1.1\" 200 {} \"-\" \"Mozilla/5.0\"", i % 7, i % 250, i / 60 % 60, i % 60, i % 13, 1000 + i % 9000),
            ("cron", _) => format!("pam_unix(cron:session): session opened for user root(uid=0) by root(uid=0) job {}", i),
            ("systemd", _) => format!("Started session-{}.scope - Session {} of User deploy.", i, i),
            ("sshd", _) => format!("Accepted publickey for deploy from 10.0.1.{} port {} ssh2: ED25519 SHA256:abc{}", i % 250, 50000 + i % 10000, i % 97),
            ("postgres", _) => format!("LOG:  duration: {}.{:03} ms  statement: SELECT * FROM items WHERE id = {}", i % 40, i % 1000, i),
            ("app", _) => format!("INFO handled GET /api/items/{} status=200 in {} ms", i, 3 + i % 80),
            ("dockerd", _) => format!("level=info msg=\"ignoring event\" container={:x} module=libcontainerd", i * 7919),
            (_, _) => format!("IPv4: martian source 10.0.0.{} from 10.0.0.1, on dev eth0", i % 250),
        };
        journal.push_str(&format!("{ts} {u}[{}]: {line}\n", 1000 + (i * 31) % 5000));
    }
    let mut ps = String::from("USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND\n");
    for p in 0..400 {
        ps.push_str(&format!(
            "www-data {} 0.{} 0.{} 123456 {} ? S 06:00 0:0{} php-fpm: pool www\n",
            2000 + p,
            p % 10,
            p % 7,
            20000 + p * 13,
            p % 10
        ));
    }
    let ss = "State Recv-Q Send-Q Local Address:Port Peer Address:Port Process\nLISTEN 0 511 0.0.0.0:80 0.0.0.0:* users:((\"nginx\",pid=1211,fd=6))\nLISTEN 0 511 0.0.0.0:443 0.0.0.0:* users:((\"nginx\",pid=1211,fd=7))\nLISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:((\"sshd\",pid=801,fd=3))\nLISTEN 0 244 127.0.0.1:5432 0.0.0.0:* users:((\"postgres\",pid=990,fd=5))\n".to_string();
    let df = "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 41152736 30112340 8927444 78% /\ntmpfs 2015436 0 2015436 0% /dev/shm\n/dev/sdb1 103081248 51234567 46587000 53% /var/lib/postgresql\n".to_string();
    let mut dmesg = String::new();
    for i in 0..2000 {
        dmesg.push_str(&format!(
            "[{:>5}.{:06}] IPv6: ADDRCONF(NETDEV_CHANGE): veth{:x}: link becomes ready\n",
            i * 3,
            i * 7919 % 1_000_000,
            i * 31
        ));
    }
    vec![
        (
            "T1".into(),
            "read_journal".into(),
            "journalctl --no-pager -n 20000".into(),
            journal,
        ),
        ("T2".into(), "list_processes".into(), "ps aux".into(), ps),
        ("T3".into(), "list_sockets".into(), "ss -tlnp".into(), ss),
        ("T4".into(), "disk_usage".into(), "df -P".into(), df),
        ("T5".into(), "kernel_log".into(), "dmesg".into(), dmesg),
    ]
}

fn tier1() {
    println!("\n## Tier 1: per-session chunk retrieval on a large collected dump");
    let budget = 4000;
    let question = "nginx returns 502 bad gateway since the deploy";
    let trials = 20;
    let mut rng = StdRng::seed_from_u64(7);
    let mut found = 0;
    let mut sent = Vec::new();
    let mut full = 0;
    let mut index_times = Vec::new();
    let mut select_times = Vec::new();
    let mut chunks = 0;
    let mut found_guided = 0;
    let mut sent_guided = Vec::new();
    let knowledge = tai::knowledge::Knowledge::open_with(tai::knowledge::OpenOptions {
        dir: None,
        embed: None,
        rag_debug: false,
    })
    .unwrap();
    let patterns = knowledge.evidence_patterns(question, 5);
    for trial in 0..trials {
        let evidence_at = 500 + trial * 977 % 19_000;
        let dump = collected_dump(&mut rng, evidence_at);
        let t = Instant::now();
        let mut sc = SessionChunks::default();
        for (id, tool, cmd, out) in &dump {
            sc.add_output(id, tool, cmd, out);
        }
        index_times.push(t.elapsed());
        chunks = sc.len();
        let t = Instant::now();
        let sel = sc.select(question, budget);
        select_times.push(t.elapsed());
        if sel
            .rendered
            .contains("connect() failed (111: Connection refused)")
        {
            found += 1;
        }
        full = sel.tokens_full;
        sent.push(sel.tokens_sent);
        let guided = sc.select_guided(question, &patterns, budget, None);
        if guided
            .rendered
            .contains("connect() failed (111: Connection refused)")
        {
            found_guided += 1;
        }
        sent_guided.push(guided.tokens_sent);
        assert!(estimate_tokens(&sc.render_all()).abs_diff(full) < 16);
    }
    index_times.sort();
    select_times.sort();
    let mean_sent = sent.iter().sum::<usize>() as f64 / sent.len() as f64;
    println!("question: {question:?}; budget {budget} tokens; {trials} dumps with the evidence line at different positions");
    println!(
        "full dump: {full} tokens in {chunks} chunks; sent: mean {mean_sent:.0} tokens ({:.1}% of the dump, {:.0}x fewer)",
        100.0 * mean_sent / full as f64,
        full as f64 / mean_sent
    );
    println!(
        "evidence line retrieved, question only (BM25 + rare symptom lines): {found}/{trials}"
    );
    let mean_guided = sent_guided.iter().sum::<usize>() as f64 / sent_guided.len() as f64;
    println!(
        "evidence line retrieved, guided by {} runbook evidence patterns (what the agent uses): {found_guided}/{trials}, mean {mean_guided:.0} tokens sent",
        patterns.len()
    );
    println!(
        "index p50 {:.1} ms, select p50 {:.1} ms",
        ms(pct(&index_times, 0.5)),
        ms(pct(&select_times, 0.5))
    );
}

fn main() {
    // `cargo bench` passes `--bench`; accept and ignore libtest-style flags.
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    println!("# tai knowledge benchmark");
    if only.as_deref().is_none_or(|o| o == "vectors") {
        vectors();
    }
    if only.as_deref().is_none_or(|o| o == "tier1") {
        tier1();
    }
}
