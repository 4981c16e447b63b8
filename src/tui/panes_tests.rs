//! Render tests of each pane with ratatui's TestBackend, at 80x24 and in monochrome.
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::*;
use crate::tui::app::CallRow;

fn screen(app: &mut App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    t.draw(|f| draw(f, app)).expect("draw");
    let buf = t.backend().buffer().clone();
    let mut s = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

fn sample() -> App {
    let mut app = App::new("web01", false);
    app.calls = vec![
        CallRow {
            id: "T1".into(),
            tool: "disk_usage".into(),
            args: "path=/var".into(),
            status: RowStatus::Ok,
            duration_ms: Some(12),
            output: "Filesystem Size Used\n/dev/sda1 10G 10G 100% /var\ntmpfs 1G 0 0% /run\n"
                .into(),
        },
        CallRow {
            id: "T2".into(),
            tool: "read_file".into(),
            args: "path=/etc/shadow".into(),
            status: RowStatus::Denied,
            duration_ms: Some(1),
            output: String::new(),
        },
        CallRow {
            id: "T3".into(),
            tool: "journal".into(),
            args: String::new(),
            status: RowStatus::Running,
            duration_ms: None,
            output: String::new(),
        },
    ];
    app.findings = vec!["critical /var is full [t1]".into()];
    app.cited = vec![("T1".into(), "/dev/sda1 10G 10G 100% /var".into())];
    app.say("Root cause: /var is full [T1]");
    app
}

#[test]
fn probes_pane_lists_calls_with_status_markers_and_findings() {
    let mut app = sample();
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Probes (3) on web01"), "{s}");
    assert!(s.contains("[ok]  T1   disk_usage 12ms"), "{s}");
    assert!(s.contains("[DENY]T2"), "{s}");
    assert!(s.contains("[..]  T3"), "{s}");
    assert!(s.contains("! critical /var is full"), "{s}");
}

#[test]
fn output_pane_marks_cited_lines_and_search_matches() {
    let mut app = sample();
    app.search = Some("tmpfs".into());
    let s = screen(&mut app, 100, 30);
    assert!(s.contains("Output T1 disk_usage (1-3 of 3)  /tmpfs"), "{s}");
    assert!(s.contains("» /dev/sda1 10G 10G 100% /var"), "{s}");
    assert!(s.contains("* tmpfs 1G"), "{s}");
    assert!(s.contains("  Filesystem Size Used"), "{s}");
}

#[test]
fn answer_input_and_status_panes() {
    let mut app = sample();
    app.input = "/collect disk".into();
    app.error = Some("error: model endpoint http://127.0.0.1:9 is unreachable".into());
    app.status = "a note the error outranks".into();
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Answer"), "{s}");
    assert!(s.contains("Root cause: /var is full [T1]"), "{s}");
    assert!(
        s.contains("▶ Ask, or /collect"),
        "the input has the focus marker: {s}"
    );
    assert!(s.contains("> /collect disk_"), "{s}");
    let last = s.lines().nth(23).unwrap_or_default();
    assert!(last.starts_with("error: model endpoint"), "{last}");
}

#[test]
fn overlays_keys_and_history_browser() {
    let mut app = sample();
    app.show_keys = true;
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("Ctrl-C"), "{s}");
    assert!(s.contains("cancel the running turn"), "{s}");
    app.show_keys = false;
    app.browser = Some(vec![
        "Recent sessions on this host".into(),
        "  #4 web01 [disk] full".into(),
    ]);
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("History: past sessions"), "{s}");
    assert!(s.contains("#4 web01 [disk] full"), "{s}");
}

#[test]
fn small_and_resized_terminals_keep_every_pane() {
    for (w, h) in [(80, 24), (120, 40), (40, 12)] {
        let mut app = sample();
        let s = screen(&mut app, w, h);
        for title in ["Probes", "Output", "Answer"] {
            assert!(s.contains(title), "{title} at {w}x{h}: {s}");
        }
    }
}

#[test]
fn monochrome_has_no_colours_but_keeps_markers() {
    let mut app = sample();
    let mut t = Terminal::new(TestBackend::new(80, 24)).expect("test terminal");
    t.draw(|f| draw(f, &mut app)).expect("draw");
    let buf = t.backend().buffer();
    let coloured = buf
        .content()
        .iter()
        .filter(|c| c.fg != ratatui::style::Color::Reset || c.bg != ratatui::style::Color::Reset)
        .count();
    assert_eq!(coloured, 0);
    let mut colour = sample();
    colour.color = true;
    let mut t = Terminal::new(TestBackend::new(80, 24)).expect("test terminal");
    t.draw(|f| draw(f, &mut colour)).expect("draw");
    assert!(t
        .backend()
        .buffer()
        .content()
        .iter()
        .any(|c| c.fg != ratatui::style::Color::Reset));
}

#[test]
fn a_10k_line_output_scrolled_to_the_end_shows_its_last_lines() {
    let mut app = sample();
    app.calls[0].output = (0..10_000).map(|i| format!("line {i}\n")).collect();
    app.output_scroll = 9_990;
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("line 9999"), "{s}");
    assert!(s.contains("of 10000"), "{s}");
}
