//! ssh_config resolution with OpenSSH semantics, checked against `ssh -G` by the oracle tests.
//!
//! tai reads the options it uses: `HostName`, `User`, `Port`, `IdentityFile`, `IdentitiesOnly`,
//! `ProxyJump`, `ProxyCommand` (reported, never executed), `UserKnownHostsFile`,
//! `GlobalKnownHostsFile`,
//! `HostKeyAlias`, `ConnectTimeout`, `ServerAliveInterval`, `ServerAliveCountMax`,
//! `StrictHostKeyChecking`, `HashKnownHosts`. Rules, as in OpenSSH's readconf.c:
//! - the first value obtained for an option wins (`IdentityFile` accumulates);
//! - options before the first `Host` apply to every host;
//! - `Host` takes whitespace-separated patterns with `*`/`?` and `!` negation, matched
//!   case-sensitively against the host argument as typed (the final hostname is lowercased);
//! - `Include` takes globs, relative to `~/.ssh` (or `/etc/ssh` for the system file); an
//!   Include inside an inactive block can never activate a `Host` of its own;
//! - `keyword value`, `keyword=value`, tabs, double quotes and trailing `#` comments;
//! - `Match` supports `all`, `host`, `originalhost`, `user`, `localuser` (each with `!`);
//!   any other criterion (`exec`, `canonical`, `final`, `localnetwork`, `tagged`) makes the
//!   whole block inactive, with a debug note, so it can never leak into another host;
//! - tokens `%%`, `%d`, `%h`, `%i`, `%L`, `%l`, `%n`, `%p`, `%r`, `%u`, `~` and `${VAR}` in
//!   `IdentityFile` and `UserKnownHostsFile`; `%h` in `HostName`; only `~` in
//!   `GlobalKnownHostsFile`.
use std::path::{Path, PathBuf};

use super::super::TransportError;
use crate::wildcard::wildcard_match;

mod aliases;
pub use aliases::host_aliases;

/// Nesting limit for `Include`, as OpenSSH.
const MAX_INCLUDE_DEPTH: usize = 16;
/// Line limit per file, so a pathological file cannot hang tai.
const MAX_LINES: usize = 100_000;

/// Facts about the local side that tokens and `Match` need.
#[derive(Debug, Clone)]
pub struct LocalContext {
    pub user: String,
    pub home: PathBuf,
    pub uid: u32,
    pub hostname: String,
}

impl LocalContext {
    pub fn current() -> Self {
        let home = dirs::home_dir().unwrap_or_else(|| PathBuf::from("/"));
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .or_else(|| crate::local_user::name_of(uid))
            .unwrap_or_else(|| uid.to_string());
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "localhost".into());
        Self {
            user,
            home,
            uid,
            hostname,
        }
    }
}

/// Raw option values as found (first wins), before token expansion.
#[derive(Debug, Default, Clone)]
struct Options {
    hostname: Option<String>,
    user: Option<String>,
    port: Option<String>,
    identity_files: Vec<String>,
    identities_only: Option<String>,
    proxy_jump: Option<String>,
    proxy_command: Option<String>,
    user_known_hosts: Option<Vec<String>>,
    global_known_hosts: Option<Vec<String>>,
    host_key_alias: Option<String>,
    connect_timeout: Option<String>,
    server_alive_interval: Option<String>,
    server_alive_count_max: Option<String>,
    strict_host_key_checking: Option<String>,
    hash_known_hosts: Option<String>,
}

/// What ssh_config says about one host, tokens expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConfig {
    /// The host argument as given, `%n`.
    pub host_arg: String,
    pub hostname: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    /// `IdentityFile` entries, expanded, in config order.
    pub identity_files: Vec<PathBuf>,
    pub identities_only: bool,
    /// `ProxyJump` (`None` when unset or `none`).
    pub proxy_jump: Option<String>,
    pub proxy_command: Option<String>,
    /// `UserKnownHostsFile` entries, expanded (`None` when unset).
    pub known_hosts_files: Option<Vec<PathBuf>>,
    /// `GlobalKnownHostsFile` entries, expanded (`None` when unset).
    pub global_known_hosts_files: Option<Vec<PathBuf>>,
    pub host_key_alias: Option<String>,
    pub connect_timeout: Option<u64>,
    pub server_alive_interval: Option<u64>,
    pub server_alive_count_max: Option<u64>,
    pub strict_host_key_checking: Option<String>,
    /// `HashKnownHosts yes`: learned host names are written hashed.
    pub hash_known_hosts: bool,
    /// Debug notes (skipped `Match` blocks, missing includes, unknown keywords).
    pub notes: Vec<String>,
}

