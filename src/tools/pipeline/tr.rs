//! The `tr` stage (translate, delete, squeeze; C-locale classes) and `column -t` (align
//! whitespace- or SEP-separated columns), both applied by tai to captured text.
use super::common::{no_files, opt, parse_opts, Arity, Out, PipelineError};

/// A parsed `tr` stage.
#[derive(Debug, Clone)]
pub struct Tr {
    set1: Vec<char>,
    set2: Vec<char>,
    complement: bool,
    delete: bool,
    squeeze: bool,
}

/// A character class test.
type ClassTest = fn(char) -> bool;

const CLASSES: &[(&str, ClassTest)] = &[
    ("alpha", |c| c.is_ascii_alphabetic()),
    ("digit", |c| c.is_ascii_digit()),
    ("alnum", |c| c.is_ascii_alphanumeric()),
    ("upper", |c| c.is_ascii_uppercase()),
    ("lower", |c| c.is_ascii_lowercase()),
    ("space", |c| c.is_ascii_whitespace() || c == '\x0b'),
    ("blank", |c| c == ' ' || c == '\t'),
    ("punct", |c| c.is_ascii_punctuation()),
    ("print", |c| c.is_ascii_graphic() || c == ' '),
    ("graph", |c| c.is_ascii_graphic()),
    ("cntrl", |c| c.is_ascii_control()),
    ("xdigit", |c| c.is_ascii_hexdigit()),
];

/// Expand a `tr` set: `a-z`, `\n \t \r \\ \NNN`, `[:class:]`.
fn expand(set: &str) -> Result<Vec<char>, PipelineError> {
    let cs: Vec<char> = set.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let next = |i: &mut usize| -> Result<char, PipelineError> {
        let c = cs[*i];
        *i += 1;
        if c != '\\' || *i >= cs.len() {
            return Ok(c);
        }
        let e = cs[*i];
        *i += 1;
        Ok(match e {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'v' => '\x0b',
            'f' => '\x0c',
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match cs.get(*i).and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            *i += 1;
                        }
                        None => break,
                    }
                }
                char::from_u32(v).ok_or_else(|| PipelineError::TrOctal {
                    set: set.to_string(),
                })?
            }
            c => c,
        })
    };
    while i < cs.len() {
        if cs[i] == '[' && cs.get(i + 1) == Some(&':') {
            let rest: String = cs[i + 2..].iter().collect();
            let Some(end) = rest.find(":]") else {
                return Err(PipelineError::TrUnterminatedClass {
                    set: set.to_string(),
                });
            };
            let name = &rest[..end];
            let (_, test) = CLASSES.iter().find(|(n, _)| *n == name).ok_or_else(|| {
                PipelineError::TrUnknownClass {
                    name: name.to_string(),
                }
            })?;
            out.extend((0u8..128).map(char::from).filter(|c| test(*c)));
            i += 2 + name.chars().count() + 2;
            continue;
        }
        if cs[i] == '['
            && cs[i..].contains(&'*')
            && cs[i..].contains(&']')
            && cs.get(i + 2) == Some(&'*')
        {
            return Err(PipelineError::TrRepeat);
        }
        let lo = next(&mut i)?;
        if cs.get(i) == Some(&'-') && i + 1 < cs.len() {
            i += 1;
            let hi = next(&mut i)?;
            if hi < lo {
                return Err(PipelineError::TrReversedRange { lo, hi });
            }
            if (hi as u32) - (lo as u32) > 0x1_0000 {
                return Err(PipelineError::TrHugeRange { lo, hi });
            }
            out.extend((lo..=hi).collect::<Vec<char>>());
        } else {
            out.push(lo);
        }
    }
    Ok(out)
}

