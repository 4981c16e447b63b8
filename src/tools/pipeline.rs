//! Local pipelines for `run_command`: `CMD | grep PAT | sort | uniq -c | sort -rn | head`.
//! Only `CMD` runs on the host (one argv, through the policy like any command); the stages
//! after it are parsed here and applied by tai itself, in Rust, to the captured (redacted,
//! capped) stdout. No stage program ever runs on the host, so a stage cannot write, execute
//! or read anything: it only transforms text tai already holds.
//!
//! # API (also used by the policy corpus test)
//!
//! ```text
//! pub fn split_pipeline(line: &str) -> Result<(Vec<String>, Vec<Stage>), String>
//! ```
//! Splits `line` on unquoted `|` (quotes and backslashes respected: `grep -E 'a|b'` is one
//! word). The first segment goes through [`crate::policy::split_command_line`] and comes back
//! as the argv to judge with the policy and run on the host; every later segment is parsed
//! into a [`Stage`]. `Err` (a message for the model) for `||`, `|&`, an empty segment, shell
//! syntax in any segment (the same refusals as `split_command_line`), a program after `|`
//! that is not a supported stage, or stage options tai does not implement. A line without
//! `|` gives `(argv, vec![])`, exactly `split_command_line`'s result.
//!
//! Then [`apply_stages`]`(&stages, stdout)` gives the text the model sees, and
//! [`describe`]`(&stages)` the ` | sort | uniq -c` suffix for the command record.
//!
//! Supported stages: `grep` ([`grep`]), `sort` ([`sort`]), `uniq`, `head`, `tail`, `wc`,
//! `cut`, and a small `awk` subset ([`awk`]). Output bound: a stage writes at most its input
//! plus a small overhead (line prefixes such as `uniq -c` counts), then stops with a note.
use crate::policy::{quote, split_command_line};

pub mod awk;
pub mod grep;
pub mod sort;

/// One stage after a `|`, applied by tai to the previous stage's output.
#[derive(Debug, Clone)]
pub struct Stage {
    /// The words as the model wrote them (for the record).
    pub words: Vec<String>,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Grep(grep::Grep),
    Sort(sort::Sort),
    Awk(awk::Awk),
    Uniq(Uniq),
    Head(Take),
    Tail(Take),
    Wc(Wc),
    Cut(Cut),
}

const SUPPORTED: &str = "grep, sort, uniq, head, tail, wc, cut and simple awk '{print $N}'";

/// Split a command line into the host command and the stages tai applies (see module docs).
pub fn split_pipeline(line: &str) -> Result<(Vec<String>, Vec<Stage>), String> {
    let segments = split_segments(line)?;
    let mut segments = segments.into_iter();
    let first = segments.next().unwrap_or_default();
    let argv = split_command_line(first)?;
    let mut stages = Vec::new();
    for seg in segments {
        let words =
            split_command_line(seg).map_err(|e| format!("in the stage `{}`: {e}", seg.trim()))?;
        stages.push(Stage::parse(words)?);
    }
    Ok((argv, stages))
}

/// Apply every stage in order to `input`.
pub fn apply_stages(stages: &[Stage], input: String) -> String {
    let mut text = input;
    for s in stages {
        text = s.apply(&text);
    }
    text
}

/// ` | sort | uniq -c`: the stages as the record shows them (empty without stages).
pub fn describe(stages: &[Stage]) -> String {
    stages
        .iter()
        .map(|s| format!(" | {}", quote::command_line(&s.words)))
        .collect()
}

