//! TUI frame benchmark (not a timed test): one full frame of `tai tui` (every pane, through
//! ratatui's `TestBackend`, so the terminal's own write is not measured) while the output pane
//! shows a 10,000-line output scrolled to its end, with a search active and cited evidence
//! lines, next to a baseline measured in the same run: the same frame with no call at all.
//! The goal: ≤ 16 ms per frame (60 frames a second).
//! Run: `cargo bench --bench tui_render` (`-- --rounds N`, default 200; `-- --lines N`,
//! default 10000; `-- --size WxH`, default 200x50).
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tai::tui::{panes, App, CallRow, RowStatus};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn app_with(lines: usize) -> App {
    let mut app = App::new("web01", true);
    if lines == 0 {
        return app;
    }
    let output: String = (0..lines)
        .map(|i| {
            format!(
                "2026-12-02T08:{:02}:{:02}+0000 web01 kernel: EXT4-fs warning (device vda1): ext4_dx_add_entry:{i}: Directory index full!\n",
                (i / 60) % 60,
                i % 60
            )
        })
        .collect();
    for i in 1..=12 {
        app.calls.push(CallRow {
            id: format!("T{i}"),
            tool: "read_journal".into(),
            args: "unit=nginx lines=10000".into(),
            status: if i == 12 {
                RowStatus::Running
            } else {
                RowStatus::Ok
            },
            duration_ms: Some(40 + i),
            output: if i == 1 {
                output.clone()
            } else {
                String::new()
            },
        });
    }
    app.selected = 0;
    app.output_scroll = lines.saturating_sub(20);
    app.search = Some("index full".into());
    app.cited = (0..5)
        .map(|k| {
            let i = lines - 1 - k;
            (
                "T1".into(),
                format!("ext4_dx_add_entry:{i}: Directory index full!"),
            )
        })
        .collect();
    app.findings = vec!["critical ext4 directory index full on vda1 [t1]".into()];
    app.say(&"Root cause: the directory index of /var/spool is full [T1]\n".repeat(40));
    app
}

fn frame_times(app: &mut App, w: u16, h: u16, rounds: usize) -> Vec<Duration> {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        term.draw(|f| panes::draw(f, app)).expect("draw");
        times.push(t.elapsed());
    }
    times.sort();
    times
}

fn pct(v: &[Duration], p: f64) -> f64 {
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

fn main() {
    let rounds: usize = arg("--rounds").and_then(|v| v.parse().ok()).unwrap_or(200);
    let lines: usize = arg("--lines")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let (w, h) = arg("--size")
        .and_then(|s| {
            let (a, b) = s.split_once('x')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .unwrap_or((200u16, 50u16));
    let base = frame_times(&mut app_with(0), w, h, rounds);
    let full = frame_times(&mut app_with(lines), w, h, rounds);
    println!("tui frame at {w}x{h}, {rounds} rounds (ms per frame)");
    println!("  {:<40} {:>8} {:>8} {:>8}", "", "p50", "p90", "max");
    for (name, v) in [
        ("baseline: empty session".to_string(), &base),
        (format!("{lines}-line output, search, citations"), &full),
    ] {
        println!(
            "  {:<40} {:>8.3} {:>8.3} {:>8.3}",
            name,
            pct(v, 0.5),
            pct(v, 0.9),
            pct(v, 1.0)
        );
    }
    let ratio = pct(&full, 0.5) / pct(&base, 0.5).max(1e-9);
    let ok = pct(&full, 0.9) <= 16.0;
    println!(
        "  ratio p50 {ratio:.1}x the empty frame; p90 {} 16 ms: {}",
        if ok { "≤" } else { ">" },
        if ok { "met" } else { "NOT met" }
    );
}
