//! Shared test support: a real OpenSSH `sshd` on loopback, key material, and helpers to run the
//! `tai` binary. Integration tests include it with `mod support;`.
#![allow(dead_code)]

pub mod context;
pub mod model;
pub mod scenario;
pub mod sshd;

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
