//! The `sort` stage, with GNU sort's semantics in the C locale: keys (`-k N[,M][bfhnr]`), a
//! field separator (`-t C`, else blank-to-non-blank transitions with the leading blanks part
//! of the field), numeric (`-n`) and human (`-h`, `2K < 1M`) comparison without floating
//! point, case folding (`-f`), reverse, unique by key, and the whole-line last-resort
//! comparison GNU uses when keys tie (unless `-s` or `-u`).
use std::cmp::Ordering;

use super::common::{no_files, opt, parse_opts, Arity, Out, PipelineError, SortKeyProblem};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Order {
    numeric: bool,
    human: bool,
    fold: bool,
    blanks: bool,
    reverse: bool,
}

impl Order {
    fn any(&self) -> bool {
        *self != Order::default()
    }

    fn set(&mut self, c: char) -> bool {
        match c {
            'n' => self.numeric = true,
            'h' => self.human = true,
            'f' => self.fold = true,
            'b' => self.blanks = true,
            'r' => self.reverse = true,
            _ => return false,
        }
        true
    }
}

#[derive(Debug, Clone)]
struct Key {
    from: usize,
    to: Option<usize>,
    order: Order,
}

/// A parsed `sort` stage.
#[derive(Debug, Clone)]
pub struct Sort {
    keys: Vec<Key>,
    global: Order,
    unique: bool,
    stable: bool,
    sep: Option<char>,
}

impl Sort {
    pub(super) fn parse(args: &[String]) -> Result<Sort, PipelineError> {
        let table = [
            opt('n', "numeric-sort", Arity::Flag),
            opt('h', "human-numeric-sort", Arity::Flag),
            opt('f', "ignore-case", Arity::Flag),
            opt('b', "ignore-leading-blanks", Arity::Flag),
            opt('r', "reverse", Arity::Flag),
            opt('u', "unique", Arity::Flag),
            opt('s', "stable", Arity::Flag),
            opt('k', "key", Arity::Value),
            opt('t', "field-separator", Arity::Value),
        ];
        let (opts, operands) = parse_opts("sort", args, &table)?;
        no_files("sort", &operands)?;
        let mut s = Sort {
            keys: Vec::new(),
            global: Order::default(),
            unique: false,
            stable: false,
            sep: None,
        };
        for (k, v) in opts {
            let v = v.unwrap_or_default();
            match k {
                'u' => s.unique = true,
                's' => s.stable = true,
                'k' => s.keys.push(parse_key(&v)?),
                't' => {
                    let mut cs = v.chars();
                    s.sep = match (cs.next(), cs.next()) {
                        (Some(c), None) => Some(c),
                        _ => {
                            return Err(PipelineError::OneCharacter {
                                stage: "sort",
                                option: 't',
                                value: v,
                            })
                        }
                    };
                }
                c => {
                    s.global.set(c);
                }
            }
        }
        for key in &mut s.keys {
            if !key.order.any() {
                key.order = s.global;
            }
        }
        if s.keys.is_empty() {
            s.keys.push(Key {
                from: 1,
                to: None,
                order: s.global,
            });
        }
        Ok(s)
    }

    /// The text of `key` in `line`.
    fn key_text<'a>(&self, line: &'a str, key: &Key) -> &'a str {
        let spans = match self.sep {
            Some(c) => {
                let mut spans = Vec::new();
                let mut start = 0;
                for (i, ch) in line.char_indices() {
                    if ch == c {
                        spans.push((start, i));
                        start = i + ch.len_utf8();
                    }
                }
                spans.push((start, line.len()));
                spans
            }
            None => blank_fields(line),
        };
        let Some(&(start, _)) = spans.get(key.from - 1) else {
            return "";
        };
        let end = match key.to {
            None => line.len(),
            Some(t) => spans.get(t - 1).map_or(line.len(), |s| s.1),
        };
        let text = &line[start..end.max(start)];
        if key.order.blanks {
            text.trim_start_matches([' ', '\t'])
        } else {
            text
        }
    }

    fn cmp_keys(&self, a: &str, b: &str) -> Ordering {
        for key in &self.keys {
            let (ka, kb) = (self.key_text(a, key), self.key_text(b, key));
            let o = &key.order;
            let mut c = if o.human {
                cmp_human(ka, kb)
            } else if o.numeric {
                cmp_numeric(ka, kb)
            } else if o.fold {
                ka.bytes()
                    .map(|x| x.to_ascii_uppercase())
                    .cmp(kb.bytes().map(|x| x.to_ascii_uppercase()))
            } else {
                ka.cmp(kb)
            };
            if o.reverse {
                c = c.reverse();
            }
            if c != Ordering::Equal {
                return c;
            }
        }
        Ordering::Equal
    }

    pub(super) fn apply(&self, input: &str, out: &mut Out) {
        let mut all: Vec<&str> = super::common::lines(input).collect();
        all.sort_by(|a, b| {
            self.cmp_keys(a, b).then_with(|| {
                if self.stable || self.unique {
                    Ordering::Equal
                } else if self.global.reverse {
                    b.cmp(a)
                } else {
                    a.cmp(b)
                }
            })
        });
        let mut prev: Option<&str> = None;
        for l in all {
            if self.unique && prev.is_some_and(|p| self.cmp_keys(p, l) == Ordering::Equal) {
                continue;
            }
            prev = Some(l);
            if !out.line(&[l]) {
                return;
            }
        }
    }
}

