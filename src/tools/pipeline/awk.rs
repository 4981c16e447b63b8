//! The `awk` stage: the subset SREs type after a pipe, evaluated by tai (no awk runs).
//!
//! `awk [-F SEP] 'COND'`, `awk [-F SEP] '[COND] {print ITEMS}'`: ITEMS are `$N`, `$NF`,
//! `$(NF-N)`, `$0`, `NR`, `NF`, numbers and `"strings"` (a comma prints a space, juxtaposition
//! concatenates); COND is `/re/`, `!/re/`, `OPERAND ~ /re/`, `OPERAND !~ /re/`, a comparison
//! (`== != < <= > >=`, numeric when both sides look like numbers, as awk does) or a bare
//! operand (`NF`), joined by `&&` and `||`; `printf "FORMAT", ITEMS` with %s %d %i %f %x %o
//! %c also works, and so do numeric variables (`s += $5`, `n++`, `x = ...`) with an `END`
//! block and `+ - * / %` arithmetic, for sums and counts. Regexes are POSIX ERE. Arrays,
//! `BEGIN`, functions, `getline`, output redirection and anything else are refused with this
//! list.
use std::collections::HashMap;

use regex::Regex;

use super::common::{no_files, opt, parse_opts, Arity, Out, PatternError, PipelineError};
use super::grep::{compile, translate};
use super::printf::{check_format, fmt_num, num, printf};

/// What the `awk` stage supports, appended to its errors.
pub(super) const SUPPORTED: &str = "awk after `|` supports only [-F SEP] '[COND] {print ITEMS}': ITEMS are \
    $N, $NF, $(NF-N), $0, NR, NF, numbers and \"strings\" (comma = space, juxtaposition = \
    concatenation); COND is /re/, !/re/, X ~ /re/, X !~ /re/, or X OP Y with OP one of == != \
    < <= > >=, joined by && and ||; printf \"FMT\", ITEMS also works, and sums: \
    '{s+=$N; n++} END {print s, n, s/n}' (arithmetic + - * / %, no arrays). To count, add `| sort | uniq -c`; for anything else run awk on \
    the file as the first command";

/// Why an awk program was refused (shown as `awk program `P`: ERROR. SUPPORTED`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AwkError {
    #[error("expected `{{` after END")]
    EndBlock,
    #[error("unexpected `{0}`")]
    Trailing(String),
    #[error("empty program")]
    Empty,
    #[error("expected `;` or `}}` after a statement")]
    StatementEnd,
    #[error("printf needs a \"format\" string first")]
    PrintfFormat,
    #[error(
        "printf conversion `%{0}` is not supported (use %s %d %i %f %x %o %c, with optional - 0 \
         width and .precision)"
    )]
    PrintfConversion(String),
    #[error("expected `)` after the printf arguments")]
    PrintfParen,
    #[error("the only statements supported are print, printf and VAR += X, VAR++")]
    Statement,
    #[error("unsupported statement starting with `{0}`")]
    StatementStart(String),
    #[error("`!` is supported only before /regex/")]
    Negation,
    #[error("expected /regex/")]
    ExpectedRegex,
    #[error("unterminated /regex/")]
    UnterminatedRegex,
    #[error("only $(NF-N) is supported inside $( )")]
    FieldExpression,
    #[error("expected `)` in $(NF-N)")]
    FieldParen,
    #[error("unterminated string")]
    UnterminatedString,
    #[error("bad number `{0}`")]
    Number(String),
    #[error("unsupported `{0}` where a field, NR, NF, number or string was expected")]
    Operand(char),
    #[error("the program ends where a field, NR, NF, number or string was expected")]
    EndsEarly,
    #[error("expected a field number after `$` (e.g. $1, $NF)")]
    FieldNumber,
    #[error(transparent)]
    Pattern(#[from] PatternError),
}

