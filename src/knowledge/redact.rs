//! Redaction of secrets before anything is written under TAI_HOME: private key blocks,
//! passwords in URLs and `password=`-style assignments, bearer and API tokens, AWS keys, JWTs.
//! Replacements keep the shape (`[REDACTED:kind]`) so a reader still sees what was there.
use std::sync::OnceLock;

use regex::Regex;

struct Rule {
    kind: &'static str,
    re: Regex,
    /// Replacement template; `$pre` keeps the non-secret prefix captured by the rule.
    with: &'static str,
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
            // PEM/OpenSSH private keys, whole block (or to the end if the END line is cut off).
            r(
                "private-key",
                r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\z)",
                "[REDACTED:private-key]",
            ),
            // scheme://user:password@host
            r(
                "url-password",
                r"(?P<pre>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@",
                "${pre}[REDACTED:password]@",
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
                r"(?i)(?P<pre>\b(bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}",
                "${pre}[REDACTED:token]",
            ),
            r(
                "auth-header",
                r"(?i)(?P<pre>\b(authorization|x-auth-token|x-api-key|private-token)\s*[:=]\s*(token\s+)?)[A-Za-z0-9._~+/=-]{8,}",
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
            // key = value / key: value / "key": "value" for secret-looking keys (covers
            // aws_secret_access_key, api_key, password=, PGPASSWORD=, client_secret ...).
            r(
                "assignment",
                r#"(?i)(?P<pre>\b[a-z0-9_.-]*(password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?)[a-z0-9_.-]*["']?\s*[:=]\s*["']?)[^\s"'&,;]{1,}"#,
                "${pre}[REDACTED:secret]",
            ),
        ]
    })
}

/// Replace every secret in `text`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for rule in rules() {
        if rule.re.is_match(&out) {
            out = rule.re.replace_all(&out, rule.with).into_owned();
        }
    }
    out
}

/// The kinds of secret found in `text` (for tests and `--rag-debug`).
pub fn findings(text: &str) -> Vec<&'static str> {
    rules()
        .iter()
        .filter(|r| r.re.is_match(text))
        .map(|r| r.kind)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(input: &str, secret: &str) -> String {
        let out = redact(input);
        assert!(!out.contains(secret), "secret survived: {out}");
        assert!(out.contains("[REDACTED:"), "{out}");
        out
    }

    #[test]
    fn private_keys() {
        let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----";
        let out = clean(
            &format!("found:\n{key}\nafter"),
            "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
        );
        assert!(out.contains("after"));
        clean(
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAtruncated",
            "MIIEowIBAAKCAQEAtruncated",
        );
        clean(
            "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----",
            "MHcCAQEEIB",
        );
    }

    #[test]
    fn url_passwords() {
        let out = clean(
            "DATABASE_URL postgres://app:s3cr3tP4ss@db01:5432/app",
            "s3cr3tP4ss",
        );
        assert!(
            out.contains("postgres://app:[REDACTED:password]@db01:5432/app"),
            "{out}"
        );
        clean(
            "fetching https://deploy:hunter2@git.example.com/repo.git",
            "hunter2",
        );
        assert_eq!(
            redact("see http://example.com:8080/path"),
            "see http://example.com:8080/path"
        );
    }

    #[test]
    fn password_assignments() {
        clean("password=hunter2 user=bob", "hunter2");
        clean("PGPASSWORD='Tr0ub4dor&3' psql", "Tr0ub4dor");
        clean("{\"db_password\": \"abc123xyz\"}", "abc123xyz");
        clean("mysql_root_passwd: SuperSecret1", "SuperSecret1");
        let out = clean("client_secret=AbCdEf123456 next", "AbCdEf123456");
        assert!(out.contains("next"));
    }

    #[test]
    fn bearer_and_api_tokens() {
        clean(
            "Authorization: Bearer abcdef0123456789abcdef",
            "abcdef0123456789abcdef",
        );
        clean(
            "token ghp_1234567890abcdefghijABCDEFGHIJ123456",
            "ghp_1234567890abcdefghij",
        );
        clean(
            "export OPENAI_KEY=sk-proj-abcdefghijklmnopqrstuvwx",
            "sk-proj-abcdefghijklmnop",
        );
        clean("slack xoxb-123456789012-abcdefghijkl", "xoxb-123456789012");
        clean("api_key: 9f8e7d6c5b4a39281706", "9f8e7d6c5b4a39281706");
    }

    #[test]
    fn aws_keys() {
        clean(
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
            "AKIAIOSFODNN7EXAMPLE",
        );
        clean("key AKIAIOSFODNN7EXAMPLE in log", "AKIAIOSFODNN7EXAMPLE");
        clean(
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "wJalrXUtnFEMI/K7MDENG",
        );
    }

    #[test]
    fn jwts() {
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        let out = clean(
            &format!("cookie session={jwt}; path=/"),
            "dozjgNryP4J3jVmNHl0w5N",
        );
        assert!(!out.contains("eyJzdWIiOiIxMjM0NTY3ODkwIn0"));
    }

    #[test]
    fn ordinary_text_is_untouched() {
        let s = "nginx: connect() failed (111: Connection refused) while connecting to upstream, upstream: \"http://127.0.0.1:8080/\"";
        assert_eq!(redact(s), s);
        let s =
            "Filesystem /dev/sda1 100% /var; token bucket refilled; passwords are rotated weekly";
        assert_eq!(redact(s), s);
        assert!(findings(s).is_empty());
    }
}
