//! The allowlist as data: the shape of `tools/policy.toml` and the evaluation of one argv
//! against it.
//!
//! Checks run in a fixed order and the first refusal wins, so the strictest rule always
//! decides: control characters, the program's location, denied programs, sensitive paths
//! anywhere in the arguments, then the command's own rule (options, subcommands, positional
//! arguments and their kinds, embedded awk/sed programs), then the recursive-read guard.
//! A program with no rule is denied by default.
use std::collections::BTreeMap;

use serde::Deserialize;

use super::paths;

mod eval;
pub mod kinds;

use eval::{Eval, Found};
pub use kinds::{parse_kind, Arity, Kind, KindError, OptKind, ValueError};

/// The whole policy file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Directories a program may be named from with an absolute path (`/usr/bin/ls`).
    pub trusted_dirs: Vec<String>,
    #[serde(default)]
    pub deny_program: Vec<ProgramDeny>,
    #[serde(default)]
    pub path_rule: Vec<PathRule>,
    pub recursive_guard: RecursiveGuard,
    #[serde(default)]
    pub command: Vec<Rule>,
}

/// Programs that are never run, with the reason.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramDeny {
    pub id: String,
    pub programs: Vec<String>,
    pub reason: String,
    #[serde(default)]
    pub must_match: Vec<String>,
    #[serde(default)]
    pub must_not_match: Vec<String>,
}

/// Paths that may not be read (globs over normalised absolute paths).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathRule {
    pub id: String,
    pub deny: Vec<String>,
    #[serde(default)]
    pub except: Vec<String>,
    /// Programs for which this rule does not apply (e.g. `df /dev/sda1` names a device
    /// without reading it).
    #[serde(default)]
    pub exempt_programs: Vec<String>,
    pub reason: String,
    #[serde(default)]
    pub must_match: Vec<String>,
    #[serde(default)]
    pub must_not_match: Vec<String>,
}

/// Recursive reads (`grep -r`) may not start at a directory that holds secrets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecursiveGuard {
    pub id: String,
    /// Trees a recursive read may start in (log directories); anything else is refused.
    pub allow_under: Vec<String>,
    /// Locations a recursive read may not cover (no start directory at or above them).
    pub protect: Vec<String>,
    /// Trees a recursive read may not start inside (home directories).
    pub inside: Vec<String>,
    pub reason: String,
    #[serde(default)]
    pub must_match: Vec<String>,
    #[serde(default)]
    pub must_not_match: Vec<String>,
}

/// A command's rule, or (with `names`) one of its subcommands.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Rule id (commands only).
    #[serde(default)]
    pub id: String,
    /// Program names this rule covers (commands only).
    #[serde(default)]
    pub programs: Vec<String>,
    /// Subcommand words (subcommands only).
    #[serde(default)]
    pub names: Vec<String>,
    /// Allowed options and the kind of their value (`flag` = takes none). The table is
    /// complete: an option that is neither here nor in `deny_options` is refused (there is
    /// no "any option" switch; `any_options` does not parse).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Options refused with a reason; a key ending in `*` matches by prefix.
    #[serde(default)]
    pub deny_options: BTreeMap<String, String>,
    /// Parse `-abc` as `-a -b -c` (getopt style). Off for programs with single-dash long
    /// options (`find -name`, `ip -br`, `openssl x509 -noout`).
    #[serde(default = "yes")]
    pub clusters: bool,
    /// Kinds of positional arguments in order; the last repeats. Empty = no positionals.
    #[serde(default)]
    pub positional: Vec<String>,
    #[serde(default)]
    pub min_positional: usize,
    #[serde(default)]
    pub max_positional: Option<usize>,
    #[serde(default)]
    pub subcommands: Vec<Rule>,
    #[serde(default)]
    pub subcommand_required: bool,
    /// Options whose presence means the first positional is not the program/pattern
    /// (`grep -e PAT FILE`, `sed -e SCRIPT FILE`).
    #[serde(default)]
    pub pattern_options: Vec<String>,
    /// At least one of these options must be present when this scope is used (`rpm` only in
    /// query or verify mode, `docker stats` only with `--no-stream`).
    #[serde(default)]
    pub requires_any: Vec<String>,
    /// Options that make the command read directories recursively.
    #[serde(default)]
    pub recursive_options: Vec<String>,
    /// The program only looks at its paths' names and metadata (`ls`, `stat`, `du`, `find`,
    /// `file`, checksums), never prints their contents: its paths are not content reads.
    #[serde(default)]
    pub metadata_only: bool,
    /// The program's host words are DNS questions or resolver addresses (`dig`, `host`,
    /// `getent`), not places it connects to: they are not resolved on the host before it
    /// runs (a DNS tool must still run when DNS is what is broken).
    #[serde(default)]
    pub dns_queries: bool,
    /// The program always reads its operands recursively (`rgrep`).
    #[serde(default)]
    pub recursive: bool,
    /// Arguments tai adds to the argv that runs when the read is recursive: exclusions for
    /// secret file names (`--exclude=*.key`). They go after the caller's options (before a
    /// `--`, else at the end), because grep's last matching --include/--exclude wins.
    #[serde(default)]
    pub recursive_adds: Vec<String>,
    /// Arguments tai always puts first (right after the program name) in the argv that runs
    /// (`curl -q`: curl reads `~/.curlrc` unless `-q` is its first argument).
    #[serde(default)]
    pub run_adds: Vec<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub must_match: Vec<String>,
    #[serde(default)]
    pub must_not_match: Vec<String>,
}