#[derive(Debug, Clone)]
enum Operand {
    /// `$N` (0 = the whole line).
    Field(usize),
    /// `$NF`, `$(NF-N)`.
    FieldFromEnd(usize),
    Nr,
    Nf,
    Num(f64, String),
    Str(String),
    /// A variable (numeric; unset prints as empty, counts as 0).
    Var(String),
    /// `A + B`, `A - B`, `A * B`, `A / B`, `A % B`.
    Bin(Box<Operand>, char, Box<Operand>),
}

#[derive(Debug, Clone)]
enum Cond {
    Match {
        on: Operand,
        re: Regex,
        negate: bool,
    },
    Cmp(Operand, &'static str, Operand),
    Truthy(Operand),
}

#[derive(Debug, Clone)]
enum Sep {
    Blanks,
    Char(char),
    Re(Regex),
}

/// A parsed `awk` stage.
#[derive(Debug, Clone)]
pub struct Awk {
    sep: Sep,
    /// Alternatives (`||`) of conjunctions (`&&`); empty: every line.
    conds: Vec<Vec<Cond>>,
    /// `None`: no action (print the line).
    action: Option<Vec<Stmt>>,
    /// False for a program that is only an `END` block.
    main: bool,
    /// The `END { ... }` statements.
    end: Vec<Stmt>,
}

#[derive(Debug, Clone)]
enum Stmt {
    /// `print` items with a flag: a comma before the item.
    Print(Vec<(Operand, bool)>),
    /// `printf FORMAT, items`.
    Printf(String, Vec<Operand>),
    /// `VAR += X`, `VAR -= X`, `VAR = X`, `VAR++`, `VAR--` (as `+= 1`).
    Assign(String, char, Operand),
}

impl Awk {
    pub(super) fn parse(args: &[String]) -> Result<Awk, PipelineError> {
        let table = [opt('F', "field-separator", Arity::Value)];
        let (opts, mut operands) =
            parse_opts("awk", args, &table).map_err(|e| PipelineError::WithHelp {
                source: Box::new(e),
                help: SUPPORTED,
            })?;
        let mut sep = Sep::Blanks;
        for (_, v) in opts {
            let v = v.unwrap_or_default();
            let v = if v == "\\t" || v == "t" {
                "\t".to_string()
            } else {
                v
            };
            let mut cs = v.chars();
            sep = match (cs.next(), cs.next()) {
                (Some(' '), None) => Sep::Blanks,
                (Some(c), None) => Sep::Char(c),
                (Some('\\'), Some(c)) if v.chars().count() == 2 && !c.is_alphanumeric() => {
                    Sep::Char(c)
                }
                _ => Sep::Re(
                    compile(&translate(&v, true)?, false)
                        .map_err(|e| PatternError::new(&v, e.into()))?,
                ),
            };
        }
        if operands.is_empty() {
            return Err(PipelineError::Missing {
                stage: "awk",
                what: "a program. ",
                help: SUPPORTED,
            });
        }
        let program = operands.remove(0);
        no_files("awk", &operands)?;
        let mut p = Parser {
            cs: program.chars().collect(),
            i: 0,
        };
        let (conds, action, main, end) = p.program().map_err(|source| PipelineError::Awk {
            program: program.clone(),
            source,
        })?;
        Ok(Awk {
            sep,
            conds,
            action,
            main,
            end,
        })
    }

