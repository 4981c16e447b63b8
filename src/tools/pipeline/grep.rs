//! The `grep` stage, and the translation of POSIX basic (BRE) and extended (ERE) regular
//! expressions into the `regex` crate's syntax (also used by the `awk` stage). The `regex`
//! crate matches in linear time, so no pattern can make tai spin.
use regex::{Regex, RegexBuilder};

use super::common::{
    no_files, number, opt, parse_opts, Arity, Out, PatternError, PatternProblem, PipelineError,
};

/// A parsed `grep` stage.
#[derive(Debug, Clone)]
pub struct Grep {
    re: Regex,
    invert: bool,
    count: bool,
    only: bool,
    numbers: bool,
    word: bool,
    max: Option<usize>,
    before: usize,
    after: usize,
}

impl Grep {
    pub(super) fn parse(args: &[String], extended: bool) -> Result<Grep, PipelineError> {
        let table = [
            opt('v', "invert-match", Arity::Flag),
            opt('i', "ignore-case", Arity::Flag),
            opt('y', "", Arity::Flag),
            opt('c', "count", Arity::Flag),
            opt('E', "extended-regexp", Arity::Flag),
            opt('F', "fixed-strings", Arity::Flag),
            opt('G', "basic-regexp", Arity::Flag),
            opt('w', "word-regexp", Arity::Flag),
            opt('x', "line-regexp", Arity::Flag),
            opt('o', "only-matching", Arity::Flag),
            opt('n', "line-number", Arity::Flag),
            opt('a', "text", Arity::Flag),
            opt('h', "no-filename", Arity::Flag),
            opt('s', "no-messages", Arity::Flag),
            opt('#', "line-buffered", Arity::Flag),
            opt('m', "max-count", Arity::Value),
            opt('e', "regexp", Arity::Value),
            opt('A', "after-context", Arity::Value),
            opt('B', "before-context", Arity::Value),
            opt('C', "context", Arity::Value),
            opt('P', "perl-regexp", Arity::Flag),
            opt('%', "color", Arity::Optional),
            opt('&', "colour", Arity::Optional),
        ];
        let (opts, mut operands) = parse_opts("grep", args, &table)?;
        let mut g = Grep {
            re: Regex::new("").expect("empty regex"),
            invert: false,
            count: false,
            only: false,
            numbers: false,
            word: false,
            max: None,
            before: 0,
            after: 0,
        };
        let (mut ere, mut fixed, mut icase, mut line) = (extended, false, false, false);
        let mut patterns = Vec::new();
        for (k, v) in opts {
            let v = v.unwrap_or_default();
            match k {
                'v' => g.invert = true,
                'i' | 'y' => icase = true,
                'c' => g.count = true,
                'E' => (ere, fixed) = (true, false),
                'F' => fixed = true,
                'G' => (ere, fixed) = (false, false),
                'w' => g.word = true,
                'x' => line = true,
                'o' => g.only = true,
                'n' => g.numbers = true,
                'm' => g.max = Some(number("grep", "-m", &v)?),
                'e' => patterns.push(v),
                'A' => g.after = number("grep", "-A", &v)?,
                'B' => g.before = number("grep", "-B", &v)?,
                'C' => (g.before, g.after) = (number("grep", "-C", &v)?, number("grep", "-C", &v)?),
                'P' => return Err(PipelineError::GrepPerl),
                _ => {}
            }
        }
        if patterns.is_empty() {
            if operands.is_empty() {
                return Err(PipelineError::Missing {
                    stage: "grep",
                    what: "a pattern",
                    help: ", e.g. `| grep -i error`",
                });
            }
            patterns.push(operands.remove(0));
        }
        no_files("grep", &operands)?;
        let mut alts = Vec::new();
        for p in &patterns {
            let re = if fixed {
                regex::escape(p)
            } else {
                translate(p, ere)?
            };
            alts.push(format!("(?:{re})"));
        }
        let mut re = alts.join("|");
        if line {
            re = format!("^(?:{re})$");
        }
        g.re = compile(&re, icase)
            .map_err(|e| PatternError::new(&patterns.join("` or `"), e.into()))?;
        Ok(g)
    }

