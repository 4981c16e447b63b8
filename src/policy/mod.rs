//! The read-only policy: an argv goes in, `Allow` or `Deny(reason)` comes out, and only an
//! allowed argv becomes an [`ApprovedCommand`] that a transport will run.
//!
//! The allowlist is data (`tools/policy.toml` and `tools/policy/*.toml`, compiled in). Every rule carries examples that
//! must and must not match, checked when the policy loads ([`rules`] evaluates, [`paths`]
//! normalises and matches paths, [`scripts`] validates awk/sed programs, [`quote`] is the one
//! argv → command line function).
use std::sync::{Arc, OnceLock};

use serde::Serialize;

use crate::exit::{Code, HasExitCode};

mod command_line;
pub mod paths;
pub mod quote;
pub mod rules;
pub mod scripts;
pub mod url;

pub use command_line::{split_command_line, CommandLineError};
pub use rules::RulesError;
use rules::{PolicyFile, Refusal, Rules, Verdict};

/// An argv the policy approved. Only this module can create one, so a transport can only run
/// what the policy saw. It keeps the policy's verdict (path words, printed files, probe
/// names), so the checks around a run read it instead of parsing the argv again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovedCommand {
    /// The argv that was checked.
    inner: Vec<String>,
    /// The argv that runs: `inner`, or `sudo -n` + `inner` with `--sudo`.
    run: Vec<String>,
    /// The rule that allowed it.
    rule: String,
    /// What the policy found in `inner` when it allowed it.
    #[serde(skip)]
    verdict: Verdict,
}

impl ApprovedCommand {
    /// `inner` is the argv the policy decided on; the verdict's `run` is what runs for it
    /// (`inner` plus any arguments the policy adds, such as exclusions for a recursive grep).
    fn new(inner: Vec<String>, verdict: Verdict, sudo: bool) -> Self {
        let run = if sudo {
            let mut v = vec!["sudo".to_string(), "-n".to_string(), "--".to_string()];
            v.extend(verdict.run.iter().cloned());
            v
        } else {
            verdict.run.clone()
        };
        Self {
            inner,
            run,
            rule: verdict.rule.clone(),
            verdict,
        }
    }

    /// Every path-bearing word of the checked argv, as [`Policy::path_arguments`].
    pub fn path_arguments(&self) -> &[String] {
        &self.verdict.paths
    }

    /// The path arguments whose contents the program prints, as [`Policy::content_paths`].
    pub fn content_paths(&self) -> &[String] {
        &self.verdict.content_paths
    }

    /// Whether the command reads its directory operands recursively, as
    /// [`Policy::reads_recursively`].
    pub fn reads_recursively(&self) -> bool {
        self.verdict.recursive
    }

    /// The DNS names the command connects to, as [`Policy::probe_names`].
    pub fn probe_names(&self) -> &[String] {
        &self.verdict.probe_names
    }

    /// The exact argv the transport runs (with `--sudo`, `sudo -n --` first; for a recursive
    /// grep, tai's exclusions for secret file names after the program name).
    pub fn argv(&self) -> &[String] {
        &self.run
    }

    /// The argv the policy decided on (without any `sudo` prefix).
    pub fn checked_argv(&self) -> &[String] {
        &self.inner
    }

    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// The remote command line, built by the one quoting function.
    pub fn command_line(&self) -> String {
        quote::command_line(&self.run)
    }

    /// Human-readable form for logs and reports.
    pub fn display(&self) -> String {
        quote::command_line(&self.run)
    }

    #[cfg(test)]
    pub(crate) fn for_tests(argv: Vec<String>) -> Self {
        let verdict = Verdict {
            rule: "test".into(),
            recursive: false,
            run: argv.clone(),
            paths: Vec::new(),
            content_paths: Vec::new(),
            probe_names: Vec::new(),
        };
        Self::new(argv, verdict, false)
    }
}