    fn fields<'a>(&self, line: &'a str) -> Vec<&'a str> {
        match &self.sep {
            Sep::Blanks => line.split([' ', '\t']).filter(|f| !f.is_empty()).collect(),
            _ if line.is_empty() => Vec::new(),
            Sep::Char(c) => line.split(*c).collect(),
            Sep::Re(re) => re.split(line).collect(),
        }
    }

    pub(super) fn apply(&self, input: &str, out: &mut Out) {
        let mut vars: HashMap<String, f64> = HashMap::new();
        let mut last = ("", 0usize);
        for (i, line) in super::common::lines(input).enumerate() {
            last = (line, i + 1);
            if !self.main {
                continue;
            }
            let rec = Record {
                line,
                fields: self.fields(line),
                nr: i + 1,
                vars: &vars,
            };
            if !self.conds.is_empty()
                && !self.conds.iter().any(|all| all.iter().all(|c| rec.test(c)))
            {
                continue;
            }
            let Some(stmts) = &self.action else {
                if !out.line(&[line]) {
                    return;
                }
                continue;
            };
            if !run_stmts(stmts, line, self.fields(line), i + 1, &mut vars, out) {
                return;
            }
        }
        if !self.end.is_empty() {
            let (line, nr) = last;
            run_stmts(&self.end, line, self.fields(line), nr, &mut vars, out);
        }
    }
}

/// Run statements for one record; `false` once the output bound is reached.
fn run_stmts(
    stmts: &[Stmt],
    line: &str,
    fields: Vec<&str>,
    nr: usize,
    vars: &mut HashMap<String, f64>,
    out: &mut Out,
) -> bool {
    for st in stmts {
        let rec = Record {
            line,
            fields: fields.clone(),
            nr,
            vars,
        };
        match st {
            Stmt::Assign(var, op, x) => {
                let v = rec.eval(x);
                let cur = rec.vars.get(var).copied().unwrap_or(0.0);
                let new = match op {
                    '+' => cur + v,
                    '-' => cur - v,
                    _ => v,
                };
                vars.insert(var.clone(), new);
            }
            Stmt::Printf(fmt, items) => {
                let args: Vec<String> = items.iter().map(|o| rec.value(o)).collect();
                out.raw(&printf(fmt, &args));
            }
            Stmt::Print(items) if items.is_empty() => {
                if !out.line(&[line]) {
                    return false;
                }
            }
            Stmt::Print(items) => {
                let mut text = String::new();
                for (k, (item, comma)) in items.iter().enumerate() {
                    if k > 0 && *comma {
                        text.push(' ');
                    }
                    text.push_str(&rec.value(item));
                }
                if !out.line(&[&text]) {
                    return false;
                }
            }
        }
    }
    true
}

struct Record<'a> {
    line: &'a str,
    fields: Vec<&'a str>,
    nr: usize,
    vars: &'a HashMap<String, f64>,
}

impl Record<'_> {
    fn value(&self, o: &Operand) -> String {
        match o {
            Operand::Field(0) => self.line.to_string(),
            Operand::Field(n) => self.fields.get(n - 1).unwrap_or(&"").to_string(),
            Operand::FieldFromEnd(k) => match self.fields.len().checked_sub(*k) {
                Some(0) => self.line.to_string(),
                Some(n) => self.fields[n - 1].to_string(),
                None => String::new(),
            },
            Operand::Nr => self.nr.to_string(),
            Operand::Nf => self.fields.len().to_string(),
            Operand::Num(_, text) => text.clone(),
            Operand::Str(s) => s.clone(),
            Operand::Var(v) => self.vars.get(v).map(|x| fmt_num(*x)).unwrap_or_default(),
            Operand::Bin(..) => fmt_num(self.eval(o)),
        }
    }

    /// The numeric value of an operand (awk's conversion of strings: the leading number).
    fn eval(&self, o: &Operand) -> f64 {
        match o {
            Operand::Num(n, _) => *n,
            Operand::Var(v) => self.vars.get(v).copied().unwrap_or(0.0),
            Operand::Bin(a, op, b) => {
                let (x, y) = (self.eval(a), self.eval(b));
                match op {
                    '+' => x + y,
                    '-' => x - y,
                    '*' => x * y,
                    '/' => x / y,
                    _ => x % y,
                }
            }
            _ => num(&self.value(o)),
        }
    }

    /// The numeric value when the operand is a number or a field that looks like one.
    fn number(&self, o: &Operand) -> Option<f64> {
        match o {
            Operand::Num(n, _) => Some(*n),
            Operand::Nr | Operand::Nf => self.value(o).parse().ok(),
            Operand::Str(_) => None,
            Operand::Var(_) | Operand::Bin(..) => Some(self.eval(o)),
            _ => looks_numeric(&self.value(o)),
        }
    }

    fn test(&self, c: &Cond) -> bool {
        match c {
            Cond::Match { on, re, negate } => re.is_match(&self.value(on)) != *negate,
            Cond::Truthy(o) => match self.number(o) {
                Some(n) => n != 0.0,
                None => !self.value(o).is_empty(),
            },
            Cond::Cmp(a, op, b) => {
                let ord = match (self.number(a), self.number(b)) {
                    (Some(x), Some(y)) => x.partial_cmp(&y),
                    _ => Some(self.value(a).cmp(&self.value(b))),
                };
                let Some(ord) = ord else { return *op == "!=" };
                match *op {
                    "==" => ord.is_eq(),
                    "!=" => ord.is_ne(),
                    "<" => ord.is_lt(),
                    "<=" => ord.is_le(),
                    ">" => ord.is_gt(),
                    _ => ord.is_ge(),
                }
            }
        }
    }
}

