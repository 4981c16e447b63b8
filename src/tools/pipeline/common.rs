//! What every stage shares: the typed errors ([`PipelineError`], [`PatternError`]), the lines
//! of a text, the bounded output ([`Out`]) and GNU-style option parsing ([`parse_opts`]).
//! `pipeline.rs` and each stage module import from here; nothing here imports a stage.
use crate::policy::CommandLineError;
use crate::tools::types::ArgsError;

use super::awk::AwkError;
use super::sed::SedError;

/// The stages tai applies itself, for the error that names an unsupported one.
pub(super) const SUPPORTED: &str =
    "grep, sort, uniq, head, tail, wc, cut, tr, column -t, tac, cat, simple sed \
     (s///, p, d, q) and simple awk '{print $N}'";

/// Why a `run_command` line with `| STAGE`s was refused. Every variant is an argument
/// problem the model can fix and retry (nothing ran): the text says what to write instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PipelineError {
    /// The command before the first `|` uses shell syntax.
    #[error(transparent)]
    Command(#[from] CommandLineError),
    /// A stage's words use shell syntax.
    #[error("in the stage `{stage}`: {source}")]
    StageWords {
        stage: String,
        source: CommandLineError,
    },
    #[error(
        "`||` is not supported: tai runs one command and applies `| STAGE` filters itself; run \
         each command as its own call"
    )]
    OrList,
    #[error("`|&` is not supported: stages read stdout only")]
    PipeStderr,
    #[error("a line may not start with `|`: give the command first, e.g. `ss -tan | wc -l`")]
    LeadingPipe,
    #[error("empty stage after `|`: write a filter after each `|`, e.g. `| sort | uniq -c`")]
    EmptyStage,
    #[error("too many stages: at most 16 `|` stages per command")]
    TooManyStages,
    #[error(
        "`{program}` is not a supported stage after `|`: tai applies only {SUPPORTED} to the \
         command's output itself, and runs nothing else; run `{program}` as its own command if \
         the policy allows it"
    )]
    UnsupportedStage { program: String },
    #[error(
        "`{program}` after `|` takes no options or files here: tai shows the whole output anyway"
    )]
    TakesNoArguments { program: String },
    #[error("`{stage}` after `|` does not support `{option}`; supported options: {supported}")]
    UnknownOption {
        stage: String,
        option: String,
        supported: String,
    },
    #[error("`{stage}`: `{option}` takes no value")]
    UnexpectedValue { stage: String, option: String },
    #[error("`{stage}`: `{option}` needs a value")]
    MissingValue { stage: String, option: String },
    #[error("`{stage}`: {what} must be a whole number, got `{value}`")]
    NotANumber {
        stage: String,
        what: String,
        value: String,
    },
    #[error(
        "`{stage}` after `|` reads the command's output; the operand `{operand}` is not allowed \
         (to read a file, make it part of the first command, e.g. `{stage} ... FILE`)"
    )]
    FileOperand { stage: String, operand: String },
    /// A stage needs an operand the line does not give (`grep` without a pattern).
    #[error("`{stage}` after `|` needs {what}{help}")]
    Missing {
        stage: &'static str,
        what: &'static str,
        help: &'static str,
    },
    /// An option value that must be one character (`sort -t`, `cut -d`).
    #[error("`{stage} -{option}` takes one character, got `{value}`")]
    OneCharacter {
        stage: &'static str,
        option: char,
        value: String,
    },
    /// A grep/sed/awk pattern that cannot be translated or compiled.
    #[error(transparent)]
    Pattern(#[from] PatternError),
    #[error(
        "`grep -P` (Perl regex) is not supported after `|`: use -E (extended regex; \\w \\s \\b \
         and \\d work)"
    )]
    GrepPerl,
    #[error(
        "`sort -k {key}`: {problem}; use -k N[,M] with optional letters b f h n r, e.g. -k2,2nr"
    )]
    SortKey {
        key: String,
        problem: SortKeyProblem,
    },
    #[error("`cut`: invalid list `{list}`; use numbers and ranges like `1,3-5,7-`")]
    CutList { list: String },
    #[error("`cut` needs exactly one of -f LIST, -c LIST or -b LIST (e.g. `cut -d: -f1`)")]
    CutLists,
    #[error(
        "`tr` after `|` takes SET1 [SET2] with -d, -s, -c (e.g. `tr -s ' '`, `tr -d '\\r'`, \
         `tr a-z A-Z`); it reads the command's output, never files"
    )]
    TrUsage,
    #[error("`tr`: bad octal escape in `{set}`")]
    TrOctal { set: String },
    #[error("`tr`: unterminated class in `{set}`")]
    TrUnterminatedClass { set: String },
    #[error("`tr`: unknown class [:{name}:]")]
    TrUnknownClass { name: String },
    #[error("`tr`: repeat sets like [c*n] are not supported")]
    TrRepeat,
    #[error("`tr`: range `{lo}-{hi}` is in reverse order")]
    TrReversedRange { lo: char, hi: char },
    #[error("`tr`: range `{lo}-{hi}` is too large")]
    TrHugeRange { lo: char, hi: char },
    #[error("`tr`: SET2 may not be empty")]
    TrEmptySet2,
    #[error("`column` after `|` supports only -t (with -s SEP, -o OUTSEP)")]
    ColumnTable,
    #[error("sed script `{script}`: {source}. {help}", help = super::sed::SUPPORTED)]
    Sed { script: String, source: SedError },
    #[error("awk program `{program}`: {source}. {help}", help = super::awk::SUPPORTED)]
    Awk { program: String, source: AwkError },
    /// An option problem of `sed` or `awk`, followed by what the stage supports.
    #[error("{source}. {help}")]
    WithHelp {
        source: Box<PipelineError>,
        help: &'static str,
    },
}

