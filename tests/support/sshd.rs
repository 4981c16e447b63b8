//! A real OpenSSH server for tests: its own host key, authorized_keys and config, on a free
//! loopback port, stopped (and its files removed) when the value is dropped.
//!
//! Recipe from DESIGN.md: absolute `-f`/`-E` paths, `PasswordAuthentication no`,
//! `KbdInteractiveAuthentication no`, `UsePAM no`, `StrictModes no`, `/run/sshd` present.
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Locate the sshd binary.
pub fn sshd_binary() -> PathBuf {
    for p in ["/usr/sbin/sshd", "/usr/bin/sshd", "/sbin/sshd"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("sshd not found: install openssh-server (.ci/run does)");
}

/// Generate a key pair with ssh-keygen. `kind` is `ed25519`, `rsa`, `ecdsa`.
pub fn keygen(dir: &Path, name: &str, kind: &str, passphrase: &str) -> PathBuf {
    let path = dir.join(name);
    let mut args = vec!["-q", "-t", kind, "-N", passphrase, "-C", name, "-f"];
    let p = path.to_str().unwrap().to_string();
    args.push(&p);
    let bits;
    if kind == "rsa" {
        bits = "2048".to_string();
        args.extend(["-b", bits.as_str()]);
    }
    let st = Command::new("ssh-keygen")
        .args(&args)
        .status()
        .expect("ssh-keygen");
    assert!(st.success(), "ssh-keygen failed for {name}");
    path
}

/// Pick a free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The user tests log in as (the current user).
pub fn current_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            let out = Command::new("id").arg("-un").output().expect("id -un");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
}

/// How to start a server.
#[derive(Debug, Clone)]
pub struct SshdBuilder {
    listen: String,
    extra_config: Vec<String>,
    /// Run sshd through this command prefix (e.g. `ip netns exec ns1`).
    wrapper: Vec<String>,
    client_key_kinds: Vec<&'static str>,
    quiet_shell: bool,
}

impl Default for SshdBuilder {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1".into(),
            extra_config: Vec::new(),
            wrapper: Vec::new(),
            client_key_kinds: vec!["ed25519"],
            quiet_shell: false,
        }
    }
}

impl SshdBuilder {
    pub fn listen(mut self, addr: &str) -> Self {
        self.listen = addr.to_string();
        self
    }
    pub fn config(mut self, line: &str) -> Self {
        self.extra_config.push(line.to_string());
        self
    }
    pub fn wrapper(mut self, argv: &[&str]) -> Self {
        self.wrapper = argv.iter().map(|s| s.to_string()).collect();
        self
    }
    /// Client key kinds to generate and authorise (first one is `client_key()`).
    pub fn client_keys(mut self, kinds: &[&'static str]) -> Self {
        self.client_key_kinds = kinds.to_vec();
        self
    }

    /// For timing tests: run sshd in a private mount namespace where the login user's
    /// `~/.bashrc` is empty (root's on this machine kind runs `pyenv init`, ~250 ms per
    /// command), so timings measure the transport, not the shell start-up. Needs root.
    pub fn quiet_shell(mut self) -> Self {
        self.quiet_shell = true;
        self
    }

    pub fn start(self) -> Sshd {
        Sshd::start_with(self)
    }
}

/// Why a server did not start.
#[derive(Debug)]
struct SpawnError {
    /// Another process held the port.
    port_taken: bool,
    message: String,
}

/// A running sshd.
pub struct Sshd {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub host: String,
    pub user: String,
    /// Client private keys, authorised on the server (first: ed25519 unless configured).
    pub client_keys: Vec<PathBuf>,
    pub host_key: PathBuf,
    pub log: PathBuf,
    builder: SshdBuilder,
}

impl Sshd {
    pub fn builder() -> SshdBuilder {
        SshdBuilder::default()
    }

    /// Start with defaults: ed25519 client key, 127.0.0.1, free port.
    pub fn start() -> Sshd {
        SshdBuilder::default().start()
    }

