//! The SSH transport against real OpenSSH servers (the harness in tests/support/sshd.rs).
//!
//! These live inside the crate because running a command needs an [`ApprovedCommand`], which
//! only the policy can create; the test-only constructor keeps that invariant for the binary.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::*;
use crate::config::{Config, Overrides};
use crate::exit::{Code, HasExitCode};
use crate::transport::{ExecOptions, Target, Transport};

#[allow(dead_code)]
#[path = "../../../tests/support/sshd.rs"]
mod sshd;

use sshd::Sshd;

fn config(home: &Path, keys: &[&Path], known_hosts: &Path) -> Config {
    let o = Overrides {
        tai_home: Some(home.join(".tai")),
        identity_files: keys.iter().map(|k| k.to_path_buf()).collect(),
        known_hosts: Some(known_hosts.to_path_buf()),
        ignore_ssh_config: true,
        ..Default::default()
    };
    Config::resolve_with(&o, &|_| None).unwrap()
}

fn spec(s: &Sshd) -> HostSpec {
    match Target::parse(&s.target()).unwrap() {
        Target::Ssh(h) => h,
        Target::Local => unreachable!(),
    }
}

/// Resolve and connect without consulting any ssh-agent of the environment.
async fn connect_no_agent(
    spec: &HostSpec,
    cfg: &Config,
) -> Result<(Arc<SshTransport>, ConnectReport), TransportError> {
    let mut dest = resolve(spec, cfg)?;
    dest.agent_socket = None;
    connect_resolved(dest, cfg).await
}

fn cmd(argv: &[&str]) -> ApprovedCommand {
    ApprovedCommand::for_tests(argv.iter().map(|s| s.to_string()).collect())
}

fn opts(timeout_secs: u64, cap: usize) -> ExecOptions {
    ExecOptions {
        timeout: Duration::from_secs(timeout_secs),
        output_cap: cap,
        cancel: CancellationToken::new(),
    }
}

struct Fixture {
    sshd: Sshd,
    home: tempfile::TempDir,
    kh: PathBuf,
}

impl Fixture {
    fn new(sshd: Sshd) -> Self {
        let home = tempfile::tempdir().unwrap();
        let kh = home.path().join("known_hosts");
        Fixture { sshd, home, kh }
    }
    fn config(&self) -> Config {
        config(self.home.path(), &[self.sshd.client_key()], &self.kh)
    }
}

#[tokio::test]
async fn ed25519_key_runs_commands_and_learns_the_host() {
    let f = Fixture::new(Sshd::start());
    let (t, report) = connect_no_agent(&spec(&f.sshd), &f.config()).await.unwrap();
    assert!(matches!(
        report.hops[0].host_key,
        Some(HostKeyStatus::Learned { .. })
    ));
    let learned = std::fs::read_to_string(&f.kh).unwrap();
    assert_eq!(
        learned.split_whitespace().nth(2),
        f.sshd.known_hosts_line().split_whitespace().nth(2),
        "{learned}"
    );
    let out = t
        .exec(
            &cmd(&["sh", "-c", "echo out; echo err >&2; exit 3"]),
            &opts(10, 1024),
        )
        .await
        .unwrap();
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
    assert_eq!(out.exit_code, Some(3));
    // Arguments reach the remote side as literal words, never as shell syntax.
    let out = t
        .exec(&cmd(&["echo", "$(id)", "a;b", "it's"]), &opts(10, 1024))
        .await
        .unwrap();
    assert_eq!(out.stdout, "$(id) a;b it's\n");
    // Second connection: the key is now known, not learned again.
    let (_t2, report) = connect_no_agent(&spec(&f.sshd), &f.config()).await.unwrap();
    assert!(matches!(
        report.hops[0].host_key,
        Some(HostKeyStatus::Known { line: 1, .. })
    ));
    assert_eq!(std::fs::read_to_string(&f.kh).unwrap().lines().count(), 1);
    t.close().await;
    // A closed transport stays closed: no silent reconnect.
    let err = t
        .exec(&cmd(&["echo", "after-close"]), &opts(10, 64))
        .await
        .expect_err("closed");
    assert_eq!(err.exit_code(), Code::Connection, "{err}");
    assert_eq!(f.sshd.log_text().matches("Accepted publickey").count(), 2);
}