/// Which files to read.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The user's file (`~/.ssh/config` or `-F FILE`), read first.
    pub user_file: Option<PathBuf>,
    /// The system file (`/etc/ssh/ssh_config`), read second; OpenSSH skips it with `-F`.
    pub system_file: Option<PathBuf>,
}

/// Resolve `host` (the argument, before `HostName`) through the files in `sources`.
/// `user_override` / `port_override` come from `user@host:port` and take precedence, as
/// `ssh -l`/`-p` do; they also feed `%r`/`%p`.
pub fn resolve(
    host: &str,
    user_override: Option<&str>,
    port_override: Option<u16>,
    sources: &Sources,
    local: &LocalContext,
) -> Result<HostConfig, TransportError> {
    // Host patterns match the argument as typed (case-sensitively); only the final
    // hostname is lowercased.
    let mut r = Reader {
        host: host.to_string(),
        local,
        opts: Options::default(),
        notes: Vec::new(),
    };
    if let Some(u) = user_override {
        r.opts.user = Some(u.to_string());
    }
    if let Some(p) = port_override {
        r.opts.port = Some(p.to_string());
    }
    if let Some(f) = &sources.user_file {
        r.read_file(f, 0, true, true, false)?;
    }
    if let Some(f) = &sources.system_file {
        r.read_file(f, 0, true, false, false)?;
    }
    r.finish()
}

struct Reader<'a> {
    host: String,
    local: &'a LocalContext,
    opts: Options,
    notes: Vec<String>,
}

fn cfg_err(file: &Path, line: usize, msg: impl std::fmt::Display) -> TransportError {
    TransportError::SshConfig(format!("{}:{line}: {msg}", file.display()))
}

