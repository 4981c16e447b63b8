//! `tai tui` in a real terminal (tmux: `send-keys`, `capture-pane`) against a loopback sshd
//! and a replayed model: `/collect disk` runs from the input bar, the probes pane fills and
//! settles, the report appears, a citation jumps to its call, the history browser opens,
//! Ctrl-C cancels a turn, 80x24 keeps the layout, and `q` gives the terminal back cooked.
use std::time::{Duration, Instant};

use super::repl::{replayed_model, tai_shell_command, Tmux, WAIT};
use crate::support;

/// Press `key` until `done` holds for the screen (at most `n` times).
fn press_until(t: &Tmux, key: &str, n: usize, done: impl Fn(&str) -> bool) -> String {
    for _ in 0..n {
        let s = t.screen();
        if done(&s) {
            return s;
        }
        t.send(&[key]);
        std::thread::sleep(Duration::from_millis(150));
    }
    let s = t.screen();
    assert!(done(&s), "pressed {key} {n} times; screen:\n{s}");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tui_in_a_pseudo_terminal() {
    let home = tempfile::tempdir().unwrap();
    let sshd = support::sshd::Sshd::start();
    // Turns after the first are answered only after 30 s: Ctrl-C must cut one short.
    let model = replayed_model(Duration::from_secs(30)).await;
    let target = sshd.target();
    let kh = home.path().join("known_hosts");
    let args: Vec<String> = vec![
        "tui".into(),
        "--ignore-ssh-config".into(),
        "-i".into(),
        sshd.client_key().to_string_lossy().into_owned(),
        "--known-hosts".into(),
        kh.to_string_lossy().into_owned(),
        "--base-url".into(),
        model.v1_url(),
        target.clone(),
    ];
    // After tai: its exit code, then whether the terminal is cooked again (icanon).
    let cmd = format!(
        "{}; echo \"[tai rc=$?]\"; stty -a | tr ' ;' '\\n\\n' | grep -x -- '-*icanon'",
        tai_shell_command(home.path(), &args)
    );
    let tmux = Tmux::start_sized(&cmd, 120);

    // /collect disk from the input bar (which has the focus at start): T1..T6.
    tmux.wait_for(&format!("on {target}"), WAIT);
    tmux.type_line("/collect disk");
    let s = tmux.wait_for("/show logs shows what was collected", WAIT);
    assert!(
        s.contains("disk: "),
        "the collection summary is in the answer:\n{s}"
    );

    // A question: the model's call (T7) fills the probes and settles ([..] → [ok]), the
    // report appears.
    tmux.type_line("the disk is full");
    tmux.wait_for("Root Cause", WAIT);
    let start = Instant::now();
    let s = loop {
        let s = tmux.screen();
        if !s.contains("[..]") || start.elapsed() > WAIT {
            break s;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!s.contains("[..]"), "a call still shows running:\n{s}");
    assert!(s.contains("[ok]  T7   disk_usage"), "{s}");

    // The citation [T7] in the answer opens T7's output.
    tmux.send(&["Tab", "Tab", "Tab"]);
    tmux.wait_for("▶ Answer", WAIT);
    press_until(&tmux, "j", 60, |s| {
        s.lines().any(|l| l.contains("│> ") && l.contains("[T7]"))
    });
    tmux.send(&["Enter"]);
    let s = tmux.wait_for("▶ Output T7 disk_usage", WAIT);
    assert!(s.contains("$ df"), "{s}");

    // The history browser.
    // (From the output pane, where the citation left the focus.)
    tmux.send(&["h"]);
    tmux.wait_for("History: past sessions and runbooks retrieved", WAIT);
    tmux.send(&["x"]);

    // A slow turn, cancelled with Ctrl-C; what was gathered stays.
    tmux.send(&["i"]);
    tmux.type_line("why is it full?");
    tmux.wait_for("Answer (thinking…)", WAIT);
    let cancelled_at = Instant::now();
    tmux.send(&["C-c"]);
    let s = tmux.wait_for("turn cancelled", WAIT);
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(20),
        "Ctrl-C did not cut the 30 s turn short"
    );
    assert!(s.contains("T7"), "{s}");

    // 80x24: every pane is still there, nothing wider than the window.
    let st = tmux
        .cmd()
        .args(["resize-window", "-t", "t", "-x", "80", "-y", "24"])
        .status()
        .unwrap();
    assert!(st.success());
    // Wait for a whole redrawn frame: a capture can land while the resized frame is half drawn.
    let panes = ["Probes (", "Output T7", "Answer", "Ask, or /collect"];
    let start = Instant::now();
    let s = loop {
        let s = tmux.screen();
        let fits = s.lines().all(|l| l.chars().count() <= 80);
        if fits && panes.iter().all(|p| s.contains(p)) || start.elapsed() > WAIT {
            break s;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for pane in panes {
        assert!(s.contains(pane), "{pane} missing at 80x24:\n{s}");
    }
    assert!(s.lines().all(|l| l.chars().count() <= 80), "{s}");

    // q (outside the input bar) quits; the terminal is cooked again.
    // (Escape and q apart: together they read as Alt-q.)
    tmux.send(&["Escape"]);
    tmux.wait_for("▶ Probes", WAIT);
    tmux.send(&["q"]);
    let s = tmux.wait_for("[tai rc=0]", WAIT);
    let s = if s.lines().any(|l| l.trim().ends_with("icanon")) {
        s
    } else {
        tmux.wait_for("icanon", WAIT)
    };
    assert!(
        s.lines().any(|l| l.trim() == "icanon"),
        "the terminal was left raw (-icanon):\n{s}"
    );
}