impl Rule {
    /// The reason this scope's `deny_options` refuses `name`: an exact key, or a key ending
    /// in `*` that is a prefix of `name` (the one place that matching is written).
    pub fn denied_option(&self, name: &str) -> Option<&str> {
        self.deny_options
            .iter()
            .find(|(pat, _)| match pat.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => *pat == name,
            })
            .map(|(_, why)| why.as_str())
    }
}

fn yes() -> bool {
    true
}

/// Why the policy file cannot be used: a bug in `tools/policy*.toml`, found when it loads
/// (every rule and every example is checked then), never at decision time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("tools/policy.toml does not parse: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("every [[command]] needs an `id` and `programs`")]
    MissingIdOrPrograms,
    #[error("program `{0}` has two command rules")]
    TwoRules(String),
    #[error("program `{program}` is both allowed ({allowed}) and denied ({denied})")]
    AllowedAndDenied {
        program: String,
        allowed: String,
        denied: String,
    },
    #[error("rule {rule}, option {option}: {source}")]
    OptionKind {
        rule: String,
        option: String,
        source: KindError,
    },
    #[error("rule {rule}, positional: {source}")]
    PositionalKind { rule: String, source: KindError },
    #[error("rule {0}: a subcommand has no `names`")]
    SubcommandNames(String),
    #[error("example `{line}` does not split: {reason}")]
    ExampleSplit { line: String, reason: String },
    /// Examples decided otherwise than their rule says, one line each.
    #[error("{} policy example(s) disagree with their rules:\n  {}", .0.len(), .0.join("\n  "))]
    Examples(Vec<String>),
}

/// A refusal: which rule and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub rule: String,
    pub reason: String,
}

impl Refusal {
    fn new(rule: &str, reason: impl Into<String>) -> Self {
        Self {
            rule: rule.to_string(),
            reason: reason.into(),
        }
    }
}

/// The compiled policy.
#[derive(Debug, Clone)]
pub struct Rules {
    pub file: PolicyFile,
    by_program: BTreeMap<String, usize>,
    denied_programs: BTreeMap<String, usize>,
}

impl Rules {
    pub fn compile(file: PolicyFile) -> Result<Rules, RulesError> {
        let mut by_program = BTreeMap::new();
        for (i, r) in file.command.iter().enumerate() {
            if r.id.is_empty() || r.programs.is_empty() {
                return Err(RulesError::MissingIdOrPrograms);
            }
            validate_rule(r, &r.id)?;
            for p in &r.programs {
                if by_program.insert(p.clone(), i).is_some() {
                    return Err(RulesError::TwoRules(p.clone()));
                }
            }
        }
        let mut denied_programs = BTreeMap::new();
        for (i, d) in file.deny_program.iter().enumerate() {
            for p in &d.programs {
                if by_program.contains_key(p) {
                    return Err(RulesError::AllowedAndDenied {
                        program: p.clone(),
                        allowed: file.command[by_program[p]].id.clone(),
                        denied: d.id.clone(),
                    });
                }
                denied_programs.insert(p.clone(), i);
            }
        }
        Ok(Rules {
            file,
            by_program,
            denied_programs,
        })
    }

