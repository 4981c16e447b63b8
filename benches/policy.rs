//! Policy benchmark: what the read-only policy v2 costs, each number next to a baseline measured
//! in the same run.
//!
//! 1. Decision time per command line over the corpora (`tests/corpus/{allow,deny}.txt`):
//!    `tools::pipeline::split_pipeline` + `Policy::check` (what `run_command` does before
//!    anything reaches a host) against `shell_words::split` alone.
//! 2. Per tool call over a loopback sshd (tests/support/sshd.rs, `quiet_shell`, logged in as
//!    root; one tai connection, calls one after another):
//!    - `run_command cat /etc/hostname` (policy, host-side path resolution — one batched
//!      `readlink` — and the wrapped command) against `transport.exec` of the same approved
//!      argv (wrapped, no resolution): the price of resolving paths on the host;
//!    - `run_command uptime` (no path: no resolution) against `transport.exec uptime`: the
//!      tool layer alone;
//!    - the wrapper itself over OpenSSH ControlMaster: `ssh -S ctl HOST 'cat /etc/hostname'`
//!      against `ssh -S ctl HOST 'exec env LC_ALL=C timeout -k 2 30 cat /etc/hostname
//!      </dev/null'`, and the same two locally through `sh -c` (two extra execs on the host).
//!
//! Needs root and OpenSSH for part 2 (skipped with a note otherwise). Run:
//! `cargo bench --bench policy` (`-- --rounds N`, default 200 calls per case; part 1 repeats
//! the corpus 20 times).
#![allow(clippy::print_stdout)]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tai::config::{Config, Overrides};
use tai::policy::{Decision, Policy};
use tai::tools::pipeline::split_pipeline;
use tai::tools::{execute, ExecContext, Registry, ToolCall};
use tai::transport::{self, ExecOptions, Target};
use tokio_util::sync::CancellationToken;

#[allow(dead_code)]
#[path = "../tests/support/sshd.rs"]
mod sshd;

const ALLOW: &str = include_str!("../tests/corpus/allow.txt");
const DENY: &str = include_str!("../tests/corpus/deny.txt");
const WRAPPED: &str = "exec env LC_ALL=C timeout -k 2 30 cat /etc/hostname </dev/null";
const PLAIN: &str = "cat /etc/hostname";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Part 1: per-line decision time, tai against the bare word splitter.
fn decisions(passes: usize) {
    let policy = Policy::load(false).expect("load the policy");
    let lines: Vec<&str> = ALLOW
        .lines()
        .chain(DENY.lines())
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    let mut allowed = 0;
    for l in &lines {
        if let Ok((argv, _)) = split_pipeline(l) {
            allowed += usize::from(matches!(policy.check(&argv), Decision::Allow { .. }));
        }
    }
    let time = |f: &dyn Fn(&str)| -> Duration {
        let mut per_pass = Vec::new();
        for _ in 0..passes {
            let start = Instant::now();
            for l in &lines {
                f(l);
            }
            per_pass.push(start.elapsed() / lines.len() as u32);
        }
        median(per_pass)
    };
    // Warm-up (policy compiled once, caches).
    time(&|l| {
        let _ = std::hint::black_box(split_pipeline(l));
    });
    let words = time(&|l| {
        let _ = std::hint::black_box(shell_words::split(l));
    });
    let split = time(&|l| {
        let _ = std::hint::black_box(split_pipeline(l));
    });
    let decide = time(&|l| {
        if let Ok((argv, _)) = split_pipeline(l) {
            std::hint::black_box(policy.check(&argv));
        }
    });
    println!(
        "policy decision over the corpora: {} lines ({allowed} allowed), median of {passes} passes",
        lines.len()
    );
    println!(
        "  shell_words::split alone                 {:8.2} us/line  (baseline)",
        us(words)
    );
    println!(
        "  split_pipeline (tai's parser)            {:8.2} us/line  ({:.1}x)",
        us(split),
        us(split) / us(words)
    );
    println!(
        "  split_pipeline + Policy::check           {:8.2} us/line  ({:.1}x)",
        us(decide),
        us(decide) / us(words)
    );
}

