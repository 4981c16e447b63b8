//! Shared test support: a real OpenSSH `sshd` on loopback, key material, and helpers to run the
//! `tai` binary, the fake model, scenarios, the knowledge embed server and tool sample
//! arguments. The one test binary (tests/all.rs) declares it; suites use `crate::support`.
#![allow(dead_code)]

pub mod context;
pub mod knowledge;
pub mod model;
pub mod scenario;
pub mod sshd;
pub mod tool_samples;

use std::path::Path;
use std::process::Command;

/// A `tai` command with a clean environment: HOME and TAI_HOME inside `home`, PATH kept.
pub fn tai_env(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tai"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("TAI_HOME", home.join(".tai"));
    c
}

/// [`tai_env`] with `NO_COLOR=1`.
pub fn tai_cmd(home: &Path) -> Command {
    let mut c = tai_env(home);
    c.env("NO_COLOR", "1");
    c
}

/// A process's stdout as text.
pub fn stdout_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A process's stderr as text.
pub fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Held by every test that changes real host paths outside its temp dirs (policy_host plants
/// canaries in `/etc/ssl/private`, `$HOME/.ssh`, `/var/log`) or asserts that real host paths
/// stayed unchanged (scenarios). All tests share one process, so without it they would run at
/// the same time and see each other's marks; the `flock` also keeps two test runs on the same
/// machine (other clones, other checkouts) apart.
static HOST_STATE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The lock file behind [`HOST_STATE`] for other processes.
const HOST_STATE_FILE: &str = "/tmp/tai-tests-host-state.lock";

/// Proof that this test alone touches or watches real host state (see [`HOST_STATE`]).
pub struct HostStateGuard {
    _process: tokio::sync::MutexGuard<'static, ()>,
    _file: std::fs::File,
}

/// Take the host-state lock from an async test.
pub async fn host_state_lock() -> HostStateGuard {
    let process = HOST_STATE.lock().await;
    let file = tokio::task::spawn_blocking(lock_host_state_file)
        .await
        .expect("host-state lock thread");
    HostStateGuard {
        _process: process,
        _file: file,
    }
}

/// Take the host-state lock from a synchronous test (not inside an async runtime).
pub fn host_state_lock_blocking() -> HostStateGuard {
    let process = HOST_STATE.blocking_lock();
    HostStateGuard {
        _process: process,
        _file: lock_host_state_file(),
    }
}

/// An exclusive `flock` on [`HOST_STATE_FILE`], released when the file is closed.
fn lock_host_state_file() -> std::fs::File {
    use std::os::fd::AsRawFd;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(HOST_STATE_FILE)
        .unwrap_or_else(|e| panic!("open {HOST_STATE_FILE}: {e}"));
    // SAFETY: flock on a descriptor this function owns for the File's lifetime.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(
        rc,
        0,
        "flock {HOST_STATE_FILE}: {}",
        std::io::Error::last_os_error()
    );
    file
}
