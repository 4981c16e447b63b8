//! Option coverage against the real programs: for every program the policy allows that is
//! installed on this machine, read its own `--help` and fail when it lists an option the policy
//! neither models (with a kind) nor refuses (with a reason). A program upgrade that adds an
//! option therefore shows up here instead of slipping through as "unknown, but harmless".
//!
//! Only the option column of the help text is read (a line starting with `-`, up to the gap
//! before the description), so words in descriptions are not mistaken for options.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use regex::Regex;
use tai::policy::Policy;

/// How to ask a program for its complete option list, where `--help` alone is a summary.
fn help_args(program: &str) -> &'static [&'static str] {
    match program {
        "curl" => &["--help", "all"],
        "ps" => &["--help", "all"],
        _ => &["--help"],
    }
}

fn find_program(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// The program's help text (stdout and stderr), or `None` when it did not answer in time.
fn help_text(path: &Path, args: &[&str]) -> Option<String> {
    let child = Command::new(path)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .env("COLUMNS", "200")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    // Reaped the moment it exits (a thread blocks in wait): an exited child polled for later
    // would sit as a zombie of this test binary, which scenario hosts sharing the process
    // table would see.
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok(Ok(out)) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            Some(text)
        }
        Ok(Err(_)) => None,
        Err(_) => {
            // SAFETY: the child is not reaped yet (its waiter has not returned), so the pid is
            // still ours; the waiter thread reaps it once it dies.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = rx.recv_timeout(Duration::from_secs(5));
            None
        }
    }
}

/// Options named in the option column of a help text.
fn listed_options(text: &str) -> Vec<String> {
    let starts = Regex::new(r"^\s*-{1,2}[A-Za-z0-9?]").unwrap();
    let gap = Regex::new(r"\s{2,}|\t").unwrap();
    let token = Regex::new(r"(?:^|[\s,|\[])(--?[A-Za-z0-9][A-Za-z0-9_-]*)").unwrap();
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if !starts.is_match(line) {
            continue;
        }
        let column = gap.split(line.trim()).next().unwrap_or("");
        for cap in token.captures_iter(column) {
            let t = cap[1].to_string();
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

#[test]
fn the_option_column_parser_reads_getopt_help() {
    let text = "Usage: x [OPTION]... FILE\n  -a, --all              show all\n  \
                -n, --lines=NUM        print NUM lines; see -z in the text\n      \
                --color[=WHEN]     colour\n  -exec CMD ;   runs CMD\n";
    assert_eq!(
        listed_options(text),
        ["-a", "--all", "-n", "--lines", "--color", "-exec"]
    );
}

#[test]
fn every_listed_option_of_an_installed_program_is_modelled_or_refused() {
    let policy = Policy::load(false).unwrap();
    let mut checked = 0;
    let mut gaps = Vec::new();
    for (id, programs, _) in policy.command_rules() {
        for program in programs {
            let Some(path) = find_program(&program) else {
                continue;
            };
            let Some(text) = help_text(&path, help_args(&program)) else {
                continue;
            };
            checked += 1;
            let missing: Vec<String> = listed_options(&text)
                .into_iter()
                .filter(|o| !policy.models_option(&program, o))
                .collect();
            if !missing.is_empty() {
                gaps.push(format!("{program} (rule {id}): {}", missing.join(" ")));
            }
        }
    }
    assert!(
        checked >= 20,
        "only {checked} allowed programs are installed here"
    );
    assert!(
        gaps.is_empty(),
        "{} program(s) list options in --help that the policy neither models nor refuses \
         (add each to the rule's `options` with its exact kind, or to `deny_options` with a \
         reason):\n  {}",
        gaps.len(),
        gaps.join("\n  ")
    );
}
