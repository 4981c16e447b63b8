//! The read-only policy proved on a real host: a loopback OpenSSH `sshd` (tests/support), logged
//! in as root, with planted canaries, and every command sent THROUGH TAI — the `run_command`
//! tool via the library `execute` over the SSH transport, exactly as the model calls it.
//!
//! Canaries (tests/suite/policy_host/canaries.rs; lines per property in tests/suite/policy_host/lines.rs):
//! a "marked" private key (its body is a random word; any 8 characters of it count) planted at
//! secret-named paths in a temp tree, under `/etc/ssl/private`, in `$HOME/.ssh`, and inside
//! innocently named logs; a symlink farm (links to `/etc`, to the key, to `/proc/1/root`, a
//! directory link followed by `..`); a manifest of the temp trees and of the places a writer
//! would leave a mark (`$HOME/.config`, `/etc/.pwd.lock`, every `/tmp/...` a line names).
//! After each batch: the manifest is unchanged, no output contains key bytes (or a body line of
//! this machine's real host keys, or a shadow hash), and 5 s after the command timeout (2 s)
//! no process tai started is alive (no marker in `/proc/*/cmdline`, nothing but sshd under the
//! server). Each property of issue 11 has a test here: options, paths (and what only host
//! resolution can see), recursion, bounded execution and closed stdin, redaction (also of keys
//! in innocent files whose lines are reshaped or cut into windows), network (also names that
//! resolve to metadata only on the host), writers, pipelines; plus the whole attack corpus
//! (`tests/corpus/deny.txt`) and the everyday corpus (`tests/corpus/allow.txt`) on the host.
//! `TAI_HOST_TEST_VERBOSE=1` prints what happened to every line.
mod canaries;
mod lines;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::sshd::{descendants, Sshd};
use canaries::{diff, Canaries};
use lines::*;
use serde_json::json;
use tai::config::{Config, Overrides};
use tai::policy::{quote, Decision, Policy};
use tai::tools::pipeline::split_pipeline;
use tai::tools::{
    execute_all, CallStatus, ExecContext, Registry, ToolCall, ToolError, ToolOutcome,
};
use tai::transport::{self, Target};
use tokio_util::sync::CancellationToken;

/// The command timeout tai is configured with for these tests.
const TIMEOUT: Duration = Duration::from_secs(2);
/// How long after its timeout nothing tai started may still be alive.
const LINGER: Duration = Duration::from_secs(5);
/// A small per-stream cap, so the redaction files are far bigger than what is kept.
const OUTPUT_CAP: usize = 64 * 1024;

// ------------------------------------------------------------------------------------------
// The host

/// The tests plant canaries in shared places (`/etc/ssl/private`, `$HOME`, `/var/log`) and
/// watch them: one at a time, and never beside another test that watches the host.
async fn serial() -> crate::support::HostStateGuard {
    crate::support::host_state_lock().await
}

struct Host {
    ctx: ExecContext,
    registry: Registry,
    sshd: Sshd,
    _home: tempfile::TempDir,
}

async fn host() -> Host {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let o = Overrides {
        tai_home: Some(home.path().join(".tai")),
        identity_files: vec![sshd.client_key().to_path_buf()],
        known_hosts: Some(home.path().join("known_hosts")),
        ignore_ssh_config: true,
        command_timeout_secs: Some(TIMEOUT.as_secs()),
        ..Default::default()
    };
    let mut cfg = Config::resolve_with(&o, &|_| None).unwrap();
    cfg.limits.output_cap = OUTPUT_CAP;
    cfg.limits.session_output_cap = 1 << 30;
    let target = Target::parse(&sshd.target()).unwrap();
    let transport = transport::connect(&target, &cfg).await.unwrap();
    let policy = Arc::new(Policy::load(false).unwrap());
    let ctx = ExecContext::detect(transport, policy, cfg.limits, CancellationToken::new()).await;
    Host {
        ctx,
        registry: Registry::builtin(),
        sshd,
        _home: home,
    }
}

/// One line's fate on the host.
struct Ran {
    line: String,
    outcome: Result<ToolOutcome, String>,
    elapsed: Duration,
}

impl Ran {
    /// Refused before the line's command ran on the host: a policy denial, a line
    /// `run_command` does not accept, or a denial after host-side path resolution (whose
    /// `readlink` probe is the only thing that ran).
    fn refused(&self) -> bool {
        let Ok(o) = &self.outcome else {
            return true;
        };
        if o.status == CallStatus::Denied {
            return true;
        }
        let ran: Vec<&str> = o
            .commands
            .iter()
            .filter(|r| r.status != CallStatus::Denied)
            .map(|r| r.command.as_str())
            .collect();
        match split_pipeline(&self.line) {
            // The host command as tai quotes it appears in the record of a command that ran.
            Ok((argv, _)) => {
                let wanted = quote::command_line(&argv);
                !ran.iter().any(|c| c.contains(&wanted))
            }
            Err(_) => ran.is_empty(),
        }
    }