impl Reader<'_> {
    /// Read one file. `active` is the state inherited from the including line; with
    /// `never_match`, `Host`/`Match` lines in this file can never become active.
    fn read_file(
        &mut self,
        path: &Path,
        depth: usize,
        active: bool,
        user_config: bool,
        never_match: bool,
    ) -> Result<(), TransportError> {
        let text = match std::fs::read(path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) if depth == 0 && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(TransportError::SshConfig(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        let mut active = active;
        for (idx, raw) in text.lines().take(MAX_LINES).enumerate() {
            let lineno = idx + 1;
            let Some((keyword, rest)) = split_keyword(raw) else {
                continue;
            };
            let args = split_args(rest).map_err(|m| cfg_err(path, lineno, m))?;
            match keyword.as_str() {
                "host" => {
                    active = !never_match && self.host_matches(&args);
                }
                "match" => {
                    active = !never_match && self.match_matches(&args, path, lineno)?;
                }
                "include" => {
                    if depth + 1 > MAX_INCLUDE_DEPTH {
                        return Err(cfg_err(path, lineno, "Include nested too deeply"));
                    }
                    if args.is_empty() {
                        return Err(cfg_err(path, lineno, "Include needs an argument"));
                    }
                    for arg in &args {
                        let expanded = tilde(arg, &self.local.home);
                        let pattern = if Path::new(&expanded).is_absolute() {
                            expanded
                        } else if user_config {
                            format!("{}/.ssh/{expanded}", self.local.home.display())
                        } else {
                            format!("/etc/ssh/{expanded}")
                        };
                        let mut matches: Vec<PathBuf> = glob::glob(&pattern)
                            .map_err(|e| cfg_err(path, lineno, format!("bad Include glob: {e}")))?
                            .filter_map(Result::ok)
                            .collect();
                        matches.sort();
                        if matches.is_empty() {
                            self.notes
                                .push(format!("Include {pattern}: no file matches (skipped)"));
                        }
                        for m in matches {
                            self.read_file(&m, depth + 1, active, user_config, !active)?;
                        }
                    }
                }
                _ if !active => {}
                other => self.set_option(other, &args, path, lineno)?,
            }
        }
        Ok(())
    }

    fn host_matches(&self, patterns: &[String]) -> bool {
        let mut matched = false;
        for p in patterns {
            if let Some(neg) = p.strip_prefix('!') {
                if wildcard_match(neg, &self.host) {
                    return false;
                }
            } else if wildcard_match(p, &self.host) {
                matched = true;
            }
        }
        matched
    }

    fn match_matches(
        &mut self,
        args: &[String],
        path: &Path,
        line: usize,
    ) -> Result<bool, TransportError> {
        if args.is_empty() {
            return Err(cfg_err(path, line, "Match needs criteria"));
        }
        let mut result = true;
        let mut i = 0;
        for _ in 0..args.len() {
            if i >= args.len() {
                break;
            }
            let raw = args[i].to_ascii_lowercase();
            let (negate, crit) = match raw.strip_prefix('!') {
                Some(c) => (true, c.to_string()),
                None => (false, raw.clone()),
            };
            i += 1;
            let value = |i: usize| -> Result<String, TransportError> {
                args.get(i)
                    .cloned()
                    .ok_or_else(|| cfg_err(path, line, format!("Match {crit} needs a value")))
            };
            let hit = match crit.as_str() {
                "all" => true,
                "host" => {
                    let v = value(i)?;
                    i += 1;
                    let h = self
                        .opts
                        .hostname
                        .as_deref()
                        .map(|h| expand_hostname(h, &self.host))
                        .unwrap_or_else(|| self.host.clone());
                    pattern_list_match(&v.to_ascii_lowercase(), &h)
                }
                "originalhost" => {
                    let v = value(i)?;
                    i += 1;
                    pattern_list_match(&v.to_ascii_lowercase(), &self.host.to_ascii_lowercase())
                }
                "user" => {
                    let v = value(i)?;
                    i += 1;
                    let u = self.opts.user.clone().unwrap_or(self.local.user.clone());
                    pattern_list_match(&v, &u)
                }
                "localuser" => {
                    let v = value(i)?;
                    i += 1;
                    pattern_list_match(&v, &self.local.user)
                }
                other => {
                    self.notes.push(format!(
                        "{}:{line}: Match {other} is not supported; block skipped",
                        path.display()
                    ));
                    return Ok(false);
                }
            };
            if hit == negate {
                result = false;
            }
        }
        Ok(result)
    }

    fn set_option(
        &mut self,
        keyword: &str,
        args: &[String],
        path: &Path,
        line: usize,
    ) -> Result<(), TransportError> {
        let one = || -> Result<String, TransportError> {
            match args {
                [v] => Ok(v.clone()),
                [] => Err(cfg_err(path, line, format!("{keyword}: missing argument"))),
                _ => Err(cfg_err(
                    path,
                    line,
                    format!("{keyword}: too many arguments"),
                )),
            }
        };
        let o = &mut self.opts;
        let first = |slot: &mut Option<String>, v: String| {
            if slot.is_none() {
                *slot = Some(v);
            }
        };
        match keyword {
            "hostname" => first(&mut o.hostname, one()?),
            "user" => first(&mut o.user, one()?),
            "port" => {
                let v = one()?;
                parse_port(&v).ok_or_else(|| cfg_err(path, line, format!("bad port {v:?}")))?;
                first(&mut o.port, v)
            }
            "identityfile" => o.identity_files.push(one()?),
            "identitiesonly" => first(&mut o.identities_only, one()?),
            "proxyjump" => {
                // ProxyJump and ProxyCommand exclude each other: the first one seen wins.
                let v = one()?;
                if o.proxy_command.is_none() {
                    first(&mut o.proxy_jump, v)
                }
            }
            "proxycommand" => {
                let v = args.join(" ");
                if o.proxy_jump.is_none() {
                    first(&mut o.proxy_command, v)
                }
            }
            "userknownhostsfile" | "globalknownhostsfile" => {
                if args.is_empty() {
                    return Err(cfg_err(path, line, format!("{keyword}: missing argument")));
                }
                let slot = if keyword == "userknownhostsfile" {
                    &mut o.user_known_hosts
                } else {
                    &mut o.global_known_hosts
                };
                if slot.is_none() {
                    *slot = Some(args.to_vec());
                }
            }
            "hostkeyalias" => first(&mut o.host_key_alias, one()?),
            "connecttimeout" => first(&mut o.connect_timeout, one()?),
            "serveraliveinterval" => first(&mut o.server_alive_interval, one()?),
            "serveralivecountmax" => first(&mut o.server_alive_count_max, one()?),
            "stricthostkeychecking" => first(&mut o.strict_host_key_checking, one()?),
            "hashknownhosts" => first(&mut o.hash_known_hosts, one()?),
            _ => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<HostConfig, TransportError> {
        let o = self.opts;
        let hostname = o
            .hostname
            .as_deref()
            .map(|h| expand_hostname(h, &self.host))
            .unwrap_or_else(|| self.host.to_ascii_lowercase());
        let port = match &o.port {
            Some(p) => Some(parse_port(p).ok_or_else(|| {
                TransportError::SshConfig(format!("bad port {p:?} for {}", self.host))
            })?),
            None => None,
        };
        let user = o.user.clone();
        let tokens = Tokens {
            home: &self.local.home,
            hostname: &hostname,
            host_arg: &self.host,
            port: port.unwrap_or(22),
            remote_user: user.as_deref().unwrap_or(&self.local.user),
            local: self.local,
        };
        let identity_files = o
            .identity_files
            .iter()
            .map(|f| tokens.expand_path(f))
            .collect::<Result<Vec<_>, _>>()?;
        let file_list = |v: &Option<Vec<String>>| -> Result<Option<Vec<PathBuf>>, TransportError> {
            Ok(match v {
                Some(list) if list.len() == 1 && list[0].eq_ignore_ascii_case("none") => {
                    Some(Vec::new())
                }
                Some(list) => Some(
                    list.iter()
                        .map(|f| tokens.expand_path(f))
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                None => None,
            })
        };
        let known_hosts_files = file_list(&o.user_known_hosts)?;
        // OpenSSH (9.2) expands only `~` in GlobalKnownHostsFile, no `%` tokens.
        let global_known_hosts_files = o.global_known_hosts.as_ref().map(|list| {
            list.iter()
                .map(|f| PathBuf::from(tilde(f, &self.local.home)))
                .collect::<Vec<_>>()
        });
        let num = |v: &Option<String>, what: &str| -> Result<Option<u64>, TransportError> {
            v.as_ref()
                .map(|s| {
                    s.parse::<u64>().map_err(|_| {
                        TransportError::SshConfig(format!("{what}: not a number: {s:?}"))
                    })
                })
                .transpose()
        };
        let none_is_unset = |v: Option<String>| v.filter(|s| !s.eq_ignore_ascii_case("none"));
        Ok(HostConfig {
            host_arg: self.host.clone(),
            hostname,
            user,
            port,
            identity_files,
            identities_only: o
                .identities_only
                .as_deref()
                .is_some_and(|v| v.eq_ignore_ascii_case("yes")),
            proxy_jump: none_is_unset(o.proxy_jump),
            proxy_command: none_is_unset(o.proxy_command),
            known_hosts_files,
            global_known_hosts_files,
            host_key_alias: o.host_key_alias,
            connect_timeout: num(&o.connect_timeout, "ConnectTimeout")?,
            server_alive_interval: num(&o.server_alive_interval, "ServerAliveInterval")?,
            server_alive_count_max: num(&o.server_alive_count_max, "ServerAliveCountMax")?,
            strict_host_key_checking: o.strict_host_key_checking,
            hash_known_hosts: o
                .hash_known_hosts
                .as_deref()
                .is_some_and(|v| v.eq_ignore_ascii_case("yes")),
            notes: self.notes,
        })
    }
}

fn parse_port(p: &str) -> Option<u16> {
    p.parse::<u16>().ok().filter(|p| *p > 0)
}

/// `HostName` accepts `%h` and `%%` only; the result is lowercased like OpenSSH does.
fn expand_hostname(value: &str, host: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some('h') => out.push_str(host),
                Some('%') => out.push('%'),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
        } else {
            out.push(c);
        }
    }
    out.to_ascii_lowercase()
}

/// OpenSSH `match_pattern_list`: comma-separated, `!` negation wins.
fn pattern_list_match(list: &str, value: &str) -> bool {
    let mut matched = false;
    for p in list.split(',') {
        if let Some(neg) = p.strip_prefix('!') {
            if wildcard_match(neg, value) {
                return false;
            }
        } else if wildcard_match(p, value) {
            matched = true;
        }
    }
    matched
}

fn tilde(s: &str, home: &Path) -> String {
    if s == "~" {
        home.display().to_string()
    } else if let Some(rest) = s.strip_prefix("~/") {
        format!("{}/{rest}", home.display())
    } else {
        s.to_string()
    }
}

struct Tokens<'a> {
    home: &'a Path,
    hostname: &'a str,
    host_arg: &'a str,
    port: u16,
    remote_user: &'a str,
    local: &'a LocalContext,
}

impl Tokens<'_> {
    /// `~`, then `%` tokens and `${VAR}`, as OpenSSH does for paths.
    fn expand_path(&self, raw: &str) -> Result<PathBuf, TransportError> {
        let s = tilde(raw, self.home);
        let mut out = String::new();
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        for _ in 0..chars.len() {
            if i >= chars.len() {
                break;
            }
            let c = chars[i];
            if c == '%' {
                let t = chars.get(i + 1).copied().ok_or_else(|| {
                    TransportError::SshConfig(format!("{raw:?}: '%' at end of value"))
                })?;
                match t {
                    '%' => out.push('%'),
                    'd' => out.push_str(&self.home.display().to_string()),
                    'h' => out.push_str(self.hostname),
                    'n' => out.push_str(self.host_arg),
                    'p' => out.push_str(&self.port.to_string()),
                    'r' => out.push_str(self.remote_user),
                    'u' => out.push_str(&self.local.user),
                    'i' => out.push_str(&self.local.uid.to_string()),
                    'l' => out.push_str(&self.local.hostname),
                    'L' => out.push_str(
                        self.local
                            .hostname
                            .split('.')
                            .next()
                            .unwrap_or(&self.local.hostname),
                    ),
                    other => {
                        return Err(TransportError::SshConfig(format!(
                            "{raw:?}: token %{other} is not supported by tai"
                        )))
                    }
                }
                i += 2;
            } else if c == '$' && chars.get(i + 1) == Some(&'{') {
                let end = chars[i + 2..]
                    .iter()
                    .position(|&c| c == '}')
                    .ok_or_else(|| TransportError::SshConfig(format!("{raw:?}: unclosed ${{")))?;
                let name: String = chars[i + 2..i + 2 + end].iter().collect();
                let val = std::env::var(&name).map_err(|_| {
                    TransportError::SshConfig(format!(
                        "{raw:?}: environment variable {name} is not set"
                    ))
                })?;
                out.push_str(&val);
                i += 3 + end;
            } else {
                out.push(c);
                i += 1;
            }
        }
        Ok(PathBuf::from(out))
    }
}

