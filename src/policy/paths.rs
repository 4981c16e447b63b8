//! Path handling for the policy: lexical normalisation (`..`, `//`, `.`, trailing `/.`), globs
//! over path components (`**` here, each component by [`crate::wildcard`]), and the search for path-like words inside arguments.
//!
//! The policy never trusts a path as typed: every path-like argument is normalised before the
//! sensitive-path rules look at it, and relative paths are judged as if they could start at
//! `/`. That is only the lexical half: tai also resolves every path argument on the host
//! (symlinks, `..` after a symlink, the remote working directory) and judges the resolved
//! form too (`Policy::recheck_resolved`).

use crate::wildcard::wildcard_match;

/// Normalise a path lexically. Absolute paths stay absolute; `..` never climbs above `/`.
/// Relative paths keep their leading `..` components. `~` and `~user` become `/home/~`, so
/// rules written for home directories (`**/.ssh/*`) still apply.
pub fn normalize(path: &str) -> String {
    let (absolute, rest) = if let Some(r) = path.strip_prefix('~') {
        // `~/x` or `~user/x`: a home directory we cannot name.
        let after = r.split_once('/').map(|(_, a)| a).unwrap_or("");
        (true, format!("home/~/{after}"))
    } else {
        (path.starts_with('/'), path.to_string())
    };
    let mut parts: Vec<&str> = Vec::new();
    for comp in rest.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_string()
    } else {
        joined
    }
}

/// The absolute paths a (possibly relative) path could name, for rule checks. A relative path
/// is judged as if it started at `/` after dropping leading `..` (the strictest reading).
pub fn candidates(path: &str) -> Vec<String> {
    let n = normalize(path);
    if n.starts_with('/') {
        return vec![n];
    }
    let stripped: Vec<&str> = n
        .split('/')
        .skip_while(|c| *c == ".." || *c == ".")
        .collect();
    vec![format!("/{}", stripped.join("/"))]
}

/// Match a glob against a normalised absolute path. `*` and `?` match within one component
/// ([`wildcard_match`], the one matcher tai has), `**` matches any number of components
/// (including none).
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    match_components(&pat, &comps)
}

fn match_components(pat: &[&str], comps: &[&str]) -> bool {
    match pat.first() {
        None => comps.is_empty(),
        Some(&"**") => {
            // `**` eats 0..=n components.
            (0..=comps.len()).any(|k| match_components(&pat[1..], &comps[k..]))
        }
        Some(p) => {
            !comps.is_empty()
                && wildcard_match(p, comps[0])
                && match_components(&pat[1..], &comps[1..])
        }
    }
}

/// Is `ancestor` equal to `path` or a directory above it (component-wise; `*` in `path`
/// matches any one component)?
pub fn is_ancestor_or_equal(ancestor: &str, path_pattern: &str) -> bool {
    let a: Vec<&str> = ancestor.split('/').filter(|c| !c.is_empty()).collect();
    let p: Vec<&str> = path_pattern.split('/').filter(|c| !c.is_empty()).collect();
    if a.len() > p.len() {
        return false;
    }
    a.iter()
        .zip(p.iter())
        .all(|(x, y)| wildcard_match(y, x) || x == y)
}

/// Path-like words inside one argument: maximal runs of characters that can appear in a path,
/// split at quotes, `=`, `,`, `:`, `;`, `@`, brackets, whitespace and redirection signs; only
/// runs containing a `/` count. For each run, the run itself and the part from its first `/`
/// are returned (so `-f/etc/shadow` and `if=/etc/shadow` are both seen as `/etc/shadow`).
pub fn embedded_paths(arg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let is_sep = |c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '"' | '\''
                    | '='
                    | ','
                    | ':'
                    | ';'
                    | '@'
                    | '('
                    | ')'
                    | '{'
                    | '}'
                    | '['
                    | ']'
                    | '<'
                    | '>'
                    | '|'
                    | '&'
                    | '`'
                    | '$'
            )
    };
    for run in arg.split(is_sep) {
        if !run.contains('/') {
            continue;
        }
        out.push(run.to_string());
        if let Some(pos) = run.find('/') {
            if pos > 0 {
                out.push(run[pos..].to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        assert_eq!(normalize("/etc//shadow"), "/etc/shadow");
        assert_eq!(normalize("/etc/./shadow/."), "/etc/shadow");
        assert_eq!(normalize("/var/log/../../etc/shadow"), "/etc/shadow");
        assert_eq!(normalize("/../../etc/shadow"), "/etc/shadow");
        assert_eq!(normalize("../../etc/shadow"), "../../etc/shadow");
        assert_eq!(normalize("a/../b/"), "b");
        assert_eq!(normalize("~/.ssh/id_rsa"), "/home/~/.ssh/id_rsa");
        assert_eq!(candidates("../../etc/shadow"), vec!["/etc/shadow"]);
        assert_eq!(candidates(".ssh/id_rsa"), vec!["/.ssh/id_rsa"]);
    }

    #[test]
    fn globs() {
        assert!(glob_match("/etc/shadow", "/etc/shadow"));
        assert!(!glob_match("/etc/shadow", "/etc/shadows"));
        assert!(glob_match("/etc/shadow*", "/etc/shadow-"));
        assert!(glob_match("**/.ssh/id_*", "/root/.ssh/id_rsa"));
        assert!(glob_match("**/.ssh/id_*", "/.ssh/id_rsa"));
        assert!(glob_match("/proc/*/environ", "/proc/self/environ"));
        assert!(!glob_match("/proc/*/environ", "/proc/environ"));
        assert!(glob_match("/dev/**/*", "/dev/sda"));
        assert!(!glob_match("/dev/**/*", "/dev"));
        assert!(glob_match("**/*.key", "/etc/ssl/a.b.key"));
        assert!(glob_match("**/*priv*", "/x/privkey1.pem"));
    }

    #[test]
    fn ancestors() {
        assert!(is_ancestor_or_equal("/", "/etc/shadow"));
        assert!(is_ancestor_or_equal("/etc", "/etc/shadow"));
        assert!(is_ancestor_or_equal("/home/bob", "/home/*/.ssh"));
        assert!(!is_ancestor_or_equal("/var/log", "/etc/shadow"));
    }

    #[test]
    fn finds_embedded_paths() {
        let p = embedded_paths("if=/etc/shadow");
        assert!(p.contains(&"/etc/shadow".to_string()), "{p:?}");
        let p = embedded_paths("-f/etc/shadow");
        assert!(p.contains(&"/etc/shadow".to_string()), "{p:?}");
        let p = embedded_paths(r#"BEGIN{ARGV[1]="/etc/shadow"}"#);
        assert!(p.contains(&"/etc/shadow".to_string()), "{p:?}");
        assert!(embedded_paths("nginx").is_empty());
    }
}