    /// The command rule for a program name, if any.
    pub fn command_rule(&self, program: &str) -> Option<&Rule> {
        self.by_program.get(program).map(|i| &self.file.command[*i])
    }

    /// Decide on one argv: `Ok(rule id)` or the refusal.
    pub fn evaluate(&self, argv: &[String]) -> Result<String, Refusal> {
        self.decide(argv, None).map(|v| v.rule)
    }

    /// Decide on one argv, with paths judged as given and, where `resolved` has them, as the
    /// host resolved them (given → absolute real path). The verdict carries the argv to run.
    pub fn decide(
        &self,
        argv: &[String],
        resolved: Option<&BTreeMap<String, String>>,
    ) -> Result<Verdict, Refusal> {
        let Some(first) = argv.first() else {
            return Err(Refusal::new("empty", "empty command"));
        };
        for a in argv {
            if a.chars().any(|c| {
                matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
            }) {
                return Err(Refusal::new(
                    "control-characters",
                    format!("argument {a:?} contains invisible or direction-changing characters"),
                ));
            }
            if a.chars().any(|c| c.is_control() && c != '\t') {
                return Err(Refusal::new(
                    "control-characters",
                    format!(
                        "argument {a:?} contains a control character (newline, NUL, escape); \
                         pass plain text"
                    ),
                ));
            }
        }
        let program = self.program_name(first)?;
        if let Some(i) = self.denied_programs.get(&program) {
            let d = &self.file.deny_program[*i];
            return Err(Refusal::new(&d.id, format!("`{program}`: {}", d.reason)));
        }
        for a in &argv[1..] {
            for p in paths::embedded_paths(a) {
                self.check_path(&program, &p)?;
            }
        }
        let Some(rule) = self.command_rule(&program) else {
            return Err(Refusal::new(
                "default-deny",
                format!(
                    "`{program}` is not on the read-only allowlist; `tai tools list` shows what \
                     tai can run, `tai policy check CMD...` explains a decision"
                ),
            ));
        };
        let eval = Eval {
            rules: self,
            top: rule,
            program: &program,
            resolved,
        };
        let found = eval.run(&argv[1..])?;
        self.check_recursive(&program, &found, resolved)?;
        let mut run = argv.to_vec();
        if found.recursive && !rule.recursive_adds.is_empty() {
            let at = found.end_of_options.map_or(run.len(), |i| i + 1);
            run.splice(at..at, rule.recursive_adds.iter().cloned());
        }
        run.splice(1..1, rule.run_adds.iter().cloned());
        let mut found_paths = found.paths;
        found_paths.sort_by_key(|(at, _)| *at);
        let mut paths: Vec<String> = Vec::new();
        for (_, p) in found_paths {
            if !paths.contains(&p) {
                paths.push(p);
            }
        }
        let mut probe_names: Vec<String> = Vec::new();
        for n in found.probe_names {
            if !probe_names.contains(&n) {
                probe_names.push(n);
            }
        }
        let content_paths = if rule.metadata_only {
            Vec::new()
        } else {
            paths.clone()
        };
        Ok(Verdict {
            rule: rule.id.clone(),
            recursive: found.recursive,
            run,
            paths,
            content_paths,
            probe_names,
        })
    }

    /// Every path-bearing word of an allowed argv (operands, option values of kind
    /// `path`/`dir`, `@FILE`), in order, without repeats; empty when the argv is denied.
    pub fn path_arguments(&self, argv: &[String]) -> Vec<String> {
        self.decide(argv, None).map(|v| v.paths).unwrap_or_default()
    }

    /// The DNS names an allowed argv connects to (URL hosts, probe hosts, `@server`).
    pub fn probe_names(&self, argv: &[String]) -> Vec<String> {
        self.decide(argv, None)
            .map(|v| v.probe_names)
            .unwrap_or_default()
    }

