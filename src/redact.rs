//! Secret redaction, the one engine for everything tai shows or keeps: private key blocks
//! (PEM, OpenSSH, PGP) with their bodies, password hashes from `shadow`-style output,
//! `KEY=VALUE` secrets from environment dumps and configs, passwords in URLs, bearer and API
//! tokens, AWS keys, JWTs. Replacements keep the shape (`[REDACTED:kind]`) so a reader still
//! sees what was there.
//!
//! [`redact`] works on a whole text (reports, history, session summaries). [`StreamRedactor`]
//! works on a byte stream as it arrives from a host, before any output cap: line by line with
//! a bounded partial-line buffer, carrying "inside a key block" across chunks, so a key body
//! is dropped even when its BEGIN line lands in the part a head/tail cap would discard.
//! Every rule matches within one line, so the stream result does not depend on chunking.
//!
//! [`Redactor`] is the value every persisting path takes: the built-in rules plus the user's
//! `[redact] patterns` from config, matched line by line (in whole texts and in streams
//! alike), each match replaced by `[REDACTED:user-pattern]`.
use std::sync::{Arc, OnceLock};

use regex::{Regex, RegexSet};

struct Rule {
    kind: &'static str,
    re: Regex,
    /// Replacement template; `$pre`/`$post` keep the non-secret context captured by the rule.
    with: &'static str,
}

/// Start and end lines of a private key block (PEM `RSA`/`EC`/`ENCRYPTED`/plain, OpenSSH,
/// PGP `... PRIVATE KEY BLOCK`).
const KEY_BEGIN: &str = r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----";
const KEY_END: &str = r"-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----";
const KEY_MARK: &str = "[REDACTED:private-key]";

fn key_begin() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(KEY_BEGIN).expect("key pattern compiles"))
}

/// Inside a key block, any END line ends it, also one cut short on the host (`cut -c1-12`
/// gives `-----END PRI`).
fn key_end() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?m)-----END[A-Z0-9 ]*-*|^-{1,4}END( [A-Z0-9 ]*-*|$)")
            .expect("key pattern compiles")
    })
}

/// A BEGIN line cut short before its closing dashes (`cut -c1-12`, `head -c`), or at its
/// start (`awk '{print substr($0, 5, 10)}'` gives `-BEGIN OPE`): `t` is what is left of the
/// type.
fn key_begin_cut() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?m)(?:-----|^-{1,4})BEGIN(?P<t>(?: [A-Z0-9 ]*)?)-{0,4}(?:\r?\n|\z)")
            .expect("key pattern compiles")
    })
}

/// Whether a cut-short BEGIN type may be a private key: it is, unless it can only be the
/// start of a public type (a certificate, a public key, parameters, a signature).
fn cut_type_may_be_private(t: &str) -> bool {
    const PRIVATE: &[&str] = &[
        "PRIVATE KEY",
        "RSA PRIVATE KEY",
        "EC PRIVATE KEY",
        "DSA PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
        "PGP PRIVATE KEY BLOCK",
        "ANY PRIVATE KEY",
    ];
    const PUBLIC: &[&str] = &[
        "CERTIFICATE",
        "CERTIFICATE REQUEST",
        "NEW CERTIFICATE REQUEST",
        "TRUSTED CERTIFICATE",
        "X509 CRL",
        "PUBLIC KEY",
        "RSA PUBLIC KEY",
        "DH PARAMETERS",
        "EC PARAMETERS",
        "PKCS7",
        "CMS",
        "PGP PUBLIC KEY BLOCK",
        "PGP SIGNATURE",
        "PGP SIGNED MESSAGE",
        "SSH2 PUBLIC KEY",
    ];
    let t = t.trim();
    PRIVATE.iter().any(|p| p.starts_with(t)) || !PUBLIC.iter().any(|p| p.starts_with(t))
}

