//! Path handling for the policy: lexical normalisation (`..`, `//`, `.`, trailing `/.`), a small
//! glob matcher over path components, and the search for path-like words inside arguments.
//!
//! The policy never trusts a path as typed: every path-like argument is normalised before the
//! sensitive-path rules look at it, and relative paths are judged as if they could start at
//! `/`. That is only the lexical half: tai also resolves every path argument on the host
//! (symlinks, `..` after a symlink, the remote working directory) and judges the resolved
//! form too (`Policy::recheck_resolved`).

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

/// Match a glob against a normalised absolute path. `*` and `?` match within one component,
/// `**` matches any number of components (including none).
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
                && match_component(p.as_bytes(), comps[0].as_bytes())
                && match_components(&pat[1..], &comps[1..])
        }
    }
}

/// Single-component wildcard match (`*`, `?`, literal bytes).
fn match_component(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    // Each step advances `si`, `pi` or `mark`; this bound is never reached.
    for _ in 0..(p.len() + 2) * (s.len() + 2) {
        if si >= s.len() {
            break;
        }
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    if si < s.len() {
        return false;
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
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
        .all(|(x, y)| match_component(y.as_bytes(), x.as_bytes()) || x == y)
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