/// The line's segments between unquoted `|`, with the same quoting rules as the shell
/// (single quotes literal, backslash escapes outside single quotes).
fn split_segments(line: &str) -> Result<Vec<&str>, String> {
    let bytes = line.as_bytes();
    let (mut single, mut double) = (false, false);
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if single {
            single = c != b'\'';
        } else if c == b'\\' {
            i += 1;
        } else if double {
            double = c != b'"';
        } else if c == b'\'' {
            single = true;
        } else if c == b'"' {
            double = true;
        } else if c == b'|' {
            match bytes.get(i + 1) {
                Some(b'|') => {
                    return Err("`||` is not supported: tai runs one command and applies \
                                `| STAGE` filters itself; run each command as its own call"
                        .into())
                }
                Some(b'&') => return Err("`|&` is not supported: stages read stdout only".into()),
                _ => {}
            }
            out.push(&line[start..i]);
            start = i + 1;
        }
        i += 1;
    }
    out.push(&line[start..]);
    if out.len() > 1 {
        if let Some(k) = out.iter().position(|s| s.trim().is_empty()) {
            return Err(if k == 0 {
                "a line may not start with `|`: give the command first, e.g. `ss -tan | wc -l`"
                    .into()
            } else {
                "empty stage after `|`: write a filter after each `|`, e.g. `| sort | uniq -c`"
                    .into()
            });
        }
        if out.len() > 17 {
            return Err("too many stages: at most 16 `|` stages per command".into());
        }
    }
    Ok(out)
}

impl Stage {
    fn parse(words: Vec<String>) -> Result<Stage, String> {
        let args = &words[1..];
        let kind = match words[0].as_str() {
            "grep" => Kind::Grep(grep::Grep::parse(args, false)?),
            "egrep" => Kind::Grep(grep::Grep::parse(args, true)?),
            "sort" => Kind::Sort(sort::Sort::parse(args)?),
            "awk" | "gawk" | "mawk" => Kind::Awk(awk::Awk::parse(args)?),
            "uniq" => Kind::Uniq(Uniq::parse(args)?),
            "head" => Kind::Head(Take::parse("head", args)?),
            "tail" => Kind::Tail(Take::parse("tail", args)?),
            "wc" => Kind::Wc(Wc::parse(args)?),
            "cut" => Kind::Cut(Cut::parse(args)?),
            other => {
                return Err(format!(
                    "`{other}` is not a supported stage after `|`: tai applies only {SUPPORTED} \
                     to the command's output itself, and runs nothing else; run `{other}` as \
                     its own command if the policy allows it"
                ))
            }
        };
        Ok(Stage { words, kind })
    }

    /// Apply this stage to `input` (one stage's whole output as text).
    pub fn apply(&self, input: &str) -> String {
        let mut out = Out::new(input.len(), lines(input).count());
        match &self.kind {
            Kind::Grep(g) => g.apply(input, &mut out),
            Kind::Sort(s) => s.apply(input, &mut out),
            Kind::Awk(a) => a.apply(input, &mut out),
            Kind::Uniq(u) => u.apply(input, &mut out),
            Kind::Head(t) => t.head(input, &mut out),
            Kind::Tail(t) => t.tail(input, &mut out),
            Kind::Wc(w) => w.apply(input, &mut out),
            Kind::Cut(c) => c.apply(input, &mut out),
        }
        out.finish()
    }
}

// ------------------------------------------------------------------------------------------
// Shared pieces: lines, bounded output, option parsing.

/// The lines of `text` without their `\n` (a final line without `\n` counts).
pub(crate) fn lines(text: &str) -> impl Iterator<Item = &str> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    body.split('\n')
        .take(if text.is_empty() { 0 } else { usize::MAX })
}

/// A stage's output, bounded by its input size plus a small per-line overhead.
pub(crate) struct Out {
    buf: String,
    limit: usize,
    cut: bool,
}

impl Out {
    fn new(input_len: usize, input_lines: usize) -> Out {
        Out {
            buf: String::new(),
            limit: input_len + 16 * input_lines + 4096,
            cut: false,
        }
    }

