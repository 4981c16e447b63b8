//! known_hosts: looking up, checking and learning host keys (OpenSSH file format).
//!
//! Supports plain and hashed (`|1|salt|hash`) host fields, `[host]:port` for non-default
//! ports, comma-separated patterns with `*`/`?` wildcards and `!` negation, and `@revoked`
//! markers (a revoked key is always refused). `@cert-authority` lines are skipped (tai does
//! not accept host certificates). Unparsable lines are skipped, as OpenSSH does.
//!
//! Policy (accept-new): a known key passes; an unknown host is learned into the first file;
//! a different key of a type already recorded for the host is a hard stop.
use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use russh::keys::{HashAlg, PublicKey};
use sha1::Sha1;

use crate::wildcard::wildcard_match;

/// The name a host is recorded under: `host` on port 22, `[host]:port` otherwise.
pub fn host_key_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_ascii_lowercase()
    } else {
        format!("[{}]:{port}", host.to_ascii_lowercase())
    }
}

/// A key recorded in a known_hosts file.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
    pub key: PublicKey,
    pub revoked: bool,
}

/// The verdict on an offered host key.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// The key is recorded for this host.
    Known { file: PathBuf, line: usize },
    /// Nothing is recorded for this host: learn it (accept-new).
    Unknown,
    /// A key of the same type is recorded and differs: possible man-in-the-middle.
    Changed { recorded: Recorded },
    /// Keys of other types are recorded, none of the offered type: treated as a change.
    TypeChanged { recorded: Recorded },
    /// The offered key is marked `@revoked`.
    Revoked { file: PathBuf, line: usize },
}

/// Every key recorded for `name` (see [`host_key_name`]) in `files`, in file and line order.
pub fn lookup(files: &[PathBuf], name: &str) -> Vec<Recorded> {
    let mut found = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (idx, raw) in text.lines().enumerate() {
            if let Some((revoked, key)) = parse_line(raw, name) {
                found.push(Recorded {
                    file: file.clone(),
                    line: idx + 1,
                    key,
                    revoked,
                });
            }
        }
    }
    found
}

/// Algorithms recorded for `name`, most relevant first, so the key exchange can prefer them.
pub fn recorded_algorithms(files: &[PathBuf], name: &str) -> Vec<russh::keys::Algorithm> {
    let mut algs = Vec::new();
    for r in lookup(files, name) {
        if !r.revoked && !algs.contains(&r.key.algorithm()) {
            algs.push(r.key.algorithm());
        }
    }
    algs
}

/// Check `offered` against what is recorded for `name`.
pub fn check(files: &[PathBuf], name: &str, offered: &PublicKey) -> Verdict {
    let recorded = lookup(files, name);
    if let Some(r) = recorded
        .iter()
        .find(|r| r.revoked && r.key.key_data() == offered.key_data())
    {
        return Verdict::Revoked {
            file: r.file.clone(),
            line: r.line,
        };
    }
    let valid: Vec<&Recorded> = recorded.iter().filter(|r| !r.revoked).collect();
    if let Some(r) = valid
        .iter()
        .find(|r| r.key.key_data() == offered.key_data())
    {
        return Verdict::Known {
            file: r.file.clone(),
            line: r.line,
        };
    }
    if let Some(r) = valid
        .iter()
        .find(|r| same_type(&r.key.algorithm(), &offered.algorithm()))
    {
        return Verdict::Changed {
            recorded: (*r).clone(),
        };
    }
    match valid.first() {
        Some(r) => Verdict::TypeChanged {
            recorded: (*r).clone(),
        },
        None => Verdict::Unknown,
    }
}

fn same_type(a: &russh::keys::Algorithm, b: &russh::keys::Algorithm) -> bool {
    use russh::keys::Algorithm::Rsa;
    matches!((a, b), (Rsa { .. }, Rsa { .. })) || a == b
}

/// Append `key` for `name` to `file` (created with its directory if missing). With
/// `hashed` (ssh_config `HashKnownHosts yes`) the host field is written as `|1|salt|hash`.
pub fn learn(file: &Path, name: &str, key: &PublicKey, hashed: bool) -> std::io::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let existing = std::fs::read(file).unwrap_or_default();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    let mut line = String::new();
    if !existing.is_empty() && !existing.ends_with(b"\n") {
        line.push('\n');
    }
    let mut bare = key.clone();
    bare.set_comment("");
    let openssh = bare
        .to_openssh()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let host_field = if hashed {
        hash_name(name)?
    } else {
        name.to_string()
    };
    line.push_str(&format!("{host_field} {}\n", openssh.trim()));
    f.write_all(line.as_bytes())
}

