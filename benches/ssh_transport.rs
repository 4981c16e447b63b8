//! SSH transport benchmark: 10 read-only commands against a loopback sshd.
//!
//! Compared, each measured end to end (connect, authenticate, run all 10, disconnect):
//! - tai: one russh connection, one session channel per command, run concurrently
//!   (bounded by `limits.max_concurrency`), as a plan runs them; and the same with the
//!   commands one after another;
//! - 10 separate `ssh HOST CMD` invocations, one after the other;
//! - OpenSSH ControlMaster with the master started inside the measurement, then 10 `ssh`
//!   clients over it (sequentially, and all 10 in parallel), then `ssh -O exit`;
//! - one joined `ssh HOST 'a; b; …'`;
//! - the joined `ssh` again with `KexAlgorithms curve25519-sha256`, the key exchange tai
//!   negotiates with OpenSSH 9.2 (plain `ssh` picks the post-quantum sntrup761 hybrid).
//!
//! Every command goes through the real policy (`Policy::approve`) and the one quoting
//! function. The server runs with `quiet_shell` (the login user's ~/.bashrc masked in a
//! private mount namespace; root's runs `pyenv init` here) so the numbers measure transports,
//! not shell start-up. Needs root and OpenSSH. Run: `cargo bench --bench ssh_transport`
//! (`-- --rounds N`, default 9).
#![allow(clippy::print_stdout)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tai::config::{Config, Overrides};
use tai::policy::{ApprovedCommand, Policy};
use tai::transport::{ExecOptions, Target, Transport};
use tokio_util::sync::CancellationToken;

#[allow(dead_code)]
#[path = "../tests/support/sshd.rs"]
mod sshd;