/// The first key block start in `text`: a whole private BEGIN marker, or a cut-short BEGIN
/// line that may be one. Returns where the marker starts and ends.
fn find_key_begin(text: &str) -> Option<(usize, usize)> {
    let full = key_begin().find(text).map(|m| (m.start(), m.end()));
    let cut = key_begin_cut()
        .captures_iter(text)
        .filter(|c| cut_type_may_be_private(c.name("t").map_or("", |t| t.as_str())))
        .map(|c| {
            let m = c.get(0).expect("whole match");
            // Keep the line's newline: it belongs to the output after the marker.
            let end = m.start() + m.as_str().trim_end_matches(['\n', '\r']).len();
            (m.start(), end)
        })
        .next();
    match (full, cut) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let r = |kind, re: &str, with| Rule {
            kind,
            re: Regex::new(re).expect("redaction pattern compiles"),
            with,
        };
        vec![
            // Private keys, whole block (or to the end if the END line is cut off).
            r(
                "private-key",
                &format!(r"(?s){KEY_BEGIN}.*?({KEY_END}|\z)"),
                KEY_MARK,
            ),
            // scheme://user:password@host
            r(
                "url-password",
                r"(?P<pre>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@",
                "${pre}[REDACTED:password]@",
            ),
            // crypt(3) hashes as shadow, htpasswd and configs hold them: MD5 `$1$`, bcrypt
            // `$2b$`, SHA-256/512 `$5$`/`$6$`, yescrypt `$y$`, gost-yescrypt, scrypt `$7$`.
            r(
                "password-hash",
                r"\$(1|2[abxy]?|5|6|7|y|gy|md5|sha1|apr1)\$[./A-Za-z0-9$=,+-]{6,}",
                "[REDACTED:password-hash]",
            ),
            // Traditional DES crypt in a shadow line: `name:13 chars:lastchg:`.
            r(
                "password-hash",
                r"(?m)^(?P<pre>[A-Za-z_][A-Za-z0-9_.-]*\$?:!*)[./0-9A-Za-z]{13}(?P<post>:[0-9]*:)",
                "${pre}[REDACTED:password-hash]${post}",
            ),
            // JWTs: three base64url parts, the first two starting with eyJ ({").
            r(
                "jwt",
                r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
                "[REDACTED:jwt]",
            ),
            // Authorization: Bearer/Basic <credential>, and auth headers with a bare credential.
            r(
                "bearer",
                r"(?i)(?P<pre>\b(bearer|basic)[ \t]+)[A-Za-z0-9._~+/=-]{8,}",
                "${pre}[REDACTED:token]",
            ),
            r(
                "auth-header",
                r"(?i)(?P<pre>\b(authorization|proxy-authorization|x-auth-token|x-api-key|private-token|cookie|set-cookie)[ \t]*[:=][ \t]*(token[ \t]+)?)[A-Za-z0-9._~+/=-]{8,}",
                "${pre}[REDACTED:token]",
            ),
            // AWS access key ids.
            r(
                "aws-access-key",
                r"\b(AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b",
                "[REDACTED:aws-key]",
            ),
            // Well-known token shapes: GitHub, GitLab, Slack, OpenAI-style, Google API keys.
            r(
                "api-token",
                r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}|xox[baprs]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{20,}|AIza[0-9A-Za-z_-]{35})",
                "[REDACTED:token]",
            ),
            // Environment dumps (`ps e`, `systemctl show -p Environment`, env files): an
            // upper-case variable whose name says it holds a secret, quoted values whole.
            r(
                "env-secret",
                r#"(?P<pre>\b[A-Z0-9_]*(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|APIKEY|API_KEY|ACCESS_KEY|PRIVATE|CREDENTIAL|AUTH)[A-Z0-9_]*=|\b[A-Z0-9_]*_(KEY|PASS|PWD|PSK)(_[A-Z0-9_]*)?=)("[^"\n]*"|'[^'\n]*'|[^\s\x00"']+)"#,
                "${pre}[REDACTED:secret]",
            ),
            // key = value / key: value / "key": "value" for secret-looking keys (covers
            // aws_secret_access_key, api_key, password=, PGPASSWORD=, client_secret ...).
            r(
                "assignment",
                r#"(?i)(?P<pre>\b[a-z0-9_.-]*(password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?)[a-z0-9_.-]*["']?[ \t]*[:=][ \t]*["']?)[^\s"'&,;]{1,}"#,
                "${pre}[REDACTED:secret]",
            ),
        ]
    })
}