    /// Where the pattern matches in `line` (as GNU grep: with -w, only matches with non-word
    /// characters or the line's ends on both sides).
    fn matches(&self, line: &str) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        let mut pos = 0;
        // Bounded work: a -w pattern refused at many starts of one long line gives up after
        // 64 refusals (each search may scan to the end of the line).
        let mut refused = 0;
        while pos <= line.len() && refused < 64 {
            let Some(m) = self.re.find_at(line, pos) else {
                break;
            };
            let ok = !self.word
                || (!line[..m.start()].chars().next_back().is_some_and(is_word)
                    && !line[m.end()..].chars().next().is_some_and(is_word));
            if ok {
                found.push((m.start(), m.end()));
                if !self.only {
                    break;
                }
            } else {
                refused += 1;
            }
            // Continue after this match, or one character later for empty/refused matches.
            pos = if ok && m.end() > m.start() {
                m.end()
            } else {
                m.start() + line[m.start()..].chars().next().map_or(1, char::len_utf8)
            };
        }
        found
    }

    pub(super) fn apply(&self, input: &str, out: &mut Out) {
        let all: Vec<&str> = super::common::lines(input).collect();
        let context = !self.count && !self.only && (self.before > 0 || self.after > 0);
        let mut selected = 0usize;
        let mut last_printed: Option<usize> = None;
        let mut after_left = 0usize;
        for (i, line) in all.iter().enumerate() {
            if self.max.is_some_and(|m| selected >= m) {
                if context && after_left > 0 {
                    after_left -= 1;
                    if !self.print(out, i, line, '-', &mut last_printed) {
                        return;
                    }
                    continue;
                }
                break;
            }
            let spans = self.matches(line);
            if spans.is_empty() == self.invert {
                selected += 1;
                if self.count {
                    continue;
                }
                if self.only {
                    if self.invert {
                        continue;
                    }
                    for (a, b) in spans.into_iter().filter(|(a, b)| b > a) {
                        let n = format!("{}:", i + 1);
                        let prefix = if self.numbers { n.as_str() } else { "" };
                        if !out.line(&[prefix, &line[a..b]]) {
                            return;
                        }
                    }
                    continue;
                }
                if context {
                    let from = i.saturating_sub(self.before);
                    let from = last_printed.map_or(from, |p| from.max(p + 1));
                    for (j, l) in all.iter().enumerate().take(i).skip(from) {
                        if !self.print(out, j, l, '-', &mut last_printed) {
                            return;
                        }
                    }
                    after_left = self.after;
                }
                if !self.print(out, i, line, ':', &mut last_printed) {
                    return;
                }
            } else if context && after_left > 0 {
                after_left -= 1;
                if !self.print(out, i, line, '-', &mut last_printed) {
                    return;
                }
            }
        }
        if self.count {
            out.line(&[&selected.to_string()]);
        }
    }

    /// Print one line (with `N:`/`N-` under -n, `--` between context groups).
    fn print(
        &self,
        out: &mut Out,
        i: usize,
        line: &str,
        mark: char,
        last: &mut Option<usize>,
    ) -> bool {
        if (self.before > 0 || self.after > 0)
            && last.is_some_and(|p| i > p + 1)
            && !out.line(&["--"])
        {
            return false;
        }
        *last = Some(i);
        if self.numbers {
            out.line(&[&format!("{}{mark}", i + 1), line])
        } else {
            out.line(&[line])
        }
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Compile a translated pattern with tai's size limits.
pub(crate) fn compile(re: &str, icase: bool) -> Result<Regex, regex::Error> {
    RegexBuilder::new(re)
        .case_insensitive(icase)
        .size_limit(1 << 22)
        .dfa_size_limit(1 << 22)
        .build()
}

const CLASSES: &[&str] = &[
    "alpha", "digit", "alnum", "upper", "lower", "space", "blank", "punct", "print", "graph",
    "cntrl", "xdigit",
];

/// Translate a POSIX BRE (`extended = false`, GNU extensions `\+ \? \|` included) or ERE into
/// `regex` syntax. Backreferences and collating elements are refused with a message.
pub fn translate(pat: &str, extended: bool) -> Result<String, PatternError> {
    let bad = |problem| PatternError::new(pat, problem);
    let cs: Vec<char> = pat.chars().collect();
    let mut out = String::with_capacity(pat.len() + 8);
    let mut at_start = true;
    let mut depth = 0usize;
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        i += 1;
        let was_start = at_start;
        at_start = false;
        match c {
            '\\' => {
                let Some(&d) = cs.get(i) else {
                    return Err(bad(PatternProblem::LoneBackslash));
                };
                i += 1;
                match d {
                    '(' if !extended => {
                        out.push('(');
                        depth += 1;
                        at_start = true;
                    }
                    ')' if !extended && depth > 0 => {
                        out.push(')');
                        depth -= 1;
                    }
                    '|' if !extended => {
                        out.push('|');
                        at_start = true;
                    }
                    '{' if !extended && !was_start => {
                        let end = (i..cs.len().saturating_sub(1))
                            .find(|&k| cs[k] == '\\' && cs[k + 1] == '}')
                            .ok_or_else(|| bad(PatternProblem::UnclosedInterval))?;
                        let body: String = cs[i..end].iter().collect();
                        out.push_str(
                            &interval(&body)
                                .ok_or_else(|| bad(PatternProblem::BadInterval(body.clone())))?,
                        );
                        i = end + 2;
                    }
                    '+' | '?' if !extended && !was_start => out.push(d),
                    '1'..='9' => return Err(bad(PatternProblem::Backreference(d))),
                    'w' | 'W' | 's' | 'S' | 'b' | 'B' => {
                        out.push('\\');
                        out.push(d);
                    }
                    '<' => out.push_str(r"\b{start}"),
                    '>' => out.push_str(r"\b{end}"),
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    c if c.is_alphanumeric() => {
                        return Err(bad(PatternProblem::UnsupportedEscape(c)))
                    }
                    c => push_literal(&mut out, c),
                }
            }
            '[' => i = bracket(&cs, i, &mut out, pat)?,
            '*' if was_start => out.push_str(r"\*"),
            '*' => out.push('*'),
            '+' | '?' if extended && !was_start => out.push(c),
            '{' if extended && !was_start => {
                let close = cs[i..].iter().position(|&x| x == '}').map(|p| i + p);
                let body: Option<String> = close.map(|e| cs[i..e].iter().collect());
                match body.as_deref().and_then(interval) {
                    Some(iv) => {
                        out.push_str(&iv);
                        i = close.unwrap_or(i) + 1;
                    }
                    None => out.push_str(r"\{"),
                }
            }
            '(' if extended => {
                out.push('(');
                depth += 1;
                at_start = true;
            }
            ')' if extended && depth > 0 => {
                out.push(')');
                depth -= 1;
            }
            '|' if extended => {
                out.push('|');
                at_start = true;
            }
            '^' if extended || was_start => {
                out.push('^');
                at_start = true;
            }
            '$' if extended
                || i == cs.len()
                || (cs.get(i) == Some(&'\\') && matches!(cs.get(i + 1), Some(')') | Some('|'))) =>
            {
                out.push('$')
            }
            '.' => out.push('.'),
            c => push_literal(&mut out, c),
        }
    }
    if depth > 0 {
        return Err(bad(PatternProblem::UnmatchedParen));
    }
    Ok(out)
}

