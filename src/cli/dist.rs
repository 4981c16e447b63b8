//! `tai dist OUTDIR` (hidden from --help): the release artifacts, generated from the clap
//! definitions so they never drift from the binary. Writes `OUTDIR/tai-VERSION-TARGET/` with
//! the running binary, man pages (clap_mangen, one per subcommand), shell completions
//! (bash, zsh, fish), README.md and LICENSE, and packs it into
//! `OUTDIR/tai-VERSION-TARGET.tar.gz` with the system `tar` (no archive crate).
//! Also home of the `--version` string (version, git revision, build date; see build.rs).
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use super::args::{Cli, DistArgs};
use crate::exit::{Code, HasExitCode};

/// `tai --version`: "0.1.0 (rev 1a2b3c4d5e6f, built 2026-12-02, x86_64-unknown-linux-gnu)".
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (rev ",
    env!("TAI_GIT_REV"),
    ", built ",
    env!("TAI_BUILD_DATE"),
    ", ",
    env!("TAI_TARGET"),
    ")"
);

const README: &str = include_str!("../../README.md");
const LICENSE: &str = include_str!("../../LICENSE");

/// What failed while writing the release artifacts.
#[derive(Debug, thiserror::Error)]
pub enum DistError {
    #[error("dist: could not write {path}: {source}; check that OUTDIR is writable")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("dist: could not find the running tai binary: {0}")]
    Exe(std::io::Error),
    #[error("dist: `tar` failed ({0}); install tar (GNU or busybox) and retry")]
    Tar(String),
}

impl HasExitCode for DistError {
    fn exit_code(&self) -> Code {
        Code::Failure
    }
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> DistError + '_ {
    move |source| DistError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// The directory and tarball name: `tai-VERSION-TARGET`.
pub fn dist_name() -> String {
    format!("tai-{}-{}", env!("CARGO_PKG_VERSION"), env!("TAI_TARGET"))
}

/// Write the artifacts under `out`; returns the tarball's path.
pub fn build(out: &Path) -> Result<PathBuf, DistError> {
    let name = dist_name();
    let root = out.join(&name);
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(write_err(&root))?;
    }
    let man = root.join("man/man1");
    let comp = root.join("completions");
    for dir in [&man, &comp] {
        std::fs::create_dir_all(dir).map_err(write_err(dir))?;
    }
    clap_mangen::generate_to(Cli::command(), &man).map_err(write_err(&man))?;
    for (shell, file) in [
        (clap_complete::Shell::Bash, "tai.bash"),
        (clap_complete::Shell::Zsh, "_tai"),
        (clap_complete::Shell::Fish, "tai.fish"),
    ] {
        let path = comp.join(file);
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "tai", &mut buf);
        std::fs::write(&path, buf).map_err(write_err(&path))?;
    }
    for (file, text) in [("README.md", README), ("LICENSE", LICENSE)] {
        let path = root.join(file);
        std::fs::write(&path, text).map_err(write_err(&path))?;
    }
    let exe = std::env::current_exe().map_err(DistError::Exe)?;
    let bin = root.join("tai");
    std::fs::copy(&exe, &bin).map_err(write_err(&bin))?;
    let out = std::fs::canonicalize(out).map_err(write_err(out))?;
    let tarball = out.join(format!("{name}.tar.gz"));
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg(&out)
        .args(["--owner=0", "--group=0", "-czf"])
        .arg(&tarball)
        .arg(&name)
        .status()
        .map_err(|e| DistError::Tar(e.to_string()))?;
    if !status.success() {
        return Err(DistError::Tar(status.to_string()));
    }
    Ok(tarball)
}

/// `tai dist OUTDIR`.
pub fn run(args: &DistArgs) -> anyhow::Result<Code> {
    let tarball = build(&args.outdir)?;
    println!("{}", tarball.display());
    Ok(Code::Success)
}
