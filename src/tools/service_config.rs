//! `service_config`: a service's effective configuration (nginx, Apache, sshd, HAProxy) with
//! its includes expanded, read through tai's own policy-checked steps. `nginx -T` and
//! `apachectl -S` are refused (they open logs and pid files), so tai reads the main file with
//! `cat`, finds the include directives itself, lists directories with `ls -1p` to expand
//! globs, and reads each included file the same way, depth-first in the order the server
//! would (like `nginx -T`). Every read goes through [`run_step`]: judged by the policy and
//! resolved on the host like any command, so an include cannot lead to a secret. Only include
//! directives are followed (never `ssl_certificate_key` or other file references), bounded by
//! [`MAX_FILES`] files, [`MAX_DEPTH`] nesting levels and [`MAX_LISTINGS`] directory listings,
//! with a guard against include cycles.
use std::collections::HashSet;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::schema::{parse_args, schema_for};
use super::step::run_step;
use super::types::{ArgsError, CallStatus, ExecContext, HostFacts, Run, Step, Tool, ToolError};

/// At most this many files are read per call.
pub const MAX_FILES: usize = 64;
/// Includes nest at most this deep (the main file is depth 0).
pub const MAX_DEPTH: usize = 8;
/// At most this many directories are listed to expand globs.
pub const MAX_LISTINGS: usize = 32;

/// Which server's configuration to show.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ConfigService {
    Nginx,
    Apache,
    Sshd,
    Haproxy,
}

/// Arguments of `service_config`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfigArgs {
    /// The server: `nginx`, `apache` (apache2 or httpd), `sshd` or `haproxy`.
    pub service: ConfigService,
    /// Main configuration file to start from instead of the distro default (absolute path,
    /// e.g. `/opt/nginx/conf/nginx.conf`); relative includes are then taken from its directory
    /// (Apache: from `ServerRoot` when the file sets it).
    pub path: Option<String>,
}

/// One directive that matters for expansion, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// `include` / `Include` / `IncludeOptional`: a path or glob, maybe relative.
    Include { pattern: String, optional: bool },
    /// Apache `ServerRoot`: the base of later relative includes.
    ServerRoot(String),
}

impl ConfigService {
    fn name(self) -> &'static str {
        match self {
            ConfigService::Nginx => "nginx",
            ConfigService::Apache => "apache",
            ConfigService::Sshd => "sshd",
            ConfigService::Haproxy => "haproxy",
        }
    }

    /// (main file, base directory of relative includes) candidates for a distro family.
    fn defaults(self, family: &str) -> Vec<(&'static str, &'static str)> {
        const DEB: (&str, &str) = ("/etc/apache2/apache2.conf", "/etc/apache2");
        const RHEL: (&str, &str) = ("/etc/httpd/conf/httpd.conf", "/etc/httpd");
        const SUSE: (&str, &str) = ("/etc/apache2/httpd.conf", "/etc/apache2");
        match self {
            ConfigService::Nginx => vec![("/etc/nginx/nginx.conf", "/etc/nginx")],
            ConfigService::Sshd => vec![("/etc/ssh/sshd_config", "/etc/ssh")],
            ConfigService::Haproxy => vec![("/etc/haproxy/haproxy.cfg", "/etc/haproxy")],
            ConfigService::Apache => match family {
                "debian" => vec![DEB],
                "rhel" | "arch" => vec![RHEL],
                "suse" => vec![SUSE],
                _ => vec![DEB, RHEL, SUSE],
            },
        }
    }

    /// The directives of one file's text.
    pub fn directives(self, text: &str) -> Vec<Directive> {
        match self {
            ConfigService::Nginx => nginx_directives(text),
            ConfigService::Apache => line_directives(text, true),
            ConfigService::Sshd => line_directives(text, false),
            ConfigService::Haproxy => Vec::new(),
        }
    }
}