impl From<PipelineError> for ArgsError {
    fn from(e: PipelineError) -> ArgsError {
        ArgsError::Command(Box::new(e))
    }
}

/// What is wrong with a `sort -k` key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SortKeyProblem {
    #[error("character positions (.C) are not supported")]
    CharacterPositions,
    #[error("unknown ordering letter `{0}`")]
    UnknownLetter(char),
    #[error("fields are numbered from 1")]
    FromOne,
    #[error("the end field is before the start field")]
    EndBeforeStart,
}

/// A POSIX pattern (grep, sed, awk) tai cannot take: refused with what to write instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("pattern `{pattern}`: {problem}")]
pub struct PatternError {
    pub pattern: String,
    pub problem: PatternProblem,
}

/// What is wrong with a pattern.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatternProblem {
    #[error("ends with a lone `\\`")]
    LoneBackslash,
    #[error("`\\{{` without `\\}}`")]
    UnclosedInterval,
    #[error("invalid interval `\\{{{0}\\}}`")]
    BadInterval(String),
    #[error("backreferences (`\\{0}`) are not supported")]
    Backreference(char),
    #[error(
        "unsupported escape `\\{0}` (supported: \\w \\W \\s \\S \\b \\B \\< \\> \\d and escaped \
         punctuation)"
    )]
    UnsupportedEscape(char),
    #[error("unmatched `(`")]
    UnmatchedParen,
    #[error("`[` without a closing `]`")]
    UnclosedBracket,
    #[error(
        "`[{kind}{name}{kind}]` is not supported; use a class like [:alpha:] [:digit:] [:space:]"
    )]
    UnsupportedClass { kind: char, name: String },
    #[error("invalid range `{lo}-{hi}`")]
    BadRange { lo: char, hi: char },
    /// The translated pattern does not compile (or is too large).
    #[error("{0}")]
    Compile(#[from] regex::Error),
}

impl PatternError {
    pub(super) fn new(pattern: &str, problem: PatternProblem) -> PatternError {
        PatternError {
            pattern: pattern.to_string(),
            problem,
        }
    }
}

/// The lines of `text` without their `\n` (a final line without `\n` counts).
pub(crate) fn lines(text: &str) -> impl Iterator<Item = &str> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    body.split('\n')
        .take(if text.is_empty() { 0 } else { usize::MAX })
}

/// A stage's output, bounded by its input size plus a small per-line overhead.
pub(crate) struct Out {
    pub(super) buf: String,
    limit: usize,
    cut: bool,
}

impl Out {
    pub(super) fn new(input_len: usize, input_lines: usize) -> Out {
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

    pub(super) fn finish(mut self) -> String {
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

pub(crate) fn parse_opts(
    prog: &str,
    args: &[String],
    table: &[Opt],
) -> Result<Parsed, PipelineError> {
    let unknown = |o: &str| PipelineError::UnknownOption {
        stage: prog.to_string(),
        option: o.to_string(),
        supported: table
            .iter()
            .map(|o| match (o.short, o.long) {
                (Some(s), _) => format!("-{s}"),
                (None, Some(l)) => format!("--{l}"),
                (None, None) => String::new(),
            })
            .collect::<Vec<_>>()
            .join(" "),
    };
    let missing = |option: String| PipelineError::MissingValue {
        stage: prog.to_string(),
        option,
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
                    return Err(PipelineError::UnexpectedValue {
                        stage: prog.to_string(),
                        option: format!("--{name}"),
                    })
                }
                (Arity::Value, None) => Some(
                    args.get(i)
                        .cloned()
                        .ok_or_else(|| missing(format!("--{name}")))
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
                        .ok_or_else(|| missing(format!("-{c}")))?;
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
pub(crate) fn no_files(prog: &str, operands: &[String]) -> Result<(), PipelineError> {
    match operands.iter().find(|o| o.as_str() != "-") {
        None => Ok(()),
        Some(f) => Err(PipelineError::FileOperand {
            stage: prog.to_string(),
            operand: f.clone(),
        }),
    }
}

/// A whole-number option value (`head -n 5`, `grep -m 3`).
pub(crate) fn number(prog: &str, what: &str, v: &str) -> Result<usize, PipelineError> {
    v.parse::<usize>().map_err(|_| PipelineError::NotANumber {
        stage: prog.to_string(),
        what: what.to_string(),
        value: v.to_string(),
    })
}