    fn start_with(b: SshdBuilder) -> Sshd {
        let _ = std::fs::create_dir_all("/run/sshd");
        let dir = tempfile::Builder::new()
            .prefix("tai-sshd-")
            .tempdir()
            .unwrap();
        let host_key = keygen(dir.path(), "ssh_host_ed25519_key", "ed25519", "");
        let mut client_keys = Vec::new();
        let mut authorized = String::new();
        for (i, kind) in b.client_key_kinds.iter().enumerate() {
            let k = keygen(dir.path(), &format!("client_{kind}_{i}"), kind, "");
            authorized.push_str(&std::fs::read_to_string(format!("{}.pub", k.display())).unwrap());
            client_keys.push(k);
        }
        let auth_file = dir.path().join("authorized_keys");
        std::fs::write(&auth_file, authorized).unwrap();
        let log = dir.path().join("sshd.log");
        let mut sshd = Sshd {
            child: None,
            port: 0,
            host: b.listen.clone(),
            user: current_user(),
            client_keys,
            host_key,
            log,
            dir,
            builder: b,
        };
        // A port picked by `free_port` can be taken by another test's server before sshd
        // binds it: start again on another port when that happens.
        for attempt in 0..8 {
            match sshd.try_spawn_on(free_port()) {
                Ok(()) => return sshd,
                Err(e) if e.port_taken && attempt < 7 => continue,
                Err(e) => panic!("{}", e.message),
            }
        }
        unreachable!("the last attempt panics")
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("sshd_config")
    }

    fn write_config(&self, port: u16) {
        let d = self.dir.path();
        let mut cfg = format!(
            "Port {port}\nListenAddress {listen}\nHostKey {hk}\nPidFile {pid}\nAuthorizedKeysFile {ak}\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
             PermitRootLogin prohibit-password\nAllowAgentForwarding no\nMaxStartups 100\nLogLevel VERBOSE\n\
             AcceptEnv LANG LC_*\n",
            listen = self.builder.listen,
            hk = self.host_key.display(),
            pid = d.join("sshd.pid").display(),
            ak = d.join("authorized_keys").display(),
        );
        for line in &self.builder.extra_config {
            cfg.push_str(line);
            cfg.push('\n');
        }
        std::fs::write(self.config_path(), cfg).unwrap();
    }

    /// Start on `port` (a restart): a port still held by the old server is waited for.
    fn spawn_on(&mut self, port: u16) {
        for attempt in 0..50 {
            match self.try_spawn_on(port) {
                Ok(()) => return,
                Err(e) if e.port_taken && attempt < 49 => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) => panic!("{}", e.message),
            }
        }
    }