/// nginx: `include PATH;` at the start of a statement; `#` comments and quotes respected.
fn nginx_directives(text: &str) -> Vec<Directive> {
    let mut tokens: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    let flush = |cur: &mut String, tokens: &mut Vec<String>| {
        if !cur.is_empty() {
            tokens.push(std::mem::take(cur));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '#' if cur.is_empty() => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
            }
            '"' | '\'' if cur.is_empty() => {
                while let Some(n) = chars.next() {
                    match n {
                        '\\' => cur.extend(chars.next()),
                        n if n == c => break,
                        n => cur.push(n),
                    }
                }
                // An empty quoted word is still a word.
                tokens.push(std::mem::take(&mut cur));
            }
            ';' | '{' | '}' => {
                flush(&mut cur, &mut tokens);
                tokens.push(c.to_string());
            }
            c if c.is_whitespace() => flush(&mut cur, &mut tokens),
            c => cur.push(c),
        }
    }
    flush(&mut cur, &mut tokens);
    let mut out = Vec::new();
    let mut statement_start = true;
    for (i, t) in tokens.iter().enumerate() {
        if statement_start && t == "include" {
            if let Some(p) = tokens
                .get(i + 1)
                .filter(|p| !matches!(p.as_str(), ";" | "{" | "}"))
            {
                out.push(Directive::Include {
                    pattern: p.clone(),
                    optional: false,
                });
            }
        }
        statement_start = matches!(t.as_str(), ";" | "{" | "}");
    }
    out
}

/// Apache (`apache = true`: `Include`, `IncludeOptional`, `ServerRoot`, `\` continuations) and
/// sshd (`Include` with one or more paths, `Keyword=value` allowed): one directive per line,
/// keywords case-insensitive, `#` comment lines.
fn line_directives(text: &str, apache: bool) -> Vec<Directive> {
    let mut out = Vec::new();
    let mut logical = String::new();
    for raw in text.lines() {
        if apache {
            if let Some(head) = raw.strip_suffix('\\') {
                logical.push_str(head);
                logical.push(' ');
                continue;
            }
        }
        logical.push_str(raw);
        let line = std::mem::take(&mut logical);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, rest) = match line.find(|c: char| c.is_whitespace() || (!apache && c == '=')) {
            Some(i) => (&line[..i], line[i..].trim_start()),
            None => continue,
        };
        let rest = if apache {
            rest
        } else {
            rest.trim_start_matches('=').trim_start()
        };
        let key = key.to_ascii_lowercase();
        let args = words(rest);
        match key.as_str() {
            "include" | "includeoptional" => {
                let optional = key == "includeoptional";
                let take = if apache { 1 } else { args.len() };
                for a in args.into_iter().take(take) {
                    out.push(Directive::Include {
                        pattern: a,
                        optional,
                    });
                }
            }
            "serverroot" if apache => {
                if let Some(a) = args.into_iter().next() {
                    out.push(Directive::ServerRoot(a));
                }
            }
            _ => {}
        }
    }
    out
}

/// Whitespace-separated words, `"..."` quoting; stops at a `#` comment.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '#' {
            break;
        } else if c == '"' {
            chars.next();
            out.push(chars.by_ref().take_while(|&n| n != '"').collect());
        } else {
            let mut w = String::new();
            while let Some(&n) = chars.peek() {
                if n.is_whitespace() {
                    break;
                }
                w.push(n);
                chars.next();
            }
            out.push(w);
        }
    }
    out
}

fn is_glob(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

fn dirname(p: &str) -> String {
    match p.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) => "/".into(),
        Some((d, _)) => d.to_string(),
        None => ".".into(),
    }
}

fn join(base: &str, p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("{}/{p}", base.trim_end_matches('/'))
    }
}

enum Work {
    File {
        path: String,
        depth: usize,
        optional: bool,
    },
    Include {
        pattern: String,
        optional: bool,
        depth: usize,
    },
    /// An Apache directory include: every file in it (and its subdirectories), sorted.
    Dir {
        path: String,
        depth: usize,
    },
    Root(String),
}

/// The state of one expansion.
struct Walk<'a> {
    ctx: &'a ExecContext,
    service: ConfigService,
    run: Run,
    base: String,
    seen: HashSet<String>,
    files: usize,
    listings: usize,
    notes: Vec<String>,
    stopped: bool,
}