#[tokio::test]
async fn rsa_key_authenticates() {
    let sshd = Sshd::builder().client_keys(&["rsa"]).start();
    let f = Fixture::new(sshd);
    let (t, _) = connect_no_agent(&spec(&f.sshd), &f.config()).await.unwrap();
    let out = t
        .exec(&cmd(&["echo", "rsa-ok"]), &opts(10, 1024))
        .await
        .unwrap();
    assert_eq!(out.stdout, "rsa-ok\n");
}

#[tokio::test]
async fn wrong_key_is_an_auth_error_never_a_password_prompt() {
    let f = Fixture::new(Sshd::start());
    let other = sshd::keygen(f.home.path(), "stranger", "ed25519", "");
    let cfg = config(f.home.path(), &[&other], &f.kh);
    let err = connect_no_agent(&spec(&f.sshd), &cfg)
        .await
        .err()
        .expect("must fail");
    assert_eq!(err.exit_code(), Code::Authentication, "{err}");
    assert!(err.to_string().contains("refused every key"), "{err}");
}

/// An ssh-agent for one test, killed (by pid) when dropped.
struct Agent {
    child: std::process::Child,
    sock: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    fn start() -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("agent.sock");
        let child = std::process::Command::new("ssh-agent")
            .args(["-D", "-a"])
            .arg(&sock)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("ssh-agent");
        for _ in 0..200 {
            if sock.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Agent {
            child,
            sock,
            _dir: dir,
        }
    }
    fn add(&self, key: &Path) {
        let st = std::process::Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.sock)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "ssh-add failed");
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn agent_identity_authenticates_without_any_key_file() {
    let f = Fixture::new(Sshd::start());
    let agent = Agent::start();
    // The agent holds the authorised key; tai gets only a path that does not exist.
    agent.add(f.sshd.client_key());
    let cfg = config(f.home.path(), &[&f.home.path().join("absent")], &f.kh);
    let mut dest = resolve(&spec(&f.sshd), &cfg).unwrap();
    dest.agent_socket = Some(agent.sock.clone());
    let (t, report) = connect_resolved(dest, &cfg).await.unwrap();
    assert!(
        report.hops[0]
            .auth
            .as_deref()
            .unwrap_or("")
            .contains("ssh-agent"),
        "{report:?}"
    );
    let out = t
        .exec(&cmd(&["echo", "agent-ok"]), &opts(10, 1024))
        .await
        .unwrap();
    assert_eq!(out.stdout, "agent-ok\n");
}

#[tokio::test]
async fn encrypted_key_without_terminal_names_the_key_and_the_fix() {
    let f = Fixture::new(Sshd::start());
    // The encrypted key is the authorised one, so only its passphrase stands in the way.
    let enc = f.home.path().join("enc_key");
    std::fs::copy(f.sshd.client_key(), &enc).unwrap();
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-p", "-N", "secret-pass", "-P", "", "-f"])
        .arg(&enc)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let cfg = config(f.home.path(), &[&enc], &f.kh);
    let err = connect_no_agent(&spec(&f.sshd), &cfg)
        .await
        .err()
        .expect("must fail");
    let msg = err.to_string();
    assert_eq!(err.exit_code(), Code::Authentication, "{msg}");
    assert!(msg.contains(&enc.display().to_string()), "{msg}");
    assert!(msg.contains("encrypted"), "{msg}");
    assert!(msg.contains("ssh-add"), "{msg}");
}

#[tokio::test]
async fn changed_host_key_stops_before_any_command_even_on_reconnect() {
    let mut f = Fixture::new(Sshd::start());
    let marker = f.home.path().join("pwned");
    let (t, _) = connect_no_agent(&spec(&f.sshd), &f.config()).await.unwrap();
    // The same kind of command does run while the key is the recorded one.
    let control = f.home.path().join("control");
    let out = t
        .exec(&cmd(&["touch", control.to_str().unwrap()]), &opts(10, 1024))
        .await
        .unwrap();
    assert_eq!(out.exit_code, Some(0));
    assert!(control.exists());

    // The server now presents another key (as a man-in-the-middle would), and the
    // established connection is gone: the next command must trigger a reconnect, which
    // must stop at the host key.
    f.sshd.kill_connections();
    f.sshd.replace_host_key();
    let touch = cmd(&["touch", marker.to_str().unwrap()]);
    let err = t
        .exec(&touch, &opts(10, 1024))
        .await
        .expect_err("must fail");
    assert_eq!(err.exit_code(), Code::HostKeyChanged, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{msg}"
    );
    assert!(msg.contains(&format!("{}:1", f.kh.display())), "{msg}");
    assert!(
        !marker.exists(),
        "the command ran despite the changed host key"
    );

    // A fresh connection is refused the same way, and nothing is learned over the old key.
    let err = connect_no_agent(&spec(&f.sshd), &f.config())
        .await
        .err()
        .expect("must fail");
    assert_eq!(err.exit_code(), Code::HostKeyChanged);
    assert_eq!(std::fs::read_to_string(&f.kh).unwrap().lines().count(), 1);
    assert!(!marker.exists());
}

