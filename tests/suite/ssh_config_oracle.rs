//! OpenSSH is the oracle for ssh_config resolution: every host of the corpus in
//! fixtures/ssh_config/hosts.txt is resolved by `tai doctor HOST --resolve-only --json -F FILE`
//! and by `ssh -G HOST -F FILE`, and user, hostname, port, identity files, ProxyJump and
//! known_hosts files (user and global) must agree.
use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The local account as OpenSSH sees it (getpwuid, not $HOME).
fn passwd_entry() -> (String, PathBuf) {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() }.to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() > 5 && f[2] == uid {
            return (f[0].to_string(), PathBuf::from(f[5]));
        }
    }
    panic!("uid {uid} not in /etc/passwd");
}

/// Copy the corpus into `dir`, replacing `@DIR@` with its new location.
fn install_corpus(dir: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ssh_config");
    for sub in ["", "conf.d", "inc"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for e in std::fs::read_dir(src.join(sub)).unwrap().flatten() {
            if e.path().is_file() {
                let text = std::fs::read_to_string(e.path()).unwrap();
                let text = text.replace("@DIR@", &dir.display().to_string());
                std::fs::write(dir.join(sub).join(e.file_name()), text).unwrap();
            }
        }
    }
}

#[derive(Debug, Default, PartialEq)]
struct Answer {
    user: String,
    hostname: String,
    port: String,
    identity_files: Vec<String>,
    proxy_jump: Option<String>,
    known_hosts_files: Vec<String>,
    global_known_hosts_files: Vec<String>,
}

/// Split `[user@]host[:port]`.
fn split_spec(spec: &str) -> (Option<&str>, &str, Option<&str>) {
    let (user, rest) = match spec.split_once('@') {
        Some((u, r)) => (Some(u), r),
        None => (None, spec),
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    (user, host, port)
}

/// OpenSSH's own identity file defaults, which `ssh -G` lists when none is configured.
const OPENSSH_DEFAULT_IDS: [&str; 7] = [
    "~/.ssh/id_rsa",
    "~/.ssh/id_ecdsa",
    "~/.ssh/id_ecdsa_sk",
    "~/.ssh/id_ed25519",
    "~/.ssh/id_ed25519_sk",
    "~/.ssh/id_xmss",
    "~/.ssh/id_dsa",
];

/// Expand what `ssh -G` prints unexpanded (IdentityFile): `~`, then `%` tokens.
fn expand(raw: &str, home: &Path, a: &Answer, host_arg: &str, local_user: &str) -> String {
    let s = match raw.strip_prefix("~/") {
        Some(rest) => format!("{}/{rest}", home.display()),
        None => raw.to_string(),
    };
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('%') => out.push('%'),
            Some('d') => out.push_str(&home.display().to_string()),
            Some('h') => out.push_str(&a.hostname),
            Some('p') => out.push_str(&a.port),
            Some('r') => out.push_str(&a.user),
            Some('u') => out.push_str(local_user),
            Some('n') => out.push_str(host_arg),
            other => panic!("corpus uses token %{other:?} the oracle test does not expand"),
        }
    }
    out
}

fn ssh_g(file: &Path, spec: &str, home: &Path, local_user: &str) -> Answer {
    let (user, host, port) = split_spec(spec);
    let mut c = Command::new("ssh");
    c.arg("-G").arg("-F").arg(file);
    if let Some(u) = user {
        c.args(["-l", u]);
    }
    if let Some(p) = port {
        c.args(["-p", p]);
    }
    c.arg(host);
    let out = c.output().expect("run ssh -G");
    assert!(
        out.status.success(),
        "ssh -G {spec} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut a = Answer::default();
    let mut raw_ids = Vec::new();
    for line in text.lines() {
        let (k, v) = line.split_once(' ').unwrap_or((line, ""));
        match k {
            "user" => a.user = v.to_string(),
            "hostname" => a.hostname = v.to_string(),
            "port" => a.port = v.to_string(),
            "identityfile" => raw_ids.push(v.to_string()),
            "proxyjump" => a.proxy_jump = Some(v.to_string()),
            "userknownhostsfile" => {
                a.known_hosts_files = v.split(' ').map(String::from).collect();
            }
            "globalknownhostsfile" => {
                // Printed unexpanded; OpenSSH expands only `~` in these.
                a.global_known_hosts_files = v
                    .split(' ')
                    .map(|f| match f.strip_prefix("~/") {
                        Some(rest) => format!("{}/{rest}", home.display()),
                        None => f.to_string(),
                    })
                    .collect();
            }
            _ => {}
        }
    }
    a.identity_files = if raw_ids == OPENSSH_DEFAULT_IDS {
        // Nothing configured: tai's own defaults apply (id_ed25519, then id_rsa).
        vec![
            format!("{}/.ssh/id_ed25519", home.display()),
            format!("{}/.ssh/id_rsa", home.display()),
        ]
    } else {
        raw_ids
            .iter()
            .map(|r| expand(r, home, &a, host, local_user))
            .collect()
    };
    a
}

fn tai_resolve(file: &Path, spec: &str, home: &Path, scratch: &Path) -> Answer {
    let out = support::tai_cmd(scratch)
        .env("HOME", home)
        .args(["doctor", spec, "--resolve-only", "--json", "-F"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tai doctor {spec} --resolve-only failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let strings = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap_or_else(|| panic!("{k} missing in {v}"))
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    Answer {
        user: v["user"].as_str().unwrap().to_string(),
        hostname: v["hostname"].as_str().unwrap().to_string(),
        port: v["port"].to_string(),
        identity_files: strings("identity_files"),
        proxy_jump: v["proxy_jump"].as_str().map(String::from),
        known_hosts_files: strings("known_hosts_files"),
        global_known_hosts_files: strings("global_known_hosts_files"),
    }
}

#[test]
fn tai_agrees_with_ssh_g_on_every_corpus_host() {
    let (local_user, home) = passwd_entry();
    let dir = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    install_corpus(dir.path());
    let list = std::fs::read_to_string(dir.path().join("hosts.txt")).unwrap();
    let mut checked = 0;
    let mut disagreements = Vec::new();
    for line in list
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (file, spec) = line.split_once(' ').unwrap();
        let file = dir.path().join(file);
        let want = ssh_g(&file, spec, &home, &local_user);
        let got = tai_resolve(&file, spec, &home, scratch.path());
        if want != got {
            disagreements.push(format!("{line}:\n  ssh -G: {want:?}\n  tai:    {got:?}"));
        }
        checked += 1;
    }
    assert!(checked >= 30, "corpus too small: {checked} hosts");
    assert!(
        disagreements.is_empty(),
        "{} of {checked} hosts disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