impl Walk<'_> {
    /// Run one step; `Some(stdout)` when it ran and succeeded, `None` otherwise (with a note
    /// for a refusal). Sets `stopped` when the call must end (budget, cancellation).
    async fn step(
        &mut self,
        argv: Vec<String>,
        header: Option<&str>,
    ) -> Result<Option<String>, ToolError> {
        let header = header.map(|p| format!("# file: {p}\n"));
        let before = self.run.commands.len();
        let go_on = run_step(
            self.ctx,
            &Step::new(argv),
            &mut self.run,
            |s| match &header {
                Some(h) => format!("{h}{s}"),
                None => s,
            },
        )
        .await?;
        let Some(rec) = self.run.commands.get(before..).and_then(|r| r.last()) else {
            self.stopped = true;
            return Ok(None);
        };
        match rec.status {
            CallStatus::Denied => {
                self.notes
                    .push(format!("{}: refused by the policy, not shown", rec.command));
                Ok(None)
            }
            _ if !go_on => {
                self.stopped = true;
                Ok(None)
            }
            CallStatus::Ok => {
                if rec.truncated > 0 {
                    self.notes.push(format!(
                        "{}: {} bytes were cut from the middle; includes in that part were not followed",
                        rec.command, rec.truncated
                    ));
                }
                let text = rec.stdout.clone();
                Ok(Some(match &header {
                    Some(h) => text.strip_prefix(h.as_str()).unwrap_or(&text).to_string(),
                    None => text,
                }))
            }
            CallStatus::Error => Ok(None),
        }
    }

    /// `ls -1p DIR`: (files, subdirectories) by name, sorted.
    async fn list(&mut self, dir: &str) -> Result<Option<(Vec<String>, Vec<String>)>, ToolError> {
        if self.listings >= MAX_LISTINGS {
            self.notes.push(format!(
                "{dir}: not listed, the limit of {MAX_LISTINGS} directory listings was reached"
            ));
            return Ok(None);
        }
        self.listings += 1;
        let argv = vec!["ls".into(), "-1p".into(), "--".into(), dir.to_string()];
        let Some(text) = self.step(argv, None).await? else {
            return Ok(None);
        };
        let (mut files, mut dirs) = (Vec::new(), Vec::new());
        for name in text
            .lines()
            .filter(|n| !n.is_empty() && !n.starts_with('.'))
        {
            match name.strip_suffix('/') {
                Some(d) => dirs.push(d.to_string()),
                None => files.push(name.to_string()),
            }
        }
        files.sort();
        dirs.sort();
        Ok(Some((files, dirs)))
    }

    async fn expand(&mut self, mut stack: Vec<Work>) -> Result<(), ToolError> {
        while let Some(work) = stack.pop() {
            if self.stopped {
                break;
            }
            match work {
                Work::Root(r) if r.starts_with('/') => self.base = r,
                Work::Root(r) => self.notes.push(format!(
                    "ServerRoot {r} is not absolute; relative includes stay relative to {}",
                    self.base
                )),
                Work::Include { depth, .. } | Work::Dir { depth, .. } if depth > MAX_DEPTH => {
                    self.notes.push(format!(
                        "includes nested deeper than {MAX_DEPTH} levels were not followed"
                    ));
                }
                Work::Include {
                    pattern,
                    optional,
                    depth,
                } => {
                    let full = join(&self.base, &pattern);
                    if !full.starts_with('/') {
                        self.notes.push(format!(
                            "{pattern}: relative include with no absolute base directory; not followed"
                        ));
                        continue;
                    }
                    if !is_glob(&full) {
                        if self.service == ConfigService::Apache && full.ends_with('/') {
                            stack.push(Work::Dir { path: full, depth });
                        } else {
                            stack.push(Work::File {
                                path: full,
                                depth,
                                optional,
                            });
                        }
                        continue;
                    }
                    let trimmed = full.trim_end_matches('/');
                    let (dir, name) = match trimmed.rsplit_once('/') {
                        Some(("", n)) => ("/".to_string(), n.to_string()),
                        Some((d, n)) => (d.to_string(), n.to_string()),
                        None => continue,
                    };
                    if is_glob(&dir) {
                        self.notes.push(format!(
                            "{full}: wildcards are expanded in the file name only; list the directories with list_dir"
                        ));
                        continue;
                    }
                    let Ok(pat) = glob::Pattern::new(&name) else {
                        self.notes
                            .push(format!("{full}: not a valid wildcard pattern"));
                        continue;
                    };
                    let Some((files, _)) = self.list(&dir).await? else {
                        continue;
                    };
                    let opts = glob::MatchOptions {
                        case_sensitive: true,
                        require_literal_separator: true,
                        require_literal_leading_dot: true,
                    };
                    let matched: Vec<String> = files
                        .into_iter()
                        .filter(|f| pat.matches_with(f, opts))
                        .map(|f| join(&dir, &f))
                        .collect();
                    if matched.is_empty() && !optional {
                        self.notes.push(format!("{full}: no file matches"));
                    }
                    for path in matched.into_iter().rev() {
                        stack.push(Work::File {
                            path,
                            depth,
                            optional: true,
                        });
                    }
                }
                Work::Dir { path, depth } => {
                    let Some((files, dirs)) = self.list(&path).await? else {
                        continue;
                    };
                    for d in dirs.into_iter().rev() {
                        stack.push(Work::Dir {
                            path: join(&path, &d),
                            depth: depth + 1,
                        });
                    }
                    for f in files.into_iter().rev() {
                        stack.push(Work::File {
                            path: join(&path, &f),
                            depth,
                            optional: true,
                        });
                    }
                }
                Work::File {
                    path,
                    depth,
                    optional,
                } => {
                    if !self.seen.insert(path.clone()) {
                        self.notes
                            .push(format!("{path}: included again (shown once above)"));
                        continue;
                    }
                    if self.files >= MAX_FILES {
                        self.notes.push(format!("{path} and later files: not read, the limit of {MAX_FILES} files was reached"));
                        self.stopped = true;
                        continue;
                    }
                    self.files += 1;
                    let argv = vec!["cat".into(), "--".into(), path.clone()];
                    let Some(text) = self.step(argv, Some(&path)).await? else {
                        let dir = self
                            .run
                            .commands
                            .last()
                            .is_some_and(|r| r.stderr.contains("Is a directory"));
                        if dir && self.service == ConfigService::Apache {
                            self.files -= 1;
                            // One level deeper: a symlink back to a parent cannot loop.
                            stack.push(Work::Dir {
                                path,
                                depth: depth + 1,
                            });
                        } else if !optional {
                            self.notes.push(format!("{path}: could not be read"));
                        }
                        continue;
                    };
                    for d in self.service.directives(&text).into_iter().rev() {
                        stack.push(match d {
                            Directive::Include { pattern, optional } => Work::Include {
                                pattern,
                                optional,
                                depth: depth + 1,
                            },
                            Directive::ServerRoot(r) => Work::Root(r),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// The `service_config` tool.
pub struct ServiceConfig;

impl ServiceConfig {
    fn candidates(a: &ServiceConfigArgs, family: &str) -> Result<Vec<(String, String)>, ArgsError> {
        match &a.path {
            Some(p) => {
                if !p.starts_with('/') || p.chars().any(char::is_control) {
                    return Err(ArgsError::AbsolutePath {
                        what: "path",
                        value: p.clone(),
                    });
                }
                Ok(vec![(p.clone(), dirname(p))])
            }
            None => Ok(a
                .service
                .defaults(family)
                .into_iter()
                .map(|(m, b)| (m.to_string(), b.to_string()))
                .collect()),
        }
    }
}

#[async_trait::async_trait]
impl Tool for ServiceConfig {
    fn name(&self) -> &'static str {
        "service_config"
    }
    fn description(&self) -> &'static str {
        "Show the effective configuration of nginx, Apache, sshd or HAProxy with includes expanded (each file read through the policy)"
    }
    fn parameters(&self) -> Value {
        schema_for::<ServiceConfigArgs>()
    }
    fn render(&self, args: &Value, facts: &HostFacts) -> Result<Vec<Step>, ArgsError> {
        let a: ServiceConfigArgs = parse_args("service_config", args)?;
        let c = Self::candidates(&a, &facts.family)?;
        Ok(vec![Step::new(["cat", "--", c[0].0.as_str()])])
    }
    async fn run(&self, ctx: &ExecContext, args: &Value) -> Result<Run, ToolError> {
        let a: ServiceConfigArgs = parse_args("service_config", args)?;
        let candidates = Self::candidates(&a, &ctx.facts.family)?;
        let mut walk = Walk {
            ctx,
            service: a.service,
            run: Run::default(),
            base: String::new(),
            seen: HashSet::new(),
            files: 0,
            listings: 0,
            notes: Vec::new(),
            stopped: false,
        };
        let mut main = None;
        for (path, base) in &candidates {
            walk.base = base.clone();
            let start = walk.run.commands.len();
            walk.expand(vec![Work::File {
                path: path.clone(),
                depth: 0,
                optional: true,
            }])
            .await?;
            if walk
                .run
                .commands
                .get(start)
                .is_some_and(|r| r.status == CallStatus::Ok)
            {
                main = Some(path.clone());
                break;
            }
            if walk.stopped {
                break;
            }
        }
        let name = a.service.name();
        let mut footer = match &main {
            Some(m) => format!(
                "[service_config {name}: {} file(s) from {m}, includes expanded depth-first in the order the server reads them; comments kept, conditionals (<IfModule>, Match) not evaluated]\n",
                walk.files
            ),
            None => format!(
                "[service_config {name}: no main configuration file could be read (tried {}); pass `path` if it lives elsewhere]\n",
                candidates.iter().map(|c| c.0.as_str()).collect::<Vec<_>>().join(", ")
            ),
        };
        for n in &walk.notes {
            footer.push_str(&format!("[{n}]\n"));
        }
        let mut run = walk.run;
        run.output = footer;
        run.status = Some(if main.is_some() {
            CallStatus::Ok
        } else if run.commands.iter().any(|r| r.status == CallStatus::Denied) {
            CallStatus::Denied
        } else {
            CallStatus::Error
        });
        Ok(run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(p: &str, optional: bool) -> Directive {
        Directive::Include {
            pattern: p.into(),
            optional,
        }
    }

    #[test]
    fn nginx_includes_at_statement_start_only() {
        let text = "# include /etc/commented.conf;\nuser www-data;\ninclude /etc/nginx/modules-enabled/*.conf;\nhttp {\n  include mime.types; # types\n  log_format x 'include y';\n  include \"conf.d/*.conf\";\n  ssl_certificate_key /etc/ssl/private/k.pem;\n  server { include snippets/a.conf; }\n}\n";
        assert_eq!(
            ConfigService::Nginx.directives(text),
            vec![
                inc("/etc/nginx/modules-enabled/*.conf", false),
                inc("mime.types", false),
                inc("conf.d/*.conf", false),
                inc("snippets/a.conf", false),
            ]
        );
    }

    #[test]
    fn apache_and_sshd_directives() {
        let text = "ServerRoot \"/etc/httpd\"\n# Include no.conf\nInclude conf.modules.d/*.conf\n<IfModule x>\n  IncludeOptional \\\n    conf.d/*.conf\n</IfModule>\nSSLCertificateKeyFile /etc/pki/k.key\n";
        assert_eq!(
            ConfigService::Apache.directives(text),
            vec![
                Directive::ServerRoot("/etc/httpd".into()),
                inc("conf.modules.d/*.conf", false),
                inc("conf.d/*.conf", true),
            ]
        );
        let text = "Port 22\ninclude /etc/ssh/sshd_config.d/*.conf extra.conf\nInclude=more.conf\nHostKey /etc/ssh/ssh_host_ed25519_key\n";
        assert_eq!(
            ConfigService::Sshd.directives(text),
            vec![
                inc("/etc/ssh/sshd_config.d/*.conf", false),
                inc("extra.conf", false),
                inc("more.conf", false),
            ]
        );
        assert!(ConfigService::Haproxy.directives("include x\n").is_empty());
    }

    #[test]
    fn paths() {
        assert_eq!(dirname("/etc/nginx/nginx.conf"), "/etc/nginx");
        assert_eq!(dirname("/nginx.conf"), "/");
        assert_eq!(
            join("/etc/nginx", "conf.d/*.conf"),
            "/etc/nginx/conf.d/*.conf"
        );
        assert_eq!(join("/etc/nginx/", "/abs"), "/abs");
        assert!(is_glob("a/*.conf") && !is_glob("a/b.conf"));
    }
}