    /// Append the pieces of one output line and its `\n`; `false` once the bound is reached.
    pub(crate) fn line(&mut self, parts: &[&str]) -> bool {
        let n: usize = parts.iter().map(|p| p.len()).sum::<usize>() + 1;
        if self.cut || self.buf.len() + n > self.limit {
            self.cut = true;
            return false;
        }
        for p in parts {
            self.buf.push_str(p);
        }
        self.buf.push('\n');
        true
    }

    fn finish(mut self) -> String {
        if self.cut {
            self.buf.push_str(&format!(
                "[tai: this stage's output was cut at {} bytes]\n",
                self.buf.len()
            ));
        }
        self.buf
    }
}

/// How an option takes a value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arity {
    Flag,
    /// Required value, attached or the next word.
    Value,
    /// Optional value, only attached with `=` (long options only).
    Optional,
}

/// One option a stage accepts: `key` is what the parse result reports.
pub(crate) struct Opt {
    pub short: Option<char>,
    pub long: Option<&'static str>,
    pub arity: Arity,
    pub key: char,
}

pub(crate) const fn opt(short: char, long: &'static str, arity: Arity) -> Opt {
    Opt {
        // A key that is not a letter or digit marks a long-only option.
        short: if short.is_ascii_alphanumeric() {
            Some(short)
        } else {
            None
        },
        long: if long.is_empty() { None } else { Some(long) },
        arity,
        key: short,
    }
}

/// GNU-style option parsing for a stage: clusters (`-vi`), attached values (`-m5`, `-d:`),
/// `--long[=VALUE]`, `--` and options after operands. Returns the options in order and the
/// operands.
pub(crate) type Parsed = (Vec<(char, Option<String>)>, Vec<String>);