/// Split `keyword[ \t]*[= \t]rest`; `None` for blank and comment lines.
fn split_keyword(raw: &str) -> Option<(String, &str)> {
    let line = raw.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r' || c == '\x0c');
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line.find([' ', '\t', '=']).unwrap_or(line.len());
    let keyword = line[..end].to_ascii_lowercase();
    let mut rest = line[end..].trim_start_matches([' ', '\t']);
    if let Some(r) = rest.strip_prefix('=') {
        rest = r.trim_start_matches([' ', '\t']);
    }
    if keyword.is_empty() {
        return None;
    }
    Some((keyword, rest))
}

/// A quote opened on an ssh_config line and never closed.
#[derive(Debug, thiserror::Error)]
#[error("unterminated quote")]
struct UnterminatedQuote;

/// Split arguments: whitespace-separated, double or single quotes group, a word starting
/// with `#` ends the line.
fn split_args(rest: &str) -> Result<Vec<String>, UnterminatedQuote> {
    let mut args = Vec::new();
    let mut chars = rest.chars().peekable();
    for _ in 0..rest.len() + 1 {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        let Some(&c) = chars.peek() else {
            break;
        };
        if c == '#' {
            break;
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(&c) = chars.peek() {
            match quote {
                Some(q) if c == q => {
                    quote = None;
                    chars.next();
                }
                Some(_) => {
                    word.push(c);
                    chars.next();
                }
                None if c == '"' || c == '\'' => {
                    quote = Some(c);
                    chars.next();
                }
                None if c == ' ' || c == '\t' => break,
                None if c == '\\' => {
                    chars.next();
                    if let Some(n) = chars.next() {
                        word.push(n);
                    }
                }
                None => {
                    word.push(c);
                    chars.next();
                }
            }
        }
        if quote.is_some() {
            return Err(UnterminatedQuote);
        }
        args.push(word);
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(home: &Path) -> LocalContext {
        LocalContext {
            user: "me".into(),
            home: home.to_path_buf(),
            uid: 1000,
            hostname: "box.lan".into(),
        }
    }

    fn resolve_in(dir: &Path, text: &str, host: &str) -> HostConfig {
        let f = dir.join("config");
        std::fs::write(&f, text).unwrap();
        resolve(
            host,
            None,
            None,
            &Sources {
                user_file: Some(f),
                system_file: None,
            },
            &local(dir),
        )
        .unwrap()
    }

    #[test]
    fn splitting() {
        assert_eq!(split_keyword("  User=bob"), Some(("user".into(), "bob")));
        assert_eq!(split_keyword("Port = 22"), Some(("port".into(), "22")));
        assert_eq!(
            split_keyword("\tHostName\tx"),
            Some(("hostname".into(), "x"))
        );
        assert_eq!(split_keyword("# c"), None);
        assert_eq!(
            split_args(r#"a "b c" d # e"#).unwrap(),
            vec!["a", "b c", "d"]
        );
    }

    #[test]
    fn first_value_wins_and_globals() {
        let d = tempfile::tempdir().unwrap();
        let c = resolve_in(
            d.path(),
            "Port 2200\nHost web*\n User a\n User b\n IdentityFile ~/k1\nHost *\n User c\n IdentityFile %d/k_%h_%r\n",
            "web1",
        );
        assert_eq!(c.user.as_deref(), Some("a"));
        assert_eq!(c.port, Some(2200));
        assert_eq!(c.hostname, "web1");
        assert_eq!(
            c.identity_files,
            vec![d.path().join("k1"), d.path().join("k_web1_a")]
        );
        // Patterns are case-sensitive; the resulting hostname is lowercased.
        let c = resolve_in(
            d.path(),
            "Host web*
 User a
Host *
 User c
",
            "WEB1",
        );
        assert_eq!(c.user.as_deref(), Some("c"));
        assert_eq!(c.hostname, "web1");
    }

    #[test]
    fn negation_and_match_do_not_leak() {
        let d = tempfile::tempdir().unwrap();
        let text = "Match exec \"true\"\n User leaked\nHost db-* !db-9\n User dbuser\nMatch host other\n Port 1\nHost *\n User fallback\n";
        assert_eq!(
            resolve_in(d.path(), text, "db-1").user.as_deref(),
            Some("dbuser")
        );
        let c = resolve_in(d.path(), text, "db-9");
        assert_eq!(c.user.as_deref(), Some("fallback"));
        assert_eq!(c.port, None);
        assert!(c.notes.iter().any(|n| n.contains("Match exec")));
    }

    #[test]
    fn include_relative_to_dot_ssh_and_inactive_blocks() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join(".ssh/conf.d")).unwrap();
        std::fs::write(
            d.path().join(".ssh/conf.d/a.conf"),
            "User inc\nHost inc-only\n HostName included.example\n",
        )
        .unwrap();
        let text = "Host nomatch\n Include conf.d/*.conf\nHost x\n Include conf.d/*.conf\n";
        let c = resolve_in(d.path(), text, "x");
        assert_eq!(c.user.as_deref(), Some("inc"));
        let c = resolve_in(d.path(), text, "inc-only");
        // Included under an inactive Host: its own Host lines never match.
        assert_eq!(c.hostname, "inc-only");
        assert_eq!(c.user, None);
    }

    #[test]
    fn proxy_jump_none_and_known_hosts_tokens() {
        let d = tempfile::tempdir().unwrap();
        let c = resolve_in(
            d.path(),
            "Host a\n ProxyJump none\n UserKnownHostsFile ~/kh_%h_%p %d/kh2\nHost *\n ProxyJump j1,j2\n",
            "a",
        );
        assert_eq!(c.proxy_jump, None);
        assert_eq!(
            c.known_hosts_files,
            Some(vec![d.path().join("kh_a_22"), d.path().join("kh2")])
        );
    }
}