/// awk's "strnum": a field that is a decimal number, blanks around allowed.
fn looks_numeric(s: &str) -> Option<f64> {
    let t = s.trim_matches([' ', '\t']);
    let ok = !t.is_empty()
        && t.bytes().any(|b| b.is_ascii_digit())
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    if ok {
        t.parse().ok()
    } else {
        None
    }
}

struct Parser {
    cs: Vec<char>,
    i: usize,
}

type Program = (Vec<Vec<Cond>>, Option<Vec<Stmt>>, bool, Vec<Stmt>);

impl Parser {
    fn ws(&mut self) {
        while self.cs.get(self.i).is_some_and(|c| c.is_whitespace()) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.ws();
        self.cs.get(self.i).copied()
    }

    fn eat(&mut self, s: &str) -> bool {
        self.ws();
        let n = s.chars().count();
        if self.cs.len() >= self.i + n && self.cs[self.i..self.i + n].iter().copied().eq(s.chars())
        {
            self.i += n;
            true
        } else {
            false
        }
    }

    fn program(&mut self) -> Result<Program, AwkError> {
        let mut conds = Vec::new();
        let main = !self.keyword("END");
        let mut action = None;
        if main {
            if self.peek() != Some('{') {
                loop {
                    let mut all = vec![self.cond()?];
                    while self.eat("&&") {
                        all.push(self.cond()?);
                    }
                    conds.push(all);
                    if !self.eat("||") {
                        break;
                    }
                }
            }
            if self.eat("{") {
                action = Some(self.block()?);
            }
        }
        let mut end = Vec::new();
        if !main || self.keyword("END") {
            if !self.eat("{") {
                return Err(AwkError::EndBlock);
            }
            end = self.block()?;
        }
        if self.peek().is_some() {
            return Err(AwkError::Trailing(self.cs[self.i..].iter().collect()));
        }
        if main && conds.is_empty() && action.is_none() {
            return Err(AwkError::Empty);
        }
        Ok((conds, action, main, end))
    }

    /// `word` as a whole word.
    fn keyword(&mut self, word: &str) -> bool {
        let save = self.i;
        if self.eat(word)
            && !self
                .cs
                .get(self.i)
                .is_some_and(|c| c.is_alphanumeric() || *c == '_')
        {
            return true;
        }
        self.i = save;
        false
    }

    /// Statements up to the closing `}` (consumed), separated by `;`.
    fn block(&mut self) -> Result<Vec<Stmt>, AwkError> {
        let mut stmts = Vec::new();
        loop {
            while self.eat(";") {}
            if self.eat("}") {
                return Ok(stmts);
            }
            stmts.push(self.stmt()?);
            if !self.eat(";") && self.peek() != Some('}') {
                return Err(AwkError::StatementEnd);
            }
        }
    }