#[tokio::test]
async fn ssh_config_alias_include_and_identity_file() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let kh = home.path().join("kh");
    let inc = home.path().join("inc.conf");
    std::fs::write(
        &inc,
        format!(
            "Host web-alias\n  HostName 127.0.0.1\n  Port {}\n  IdentityFile {}\n",
            sshd.port,
            sshd.client_key().display()
        ),
    )
    .unwrap();
    let cfg_file = home.path().join("config");
    std::fs::write(
        &cfg_file,
        format!(
            "User\t{}\nInclude {}\nHost *\n  User nobody-else\n  UserKnownHostsFile {}\n",
            sshd.user,
            inc.display(),
            kh.display()
        ),
    )
    .unwrap();
    let o = Overrides {
        tai_home: Some(home.path().join(".tai")),
        ssh_config: Some(cfg_file),
        ..Default::default()
    };
    let cfg = Config::resolve_with(&o, &|_| None).unwrap();
    let spec = HostSpec::parse("web-alias").unwrap();
    let dest = resolve(&spec, &cfg).unwrap();
    assert_eq!(dest.target.hostname, "127.0.0.1");
    assert_eq!(dest.target.port, sshd.port);
    assert_eq!(dest.target.user, sshd.user);
    assert_eq!(dest.target.known_hosts_files, vec![kh.clone()]);
    let (t, _) = connect_no_agent(&spec, &cfg).await.unwrap();
    let out = t
        .exec(&cmd(&["echo", "alias-ok"]), &opts(10, 1024))
        .await
        .unwrap();
    assert_eq!(out.stdout, "alias-ok\n");
    assert!(std::fs::read_to_string(&kh)
        .unwrap()
        .starts_with(&format!("[127.0.0.1]:{} ", sshd.port)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_sleeps_run_concurrently_on_one_connection() {
    // quiet_shell: the login shell's rc file must not dominate a timing test.
    let f = Fixture::new(Sshd::builder().quiet_shell().start());
    let (t, _) = connect_no_agent(&spec(&f.sshd), &f.config()).await.unwrap();
    let start = Instant::now();
    let runs = (0..8).map(|_| {
        let t = t.clone();
        async move { t.exec(&cmd(&["sleep", "1"]), &opts(10, 1024)).await }
    });
    let results = futures::future::join_all(runs).await;
    let took = start.elapsed();
    for r in results {
        assert_eq!(r.unwrap().exit_code, Some(0));
    }
    assert!(took < Duration::from_secs(2), "8 x sleep 1 took {took:?}");
    // One TCP connection carried all of them.
    let accepted = f.sshd.log_text().matches("Accepted publickey").count();
    assert_eq!(accepted, 1, "{}", f.sshd.log_text());
}

#[tokio::test]
async fn timeout_closes_the_channel_and_cancel_stops_the_command() {
    let f = Fixture::new(Sshd::start());
    let (t, _) = connect_no_agent(&spec(&f.sshd), &f.config()).await.unwrap();
    let start = Instant::now();
    let out = t
        .exec(&cmd(&["sh", "-c", TICK_A]), &opts(1, 1024))
        .await
        .unwrap();
    assert!(out.timed_out);
    assert_eq!(out.exit_code, None);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(out.stdout.starts_with("tick-29613\n"), "{out:?}");
    // The remote command ended too (sshd ignores signal requests for root logins: the
    // host-side timeout(1) wrapper ends it).
    assert!(
        gone_soon("tick-29613").await,
        "the timed-out command still runs on the server; sshd log:\n{}",
        f.sshd.log_text()
    );

    let o = opts(30, 1024);
    let cancel = o.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });
    let start = Instant::now();
    let out = t.exec(&cmd(&["sh", "-c", TICK_B]), &o).await.unwrap();
    assert!(out.cancelled);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(
        gone_soon("tick-28417").await,
        "the cancelled command still runs on the server"
    );
    // The connection is still usable afterwards.
    let out = t
        .exec(&cmd(&["echo", "still-here"]), &opts(10, 1024))
        .await
        .unwrap();
    assert_eq!(out.stdout, "still-here\n");
}