    fn try_spawn_on(&mut self, port: u16) -> Result<(), SpawnError> {
        self.write_config(port);
        self.port = port;
        let bin = sshd_binary();
        let log_offset = std::fs::metadata(&self.log)
            .map(|m| m.len() as usize)
            .unwrap_or(0);
        let mut argv: Vec<String> = self.builder.wrapper.clone();
        let bashrc = std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".bashrc"))
            .filter(|p| p.exists());
        if let (true, Some(rc)) = (self.builder.quiet_shell, bashrc) {
            argv.extend(
                [
                    "unshare",
                    "-m",
                    "--propagation",
                    "private",
                    "sh",
                    "-c",
                    "mount --bind /dev/null \"$0\" && shift && exec \"$@\"",
                ]
                .map(String::from),
            );
            argv.push(rc.to_string_lossy().into_owned());
            argv.push("sshd".into());
        }
        argv.push(bin.to_string_lossy().into_owned());
        argv.extend([
            "-D".to_string(),
            "-f".to_string(),
            self.config_path().to_string_lossy().into_owned(),
            "-E".to_string(),
            self.log.to_string_lossy().into_owned(),
        ]);
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sshd");
        self.child = Some(child);
        self.wait_ready(log_offset)
    }

    /// Wait until the server started by the last spawn listens; `log_offset` is the log
    /// length before that spawn (a restart must not be fooled by the previous run's lines).
    /// Readiness is sshd's own "Server listening" line, never a TCP connect: a connect could
    /// reach another test's server that took the port.
    fn wait_ready(&mut self, log_offset: usize) -> Result<(), SpawnError> {
        let new_log = |log: &Path| {
            std::fs::read(log)
                .map(|l| {
                    String::from_utf8_lossy(l.get(log_offset..).unwrap_or_default()).into_owned()
                })
                .unwrap_or_default()
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    self.child = None;
                    let text = new_log(&self.log);
                    return Err(SpawnError {
                        port_taken: text.contains("Address already in use"),
                        message: format!("sshd exited early ({status}); log:\n{text}"),
                    });
                }
            }
            if new_log(&self.log).contains("Server listening") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(SpawnError {
            port_taken: false,
            message: format!(
                "sshd did not start on {}:{}; log:\n{}",
                self.host,
                self.port,
                new_log(&self.log)
            ),
        })
    }

    /// The first authorised client key.
    pub fn client_key(&self) -> &Path {
        &self.client_keys[0]
    }

    /// `user@host:port` for the tai command line.
    pub fn target(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }

    /// The known_hosts line for this server (`[host]:port ssh-ed25519 AAAA…`).
    pub fn known_hosts_line(&self) -> String {
        let pubkey = std::fs::read_to_string(format!("{}.pub", self.host_key.display())).unwrap();
        let mut parts = pubkey.split_whitespace();
        let (kind, b64) = (parts.next().unwrap(), parts.next().unwrap());
        format!("[{}]:{} {kind} {b64}\n", self.host, self.port)
    }

    /// Replace the host key with a fresh one and restart on the same port (MITM simulation).
    pub fn replace_host_key(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.host_key);
        let _ = std::fs::remove_file(format!("{}.pub", self.host_key.display()));
        self.host_key = keygen(self.dir.path(), "ssh_host_ed25519_key", "ed25519", "");
        let port = self.port;
        self.spawn_on(port);
    }

    /// Restart on the same port with the same keys (e.g. after a simulated crash).
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port;
        self.spawn_on(port);
    }

    /// Kill the server (and, with `-D`, the listener; established sessions die with their
    /// per-connection children when killed separately by the test).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Pid of the listening sshd (or of its wrapper, which execs it).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Kill the per-connection sshd processes (children of the listener), by pid, so every
    /// established connection drops while the server keeps listening.
    pub fn kill_connections(&self) {
        let Some(parent) = self.pid() else { return };
        for pid in descendants(parent) {
            // SAFETY: kill(2) on a pid we found under our own sshd; errors are ignored.
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
        }
    }

    /// Kill everything: established connections and the listener (a crashed server).
    pub fn kill_all(&mut self) {
        self.kill_connections();
        self.stop();
    }

    /// The server's log so far (for assertions and failure messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Run `ssh` (OpenSSH client) against this server with the test key, for oracles and
    /// benchmarks. Returns the prepared command.
    pub fn ssh_command(&self, known_hosts: &Path) -> Command {
        let mut c = Command::new("ssh");
        c.args([
            "-p",
            &self.port.to_string(),
            "-i",
            self.client_key().to_str().unwrap(),
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            &format!("UserKnownHostsFile={}", known_hosts.display()),
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-F",
            "/dev/null",
            "-l",
            &self.user,
            &self.host,
        ]);
        c
    }
}