fn run_ok(c: &mut Command, what: &str) {
    let out = c.stdin(Stdio::null()).output().expect(what);
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Part 2: per tool call on a loopback sshd.
fn host_calls(rounds: usize) {
    let server = sshd::Sshd::builder().quiet_shell().start();
    let work = tempfile::tempdir().unwrap();
    let kh = work.path().join("known_hosts");
    run_ok(server.ssh_command(&kh).arg("true"), "ssh (learn host key)");
    let cfg = Config::resolve_with(
        &Overrides {
            tai_home: Some(work.path().join(".tai")),
            identity_files: vec![server.client_key().to_path_buf()],
            known_hosts: Some(kh.clone()),
            ignore_ssh_config: true,
            ..Default::default()
        },
        &|_| None,
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let policy = Arc::new(Policy::load(false).unwrap());
    let registry = Registry::builtin();
    let ctx = rt.block_on(async {
        let target = Target::parse(&server.target()).unwrap();
        let t = transport::connect(&target, &cfg).await.unwrap();
        ExecContext::detect(t, policy.clone(), cfg.limits, CancellationToken::new()).await
    });
    let opts = ExecOptions::from_limits(&cfg.limits, CancellationToken::new());
    let argv = |l: &str| -> Vec<String> { l.split(' ').map(str::to_string).collect() };
    let tool = |line: &str| -> Duration {
        let call = ToolCall {
            id: "T1".into(),
            tool: "run_command".into(),
            args: json!({ "command": line }),
        };
        let start = Instant::now();
        let out = rt.block_on(execute(&ctx, &registry, &call)).unwrap();
        let took = start.elapsed();
        assert_eq!(
            out.status,
            tai::tools::CallStatus::Ok,
            "{line}: {}",
            out.output
        );
        took
    };
    let exec = |line: &str| -> Duration {
        let approved = policy.approve(&argv(line)).unwrap();
        let start = Instant::now();
        let out = rt.block_on(ctx.transport.exec(&approved, &opts)).unwrap();
        let took = start.elapsed();
        assert_eq!(out.exit_code, Some(0), "{line}");
        took
    };
    let sock = work.path().join("ctl");
    run_ok(
        server
            .ssh_command(&kh)
            .args(["-o", "ControlMaster=yes", "-o", "ControlPersist=yes", "-S"])
            .arg(&sock)
            .args(["-f", "-N"]),
        "ssh ControlMaster",
    );
    let ssh = |line: &str| -> Duration {
        let start = Instant::now();
        run_ok(
            server.ssh_command(&kh).arg("-S").arg(&sock).arg(line),
            "ssh",
        );
        start.elapsed()
    };
    let local = |line: &str| -> Duration {
        let start = Instant::now();
        run_ok(Command::new("sh").arg("-c").arg(line), "sh -c");
        start.elapsed()
    };
    type Case<'a> = (&'static str, Box<dyn Fn() -> Duration + 'a>);
    let cases: Vec<Case> = vec![
        (
            "run_command `cat /etc/hostname` (resolve + wrapped exec)",
            Box::new(|| tool(PLAIN)),
        ),
        (
            "transport.exec `cat /etc/hostname` (wrapped, no resolve)",
            Box::new(|| exec(PLAIN)),
        ),
        (
            "run_command `uptime` (no path: no resolve)",
            Box::new(|| tool("uptime")),
        ),
        ("transport.exec `uptime`", Box::new(|| exec("uptime"))),
        (
            "ssh ControlMaster: plain `cat /etc/hostname`",
            Box::new(|| ssh(PLAIN)),
        ),
        (
            "ssh ControlMaster: wrapped (env + timeout)",
            Box::new(|| ssh(WRAPPED)),
        ),
        ("local sh -c: plain", Box::new(|| local(PLAIN))),
        (
            "local sh -c: wrapped (env + timeout)",
            Box::new(|| local(WRAPPED)),
        ),
    ];
    for (_, f) in &cases {
        f(); // warm-up
    }
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    // Interleaved, so drift hits every case alike.
    for _ in 0..rounds {
        for (i, (_, f)) in cases.iter().enumerate() {
            samples[i].push(f());
        }
    }
    let m: Vec<Duration> = samples.into_iter().map(median).collect();
    println!("per call on a loopback sshd (root, quiet shell), median of {rounds}:");
    for (i, (name, _)) in cases.iter().enumerate() {
        println!("  {name:58} {:8.2} ms", ms(m[i]));
    }
    println!(
        "  host-side path resolution: +{:.2} ms per call with paths ({:.2}x the bare exec); tool \
         layer without paths: +{:.2} ms ({:.2}x)",
        ms(m[0]) - ms(m[1]),
        ms(m[0]) / ms(m[1]),
        ms(m[2]) - ms(m[3]),
        ms(m[2]) / ms(m[3])
    );
    println!(
        "  wrapper: +{:.2} ms over ssh ({:.2}x), +{:.2} ms locally ({:.2}x)",
        ms(m[5]) - ms(m[4]),
        ms(m[5]) / ms(m[4]),
        ms(m[7]) - ms(m[6]),
        ms(m[7]) / ms(m[6])
    );
    run_ok(
        server
            .ssh_command(&kh)
            .arg("-S")
            .arg(&sock)
            .args(["-O", "exit"]),
        "ssh -O exit",
    );
    rt.block_on(ctx.transport.close());
}

fn main() {
    let rounds: usize = std::env::args()
        .skip_while(|a| a != "--rounds")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    decisions(20);
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    if root && sshd::sshd_binary().exists() {
        host_calls(rounds);
    } else {
        println!("per-call host costs skipped: needs root and OpenSSH sshd");
    }
}