    fn stmt(&mut self) -> Result<Stmt, AwkError> {
        if self.keyword("printf") {
            let paren = self.eat("(");
            let Operand::Str(fmt) = self.operand()? else {
                return Err(AwkError::PrintfFormat);
            };
            check_format(&fmt)?;
            let mut args = Vec::new();
            while self.eat(",") {
                args.push(self.expr()?);
            }
            if paren && !self.eat(")") {
                return Err(AwkError::PrintfParen);
            }
            return Ok(Stmt::Printf(fmt, args));
        }
        if self.keyword("print") {
            let mut items = Vec::new();
            let mut comma = false;
            loop {
                match self.peek() {
                    Some(';') | Some('}') | None => break,
                    Some(',') => {
                        self.i += 1;
                        comma = true;
                    }
                    _ => {
                        items.push((self.expr()?, comma));
                        comma = false;
                    }
                }
            }
            return Ok(Stmt::Print(items));
        }
        let Some(var) = self.ident() else {
            return Err(AwkError::Statement);
        };
        for (tok, op) in [("+=", '+'), ("-=", '-'), ("++", '+'), ("--", '-')] {
            if self.eat(tok) {
                let x = if tok.len() == 2 && tok.ends_with('=') {
                    self.expr()?
                } else {
                    Operand::Num(1.0, "1".into())
                };
                return Ok(Stmt::Assign(var, op, x));
            }
        }
        if self.eat("=") && !self.eat("=") {
            return Ok(Stmt::Assign(var, '=', self.expr()?));
        }
        Err(AwkError::StatementStart(var))
    }

    /// A variable name (not a keyword, not a function call).
    fn ident(&mut self) -> Option<String> {
        self.ws();
        let start = self.i;
        if !self
            .cs
            .get(self.i)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_')
        {
            return None;
        }
        while self
            .cs
            .get(self.i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            self.i += 1;
        }
        let name: String = self.cs[start..self.i].iter().collect();
        const RESERVED: &[&str] = &[
            "BEGIN", "END", "print", "printf", "getline", "system", "if", "else", "while", "for",
            "in", "next", "exit", "delete", "function", "return", "NR", "NF", "FS", "OFS", "RS",
            "ORS", "FILENAME", "ENVIRON", "close", "fflush",
        ];
        if RESERVED.contains(&name.as_str()) || self.peek() == Some('(') || self.peek() == Some('[')
        {
            self.i = start;
            return None;
        }
        Some(name)
    }

    /// `A (+|-) B` over `A (*|/|%) B` over operands, left to right.
    fn expr(&mut self) -> Result<Operand, AwkError> {
        let mut a = self.term()?;
        loop {
            self.ws();
            let op = match self.peek() {
                Some(c @ ('+' | '-'))
                    if !matches!(self.cs.get(self.i + 1), Some('=' | '+' | '-')) =>
                {
                    c
                }
                _ => return Ok(a),
            };
            self.i += 1;
            let b = self.term()?;
            a = Operand::Bin(Box::new(a), op, Box::new(b));
        }
    }

    fn term(&mut self) -> Result<Operand, AwkError> {
        let mut a = self.operand()?;
        loop {
            let op = match self.peek() {
                Some(c @ ('*' | '/' | '%')) if self.cs.get(self.i + 1) != Some(&'=') => c,
                _ => return Ok(a),
            };
            self.i += 1;
            let b = self.operand()?;
            a = Operand::Bin(Box::new(a), op, Box::new(b));
        }
    }

