//! The `awk` stage: the subset SREs type after a pipe, evaluated by tai (no awk runs).
//!
//! `awk [-F SEP] 'COND'`, `awk [-F SEP] '[COND] {print ITEMS}'`: ITEMS are `$N`, `$NF`,
//! `$(NF-N)`, `$0`, `NR`, `NF`, numbers and `"strings"` (a comma prints a space, juxtaposition
//! concatenates); COND is `/re/`, `!/re/`, `OPERAND ~ /re/`, `OPERAND !~ /re/`, a comparison
//! (`== != < <= > >=`, numeric when both sides look like numbers, as awk does) or a bare
//! operand (`NF`), joined by `&&` and `||`; `printf "FORMAT", ITEMS` with %s %d %i %f %x %o
//! %c also works. Regexes are POSIX ERE. Anything else is refused with this list.
use regex::Regex;

use super::grep::{compile, translate};
use super::{no_files, opt, parse_opts, Arity, Out};

const SUPPORTED: &str = "awk after `|` supports only [-F SEP] '[COND] {print ITEMS}': ITEMS are \
    $N, $NF, $(NF-N), $0, NR, NF, numbers and \"strings\" (comma = space, juxtaposition = \
    concatenation); COND is /re/, !/re/, X ~ /re/, X !~ /re/, or X OP Y with OP one of == != \
    < <= > >=, joined by && and ||; printf \"FMT\", ITEMS also works. To count, add `| sort | uniq -c`; for anything else run awk on \
    the file as the first command";

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
    action: Option<Action>,
}

#[derive(Debug, Clone)]
enum Action {
    /// `print` items with a flag: a comma before the item.
    Print(Vec<(Operand, bool)>),
    /// `printf FORMAT, items`.
    Printf(String, Vec<Operand>),
}

impl Awk {
    pub(super) fn parse(args: &[String]) -> Result<Awk, String> {
        let table = [opt('F', "field-separator", Arity::Value)];
        let (opts, mut operands) =
            parse_opts("awk", args, &table).map_err(|e| format!("{e}. {SUPPORTED}"))?;
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
                        .map_err(|e| format!("awk -F `{v}`: {e}"))?,
                ),
            };
        }
        if operands.is_empty() {
            return Err(format!("`awk` needs a program. {SUPPORTED}"));
        }
        let program = operands.remove(0);
        no_files("awk", &operands)?;
        let mut p = Parser {
            cs: program.chars().collect(),
            i: 0,
        };
        let (conds, action) = p
            .program()
            .map_err(|e| format!("awk program `{program}`: {e}. {SUPPORTED}"))?;
        Ok(Awk { sep, conds, action })
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
        for (i, line) in super::lines(input).enumerate() {
            let rec = Record {
                line,
                fields: self.fields(line),
                nr: i + 1,
            };
            if !self.conds.is_empty()
                && !self.conds.iter().any(|all| all.iter().all(|c| rec.test(c)))
            {
                continue;
            }
            let ok = match &self.action {
                None => out.line(&[line]),
                Some(Action::Printf(fmt, items)) => {
                    let args: Vec<String> = items.iter().map(|o| rec.value(o)).collect();
                    out.raw(&printf(fmt, &args));
                    true
                }
                Some(Action::Print(items)) if items.is_empty() => out.line(&[line]),
                Some(Action::Print(items)) => {
                    let mut text = String::new();
                    for (k, (item, comma)) in items.iter().enumerate() {
                        if k > 0 && *comma {
                            text.push(' ');
                        }
                        text.push_str(&rec.value(item));
                    }
                    out.line(&[&text])
                }
            };
            if !ok {
                return;
            }
        }
    }
}

