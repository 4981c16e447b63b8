//! The host aliases an ssh_config file names: every literal `Host` pattern (no `*`, `?` or
//! `!`), through `Include`s, read with the resolver's own line splitting and `Include`
//! semantics (globs relative to `~/.ssh`). Used to offer host names (REPL completion) and to
//! build allowlists from a pattern (`tai mcp --host-pattern`); resolving one host stays
//! [`super::resolve`]'s job.
use std::path::{Path, PathBuf};

use super::{split_args, split_keyword, tilde, MAX_INCLUDE_DEPTH};

/// At most this many aliases are listed.
const MAX_ALIASES: usize = 2000;

/// The literal `Host` aliases of the user ssh_config at `path`, in file order, without
/// repeats. A missing or unreadable file (or include) lists nothing; nothing here fails.
pub fn host_aliases(path: &Path) -> Vec<String> {
    let home = dirs::home_dir().unwrap_or_else(|| PathBuf::from("/"));
    let mut out = Vec::new();
    collect(path, &home, 0, &mut out);
    let mut seen = std::collections::HashSet::new();
    out.retain(|h| seen.insert(h.clone()));
    out
}

fn collect(path: &Path, home: &Path, depth: usize, out: &mut Vec<String>) {
    if depth > MAX_INCLUDE_DEPTH || out.len() >= MAX_ALIASES {
        return;
    }
    let Ok(bytes) = std::fs::read(path) else {
        return;
    };
    let text = String::from_utf8_lossy(&bytes);
    for raw in text.lines() {
        let Some((keyword, rest)) = split_keyword(raw) else {
            continue;
        };
        let Ok(args) = split_args(rest) else {
            continue;
        };
        match keyword.as_str() {
            "host" => {
                for pat in args {
                    if !pat.is_empty() && !pat.contains(['*', '?', '!']) && out.len() < MAX_ALIASES
                    {
                        out.push(pat);
                    }
                }
            }
            "include" => {
                for arg in &args {
                    let expanded = tilde(arg, home);
                    let pattern = if Path::new(&expanded).is_absolute() {
                        expanded
                    } else {
                        format!("{}/.ssh/{expanded}", home.display())
                    };
                    let Ok(paths) = glob::glob(&pattern) else {
                        continue;
                    };
                    let mut files: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
                    files.sort();
                    for f in files {
                        collect(&f, home, depth + 1, out);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_hosts_through_includes_in_file_order() {
        let dir = tempfile::tempdir().unwrap();
        let inc = dir.path().join("conf.d");
        std::fs::create_dir(&inc).unwrap();
        std::fs::write(inc.join("10-db.conf"), "Host db01 db02\n  User postgres\n").unwrap();
        std::fs::write(inc.join("README"), "Host notincluded\n").unwrap();
        let main = dir.path().join("config");
        std::fs::write(
            &main,
            format!(
                "# comment\nUser ops\nHost web01 web-*.prod !bad ?x\n  HostName 1.2.3.4\n\
                 host=bastion\nHost \"quoted\"\n\tHost\tTabbed\nMatch host foo\nHost *\n\
                 Include {}/conf.d/*.conf\nHost web01\n",
                dir.path().display()
            ),
        )
        .unwrap();
        assert_eq!(
            host_aliases(&main),
            ["web01", "bastion", "quoted", "Tabbed", "db01", "db02"]
        );
        // A missing file is no error, just no hosts.
        assert!(host_aliases(&dir.path().join("absent")).is_empty());
    }

    #[test]
    fn include_loops_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, format!("Host h1\nInclude {}\n", a.display())).unwrap();
        assert_eq!(host_aliases(&a), ["h1"]);
    }
}
