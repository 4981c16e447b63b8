//! The line-oriented stages: `head`, `tail`, `wc`, `uniq` and `cut`, with GNU coreutils'
//! output formats (`uniq -c` counts right-aligned in 7 columns, `wc` columns of width 7).
use super::common::{lines, no_files, number, opt, parse_opts, Arity, Out, PipelineError};

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
    pub(super) fn parse(prog: &str, args: &[String]) -> Result<Take, PipelineError> {
        let mut args = args.to_vec();
        // The historical `-20` form.
        if let Some(first) = args.first() {
            if let Some(digits) = first.strip_prefix('-') {
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                    args[0] = format!("-n{digits}");
                }
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

    pub(super) fn head(&self, input: &str, out: &mut Out) {
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

    pub(super) fn tail(&self, input: &str, out: &mut Out) {
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
    pub(super) fn parse(args: &[String]) -> Result<Wc, PipelineError> {
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

    pub(super) fn apply(&self, input: &str, out: &mut Out) {
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
    pub(super) fn parse(args: &[String]) -> Result<Uniq, PipelineError> {
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
        // Stops at the end of the line, however large -f is.
        for _ in 0..self.skip_fields {
            if s.is_empty() {
                break;
            }
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

    pub(super) fn apply(&self, input: &str, out: &mut Out) {
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
    pub(super) fn parse(args: &[String]) -> Result<Cut, PipelineError> {
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
                        _ => {
                            return Err(PipelineError::OneCharacter {
                                stage: "cut",
                                option: 'd',
                                value: v,
                            })
                        }
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
            return Err(PipelineError::CutLists);
        }
        Ok(cut)
    }

    fn wanted(&self, i: usize) -> bool {
        self.ranges.iter().any(|(a, b)| (*a..=*b).contains(&i)) != self.complement
    }

    pub(super) fn apply(&self, input: &str, out: &mut Out) {
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
fn parse_list(v: &str) -> Result<Vec<(usize, usize)>, PipelineError> {
    let bad = || PipelineError::CutList {
        list: v.to_string(),
    };
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
