//! The interactive session end to end: the real `tai` binary, scripted through a pipe and
//! driven in a real pseudo-terminal (tmux), against this machine (`local`) and a model
//! endpoint replayed by wiremock in the Ollama OpenAI-compatible wire format.
use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

fn run_piped(home: &Path, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = support::tai_cmd(home)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A port nothing listens on: bound then released.
fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}/v1")
}

#[test]
fn piped_session_runs_commands_line_by_line() {
    let home = tempfile::tempdir().unwrap();
    let base = closed_port_url();
    let out = run_piped(
        home.path(),
        &["local", "--no-persist", "--base-url", &base],
        "/help\n/collect disk\n/show tools\n/quit\n/help\n",
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // The facts line comes first, then /help.
    assert!(stdout.starts_with("local "), "{stdout}");
    assert!(stdout.contains("/collect [CATEGORY]"), "{stdout}");
    assert!(stdout.contains("/quit"), "{stdout}");
    // /collect disk ran the disk baseline on this machine; /show tools lists the calls.
    assert!(stdout.contains("\ndisk: "), "{stdout}");
    assert!(stdout.contains(" tool calls: "), "{stdout}");
    let table: Vec<&str> = stdout.lines().filter(|l| l.starts_with("T1 ")).collect();
    assert_eq!(
        table.len(),
        2,
        "in the /collect summary and in /show tools:\n{stdout}"
    );
    assert!(
        table[1].contains("disk_usage") && table[1].contains(" ok "),
        "{stdout}"
    );
    assert!(
        table[1].contains("df "),
        "the command line is shown: {stdout}"
    );
    // Lines after /quit are not read: help printed once.
    assert_eq!(stdout.matches("Commands:").count(), 1, "{stdout}");
    // Plain text for scripts: no escape sequences anywhere.
    assert!(!stdout.contains('\u{1b}'), "{stdout:?}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    // --no-persist: nothing under TAI_HOME, not even the history.
    assert!(!home.path().join(".tai").exists());
}

#[test]
fn piped_follow_up_without_a_model_says_how_to_fix_it() {
    let home = tempfile::tempdir().unwrap();
    let base = closed_port_url();
    let out = run_piped(
        home.path(),
        &["local", "--no-persist", "--base-url", &base],
        "why is the disk full?\n/nosuch\n/show evidence\n/tokens\n",
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("model endpoint {base} is unreachable")),
        "{stderr}"
    );
    assert!(stderr.contains("ollama serve"), "{stderr}");
    assert!(stderr.contains("--base-url"), "{stderr}");
    assert!(
        stderr.contains("/collect works without a model"),
        "{stderr}"
    );
    assert!(stderr.contains("unknown command `/nosuch`"), "{stderr}");
    assert!(stderr.contains("no evidence yet"), "{stderr}");
    assert!(stdout.contains("0 tokens used"), "{stdout}");
}

/// The first user message the replayed model received in a piped session fed `stdin`.
async fn first_user_message(stdin: &'static str) -> String {
    use support::model::{oa_text, ModelServer, Scripted, OA_PATH};
    let s = ModelServer::start().await;
    s.script(OA_PATH, vec![Scripted::ok(oa_text(MODEL, FINAL)); 3])
        .await;
    let home = tempfile::tempdir().unwrap();
    let base = s.v1_url();
    let dir = home.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        run_piped(
            &dir,
            &[
                "local",
                "--no-persist",
                "--base-url",
                &base,
                "--model",
                MODEL,
            ],
            stdin,
        )
    })
    .await
    .unwrap();
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("nearly full"),
        "the report is shown: {stdout}\n{stderr}"
    );
    let requests = s.requests(OA_PATH).await;
    let first = requests.first().expect("the turn reached the model");
    first["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .expect("a user message")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_turn_without_collect_says_nothing_about_detectors() {
    // Nothing was collected: no detector ran, so the model must not be told "none fired".
    let msg = first_user_message("why is the disk full?\n/quit\n").await;
    assert!(msg.contains("why is the disk full?"), "{msg}");
    assert!(!msg.to_lowercase().contains("detector"), "{msg}");
    assert!(!msg.contains("Deterministic findings"), "{msg}");
    assert!(!msg.contains("Baseline collected"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_turn_after_collect_carries_the_baseline_and_the_findings() {
    let msg = first_user_message("/collect disk\nwhy is the disk full?\n/quit\n").await;
    assert!(
        msg.contains("Baseline collected by tai (plan for category disk)"),
        "{msg}"
    );
    assert!(msg.contains("Deterministic findings"), "{msg}");
}

#[test]
fn issue_on_the_command_line_without_a_model_collects_its_category() {
    let home = tempfile::tempdir().unwrap();
    let base = closed_port_url();
    let out = run_piped(
        home.path(),
        &[
            "--no-persist",
            "--base-url",
            &base,
            "local",
            "No space left on device",
        ],
        "/show tools\n",
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("is unreachable"), "{stderr}");
    // The first turn fell back to the baseline of the classified category.
    assert!(stdout.contains("\ndisk: "), "{stdout}");
    assert!(stdout.contains("disk_usage"), "{stdout}");
}

#[test]
fn a_session_is_remembered_and_history_finds_it() {
    let home = tempfile::tempdir().unwrap();
    let base = closed_port_url();
    // Persisting: the first session ends with its summary saved to session memory.
    let out = run_piped(
        home.path(),
        &["--base-url", &base, "local", "No space left on device"],
        "/runbooks\n/quit\n",
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("session saved to history as #"), "{stderr}");
    // The first turn retrieved runbooks for the issue.
    assert!(
        text(&out.stdout).contains("Runbooks retrieved this session"),
        "{}",
        text(&out.stdout)
    );
    // A later session on the same host lists it.
    let out = run_piped(home.path(), &["--base-url", &base, "local"], "/history\n");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Recent sessions on this host"), "{stdout}");
    assert!(stdout.contains("No space left on device"), "{stdout}");
}

#[test]
fn clear_forgets_what_was_collected() {
    let home = tempfile::tempdir().unwrap();
    let base = closed_port_url();
    let out = run_piped(
        home.path(),
        &["local", "--no-persist", "--base-url", &base],
        "/collect time\n/clear\n/show tools\n/show logs\n",
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("\ntime: "), "{stdout}");
    assert!(stdout.contains("cleared the conversation and "), "{stdout}");
    assert!(stdout.contains("still on local"), "{stdout}");
    let after = stdout.split("cleared the conversation").nth(1).unwrap();
    assert!(after.contains("no tool calls yet"), "{stdout}");
    assert!(after.contains("nothing collected yet"), "{stdout}");
}

#[test]
fn piped_save_writes_a_markdown_transcript() {
    let home = tempfile::tempdir().unwrap();
    let base = closed_port_url();
    let file = home.path().join("incident.md");
    let out = run_piped(
        home.path(),
        &["local", "--no-persist", "--base-url", &base],
        &format!(
            "is ntp \\\nin sync?\n/save {}\n/save {}\n",
            file.display(),
            home.path().display()
        ),
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let md = std::fs::read_to_string(&file).unwrap();
    assert!(md.starts_with("# tai session on local"), "{md}");
    // The continued line arrived as one turn with its newline.
    assert!(md.contains("**you@local:** is ntp \nin sync?"), "{md}");
    assert!(md.contains("is unreachable"), "{md}");
    assert!(stderr.contains("is a directory"), "{stderr}");
}

#[test]
fn piped_session_over_ssh_to_a_loopback_sshd() {
    let sshd = support::sshd::Sshd::start();
    let home = tempfile::tempdir().unwrap();
    let kh = home.path().join("known_hosts");
    let key = sshd.client_key().to_string_lossy().into_owned();
    let kh_s = kh.to_string_lossy().into_owned();
    let target = sshd.target();
    let out = run_piped(
        home.path(),
        &[
            &target,
            "--no-persist",
            "--ignore-ssh-config",
            "-i",
            &key,
            "--known-hosts",
            &kh_s,
            "--base-url",
            &closed_port_url(),
        ],
        "/help host\n/show tools\n/host local\n/quit\n",
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "{stdout}\n{stderr}\nsshd log:\n{}",
        sshd.log_text()
    );
    // The facts line names the SSH target; /host switched to this machine.
    assert!(stdout.starts_with(&target), "{stdout}");
    assert!(stdout.contains("/host HOST"), "{stdout}");
    assert!(
        stdout.contains(&format!("(switched from {target};")),
        "{stdout}"
    );
    // The host key was learned on first contact.
    assert!(std::fs::read_to_string(&kh)
        .unwrap()
        .contains(&format!("]:{}", sshd.port)));
}

#[test]
fn unknown_host_fails_before_the_session_with_its_exit_code() {
    let home = tempfile::tempdir().unwrap();
    let out = run_piped(home.path(), &["--no-persist", "--", "-bad"], "");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("invalid host"),
        "{}",
        text(&out.stderr)
    );
}

/// A tmux server of our own (its own socket), killed on drop (the TUI test drives one too).
pub(super) struct Tmux {
    socket: String,
}

impl Tmux {
    pub(super) fn start(cmdline: &str) -> Tmux {
        Self::start_sized(cmdline, 200)
    }

    pub(super) fn start_sized(cmdline: &str, width: u16) -> Tmux {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let socket = format!("tai-repl-test-{}-{n}", std::process::id());
        let t = Tmux { socket };
        // Keep the pane after the program exits so its last words and exit code can be read.
        let wrapped = format!("{cmdline}; echo \"[exited rc=$?]\"; sleep 120");
        let st = t
            .cmd()
            .args([
                "new-session",
                "-d",
                "-x",
                &width.to_string(),
                "-y",
                "50",
                "-s",
                "t",
            ])
            .arg(&wrapped)
            .status()
            .expect("tmux (installed by .ci/run)");
        assert!(st.success(), "tmux new-session failed");
        t
    }

    pub(super) fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    pub(super) fn send(&self, keys: &[&str]) {
        let st = self
            .cmd()
            .args(["send-keys", "-t", "t"])
            .args(keys)
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Type literal text (no key-name interpretation), then Enter.
    pub(super) fn type_line(&self, line: &str) {
        let st = self
            .cmd()
            .args(["send-keys", "-t", "t", "-l", line])
            .status()
            .unwrap();
        assert!(st.success());
        self.send(&["Enter"]);
    }

    /// The whole pane including scrollback, as plain text.
    pub(super) fn screen(&self) -> String {
        self.capture(&[])
    }

    /// The pane with `extra` capture-pane flags (`-e` keeps colours).
    fn capture(&self, extra: &[&str]) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-J", "-S", "-2000", "-t", "t"])
            .args(extra)
            .output()
            .unwrap();
        text(&out.stdout)
    }

    /// Wait until `needle` appears `count` times on the screen.
    pub(super) fn wait_for_n(&self, needle: &str, count: usize, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.matches(needle).count() >= count {
                return s;
            }
            if start.elapsed() > timeout {
                panic!("timed out waiting for {needle:?} (x{count}); screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(super) fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        self.wait_for_n(needle, 1, timeout)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

fn q(p: &Path) -> String {
    shell_words::quote(&p.to_string_lossy()).into_owned()
}

pub(super) fn tai_shell_command(home: &Path, args: &[String]) -> String {
    tai_shell_command_env(home, args, "NO_COLOR=1")
}

fn tai_shell_command_env(home: &Path, args: &[String], extra_env: &str) -> String {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_tai"));
    let path = std::env::var("PATH").unwrap_or_default();
    let args: Vec<String> = args
        .iter()
        .map(|a| shell_words::quote(a).into_owned())
        .collect();
    format!(
        "env -i PATH={} HOME={} TAI_HOME={} TERM=xterm-256color {} {} {}",
        shell_words::quote(&path),
        q(home),
        q(&home.join(".tai")),
        extra_env,
        q(&bin),
        args.join(" ")
    )
}

const MODEL: &str = "qwen3:4b";

const FINAL: &str = "## Root Cause\nThe root filesystem is nearly full.\n\n## Evidence\n- df shows the usage of / [T7]\n\n## Recommended Actions\n1. `du -xh --max-depth=1 /var | sort -h` to find what grew\n\n## Confidence\nmedium";

/// A model endpoint replaying Ollama's OpenAI-compatible wire format: the first turn asks for
/// one tool call and then answers; every later request is answered only after `slow`, so the
/// second turn can be interrupted.
pub(super) async fn replayed_model(slow: Duration) -> support::model::ModelServer {
    use support::model::{oa_text, oa_tool_calls, ModelServer, OA_PATH};
    let s = ModelServer::start().await;
    let replies = [
        oa_tool_calls(
            MODEL,
            &[("call_d1sk", "disk_usage", serde_json::json!({"path": "/"}))],
        ),
        oa_text(MODEL, FINAL),
    ];
    // Mounted first, each answers once, in order; then the slow one answers the rest.
    for body in replies {
        Mock::given(method("POST"))
            .and(path(OA_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .up_to_n_times(1)
            .mount(&s.server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path(OA_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(slow)
                .set_body_json(oa_text(MODEL, FINAL)),
        )
        .mount(&s.server)
        .await;
    s
}

pub(super) const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_session_in_a_pseudo_terminal() {
    let home = tempfile::tempdir().unwrap();
    let sshd = support::sshd::Sshd::start();
    // The second turn's answer comes only after 30 s: Ctrl-C must cut it short.
    let model = replayed_model(Duration::from_secs(30)).await;
    let target = sshd.target();
    let args: Vec<String> = vec![
        target.clone(),
        "--ignore-ssh-config".into(),
        "-i".into(),
        sshd.client_key().to_string_lossy().into_owned(),
        "--known-hosts".into(),
        home.path()
            .join("known_hosts")
            .to_string_lossy()
            .into_owned(),
        "--base-url".into(),
        model.v1_url(),
    ];
    let tmux = Tmux::start(&tai_shell_command(home.path(), &args));
    let prompt = format!("tai {target} #1");

    // Connected: the facts line and the prompt with host and turn number.
    let s = tmux.wait_for(&prompt, WAIT);
    assert!(s.contains("0 tokens"), "right prompt shows tokens:\n{s}");

    tmux.type_line("/help");
    tmux.wait_for("/collect [CATEGORY]", WAIT);
    tmux.wait_for("Ctrl-D or /quit ends the session", WAIT);

    // Tab completes a unique command name.
    tmux.send(&["/sh", "Tab"]);
    tmux.send(&["tools", "Enter"]);
    tmux.wait_for("no tool calls yet", WAIT);

    // The disk baseline over SSH, then the calls with status and duration.
    tmux.type_line("/collect disk");
    tmux.wait_for("/show logs shows what was collected", WAIT);
    tmux.type_line("/show tools");
    let s = tmux.wait_for_n("T1  disk_usage", 2, WAIT);
    assert!(s.contains(" ms "), "{s}");
    tmux.type_line("/show logs T1");
    tmux.wait_for("[T1] disk_usage on", WAIT);

    // Ctrl-C at an empty prompt says how to quit, and the session goes on.
    tmux.send(&["C-c"]);
    tmux.wait_for("type /quit or press Ctrl-D", WAIT);

    // A question: the model calls a tool on the host, then answers with a report.
    tmux.type_line("why is the disk full?");
    let s = tmux.wait_for("The root filesystem is nearly full.", WAIT);
    assert!(s.contains("Root Cause"), "{s}");
    assert!(s.contains("Recommended Actions"), "{s}");
    // The next prompt counts the turn and the tokens the server reported.
    let next = format!("tai {target} #2");
    tmux.wait_for(&next, WAIT);
    tmux.type_line("/tokens");
    let s = tmux.wait_for("tokens used", WAIT);
    assert!(
        !s.contains("\n0 tokens used"),
        "the turn's tokens are counted:\n{s}"
    );
    tmux.type_line("/show tools");
    tmux.wait_for_n("T7  disk_usage", 1, WAIT);

    // A slow follow-up turn, cancelled with Ctrl-C: back at the prompt well before 30 s.
    let asked = Instant::now();
    tmux.type_line("and what about inodes?");
    std::thread::sleep(Duration::from_millis(1500));
    tmux.send(&["C-c"]);
    tmux.wait_for("turn cancelled", WAIT);
    assert!(
        asked.elapsed() < Duration::from_secs(20),
        "Ctrl-C did not cut the turn short"
    );
    // Still turn 2: a cancelled turn does not count.
    tmux.wait_for_n(&next, 4, WAIT);

    tmux.type_line("/quit");
    let s = tmux.wait_for("[exited rc=", WAIT);
    assert!(s.contains("[exited rc=0]"), "{s}");
    // The history is kept in TAI_HOME/repl_history.
    let hist = std::fs::read_to_string(home.path().join(".tai/repl_history")).unwrap();
    assert!(hist.contains("/help"), "{hist}");
    assert!(hist.contains("why is the disk full?"), "{hist}");
    assert!(hist.contains("and what about inodes?"), "{hist}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_d_quits_and_no_persist_keeps_no_history() {
    let home = tempfile::tempdir().unwrap();
    let args: Vec<String> = ["local", "--no-persist"].map(String::from).to_vec();
    let tmux = Tmux::start(&tai_shell_command(home.path(), &args));
    tmux.wait_for("tai local #1", WAIT);
    tmux.type_line("/help quit");
    tmux.wait_for("Also: /exit, /q", WAIT);
    tmux.send(&["C-d"]);
    let s = tmux.wait_for("[exited rc=", WAIT);
    assert!(s.contains("[exited rc=0]"), "{s}");
    assert!(!home.path().join(".tai").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colours_on_a_terminal_and_output_wrapped_to_its_width() {
    let home = tempfile::tempdir().unwrap();
    let args: Vec<String> = ["local", "--no-persist", "--base-url", &closed_port_url()]
        .map(String::from)
        .to_vec();
    let tmux = Tmux::start_sized(&tai_shell_command_env(home.path(), &args, ""), 60);
    tmux.wait_for("tai local #1", WAIT);
    tmux.type_line("/help");
    tmux.wait_for("/collect [CATEGORY]", WAIT);
    tmux.type_line("/nosuch");
    tmux.wait_for("unknown command", WAIT);
    // Lines tmux wrapped are joined by -J; lines tai wrapped stay apart: all fit in 60.
    let s = tmux.screen();
    let help: Vec<&str> = s
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .take_while(|l| !l.contains("tai local #2") && !l.contains("/nosuch"))
        .collect();
    assert!(help.len() > 12, "{s}");
    for line in &help {
        assert!(line.chars().count() <= 60, "not wrapped: {line:?}\n{s}");
    }
    // Words are not cut: the sentence survives wrapping.
    let joined = help
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(joined.contains("Ctrl-C cancels a running turn;"), "{s}");
    // Without NO_COLOR the error label is coloured.
    let coloured = tmux.capture(&["-e"]);
    assert!(
        coloured.contains("\u{1b}["),
        "no colour on a terminal:\n{coloured}"
    );
    tmux.type_line("/quit");
    tmux.wait_for("[exited rc=0]", WAIT);
}
