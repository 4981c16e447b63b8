//! Number formatting for the `awk` stage: awk's output form of numbers, its string-to-number
//! conversion, and the `printf` subset (`%s %d %i %f %x %o %c`, flags `-` and `0`, width and
//! precision, widths capped at 256).
use super::awk::AwkError;

/// awk's output form of a number: integers plainly, others with 6 significant digits.
pub(super) fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e16 {
        return format!("{}", v as i64);
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let digits = v.abs().log10().floor() as i32 + 1;
    let decimals = (6 - digits).clamp(0, 17) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The conversions `printf` supports: `%[-0][WIDTH][.PREC](s|d|i|f|x|o|c|%)`.
pub(super) fn check_format(fmt: &str) -> Result<(), AwkError> {
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
                return Err(AwkError::PrintfConversion(
                    other.map(String::from).unwrap_or_default(),
                ))
            }
        }
    }
    Ok(())
}

/// awk's numeric value of a string: its leading number, else 0.
pub(super) fn num(s: &str) -> f64 {
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
pub(super) fn printf(fmt: &str, args: &[String]) -> String {
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
