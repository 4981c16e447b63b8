//! The adversarial corpus: every attack line in `tests/corpus/deny.txt` is refused with a
//! reason, and at least 98% of the everyday lines in `tests/corpus/allow.txt` are allowed (the
//! denied ones are printed). Lines are judged the way the `run_command` tool judges them:
//! `tools::pipeline::split_pipeline` (no shell syntax; `|` only into the stages tai applies
//! itself), then the policy decides the host command. The same corpora run on a real host in
//! tests/suite/policy_host.rs. Also: the quoting property test (a real `sh` reads every quoted word
//! back exactly).
use std::process::Command;

use proptest::prelude::*;
use tai::policy::{quote, split_command_line, Decision, Policy};
use tai::tools::pipeline::split_pipeline;

/// Attack lines the corpus must keep (it only grows).
const MIN_ATTACKS: usize = 1450;
/// Of those, refused by the policy itself rather than by the command-line syntax gate.
const MIN_BY_POLICY: usize = 1000;
/// Everyday lines the corpus must keep, and the share of them that must be allowed.
const MIN_EVERYDAY: usize = 590;
const MIN_ALLOWED_SHARE: f64 = 0.98;

fn lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect()
}

/// What `run_command` would do with one command line: `Err((rule, reason))` or `Ok(rule)`.
/// A line the command-line parser refuses (shell syntax, a pipe into something that is not a
/// stage tai applies) is refused by the rule `shell-syntax`.
fn decide(policy: &Policy, line: &str) -> Result<String, (String, String)> {
    let (argv, _stages) =
        split_pipeline(line).map_err(|e| ("shell-syntax".to_string(), e.to_string()))?;
    match policy.check(&argv) {
        Decision::Allow { rule } => Ok(rule),
        Decision::Deny { rule, reason } => Err((rule, reason)),
    }
}

#[test]
fn every_attack_line_is_denied_with_a_reason() {
    let policy = Policy::load(false).unwrap();
    let attacks = lines(include_str!("../corpus/deny.txt"));
    assert!(
        attacks.len() >= MIN_ATTACKS,
        "only {} attack lines",
        attacks.len()
    );
    let mut allowed = Vec::new();
    let mut by_policy = 0;
    for line in &attacks {
        match decide(&policy, line) {
            Ok(rule) => allowed.push(format!("{line}  (allowed by {rule})")),
            Err((rule, reason)) => {
                assert!(!reason.trim().is_empty(), "{line}: empty reason");
                assert!(!rule.is_empty(), "{line}: no rule named");
                if rule != "shell-syntax" {
                    by_policy += 1;
                }
            }
        }
    }
    assert!(
        allowed.is_empty(),
        "{} attack line(s) were allowed:\n{}",
        allowed.len(),
        allowed.join("\n")
    );
    // The policy itself (not just the shell-syntax gate) must carry most of the weight.
    assert!(
        by_policy >= MIN_BY_POLICY,
        "only {by_policy} lines refused by the policy itself"
    );
}

#[test]
fn everyday_lines_are_allowed() {
    let policy = Policy::load(false).unwrap();
    let legit = lines(include_str!("../corpus/allow.txt"));
    assert!(
        legit.len() >= MIN_EVERYDAY,
        "only {} everyday lines",
        legit.len()
    );
    let denied: Vec<String> = legit
        .iter()
        .filter_map(|line| match decide(&policy, line) {
            Ok(_) => None,
            Err((rule, reason)) => Some(format!("{line}\n    denied by {rule}: {reason}")),
        })
        .collect();
    let share = 1.0 - denied.len() as f64 / legit.len() as f64;
    // Printed even when the share is met: every denial of an everyday line is a usability bug.
    eprintln!(
        "{} of {} everyday lines allowed ({:.1}%); denied:\n{}",
        legit.len() - denied.len(),
        legit.len(),
        share * 100.0,
        denied.join("\n")
    );
    assert!(
        share >= MIN_ALLOWED_SHARE,
        "only {:.1}% of the everyday lines are allowed (need {:.0}%); {} denied:\n{}",
        share * 100.0,
        MIN_ALLOWED_SHARE * 100.0,
        denied.len(),
        denied.join("\n")
    );
}

#[test]
fn pipelines_run_only_their_first_command_on_the_host() {
    // A pipe is never shell syntax on the host: the argv the policy sees is the first segment.
    for line in lines(include_str!("../corpus/allow.txt")) {
        if let Ok((argv, stages)) = split_pipeline(line) {
            assert!(
                !argv.iter().any(|w| w == "|"),
                "{line}: `|` reached the argv"
            );
            if stages.is_empty() {
                assert_eq!(Ok(argv), split_command_line(line), "{line}");
            }
        }
    }
}