/// All rules in one automaton: one pass over a text finds which rules can match at all.
fn rule_set() -> &'static RegexSet {
    static SET: OnceLock<RegexSet> = OnceLock::new();
    SET.get_or_init(|| {
        RegexSet::new(rules().iter().map(|r| r.re.as_str())).expect("redaction set compiles")
    })
}

/// Replace every secret in `text`.
pub fn redact(text: &str) -> String {
    let hits = rule_set().matches(text);
    let mut out = std::borrow::Cow::Borrowed(text);
    for (i, rule) in rules().iter().enumerate() {
        if !hits.matched_any() {
            break;
        }
        // Rules run in order on the text so far; a rule that did not match the original
        // text is still tried if an earlier replacement ran (replacements never add secrets,
        // but this keeps the result identical to running every rule).
        if (hits.matched(i) || matches!(out, std::borrow::Cow::Owned(_))) && rule.re.is_match(&out)
        {
            out = std::borrow::Cow::Owned(rule.re.replace_all(&out, rule.with).into_owned());
        }
    }
    redact_blobs(&out).unwrap_or_else(|| out.into_owned())
}

/// A `[redact] patterns` entry that is not a valid regex.
#[derive(Debug, thiserror::Error)]
#[error("[redact] pattern {index} ({pattern:?}) is not a valid regex: {reason}\n  fix or remove it in config.toml (Rust regex syntax, matched within one line)")]
pub struct PatternError {
    /// 1-based position in the `patterns` list.
    pub index: usize,
    pub pattern: String,
    pub reason: String,
}

/// What a user pattern's match is replaced with.
pub const USER_MARK: &str = "[REDACTED:user-pattern]";

/// The compiled user patterns.
struct UserPatterns {
    sources: Vec<String>,
    set: RegexSet,
    res: Vec<Regex>,
}

/// The redaction every persisting path applies: user patterns (matched line by line on the
/// text as it was, so they match what `grep -E` would), then the built-in rules. Cheap to
/// clone; the default is the built-ins alone.
#[derive(Clone, Default)]
pub struct Redactor {
    user: Option<Arc<UserPatterns>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("patterns", &self.patterns())
            .finish()
    }
}

/// Shown by `tai config` as `redact.patterns`.
impl serde::Serialize for Redactor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Redactor", 1)?;
        st.serialize_field("patterns", self.patterns())?;
        st.end()
    }
}

impl Redactor {
    /// The built-in rules only.
    pub fn builtin() -> Redactor {
        Redactor::default()
    }