#[tokio::test]
async fn exit_signal_is_reported() {
    let f = Fixture::new(Sshd::start());
    let (t, _) = connect_no_agent(&spec(&f.sshd), &f.config()).await.unwrap();
    let out = t
        .exec(&cmd(&["sh", "-c", "kill -TERM $$"]), &opts(10, 1024))
        .await
        .unwrap();
    assert_eq!(out.signal.as_deref(), Some("TERM"), "{out:?}");
    assert_eq!(out.exit_code, None);
    // Invalid UTF-8 on either stream is decoded lossily, never an error.
    let out = t
        .exec(
            &cmd(&["sh", "-c", "printf 'a\\377b'; printf 'c\\376d' >&2"]),
            &opts(10, 64),
        )
        .await
        .unwrap();
    assert_eq!(out.stdout, "a\u{fffd}b");
    assert_eq!(out.stderr, "c\u{fffd}d");
}

/// A root session (sshd ignores the client's signal request there) running a silent busy loop
/// with a background child: nothing writes, so a closed channel stops nothing; the host-side
/// `timeout -k 2 N` wrapper must end both within seconds of the timeout.
#[tokio::test]
async fn silent_commands_and_their_children_end_on_the_host_and_stdin_is_closed() {
    let f = Fixture::new(Sshd::start());
    let (t, _) = connect_no_agent(&spec(&f.sshd), &f.config()).await.unwrap();
    let marker = format!("tai-bound-{}", std::process::id());
    let script = format!("sleep 300 & while :; do :; done # {marker}");
    let start = Instant::now();
    let out = t
        .exec(&cmd(&["sh", "-c", &script]), &opts(2, 1024))
        .await
        .unwrap();
    assert!(out.timed_out, "{out:?}");
    assert!(start.elapsed() < Duration::from_secs(5), "{out:?}");
    // The background `sleep 300` has the marker in its parent's line only: find it by the
    // processes below sshd instead.
    let gone = async {
        for _ in 0..100 {
            let below: Vec<String> = sshd::descendants(f.sshd.pid().unwrap())
                .into_iter()
                .filter_map(|p| std::fs::read(format!("/proc/{p}/cmdline")).ok())
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                .filter(|c| !c.starts_with("sshd"))
                .collect();
            if below.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            if start.elapsed() > Duration::from_secs(2 + 5) {
                return Err(below);
            }
        }
        Ok(())
    };
    if let Err(alive) = gone.await {
        panic!("still running on the host 5 s after the timeout: {alive:?}");
    }
    assert!(gone_soon(&marker).await);
    // stdin is /dev/null: `cat` with no file ends at once instead of waiting for the timeout.
    let start = Instant::now();
    let out = t.exec(&cmd(&["cat"]), &opts(30, 1024)).await.unwrap();
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let out = t
        .exec(&cmd(&["sh", "-c", "echo $LC_ALL"]), &opts(30, 1024))
        .await
        .unwrap();
    assert_eq!(out.stdout, "C\n");
    // The shell builtin `command` runs as its own quoted line.
    let out = t
        .exec(&cmd(&["command", "-v", "sh"]), &opts(30, 1024))
        .await
        .unwrap();
    assert!(out.stdout.trim_end().ends_with("/sh"), "{out:?}");
}

/// Remote loops that print every 200 ms, recognisable by their command line.
const TICK_A: &str = "while :; do echo tick-29613; sleep 0.2; done";
const TICK_B: &str = "while :; do echo tick-28417; sleep 0.2; done";

