//! Scenario hosts: a real `sshd` inside a private mount namespace whose filesystem is this
//! machine's with a scenario overlaid on it.
//!
//! A scenario is a folder under `fixtures/scenarios/`:
//! - `scenario.toml`: the issue an operator would type, the accepted categories, the evidence
//!   substrings a report must quote, and probes (commands run over SSH with the OpenSSH
//!   client, with the text their output must contain) that prove the host state is real.
//! - `files/`: overlaid onto `/`. A file whose path exists on this machine is bind-mounted
//!   over it; a directory that would need new entries is overlaid (overlayfs, lower layers
//!   `files/<dir>` then the real `<dir>`, upper layer on a tmpfs), so nothing on the real
//!   host is written.
//! - `journal.export`: journal export text. Timestamps are shifted so the last entry is 30 s
//!   old (entries whose `_BOOT_ID` differs from the last entry's stay in an earlier boot),
//!   `_BOOT_ID`/`_MACHINE_ID` are set to this machine's (so `journalctl -b`/`-k` see the
//!   entries), `@VAR@` placeholders are filled from what `setup.sh` wrote to `$SCENARIO/vars`,
//!   and the result is built into `/var/log/journal/<machine-id>/scenario.journal` with
//!   `systemd-journal-remote` inside the namespace, where a plain `journalctl` finds it.
//! - `setup.sh` (optional): runs as root inside the namespace after the overlay, to create real
//!   state (a full tmpfs, an exhausted inode table, a listener on a port). It records background
//!   pids in `$SCENARIO/pids` (killed on drop) and variables in `$SCENARIO/vars`.
//! - `shims/` (optional): stand-ins only for commands that cannot work without systemd as
//!   PID 1 (`systemctl`, `timedatectl`), bind-mounted over the real binaries.
//!
//! The namespace is `unshare -m --propagation private`, started through
//! [`super::sshd::SshdBuilder::wrapper`]; it and its mounts vanish when its processes exit.
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Output;

use serde::Deserialize;

use super::sshd::Sshd;

/// `scenario.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// What the operator types.
    pub issue: String,
    /// The report's category must be one of these.
    pub categories: Vec<String>,
    /// Each must appear in the report's evidence.
    pub evidence: Vec<String>,
    /// One line on what the scenario is.
    pub description: String,
    /// Directories whose contents setup.sh creates (a full tmpfs): included, recursively,
    /// in the before/after checksum of the scenario host.
    #[serde(default)]
    pub state: Vec<String>,
    #[serde(default)]
    pub probe: Vec<Probe>,
    /// The kind of the strongest finding (`tai run --no-llm --json`'s first `findings` entry):
    /// the root cause, not one of its consequences.
    #[serde(default)]
    pub root_kind: Option<String>,
    /// Finding kinds that must not be reported at warning or above (the red herrings
    /// planted on the host: an old resolved incident, an admin's `tail -f`, ...).
    #[serde(default)]
    pub absent_kinds: Vec<String>,
    /// Kinds that must appear as consequences linked to `root_kind` (`caused_by`).
    #[serde(default)]
    pub consequences: Vec<String>,
    /// A healthy host: no critical finding, and the report says no fault was found and what
    /// was checked. `categories`/`evidence` may then be empty.
    #[serde(default)]
    pub healthy: bool,
    /// Whether the fixed OpenSSH snapshot (journal, kernel log, df, ss, systemctl --failed,
    /// timedatectl, mounts, resolv.conf, nginx error log) holds this scenario's evidence;
    /// `false` for faults only tai's own plan and sweep collect (`/proc/mdstat`, `ps`).
    #[serde(default = "yes")]
    pub snapshot: bool,
}

fn yes() -> bool {
    true
}

/// A command run over SSH (OpenSSH client) and text its output must contain.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    pub command: String,
    pub expect: String,
}

/// The scenarios directory.
pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios")
}