    /// The built-ins plus `patterns` (Rust regex syntax). An invalid pattern is an error
    /// naming it and what is wrong; an empty list gives the built-ins alone.
    pub fn with_patterns(patterns: &[String]) -> Result<Redactor, PatternError> {
        if patterns.is_empty() {
            return Ok(Redactor::default());
        }
        let mut res = Vec::with_capacity(patterns.len());
        for (i, p) in patterns.iter().enumerate() {
            let err = |reason: String| PatternError {
                index: i + 1,
                pattern: p.clone(),
                reason,
            };
            if p.is_empty() {
                return Err(err("an empty pattern would match everywhere".into()));
            }
            let re = regex::RegexBuilder::new(p)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| err(e.to_string()))?;
            if re.is_match("") {
                return Err(err(
                    "it matches the empty string, so it would match everywhere".into(),
                ));
            }
            res.push(re);
        }
        let set = RegexSet::new(patterns).map_err(|e| PatternError {
            index: 0,
            pattern: patterns.join(" | "),
            reason: e.to_string(),
        })?;
        Ok(Redactor {
            user: Some(Arc::new(UserPatterns {
                sources: patterns.to_vec(),
                set,
                res,
            })),
        })
    }

    /// The user patterns, as configured.
    pub fn patterns(&self) -> &[String] {
        self.user.as_ref().map_or(&[], |u| u.sources.as_slice())
    }

    /// Replace every secret in `text`: user patterns, then the built-ins ([`redact`]).
    pub fn redact(&self, text: &str) -> String {
        match self.redact_user(text) {
            Some(t) => redact(&t),
            None => redact(text),
        }
    }

    /// The same redaction as a shareable function (what `audit::AuditLog::with_redactor`
    /// takes).
    pub fn to_fn(&self) -> Arc<dyn Fn(&str) -> String + Send + Sync> {
        let r = self.clone();
        Arc::new(move |text: &str| r.redact(text))
    }

    /// A stream redactor applying the same rules (user patterns per line).
    pub fn stream(&self) -> StreamRedactor {
        let mut s = StreamRedactor::new();
        s.redactor = self.clone();
        s
    }

    /// The user patterns applied line by line; `None` when none matched.
    fn redact_user(&self, text: &str) -> Option<String> {
        let u = self.user.as_ref()?;
        if !u.set.is_match(text) {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        for line in text.split_inclusive('\n') {
            let (body, nl) = match line.strip_suffix('\n') {
                Some(b) => (b, "\n"),
                None => (line, ""),
            };
            let hits = u.set.matches(body);
            if !hits.matched_any() {
                out.push_str(line);
                continue;
            }
            let mut cur = std::borrow::Cow::Borrowed(body);
            for (i, re) in u.res.iter().enumerate() {
                if hits.matched(i) || matches!(cur, std::borrow::Cow::Owned(_)) {
                    if let std::borrow::Cow::Owned(s) = re.replace_all(&cur, USER_MARK) {
                        cur = std::borrow::Cow::Owned(s);
                    }
                }
            }
            out.push_str(&cur);
            out.push_str(nl);
        }
        Some(out)
    }
}

/// Runs of the base64 alphabet long enough to be key material.
fn blob_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"[A-Za-z0-9+/]{24,}=*").expect("blob pattern compiles"))
}

/// A short piece of a random base64 text: both cases, and a digit or frequent case switches.
fn is_random_piece(tok: &str) -> bool {
    let b = tok.as_bytes();
    let (upper, lower) = (
        b.iter().filter(|c| c.is_ascii_uppercase()).count(),
        b.iter().filter(|c| c.is_ascii_lowercase()).count(),
    );
    let switches = b
        .iter()
        .filter(|c| c.is_ascii_alphabetic())
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0].is_ascii_uppercase() != w[1].is_ascii_uppercase())
        .count();
    upper >= 1 && lower >= 1 && (b.iter().any(u8::is_ascii_digit) || switches * 3 >= upper + lower)
}

/// Whether a base64-alphabet run looks like key material (or another random secret) rather
/// than a word, a path or a hex id: upper case, lower case and digits mixed, and not a path
/// whose `/`-separated parts read like names.
fn is_random_blob(tok: &str) -> bool {
    let count = |f: fn(&u8) -> bool| tok.as_bytes().iter().filter(|b| f(b)).count();
    let (upper, lower) = (count(u8::is_ascii_uppercase), count(u8::is_ascii_lowercase));
    if upper < 2 || lower < 2 {
        return false;
    }
    // Without digits, random text still switches case between letters about every other
    // letter; words and CamelCase names rarely do.
    let letters: Vec<bool> = tok
        .bytes()
        .filter(u8::is_ascii_alphabetic)
        .map(|b| b.is_ascii_uppercase())
        .collect();
    let switches = letters.windows(2).filter(|w| w[0] != w[1]).count();
    let mixed = switches * 3 >= letters.len() && upper.min(lower) * 5 >= letters.len();
    if count(u8::is_ascii_digit) < 2 && !mixed {
        return false;
    }
    let path_like = tok.matches('/').count() >= 2
        && tok
            .split('/')
            .all(|seg| seg.bytes().filter(u8::is_ascii_uppercase).count() <= 2);
    !path_like
}