    fn cond(&mut self) -> Result<Cond, AwkError> {
        if self.eat("!") {
            if self.peek() != Some('/') {
                return Err(AwkError::Negation);
            }
            let re = self.regex()?;
            return Ok(Cond::Match {
                on: Operand::Field(0),
                re,
                negate: true,
            });
        }
        if self.peek() == Some('/') {
            let re = self.regex()?;
            return Ok(Cond::Match {
                on: Operand::Field(0),
                re,
                negate: false,
            });
        }
        let a = self.expr()?;
        for (tok, negate) in [("!~", true), ("~", false)] {
            if self.eat(tok) {
                let re = self.regex()?;
                return Ok(Cond::Match { on: a, re, negate });
            }
        }
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            if self.eat(op) {
                let b = self.expr()?;
                return Ok(Cond::Cmp(a, op, b));
            }
        }
        Ok(Cond::Truthy(a))
    }

    fn regex(&mut self) -> Result<Regex, AwkError> {
        if !self.eat("/") {
            return Err(AwkError::ExpectedRegex);
        }
        let mut pat = String::new();
        loop {
            match self.cs.get(self.i).copied() {
                None => return Err(AwkError::UnterminatedRegex),
                Some('/') => {
                    self.i += 1;
                    break;
                }
                Some('\\') if self.cs.get(self.i + 1) == Some(&'/') => {
                    pat.push('/');
                    self.i += 2;
                }
                Some('\\') => {
                    pat.push('\\');
                    if let Some(&c) = self.cs.get(self.i + 1) {
                        pat.push(c);
                    }
                    self.i += 2;
                }
                Some(c) => {
                    pat.push(c);
                    self.i += 1;
                }
            }
        }
        Ok(compile(&translate(&pat, true)?, false)
            .map_err(|e| PatternError::new(&pat, e.into()))?)
    }

    fn operand(&mut self) -> Result<Operand, AwkError> {
        if self.eat("$") {
            if self.eat("NF") {
                return Ok(Operand::FieldFromEnd(0));
            }
            if self.eat("(") {
                if !self.eat("NF") {
                    return Err(AwkError::FieldExpression);
                }
                let k = if self.eat("-") { self.digits()? } else { 0 };
                if !self.eat(")") {
                    return Err(AwkError::FieldParen);
                }
                return Ok(Operand::FieldFromEnd(k));
            }
            return Ok(Operand::Field(self.digits()?));
        }
        if self.eat("NR") {
            return Ok(Operand::Nr);
        }
        if self.eat("NF") {
            return Ok(Operand::Nf);
        }
        if let Some(v) = self.ident() {
            return Ok(Operand::Var(v));
        }
        match self.peek() {
            Some('"') => {
                self.i += 1;
                let mut s = String::new();
                loop {
                    let c = *self.cs.get(self.i).ok_or(AwkError::UnterminatedString)?;
                    self.i += 1;
                    match c {
                        '"' => return Ok(Operand::Str(s)),
                        '\\' => {
                            let e = *self.cs.get(self.i).ok_or(AwkError::UnterminatedString)?;
                            self.i += 1;
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                c => c,
                            });
                        }
                        c => s.push(c),
                    }
                }
            }
            Some(c) if c.is_ascii_digit() || c == '-' || c == '.' => {
                let start = self.i;
                self.i += 1;
                while self
                    .cs
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_digit() || *c == '.')
                {
                    self.i += 1;
                }
                let text: String = self.cs[start..self.i].iter().collect();
                let n = text.parse().map_err(|_| AwkError::Number(text.clone()))?;
                Ok(Operand::Num(n, text))
            }
            Some(c) => Err(AwkError::Operand(c)),
            None => Err(AwkError::EndsEarly),
        }
    }

    fn digits(&mut self) -> Result<usize, AwkError> {
        self.ws();
        let start = self.i;
        while self.cs.get(self.i).is_some_and(char::is_ascii_digit) {
            self.i += 1;
        }
        let text: String = self.cs[start..self.i].iter().collect();
        text.parse().map_err(|_| AwkError::FieldNumber)
    }
}