/// Every scenario folder name.
pub fn all_names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(scenarios_dir())
        .expect("fixtures/scenarios")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("scenario.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn journal_remote() -> PathBuf {
    for p in [
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("systemd-journal-remote not found: install the systemd-journal-remote package (.ci/run does)");
}

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    assert_eq!(
        uid, 0,
        "scenario hosts need root (mount namespaces, bind mounts, sshd); run the tests as root as CI does"
    );
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            copy_tree(&src, &dst);
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&src).unwrap();
            std::os::unix::fs::symlink(target, &dst).unwrap();
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Relative paths of every entry under `root` (files and directories), sorted.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    for _ in 0..100_000 {
        let Some(rel) = stack.pop() else { break };
        let Ok(rd) = std::fs::read_dir(root.join(&rel)) else {
            continue;
        };
        for e in rd.flatten() {
            let r = rel.join(e.file_name());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(r.clone());
            }
            out.push(r);
        }
    }
    out.sort();
    out
}

/// How the overlay is applied: directories to overlay and files to bind.
struct MountPlan {
    overlays: Vec<PathBuf>,
    binds: Vec<PathBuf>,
}

fn plan_mounts(files: &Path) -> MountPlan {
    let entries = walk(files);
    let mut overlays: BTreeSet<PathBuf> = BTreeSet::new();
    for rel in &entries {
        let host = Path::new("/").join(rel);
        if host.symlink_metadata().is_err() {
            // The nearest existing parent gets an overlay.
            let parent = rel.parent().unwrap_or(Path::new(""));
            assert!(
                !parent.as_os_str().is_empty(),
                "scenario files/{} would need an overlay on /; put it under an existing directory",
                rel.display()
            );
            overlays.insert(parent.to_path_buf());
        }
    }
    // Keep only outermost overlays.
    let outer: Vec<PathBuf> = overlays
        .iter()
        .filter(|d| !overlays.iter().any(|o| o != *d && d.starts_with(o)))
        .cloned()
        .collect();
    let binds = entries
        .iter()
        .filter(|rel| files.join(rel).is_file() || files.join(rel).is_symlink())
        .filter(|rel| !outer.iter().any(|o| rel.starts_with(o)))
        .filter(|rel| Path::new("/").join(rel).is_file())
        .cloned()
        .collect();
    MountPlan {
        overlays: outer,
        binds,
    }
}