struct Record<'a> {
    line: &'a str,
    fields: Vec<&'a str>,
    nr: usize,
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
        }
    }

    /// The numeric value when the operand is a number or a field that looks like one.
    fn number(&self, o: &Operand) -> Option<f64> {
        match o {
            Operand::Num(n, _) => Some(*n),
            Operand::Nr | Operand::Nf => self.value(o).parse().ok(),
            Operand::Str(_) => None,
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

/// The conversions `printf` supports: `%[-0][WIDTH][.PREC](s|d|i|f|x|o|c|%)`.
fn check_format(fmt: &str) -> Result<(), String> {
    let mut it = fmt.chars().peekable();
    while let Some(c) = it.next() {
        if c != '%' {
            continue;
        }
        while it.peek().is_some_and(|c| "-0123456789.".contains(*c)) {
            it.next();
        }
        match it.next() {
            Some('s' | 'd' | 'i' | 'f' | 'x' | 'o' | 'c' | '%') => {}
            other => {
                return Err(format!(
                    "printf conversion `%{}` is not supported (use %s %d %i %f %x %o %c, with \
                     optional - 0 width and .precision)",
                    other.map(String::from).unwrap_or_default()
                ))
            }
        }
    }
    Ok(())
}

/// awk's numeric value of a string: its leading number, else 0.
fn num(s: &str) -> f64 {
    let t = s.trim_start_matches([' ', '\t']);
    let mut end = 0;
    let b = t.as_bytes();
    if end < b.len() && (b[end] == b'-' || b[end] == b'+') {
        end += 1;
    }
    while end < b.len() && (b[end].is_ascii_digit() || b[end] == b'.') {
        end += 1;
    }
    (1..=end)
        .rev()
        .find_map(|e| t[..e].parse().ok())
        .unwrap_or(0.0)
}

/// Format one `printf` call (format checked by [`check_format`]); widths are capped at 256.
fn printf(fmt: &str, args: &[String]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut it = fmt.chars().peekable();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&d) = it.peek().filter(|c| "-0123456789.".contains(**c)) {
            spec.push(d);
            it.next();
        }
        let conv = it.next().unwrap_or('%');
        if conv == '%' {
            out.push('%');
            continue;
        }
        let left = spec.starts_with('-');
        let spec = spec.trim_start_matches('-');
        let zero = spec.starts_with('0') && !left;
        let (w, p) = match spec.split_once('.') {
            Some((w, p)) => (w, Some(p.parse::<usize>().unwrap_or(0).min(256))),
            None => (spec, None),
        };
        let width = w.parse::<usize>().unwrap_or(0).min(256);
        let arg = args.next().map(String::as_str).unwrap_or("");
        let body = match conv {
            's' => match p {
                Some(p) => arg.chars().take(p).collect(),
                None => arg.to_string(),
            },
            'c' => arg.chars().next().map(String::from).unwrap_or_default(),
            'f' => format!("{:.*}", p.unwrap_or(6), num(arg)),
            'x' => format!("{:x}", num(arg) as i64),
            'o' => format!("{:o}", num(arg) as i64),
            _ => format!("{}", num(arg) as i64),
        };
        let pad = width.saturating_sub(body.chars().count());
        let numeric = !matches!(conv, 's' | 'c');
        if left {
            out.push_str(&body);
            out.extend(std::iter::repeat_n(' ', pad));
        } else if zero && numeric {
            let (sign, digits) = match body.strip_prefix('-') {
                Some(d) => ("-", d),
                None => ("", body.as_str()),
            };
            out.push_str(sign);
            out.extend(std::iter::repeat_n('0', pad));
            out.push_str(digits);
        } else {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(&body);
        }
    }
    out
}

struct Parser {
    cs: Vec<char>,
    i: usize,
}