#[test]
fn sudo_changes_what_runs_not_what_is_allowed() {
    let plain = Policy::load(false).unwrap();
    let sudo = Policy::load(true).unwrap();
    for line in lines(include_str!("../corpus/allow.txt"))
        .into_iter()
        .chain(lines(include_str!("../corpus/deny.txt")))
    {
        let Ok((argv, _)) = split_pipeline(line) else {
            continue;
        };
        assert_eq!(plain.check(&argv), sudo.check(&argv), "{line}");
        if let Ok(approved) = sudo.approve(&argv) {
            let unprivileged = plain.approve(&argv).unwrap();
            assert_eq!(&approved.argv()[..3], ["sudo", "-n", "--"], "{line}");
            assert_eq!(&approved.argv()[3..], unprivileged.argv(), "{line}");
            assert_eq!(approved.checked_argv(), argv.as_slice(), "{line}");
        }
    }
}

/// Run `sh -c "printf '%s\0' <quoted words>"` and split the NUL-terminated output.
fn through_sh(words: &[String]) -> Vec<u8> {
    let script = format!("printf '%s\\0' {}", quote::command_line(words));
    let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    assert!(out.status.success(), "sh failed on {script:?}");
    out.stdout
}

fn expected(words: &[String]) -> Vec<u8> {
    let mut v = Vec::new();
    for w in words {
        v.extend_from_slice(w.as_bytes());
        v.push(0);
    }
    v
}

/// Strings full of what a shell would love to interpret.
fn nasty() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,40}",
        "[\\x01-\\x7f]{0,40}",
        "[-'\"`$(){};|&<>*?~#!\\\\ \\n\\t=.a/]{0,30}",
        any::<String>().prop_map(|s| s.replace('\0', "")),
        Just("$(touch /tmp/tai-quote-pwned)".to_string()),
        Just("`id`".to_string()),
        Just("-rf".to_string()),
        Just(String::new()),
    ]
}

/// Words that exercise every corner of the evaluator: allowed and denied programs, options of
/// every shape, subcommands, paths, awk/sed programs, multibyte text.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "journalctl",
            "systemctl",
            "ip",
            "find",
            "sed",
            "awk",
            "grep",
            "ps",
            "curl",
            "openssl",
            "rpm",
            "tail",
            "cat",
            "ls",
            "du",
            "sort",
            "date",
            "ss",
            "status",
            "show",
            "route",
            "get",
            "x509",
            "-n",
            "-e",
            "-i",
            "-r",
            "--",
            "-",
            "-f",
            "--lines=5",
            "--since",
            "-exec",
            "-name",
            "!",
            "(",
            "-1",
            "+5",
            "/etc/shadow",
            "/var/log/syslog",
            "..",
            "/proc/1/environ",
            "{print $1}",
            "s/a/b/w x",
            "10p",
            "@/x",
            "http://x/",
            "é",
            "-é",
            "--vac",
            "=",
            "-NUM",
            "",
        ])
        .prop_map(str::to_string),
        "[-+/.a-z=@é]{0,8}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_policy_decides_any_argv_without_panicking(argv in proptest::collection::vec(word(), 0..7)) {
        let policy = Policy::load(false).unwrap();
        match policy.check(&argv) {
            Decision::Allow { rule } => {
                prop_assert!(!rule.is_empty());
                prop_assert!(argv.iter().all(|a| !a.chars().any(|c| c.is_control() && c != '\t')));
            }
            Decision::Deny { rule, reason } => prop_assert!(!rule.is_empty() && !reason.is_empty()),
        }
    }

    #[test]
    fn splitting_any_line_never_panics(line in "[ -~\n\té]{0,60}") {
        if let Ok(argv) = split_command_line(&line) {
            prop_assert!(!argv.is_empty());
            prop_assert!(!line.contains('\n'));
        }
    }

    #[test]
    fn quoting_round_trips_through_a_real_shell(words in proptest::collection::vec(nasty(), 1..4)) {
        prop_assert_eq!(through_sh(&words), expected(&words));
    }
}

#[test]
fn quoting_round_trips_every_byte() {
    // Every single character 1..=255 (as UTF-8) alone and inside a word.
    let words: Vec<String> = (1u32..=255)
        .filter_map(char::from_u32)
        .flat_map(|c| [c.to_string(), format!("a{c}b"), format!("{c}{c}")])
        .collect();
    for chunk in words.chunks(64) {
        assert_eq!(through_sh(chunk), expected(chunk));
    }
}
