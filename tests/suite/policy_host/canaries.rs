//! Canaries planted on the test host and the manifest that proves it unchanged: a marked
//! private key at secret-named paths, a symlink farm, files under an allowed recursion root,
//! and the state (mode, size, mtime, hash, link target, names) of every watched path.
use std::collections::BTreeMap;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Everything planted on the host, removed on drop.
pub struct Canaries {
    /// Marker put in the argv of long-running commands, looked for in `/proc/*/cmdline`.
    pub proc_marker: String,
    pub id: String,
    /// `/tmp/tai-host-XXXX`: keys at secret-named paths and the symlink farm.
    pub tree: tempfile::TempDir,
    /// `/var/log/tai-host-ID`: under an allowed recursion root.
    pub log_dir: PathBuf,
    pub home: PathBuf,
    /// Files planted outside the two trees (removed on drop).
    pub planted: Vec<PathBuf>,
    /// Byte strings no output may contain.
    pub secrets: Vec<String>,
}

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let h = Sha256::digest(format!("{nanos}-{}", std::process::id()));
    h.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// 16 random characters of the base64 alphabet (no `+`/`/`): the key body's secret, unrelated
/// to [`unique`] so that no path or command line ever contains a piece of it.
fn secret_word() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let h = Sha256::digest(format!(
        "key-{}-{:?}",
        unique(),
        std::thread::current().id()
    ));
    h.iter()
        .take(16)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// Every `n`-character window of `word` read cyclically (the body lines repeat it), and of
/// `word` reversed: any of them in an output is a piece of the key body.
fn windows(word: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for w in [word.to_string(), word.chars().rev().collect::<String>()] {
        let twice = w.repeat(2);
        for i in 0..w.len() {
            out.push(twice[i..i + n].to_string());
        }
    }
    out
}

/// An OpenSSH-style private key whose body lines are `marker` repeated; `lines` body lines.
fn marked_key(marker: &str, lines: usize) -> String {
    let mut s = String::from("-----BEGIN OPENSSH PRIVATE KEY-----\n");
    s.push_str("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n");
    for _ in 0..lines {
        let line = marker.repeat(4);
        s.push_str(&line[..64]);
        s.push('\n');
    }
    s.push_str("-----END OPENSSH PRIVATE KEY-----\n");
    s
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Base64 body lines of a PEM/OpenSSH private key file (the bytes that must never leak).
fn key_body_lines(text: &str) -> Vec<String> {
    if !text.contains("PRIVATE KEY") {
        return Vec::new();
    }
    text.lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 40)
        .map(|l| l[8..40].to_string())
        .collect()
}

/// Secrets of this machine that no output may contain: host key bodies, TLS key bodies,
/// password hashes.
fn real_secrets() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["/etc/ssh", "/etc/ssl/private"] {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                if let Ok(text) = std::fs::read_to_string(e.path()) {
                    out.extend(key_body_lines(&text));
                }
            }
        }
    }
    for f in ["/etc/shadow", "/etc/gshadow"] {
        if let Ok(text) = std::fs::read_to_string(f) {
            for line in text.lines() {
                if let Some(hash) = line.split(':').nth(1) {
                    if hash.starts_with('$') && hash.len() >= 20 {
                        out.push(hash.to_string());
                    }
                }
            }
        }
    }
    out
}