/// This machine's id, or `None` when `/etc/machine-id` is missing or empty (some container
/// images): then the scenario host gets its own.
fn machine_id() -> Option<String> {
    std::fs::read_to_string("/etc/machine-id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| s.len() == 32)
}

/// The machine id scenario hosts use when this machine has none.
fn scenario_machine_id() -> String {
    "7a1c0de5ce4a7105b1e55ed0c0ffee00".to_string()
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .expect("boot_id")
        .trim()
        .replace('-', "")
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

fn uptime_us() -> u64 {
    let s = std::fs::read_to_string("/proc/uptime").unwrap_or_default();
    let secs: f64 = s
        .split_whitespace()
        .next()
        .and_then(|x| x.parse().ok())
        .unwrap_or(1000.0);
    (secs * 1_000_000.0) as u64
}

/// Rewrite journal export text for this machine and this moment (see the module docs).
pub fn prepare_export(text: &str) -> String {
    let entries: Vec<Vec<(String, String)>> = text
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            e.lines()
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (k, v) = l.split_once('=').unwrap_or_else(|| {
                        panic!("journal.export: not KEY=VALUE: {l:?} (binary fields are not supported)")
                    });
                    (k.to_string(), v.to_string())
                })
                .collect()
        })
        .collect();
    let ts = |e: &Vec<(String, String)>| -> u64 {
        e.iter()
            .find(|(k, _)| k == "__REALTIME_TIMESTAMP")
            .and_then(|(_, v)| v.parse().ok())
            .expect("every journal.export entry needs __REALTIME_TIMESTAMP")
    };
    let max = entries.iter().map(ts).max().unwrap_or(0) as i64;
    let now = now_us();
    let shift = (now - 30_000_000) as i64 - max;
    let up = uptime_us();
    let (mid, boot) = (machine_id().unwrap_or_else(scenario_machine_id), boot_id());
    // The newest entry's boot is this boot; entries that name another `_BOOT_ID` stay in an
    // earlier boot (a stable id derived from theirs), so `journalctl` prints `-- Boot` between.
    let field = |e: &Vec<(String, String)>, k: &str| {
        e.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())
    };
    let newest = entries.iter().max_by_key(|e| ts(e));
    let current = newest.and_then(|e| field(e, "_BOOT_ID"));
    let mut out = String::new();
    for e in &entries {
        let real = (ts(e) as i64 + shift).max(0) as u64;
        let age = now.saturating_sub(real);
        let own = field(e, "_BOOT_ID");
        let (boot_of, mono) = match own {
            Some(b) if current.as_ref().is_some_and(|c| *c != b) => {
                let fake: String = format!("{:0>32}", b.replace('-', ""))
                    .chars()
                    .rev()
                    .take(32)
                    .collect();
                (fake, 1_000_000 + (real % 1_000_000_000))
            }
            _ => (boot.clone(), up.saturating_sub(age).max(1)),
        };
        out.push_str(&format!(
            "__REALTIME_TIMESTAMP={real}\n__MONOTONIC_TIMESTAMP={mono}\n_BOOT_ID={boot_of}\n_MACHINE_ID={mid}\n"
        ));
        for (k, v) in e {
            if matches!(
                k.as_str(),
                "__REALTIME_TIMESTAMP"
                    | "__MONOTONIC_TIMESTAMP"
                    | "_BOOT_ID"
                    | "_MACHINE_ID"
                    | "__CURSOR"
            ) {
                continue;
            }
            out.push_str(&format!("{k}={v}\n"));
        }
        out.push('\n');
    }
    out
}

/// A running scenario host.
pub struct Scenario {
    pub name: String,
    pub spec: Spec,
    pub sshd: Sshd,
    scratch: tempfile::TempDir,
    /// Paths (absolute) the scenario puts in place: checked before and after.
    watched: Vec<PathBuf>,
    host_before: String,
    canary: PathBuf,
    canary_text: String,
    known_hosts: PathBuf,
}

/// The `scenario.toml` of the scenario called `name`.
pub fn spec(name: &str) -> Spec {
    toml::from_str(
        &std::fs::read_to_string(scenarios_dir().join(name).join("scenario.toml"))
            .unwrap_or_else(|e| panic!("{name}/scenario.toml: {e}")),
    )
    .unwrap_or_else(|e| panic!("{name}/scenario.toml: {e}"))
}

