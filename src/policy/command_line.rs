//! [`split_command_line`]: a command line typed by a person or a model becomes one argv, or a
//! [`CommandLineError`] that says which shell syntax was refused and what to write instead.

/// Shell syntax tai refuses in a command line (tai runs one argv, without a shell). Each text
/// tells the model what to write instead; nothing ran.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandLineError {
    #[error("newlines are not supported: send one command per call")]
    Newline,
    #[error("line continuations are not supported; put the command on one line")]
    Continuation,
    #[error(
        "shell operator `{0}` is not supported: tai runs one command, without a shell (no lists, \
         redirections or background jobs). Run each command as its own call; to filter output \
         end the line with `| grep/sort/uniq/head/tail/wc/cut/awk` stages (tai applies them \
         itself) or use the command's own options (grep -m, head -n, journalctl -g), or quote \
         the character if it is part of an argument"
    )]
    Operator(char),
    #[error(
        "command substitution and variables (`$(...)`, backticks, `$VAR`) are not supported: tai \
         runs exactly the words you give, without a shell; write the literal value, or use \
         single quotes if the `$` is meant literally (e.g. awk '{{print $1}}')"
    )]
    Substitution,
    #[error(
        "`$'...'` and `$\"...\"` quoting are not supported; write the characters plainly inside \
         single quotes"
    )]
    DollarQuote,
    #[error("comments (`#`) are not supported; quote `#` if it is part of an argument")]
    Comment,
    #[error(
        "unquoted `{0}` would be a glob, and tai does not expand globs: name the file, use \
         list_dir to see what exists, or quote the pattern (e.g. find -name '*.log')"
    )]
    Glob(char),
    #[error("`~` is not expanded; write the full path (e.g. /root or /home/USER)")]
    Tilde,
    #[error("NUL bytes are not allowed")]
    Nul,
    #[error("cannot split the command line: {0} (check the quotes)")]
    Quotes(String),
    #[error("empty command")]
    Empty,
}

/// Split a command line typed by a person or a model into argv, the way a POSIX shell would
/// split words, but refuse everything a shell would *do*: operators (`;`, `|`, `&`, `&&`,
/// `>`, `<`), substitutions (`$(...)`, backticks, `$VAR`, `${...}`), newlines, comments, and
/// globs or `~` that a shell would expand. The `Err` says what to write instead.
pub fn split_command_line(line: &str) -> Result<Vec<String>, CommandLineError> {
    #[derive(PartialEq, Clone, Copy)]
    enum Q {
        None,
        Single,
        Double,
    }
    if line.contains(['\n', '\r']) {
        return Err(CommandLineError::Newline);
    }
    let mut q = Q::None;
    let mut word_start = true;
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0usize;
    for _ in 0..chars.len() + 1 {
        if i >= chars.len() {
            break;
        }
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match q {
            Q::Single => {
                if c == '\'' {
                    q = Q::None;
                }
            }
            Q::Double => match c {
                '"' => q = Q::None,
                '\\' => i += 1,
                '`' => return Err(CommandLineError::Substitution),
                '$' if next.is_some_and(|n| {
                    n == '(' || n == '{' || n.is_ascii_alphanumeric() || n == '_'
                }) =>
                {
                    return Err(CommandLineError::Substitution)
                }
                _ => {}
            },
            Q::None => match c {
                '\'' => q = Q::Single,
                '"' => q = Q::Double,
                '\\' => {
                    if next == Some('\n') {
                        return Err(CommandLineError::Continuation);
                    }
                    i += 1;
                }
                ';' | '|' | '&' | '>' | '<' => return Err(CommandLineError::Operator(c)),
                '`' => return Err(CommandLineError::Substitution),
                '$' if next.is_some_and(|n| {
                    n == '(' || n == '{' || n.is_ascii_alphanumeric() || n == '_'
                }) =>
                {
                    return Err(CommandLineError::Substitution)
                }
                '$' if next.is_some_and(|n| n == '\'' || n == '"') => {
                    return Err(CommandLineError::DollarQuote)
                }
                '\n' | '\r' => return Err(CommandLineError::Newline),
                '#' if word_start => return Err(CommandLineError::Comment),
                '*' | '?' => return Err(CommandLineError::Glob(c)),
                '~' if word_start => return Err(CommandLineError::Tilde),
                _ => {}
            },
        }
        word_start = q == Q::None && c.is_whitespace();
        i += 1;
    }
    if chars.contains(&'\0') {
        return Err(CommandLineError::Nul);
    }
    let argv = shell_words::split(line).map_err(|e| CommandLineError::Quotes(e.to_string()))?;
    if argv.is_empty() {
        return Err(CommandLineError::Empty);
    }
    Ok(argv)
}