impl Canaries {
    pub fn plant() -> Canaries {
        let id = unique();
        let key_marker = secret_word();
        let proc_marker = format!("TAIPROC{id}");
        let home = PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()));
        let tree = tempfile::Builder::new()
            .prefix("tai-host-")
            .tempdir_in("/tmp")
            .unwrap();
        let t = tree.path().to_path_buf();
        let l = PathBuf::from(format!("/var/log/tai-host-{id}"));
        let key = marked_key(&key_marker, 8);
        // Keys at real secret names inside the temp tree.
        write(&t.join("etc-ssh/ssh_host_ed25519_key"), &key, 0o600);
        write(&t.join("home/.ssh/id_ed25519"), &key, 0o600);
        write(&t.join("app/server.key"), &key, 0o600);
        write(
            &t.join("shadow"),
            &format!("root:$6${key_marker}$abcdefghijklmnopqrstuvwxyz:19000:0:99999:7:::\n"),
            0o640,
        );
        write(
            &t.join("app/.env"),
            &format!("DB_PASSWORD={key_marker}\n"),
            0o600,
        );
        // A key inside an innocently named file: only redaction can catch it.
        write(
            &t.join("etc-ssh/notes.log"),
            &format!("rotated the host key today:\n{key}done\n"),
            0o644,
        );
        write(&t.join("pats"), "error\n", 0o644);
        std::fs::create_dir_all(t.join("etc-ssh/sub")).unwrap();
        symlink("/etc", t.join("link-etc")).unwrap();
        symlink("/etc/shadow", t.join("pw.txt")).unwrap();
        symlink(t.join("etc-ssh/ssh_host_ed25519_key"), t.join("notes.txt")).unwrap();
        symlink(t.join("etc-ssh/sub"), t.join("dirlink")).unwrap();

        // Real secret places.
        let mut planted = Vec::new();
        let ssl_canary = PathBuf::from(format!("/etc/ssl/private/tai-canary-{id}.txt"));
        write(&ssl_canary, &key, 0o600);
        planted.push(ssl_canary.clone());
        let home_key = home.join(format!(".ssh/id_tai_canary_{id}"));
        write(&home_key, &key, 0o600);
        planted.push(home_key);
        let home_link = home.join(format!("tai-canary-{id}.lnk"));
        symlink(&ssl_canary, &home_link).unwrap();
        planted.push(home_link);

        // Under an allowed recursion root.
        write(
            &l.join("app.log"),
            "listen 80\nerror: upstream timed out\nok\n",
            0o644,
        );
        write(&l.join("sub/leak.key"), &key, 0o600);
        write(
            &l.join("sub/creds.log"),
            &format!(
                "AWS_SECRET_ACCESS_KEY={key_marker}\nDB_PASSWORD={key_marker}\n\
                 url=https://admin:{key_marker}@db.internal/\n"
            ),
            0o644,
        );
        // Redaction before the cap: key blocks far bigger than the cap, with the BEGIN line in
        // the dropped middle, and with it in the kept head.
        let filler: String = (0..6000)
            .map(|i| format!("filler line {i:06} nothing to see here\n"))
            .collect();
        let big_key = marked_key(&key_marker, 3000);
        write(
            &l.join("big-middle.log"),
            &format!("{filler}{big_key}tail line\n"),
            0o644,
        );
        write(
            &l.join("big-head.log"),
            &format!("head line\n{big_key}{filler}"),
            0o644,
        );
        // A key inside a log and a certificate bundle (cert + key) with innocent names: only
        // redaction stands between them and the output, whatever the reader does to the lines.
        write(
            &l.join("sub/rotated.log"),
            &format!("rotated the deploy key:\n{key}done\n"),
            0o644,
        );
        let pem_key = key.replace("OPENSSH PRIVATE KEY", "PRIVATE KEY").replacen(
            "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
            1,
        );
        write(
            &l.join("bundle.pem"),
            &format!(
                "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUJ0aGVsbG8gd29ybGQgdGhpcyBpcyBhIGNlcnQ\n\
                 -----END CERTIFICATE-----\n{pem_key}"
            ),
            0o644,
        );
        symlink(&ssl_canary, l.join("cert.log")).unwrap();
        symlink("/etc", l.join("link-etc")).unwrap();
        symlink("/etc/ssl/private", l.join("link-sslpriv")).unwrap();
        symlink("/proc/1/root", l.join("procroot")).unwrap();
        symlink("/proc/1/environ", l.join("env.log")).unwrap();
        symlink(&home, l.join("link-home")).unwrap();

        // Any 8 characters of the key body, also reversed (`rev`): a reader that cuts the body
        // into short windows (`cut -c1-8`, `tail -c`, `substr`) must not get them out either.
        let mut secrets = windows(&key_marker, 8);
        secrets.extend(real_secrets());
        Canaries {
            proc_marker,
            id,
            tree,
            log_dir: l,
            home,
            planted,
            secrets,
        }
    }

    /// Fill a line template: `{T}` temp tree, `{L}` log dir, `{ID}`, `{P}` process marker,
    /// `{HOME}`.
    pub fn fill(&self, template: &str) -> String {
        template
            .replace("{T}", self.tree.path().to_str().unwrap())
            .replace("{L}", self.log_dir.to_str().unwrap())
            .replace("{ID}", &self.id)
            .replace("{P}", &self.proc_marker)
            .replace("{HOME}", self.home.to_str().unwrap())
    }

    /// What a writer would change: the two trees, the places programs drop files in, and
    /// every `/tmp/...` path the lines name.
    pub fn manifest(&self, lines: &[String]) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        walk(self.tree.path(), &mut m);
        walk(&self.log_dir, &mut m);
        let mut watched: Vec<PathBuf> = vec![
            self.home.join(".config"),
            self.home.join(".config/procps"),
            self.home.join(".ssh"),
            self.home.join(".docker"),
            self.home.join(".curlrc"),
            self.home.join(".digrc"),
            // apt runs without its binary caches, LVM with --readonly: neither may touch these.
            "/var/cache/apt/pkgcache.bin".into(),
            "/var/cache/apt/srcpkgcache.bin".into(),
            "/etc/lvm".into(),
            "/run/lock/lvm".into(),
            "/etc/.pwd.lock".into(),
            "/etc/ssl/private".into(),
            "/etc/passwd".into(),
            "/etc/shadow".into(),
            "/etc/hosts".into(),
            "/etc/crontab".into(),
            "/tmp/pwned".into(),
        ];
        for line in lines {
            for word in line.split([' ', '=', '\'', '"', '@', '<']) {
                let w = word.trim_start_matches("-o");
                if w.starts_with("/tmp/") && !w.contains("tai-host-") {
                    watched.push(w.into());
                }
            }
        }
        for p in watched {
            m.insert(p.display().to_string(), state(&p));
        }
        m
    }
}

