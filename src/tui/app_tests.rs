//! Keys, progress lines and citations: the TUI's state without a terminal.
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        app.key(key(KeyCode::Char(c)));
    }
}

fn row(id: &str, output: &str) -> CallRow {
    CallRow {
        id: id.into(),
        tool: "disk_usage".into(),
        args: String::new(),
        status: RowStatus::Ok,
        duration_ms: Some(3),
        output: output.into(),
    }
}

#[test]
fn progress_lines_become_live_rows_then_settle() {
    let mut app = App::new("web01", false);
    app.progress("→ T1 disk_usage path=/var");
    assert_eq!(app.calls.len(), 1);
    assert_eq!(app.calls[0].status, RowStatus::Running);
    assert_eq!(app.calls[0].args, "path=/var");
    app.progress("✓ T1 disk_usage path=/var 12 ms");
    assert_eq!(app.calls[0].status, RowStatus::Ok);
    assert_eq!(app.calls[0].duration_ms, Some(12));
    app.progress("✗ T2 read_file path=/etc/shadow 1 ms denied by policy");
    assert_eq!(app.calls[1].status, RowStatus::Denied);
    app.progress("✗ T3 service_status  4 ms error");
    assert_eq!(app.calls[2].status, RowStatus::Error);
    assert_eq!(app.calls[2].duration_ms, Some(4));
    // Anything else is a note for the status line.
    app.progress("collecting the disk baseline");
    assert_eq!(app.status, "collecting the disk baseline");
    assert_eq!(app.calls.len(), 3);
}

#[test]
fn tab_cycles_panes_and_q_quits_outside_the_input() {
    let mut app = App::new("h", false);
    assert_eq!(app.focus, Pane::Input);
    assert_eq!(app.key(key(KeyCode::Char('q'))), Action::None);
    assert_eq!(app.input, "q", "q is text in the input bar");
    app.key(key(KeyCode::Backspace));
    app.key(key(KeyCode::Tab));
    assert_eq!(app.focus, Pane::Probes);
    app.key(key(KeyCode::BackTab));
    assert_eq!(app.focus, Pane::Input);
    app.key(key(KeyCode::Esc));
    assert_eq!(app.key(key(KeyCode::Char('q'))), Action::Quit);
}

#[test]
fn enter_submits_and_history_recalls() {
    let mut app = App::new("h", false);
    typed(&mut app, "/collect disk");
    assert_eq!(
        app.key(key(KeyCode::Enter)),
        Action::Submit("/collect disk".into())
    );
    assert!(app.input.is_empty());
    app.key(key(KeyCode::Up));
    assert_eq!(app.input, "/collect disk");
    app.key(key(KeyCode::Down));
    assert!(app.input.is_empty());
    typed(&mut app, "/history");
    assert_eq!(app.key(key(KeyCode::Enter)), Action::History);
}

#[test]
fn ctrl_c_cancels_only_a_running_turn() {
    let mut app = App::new("h", false);
    let cc = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    typed(&mut app, "half typed");
    assert_eq!(app.key(cc), Action::None);
    assert!(app.input.is_empty(), "idle Ctrl-C clears the input");
    app.busy = Some("thinking".into());
    assert_eq!(app.key(cc), Action::Cancel);
}

#[test]
fn citation_jumps_to_the_call() {
    let mut app = App::new("h", false);
    app.calls = vec![row("T1", "a"), row("T2", "b"), row("T3", "c")];
    app.say("Root cause: disk full\nEvidence: /var at 100% [T3]\nnothing here");
    assert_eq!(citations("x [T2, T3] y [T10]"), vec!["T2", "T3", "T10"]);
    assert!(citations("[x] [T] [Tx]").is_empty());
    app.focus = Pane::Answer;
    app.answer_cursor = 0;
    app.key(key(KeyCode::Char('j')));
    app.key(key(KeyCode::Enter));
    assert_eq!(app.selected, 2);
    assert_eq!(app.focus, Pane::Output);
    app.focus = Pane::Answer;
    app.key(key(KeyCode::Char('j')));
    app.key(key(KeyCode::Enter));
    assert_eq!(app.selected, 2, "a line without a citation changes nothing");
    assert!(app.status.contains("cites no tool call"));
}

#[test]
fn search_moves_the_output_to_the_next_match() {
    let mut app = App::new("h", false);
    let out: String = (0..100).map(|i| format!("line {i}\n")).collect();
    app.calls = vec![row("T1", &out)];
    app.focus = Pane::Output;
    app.key(key(KeyCode::Char('/')));
    assert!(app.searching);
    typed(&mut app, "LINE 42");
    app.key(key(KeyCode::Enter));
    assert_eq!(app.output_scroll, 42);
    app.search = Some("no such".into());
    app.search_next();
    assert!(app.status.contains("not found"));
    app.key(key(KeyCode::PageDown));
    assert_eq!(app.output_scroll, 42 + app.page);
}

#[test]
fn tab_completes_slash_commands_with_the_repl_completer() {
    let mut app = App::new("h", false);
    app.completer = Some(SlashCompleter::new(crate::repl::completer::Vocabulary {
        categories: vec!["disk".into(), "dns".into()],
        tools: Vec::new(),
        hosts: Vec::new(),
    }));
    typed(&mut app, "/coll");
    app.key(key(KeyCode::Tab));
    assert_eq!(app.input, "/collect ");
    typed(&mut app, "di");
    app.key(key(KeyCode::Tab));
    assert_eq!(app.input, "/collect disk");
    assert_eq!(app.focus, Pane::Input, "Tab completed instead of moving");
}

#[test]
fn any_key_closes_an_overlay() {
    let mut app = App::new("h", false);
    app.focus = Pane::Probes;
    app.key(key(KeyCode::Char('?')));
    assert!(app.show_keys);
    assert_eq!(app.key(key(KeyCode::Char('q'))), Action::None);
    assert!(!app.show_keys);
    assert_eq!(app.key(key(KeyCode::Char('h'))), Action::History);
}