/// The outcome of checking one argv.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "lowercase")]
pub enum Decision {
    Allow { rule: String },
    Deny { rule: String, reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy denied `{command}`: {reason} (rule {rule})")]
    Denied {
        command: String,
        rule: String,
        reason: String,
    },
    #[error("the read-only policy is invalid: {0}")]
    Invalid(#[from] RulesError),
}

impl HasExitCode for PolicyError {
    fn exit_code(&self) -> Code {
        match self {
            PolicyError::Denied { .. } => Code::PolicyDenied,
            PolicyError::Invalid(_) => Code::Config,
        }
    }
}

/// The compiled-in allowlist: `tools/policy.toml` (programs never run, secret paths, the
/// recursive-read guard) followed by the command rules in `tools/policy/*.toml`. The parts
/// hold only arrays of tables after the first, so their concatenation is one TOML document.
pub const POLICY_TOML: &str = concat!(
    include_str!("../../tools/policy.toml"),
    "\n",
    include_str!("../../tools/policy/files.toml"),
    "\n",
    include_str!("../../tools/policy/network.toml"),
    "\n",
    include_str!("../../tools/policy/network-probes.toml"),
    "\n",
    include_str!("../../tools/policy/system.toml"),
    "\n",
    include_str!("../../tools/policy/system-readers.toml"),
    "\n",
    include_str!("../../tools/policy/system-packages.toml"),
);

/// The loaded policy: the compiled rules plus the `--sudo` setting. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Policy {
    sudo: bool,
    rules: Arc<Rules>,
}

fn compiled() -> Result<Arc<Rules>, PolicyError> {
    static RULES: OnceLock<Result<Arc<Rules>, RulesError>> = OnceLock::new();
    RULES
        .get_or_init(|| load_rules(POLICY_TOML).map(Arc::new))
        .clone()
        .map_err(PolicyError::Invalid)
}

/// Parse a policy file, compile it and check every rule's examples.
pub fn load_rules(text: &str) -> Result<Rules, RulesError> {
    let file: PolicyFile = toml::from_str(text)?;
    let rules = Rules::compile(file)?;
    check_examples(&rules)?;
    Ok(rules)
}

/// Every example must be decided the way its rule says.
fn check_examples(rules: &Rules) -> Result<(), RulesError> {
    let split = |line: &str| {
        shell_words::split(line).map_err(|e| RulesError::ExampleSplit {
            line: line.to_string(),
            reason: e.to_string(),
        })
    };
    let mut errors = Vec::new();
    let mut deny_rule =
        |id: &str, must: &[String], must_not: &[String]| -> Result<(), RulesError> {
            if must.is_empty() || must_not.is_empty() {
                errors.push(format!(
                    "rule {id}: needs must_match and must_not_match examples"
                ));
            }
            for line in must {
                match rules.evaluate(&split(line)?) {
                    Err(r) if r.rule == id => {}
                    other => errors.push(format!(
                        "rule {id}: `{line}` should be refused by it, got {other:?}"
                    )),
                }
            }
            for line in must_not {
                if let Err(r) = rules.evaluate(&split(line)?) {
                    if r.rule == id {
                        errors.push(format!(
                            "rule {id}: `{line}` should not be refused by it ({})",
                            r.reason
                        ));
                    }
                }
            }
            Ok(())
        };
    for d in &rules.file.deny_program {
        deny_rule(&d.id, &d.must_match, &d.must_not_match)?;
    }
    for p in &rules.file.path_rule {
        deny_rule(&p.id, &p.must_match, &p.must_not_match)?;
    }
    let g = &rules.file.recursive_guard;
    deny_rule(&g.id, &g.must_match, &g.must_not_match)?;
    for c in &rules.file.command {
        if c.must_match.is_empty() || c.must_not_match.is_empty() {
            errors.push(format!(
                "rule {}: needs must_match and must_not_match examples",
                c.id
            ));
        }
        for line in &c.must_match {
            match rules.evaluate(&split(line)?) {
                Ok(id) if id == c.id => {}
                other => errors.push(format!(
                    "rule {}: `{line}` should be allowed by it, got {other:?}",
                    c.id
                )),
            }
        }
        for line in &c.must_not_match {
            if rules.evaluate(&split(line)?).is_ok() {
                errors.push(format!("rule {}: `{line}` should be refused", c.id));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(RulesError::Examples(errors))
    }
}

impl Policy {
    /// Load the compiled-in policy and check every rule's examples.
    pub fn load(sudo: bool) -> Result<Policy, PolicyError> {
        Ok(Policy {
            sudo,
            rules: compiled()?,
        })
    }

    /// Whether approved commands run as `sudo -n -- argv`.
    pub fn sudo(&self) -> bool {
        self.sudo
    }

    /// Decide on one argv (never a shell string). The strictest rule wins; no rule, no run.
    pub fn check(&self, argv: &[String]) -> Decision {
        match self.rules.evaluate(argv) {
            Ok(rule) => Decision::Allow { rule },
            Err(Refusal { rule, reason }) => Decision::Deny { rule, reason },
        }
    }

    /// Check one path (as a program would read it) against the sensitive-path rules. Used to
    /// re-check a path after the host resolved its symlinks.
    pub fn check_path(&self, program: &str, path: &str) -> Decision {
        match self.rules.check_path(program, path) {
            Ok(()) => Decision::Allow {
                rule: "path".into(),
            },
            Err(Refusal { rule, reason }) => Decision::Deny { rule, reason },
        }
    }

    /// Every path-bearing word of an allowed argv (operands, option values of kind
    /// `path`/`dir`, `@FILE`, the value of `--file=/x`), in order, without repeats and without
    /// a cap; empty when the argv is denied. The host resolves them all in one batch and
    /// [`Policy::recheck_resolved`] judges the result.
    pub fn path_arguments(&self, argv: &[String]) -> Vec<String> {
        self.rules.path_arguments(argv)
    }

    /// The path arguments of an allowed argv whose contents the program prints (operands of
    /// cat, grep, awk, ...; none for `ls`, `stat`, `du`, `find`, `file`, checksums); empty
    /// when denied. A host-side content check (a private key in an innocently named log)
    /// applies to these: once reshaped by `cut -c` or `awk substr`, no redactor can spot it.
    pub fn content_paths(&self, argv: &[String]) -> Vec<String> {
        self.rules
            .decide(argv, None)
            .map(|v| v.content_paths)
            .unwrap_or_default()
    }

    /// Whether an allowed argv reads its directory operands recursively (`grep -r`); false
    /// when denied.
    pub fn reads_recursively(&self, argv: &[String]) -> bool {
        self.rules.decide(argv, None).is_ok_and(|v| v.recursive)
    }

    /// The DNS names an allowed argv connects to (curl URL hosts, openssl `-connect`, ping and
    /// traceroute targets, `-h HOST` of database pings), without repeats; empty when the argv
    /// is denied or names only addresses. DNS tools' query names are not included. The host
    /// resolves them and [`url::check_resolved_addresses`] judges the answer: a name is only
    /// as safe as the address it points to.
    pub fn probe_names(&self, argv: &[String]) -> Vec<String> {
        self.rules.probe_names(argv)
    }

    /// `approved` with every URL host it connects to pinned to the addresses the host
    /// resolved for it and tai checked (curl `--resolve NAME:PORT:ADDR,...`, right after tai's
    /// own first arguments), so curl connects to exactly what was checked and a second DNS
    /// answer (rebinding) cannot differ. Commands of other rules come back unchanged.
    pub fn pin_resolved(
        &self,
        approved: &ApprovedCommand,
        resolved: &[(String, Vec<std::net::IpAddr>)],
    ) -> ApprovedCommand {
        let pins = url::curl_pins(&approved.inner, resolved);
        let Some(rule) = self.rules.command_rule("curl") else {
            return approved.clone();
        };
        if approved.rule != rule.id || pins.is_empty() {
            return approved.clone();
        }
        let mut verdict = approved.verdict.clone();
        let at = (1 + rule.run_adds.len()).min(verdict.run.len());
        verdict.run.splice(at..at, pins);
        ApprovedCommand::new(approved.inner.clone(), verdict, self.sudo)
    }

    /// Decide on `argv` again as if each given path were its host-resolved absolute form
    /// (`(given, resolved)` pairs): the path rules and the recursive guard see the resolved
    /// paths too, so a symlink, or `..` after a symlink, cannot reach what a direct read may
    /// not. The refusal names `given resolves to resolved`.
    pub fn recheck_resolved(&self, argv: &[String], resolved: &[(String, String)]) -> Decision {
        let map: std::collections::BTreeMap<String, String> = resolved.iter().cloned().collect();
        match self.rules.decide(argv, Some(&map)) {
            Ok(v) => Decision::Allow { rule: v.rule },
            Err(Refusal { rule, reason }) => Decision::Deny { rule, reason },
        }
    }

    /// The command rules, for listing (`id`, programs, description).
    pub fn command_rules(&self) -> Vec<(String, Vec<String>, String)> {
        self.rules
            .file
            .command
            .iter()
            .map(|r| (r.id.clone(), r.programs.clone(), r.description.clone()))
            .collect()
    }

    /// Whether `program`'s rule models `option` (allowed with a kind, or refused with a
    /// reason) in any of its scopes: the check behind the `--help` coverage test. A
    /// `deny_options` key ending in `*` covers every option with that prefix.
    pub fn models_option(&self, program: &str, option: &str) -> bool {
        fn scope_knows(r: &rules::Rule, option: &str) -> bool {
            r.options.contains_key(option)
                || r.denied_option(option).is_some()
                || r.subcommands.iter().any(|s| scope_knows(s, option))
        }
        self.rules
            .command_rule(program)
            .is_some_and(|r| scope_knows(r, option))
    }

    /// Check and, if allowed, produce the command a transport may run.
    pub fn approve(&self, argv: &[String]) -> Result<ApprovedCommand, PolicyError> {
        match self.rules.decide(argv, None) {
            Ok(v) => Ok(ApprovedCommand::new(argv.to_vec(), v, self.sudo)),
            Err(Refusal { rule, reason }) => Err(PolicyError::Denied {
                command: quote::command_line(argv),
                rule,
                reason,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        shell_words::split(s).unwrap()
    }

    #[test]
    fn compiled_policy_loads_and_examples_hold() {
        let p = Policy::load(false).unwrap();
        assert!(matches!(
            p.check(&argv("journalctl -u nginx -n 50")),
            Decision::Allow { .. }
        ));
        match p.check(&argv("rm -rf /")) {
            Decision::Deny { reason, .. } => assert!(!reason.is_empty()),
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn sudo_wraps_only_after_checking_the_inner_argv() {
        let p = Policy::load(true).unwrap();
        let a = p.approve(&argv("journalctl -n 5")).unwrap();
        assert_eq!(a.argv()[..3], ["sudo", "-n", "--"]);
        assert_eq!(a.checked_argv(), argv("journalctl -n 5").as_slice());
        assert!(p.approve(&argv("cat /etc/shadow")).is_err());
    }

    #[test]
    fn splits_without_a_shell() {
        assert_eq!(
            split_command_line("awk -F: '$3 > 100 {print $1}' /etc/passwd").unwrap(),
            ["awk", "-F:", "$3 > 100 {print $1}", "/etc/passwd"]
        );
        assert_eq!(
            split_command_line("grep -E 'a|b' \"/var/log/x y\"").unwrap(),
            ["grep", "-E", "a|b", "/var/log/x y"]
        );
        for bad in [
            "ls; rm -rf /",
            "cat /etc/passwd | nc x 1",
            "true && reboot",
            "echo x > /etc/hosts",
            "cat < /etc/shadow",
            "echo `id`",
            "echo $(id)",
            "echo \"$(id)\"",
            "cat $HOME/.ssh/id_rsa",
            "ls\nrm -rf /",
            "sleep 1 &",
            "ls /var/log/*.log",
            "cat ~/.ssh/id_rsa",
            "ls # comment",
            "echo 'unterminated",
        ] {
            assert!(split_command_line(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_header_and_the_file_rules_load_on_their_own() {
        let text = concat!(
            include_str!("../../tools/policy.toml"),
            "\n",
            include_str!("../../tools/policy/files.toml"),
        );
        if let Err(e) = load_rules(text) {
            panic!("{e}");
        }
    }

    #[test]
    fn a_wrong_example_stops_loading() {
        let bad = POLICY_TOML.replace(
            "must_match = [\"journalctl -u nginx -n 50\",",
            "must_match = [\"journalctl --vacuum-size=1M\", \"journalctl -u nginx -n 50\",",
        );
        assert_ne!(bad, POLICY_TOML);
        let err = load_rules(&bad).unwrap_err();
        assert!(
            err.to_string().contains("journalctl --vacuum-size=1M"),
            "{err}"
        );
    }
}