/// Whether no process with `needle` in its command line remains within two seconds.
async fn gone_soon(needle: &str) -> bool {
    for _ in 0..40 {
        let alive = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .any(|c| String::from_utf8_lossy(&c).contains(needle));
        if !alive {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

const MEM_TEST: &str = "transport::ssh::tests::fifty_megabytes_stay_capped_and_memory_bounded";

#[tokio::test]
async fn fifty_megabytes_stay_capped_and_memory_bounded() {
    let f = Fixture::new(Sshd::start());
    let (t, _) = connect_no_agent(&spec(&f.sshd), &f.config()).await.unwrap();
    let before = peak_rss_kib();
    let cap = 256 * 1024;
    let out = t
        .exec(
            &cmd(&[
                "sh",
                "-c",
                "head -c 50000000 /dev/zero | tr '\\0' x; printf END",
            ]),
            &opts(60, cap),
        )
        .await
        .unwrap();
    assert_eq!(out.exit_code, Some(0));
    assert_eq!(out.truncated_bytes, 50_000_003 - cap as u64);
    assert!(out.stdout.len() < cap + 100, "{}", out.stdout.len());
    assert!(out.stdout.ends_with("xEND"));
    assert!(out.stdout.contains("bytes truncated"));
    let grown_mib = peak_rss_kib().saturating_sub(before) / 1024;
    if std::env::var_os("TAI_MEM_CHILD").is_some() {
        // Alone in its own process (see below): the peak is this test's own.
        assert!(
            grown_mib < 24,
            "peak RSS grew by {grown_mib} MiB for 50 MB of output"
        );
        return;
    }
    // Other tests share this process's peak RSS; measure again alone in a fresh process.
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([MEM_TEST, "--exact", "--test-threads=1"])
        .env("TAI_MEM_CHILD", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success() && text.contains("1 passed"),
        "isolated run failed:\n{text}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
}

#[tokio::test]
async fn dropped_connection_reconnects_once_between_commands() {
    let f = Fixture::new(Sshd::start());
    let (t, _) = connect_no_agent(&spec(&f.sshd), &f.config()).await.unwrap();
    assert_eq!(
        t.exec(&cmd(&["echo", "1"]), &opts(10, 64))
            .await
            .unwrap()
            .stdout,
        "1\n"
    );
    f.sshd.kill_connections();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let out = t.exec(&cmd(&["echo", "2"]), &opts(10, 64)).await.unwrap();
    assert_eq!(out.stdout, "2\n");
    assert_eq!(f.sshd.log_text().matches("Accepted publickey").count(), 2);
}

#[tokio::test]
async fn server_killed_mid_command_is_a_clear_error() {
    let mut f = Fixture::new(Sshd::start());
    let (t, _) = connect_no_agent(&spec(&f.sshd), &f.config()).await.unwrap();
    let t2 = t.clone();
    let run = tokio::spawn(async move {
        t2.exec(
            &cmd(&["sh", "-c", "echo started; sleep 20"]),
            &opts(30, 1024),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    f.sshd.kill_all();
    let err = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("exec must not hang")
        .unwrap()
        .expect_err("must fail");
    assert_eq!(err.exit_code(), Code::Connection, "{err}");
    let msg = err.to_string();
    assert!(msg.contains("lost"), "{msg}");
    assert!(msg.contains("sleep"), "{msg}");
    // With the server gone the next command fails to reconnect, clearly.
    let err = t
        .exec(&cmd(&["true"]), &opts(5, 64))
        .await
        .expect_err("must fail");
    assert_eq!(err.exit_code(), Code::Connection, "{err}");
}

#[tokio::test]
async fn jump_host_reaches_a_target_only_the_bastion_can_reach() {
    let net = sshd::JumpNet::create();
    let mut bastion = Sshd::builder()
        .listen(&net.bastion_ip)
        .wrapper(&sshd::JumpNet::exec_in(&net.bastion_ns))
        .start();
    let target = Sshd::builder()
        .listen(&net.target_ip)
        .wrapper(&sshd::JumpNet::exec_in(&net.target_ns))
        .start();
    let home = tempfile::tempdir().unwrap();
    let kh = home.path().join("known_hosts");
    let keys = [bastion.client_key(), target.client_key()];

    // From here the target cannot be reached directly.
    let direct = connect_no_agent(&spec(&target), &config(home.path(), &keys, &kh)).await;
    let err = direct
        .err()
        .expect("the target must not be reachable directly");
    assert_eq!(err.exit_code(), Code::Connection, "{err}");

    let mut cfg = config(home.path(), &keys, &kh);
    cfg.ssh.jump_host = Some(bastion.target());
    let (t, report) = connect_no_agent(&spec(&target), &cfg).await.unwrap();
    assert_eq!(report.hops.len(), 2);
    for hop in &report.hops {
        assert!(
            matches!(hop.host_key, Some(HostKeyStatus::Learned { .. })),
            "{report:?}"
        );
    }
    let out = t
        .exec(&cmd(&["echo", "via-bastion"]), &opts(10, 64))
        .await
        .unwrap();
    assert_eq!(out.stdout, "via-bastion\n");
    // The target saw the connection coming from the bastion's inner address.
    let log = target.log_text();
    assert!(
        log.contains(&format!("from {} port", net.bastion_inner_ip)),
        "{log}"
    );
    let recorded = std::fs::read_to_string(&kh).unwrap();
    assert!(recorded.contains(&format!("[{}]:{} ", net.bastion_ip, bastion.port)));
    assert!(recorded.contains(&format!("[{}]:{} ", net.target_ip, target.port)));
    t.close().await;

    // Every hop is checked: a changed bastion key stops the chain at the bastion.
    bastion.replace_host_key();
    let err = connect_no_agent(&spec(&target), &cfg)
        .await
        .err()
        .expect("must fail");
    assert_eq!(err.exit_code(), Code::HostKeyChanged, "{err}");
    assert!(err.to_string().contains(&net.bastion_ip), "{err}");
}

#[tokio::test]
async fn global_known_hosts_are_trusted_and_checked_but_never_written() {
    let mut f = Fixture::new(Sshd::start());
    let global = f.home.path().join("ssh_known_hosts");
    std::fs::write(&global, f.sshd.known_hosts_line()).unwrap();
    let resolved = |f: &Fixture| {
        let mut dest = resolve(&spec(&f.sshd), &f.config()).unwrap();
        dest.agent_socket = None;
        dest.target.global_known_hosts_files = vec![global.clone()];
        dest
    };
    let (_t, report) = connect_resolved(resolved(&f), &f.config()).await.unwrap();
    assert!(
        matches!(&report.hops[0].host_key, Some(HostKeyStatus::Known { file, .. }) if *file == global),
        "{report:?}"
    );
    assert!(
        !f.kh.exists(),
        "nothing to learn: the global file knows the host"
    );
    f.sshd.replace_host_key();
    let err = connect_resolved(resolved(&f), &f.config())
        .await
        .err()
        .expect("must fail");
    assert_eq!(err.exit_code(), Code::HostKeyChanged, "{err}");
    assert!(
        err.to_string().contains(&global.display().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn strict_host_key_checking_yes_refuses_an_unknown_host() {
    let sshd = Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let kh = home.path().join("kh");
    let cfg_file = home.path().join("config");
    std::fs::write(
        &cfg_file,
        format!(
            "Host strict\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {}\n  \
             StrictHostKeyChecking yes\n  UserKnownHostsFile {}\n",
            sshd.port,
            sshd.user,
            sshd.client_key().display(),
            kh.display()
        ),
    )
    .unwrap();
    let o = Overrides {
        tai_home: Some(home.path().join(".tai")),
        ssh_config: Some(cfg_file),
        ..Default::default()
    };
    let cfg = Config::resolve_with(&o, &|_| None).unwrap();
    let spec = HostSpec::parse("strict").unwrap();
    let err = connect_no_agent(&spec, &cfg)
        .await
        .err()
        .expect("must fail");
    assert_eq!(err.exit_code(), Code::HostKeyChanged, "{err}");
    assert!(err.to_string().contains("StrictHostKeyChecking"), "{err}");
    assert!(!kh.exists(), "nothing may be learned in strict mode");
    // Once the key is recorded, the same configuration connects.
    std::fs::write(&kh, sshd.known_hosts_line()).unwrap();
    let (t, _) = connect_no_agent(&spec, &cfg).await.unwrap();
    let out = t
        .exec(&cmd(&["echo", "strict-ok"]), &opts(10, 64))
        .await
        .unwrap();
    assert_eq!(out.stdout, "strict-ok\n");
}

#[tokio::test]
async fn named_key_is_offered_before_many_unrelated_agent_keys() {
    // sshd gives up after MaxAuthTries (6) attempts: with seven unrelated agent keys tried
    // first, the key given with -i would never be reached.
    let f = Fixture::new(Sshd::start());
    let agent = Agent::start();
    for i in 0..7 {
        let k = sshd::keygen(f.home.path(), &format!("unrelated{i}"), "ed25519", "");
        agent.add(&k);
    }
    let cfg = f.config();
    let mut dest = resolve(&spec(&f.sshd), &cfg).unwrap();
    dest.agent_socket = Some(agent.sock.clone());
    let (t, report) = connect_resolved(dest, &cfg).await.unwrap();
    let auth = report.hops[0].auth.clone().unwrap_or_default();
    assert!(
        auth.contains(&f.sshd.client_key().display().to_string()),
        "{auth}"
    );
    let out = t
        .exec(&cmd(&["echo", "named-first"]), &opts(10, 64))
        .await
        .unwrap();
    assert_eq!(out.stdout, "named-first\n");
}

#[path = "shell_tests.rs"]
mod shell_tests;