impl Tr {
    pub(super) fn parse(args: &[String]) -> Result<Tr, PipelineError> {
        let table = [
            opt('d', "delete", Arity::Flag),
            opt('s', "squeeze-repeats", Arity::Flag),
            opt('c', "complement", Arity::Flag),
            opt('C', "", Arity::Flag),
        ];
        let (opts, sets) = parse_opts("tr", args, &table)?;
        let has = |c: char| opts.iter().any(|(k, _)| *k == c);
        let mut tr = Tr {
            set1: Vec::new(),
            set2: Vec::new(),
            complement: has('c') || has('C'),
            delete: has('d'),
            squeeze: has('s'),
        };
        let ok = match (tr.delete, tr.squeeze) {
            (true, false) => sets.len() == 1,
            (false, true) => sets.len() == 1 || sets.len() == 2,
            _ => sets.len() == 2,
        };
        if !ok {
            return Err(PipelineError::TrUsage);
        }
        tr.set1 = expand(&sets[0])?;
        if let Some(s2) = sets.get(1) {
            tr.set2 = expand(s2)?;
            if tr.set2.is_empty() {
                return Err(PipelineError::TrEmptySet2);
            }
        }
        Ok(tr)
    }

    fn in1(&self, c: char) -> bool {
        self.set1.contains(&c) != self.complement
    }

    pub(super) fn apply(&self, input: &str, out: &mut Out) {
        let translate = !self.delete && !self.set2.is_empty();
        // -s with one set squeezes SET1's characters; with two, SET2's (after translating or
        // deleting).
        let squeezes = |c: char| {
            if self.set2.is_empty() {
                self.in1(c)
            } else {
                self.set2.contains(&c)
            }
        };
        let mut text = String::with_capacity(input.len());
        let mut last: Option<char> = None;
        for c in input.chars() {
            if self.delete && self.in1(c) {
                continue;
            }
            let c = match (translate, self.complement) {
                (false, _) => c,
                (true, true) if !self.set1.contains(&c) => *self.set2.last().unwrap_or(&c),
                (true, true) => c,
                (true, false) => match self.set1.iter().rposition(|x| *x == c) {
                    Some(i) => *self.set2.get(i).or(self.set2.last()).unwrap_or(&c),
                    None => c,
                },
            };
            if self.squeeze && last == Some(c) && squeezes(c) {
                continue;
            }
            last = Some(c);
            text.push(c);
        }
        out.raw(&text);
    }
}

/// `column -t [-s SEP] [-o OUTSEP]`: a table with aligned columns.
#[derive(Debug, Clone)]
pub struct Column {
    sep: Option<Vec<char>>,
    out_sep: String,
}

impl Column {
    pub(super) fn parse(args: &[String]) -> Result<Column, PipelineError> {
        let table = [
            opt('t', "table", Arity::Flag),
            opt('s', "separator", Arity::Value),
            opt('o', "output-separator", Arity::Value),
        ];
        let (opts, operands) = parse_opts("column", args, &table)?;
        no_files("column", &operands)?;
        if !opts.iter().any(|(k, _)| *k == 't') {
            return Err(PipelineError::ColumnTable);
        }
        let mut c = Column {
            sep: None,
            out_sep: "  ".into(),
        };
        for (k, v) in opts {
            match (k, v) {
                ('s', Some(v)) => c.sep = Some(v.chars().collect()),
                ('o', Some(v)) => c.out_sep = v,
                _ => {}
            }
        }
        Ok(c)
    }

    pub(super) fn apply(&self, input: &str, out: &mut Out) {
        let rows: Vec<Vec<&str>> = super::common::lines(input)
            .filter(|l| !l.trim().is_empty())
            .map(|l| match &self.sep {
                Some(s) => l.split(|c| s.contains(&c)).collect(),
                None => l.split_whitespace().collect(),
            })
            .collect();
        let mut widths: Vec<usize> = Vec::new();
        for r in &rows {
            for (i, cell) in r.iter().enumerate() {
                let w = cell.chars().count();
                match widths.get_mut(i) {
                    Some(x) => *x = (*x).max(w),
                    None => widths.push(w),
                }
            }
        }
        for r in &rows {
            let mut line = String::new();
            for (i, cell) in r.iter().enumerate() {
                if i + 1 < r.len() {
                    line.push_str(cell);
                    let pad = widths[i].saturating_sub(cell.chars().count());
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(&self.out_sep);
                } else {
                    line.push_str(cell);
                }
            }
            if !out.line(&[&line]) {
                return;
            }
        }
    }
}
