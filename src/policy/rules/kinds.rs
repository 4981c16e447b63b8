//! Argument kinds: the vocabulary of `options = { "-n" = "number" }` and `positional = [...]`
//! (parsing a kind string, and checking one value against its kind). Path kinds are checked
//! by the caller (they need the path rules); this module only says what a kind is.
use super::super::{scripts, url};

/// The kind of a value or positional argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// No value.
    Flag,
    /// Any text (`text`, alias `any`); a `@WORD` is read as `@FILE` and checked as a path.
    Text,
    /// A regex or pattern (`grep -e`, `journalctl -g`): as its own word it may start with `-`.
    Pattern,
    Word,
    /// A bare name: like `word` but no `/` and no leading `.` (`service NAME` runs
    /// `/etc/init.d/NAME`, so a path there would run any program).
    Name,
    Number,
    Signed,
    /// A file the program reads.
    Path,
    /// A directory a recursive option walks (the recursive guard applies).
    Dir,
    Url,
    /// A host name or address (`@server` is the name, not a file).
    Host,
    /// `HOST:PORT`, `[V6]:PORT` or `HOST` (`openssl s_client -connect`).
    HostPort,
    DevNull,
    Format,
    Awk,
    Sed,
    /// Text curl sends or prints: no leading `@` (curl reads that file and sends it), no
    /// `-w %output{FILE}` (writes a file); see `url::check_curl_text`.
    NoAt,
    /// Any text without rpm macro expansion (`%(...)`, `%{lua:...}`).
    NoMacro,
    Enum(Vec<String>),
}

impl Kind {
    /// Values of this kind name a file or directory the program reads.
    pub fn is_path(&self) -> bool {
        matches!(self, Kind::Path | Kind::Dir)
    }

    /// A word starting with `@` of this kind is a file the program reads (`@FILE`).
    pub fn reads_at_file(&self) -> bool {
        matches!(self, Kind::Path | Kind::Dir | Kind::Text)
    }
}

/// How an option's value is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// Required: attached (`-n5`, `--lines=5`) or the next word.
    Required,
    /// `kind?`: optional, only attached (`--color=auto`, `-n5`); never the next word.
    Attached,
    /// `kind?next`: optional, attached or the next word when that word parses as the kind
    /// (journalctl's `-b -1`, `-n 50`).
    Next,
}

/// A kind with its arity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptKind {
    pub kind: Kind,
    pub arity: Arity,
}

/// An option kind in a policy file that tai does not know (a policy bug, found at load).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KindError {
    #[error("unknown argument kind `{0}`")]
    Unknown(String),
    #[error("`{0}`: a flag takes no value, optional or not")]
    FlagWithValue(String),
}

/// Why a value does not fit its kind, phrased to follow "value `v`".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("must be a plain name (letters, digits, `_@.:+-`)")]
    Word,
    #[error("must be a bare name (no `/`, no leading `.`)")]
    Name,
    #[error("must be a number")]
    Number,
    #[error("may only be /dev/null (tai never writes files)")]
    DevNull,
    #[error("must be a +FORMAT (other arguments would change state)")]
    Format,
    #[error("may not contain macro expansions (`%(...)` runs a shell)")]
    Macro,
    #[error("must be one of: {}", .0.join(", "))]
    Enum(Vec<String>),
    /// A probe target (URL, host, curl text) that is refused.
    #[error(transparent)]
    Probe(#[from] url::ProbeError),
    /// An awk program or sed script that is refused.
    #[error(transparent)]
    Script(#[from] scripts::ScriptError),
}

pub fn parse_kind(s: &str) -> Result<OptKind, KindError> {
    let (base, arity) = if let Some(b) = s.strip_suffix("?next") {
        (b, Arity::Next)
    } else if let Some(b) = s.strip_suffix('?') {
        (b, Arity::Attached)
    } else {
        (s, Arity::Required)
    };
    let kind = match base {
        "flag" => Kind::Flag,
        "any" | "text" => Kind::Text,
        "pattern" => Kind::Pattern,
        "word" => Kind::Word,
        "name" => Kind::Name,
        "number" => Kind::Number,
        "signed" => Kind::Signed,
        "path" => Kind::Path,
        "dir" => Kind::Dir,
        "url" => Kind::Url,
        "host" => Kind::Host,
        "hostport" => Kind::HostPort,
        "devnull" => Kind::DevNull,
        "format" => Kind::Format,
        "awk" => Kind::Awk,
        "sed" => Kind::Sed,
        "noat" => Kind::NoAt,
        "nomacro" => Kind::NoMacro,
        other => match other.strip_prefix("enum:") {
            Some(list) => Kind::Enum(list.split('|').map(str::to_string).collect()),
            None => return Err(KindError::Unknown(s.to_string())),
        },
    };
    if kind == Kind::Flag && arity != Arity::Required {
        return Err(KindError::FlagWithValue(s.to_string()));
    }
    Ok(OptKind { kind, arity })
}

/// Is `v` a negative number (`-1`, `-5.5`)? Such words are values, not options.
pub fn is_negative_number(v: &str) -> bool {
    v.strip_prefix('-')
        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
}

/// Check a value against a kind that needs no path rules (`Path`, `Dir` and `@FILE` are the
/// caller's). `Err` is the reason, phrased to follow "value `v`".
pub fn check_plain(kind: &Kind, v: &str) -> Result<(), ValueError> {
    let fail = Err;
    match kind {
        Kind::Flag | Kind::Text | Kind::Pattern | Kind::Path | Kind::Dir => Ok(()),
        Kind::Word => {
            let ok = !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_@.:+\\-/*%,^~".contains(c))
                && !v.starts_with('-');
            if ok {
                Ok(())
            } else {
                fail(ValueError::Word)
            }
        }
        Kind::Name => {
            let ok = !v.is_empty()
                && !v.starts_with(['.', '-'])
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_@.:+-".contains(c));
            if ok {
                Ok(())
            } else {
                fail(ValueError::Name)
            }
        }
        Kind::Number => {
            if !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()) {
                Ok(())
            } else {
                fail(ValueError::Number)
            }
        }
        Kind::Signed => {
            let body = v.strip_prefix(['-', '+']).unwrap_or(v);
            if !body.is_empty()
                && body.starts_with(|c: char| c.is_ascii_digit())
                && body.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
            {
                Ok(())
            } else {
                fail(ValueError::Number)
            }
        }
        Kind::Url => Ok(url::check_url(v)?),
        Kind::Host => Ok(url::check_host(v)?),
        Kind::HostPort => Ok(url::check_host_port(v)?),
        Kind::DevNull => {
            if v == "/dev/null" {
                Ok(())
            } else {
                fail(ValueError::DevNull)
            }
        }
        Kind::Format => {
            if v.starts_with('+') {
                Ok(())
            } else {
                fail(ValueError::Format)
            }
        }
        Kind::NoAt => Ok(url::check_curl_text(v)?),
        Kind::NoMacro => {
            if v.contains("%(") || v.contains("%{lua") || v.contains("%{expand") {
                fail(ValueError::Macro)
            } else {
                Ok(())
            }
        }
        Kind::Awk => Ok(scripts::check_awk(v)?),
        Kind::Sed => Ok(scripts::check_sed(v)?),
        Kind::Enum(list) => {
            if list.iter().any(|x| x == v) {
                Ok(())
            } else {
                Err(ValueError::Enum(list.clone()))
            }
        }
    }
}
