//! The one function that turns an approved argv into a remote command line.
//!
//! A word made only of characters no POSIX shell treats specially anywhere in a word
//! (`A-Z a-z 0-9 _ - . / : , @ % +`, and `=` after a leading `-`) and not empty is written
//! as is; every other word is
//! wrapped in single quotes (with `'` written as `'\''`). Either way a POSIX shell reads each
//! argument as exactly one literal word: no metacharacter, newline, glob, `~`, `=`-assignment,
//! `$()` or backtick is ever interpreted. Nothing else in tai builds a remote command line.

/// True when `arg` can be written without quotes and still be one literal word. `=` is
/// allowed only in words starting with `-` (`--lines=50`): such a word can never be read as a
/// variable assignment, nor as zsh's `=cmd` expansion.
fn is_plain(arg: &str) -> bool {
    !arg.is_empty()
        && arg.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || b"_-./:,@%+".contains(&b)
                || (b == b'=' && arg.starts_with('-'))
        })
}

/// Quote one argument for a POSIX shell.
pub fn quote_arg(arg: &str) -> String {
    if is_plain(arg) {
        return arg.to_string();
    }
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

/// Join an argv into one command line for the remote shell, every word quoted as needed.
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
    fn quotes_every_word_that_needs_it() {
        let argv = vec![
            "cat".to_string(),
            "/tmp/x; touch /tmp/pwned".to_string(),
            "it's".to_string(),
            String::new(),
            "~root".to_string(),
            "A=b".to_string(),
            "*".to_string(),
            "--since=today".to_string(),
        ];
        assert_eq!(
            command_line(&argv),
            r"cat '/tmp/x; touch /tmp/pwned' 'it'\''s' '' '~root' 'A=b' '*' --since=today"
        );
        assert_eq!(
            command_line(&["journalctl".into(), "-n".into(), "50".into()]),
            "journalctl -n 50"
        );
    }
}