    /// Everything the model (or a report) would see.
    fn visible(&self) -> String {
        match &self.outcome {
            Ok(o) => {
                let mut s = o.output.clone();
                for r in &o.commands {
                    s.push_str(&r.stdout);
                    s.push_str(&r.stderr);
                    s.push_str(r.note.as_deref().unwrap_or(""));
                }
                s
            }
            Err(e) => e.clone(),
        }
    }

    fn summary(&self) -> String {
        match &self.outcome {
            Ok(o) => format!(
                "{}  => {:?}: {}",
                self.line,
                o.status,
                o.output.chars().take(300).collect::<String>()
            ),
            Err(e) => format!("{}  => error: {e}", self.line),
        }
    }
}

impl Host {
    /// Run every line through `run_command`, concurrently as a plan would.
    async fn run(&self, lines: &[String]) -> Vec<Ran> {
        let calls: Vec<ToolCall> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| ToolCall {
                id: format!("T{}", i + 1),
                tool: "run_command".into(),
                args: json!({ "command": l }),
            })
            .collect();
        let started = Instant::now();
        let results = execute_all(&self.ctx, &self.registry, &calls).await;
        lines
            .iter()
            .zip(results)
            .map(|(line, r)| Ran {
                line: line.clone(),
                elapsed: r
                    .as_ref()
                    .map(|o| Duration::from_millis(o.duration_ms))
                    .unwrap_or_else(|_| started.elapsed()),
                outcome: r.map_err(|e| match e {
                    ToolError::RespondToModel(m) => m,
                    ToolError::Fatal(f) => panic!("fatal transport error: {f}"),
                }),
            })
            .collect()
    }

    /// Processes tai left behind: anything under the server that is not sshd itself, and
    /// anything anywhere whose command line carries the process marker.
    fn leftovers(&self, marker: &str) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(root) = self.sshd.pid() {
            for pid in descendants(root) {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if !comm.trim().starts_with("sshd") && !comm.is_empty() {
                    out.push(format!("{pid} {} (under sshd)", cmdline(pid)));
                }
            }
        }
        if let Ok(rd) = std::fs::read_dir("/proc") {
            for e in rd.flatten() {
                if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                    let c = cmdline(pid);
                    if c.contains(marker) && pid != std::process::id() {
                        out.push(format!("{pid} {c} (carries the marker)"));
                    }
                }
            }
        }
        out
    }
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Run a batch of line templates (see [`Canaries::fill`]) and check every invariant afterwards.
async fn batch(host: &Host, c: &Canaries, templates: &[&str]) -> Vec<Ran> {
    let lines: Vec<String> = templates.iter().map(|t| c.fill(t)).collect();
    batch_lines(host, c, &lines).await
}

/// Run a batch of literal lines and check every invariant afterwards. Returns the results for
/// extra checks.
async fn batch_lines(host: &Host, c: &Canaries, lines: &[String]) -> Vec<Ran> {
    let lines = lines.to_vec();
    let before = c.manifest(&lines);
    let ran = host.run(&lines).await;
    let done = Instant::now();
    if std::env::var_os("TAI_HOST_TEST_VERBOSE").is_some() {
        for r in &ran {
            let how = if r.refused() { "REFUSED" } else { "RAN" };
            eprintln!("{how} {}", r.summary().replace('\n', "\n    "));
        }
    }
    let mut problems = Vec::new();
    for r in &ran {
        let seen = r.visible();
        for s in &c.secrets {
            if seen.contains(s.as_str()) {
                let what = &s[..s.len().min(12)];
                problems.push(format!(
                    "SECRET BYTES ({what}...) in the output of: {}",
                    r.summary()
                ));
                break;
            }
        }
    }
    // Nothing may outlive its timeout by more than LINGER: every timeout fired before its
    // record came back, so whatever is alive LINGER after the batch outlived it. Without a
    // timed-out command, give just-ended processes a moment to be reaped.
    let deadline = done + LINGER;
    let mut left = host.leftovers(&c.proc_marker);
    while !left.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        left = host.leftovers(&c.proc_marker);
    }
    if !left.is_empty() {
        problems.push(format!(
            "processes alive {}s after the batch:\n  {}",
            LINGER.as_secs(),
            left.join("\n  ")
        ));
    }
    let changed = diff(&before, &c.manifest(&lines));
    if !changed.is_empty() {
        problems.push(format!("the host changed:\n  {}", changed.join("\n  ")));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    ran
}

