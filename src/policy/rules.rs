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
use super::scripts;

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
    /// Allowed options and the kind of their value (`flag` = takes none).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Options refused with a reason; a key ending in `*` matches by prefix.
    #[serde(default)]
    pub deny_options: BTreeMap<String, String>,
    /// Accept any option not explicitly denied (programs with no writing or executing options).
    #[serde(default)]
    pub any_options: bool,
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
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub must_match: Vec<String>,
    #[serde(default)]
    pub must_not_match: Vec<String>,
}

fn yes() -> bool {
    true
}

/// The kind of a value or positional argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Flag,
    Any,
    Word,
    /// A bare name: like `word` but no `/` and no leading `.` (`service NAME` runs
    /// `/etc/init.d/NAME`, so a path there would run any program).
    Name,
    Number,
    Signed,
    Path,
    Url,
    DevNull,
    Format,
    Awk,
    Sed,
    /// Any text except a leading `@` (curl reads `@file` and sends it).
    NoAt,
    /// Any text without rpm macro expansion (`%(...)`, `%{lua:...}`).
    NoMacro,
    Enum(Vec<String>),
}

/// A kind with its optional-value marker (`number?`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptKind {
    pub kind: Kind,
    pub optional: bool,
}

pub fn parse_kind(s: &str) -> Result<OptKind, String> {
    let (base, optional) = match s.strip_suffix('?') {
        Some(b) => (b, true),
        None => (s, false),
    };
    let kind = match base {
        "flag" => Kind::Flag,
        "any" => Kind::Any,
        "word" => Kind::Word,
        "name" => Kind::Name,
        "number" => Kind::Number,
        "signed" => Kind::Signed,
        "path" => Kind::Path,
        "url" => Kind::Url,
        "devnull" => Kind::DevNull,
        "format" => Kind::Format,
        "awk" => Kind::Awk,
        "sed" => Kind::Sed,
        "noat" => Kind::NoAt,
        "nomacro" => Kind::NoMacro,
        other => match other.strip_prefix("enum:") {
            Some(list) => Kind::Enum(list.split('|').map(str::to_string).collect()),
            None => return Err(format!("unknown argument kind `{s}`")),
        },
    };
    Ok(OptKind { kind, optional })
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
    pub fn compile(file: PolicyFile) -> Result<Rules, String> {
        let mut by_program = BTreeMap::new();
        for (i, r) in file.command.iter().enumerate() {
            if r.id.is_empty() || r.programs.is_empty() {
                return Err("every [[command]] needs an `id` and `programs`".into());
            }
            validate_rule(r, &r.id)?;
            for p in &r.programs {
                if by_program.insert(p.clone(), i).is_some() {
                    return Err(format!("program `{p}` has two command rules"));
                }
            }
        }
        let mut denied_programs = BTreeMap::new();
        for (i, d) in file.deny_program.iter().enumerate() {
            for p in &d.programs {
                if by_program.contains_key(p) {
                    return Err(format!(
                        "program `{p}` is both allowed ({}) and denied ({})",
                        file.command[by_program[p]].id, d.id
                    ));
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
        let eval = Eval::new(self, rule, &program);
        let found = eval.run(&argv[1..])?;
        if found.recursive {
            self.check_recursive(&program, &found.paths)?;
        }
        Ok(rule.id.clone())
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

    fn check_recursive(&self, program: &str, found: &[String]) -> Result<(), Refusal> {
        let g = &self.file.recursive_guard;
        let refuse = |p: &str| {
            Refusal::new(
                &g.id,
                format!("`{program}` reading {p} recursively: {}", g.reason),
            )
        };
        if found.is_empty() {
            return Err(refuse("the current directory"));
        }
        for raw in found {
            if !raw.starts_with('/') {
                return Err(refuse(raw));
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
                return Err(refuse(&p));
            }
        }
        Ok(())
    }
}

fn validate_rule(r: &Rule, id: &str) -> Result<(), String> {
    for (k, v) in &r.options {
        parse_kind(v).map_err(|e| format!("rule {id}, option {k}: {e}"))?;
    }
    for k in &r.positional {
        parse_kind(k).map_err(|e| format!("rule {id}, positional: {e}"))?;
    }
    for s in &r.subcommands {
        if s.names.is_empty() {
            return Err(format!("rule {id}: a subcommand has no `names`"));
        }
        validate_rule(s, id)?;
    }
    Ok(())
}

/// What evaluating one command found out along the way.
#[derive(Debug, Default)]
struct Found {
    recursive: bool,
    /// Every option name used.
    seen: std::collections::BTreeSet<String>,
    paths: Vec<String>,
}

/// Evaluation of one argv against one command rule.
struct Eval<'a> {
    rules: &'a Rules,
    top: &'a Rule,
    program: &'a str,
}

impl<'a> Eval<'a> {
    fn new(rules: &'a Rules, top: &'a Rule, program: &'a str) -> Self {
        Self {
            rules,
            top,
            program,
        }
    }

    fn refuse(&self, reason: impl Into<String>) -> Refusal {
        Refusal::new(
            &self.top.id,
            format!("`{}`: {}", self.program, reason.into()),
        )
    }

    fn run(&self, args: &[String]) -> Result<Found, Refusal> {
        let mut found = Found::default();
        let mut scopes: Vec<&Rule> = vec![self.top];
        // Positionals per scope depth.
        let mut positionals: Vec<Vec<String>> = vec![Vec::new()];
        let mut pattern_given = false;
        let mut after_dd = false;
        let mut i = 0usize;
        for _ in 0..args.len() + 1 {
            if i >= args.len() {
                break;
            }
            let a = args[i].as_str();
            i += 1;
            if !after_dd && a == "--" {
                after_dd = true;
                continue;
            }
            if !after_dd {
                if let Some((name, kind)) = self.lookup_exact(&scopes, a)? {
                    let value = if kind.kind == Kind::Flag {
                        None
                    } else {
                        self.take_value(&kind, None, args, &mut i, &name)?
                    };
                    self.note_option(
                        &scopes,
                        &name,
                        &kind,
                        value.as_deref(),
                        &mut found,
                        &mut pattern_given,
                    )?;
                    continue;
                }
                if a.starts_with("--") && a.len() > 2 {
                    let (name, attached) = match a.split_once('=') {
                        Some((n, v)) => (n, Some(v.to_string())),
                        None => (a, None),
                    };
                    let kind = self.lookup(&scopes, name)?;
                    let listed = scopes.iter().any(|s| s.options.contains_key(name));
                    let value = if kind.kind == Kind::Flag && !listed && attached.is_some() {
                        // An unlisted option of an `any_options` program: its value is only
                        // checked for embedded paths (done for every argument).
                        attached.clone()
                    } else if kind.kind == Kind::Flag {
                        if attached.is_some() {
                            return Err(self.refuse(format!("option `{name}` takes no value")));
                        }
                        None
                    } else {
                        self.take_value(&kind, attached, args, &mut i, name)?
                    };
                    self.note_option(
                        &scopes,
                        name,
                        &kind,
                        value.as_deref(),
                        &mut found,
                        &mut pattern_given,
                    )?;
                    continue;
                }
                if a.starts_with('-') && a.len() > 1 {
                    // Single-dash long options with a value: `nslookup -type=mx`. (`-e=x` is
                    // getopt's `-e` with value `=x`, handled as a cluster below.)
                    if let Some((n, v)) = a.split_once('=').filter(|(n, _)| n.len() > 2) {
                        if let Some((name, kind)) = self.lookup_exact(&scopes, n)? {
                            if kind.kind == Kind::Flag {
                                return Err(self.refuse(format!("option `{name}` takes no value")));
                            }
                            self.note_option(
                                &scopes,
                                &name,
                                &kind,
                                Some(v),
                                &mut found,
                                &mut pattern_given,
                            )?;
                            continue;
                        }
                    }
                    let cur = *scopes.last().unwrap_or(&self.top);
                    let clusters = scopes.iter().all(|s| s.clusters) && cur.clusters;
                    if !clusters {
                        // Whole-word options only; not found exactly above.
                        self.lookup(&scopes, a)?;
                        return Err(self.refuse(format!("option `{a}` is not allowed")));
                    }
                    if a[1..].chars().all(|c| c.is_ascii_digit())
                        && scopes.iter().any(|s| s.options.contains_key("-NUM"))
                    {
                        // Legacy `tail -100`.
                        continue;
                    }
                    let chars: Vec<char> = a[1..].chars().collect();
                    for (j, c) in chars.iter().enumerate() {
                        let name = format!("-{c}");
                        let kind = self.lookup(&scopes, &name)?;
                        if kind.kind == Kind::Flag {
                            self.note_option(
                                &scopes,
                                &name,
                                &kind,
                                None,
                                &mut found,
                                &mut pattern_given,
                            )?;
                            continue;
                        }
                        let rest: String = chars[j + 1..].iter().collect();
                        let attached = (!rest.is_empty()).then_some(rest);
                        let value = self.take_value(&kind, attached, args, &mut i, &name)?;
                        self.note_option(
                            &scopes,
                            &name,
                            &kind,
                            value.as_deref(),
                            &mut found,
                            &mut pattern_given,
                        )?;
                        break;
                    }
                    continue;
                }
            }
            // A positional argument.
            let cur = *scopes.last().unwrap_or(&self.top);
            let depth = scopes.len() - 1;
            if !cur.subcommands.is_empty() && positionals[depth].is_empty() && !after_dd {
                match cur
                    .subcommands
                    .iter()
                    .find(|s| s.names.iter().any(|n| n == a))
                {
                    Some(sub) => {
                        positionals[depth].push(a.to_string());
                        scopes.push(sub);
                        positionals.push(Vec::new());
                        continue;
                    }
                    None => {
                        let allowed: Vec<&str> = cur
                            .subcommands
                            .iter()
                            .flat_map(|s| s.names.first().map(String::as_str))
                            .collect();
                        return Err(self.refuse(format!(
                            "`{a}` is not an allowed subcommand here; read-only ones are: {}",
                            allowed.join(", ")
                        )));
                    }
                }
            }
            positionals[depth].push(a.to_string());
        }
        for scope in &scopes {
            if !scope.requires_any.is_empty()
                && !scope.requires_any.iter().any(|o| found.seen.contains(o))
            {
                return Err(self.refuse(format!(
                    "needs one of {} (only read-only forms are allowed)",
                    scope.requires_any.join(", ")
                )));
            }
        }
        // Required subcommands.
        for (depth, scope) in scopes.iter().enumerate() {
            let has_sub = !scope.subcommands.is_empty();
            let chosen = depth + 1 < scopes.len();
            if has_sub && !chosen && scope.subcommand_required {
                let allowed: Vec<&str> = scope
                    .subcommands
                    .iter()
                    .flat_map(|s| s.names.first().map(String::as_str))
                    .collect();
                return Err(self.refuse(format!(
                    "needs a read-only subcommand: {}",
                    allowed.join(", ")
                )));
            }
        }
        // Positional kinds and counts.
        for (depth, scope) in scopes.iter().enumerate() {
            let mut list = positionals[depth].clone();
            if depth + 1 < scopes.len() {
                // The subcommand word itself.
                list.remove(0);
            }
            let mut kinds: Vec<OptKind> = scope
                .positional
                .iter()
                .map(|k| parse_kind(k))
                .collect::<Result<_, _>>()
                .map_err(|e| self.refuse(e))?;
            if pattern_given && depth == 0 && kinds.len() > 1 {
                kinds.remove(0);
            }
            if list.len() < scope.min_positional {
                return Err(self.refuse(format!(
                    "needs at least {} argument(s)",
                    scope.min_positional
                )));
            }
            let max = if kinds.is_empty() {
                0
            } else {
                scope.max_positional.unwrap_or(usize::MAX)
            };
            if list.len() > max {
                let extra = &list[max];
                let why = if max == 0 {
                    " (this form takes no arguments)".to_string()
                } else {
                    format!(" (at most {max})")
                };
                return Err(self.refuse(format!("unexpected argument `{extra}`{why}")));
            }
            for (k, arg) in list.iter().enumerate() {
                let kind = &kinds[k.min(kinds.len() - 1)];
                self.check_word(&kind.kind, arg, "argument")?;
                if kind.kind == Kind::Path {
                    found.paths.push(arg.clone());
                }
            }
        }
        Ok(found)
    }

    /// Exact match of a whole word against allowed or denied options (covers `-name`, `!`,
    /// `+short`, `-br`).
    fn lookup_exact(
        &self,
        scopes: &[&Rule],
        a: &str,
    ) -> Result<Option<(String, OptKind)>, Refusal> {
        for s in scopes.iter().rev() {
            if let Some(why) = s.deny_options.get(a) {
                return Err(self.refuse(format!("option `{a}` is refused: {why}")));
            }
            if let Some(k) = s.options.get(a) {
                let k = parse_kind(k).map_err(|e| self.refuse(e))?;
                return Ok(Some((a.to_string(), k)));
            }
        }
        Ok(None)
    }

    /// Find the kind of an option, checking denials first (innermost scope outwards).
    fn lookup(&self, scopes: &[&Rule], name: &str) -> Result<OptKind, Refusal> {
        for s in scopes.iter().rev() {
            for (pat, why) in &s.deny_options {
                let hit = match pat.strip_suffix('*') {
                    Some(prefix) => name.starts_with(prefix),
                    None => pat == name,
                };
                if hit {
                    return Err(self.refuse(format!("option `{name}` is refused: {why}")));
                }
            }
        }
        for s in scopes.iter().rev() {
            if let Some(k) = s.options.get(name) {
                return parse_kind(k).map_err(|e| self.refuse(e));
            }
        }
        // getopt_long accepts any unique prefix of a long option: an unlisted `--fil` is
        // `--files0-from`. An abbreviation of a refused option is refused too.
        if name.starts_with("--") {
            for s in scopes.iter().rev() {
                if let Some(full) = s
                    .deny_options
                    .keys()
                    .map(|k| k.trim_end_matches('*'))
                    .find(|k| k.starts_with(name))
                {
                    return Err(self.refuse(format!(
                        "option `{name}` would be read as an abbreviation of `{full}`, which is refused"
                    )));
                }
            }
        }
        if scopes.last().is_some_and(|s| s.any_options) {
            return Ok(OptKind {
                kind: Kind::Flag,
                optional: false,
            });
        }
        Err(self.refuse(format!(
            "option `{name}` is not on the read-only allowlist for this command"
        )))
    }

    fn take_value(
        &self,
        kind: &OptKind,
        attached: Option<String>,
        args: &[String],
        i: &mut usize,
        name: &str,
    ) -> Result<Option<String>, Refusal> {
        if let Some(v) = attached {
            return Ok(Some(v));
        }
        let next = args.get(*i);
        if kind.optional {
            // Only consume the next word when it is clearly this option's value.
            if let Some(n) = next {
                let negative_number = kind.kind == Kind::Signed
                    && n.strip_prefix('-')
                        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()));
                if self.check_word(&kind.kind, n, name).is_ok()
                    && (!n.starts_with('-') || negative_number)
                {
                    *i += 1;
                    return Ok(Some(n.clone()));
                }
            }
            return Ok(None);
        }
        match next {
            Some(n) => {
                self.check_word(&kind.kind, n, name)?;
                *i += 1;
                Ok(Some(n.clone()))
            }
            None => Err(self.refuse(format!("option `{name}` needs a value"))),
        }
    }

    fn note_option(
        &self,
        scopes: &[&Rule],
        name: &str,
        kind: &OptKind,
        value: Option<&str>,
        found: &mut Found,
        pattern_given: &mut bool,
    ) -> Result<(), Refusal> {
        if let Some(v) = value {
            self.check_value(&kind.kind, v, name)?;
            if kind.kind == Kind::Path {
                self.rules.check_path(self.program, v)?;
            }
        }
        found.seen.insert(name.to_string());
        if self.top.pattern_options.iter().any(|p| p == name) {
            *pattern_given = true;
        }
        if scopes
            .iter()
            .any(|s| s.recursive_options.iter().any(|p| p == name))
        {
            found.recursive = true;
        }
        Ok(())
    }

    /// A value that stands as its own word (a positional, or an option value in the next
    /// word): it may not look like an option, or the program could read it as one.
    fn check_word(&self, kind: &Kind, v: &str, what: &str) -> Result<(), Refusal> {
        if v.starts_with('-') && !v[1..].starts_with(|c: char| c.is_ascii_digit()) && v != "-" {
            return Err(self.refuse(format!("{what} value `{v}` looks like an option")));
        }
        self.check_value(kind, v, what)
    }

    fn check_value(&self, kind: &Kind, v: &str, what: &str) -> Result<(), Refusal> {
        let bad = |why: &str| self.refuse(format!("{what} value `{v}` {why}"));
        match kind {
            Kind::Flag | Kind::Any => Ok(()),
            Kind::Word => {
                let ok = !v.is_empty()
                    && v.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_@.:+\\-/*%,^~".contains(c))
                    && !v.starts_with('-');
                ok.then_some(())
                    .ok_or_else(|| bad("must be a plain name (letters, digits, `_@.:+-`)"))
            }
            Kind::Name => {
                let ok = !v.is_empty()
                    && !v.starts_with(['.', '-'])
                    && v.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_@.:+-".contains(c));
                ok.then_some(())
                    .ok_or_else(|| bad("must be a bare name (no `/`, no leading `.`)"))
            }
            Kind::Number => (!v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
                .then_some(())
                .ok_or_else(|| bad("must be a number")),
            Kind::Signed => {
                let body = v.strip_prefix(['-', '+']).unwrap_or(v);
                (!body.is_empty()
                    && body.starts_with(|c: char| c.is_ascii_digit())
                    && body.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'))
                .then_some(())
                .ok_or_else(|| bad("must be a number"))
            }
            Kind::Path => {
                if v.is_empty() {
                    return Err(bad("is empty"));
                }
                self.rules.check_path(self.program, v)
            }
            Kind::Url => {
                let lower = v.to_ascii_lowercase();
                let Some(rest) = lower
                    .strip_prefix("http://")
                    .or_else(|| lower.strip_prefix("https://"))
                else {
                    return Err(bad("must be an http:// or https:// URL"));
                };
                let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
                let host = authority.rsplit('@').next().unwrap_or("");
                const METADATA: &[&str] = &[
                    "169.254.169.254",
                    "[fd00:ec2::254]",
                    "metadata.google.internal",
                    "metadata",
                    "100.100.100.200",
                    "169.254.170.2",
                ];
                let bare = host.rsplit_once(':').map_or(host, |(h, p)| {
                    if p.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':') {
                        h
                    } else {
                        host
                    }
                });
                if authority.contains('@') {
                    return Err(bad("may not carry credentials"));
                }
                if METADATA.contains(&bare) || bare.starts_with("169.254.") {
                    return Err(bad("points at a cloud metadata service (credentials)"));
                }
                Ok(())
            }
            Kind::DevNull => (v == "/dev/null")
                .then_some(())
                .ok_or_else(|| bad("may only be /dev/null (tai never writes files)")),
            Kind::Format => v
                .starts_with('+')
                .then_some(())
                .ok_or_else(|| bad("must be a +FORMAT (other arguments would change state)")),
            Kind::NoAt => (!v.starts_with('@'))
                .then_some(())
                .ok_or_else(|| bad("may not start with `@` (that reads a file and sends it)")),
            Kind::NoMacro => (!v.contains("%(") && !v.contains("%{lua") && !v.contains("%{expand"))
                .then_some(())
                .ok_or_else(|| bad("may not contain macro expansions (`%(...)` runs a shell)")),
            Kind::Awk => scripts::check_awk(v).map_err(|e| self.refuse(e)),
            Kind::Sed => scripts::check_sed(v).map_err(|e| self.refuse(e)),
            Kind::Enum(list) => list
                .iter()
                .any(|x| x == v)
                .then_some(())
                .ok_or_else(|| bad(&format!("must be one of: {}", list.join(", ")))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINI: &str = r#"
trusted_dirs = ["/usr/bin"]

[[deny_program]]
id = "deny-sh"
programs = ["sh"]
reason = "shell"

[[path_rule]]
id = "secret"
deny = ["/secret", "/secret/**"]
reason = "secret"

[recursive_guard]
id = "rec"
allow_under = ["/logs"]
protect = []
inside = []
reason = "logs only"

[[command]]
id = "tool"
programs = ["tool"]
positional = ["path"]
recursive_options = ["-r"]
options = { "-a" = "flag", "-b" = "flag", "-r" = "flag", "-n" = "number", "-o" = "number?", "--long" = "any", "--flag" = "flag", "-NUM" = "flag", "-wide" = "word" }
deny_options = { "-x" = "executes", "--exec*" = "executes" }

[[command]]
id = "multi"
programs = ["multi"]
subcommand_required = true
subcommands = [
  { names = ["show"], positional = ["name"], requires_any = ["--yes"], options = { "--yes" = "flag" } },
  { names = ["list"] },
]

[[command]]
id = "loose"
programs = ["loose"]
any_options = true
positional = ["any"]
deny_options = { "--files0-from" = "reads a file list" }
"#;

    fn rules() -> Rules {
        Rules::compile(toml::from_str(MINI).unwrap()).unwrap()
    }

    fn eval(line: &str) -> Result<String, Refusal> {
        rules().evaluate(&shell_words::split(line).unwrap())
    }

    #[test]
    fn getopt_shapes_are_understood() {
        for ok in [
            "tool -ab /x",
            "tool -an5 /x",
            "tool -n 5 /x",
            "tool -o /x",
            "tool -o 7 /x",
            "tool --long=v /x",
            "tool --long v",
            "tool --flag -- /x",
            "tool -100 /x",
            "tool -wide=abc /x",
            "/usr/bin/tool /x",
        ] {
            assert_eq!(eval(ok), Ok("tool".into()), "{ok}");
        }
        let refused = [
            ("tool -ax /x", "executes"),
            ("tool --exec-program=x /x", "executes"),
            ("tool --flag=1 /x", "takes no value"),
            ("tool -n", "needs a value"),
            ("tool -n -x", "looks like an option"),
            ("tool -n abc", "must be a number"),
            ("tool -q /x", "not on the read-only allowlist"),
            ("tool -- -x", "looks like an option"),
            ("tool /secret/a", "secret"),
            ("tool --long=/secret", "secret"),
            ("tool -r /etc", "logs only"),
            ("/tmp/tool /x", "system directory"),
            ("sh -c id", "shell"),
            ("nope", "not on the read-only allowlist"),
        ];
        for (line, why) in refused {
            let r = eval(line).expect_err(line);
            assert!(r.reason.contains(why), "{line}: {}", r.reason);
        }
        assert!(eval("tool -r /logs/app").is_ok());
        let r = rules()
            .evaluate(&["tool".into(), "a\u{1}b".into()])
            .unwrap_err();
        assert!(r.reason.contains("control character"), "{}", r.reason);
    }

    #[test]
    fn subcommands_and_scoped_requirements() {
        assert_eq!(eval("multi list"), Ok("multi".into()));
        assert_eq!(eval("multi show --yes web"), Ok("multi".into()));
        let r = eval("multi show web").unwrap_err();
        assert!(r.reason.contains("needs one of --yes"), "{}", r.reason);
        let r = eval("multi").unwrap_err();
        assert!(
            r.reason.contains("needs a read-only subcommand"),
            "{}",
            r.reason
        );
        let r = eval("multi delete x").unwrap_err();
        assert!(
            r.reason.contains("not an allowed subcommand"),
            "{}",
            r.reason
        );
        let r = eval("multi show --yes ../x").unwrap_err();
        assert!(r.reason.contains("bare name"), "{}", r.reason);
        let r = eval("multi list extra").unwrap_err();
        assert!(r.reason.contains("takes no arguments"), "{}", r.reason);
    }

    #[test]
    fn loose_programs_still_refuse_abbreviations_of_denied_options() {
        assert!(eval("loose --anything=1 -xyz word").is_ok());
        for line in ["loose --files0-from=/x", "loose --files=/x", "loose --fi"] {
            assert!(eval(line).is_err(), "{line}");
        }
    }
}
