//! The one function that turns an approved argv into a remote command line.
//!
//! Every argument is wrapped in single quotes (with `'` written as `'\''`), so a POSIX shell
//! reads each one as exactly one literal word: no metacharacter, newline, glob, `$()` or
//! backtick is ever interpreted. Nothing else in tai builds a remote command line.

/// Quote one argument for a POSIX shell.
pub fn quote_arg(arg: &str) -> String {
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('\'');
    for c in arg.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Join an argv into one command line for the remote shell, every word quoted.
pub fn command_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| quote_arg(a))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_every_word() {
        let argv = vec![
            "cat".to_string(),
            "/tmp/x; touch /tmp/pwned".to_string(),
            "it's".to_string(),
        ];
        assert_eq!(
            command_line(&argv),
            r"'cat' '/tmp/x; touch /tmp/pwned' 'it'\''s'"
        );
    }
}