fn assert_all_refused(ran: &[Ran]) {
    let ran_anyway: Vec<String> = ran
        .iter()
        .filter(|r| !r.refused())
        .map(Ran::summary)
        .collect();
    assert!(
        ran_anyway.is_empty(),
        "{} attack line(s) ran on the host instead of being refused:\n{}",
        ran_anyway.len(),
        ran_anyway.join("\n")
    );
}

fn corpus(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_are_refused_on_the_host() {
    // The old host-side re-check stopped after 32 paths: the link to the key comes 41st.
    let many_paths = format!("wc -l {}{{L}}/cert.log", "{L}/app.log ".repeat(40));
    let many_paths = many_paths.as_str();
    let _serial = serial().await;
    let host = host().await;
    let c = Canaries::plant();
    let mut failures = Vec::new();
    for (name, lines) in [
        ("options", OPTIONS),
        ("paths", PATHS),
        ("recursion", RECURSION),
        ("network", NETWORK),
        ("writers and never-ending forms", WRITERS_AND_ENDLESS),
        ("pipes", PIPES),
        ("many paths", &[many_paths]),
    ] {
        let ran = batch(&host, &c, lines).await;
        let bad: Vec<String> = ran
            .iter()
            .filter(|r| !r.refused())
            .map(Ran::summary)
            .collect();
        if !bad.is_empty() {
            failures.push(format!(
                "{name}: {} line(s) ran:\n  {}",
                bad.len(),
                bad.join("\n  ")
            ));
        }
    }
    host.ctx.transport.close().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_are_judged_where_they_lead_on_the_host() {
    let _serial = serial().await;
    let host = host().await;
    let c = Canaries::plant();
    let policy = Policy::load(false).unwrap();
    let mut problems = Vec::new();
    for r in batch(&host, &c, ONLY_THE_HOST_KNOWS).await {
        let argv = split_pipeline(&r.line).unwrap().0;
        if !matches!(policy.check(&argv), Decision::Allow { .. }) {
            problems.push(format!(
                "{}: already refused lexically: not a host test",
                r.line
            ));
        }
        if !r.refused() || !r.visible().contains(" resolves to ") {
            problems.push(format!(
                "not refused after host resolution: {}",
                r.summary()
            ));
        }
    }
    host.ctx.transport.close().await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A name only the host resolves to a metadata address (an `/etc/hosts` alias, as a hostile
/// resolver or DNS rebinding would give): probes to it are refused after host-side resolution.
/// The entry is removed again (the file restored byte for byte) when the guard drops.
struct HostsAlias {
    original: Vec<u8>,
}

impl HostsAlias {
    fn add(line: &str) -> HostsAlias {
        let original = std::fs::read("/etc/hosts").unwrap();
        let mut text = original.clone();
        if !text.ends_with(b"\n") {
            text.push(b'\n');
        }
        text.extend_from_slice(line.as_bytes());
        text.push(b'\n');
        std::fs::write("/etc/hosts", text).unwrap();
        HostsAlias { original }
    }
}

impl Drop for HostsAlias {
    fn drop(&mut self) {
        let _ = std::fs::write("/etc/hosts", &self.original);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_that_resolve_to_metadata_on_the_host_are_refused() {
    let _serial = serial().await;
    let host = host().await;
    let c = Canaries::plant();
    let name = format!("tai-meta-{}.test", c.id);
    let _alias = HostsAlias::add(&format!("169.254.169.254 {name}\nfd00:ec2::254 v6-{name}"));
    let lines = [
        format!("curl -s http://{name}/latest/meta-data/"),
        format!("curl -sI http://{name}:80/"),
        format!("curl -s -o /dev/null -w %{{http_code}} http://v6-{name}/"),
        format!("openssl s_client -connect {name}:443 -brief"),
        format!("ping -c 1 {name}"),
        format!("traceroute -n {name}"),
    ];
    let ran = batch_lines(&host, &c, &lines).await;
    host.ctx.transport.close().await;
    assert_all_refused(&ran);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tricky_allowed_lines_leak_nothing_and_change_nothing() {
    let _serial = serial().await;
    let host = host().await;
    let c = Canaries::plant();
    let ran = batch(&host, &c, TRICKY).await;
    // Recursion under an allowed root works (the issue's `grep -rn listen /etc/nginx` class).
    let listen = &ran[0];
    assert!(!listen.refused(), "{}", listen.summary());
    assert!(
        listen.visible().contains("listen 80"),
        "{}",
        listen.summary()
    );
    let ran = batch(&host, &c, REDACTION).await;
    // Two layers keep the key in: the content scan refuses to print a file holding a key...
    let whole = &ran[0];
    assert!(
        whole.refused() && whole.summary().contains("private-key-content"),
        "{}",
        whole.summary()
    );
    // ...and, beneath it, the transport redacts the stream before the cap: the same read,
    // approved and run directly, shows neither the body nor anything after a cut BEGIN line.
    let line = c.fill(REDACTION[0]);
    let argv = tai::policy::split_command_line(&line).unwrap();
    let approved = host.ctx.policy.approve(&argv).unwrap();
    let opts = tai::transport::ExecOptions::from_limits(
        &host.ctx.limits,
        tokio_util::sync::CancellationToken::new(),
    );
    let out = host.ctx.transport.exec(&approved, &opts).await.unwrap();
    assert!(out.truncated_bytes > 0, "the cap dropped the middle");
    let text = format!("{}{}", out.stdout, out.stderr);
    for s in &c.secrets {
        assert!(
            !text.contains(s.as_str()),
            "secret bytes in the redacted stream"
        );
    }
    host.ctx.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_in_innocent_files_do_not_leak_however_the_lines_are_reshaped() {
    let _serial = serial().await;
    let host = host().await;
    let c = Canaries::plant();
    // Refusing such a read is fine too (e.g. after sniffing the file on the host).
    batch(&host, &c, RESHAPED_KEYS).await;
    host.ctx.transport.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_tai_starts_outlives_its_timeout_and_stdin_is_closed() {
    let _serial = serial().await;
    let host = host().await;
    let c = Canaries::plant();
    let endless = [
        "awk 'BEGIN{m=\"{P}\"; while(1);}'",
        "awk 'BEGIN{m=\"{P}\"; while(1) n++}'",
        "awk 'BEGIN{m=\"{P}\"; for(;;);}'",
        // Allowed, bounded by the policy, but longer than the timeout: the wrapper ends them.
        "vmstat 5 10",
        "find / -name {P}",
        "grep -r {P} /var/log",
        "awk '{print}' /dev/null {L}/big-middle.log {L}/big-middle.log {L}/big-middle.log",
    ];
    let stdin_readers = [
        "cat",
        "sort",
        "grep {P}",
        "awk '/{P}/'",
        "wc -l",
        "head -n 1",
    ];
    // stdin readers first and alone: the endless batch keeps both cores busy.
    for r in &batch(&host, &c, &stdin_readers).await {
        assert!(!r.refused(), "{}", r.summary());
        assert!(
            r.elapsed < TIMEOUT,
            "{} took {:?}: stdin must be closed so it returns at once",
            r.line,
            r.elapsed
        );
    }
    for r in &batch(&host, &c, &endless).await {
        if r.refused() {
            continue; // refusing an endless loop is also bounded
        }
        assert!(
            r.elapsed < TIMEOUT + Duration::from_secs(4),
            "{} took {:?}: tai must stop it near its {TIMEOUT:?} timeout",
            r.line,
            r.elapsed
        );
    }
    host.ctx.transport.close().await;
}

/// Every attack line of the corpus through tai on the host. A line the policy allows is NOT
/// run (it could harm this machine): it is reported instead (tests/suite/policy_corpus.rs names it
/// too). Everything else must come back refused, with the invariants checked per batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attack_corpus_is_refused_on_the_host() {
    let _serial = serial().await;
    let host = host().await;
    let c = Canaries::plant();
    let policy = Policy::load(false).unwrap();
    let mut not_run = Vec::new();
    let mut lines = Vec::new();
    for line in corpus(include_str!("../corpus/deny.txt")) {
        let allowed = split_pipeline(line)
            .map(|(argv, _)| matches!(policy.check(&argv), Decision::Allow { .. }))
            .unwrap_or(false);
        if allowed {
            not_run.push(line);
        } else {
            lines.push(line);
        }
    }
    assert!(lines.len() >= 100, "only {} lines to run", lines.len());
    for chunk in lines.chunks(200) {
        let chunk: Vec<String> = chunk.iter().map(|l| l.to_string()).collect();
        assert_all_refused(&batch_lines(&host, &c, &chunk).await);
    }
    host.ctx.transport.close().await;
    assert!(
        not_run.is_empty(),
        "{} attack line(s) are allowed by the policy and were not run on this machine:\n{}",
        not_run.len(),
        not_run.join("\n")
    );
}

/// The everyday corpus on the host: whatever it allows is harmless (host unchanged, no secret
/// bytes, nothing left running).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_everyday_corpus_is_harmless_on_the_host() {
    let _serial = serial().await;
    let host = host().await;
    let c = Canaries::plant();
    let lines = corpus(include_str!("../corpus/allow.txt"));
    let mut ran_ok = 0;
    for chunk in lines.chunks(120) {
        let chunk: Vec<String> = chunk.iter().map(|l| l.to_string()).collect();
        ran_ok += batch_lines(&host, &c, &chunk)
            .await
            .iter()
            .filter(|r| !r.refused())
            .count();
    }
    assert!(ran_ok * 100 >= lines.len() * 90, "only {ran_ok} lines ran");
    host.ctx.transport.close().await;
}