/// Public material that keeps its shape: an SSH public key after its type word, a key
/// fingerprint after `SHA256:`.
fn is_public_context(before: &str, tok: &str) -> bool {
    let word = before.trim_end_matches(' ');
    (before.ends_with("SHA256:") && tok.trim_end_matches('=').len() == 43)
        || (before.ends_with(' ')
            && tok.starts_with("AAAA")
            && [
                "ssh-rsa",
                "ssh-dss",
                "ssh-ed25519",
                "ecdsa-sha2-nistp256",
                "ecdsa-sha2-nistp384",
                "ecdsa-sha2-nistp521",
                "sk-ssh-ed25519@openssh.com",
                "sk-ecdsa-sha2-nistp256@openssh.com",
            ]
            .iter()
            .any(|t| word.ends_with(t)))
}

/// Replace random-looking base64 runs: key bodies whose BEGIN/END lines were cut away on the
/// host (`grep -v BEGIN`, `tail -n +2`, `sort`, `rev`, `cut -c2-`, line-number prefixes).
/// A heuristic on top of the key-block state machine: text sliced into pieces shorter than
/// 24 characters is not caught here. `None` when nothing changed.
fn redact_blobs(text: &str) -> Option<String> {
    let re = blob_re();
    let mut changed = false;
    let out = re.replace_all(text, |c: &regex::Captures| {
        let m = c.get(0).expect("whole match");
        let tok = m.as_str();
        if is_random_blob(tok) && !is_public_context(&text[..m.start()], tok) {
            changed = true;
            "[REDACTED:base64]".to_string()
        } else {
            tok.to_string()
        }
    });
    changed.then(|| out.into_owned())
}

/// The kinds of secret found in `text` (for tests and `--rag-debug`).
pub fn findings(text: &str) -> Vec<&'static str> {
    let mut kinds: Vec<&'static str> = rules()
        .iter()
        .filter(|r| r.re.is_match(text))
        .map(|r| r.kind)
        .collect();
    if redact_blobs(text).is_some() {
        kinds.push("base64");
    }
    kinds.dedup();
    kinds
}

/// Most bytes dropped after a key's BEGIN line while waiting for its END line (no real key
/// comes close; a PGP block with photo ids is tens of KiB).
pub const MAX_KEY_BYTES: u64 = 1024 * 1024;

/// Longest partial line kept while waiting for its newline; a longer line is redacted and
/// passed on in pieces, cut at whitespace where possible and never inside a key marker.
pub const MAX_LINE: usize = 64 * 1024;

/// Redacts a byte stream as it arrives: feed chunks to [`push`](Self::push), then call
/// [`finish`](Self::finish). Output is valid UTF-8 (invalid bytes become U+FFFD).
#[derive(Debug, Clone)]
pub struct StreamRedactor {
    /// The partial line not yet passed on (at most `max_line` bytes between calls).
    pending: Vec<u8>,
    /// Inside a private key block: everything up to its END line is dropped.
    in_key: bool,
    /// Bytes dropped inside the current key block.
    key_bytes: u64,
    /// Lines made only of base64 characters, held back until the next other line: dropped
    /// if that line ends a private key (a body whose BEGIN line was cut away on the host:
    /// `tail -n 5`, `tail -c 300`), else passed on. At most [`MAX_HELD`] bytes.
    held: String,
    max_line: usize,
    /// What complete lines outside key blocks go through (built-ins, plus user patterns).
    redactor: Redactor,
}

/// Most bytes of base64-only lines held back while waiting to see what follows them.
const MAX_HELD: usize = 64 * 1024;