/// `|1|base64(salt)|base64(HMAC-SHA1(salt, name))` with a fresh 20-byte salt, as OpenSSH.
fn hash_name(name: &str) -> std::io::Result<String> {
    use std::io::Read;
    let mut salt = [0u8; 20];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut salt)?;
    let mut mac = Hmac::<Sha1>::new_from_slice(&salt).map_err(std::io::Error::other)?;
    mac.update(name.to_ascii_lowercase().as_bytes());
    Ok(format!(
        "|1|{}|{}",
        data_encoding::BASE64.encode(&salt),
        data_encoding::BASE64.encode(&mac.finalize().into_bytes())
    ))
}

/// `SHA256:…` fingerprint, as OpenSSH prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Short key type name for messages (`ED25519`, `RSA`, `ECDSA`).
pub fn type_label(key: &PublicKey) -> &'static str {
    use russh::keys::Algorithm;
    match key.algorithm() {
        Algorithm::Ed25519 => "ED25519",
        Algorithm::Rsa { .. } => "RSA",
        Algorithm::Ecdsa { .. } => "ECDSA",
        Algorithm::Dsa => "DSA",
        _ => "host",
    }
}

/// The OpenSSH-style warning for a changed host key.
pub fn changed_message(
    display_host: &str,
    name: &str,
    offered: &PublicKey,
    rec: &Recorded,
) -> String {
    let bar = "@".repeat(59);
    format!(
        "{bar}\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n{bar}\n\
         IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n\
         Someone could be eavesdropping on you right now (man-in-the-middle attack)!\n\
         It is also possible that a host key has just been changed.\n\
         The {offered_type} host key for {display_host} ({name}) has changed.\n\
         \x20 offered now:  {offered_type} key {offered_fp}\n\
         \x20 recorded in {file}:{line}:  {rec_type} key {rec_fp}\n\
         tai stopped before running any command on {display_host}.\n\
         If you know why the key changed, remove the old entry and connect again:\n\
         \x20 ssh-keygen -R '{name}' -f {file}",
        offered_type = type_label(offered),
        offered_fp = fingerprint(offered),
        file = rec.file.display(),
        line = rec.line,
        rec_type = type_label(&rec.key),
        rec_fp = fingerprint(&rec.key),
    )
}

/// Parse one known_hosts line; `Some((revoked, key))` when it applies to `name`.
fn parse_line(raw: &str, name: &str) -> Option<(bool, PublicKey)> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = line.split_whitespace();
    let mut hosts = fields.next()?;
    let mut revoked = false;
    if let Some(marker) = hosts.strip_prefix('@') {
        match marker {
            "revoked" => revoked = true,
            _ => return None, // @cert-authority and unknown markers: not a plain host key
        }
        hosts = fields.next()?;
    }
    let kind = fields.next()?;
    let b64 = fields.next()?;
    if !hosts_match(hosts, name) {
        return None;
    }
    let key = PublicKey::from_openssh(&format!("{kind} {b64}")).ok()?;
    Some((revoked, key))
}

/// OpenSSH `match_hostname` semantics over a comma-separated host field.
fn hosts_match(field: &str, name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let mut positive = false;
    for entry in field.split(',') {
        if let Some(hashed) = entry.strip_prefix("|1|") {
            if hashed_match(hashed, &name) {
                positive = true;
            }
            continue;
        }
        let (negated, pat) = match entry.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, entry),
        };
        if wildcard_match(&pat.to_ascii_lowercase(), &name) {
            if negated {
                return false;
            }
            positive = true;
        }
    }
    positive
}