    fn program_name(&self, argv0: &str) -> Result<String, Refusal> {
        if !argv0.contains('/') {
            if argv0.is_empty() || argv0.starts_with('-') {
                return Err(Refusal::new(
                    "program-path",
                    "empty or dash-prefixed program name",
                ));
            }
            return Ok(argv0.to_string());
        }
        let norm = paths::normalize(argv0);
        let (dir, base) = norm.rsplit_once('/').unwrap_or(("", &norm));
        let dir = if dir.is_empty() { "/" } else { dir };
        if !self.file.trusted_dirs.iter().any(|d| d == dir) {
            return Err(Refusal::new(
                "program-path",
                format!(
                    "`{argv0}` is not in a system directory ({}); name the program without a path",
                    self.file.trusted_dirs.join(", ")
                ),
            ));
        }
        Ok(base.to_string())
    }

    /// Check one path against the sensitive-path rules.
    pub fn check_path(&self, program: &str, raw: &str) -> Result<(), Refusal> {
        for cand in paths::candidates(raw) {
            for r in &self.file.path_rule {
                if r.exempt_programs.iter().any(|p| p == program) {
                    continue;
                }
                let hit = r.deny.iter().any(|g| paths::glob_match(g, &cand))
                    && !r.except.iter().any(|g| paths::glob_match(g, &cand));
                if hit {
                    let shown = if cand == raw {
                        raw.to_string()
                    } else {
                        format!("{raw} (read as {cand})")
                    };
                    return Err(Refusal::new(&r.id, format!("{shown}: {}", r.reason)));
                }
            }
        }
        Ok(())
    }

    /// Recursive reads start only under the guard's allowed roots, never at or above a
    /// protected location, and never from an unknown (relative or missing) directory.
    fn check_recursive(
        &self,
        program: &str,
        found: &Found,
        resolved: Option<&BTreeMap<String, String>>,
    ) -> Result<(), Refusal> {
        let g = &self.file.recursive_guard;
        let refuse = |p: &str| {
            Refusal::new(
                &g.id,
                format!("`{program}` reading {p} recursively: {}", g.reason),
            )
        };
        let mut walked: Vec<&String> = found.dirs.iter().collect();
        if found.recursive {
            if found.operands.is_empty() {
                return Err(refuse("the current directory"));
            }
            walked.extend(found.operands.iter());
        }
        for raw in walked {
            if let Some(p) = self.guard_refuses(raw) {
                return Err(refuse(&p));
            }
            if let Some(real) = resolved.and_then(|m| m.get(raw)) {
                if let Some(p) = self.guard_refuses(real) {
                    return Err(refuse(&format!("{raw} (resolves to {p})")));
                }
            }
        }
        Ok(())
    }

    /// `Some(normalised path)` when a recursive read may not start at `raw`.
    fn guard_refuses(&self, raw: &str) -> Option<String> {
        let g = &self.file.recursive_guard;
        if !raw.starts_with('/') {
            return Some(raw.to_string());
        }
        let p = paths::normalize(raw);
        let allowed_root = g.allow_under.iter().any(|root| {
            paths::glob_match(root, &p) || paths::glob_match(&format!("{root}/**"), &p)
        });
        if !allowed_root
            || g.protect.iter().any(|s| paths::is_ancestor_or_equal(&p, s))
            || g.inside
                .iter()
                .any(|s| paths::glob_match(&format!("{s}/**"), &p))
        {
            return Some(p);
        }
        None
    }
}

/// An allowed argv: the rule, the argv to run (with any tai-added arguments) and every
/// path-bearing word for host-side resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub rule: String,
    /// The command reads its directory operands recursively (and carries the rule's
    /// `recursive_adds` exclusions).
    pub recursive: bool,
    pub run: Vec<String>,
    pub paths: Vec<String>,
    /// The paths whose contents the program prints (all of `paths` unless the rule is
    /// `metadata_only`): where a host-side content check (key markers in an innocently named
    /// file) applies.
    pub content_paths: Vec<String>,
    /// DNS names the command connects to, without repeats.
    pub probe_names: Vec<String>,
}

fn validate_rule(r: &Rule, id: &str) -> Result<(), RulesError> {
    for (k, v) in &r.options {
        parse_kind(v).map_err(|source| RulesError::OptionKind {
            rule: id.to_string(),
            option: k.clone(),
            source,
        })?;
    }
    for k in &r.positional {
        parse_kind(k).map_err(|source| RulesError::PositionalKind {
            rule: id.to_string(),
            source,
        })?;
    }
    for s in &r.subcommands {
        if s.names.is_empty() {
            return Err(RulesError::SubcommandNames(id.to_string()));
        }
        validate_rule(s, id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