/// A line (without its newline) made only of base64 characters: possibly key body.
fn is_base64_line(line: &str) -> bool {
    let l = line.trim_end_matches(['\n', '\r']);
    !l.is_empty()
        && l.len() <= 128
        && l.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
}

/// A line that ends a private key block (whole, or cut short and possibly private).
fn ends_private_key(line: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"-----END(?P<t>(?: [A-Z0-9 ]*)?)(?P<d>-*)").expect("end pattern compiles")
    });
    re.captures_iter(line).any(|c| {
        let t = c.name("t").map_or("", |m| m.as_str());
        let closed = c.name("d").is_some_and(|d| d.as_str().len() >= 5);
        t.contains("PRIVATE") || (!closed && cut_type_may_be_private(t))
    })
}

impl Default for StreamRedactor {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamRedactor {
    pub fn new() -> Self {
        Self::with_max_line(MAX_LINE)
    }

    /// A redactor with a smaller partial-line bound (tests); at least 256 bytes.
    pub fn with_max_line(max_line: usize) -> Self {
        Self {
            pending: Vec::new(),
            in_key: false,
            key_bytes: 0,
            held: String::new(),
            max_line: max_line.max(256),
            redactor: Redactor::default(),
        }
    }

    /// Redact the complete lines of `data` (with what was pending) into `out`; keep the
    /// trailing partial line for the next call.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        match data.iter().rposition(|&b| b == b'\n') {
            Some(i) => {
                if self.pending.is_empty() {
                    self.process(&data[..=i], out);
                } else {
                    let mut seg = std::mem::take(&mut self.pending);
                    seg.extend_from_slice(&data[..=i]);
                    self.process(&seg, out);
                }
                self.pending.extend_from_slice(&data[i + 1..]);
            }
            None => self.pending.extend_from_slice(data),
        }
        while self.pending.len() > self.max_line {
            let cut = safe_cut(&self.pending, self.max_line);
            let rest = self.pending.split_off(cut);
            let seg = std::mem::replace(&mut self.pending, rest);
            self.process(&seg, out);
        }
    }

    /// Pass on the last partial line; say so if the stream ended inside a key block.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let seg = std::mem::take(&mut self.pending);
        self.process(&seg, out);
        self.release_held(out);
        if self.in_key {
            out.extend_from_slice(
                format!(
                    "\n[REDACTED:private-key: no END line; the {} bytes after its BEGIN line \
                     were withheld]\n",
                    self.key_bytes
                )
                .as_bytes(),
            );
            self.in_key = false;
        }
    }

    fn process(&mut self, seg: &[u8], out: &mut Vec<u8>) {
        if seg.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(seg);
        let mut rest: &str = &text;
        loop {
            if self.in_key {
                match key_end().find(rest) {
                    Some(m) => {
                        self.key_bytes += m.end() as u64;
                        rest = &rest[m.end()..];
                        self.in_key = false;
                    }
                    None => {
                        // A block without an END line hides at most MAX_KEY_BYTES of what
                        // follows (a hostile log line cannot hide the rest of a log), then
                        // output resumes at the next line.
                        let room = MAX_KEY_BYTES.saturating_sub(self.key_bytes) as usize;
                        let resume = (rest.len() > room)
                            .then(|| rest.as_bytes()[room..].iter().position(|&b| b == b'\n'))
                            .flatten()
                            .map(|p| room + p + 1);
                        let Some(cut) = resume else {
                            self.key_bytes += rest.len() as u64;
                            return;
                        };
                        self.key_bytes += cut as u64;
                        rest = &rest[cut..];
                        self.in_key = false;
                        out.extend_from_slice(
                            format!(
                                "\n[REDACTED:private-key: no END line in the {} bytes after its \
                                 BEGIN line; output resumes]\n",
                                self.key_bytes
                            )
                            .as_bytes(),
                        );
                    }
                }
            } else {
                match find_key_begin(rest) {
                    Some((start, end)) => {
                        self.emit_plain(&rest[..start], out);
                        self.release_held(out);
                        out.extend_from_slice(KEY_MARK.as_bytes());
                        self.in_key = true;
                        self.key_bytes = 0;
                        rest = &rest[end..];
                    }
                    None => {
                        self.emit_plain(rest, out);
                        return;
                    }
                }
            }
        }
    }

    /// Pass on text outside key blocks, redacted, holding back base64-only lines until the
    /// line after them shows whether they were a key body.
    fn emit_plain(&mut self, text: &str, out: &mut Vec<u8>) {
        let mut batch = 0; // start of the lines not yet passed on
        let mut at = 0;
        for line in text.split_inclusive('\n') {
            let start = at;
            at += line.len();
            if is_base64_line(line) {
                out.extend_from_slice(self.redactor.redact(&text[batch..start]).as_bytes());
                batch = at;
                self.held.push_str(line);
                if self.held.len() > MAX_HELD {
                    self.release_held(out);
                }
            } else if !self.held.is_empty() {
                if ends_private_key(line) {
                    self.held.clear();
                    out.extend_from_slice(KEY_MARK.as_bytes());
                    out.push(b'\n');
                } else {
                    self.release_held(out);
                }
            }
        }
        out.extend_from_slice(self.redactor.redact(&text[batch..]).as_bytes());
    }

    /// Pass on the held lines: redacted, or replaced whole when they are a run of at least
    /// three random-looking pieces of 8+ characters (a key body sliced into columns on the
    /// host, `cut -c13-24`).
    fn release_held(&mut self, out: &mut Vec<u8>) {
        if self.held.is_empty() {
            return;
        }
        let lines: Vec<&str> = self.held.lines().collect();
        let sliced = lines.len() >= 3 && lines.iter().all(|l| l.len() >= 8 && is_random_piece(l));
        if sliced {
            out.extend_from_slice(b"[REDACTED:base64-lines]\n");
        } else {
            out.extend_from_slice(self.redactor.redact(&self.held).as_bytes());
        }
        self.held.clear();
    }
}