fn push_literal(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    out.push_str(&regex::escape(c.encode_utf8(&mut buf)));
}

/// `n`, `n,`, `n,m`, `,m` → a `regex` repetition.
fn interval(body: &str) -> Option<String> {
    let digits = |s: &str| s.is_empty() || s.bytes().all(|b| b.is_ascii_digit());
    let (a, b) = match body.split_once(',') {
        Some((a, b)) => (a, Some(b)),
        None => (body, None),
    };
    if !digits(a) || !b.is_none_or(digits) || (a.is_empty() && b.is_none()) {
        return None;
    }
    let a = if a.is_empty() { "0" } else { a };
    Some(match b {
        None => format!("{{{a}}}"),
        Some(b) => format!("{{{a},{b}}}"),
    })
}

/// Translate the bracket expression starting after `[` at `i`; returns the index after `]`.
fn bracket(cs: &[char], mut i: usize, out: &mut String, pat: &str) -> Result<usize, PatternError> {
    let unterminated = || PatternError::new(pat, PatternProblem::UnclosedBracket);
    out.push('[');
    if cs.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let esc = |out: &mut String, c: char| {
        if "\\[]^-&~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    };
    let mut first = true;
    loop {
        let c = *cs.get(i).ok_or_else(unterminated)?;
        if c == ']' && !first {
            out.push(']');
            return Ok(i + 1);
        }
        first = false;
        if c == '[' && matches!(cs.get(i + 1), Some(':') | Some('=') | Some('.')) {
            let kind = cs[i + 1];
            let end = (i + 2..cs.len().saturating_sub(1))
                .find(|&k| cs[k] == kind && cs[k + 1] == ']')
                .ok_or_else(unterminated)?;
            let name: String = cs[i + 2..end].iter().collect();
            if kind != ':' || !CLASSES.contains(&name.as_str()) {
                return Err(PatternError::new(
                    pat,
                    PatternProblem::UnsupportedClass { kind, name },
                ));
            }
            out.push_str(&format!("[:{name}:]"));
            i = end + 2;
            continue;
        }
        i += 1;
        if cs.get(i) == Some(&'-') && cs.get(i + 1).is_some_and(|&h| h != ']') {
            let hi = cs[i + 1];
            if hi < c {
                return Err(PatternError::new(
                    pat,
                    PatternProblem::BadRange { lo: c, hi },
                ));
            }
            esc(out, c);
            out.push('-');
            esc(out, hi);
            i += 2;
        } else {
            esc(out, c);
        }
    }
}