/// Ten read-only commands a baseline plan would run.
const COMMANDS: [&[&str]; 10] = [
    &["uname", "-a"],
    &["uptime"],
    &["cat", "/proc/loadavg"],
    &["free", "-m"],
    &["df", "-h"],
    &["cat", "/proc/meminfo"],
    &["hostname"],
    &["id"],
    &["cat", "/etc/os-release"],
    &["ps", "-eo", "pid,ppid,cmd,%mem,%cpu", "--sort=-%mem"],
];

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn run_ok(c: &mut Command, what: &str) {
    let out = c.stdin(Stdio::null()).output().expect(what);
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn main() {
    let rounds: usize = std::env::args()
        .skip_while(|a| a != "--rounds")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(9);
    let policy = Policy::load(false).expect("load the policy");
    let approved: Vec<ApprovedCommand> = COMMANDS
        .iter()
        .map(|argv| {
            let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
            policy
                .approve(&argv)
                .unwrap_or_else(|e| panic!("the benchmark only runs policy-approved commands: {e}"))
        })
        .collect();
    let lines: Vec<String> = approved.iter().map(|c| c.command_line()).collect();
    let joined = lines.join("; ");

    let server = sshd::Sshd::builder().quiet_shell().start();
    let work = tempfile::tempdir().unwrap();
    let kh = work.path().join("known_hosts");
    // Record the host key once, with both clients, so nobody pays for learning it.
    run_ok(server.ssh_command(&kh).arg("true"), "ssh (learn host key)");
    let spec = match Target::parse(&server.target()).unwrap() {
        Target::Ssh(h) => h,
        Target::Local => unreachable!(),
    };
    let config = Config::resolve_with(
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

    let tai_once = |concurrent: bool| -> Duration {
        let start = Instant::now();
        rt.block_on(async {
            let mut dest = tai::transport::ssh::resolve(&spec, &config).unwrap();
            dest.agent_socket = None;
            let (t, _) = tai::transport::ssh::connect_resolved(dest, &config)
                .await
                .unwrap();
            let opts = ExecOptions::from_limits(&config.limits, CancellationToken::new());
            if concurrent {
                let runs = approved.iter().map(|c| {
                    let t = t.clone();
                    let opts = opts.clone();
                    async move { t.exec(c, &opts).await }
                });
                for r in futures::future::join_all(runs).await {
                    assert_eq!(r.unwrap().exit_code, Some(0));
                }
            } else {
                for c in &approved {
                    assert_eq!(t.exec(c, &opts).await.unwrap().exit_code, Some(0));
                }
            }
            t.close().await;
        });
        start.elapsed()
    };
    let separate_once = || -> Duration {
        let start = Instant::now();
        for line in &lines {
            run_ok(server.ssh_command(&kh).arg(line), "ssh");
        }
        start.elapsed()
    };
    let control_once = |parallel: bool| -> Duration {
        let sock = work.path().join("cm.sock");
        let start = Instant::now();
        run_ok(
            server
                .ssh_command(&kh)
                .args(["-o", "ControlMaster=yes", "-o", "ControlPersist=yes", "-S"])
                .arg(&sock)
                .args(["-f", "-N"]),
            "ssh ControlMaster",
        );
        let client = |line: &str| {
            let mut c = server.ssh_command(&kh);
            c.arg("-S").arg(&sock).arg(line);
            c
        };
        if parallel {
            let children: Vec<_> = lines
                .iter()
                .map(|l| {
                    client(l)
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .spawn()
                        .unwrap()
                })
                .collect();
            for mut c in children {
                assert!(c.wait().unwrap().success());
            }
        } else {
            for l in &lines {
                run_ok(&mut client(l), "ssh over ControlMaster");
            }
        }
        run_ok(
            server
                .ssh_command(&kh)
                .arg("-S")
                .arg(&sock)
                .args(["-O", "exit"]),
            "ssh -O exit",
        );
        start.elapsed()
    };
    let joined_once = |kex: Option<&str>| -> Duration {
        let start = Instant::now();
        let mut c = server.ssh_command(&kh);
        if let Some(k) = kex {
            c.args(["-o", &format!("KexAlgorithms={k}")]);
        }
        run_ok(c.arg(&joined), "joined ssh");
        start.elapsed()
    };

    let names = [
        "tai transport (1 connection, 10 concurrent channels)",
        "tai transport (1 connection, 10 channels one after another)",
        "10 separate ssh invocations",
        "ssh ControlMaster, master inside, 10 sequential clients",
        "ssh ControlMaster, master inside, 10 parallel clients",
        "one joined ssh 'a; b; …'",
        "one joined ssh, KexAlgorithms=curve25519-sha256",
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); names.len()];
    // Warm-up round (page cache, sshd binary), not recorded.
    tai_once(true);
    joined_once(None);
    for round in 0..rounds {
        // Rotate the order so no method always runs first.
        for k in 0..names.len() {
            let i = (k + round) % names.len();
            let d = match i {
                0 => tai_once(true),
                1 => tai_once(false),
                2 => separate_once(),
                3 => control_once(false),
                4 => control_once(true),
                5 => joined_once(None),
                _ => joined_once(Some("curve25519-sha256")),
            };
            samples[i].push(d);
        }
    }
    let medians: Vec<Duration> = samples.into_iter().map(median).collect();
    let tai = medians[0];
    let joined = medians[5];
    println!("SSH transport: 10 read-only commands, loopback sshd, median of {rounds} rounds");
    println!();
    println!("| method | median ms | vs tai | tai vs it |");
    println!("|---|---:|---:|---:|");
    for (name, m) in names.iter().zip(&medians) {
        println!(
            "| {name} | {:.1} | {:.2}x | {:.2} |",
            ms(*m),
            ms(*m) / ms(tai),
            ms(tai) / ms(*m)
        );
    }
    println!();
    let ratio_joined = ms(tai) / ms(joined);
    let cm = medians[3].min(medians[4]);
    println!(
        "tai / joined ssh = {ratio_joined:.2} (target <= 1.20: {}); tai / best ControlMaster = {:.2} (target < 1.00: {})",
        if ratio_joined <= 1.2 { "met" } else { "NOT met" },
        ms(tai) / ms(cm),
        if tai < cm { "met" } else { "NOT met" }
    );
}
