//! The `sed` stage: the editing subset typed after a pipe, evaluated by tai (no sed runs, so
//! `w`, `r`, `e` and friends do not exist here). `sed [-n] [-E|-r] [-e] SCRIPT` where SCRIPT is
//! `;`-separated commands `[ADDR[,ADDR]][!]CMD`: ADDR is `N`, `$` or `/RE/`; CMD is
//! `s/RE/REPL/[g][p][i][N]` (any delimiter; `&` and `\1`-`\9` in REPL), `p`, `d` or `q`.
use regex::Regex;

use super::common::{no_files, opt, parse_opts, Arity, Out, PatternError, PipelineError};
use super::grep::{compile, translate};

/// What the `sed` stage supports, appended to its errors.
pub(super) const SUPPORTED: &str = "sed after `|` supports [-n] [-E] 'SCRIPT' with `;`-separated \
    [ADDR[,ADDR]][!]CMD: ADDR is N, $ or /re/; CMD is s/re/repl/[gpiN], p, d or q";

/// Why a sed script was refused (shown as `sed script `S`: ERROR. SUPPORTED`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SedError {
    #[error("expected an address after `,`")]
    MissingAddress,
    #[error("missing command")]
    MissingCommand,
    #[error("command `{0}` is not supported")]
    UnsupportedCommand(char),
    #[error("unexpected `{0}` after a command")]
    Trailing(char),
    #[error("bad line number `{0}`")]
    LineNumber(String),
    #[error("missing closing `{0}`")]
    Unclosed(char),
    #[error("a lone `\\` at the end")]
    LoneBackslash,
    #[error("s needs a delimiter")]
    NoDelimiter,
    #[error("`{0}` cannot delimit s///")]
    BadDelimiter(char),
    #[error("s///Ng (replace from the Nth match on) is not supported")]
    NthGlobal,
    #[error(transparent)]
    Pattern(#[from] PatternError),
}

#[derive(Debug, Clone)]
enum Addr {
    Line(usize),
    Last,
    Re(Regex),
}

#[derive(Debug, Clone)]
enum Cmd {
    Subst {
        re: Regex,
        repl: String,
        global: bool,
        nth: usize,
        print: bool,
    },
    Print,
    Delete,
    Quit,
}

#[derive(Debug, Clone)]
struct Command {
    from: Option<Addr>,
    to: Option<Addr>,
    negate: bool,
    cmd: Cmd,
}

/// A parsed `sed` stage.
#[derive(Debug, Clone)]
pub struct Sed {
    quiet: bool,
    cmds: Vec<Command>,
}

impl Sed {
    pub(super) fn parse(args: &[String]) -> Result<Sed, PipelineError> {
        let table = [
            opt('n', "quiet", Arity::Flag),
            opt('E', "regexp-extended", Arity::Flag),
            opt('r', "", Arity::Flag),
            opt('e', "expression", Arity::Value),
            opt('u', "unbuffered", Arity::Flag),
        ];
        let (opts, mut operands) =
            parse_opts("sed", args, &table).map_err(|e| PipelineError::WithHelp {
                source: Box::new(e),
                help: SUPPORTED,
            })?;
        let quiet = opts.iter().any(|(k, _)| *k == 'n');
        let ere = opts.iter().any(|(k, _)| *k == 'E' || *k == 'r');
        let mut scripts: Vec<String> = opts
            .iter()
            .filter(|(k, _)| *k == 'e')
            .filter_map(|(_, v)| v.clone())
            .collect();
        if scripts.is_empty() {
            if operands.is_empty() {
                return Err(PipelineError::Missing {
                    stage: "sed",
                    what: "a script. ",
                    help: SUPPORTED,
                });
            }
            scripts.push(operands.remove(0));
        }
        no_files("sed", &operands)?;
        let mut cmds = Vec::new();
        for s in &scripts {
            let mut p = Parser {
                cs: s.chars().collect(),
                i: 0,
                ere,
            };
            p.script(&mut cmds).map_err(|source| PipelineError::Sed {
                script: s.clone(),
                source,
            })?;
        }
        Ok(Sed { quiet, cmds })
    }

    pub(super) fn apply(&self, input: &str, out: &mut Out) {
        let all: Vec<&str> = super::common::lines(input).collect();
        let last = all.len();
        // Per command: inside an active range.
        let mut active = vec![false; self.cmds.len()];
        for (i, line) in all.iter().enumerate() {
            let n = i + 1;
            let mut text = line.to_string();
            let mut deleted = false;
            let mut quit = false;
            for (k, c) in self.cmds.iter().enumerate() {
                let hit = |a: &Addr, t: &str| match a {
                    Addr::Line(x) => *x == n,
                    Addr::Last => n == last,
                    Addr::Re(re) => re.is_match(t),
                };
                let selected = match (&c.from, &c.to) {
                    (None, _) => true,
                    (Some(a), None) => hit(a, &text),
                    (Some(a), Some(b)) => {
                        if active[k] {
                            let end = match b {
                                Addr::Line(x) => n >= *x,
                                _ => hit(b, &text),
                            };
                            active[k] = !end;
                            true
                        } else if hit(a, &text) {
                            active[k] = match b {
                                Addr::Line(x) => n < *x,
                                _ => true,
                            };
                            true
                        } else {
                            false
                        }
                    }
                };
                if selected == c.negate {
                    continue;
                }
                match &c.cmd {
                    Cmd::Print => {
                        if !out.line(&[&text]) {
                            return;
                        }
                    }
                    Cmd::Delete => {
                        deleted = true;
                        break;
                    }
                    Cmd::Quit => {
                        quit = true;
                        break;
                    }
                    Cmd::Subst {
                        re,
                        repl,
                        global,
                        nth,
                        print,
                    } => {
                        let (new, changed) = substitute(re, repl, &text, *global, *nth);
                        text = new;
                        if changed && *print && !out.line(&[&text]) {
                            return;
                        }
                    }
                }
            }
            if !deleted && !self.quiet && !out.line(&[&text]) {
                return;
            }
            if quit {
                return;
            }
        }
    }
}

