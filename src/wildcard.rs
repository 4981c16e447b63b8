//! The one `*`/`?` wildcard matcher over a single string (OpenSSH `match_pattern` semantics:
//! `*` matches any run of characters, including none, `?` exactly one character, everything
//! else itself; no character classes, no escapes). ssh_config `Host`/`Match` patterns,
//! known_hosts entries, ssh_config `Include` file names and the policy's path components
//! (`policy::paths`, which adds `**` across components on top) all use it. A leaf: imports
//! nothing from tai.

/// Whether `text` matches `pattern` as a whole. Iterative with one backtrack point (the last
/// `*`), so it runs in O(pattern × text) and never recurses.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    // After the last `*`: where the pattern resumes, and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            pi += 1;
            star = Some((pi, ti));
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((resume, tried)) = star {
            // Let the last `*` swallow one more character and try again.
            pi = resume;
            ti = tried + 1;
            star = Some((resume, tried + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::wildcard_match as m;

    #[test]
    fn literals_and_wildcards() {
        assert!(m("web-1", "web-1"));
        assert!(!m("web-1", "web-10"));
        assert!(!m("web-10", "web-1"));
        assert!(m("*.example.com", "a.example.com"));
        assert!(!m("*.example.com", "example.com"));
        assert!(m("web-?", "web-1"));
        assert!(!m("web-?", "web-10"));
        assert!(!m("web-?", "web-"));
        assert!(m("*", ""));
        assert!(m("**", "abc"));
        assert!(!m("?", ""));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(m("shadow*", "shadow-"));
        assert!(m("*priv*", "privkey1.pem"));
        assert!(m("*.conf", "10-db.conf"));
        assert!(!m("a*b", "ac"));
    }

    #[test]
    fn backtracks_past_early_partial_matches() {
        assert!(m("*aab", "aaab"));
        assert!(m("*.key", "a.b.key"));
        assert!(m("a*a*a", "aaaaa"));
        assert!(!m("a*a*a", "aa"));
    }

    #[test]
    fn a_star_in_the_text_is_no_wildcard() {
        // The pattern's `*` is a wildcard even where the text has a literal `*`.
        assert!(m("*b", "*ab"));
        assert!(!m("a", "*"));
        assert!(m("?", "*"));
    }

    #[test]
    fn question_mark_is_one_character_not_one_byte() {
        assert!(m("caf?", "café"));
        assert!(m("?", "é"));
        assert!(!m("??", "é"));
    }

    #[test]
    fn long_inputs_stay_fast() {
        let text = "a".repeat(2000);
        let pattern = format!("{}b", "*a".repeat(50));
        assert!(!m(&pattern, &text));
    }
}