impl Drop for Canaries {
    fn drop(&mut self) {
        for p in &self.planted {
            let _ = std::fs::remove_file(p);
        }
        let _ = std::fs::remove_dir_all(&self.log_dir);
    }
}

/// One path's state: kind, mode, size, mtime and content hash (files), target (links), names
/// (directories). Nothing is followed.
fn state(p: &Path) -> String {
    let Ok(md) = std::fs::symlink_metadata(p) else {
        return "absent".into();
    };
    let ft = md.file_type();
    let base = format!("mode={:o} uid={}", md.mode(), md.uid());
    if ft.is_symlink() {
        format!("link {base} -> {:?}", std::fs::read_link(p).ok())
    } else if ft.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(p)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        format!("dir {base} [{}]", names.join(","))
    } else {
        let hash = std::fs::read(p)
            .map(|b| format!("{:x}", Sha256::digest(b)))
            .unwrap_or_default();
        format!(
            "file {base} size={} mtime={}.{} sha256={hash}",
            md.size(),
            md.mtime(),
            md.mtime_nsec()
        )
    }
}

fn walk(dir: &Path, m: &mut BTreeMap<String, String>) {
    m.insert(dir.display().to_string(), state(dir));
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            walk(&p, m);
        } else {
            m.insert(p.display().to_string(), state(&p));
        }
    }
}

pub fn diff(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in before {
        match after.get(k) {
            Some(a) if a == v => {}
            Some(a) => out.push(format!("{k}: {v}  =>  {a}")),
            None => out.push(format!("{k}: {v}  =>  (gone)")),
        }
    }
    for (k, v) in after {
        if !before.contains_key(k) {
            out.push(format!("{k}: (new) {v}"));
        }
    }
    out
}