impl Scenario {
    /// Start the scenario called `name` (a folder in `fixtures/scenarios`).
    pub fn start(name: &str) -> Scenario {
        require_root();
        let src = scenarios_dir().join(name);
        let spec = spec(name);
        let scratch = tempfile::Builder::new()
            .prefix(&format!("tai-scenario-{name}-"))
            .tempdir()
            .unwrap();
        let s = scratch.path();
        let files = s.join("files");
        if src.join("files").is_dir() {
            copy_tree(&src.join("files"), &files);
        } else {
            std::fs::create_dir_all(&files).unwrap();
        }
        // Shims go over the real binaries (or into /usr/local/sbin when absent); the shared
        // ones (dmesg) first, the scenario's own may replace them.
        let shim_dirs = [scenarios_dir().join("_shared/shims"), src.join("shims")];
        for dir in shim_dirs.iter().filter(|d| d.is_dir()) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let n = e.file_name();
                let real = ["usr/bin", "bin", "usr/sbin", "sbin"]
                    .iter()
                    .map(|d| Path::new(d).join(&n))
                    .find(|p| Path::new("/").join(p).is_file())
                    .unwrap_or_else(|| Path::new("usr/local/sbin").join(&n));
                let dst = files.join(&real);
                std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
                std::fs::copy(e.path(), &dst).unwrap();
            }
        }
        let mid = match machine_id() {
            Some(m) => m,
            None => {
                let m = scenario_machine_id();
                std::fs::create_dir_all(files.join("etc")).unwrap();
                std::fs::write(files.join("etc/machine-id"), format!("{m}\n")).unwrap();
                m
            }
        };
        let has_journal = src.join("journal.export").exists();
        if has_journal {
            std::fs::create_dir_all(files.join("var/log/journal").join(&mid)).unwrap();
            let text = std::fs::read_to_string(src.join("journal.export")).unwrap();
            std::fs::write(s.join("journal.txt"), prepare_export(&text)).unwrap();
        }
        let plan = plan_mounts(&files);
        let watched: Vec<PathBuf> = walk(&files)
            .into_iter()
            .map(|r| Path::new("/").join(r))
            .collect();
        let host_before = checksum_host(&watched);

        let canary = PathBuf::from(format!("/var/tmp/tai-canary-{name}-{}", std::process::id()));
        let canary_text = format!("canary {name} {}\n", now_us());
        std::fs::write(&canary, &canary_text).unwrap();

        // The script that runs inside the namespace, then execs sshd.
        let q = |p: &Path| sh_quote(&p.to_string_lossy());
        let mut script = String::from("#!/bin/sh\nset -eu\n");
        script.push_str(&format!("S={}\nexec 2>>\"$S/runner.log\"\n", q(s)));
        script.push_str("mkdir -p \"$S/upper\"\nmount -t tmpfs -o mode=0755,size=128m tai-scenario \"$S/upper\"\n");
        for (i, d) in plan.overlays.iter().enumerate() {
            let host = Path::new("/").join(d);
            script.push_str(&format!(
                "mkdir -p \"$S/upper/{i}/u\" \"$S/upper/{i}/w\"\nmount -t overlay tai-overlay -o lowerdir={}:{},upperdir=\"$S/upper/{i}/u\",workdir=\"$S/upper/{i}/w\" {}\n",
                q(&files.join(d)),
                q(&host),
                q(&host)
            ));
        }
        for b in &plan.binds {
            script.push_str(&format!(
                "mount --bind {} {}\n",
                q(&files.join(b)),
                q(&Path::new("/").join(b))
            ));
        }
        // root's .bashrc on this kind of machine runs pyenv init on every SSH command.
        if Path::new("/root/.bashrc").is_file()
            && !plan.binds.iter().any(|b| b == Path::new("root/.bashrc"))
        {
            std::fs::write(s.join("empty-bashrc"), "").unwrap();
            script.push_str("mount --bind \"$S/empty-bashrc\" /root/.bashrc\n");
        }
        if src.join("setup.sh").exists() {
            std::fs::copy(src.join("setup.sh"), s.join("setup.sh")).unwrap();
            script.push_str(
                "touch \"$S/vars\" \"$S/pids\"\n(cd \"$S\" && SCENARIO=\"$S\" /bin/sh \"$S/setup.sh\") >\"$S/setup.log\" 2>&1 || { echo \"setup.sh failed:\"; cat \"$S/setup.log\"; exit 1; } >&2\n",
            );
        }
        if has_journal {
            script.push_str("touch \"$S/vars\"\ncp \"$S/journal.txt\" \"$S/journal.in\"\n");
            script.push_str(
                "while IFS='=' read -r k v; do [ -n \"$k\" ] && sed -i \"s|@$k@|$v|g\" \"$S/journal.in\"; done < \"$S/vars\"\n",
            );
            script.push_str(&format!(
                "{} -o /var/log/journal/{mid}/scenario.journal \"$S/journal.in\" >>\"$S/runner.log\" 2>&1\n",
                q(&journal_remote())
            ));
        }
        script.push_str("exec \"$@\"\n");
        let runner = s.join("runner.sh");
        std::fs::write(&runner, script).unwrap();
        let runner_s = runner.to_string_lossy().into_owned();

        let builder = Sshd::builder().wrapper(&[
            "unshare",
            "-m",
            "--propagation",
            "private",
            "--",
            "/bin/sh",
            &runner_s,
        ]);
        let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| builder.start()));
        let sshd = match started {
            Ok(sshd) => sshd,
            Err(_) => {
                kill_pids(s);
                let _ = std::fs::remove_file(&canary);
                panic!(
                    "scenario {name}: the host did not come up; runner log:\n{}",
                    std::fs::read_to_string(s.join("runner.log")).unwrap_or_default()
                );
            }
        };
        let known_hosts = s.join("known_hosts");
        std::fs::write(&known_hosts, sshd.known_hosts_line()).unwrap();
        Scenario {
            name: name.to_string(),
            spec,
            sshd,
            scratch,
            watched,
            host_before,
            canary,
            canary_text,
            known_hosts,
        }
    }

    pub fn known_hosts(&self) -> &Path {
        &self.known_hosts
    }

    pub fn key(&self) -> &Path {
        self.sshd.client_key()
    }

    /// `root@127.0.0.1:PORT`.
    pub fn target(&self) -> String {
        self.sshd.target()
    }

    /// Run a command line on the scenario host with the OpenSSH client.
    pub fn ssh(&self, command: &str) -> Output {
        self.sshd
            .ssh_command(&self.known_hosts)
            .arg(command)
            .output()
            .unwrap()
    }

    /// Run every probe in one SSH session and check its expected text.
    pub fn check_probes(&self) {
        if self.spec.probe.is_empty() {
            return;
        }
        const SEP: &str = "@@tai-probe@@";
        let joined: Vec<String> = self
            .spec
            .probe
            .iter()
            .map(|p| format!("{} 2>&1; echo {SEP}", p.command))
            .collect();
        let out = self.ssh(&joined.join("; "));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let parts: Vec<&str> = text.split(SEP).collect();
        for (i, p) in self.spec.probe.iter().enumerate() {
            let got = parts.get(i).copied().unwrap_or("");
            assert!(
                got.contains(&p.expect),
                "scenario {}: probe `{}` should print {:?}; it printed:\n{}\nstderr: {}",
                self.name,
                p.command,
                p.expect,
                got,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// Checksum of the scenario's paths as the scenario host sees them (over SSH), plus the
    /// canary file.
    pub fn checksum_inside(&self) -> String {
        let mut paths: Vec<String> = self
            .watched
            .iter()
            .map(|p| sh_quote(&p.to_string_lossy()))
            .collect();
        paths.push(sh_quote(&self.canary.to_string_lossy()));
        let cmd = format!(
            "for p in {}; do if [ -d \"$p\" ]; then stat -c '%n %f %u %g' \"$p\"; elif [ -e \"$p\" ]; then stat -c '%n %f %u %g %s %Y' \"$p\"; sha256sum \"$p\" 2>/dev/null | cut -c1-64; else echo \"$p absent\"; fi; done{}",
            paths.join(" "),
            self.spec
                .state
                .iter()
                .map(|d| format!("; find {} -xdev -printf '%p %y %m %s %T@\\n' | sort | sha256sum", sh_quote(d)))
                .collect::<String>()
        );
        let out = self.ssh(&cmd);
        assert!(
            out.status.success(),
            "checksum over ssh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stop the host and assert the real machine is as it was: the scenario's paths and the
    /// canary file are unchanged.
    pub fn finish(mut self) {
        self.sshd.kill_all();
        kill_pids(self.scratch.path());
        let after = checksum_host(&self.watched);
        assert_eq!(
            self.host_before, after,
            "scenario {}: the real host's files changed",
            self.name
        );
        let canary = std::fs::read_to_string(&self.canary).unwrap_or_default();
        assert_eq!(
            canary, self.canary_text,
            "scenario {}: canary changed",
            self.name
        );
    }

    pub fn runner_log(&self) -> String {
        let s = self.scratch.path();
        format!(
            "{}\n{}",
            std::fs::read_to_string(s.join("runner.log")).unwrap_or_default(),
            std::fs::read_to_string(s.join("setup.log")).unwrap_or_default()
        )
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        self.sshd.kill_all();
        kill_pids(self.scratch.path());
        let _ = std::fs::remove_file(&self.canary);
    }
}

fn kill_pids(scratch: &Path) {
    let Ok(text) = std::fs::read_to_string(scratch.join("pids")) else {
        return;
    };
    for pid in text
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
    {
        if pid > 1 {
            // SAFETY: kill has no memory-safety preconditions; these pids were started by setup.sh.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

/// Existence, type, mode, size and content hash of each path on the real host.
fn checksum_host(paths: &[PathBuf]) -> String {
    use std::os::unix::fs::MetadataExt;
    let mut s = String::new();
    for p in paths {
        match p.symlink_metadata() {
            Err(_) => s.push_str(&format!("{} absent\n", p.display())),
            Ok(m) => {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                if m.is_file() && m.len() <= 4 << 20 {
                    std::fs::read(p).unwrap_or_default().hash(&mut h);
                }
                s.push_str(&format!(
                    "{} {:o} {} {} {} {:x}\n",
                    p.display(),
                    m.mode(),
                    m.uid(),
                    m.len(),
                    m.mtime(),
                    h.finish()
                ));
            }
        }
    }
    s
}

/// Commands an SRE would run first, as (call id, tool, args, command line). Used to triage a
/// scenario host from an OpenSSH-collected snapshot, independent of tai's own plan.
const SNAPSHOT: &[(&str, &str, &str, &str)] = &[
    ("S1", "read_journal", "{}", "journalctl --no-pager -n 500"),
    ("S2", "kernel_log", "{}", "journalctl -k --no-pager -n 300"),
    ("S3", "disk_usage", "{}", "df -P"),
    ("S4", "inode_usage", "{}", "df -i -P"),
    ("S5", "list_sockets", "{}", "ss -ltnp"),
    ("S6", "list_services", "{}", "systemctl --failed --no-pager"),
    ("S7", "time_sync", "{}", "timedatectl status"),
    ("S8", "mounts", "{}", "cat /proc/mounts"),
    (
        "S9",
        "read_file",
        r#"{"path":"/etc/resolv.conf"}"#,
        "cat /etc/resolv.conf",
    ),
    (
        "S10",
        "read_file",
        r#"{"path":"/var/log/nginx/error.log"}"#,
        "tail -n 100 /var/log/nginx/error.log",
    ),
];

impl Scenario {
    /// Run [`SNAPSHOT`] in one SSH session and return it as tool outcomes.
    pub fn snapshot(&self) -> Vec<tai::tools::ToolOutcome> {
        use tai::tools::{CallStatus, CommandRecord, ToolCall, ToolOutcome};
        const SEP: &str = "@@tai-snapshot@@";
        let joined: Vec<String> = SNAPSHOT
            .iter()
            .map(|(_, _, _, c)| format!("{c} 2>&1; echo {SEP}$?"))
            .collect();
        let out = self.ssh(&joined.join("; "));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut rest = text.as_str();
        let mut outcomes = Vec::new();
        for (id, tool, args, cmd) in SNAPSHOT {
            let (body, after) = rest.split_once(SEP).unwrap_or((rest, ""));
            let (code, next) = after.split_once('\n').unwrap_or((after, ""));
            rest = next;
            let exit: i32 = code.trim().parse().unwrap_or(-1);
            let status = if exit == 0 {
                CallStatus::Ok
            } else {
                CallStatus::Error
            };
            outcomes.push(ToolOutcome {
                call: ToolCall {
                    id: id.to_string(),
                    tool: tool.to_string(),
                    args: serde_json::from_str(args).unwrap(),
                },
                status,
                commands: vec![CommandRecord {
                    command: cmd.to_string(),
                    status,
                    exit_code: Some(exit),
                    duration_ms: 0,
                    stdout: body.to_string(),
                    stderr: String::new(),
                    truncated: 0,
                    note: None,
                }],
                output: body.to_string(),
                duration_ms: 0,
            });
        }
        outcomes
    }
}