/// Where to cut an over-long partial line of more than `max` bytes: at most `max` bytes,
/// after the last whitespace in its second half if there is one, never inside a UTF-8
/// character or a `-----BEGIN ...-----` marker (which would hide the marker from the key
/// state machine).
fn safe_cut(buf: &[u8], max: usize) -> usize {
    let mut cut = max.min(buf.len());
    if let Some(ws) = buf[max / 2..cut]
        .iter()
        .rposition(|b| b.is_ascii_whitespace())
    {
        cut = max / 2 + ws + 1;
    }
    // A marker starting in the last 128 bytes before the cut must end before it.
    let from = cut.saturating_sub(128);
    let to = (cut + 128).min(buf.len());
    let window = &buf[from..to];
    let mut i = 0;
    while let Some(p) = find(&window[i..], b"-----") {
        let start = from + i + p;
        if start >= cut {
            break;
        }
        // Where the marker's closing dashes end, if it is a BEGIN marker at all.
        let after = &buf[start + 5..to];
        // `-----`, `-----BEG`, `-----BEGIN ...`: possibly the start of a BEGIN marker.
        if b"BEGIN ".starts_with(&after[..after.len().min(6)]) {
            let end = find(&buf[start + 5..to], b"-----").map(|q| start + 5 + q + 5);
            if end.is_none_or(|e| e > cut) {
                cut = start;
                break;
            }
        }
        i += p + 1;
    }
    while cut > 0 && cut < buf.len() && (buf[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    if cut == 0 {
        // One marker-like run fills the line: pass it whole rather than loop forever.
        cut = max.min(buf.len());
    }
    cut
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Redact a whole byte buffer as a stream would (tests and one-shot callers).
pub fn redact_bytes(data: &[u8]) -> String {
    let mut r = StreamRedactor::new();
    let mut out = Vec::with_capacity(data.len());
    r.push(data, &mut out);
    r.finish(&mut out);
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
#[path = "redact_tests.rs"]
mod tests;