/// Pids of every process below `root` (children, grandchildren, …), from /proc.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // Field 4 (ppid) follows the parenthesised command name.
            let Some(after) = stat.rsplit_once(')').map(|(_, a)| a) else {
                continue;
            };
            if let Some(ppid) = after.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
                parents.push((pid, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![root];
    for _ in 0..64 {
        let next: Vec<u32> = parents
            .iter()
            .filter(|(_, pp)| frontier.contains(pp))
            .map(|(p, _)| *p)
            .filter(|p| !out.contains(p))
            .collect();
        if next.is_empty() {
            break;
        }
        out.extend(&next);
        frontier = next;
    }
    out
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Two network namespaces for jump-host tests (needs root): a bastion reachable from here,
/// and a target reachable only from the bastion. The test range gets an `unreachable` route
/// here, so nothing addressed to it can leave the machine; the bastion does not forward
/// packets, so only a tunnel opened by the bastion's sshd reaches the target.
pub struct JumpNet {
    pub bastion_ns: String,
    pub target_ns: String,
    /// The bastion's address on the link to this machine.
    pub bastion_ip: String,
    /// The bastion's address on the link to the target (what the target sees).
    pub bastion_inner_ip: String,
    pub target_ip: String,
    range: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl JumpNet {
    pub fn create() -> JumpNet {
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        // SAFETY: geteuid has no preconditions.
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "jump-host tests need root for network namespaces (CI runs as root)"
        );
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let tag = format!("{:x}{seq}", std::process::id() & 0xfffff);
        // Claim a /24 of the test range: adding its `unreachable` route is atomic, so a
        // concurrent test (in this or another process) cannot take the same one.
        let mut octet = (std::process::id() + seq * 37) % 240 + 10;
        let mut claimed = false;
        for _ in 0..240 {
            let range = format!("10.213.{octet}.0/24");
            let busy = Command::new("ip")
                .args(["route", "show", &range])
                .output()
                .map(|o| !o.stdout.is_empty())
                .unwrap_or(true);
            if !busy && ip(&["route", "add", "unreachable", &range]).is_ok() {
                claimed = true;
                break;
            }
            octet = (octet + 1) % 240 + 10;
        }
        assert!(
            claimed,
            "no free /24 in 10.213.0.0/16 for the jump-host test"
        );
        let net = JumpNet {
            bastion_ns: format!("taib{tag}"),
            target_ns: format!("tait{tag}"),
            bastion_ip: format!("10.213.{octet}.2"),
            bastion_inner_ip: format!("10.213.{octet}.5"),
            target_ip: format!("10.213.{octet}.6"),
            range: format!("10.213.{octet}.0/24"),
        };
        let (b, t) = (net.bastion_ns.as_str(), net.target_ns.as_str());
        let (h_if, bh_if) = (format!("tvh{tag}"), format!("tvb{tag}"));
        let (bt_if, t_if) = (format!("tvc{tag}"), format!("tvt{tag}"));
        let host_ip = format!("10.213.{octet}.1/30");
        let steps: Vec<Vec<String>> = vec![
            vec!["netns", "add", b],
            vec!["netns", "add", t],
            vec!["-n", b, "link", "set", "lo", "up"],
            vec!["-n", t, "link", "set", "lo", "up"],
            vec!["link", "add", &h_if, "type", "veth", "peer", "name", &bh_if],
            vec!["link", "set", &bh_if, "netns", b],
            vec!["addr", "add", &host_ip, "dev", &h_if],
            vec!["link", "set", &h_if, "up"],
            vec![
                "-n",
                b,
                "addr",
                "add",
                &format!("{}/30", net.bastion_ip),
                "dev",
                &bh_if,
            ],
            vec!["-n", b, "link", "set", &bh_if, "up"],
            vec![
                "-n", b, "link", "add", &bt_if, "type", "veth", "peer", "name", &t_if,
            ],
            vec!["-n", b, "link", "set", &t_if, "netns", t],
            vec![
                "-n",
                b,
                "addr",
                "add",
                &format!("{}/30", net.bastion_inner_ip),
                "dev",
                &bt_if,
            ],
            vec!["-n", b, "link", "set", &bt_if, "up"],
            vec![
                "-n",
                t,
                "addr",
                "add",
                &format!("{}/30", net.target_ip),
                "dev",
                &t_if,
            ],
            vec!["-n", t, "link", "set", &t_if, "up"],
        ]
        .into_iter()
        .map(|v| v.into_iter().map(String::from).collect())
        .collect();
        for step in &steps {
            let args: Vec<&str> = step.iter().map(String::as_str).collect();
            if let Err(e) = ip(&args) {
                drop(net);
                panic!("setting up the jump-host network failed: {e}");
            }
        }
        net
    }

    /// `ip netns exec NS` prefix for [`SshdBuilder::wrapper`].
    pub fn exec_in(ns: &str) -> Vec<&str> {
        vec!["ip", "netns", "exec", ns]
    }
}

impl Drop for JumpNet {
    fn drop(&mut self) {
        // Deleting the namespaces removes the veth pairs with them.
        let _ = ip(&["netns", "del", &self.bastion_ns]);
        let _ = ip(&["netns", "del", &self.target_ns]);
        let _ = ip(&["route", "del", "unreachable", &self.range]);
    }
}