/// Replace the `nth` match (1-based), or it and every later one with `global`.
fn substitute(re: &Regex, repl: &str, text: &str, global: bool, nth: usize) -> (String, bool) {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut changed = false;
    for (k, caps) in re.captures_iter(text).enumerate() {
        let m = caps.get(0).expect("group 0");
        if k + 1 < nth {
            continue;
        }
        out.push_str(&text[last..m.start()]);
        caps.expand(repl, &mut out);
        last = m.end();
        changed = true;
        if !global {
            break;
        }
    }
    out.push_str(&text[last..]);
    (out, changed)
}

struct Parser {
    cs: Vec<char>,
    i: usize,
    ere: bool,
}

impl Parser {
    fn ws(&mut self) {
        while self.cs.get(self.i).is_some_and(|c| c.is_whitespace()) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<char> {
        self.cs.get(self.i).copied()
    }

    fn script(&mut self, cmds: &mut Vec<Command>) -> Result<(), SedError> {
        loop {
            self.ws();
            while self.peek() == Some(';') {
                self.i += 1;
                self.ws();
            }
            if self.peek().is_none() {
                return Ok(());
            }
            let from = self.addr()?;
            let to = if from.is_some() && self.peek() == Some(',') {
                self.i += 1;
                Some(self.addr()?.ok_or(SedError::MissingAddress)?)
            } else {
                None
            };
            self.ws();
            let negate = self.peek() == Some('!');
            if negate {
                self.i += 1;
                self.ws();
            }
            let c = self.peek().ok_or(SedError::MissingCommand)?;
            self.i += 1;
            let cmd = match c {
                'p' => Cmd::Print,
                'd' => Cmd::Delete,
                'q' => Cmd::Quit,
                's' => self.subst()?,
                c => return Err(SedError::UnsupportedCommand(c)),
            };
            cmds.push(Command {
                from,
                to,
                negate,
                cmd,
            });
            self.ws();
            match self.peek() {
                None => return Ok(()),
                Some(';') => self.i += 1,
                Some(c) => return Err(SedError::Trailing(c)),
            }
        }
    }

    fn addr(&mut self) -> Result<Option<Addr>, SedError> {
        self.ws();
        match self.peek() {
            Some('$') => {
                self.i += 1;
                Ok(Some(Addr::Last))
            }
            Some(c) if c.is_ascii_digit() => {
                let start = self.i;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                }
                let text: String = self.cs[start..self.i].iter().collect();
                let n = text
                    .parse()
                    .map_err(|_| SedError::LineNumber(text.clone()))?;
                Ok(Some(Addr::Line(n)))
            }
            Some('/') => {
                self.i += 1;
                let re = self.delimited('/')?;
                Ok(Some(Addr::Re(self.regex(&re, false)?)))
            }
            _ => Ok(None),
        }
    }

    /// Text up to the unescaped `delim` (consumed); `\delim` becomes `delim`.
    fn delimited(&mut self, delim: char) -> Result<String, SedError> {
        let mut s = String::new();
        loop {
            let c = self.peek().ok_or(SedError::Unclosed(delim))?;
            self.i += 1;
            if c == delim {
                return Ok(s);
            }
            if c == '\\' {
                let n = self.peek().ok_or(SedError::LoneBackslash)?;
                self.i += 1;
                if n != delim {
                    s.push('\\');
                }
                s.push(n);
            } else {
                s.push(c);
            }
        }
    }

    fn regex(&self, pat: &str, icase: bool) -> Result<Regex, SedError> {
        Ok(compile(&translate(pat, self.ere)?, icase)
            .map_err(|e| PatternError::new(pat, e.into()))?)
    }

    fn subst(&mut self) -> Result<Cmd, SedError> {
        let delim = self.peek().ok_or(SedError::NoDelimiter)?;
        if delim.is_alphanumeric() || delim == '\\' || delim.is_whitespace() {
            return Err(SedError::BadDelimiter(delim));
        }
        self.i += 1;
        let pat = self.delimited(delim)?;
        let raw = self.delimited(delim)?;
        let (mut global, mut print, mut icase, mut nth) = (false, false, false, 1usize);
        while let Some(f) = self.peek() {
            match f {
                'g' => global = true,
                'p' => print = true,
                'i' | 'I' => icase = true,
                '1'..='9' => nth = f.to_digit(10).unwrap_or(1) as usize,
                _ => break,
            }
            self.i += 1;
        }
        if nth > 1 && global {
            return Err(SedError::NthGlobal);
        }
        // sed's replacement: `&` is the match, `\N` a group, `\n` a newline, `\&` a literal.
        let mut repl = String::new();
        let mut it = raw.chars();
        while let Some(c) = it.next() {
            match c {
                '&' => repl.push_str("${0}"),
                '$' => repl.push_str("$$"),
                '\\' => match it.next() {
                    Some(d @ '0'..='9') => repl.push_str(&format!("${{{d}}}")),
                    Some('n') => repl.push('\n'),
                    Some('t') => repl.push('\t'),
                    Some('$') => repl.push_str("$$"),
                    Some(o) => repl.push(o),
                    None => repl.push('\\'),
                },
                c => repl.push(c),
            }
        }
        Ok(Cmd::Subst {
            re: self.regex(&pat, icase)?,
            repl,
            global,
            nth,
            print,
        })
    }
}