type Program = (Vec<Vec<Cond>>, Option<Action>);

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

    fn program(&mut self) -> Result<Program, String> {
        let mut conds = Vec::new();
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
        let mut action = None;
        if self.eat("{") {
            let mut items = Vec::new();
            if self.eat("printf") {
                let paren = self.eat("(");
                let Operand::Str(fmt) = self.operand()? else {
                    return Err("printf needs a \"format\" string first".into());
                };
                check_format(&fmt)?;
                let mut args = Vec::new();
                while self.eat(",") {
                    args.push(self.operand()?);
                }
                if paren && !self.eat(")") {
                    return Err("expected `)` after the printf arguments".into());
                }
                self.eat(";");
                if !self.eat("}") {
                    return Err("expected `}` after printf (one statement only)".into());
                }
                action = Some(Action::Printf(fmt, args));
            } else if self.eat("print") {
                let mut comma = false;
                loop {
                    match self.peek() {
                        Some(';') | Some('}') | None => break,
                        Some(',') => {
                            self.i += 1;
                            comma = true;
                        }
                        _ => {
                            items.push((self.operand()?, comma));
                            comma = false;
                        }
                    }
                }
                self.eat(";");
            } else if self.peek() != Some('}') {
                return Err("the only actions supported are `print` and `printf`".into());
            }
            if action.is_none() {
                if !self.eat("}") {
                    return Err(
                        "expected `}` after the print items (one print statement only)".into(),
                    );
                }
                action = Some(Action::Print(items));
            }
        }
        if self.peek().is_some() {
            return Err(format!(
                "unexpected `{}`",
                self.cs[self.i..].iter().collect::<String>()
            ));
        }
        if conds.is_empty() && action.is_none() {
            return Err("empty program".into());
        }
        Ok((conds, action))
    }

    fn cond(&mut self) -> Result<Cond, String> {
        if self.eat("!") {
            if self.peek() != Some('/') {
                return Err("`!` is supported only before /regex/".into());
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
        let a = self.operand()?;
        for (tok, negate) in [("!~", true), ("~", false)] {
            if self.eat(tok) {
                let re = self.regex()?;
                return Ok(Cond::Match { on: a, re, negate });
            }
        }
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            if self.eat(op) {
                let b = self.operand()?;
                return Ok(Cond::Cmp(a, op, b));
            }
        }
        Ok(Cond::Truthy(a))
    }

    fn regex(&mut self) -> Result<Regex, String> {
        if !self.eat("/") {
            return Err("expected /regex/".into());
        }
        let mut pat = String::new();
        loop {
            match self.cs.get(self.i).copied() {
                None => return Err("unterminated /regex/".into()),
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
        compile(&translate(&pat, true)?, false).map_err(|e| format!("bad regex /{pat}/: {e}"))
    }

    fn operand(&mut self) -> Result<Operand, String> {
        if self.eat("$") {
            if self.eat("NF") {
                return Ok(Operand::FieldFromEnd(0));
            }
            if self.eat("(") {
                if !self.eat("NF") {
                    return Err("only $(NF-N) is supported inside $( )".into());
                }
                let k = if self.eat("-") { self.digits()? } else { 0 };
                if !self.eat(")") {
                    return Err("expected `)` in $(NF-N)".into());
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
        match self.peek() {
            Some('"') => {
                self.i += 1;
                let mut s = String::new();
                loop {
                    let c = *self.cs.get(self.i).ok_or("unterminated string")?;
                    self.i += 1;
                    match c {
                        '"' => return Ok(Operand::Str(s)),
                        '\\' => {
                            let e = *self.cs.get(self.i).ok_or("unterminated string")?;
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
                let n = text.parse().map_err(|_| format!("bad number `{text}`"))?;
                Ok(Operand::Num(n, text))
            }
            Some(c) => Err(format!(
                "unsupported `{c}` where a field, NR, NF, number or string was expected"
            )),
            None => {
                Err("the program ends where a field, NR, NF, number or string was expected".into())
            }
        }
    }

    fn digits(&mut self) -> Result<usize, String> {
        self.ws();
        let start = self.i;
        while self.cs.get(self.i).is_some_and(char::is_ascii_digit) {
            self.i += 1;
        }
        let text: String = self.cs[start..self.i].iter().collect();
        text.parse()
            .map_err(|_| "expected a field number after `$` (e.g. $1, $NF)".to_string())
    }
}