fn hashed_match(hashed: &str, name: &str) -> bool {
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (
        data_encoding::BASE64.decode(salt.as_bytes()),
        data_encoding::BASE64.decode(hash.as_bytes()),
    ) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";
    const K2: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILIG2T/B0l0gaqj3puu510tu9N1OkQ4znY3LYuEm5zCF";

    fn key(s: &str) -> PublicKey {
        PublicKey::from_openssh(s).unwrap()
    }

    #[test]
    fn plain_port_negation_and_markers() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("kh");
        std::fs::write(
            &f,
            format!(
                "# comment\n\n[127.0.0.1]:2222 {K1}\n*.corp,!bad.corp {K2}\n@cert-authority * {K1}\nweb01\t{K2} c\n"
            ),
        )
        .unwrap();
        let files = vec![f.clone()];
        assert!(matches!(
            check(&files, &host_key_name("127.0.0.1", 2222), &key(K1)),
            Verdict::Known { line: 3, .. }
        ));
        assert!(matches!(
            check(&files, &host_key_name("127.0.0.1", 2222), &key(K2)),
            Verdict::Changed { .. }
        ));
        assert!(matches!(
            check(&files, "127.0.0.1", &key(K1)),
            Verdict::Unknown
        ));
        assert!(matches!(
            check(&files, "a.corp", &key(K2)),
            Verdict::Known { .. }
        ));
        assert!(matches!(
            check(&files, "bad.corp", &key(K2)),
            Verdict::Unknown
        ));
        assert!(matches!(
            check(&files, "WEB01", &key(K2)),
            Verdict::Known { line: 6, .. }
        ));
    }

    #[test]
    fn hashed_entries() {
        // From russh's own tests: |1|…| hashes "example.com".
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("kh");
        let salt = b"0123456789abcdefghij";
        let mut mac = Hmac::<Sha1>::new_from_slice(salt).unwrap();
        mac.update(b"[h.example]:2200");
        let hash = mac.finalize().into_bytes();
        std::fs::write(
            &f,
            format!(
                "|1|{}|{} {K1}\n",
                data_encoding::BASE64.encode(salt),
                data_encoding::BASE64.encode(&hash)
            ),
        )
        .unwrap();
        let files = vec![f];
        assert!(matches!(
            check(&files, &host_key_name("h.example", 2200), &key(K1)),
            Verdict::Known { .. }
        ));
        assert!(matches!(
            check(&files, &host_key_name("h.example", 2200), &key(K2)),
            Verdict::Changed { .. }
        ));
        assert!(matches!(
            check(&files, &host_key_name("h.example", 22), &key(K1)),
            Verdict::Unknown
        ));
    }

    #[test]
    fn revoked_wins_and_learn_appends() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("sub").join("kh");
        learn(&f, "[x]:2", &key(K1), false).unwrap();
        let files = vec![f.clone()];
        assert!(matches!(
            check(&files, "[x]:2", &key(K1)),
            Verdict::Known { line: 1, .. }
        ));
        let mut text = std::fs::read_to_string(&f).unwrap();
        text.push_str(&format!("@revoked * {K1}\n"));
        std::fs::write(&f, text).unwrap();
        assert!(matches!(
            check(&files, "[x]:2", &key(K1)),
            Verdict::Revoked { line: 2, .. }
        ));
    }

    #[test]
    fn other_key_type_only_is_a_change_not_a_new_host() {
        const EC: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNTwtpz7Din05szH52W3lAbbYzfd3Jj6CDXYd+SdPiKLQjsi5YKQQLUvBf+2jUlkcOXSzBYTV18EgNp7EVMPcTE=";
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("kh");
        std::fs::write(&f, format!("h {EC}\n")).unwrap();
        let files = vec![f];
        assert!(matches!(
            check(&files, "h", &key(K1)),
            Verdict::TypeChanged { .. }
        ));
        assert_eq!(recorded_algorithms(&files, "h"), vec![key(EC).algorithm()]);
    }

    #[test]
    fn hashed_learning_hides_the_name_and_still_matches() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("kh");
        learn(&f, "[secret.example]:2222", &key(K1), true).unwrap();
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(text.starts_with("|1|"), "{text}");
        assert!(!text.contains("secret"), "{text}");
        let files = vec![f];
        assert!(matches!(
            check(&files, "[secret.example]:2222", &key(K1)),
            Verdict::Known { line: 1, .. }
        ));
        assert!(matches!(
            check(&files, "[secret.example]:2222", &key(K2)),
            Verdict::Changed { .. }
        ));
        assert!(matches!(
            check(&files, "secret.example", &key(K1)),
            Verdict::Unknown
        ));
    }

    #[test]
    fn changed_message_names_everything() {
        let rec = Recorded {
            file: PathBuf::from("/tmp/kh"),
            line: 7,
            key: key(K1),
            revoked: false,
        };
        let m = changed_message("root@h:2222", "[h]:2222", &key(K2), &rec);
        assert!(m.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"));
        assert!(m.contains("/tmp/kh:7"));
        assert!(m.contains(&fingerprint(&key(K1))));
        assert!(m.contains(&fingerprint(&key(K2))));
    }
}
