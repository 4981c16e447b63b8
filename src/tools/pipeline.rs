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
//! `cut` ([`text`]), `tr` and `column -t` ([`tr`]), `tac`, `cat` (and `less`/`more`: the text
//! unchanged), and small `sed` ([`sed`]) and `awk` ([`awk`]) subsets. Output bound: a stage
//! writes at most its input plus a small overhead (line prefixes such as `uniq -c` counts),
//! then stops with a note. [`annotate`] marks the command record: `ss -tan  | sort | uniq -c
//! (stages applied by tai)`, with a note when the host output was capped before the stages.
use super::types::{CallStatus, CommandRecord};
use crate::policy::{quote, split_command_line};

pub mod awk;
pub mod grep;
mod printf;
pub mod sed;
pub mod sort;
pub mod text;
pub mod tr;

use text::{Cut, Take, Uniq, Wc};

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
    Tr(tr::Tr),
    Sed(sed::Sed),
    Column(tr::Column),
    /// `cat`, `less`, `more` without arguments: the text unchanged.
    Same,
    /// `tac`: the lines in reverse order.
    Tac,
}

const SUPPORTED: &str =
    "grep, sort, uniq, head, tail, wc, cut, tr, column -t, tac, cat, simple sed \
     (s///, p, d, q) and simple awk '{print $N}'";

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

/// Mark the command record of a pipeline: what ran on the host, the stages tai applied, and
/// a note when the host output was capped before the stages saw it.
pub fn annotate(records: &mut [CommandRecord], stages: &[Stage]) {
    if stages.is_empty() {
        return;
    }
    let Some(r) = records.last_mut() else {
        return;
    };
    if r.status == CallStatus::Denied {
        return;
    }
    r.command = format!(
        "{} {}  (stages applied by tai)",
        r.command,
        describe(stages)
    );
    if r.truncated > 0 {
        let note = format!(
            "the stages ran on the captured output only: {} bytes were cut from the middle \
             before tai applied them, so counts and sorts cover only what was captured; \
             narrow the command itself (e.g. journalctl -g, grep on the file)",
            r.truncated
        );
        r.note = Some(match r.note.take() {
            Some(n) => format!("{n}; {note}"),
            None => note,
        });
    }
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
            "tr" => Kind::Tr(tr::Tr::parse(args)?),
            "sed" => Kind::Sed(sed::Sed::parse(args)?),
            "column" => Kind::Column(tr::Column::parse(args)?),
            "tac" | "cat" | "less" | "more" if !args.is_empty() => {
                return Err(format!(
                    "`{}` after `|` takes no options or files here: tai shows the whole output \
                     anyway",
                    words[0]
                ))
            }
            "cat" | "less" | "more" => Kind::Same,
            "tac" => Kind::Tac,
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
            Kind::Tr(t) => t.apply(input, &mut out),
            Kind::Sed(s) => s.apply(input, &mut out),
            Kind::Column(c) => c.apply(input, &mut out),
            Kind::Same => out.raw(input),
            Kind::Tac => {
                let all: Vec<&str> = lines(input).collect();
                for l in all.into_iter().rev() {
                    if !out.line(&[l]) {
                        break;
                    }
                }
            }
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

    /// Append text as is, up to the bound.
    pub(crate) fn raw(&mut self, s: &str) {
        let room = self.limit.saturating_sub(self.buf.len());
        if s.len() > room {
            self.cut = true;
        }
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf.push_str(&s[..n]);
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

#[cfg(test)]
#[path = "pipeline/tests.rs"]
mod tests;
