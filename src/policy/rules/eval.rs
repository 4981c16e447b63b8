//! Evaluation of one argv against one command rule, the way the program's own parser reads
//! it: getopt short-option clusters (a required value takes the rest of the cluster or the
//! next word, an optional one only the rest of the cluster), getopt_long options (`--name=V`,
//! `--name V`, unique-prefix abbreviations), `--` ending the options, subcommands, and the
//! kind of every value and positional. Every path-bearing word (operands, option values,
//! `@FILE`) is checked against the path rules and recorded for host-side resolution.
use std::collections::{BTreeMap, BTreeSet};

use super::super::url;
use super::kinds::{self, Arity, Kind, OptKind};
use super::{Refusal, Rule, Rules};

/// What evaluating one command found out along the way.
#[derive(Debug, Default)]
pub(super) struct Found {
    /// The read is recursive (a recursive option, or a program that always is).
    pub recursive: bool,
    /// Index (in the arguments after the program name) of the `--` that ended the options.
    pub end_of_options: Option<usize>,
    /// DNS names a probe connects to (values of kind url/host/hostport), resolved on the host
    /// before the command runs.
    pub probe_names: Vec<String>,
    /// Every option name used (full names, after abbreviation).
    pub seen: BTreeSet<String>,
    /// Every path-bearing word with the index of its argument, in the order checked.
    pub paths: Vec<(usize, String)>,
    /// Index of the argument being checked.
    at: usize,
    /// Positional operands of kind `path`/`dir` (what a recursive option walks).
    pub operands: Vec<String>,
    /// Values of kind `dir` (always walked).
    pub dirs: Vec<String>,
}

/// Evaluation of one argv against one command rule.
pub(super) struct Eval<'a> {
    pub rules: &'a Rules,
    pub top: &'a Rule,
    pub program: &'a str,
    /// Given path → its form resolved on the host (symlinks, `..`, working directory).
    pub resolved: Option<&'a BTreeMap<String, String>>,
}

/// A positional word, whether it came after `--`, and its index.
type Positional = (String, bool, usize);

impl<'a> Eval<'a> {
    fn refuse(&self, reason: impl Into<String>) -> Refusal {
        Refusal::new(
            &self.top.id,
            format!("`{}`: {}", self.program, reason.into()),
        )
    }

    pub fn run(&self, args: &[String]) -> Result<Found, Refusal> {
        let mut found = Found {
            recursive: self.top.recursive,
            ..Found::default()
        };
        // Programs that expand `@FILE` in every argument (binutils' expandargv: strings), also
        // option values and words after `--`: a rule refusing `@*` refuses any such word.
        if let Some(why) = self.top.deny_options.get("@*") {
            if let Some(a) = args.iter().find(|a| a.starts_with('@')) {
                return Err(self.refuse(format!("`{a}`: {why}")));
            }
        }
        let mut scopes: Vec<&Rule> = vec![self.top];
        let mut positionals: Vec<Vec<Positional>> = vec![Vec::new()];
        let mut pattern_given = false;
        let mut after_dd = false;
        let mut i = 0usize;
        while i < args.len() {
            let a = args[i].as_str();
            found.at = i;
            i += 1;
            // `--` ends the options for getopt programs; programs with their own parsers
            // (`clusters = false`: find, ip, openssl) may not honour it, so for them it is
            // an option word like any other (and refused unless listed).
            if !after_dd && a == "--" && scopes.iter().all(|s| s.clusters) {
                after_dd = true;
                found.end_of_options = Some(i - 1);
                continue;
            }
            if !after_dd && !a.starts_with('-') {
                // Non-dash words a program reads as options (`tail +1f`).
                if let Some(r) = self.denial(&scopes, a) {
                    return Err(r);
                }
            }
            if !after_dd
                && self.option_word(&scopes, a, args, &mut i, &mut found, &mut pattern_given)?
            {
                continue;
            }
            // A positional argument (or a subcommand word).
            let cur = *scopes.last().unwrap_or(&self.top);
            let depth = scopes.len() - 1;
            if !cur.subcommands.is_empty() && positionals[depth].is_empty() && !after_dd {
                let Some(sub) = cur
                    .subcommands
                    .iter()
                    .find(|s| s.names.iter().any(|n| n == a))
                else {
                    return Err(self.refuse(format!(
                        "`{a}` is not an allowed subcommand here; read-only ones are: {}",
                        first_names(cur).join(", ")
                    )));
                };
                positionals[depth].push((a.to_string(), false, i - 1));
                scopes.push(sub);
                positionals.push(Vec::new());
                continue;
            }
            positionals[depth].push((a.to_string(), after_dd, i - 1));
        }
        self.check_requirements(&scopes, &found)?;
        self.check_positionals(&scopes, &positionals, pattern_given, &mut found)?;
        Ok(found)
    }

