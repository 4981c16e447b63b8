//! Local pipelines for `run_command`: `CMD | grep PAT | sort | uniq -c | sort -rn | head`.
//! Only `CMD` runs on the host (one argv, through the policy like any command); the stages
//! after it are parsed here and applied by tai itself, in Rust, to the captured (redacted,
//! capped) stdout. No stage program ever runs on the host, so a stage cannot write, execute
//! or read anything: it only transforms text tai already holds.
//!
//! # API (also used by the policy corpus test)
//!
//! ```text
//! pub fn split_pipeline(line: &str) -> Result<(Vec<String>, Vec<Stage>), PipelineError>
//! ```
//! Splits `line` on unquoted `|` (quotes and backslashes respected: `grep -E 'a|b'` is one
//! word). The first segment goes through [`crate::policy::split_command_line`] and comes back
//! as the argv to judge with the policy and run on the host; every later segment is parsed
//! into a [`Stage`]. `Err` ([`PipelineError`], a message for the model) for `||`, `|&`, an empty segment, shell
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
//! This module only splits the line and dispatches to the stages; what they share (errors,
//! lines, bounded output, option parsing) lives in [`common`].
use super::types::{CallStatus, CommandRecord};
use crate::policy::{quote, split_command_line};

pub mod awk;
pub mod common;
pub mod grep;
mod printf;
pub mod sed;
pub mod sort;
pub mod text;
pub mod tr;

use common::{lines, Out};
pub use common::{PatternError, PatternProblem, PipelineError, SortKeyProblem};
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

/// Split a command line into the host command and the stages tai applies (see module docs).
pub fn split_pipeline(line: &str) -> Result<(Vec<String>, Vec<Stage>), PipelineError> {
    let segments = split_segments(line)?;
    let mut segments = segments.into_iter();
    let first = segments.next().unwrap_or_default();
    let argv = split_command_line(first)?;
    let mut stages = Vec::new();
    for seg in segments {
        let words = split_command_line(seg).map_err(|source| PipelineError::StageWords {
            stage: seg.trim().to_string(),
            source,
        })?;
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
fn split_segments(line: &str) -> Result<Vec<&str>, PipelineError> {
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
                Some(b'|') => return Err(PipelineError::OrList),
                Some(b'&') => return Err(PipelineError::PipeStderr),
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
                PipelineError::LeadingPipe
            } else {
                PipelineError::EmptyStage
            });
        }
        if out.len() > 17 {
            return Err(PipelineError::TooManyStages);
        }
    }
    Ok(out)
}

impl Stage {
    fn parse(words: Vec<String>) -> Result<Stage, PipelineError> {
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
                return Err(PipelineError::TakesNoArguments {
                    program: words[0].clone(),
                })
            }
            "cat" | "less" | "more" => Kind::Same,
            "tac" => Kind::Tac,
            other => {
                return Err(PipelineError::UnsupportedStage {
                    program: other.to_string(),
                })
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

#[cfg(test)]
#[path = "pipeline/tests.rs"]
mod tests;