pub(crate) fn parse_opts(prog: &str, args: &[String], table: &[Opt]) -> Result<Parsed, String> {
    let supported = || {
        table
            .iter()
            .map(|o| match (o.short, o.long) {
                (Some(s), _) => format!("-{s}"),
                (None, Some(l)) => format!("--{l}"),
                (None, None) => String::new(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let unknown = |o: &str| {
        format!(
            "`{prog}` after `|` does not support `{o}`; supported options: {}",
            supported()
        )
    };
    let mut opts = Vec::new();
    let mut operands = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let w = &args[i];
        i += 1;
        if w == "--" {
            operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = w.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let o = table
                .iter()
                .find(|o| o.long == Some(name))
                .ok_or_else(|| unknown(w))?;
            let value = match (o.arity, value) {
                (Arity::Flag, Some(_)) => {
                    return Err(format!("`{prog}`: `--{name}` takes no value"))
                }
                (Arity::Value, None) => Some(
                    args.get(i)
                        .cloned()
                        .ok_or_else(|| format!("`{prog}`: `--{name}` needs a value"))
                        .inspect(|_| i += 1)?,
                ),
                (_, v) => v,
            };
            opts.push((o.key, value));
            continue;
        }
        if w.len() < 2 || !w.starts_with('-') {
            operands.push(w.clone());
            continue;
        }
        let body: Vec<char> = w[1..].chars().collect();
        let mut k = 0;
        while k < body.len() {
            let c = body[k];
            k += 1;
            let o = table
                .iter()
                .find(|o| o.short == Some(c))
                .ok_or_else(|| unknown(&format!("-{c}")))?;
            if o.arity == Arity::Value {
                let rest: String = body[k..].iter().collect();
                let value = if rest.is_empty() {
                    let v = args
                        .get(i)
                        .cloned()
                        .ok_or_else(|| format!("`{prog}`: `-{c}` needs a value"))?;
                    i += 1;
                    v
                } else {
                    rest
                };
                opts.push((o.key, Some(value)));
                break;
            }
            opts.push((o.key, None));
        }
    }
    Ok((opts, operands))
}

/// Stages read the previous stage's output: refuse file operands (`-` is stdin).
pub(crate) fn no_files(prog: &str, operands: &[String]) -> Result<(), String> {
    match operands.iter().find(|o| o.as_str() != "-") {
        None => Ok(()),
        Some(f) => Err(format!(
            "`{prog}` after `|` reads the command's output; the operand `{f}` is not allowed \
             (to read a file, make it part of the first command, e.g. `{prog} ... FILE`)"
        )),
    }
}

pub(crate) fn number(prog: &str, what: &str, v: &str) -> Result<usize, String> {
    v.parse::<usize>()
        .map_err(|_| format!("`{prog}`: {what} must be a whole number, got `{v}`"))
}

// ------------------------------------------------------------------------------------------
// head / tail

/// `head`/`tail` counts: lines or bytes, from the start or the end.
#[derive(Debug, Clone)]
pub struct Take {
    n: usize,
    bytes: bool,
    /// head `-n -N` (all but the last N), tail `-n +N` (from line N).
    inverted: bool,
}

impl Take {
    fn parse(prog: &str, args: &[String]) -> Result<Take, String> {
        let mut args = args.to_vec();
        // The historical `-20` form.
        if let Some(first) = args.first() {
            if first.len() > 1
                && first[1..].bytes().all(|b| b.is_ascii_digit())
                && first.starts_with('-')
            {
                args[0] = format!("-n{}", &first[1..]);
            }
        }
        let table = [
            opt('n', "lines", Arity::Value),
            opt('c', "bytes", Arity::Value),
            opt('q', "quiet", Arity::Flag),
            opt('v', "verbose", Arity::Flag),
        ];
        let (opts, operands) = parse_opts(prog, &args, &table)?;
        no_files(prog, &operands)?;
        let mut take = Take {
            n: 10,
            bytes: false,
            inverted: false,
        };
        for (k, v) in opts {
            let Some(v) = v else { continue };
            take.bytes = k == 'c';
            let sign = if prog == "head" { '-' } else { '+' };
            let digits = match v.strip_prefix(sign) {
                Some(d) => {
                    take.inverted = true;
                    d
                }
                None => {
                    take.inverted = false;
                    v.strip_prefix(if prog == "head" { '+' } else { '-' })
                        .unwrap_or(&v)
                }
            };
            take.n = number(prog, "the count", digits)?;
        }
        Ok(take)
    }

    fn head(&self, input: &str, out: &mut Out) {
        if self.bytes {
            let keep = if self.inverted {
                input.len().saturating_sub(self.n)
            } else {
                self.n.min(input.len())
            };
            out.buf.push_str(&input[..floor_char(input, keep)]);
            return;
        }
        let total = lines(input).count();
        let keep = if self.inverted {
            total.saturating_sub(self.n)
        } else {
            self.n
        };
        for l in lines(input).take(keep) {
            if !out.line(&[l]) {
                break;
            }
        }
    }

    fn tail(&self, input: &str, out: &mut Out) {
        if self.bytes {
            let from = if self.inverted {
                self.n.saturating_sub(1).min(input.len())
            } else {
                input.len().saturating_sub(self.n)
            };
            let mut from = from;
            while !input.is_char_boundary(from) {
                from += 1;
            }
            out.buf.push_str(&input[from..]);
            return;
        }
        let total = lines(input).count();
        let skip = if self.inverted {
            self.n.saturating_sub(1)
        } else {
            total.saturating_sub(self.n)
        };
        for l in lines(input).skip(skip) {
            if !out.line(&[l]) {
                break;
            }
        }
    }
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

// ------------------------------------------------------------------------------------------
// wc

/// `wc` counts: lines, words, characters, bytes (GNU's column order).
#[derive(Debug, Clone)]
pub struct Wc {
    lines: bool,
    words: bool,
    chars: bool,
    bytes: bool,
}

impl Wc {
    fn parse(args: &[String]) -> Result<Wc, String> {
        let table = [
            opt('l', "lines", Arity::Flag),
            opt('w', "words", Arity::Flag),
            opt('m', "chars", Arity::Flag),
            opt('c', "bytes", Arity::Flag),
        ];
        let (opts, operands) = parse_opts("wc", args, &table)?;
        no_files("wc", &operands)?;
        let has = |c| opts.iter().any(|(k, _)| *k == c);
        let mut wc = Wc {
            lines: has('l'),
            words: has('w'),
            chars: has('m'),
            bytes: has('c'),
        };
        if opts.is_empty() {
            (wc.lines, wc.words, wc.bytes) = (true, true, true);
        }
        Ok(wc)
    }

    fn apply(&self, input: &str, out: &mut Out) {
        let mut cols = Vec::new();
        if self.lines {
            cols.push(input.bytes().filter(|b| *b == b'\n').count());
        }
        if self.words {
            cols.push(input.split_ascii_whitespace().count());
        }
        if self.chars {
            cols.push(input.chars().count());
        }
        if self.bytes {
            cols.push(input.len());
        }
        let text = if cols.len() == 1 {
            cols[0].to_string()
        } else {
            cols.iter()
                .map(|c| format!("{c:>7}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        out.line(&[&text]);
    }
}

// ------------------------------------------------------------------------------------------
// uniq

/// `uniq` over adjacent lines: counts, only repeated, only unique, ignoring case or fields.
#[derive(Debug, Clone)]
pub struct Uniq {
    count: bool,
    repeated: bool,
    unique: bool,
    icase: bool,
    skip_fields: usize,
    skip_chars: usize,
}

impl Uniq {
    fn parse(args: &[String]) -> Result<Uniq, String> {
        let table = [
            opt('c', "count", Arity::Flag),
            opt('d', "repeated", Arity::Flag),
            opt('u', "unique", Arity::Flag),
            opt('i', "ignore-case", Arity::Flag),
            opt('f', "skip-fields", Arity::Value),
            opt('s', "skip-chars", Arity::Value),
        ];
        let (opts, operands) = parse_opts("uniq", args, &table)?;
        no_files("uniq", &operands)?;
        let mut u = Uniq {
            count: false,
            repeated: false,
            unique: false,
            icase: false,
            skip_fields: 0,
            skip_chars: 0,
        };
        for (k, v) in opts {
            match (k, v) {
                ('c', _) => u.count = true,
                ('d', _) => u.repeated = true,
                ('u', _) => u.unique = true,
                ('i', _) => u.icase = true,
                ('f', Some(v)) => u.skip_fields = number("uniq", "-f", &v)?,
                ('s', Some(v)) => u.skip_chars = number("uniq", "-s", &v)?,
                _ => {}
            }
        }
        Ok(u)
    }

    fn key<'a>(&self, line: &'a str) -> &'a str {
        let mut s = line;
        for _ in 0..self.skip_fields {
            s = s.trim_start_matches([' ', '\t']);
            s = s.trim_start_matches(|c| c != ' ' && c != '\t');
        }
        let skip = s
            .char_indices()
            .nth(self.skip_chars)
            .map_or(s.len(), |(i, _)| i);
        &s[skip..]
    }

    fn same(&self, a: &str, b: &str) -> bool {
        let (a, b) = (self.key(a), self.key(b));
        if self.icase {
            a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
        } else {
            a == b
        }
    }

    fn apply(&self, input: &str, out: &mut Out) {
        let mut group: Option<(&str, usize)> = None;
        let emit = |out: &mut Out, line: &str, n: usize| {
            if (self.repeated && n < 2) || (self.unique && n > 1) {
                return true;
            }
            if self.count {
                out.line(&[&format!("{n:>7} "), line])
            } else {
                out.line(&[line])
            }
        };
        for l in lines(input) {
            match group {
                Some((first, n)) if self.same(first, l) => group = Some((first, n + 1)),
                Some((first, n)) => {
                    if !emit(out, first, n) {
                        return;
                    }
                    group = Some((l, 1));
                }
                None => group = Some((l, 1)),
            }
        }
        if let Some((first, n)) = group {
            emit(out, first, n);
        }
    }
}

// ------------------------------------------------------------------------------------------
// cut

/// `cut -f`/`-c`/`-b` with a list of ranges.
#[derive(Debug, Clone)]
pub struct Cut {
    ranges: Vec<(usize, usize)>,
    fields: bool,
    delim: char,
    only_delimited: bool,
    complement: bool,
    out_delim: Option<String>,
}

impl Cut {
    fn parse(args: &[String]) -> Result<Cut, String> {
        let table = [
            opt('d', "delimiter", Arity::Value),
            opt('f', "fields", Arity::Value),
            opt('c', "characters", Arity::Value),
            opt('b', "bytes", Arity::Value),
            opt('s', "only-delimited", Arity::Flag),
            opt('!', "complement", Arity::Flag),
            opt('>', "output-delimiter", Arity::Value),
        ];
        let (opts, operands) = parse_opts("cut", args, &table)?;
        no_files("cut", &operands)?;
        let mut cut = Cut {
            ranges: Vec::new(),
            fields: false,
            delim: '\t',
            only_delimited: false,
            complement: false,
            out_delim: None,
        };
        let mut lists = 0;
        for (k, v) in opts {
            let v = v.unwrap_or_default();
            match k {
                'd' => {
                    let mut cs = v.chars();
                    cut.delim = match (cs.next(), cs.next()) {
                        (Some(c), None) => c,
                        _ => return Err(format!("`cut -d` takes one character, got `{v}`")),
                    };
                }
                'f' | 'c' | 'b' => {
                    lists += 1;
                    cut.fields = k == 'f';
                    cut.ranges = parse_list(&v)?;
                }
                's' => cut.only_delimited = true,
                '!' => cut.complement = true,
                '>' => cut.out_delim = Some(v),
                _ => {}
            }
        }
        if lists != 1 {
            return Err(
                "`cut` needs exactly one of -f LIST, -c LIST or -b LIST (e.g. `cut -d: -f1`)"
                    .into(),
            );
        }
        Ok(cut)
    }

    fn wanted(&self, i: usize) -> bool {
        self.ranges.iter().any(|(a, b)| (*a..=*b).contains(&i)) != self.complement
    }

    fn apply(&self, input: &str, out: &mut Out) {
        for l in lines(input) {
            let ok = if self.fields {
                if !l.contains(self.delim) {
                    if self.only_delimited {
                        continue;
                    }
                    out.line(&[l])
                } else {
                    let sep = match &self.out_delim {
                        Some(s) => s.clone(),
                        None => self.delim.to_string(),
                    };
                    let picked: Vec<&str> = l
                        .split(self.delim)
                        .enumerate()
                        .filter(|(i, _)| self.wanted(i + 1))
                        .map(|(_, f)| f)
                        .collect();
                    out.line(&[&picked.join(&sep)])
                }
            } else {
                let picked: String = l
                    .chars()
                    .enumerate()
                    .filter(|(i, _)| self.wanted(i + 1))
                    .map(|(_, c)| c)
                    .collect();
                out.line(&[&picked])
            };
            if !ok {
                return;
            }
        }
    }
}

/// `1,3-5,7-`: 1-based inclusive ranges.
fn parse_list(v: &str) -> Result<Vec<(usize, usize)>, String> {
    let bad = || format!("`cut`: invalid list `{v}`; use numbers and ranges like `1,3-5,7-`");
    let mut out = Vec::new();
    for part in v.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (
                if a.is_empty() {
                    1
                } else {
                    a.parse().map_err(|_| bad())?
                },
                if b.is_empty() {
                    usize::MAX
                } else {
                    b.parse().map_err(|_| bad())?
                },
            ),
            None => {
                let n = part.parse().map_err(|_| bad())?;
                (n, n)
            }
        };
        if a == 0 || b < a {
            return Err(bad());
        }
        out.push((a, b));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "pipeline/tests.rs"]
mod tests;