    /// Handle `a` if it is an option (with its value); `Ok(false)` when it is a positional.
    fn option_word(
        &self,
        scopes: &[&Rule],
        a: &str,
        args: &[String],
        i: &mut usize,
        found: &mut Found,
        pattern_given: &mut bool,
    ) -> Result<bool, Refusal> {
        // Whole words listed as options: `-name`, `!`, `(`, `+short`, `-br`.
        if let Some(kind) = self.exact(scopes, a)? {
            let value = self.take_value(a, &kind, None, args, i)?;
            self.note_option(scopes, a, &kind, value.as_deref(), found, pattern_given)?;
            return Ok(true);
        }
        if a.starts_with("--") && a.len() > 2 {
            let (name, attached) = match a.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (a, None),
            };
            let (full, kind) = self.long_option(scopes, name)?;
            let value = self.take_value(&full, &kind, attached, args, i)?;
            self.note_option(scopes, &full, &kind, value.as_deref(), found, pattern_given)?;
            return Ok(true);
        }
        // Single-dash long options with a value (`nslookup -type=mx`) and dig's `+name=value`.
        // (`-e=x` is getopt's `-e` with value `=x`, handled as a cluster below.)
        if a.starts_with(['-', '+']) {
            if let Some((n, v)) = a.split_once('=').filter(|(n, _)| n.len() > 2) {
                if let Some(kind) = self.exact(scopes, n)? {
                    let value = self.take_value(n, &kind, Some(v), args, i)?;
                    self.note_option(scopes, n, &kind, value.as_deref(), found, pattern_given)?;
                    return Ok(true);
                }
            }
        }
        // Programs with `+X` options (lsof, dig) read every `+` word as an option: `+X` with
        // the rest of the word as its value (lsof `+c15`, `+r1`), never as an operand.
        if a.len() > 1 && a.starts_with('+') && Self::has_plus_options(scopes) {
            let name: String = a.chars().take(2).collect();
            if let Some(refusal) = self.denial(scopes, &name) {
                return Err(refusal);
            }
            let Some(kind) = self.listed(scopes, &name)? else {
                return Err(self.refuse(format!(
                    "option `{a}` is not on the read-only allowlist for this command"
                )));
            };
            let rest = &a[name.len()..];
            let value =
                self.take_value(&name, &kind, (!rest.is_empty()).then_some(rest), args, i)?;
            self.note_option(scopes, &name, &kind, value.as_deref(), found, pattern_given)?;
            return Ok(true);
        }
        if !(a.starts_with('-') && a.len() > 1) {
            return Ok(false);
        }
        if !scopes.iter().all(|s| s.clusters) {
            // Whole-word options only, and this one is not listed.
            self.short_option(scopes, a)?;
            return Err(self.refuse(format!(
                "option `{a}` is not on the read-only allowlist for this command"
            )));
        }
        if a[1..].chars().all(|c| c.is_ascii_digit())
            && scopes.iter().any(|s| s.options.contains_key("-NUM"))
        {
            // Legacy `tail -100`.
            return Ok(true);
        }
        let chars: Vec<char> = a[1..].chars().collect();
        for (j, c) in chars.iter().enumerate() {
            let name = format!("-{c}");
            let kind = self.short_option(scopes, &name)?;
            if kind.kind == Kind::Flag {
                self.note_option(scopes, &name, &kind, None, found, pattern_given)?;
                continue;
            }
            let rest: String = chars[j + 1..].iter().collect();
            let attached = (!rest.is_empty()).then_some(rest.as_str());
            let value = self.take_value(&name, &kind, attached, args, i)?;
            self.note_option(scopes, &name, &kind, value.as_deref(), found, pattern_given)?;
            break;
        }
        Ok(true)
    }

    /// Does any scope list or refuse a `+X` option?
    fn has_plus_options(scopes: &[&Rule]) -> bool {
        scopes.iter().any(|s| {
            s.options
                .keys()
                .chain(s.deny_options.keys())
                .any(|k| k.len() > 1 && k.starts_with('+'))
        })
    }

    /// The denial for `name` (exact, or a `prefix*` key), innermost scope first.
    fn denial(&self, scopes: &[&Rule], name: &str) -> Option<Refusal> {
        scopes.iter().rev().find_map(|s| {
            s.denied_option(name)
                .map(|why| self.refuse(format!("option `{name}` is refused: {why}")))
        })
    }

    fn listed(&self, scopes: &[&Rule], name: &str) -> Result<Option<OptKind>, Refusal> {
        for s in scopes.iter().rev() {
            if let Some(k) = s.options.get(name) {
                return kinds::parse_kind(k)
                    .map(Some)
                    .map_err(|e| self.refuse(e.to_string()));
            }
        }
        Ok(None)
    }

    /// A whole word that is exactly a denied or listed option.
    fn exact(&self, scopes: &[&Rule], a: &str) -> Result<Option<OptKind>, Refusal> {
        for s in scopes.iter().rev() {
            if let Some(why) = s.deny_options.get(a) {
                return Err(self.refuse(format!("option `{a}` is refused: {why}")));
            }
        }
        self.listed(scopes, a)
    }

    /// One short option (`-x`), or a whole single-dash word for programs without clusters.
    fn short_option(&self, scopes: &[&Rule], name: &str) -> Result<OptKind, Refusal> {
        if let Some(r) = self.denial(scopes, name) {
            return Err(r);
        }
        if let Some(k) = self.listed(scopes, name)? {
            return Ok(k);
        }
        self.unknown(scopes, name)
    }

    /// A `--long` option: exact, or getopt_long's unique-prefix abbreviation of a listed one.
    /// An abbreviation that could be a refused option, or more than one option, is refused.
    fn long_option(&self, scopes: &[&Rule], name: &str) -> Result<(String, OptKind), Refusal> {
        if let Some(r) = self.denial(scopes, name) {
            return Err(r);
        }
        if let Some(k) = self.listed(scopes, name)? {
            return Ok((name.to_string(), k));
        }
        for s in scopes.iter().rev() {
            for (key, why) in &s.deny_options {
                let full = key.trim_end_matches('*');
                if full.starts_with("--") && full.starts_with(name) {
                    return Err(self.refuse(format!(
                        "option `{name}` would be read as an abbreviation of `{full}`, which is \
                         refused: {why}"
                    )));
                }
            }
        }
        let matches: BTreeSet<&String> = scopes
            .iter()
            .flat_map(|s| s.options.keys())
            .filter(|k| k.starts_with("--") && k.starts_with(name))
            .collect();
        match matches.len() {
            0 => {}
            1 => {
                let full = matches.into_iter().next().cloned().unwrap_or_default();
                let kind = self
                    .listed(scopes, &full)?
                    .ok_or_else(|| self.refuse("internal"))?;
                return Ok((full, kind));
            }
            _ => {
                let list: Vec<&str> = matches.iter().map(|s| s.as_str()).collect();
                return Err(self.refuse(format!(
                    "option `{name}` is ambiguous ({}); write the option in full",
                    list.join(", ")
                )));
            }
        }
        self.unknown(scopes, name).map(|k| (name.to_string(), k))
    }

    /// Refuse an option the rule does not list, naming what it does accept.
    fn unknown(&self, scopes: &[&Rule], name: &str) -> Result<OptKind, Refusal> {
        const SHOWN: usize = 30;
        let known: BTreeSet<&str> = scopes
            .iter()
            .flat_map(|s| s.options.keys())
            .map(String::as_str)
            .collect();
        let hint = if known.is_empty() {
            "; this command takes no options".to_string()
        } else {
            let list: Vec<&str> = known.iter().take(SHOWN).copied().collect();
            let more = if known.len() > SHOWN { ", ..." } else { "" };
            format!("; allowed: {}{more}", list.join(" "))
        };
        Err(self.refuse(format!(
            "option `{name}` is not on the read-only allowlist for this command{hint}"
        )))
    }

    /// The value of option `name`: attached, or taken from the next word per its arity.
    fn take_value(
        &self,
        name: &str,
        kind: &OptKind,
        attached: Option<&str>,
        args: &[String],
        i: &mut usize,
    ) -> Result<Option<String>, Refusal> {
        if kind.kind == Kind::Flag {
            return match attached {
                Some(_) => Err(self.refuse(format!("option `{name}` takes no value"))),
                None => Ok(None),
            };
        }
        if let Some(v) = attached {
            return Ok(Some(v.to_string()));
        }
        let next = args.get(*i);
        match kind.arity {
            Arity::Attached => Ok(None),
            Arity::Next => {
                let Some(n) = next else { return Ok(None) };
                // A `+` word is an option to programs with `+X` options (lsof `+r1`), never a
                // value the engine should take on their behalf.
                let dash_ok = (!n.starts_with('-') && !n.starts_with('+'))
                    || (matches!(kind.kind, Kind::Signed) && kinds::is_negative_number(n));
                if dash_ok && !n.starts_with('@') && kinds::check_plain(&kind.kind, n).is_ok() {
                    *i += 1;
                    return Ok(Some(n.clone()));
                }
                Ok(None)
            }
            Arity::Required => {
                let Some(n) = next else {
                    return Err(self.refuse(format!("option `{name}` needs a value")));
                };
                self.dash_check(&kind.kind, n, name, false)?;
                *i += 1;
                Ok(Some(n.clone()))
            }
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
            self.check_value(&kind.kind, v, &format!("option `{name}`"), found)?;
            if kind.kind == Kind::Dir {
                found.dirs.push(v.to_string());
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

    /// A value standing as its own word may not look like an option (the program could read
    /// it as one), except a pattern, a negative number, `-` (stdin) or a word after `--`.
    fn dash_check(&self, kind: &Kind, v: &str, what: &str, after_dd: bool) -> Result<(), Refusal> {
        if v.starts_with('-')
            && v != "-"
            && !after_dd
            && *kind != Kind::Pattern
            && !kinds::is_negative_number(v)
        {
            return Err(self.refuse(format!("{what} value `{v}` looks like an option")));
        }
        Ok(())
    }

    /// Check a value against its kind; path-bearing values (paths, `@FILE`) are checked against
    /// the path rules, in their given and (when known) host-resolved forms, and recorded.
    fn check_value(
        &self,
        kind: &Kind,
        v: &str,
        what: &str,
        found: &mut Found,
    ) -> Result<(), Refusal> {
        kinds::check_plain(kind, v)
            .map_err(|why| self.refuse(format!("{what} value `{v}` {why}")))?;
        // A name a program connects to is only as safe as the address it resolves to on the
        // host: URL hosts (curl) and host / host:port values (openssl -connect, ping,
        // traceroute, pg_isready -h, ...) are resolved there and checked before the command
        // runs. DNS tools are the exception: their host words are questions, and they must
        // still run when DNS is what is broken.
        if *kind == Kind::Url {
            found.probe_names.extend(url::names_to_resolve(v, true));
        } else if matches!(kind, Kind::Host | Kind::HostPort) && !self.top.dns_queries {
            // Both readings of `name:port`, as the check itself does.
            found.probe_names.extend(url::names_to_resolve(v, false));
        }
        if kind.is_path() {
            if v.is_empty() {
                return Err(self.refuse(format!("{what} is an empty path")));
            }
            self.path_word(v, found)?;
        }
        if kind.reads_at_file() {
            if let Some(file) = v.strip_prefix('@').filter(|f| !f.is_empty()) {
                self.path_word(file, found)?;
            }
        }
        Ok(())
    }

    fn path_word(&self, v: &str, found: &mut Found) -> Result<(), Refusal> {
        self.rules.check_path(self.program, v)?;
        if let Some(real) = self.resolved.and_then(|m| m.get(v)) {
            self.rules.check_path(self.program, real).map_err(|r| {
                Refusal::new(&r.rule, format!("{v} resolves to {real}: {}", r.reason))
            })?;
        }
        found.paths.push((found.at, v.to_string()));
        Ok(())
    }

    fn check_requirements(&self, scopes: &[&Rule], found: &Found) -> Result<(), Refusal> {
        for scope in scopes {
            if !scope.requires_any.is_empty()
                && !scope.requires_any.iter().any(|o| found.seen.contains(o))
            {
                return Err(self.refuse(format!(
                    "needs one of {} (only read-only forms are allowed)",
                    scope.requires_any.join(", ")
                )));
            }
        }
        for (depth, scope) in scopes.iter().enumerate() {
            let chosen = depth + 1 < scopes.len();
            if !scope.subcommands.is_empty() && !chosen && scope.subcommand_required {
                return Err(self.refuse(format!(
                    "needs a read-only subcommand: {}",
                    first_names(scope).join(", ")
                )));
            }
        }
        Ok(())
    }

    fn check_positionals(
        &self,
        scopes: &[&Rule],
        positionals: &[Vec<Positional>],
        pattern_given: bool,
        found: &mut Found,
    ) -> Result<(), Refusal> {
        for (depth, scope) in scopes.iter().enumerate() {
            let mut list: &[Positional] = &positionals[depth];
            if depth + 1 < scopes.len() {
                // The subcommand word itself.
                list = &list[1..];
            }
            let mut kinds: Vec<OptKind> = scope
                .positional
                .iter()
                .map(|k| kinds::parse_kind(k))
                .collect::<Result<_, _>>()
                .map_err(|e| self.refuse(e.to_string()))?;
            if pattern_given && depth == 0 && kinds.len() > 1 {
                kinds.remove(0);
            }
            if list.len() < scope.min_positional {
                // A subcommand's description says what the missing arguments are.
                let what = match scope.description.as_str() {
                    d if depth > 0 && !d.is_empty() => format!(": {d}"),
                    _ => String::new(),
                };
                return Err(self.refuse(format!(
                    "needs at least {} argument(s){what}",
                    scope.min_positional
                )));
            }
            let max = if kinds.is_empty() {
                0
            } else {
                scope.max_positional.unwrap_or(usize::MAX)
            };
            if list.len() > max {
                let extra = &list[max].0;
                let why = if max == 0 {
                    " (this form takes no arguments)".to_string()
                } else {
                    format!(" (at most {max})")
                };
                return Err(self.refuse(format!("unexpected argument `{extra}`{why}")));
            }
            for (k, (arg, after_dd, at)) in list.iter().enumerate() {
                found.at = *at;
                let kind = &kinds[k.min(kinds.len() - 1)].kind;
                self.dash_check(kind, arg, "argument", *after_dd)?;
                self.check_value(kind, arg, "argument", found)?;
                if kind.is_path() {
                    found.operands.push(arg.clone());
                }
                if *kind == Kind::Dir {
                    found.dirs.push(arg.clone());
                }
            }
        }
        Ok(())
    }
}

fn first_names(r: &Rule) -> Vec<&str> {
    r.subcommands
        .iter()
        .flat_map(|s| s.names.first().map(String::as_str))
        .collect()
}