/// `-k 2`, `-k 2,2`, `-k3nr`, `-k 2,2n`.
fn parse_key(v: &str) -> Result<Key, PipelineError> {
    let bad = |problem| PipelineError::SortKey {
        key: v.to_string(),
        problem,
    };
    let mut order = Order::default();
    let mut field = |s: &str| -> Result<usize, PipelineError> {
        let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        let rest = &s[digits.len()..];
        if rest.starts_with('.') {
            return Err(bad(SortKeyProblem::CharacterPositions));
        }
        for c in rest.chars() {
            if !order.set(c) {
                return Err(bad(SortKeyProblem::UnknownLetter(c)));
            }
        }
        match digits.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(bad(SortKeyProblem::FromOne)),
        }
    };
    let (a, b) = match v.split_once(',') {
        Some((a, b)) => (a, Some(b)),
        None => (v, None),
    };
    let from = field(a)?;
    let to = b.map(&mut field).transpose()?;
    if to.is_some_and(|t| t < from) {
        return Err(bad(SortKeyProblem::EndBeforeStart));
    }
    Ok(Key { from, to, order })
}

/// GNU's default fields: each starts with the blanks before it.
fn blank_fields(line: &str) -> Vec<(usize, usize)> {
    let b = line.as_bytes();
    let blank = |x: u8| x == b' ' || x == b'\t';
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && blank(b[i]) {
            i += 1;
        }
        while i < b.len() && !blank(b[i]) {
            i += 1;
        }
        spans.push((start, i));
    }
    spans
}

/// A number's parts: sign, integer digits without leading zeros, fraction without trailing
/// zeros, and the rest of the text.
fn number_parts(s: &str) -> (bool, &str, &str, &str) {
    let s = s.trim_start_matches([' ', '\t']);
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
    let int = s[..int_len].trim_start_matches('0');
    let mut rest = &s[int_len..];
    let mut frac = "";
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        frac = r[..n].trim_end_matches('0');
        rest = &r[n..];
    }
    if int_len == 0 && frac.is_empty() && !s.starts_with('.') {
        return (false, "", "", rest);
    }
    let neg = neg && !(int.is_empty() && frac.is_empty());
    (neg, int, frac, rest)
}

fn cmp_magnitude(a: (&str, &str), b: (&str, &str)) -> Ordering {
    a.0.len()
        .cmp(&b.0.len())
        .then_with(|| a.0.cmp(b.0))
        .then_with(|| a.1.cmp(b.1))
}

fn cmp_numeric(a: &str, b: &str) -> Ordering {
    let (na, ia, fa, _) = number_parts(a);
    let (nb, ib, fb, _) = number_parts(b);
    match (na, nb) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => cmp_magnitude((ia, fa), (ib, fb)),
        (true, true) => cmp_magnitude((ib, fb), (ia, fa)),
    }
}

fn cmp_human(a: &str, b: &str) -> Ordering {
    let suffix = |rest: &str| {
        rest.chars()
            .next()
            .and_then(|c| "KMGTPEZYRQ".find(c.to_ascii_uppercase()))
            .map_or(0, |i| i + 1)
    };
    let (na, ia, fa, ra) = number_parts(a);
    let (nb, ib, fb, rb) = number_parts(b);
    let (sa, sb) = (suffix(ra), suffix(rb));
    let mag = |x: (&str, &str, usize), y: (&str, &str, usize)| {
        x.2.cmp(&y.2)
            .then_with(|| cmp_magnitude((x.0, x.1), (y.0, y.1)))
    };
    match (na, nb) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => mag((ia, fa, sa), (ib, fb, sb)),
        (true, true) => mag((ib, fb, sb), (ia, fa, sa)),
    }
}
