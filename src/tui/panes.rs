//! Drawing the screen from [`App`]: probes (calls and findings) and output on top, the answer
//! below, then the input bar and the status line; the keys help and the history browser are
//! overlays. Every state has a text marker too (`[ok]`, `»` for a cited line, `▶` for the
//! focused pane), so `NO_COLOR` loses nothing. Only the visible lines of an output are laid
//! out, so a 10,000-line output costs what a screenful does.
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Pane, RowStatus};

/// The keys, for `?`.
pub const KEYS: &[(&str, &str)] = &[
    (
        "Tab / Shift-Tab",
        "next / previous pane (Tab completes a /command in the input)",
    ),
    ("j k  Up Down", "move in the pane"),
    ("PgUp PgDn  g G", "a page / the top / the end"),
    (
        "Enter",
        "probes: open the call's output; answer: follow the line's [T3] citation",
    ),
    ("/  n", "search the output; next match"),
    ("h", "history browser (past sessions, runbooks retrieved)"),
    ("i  Esc", "to the input bar / out of it"),
    (
        "Ctrl-C",
        "cancel the running turn (what it gathered is kept)",
    ),
    ("q", "quit (from any pane but the input; /quit there)"),
    ("?", "this help; any key closes it"),
];

fn style(app: &App, color: Color) -> Style {
    if app.color {
        Style::default().fg(color)
    } else {
        Style::default()
    }
}

fn block<'a>(app: &App, pane: Pane, title: String) -> Block<'a> {
    let focused = app.focus == pane;
    let title = if focused {
        format!("▶ {title}")
    } else {
        format!("  {title}")
    };
    let mut b = Block::default().borders(Borders::ALL).title(title);
    if focused {
        b = b.border_style(style(app, Color::Cyan).add_modifier(Modifier::BOLD));
    }
    b
}

/// Draw the whole screen.
pub fn draw(f: &mut Frame, app: &mut App) {
    let area = f.area();
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Percentage(55),
            Constraint::Min(4),
            Constraint::Length(3),
            Constraint::Length(1),
        ])
        .split(area);
    let top = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(42), Constraint::Percentage(58)])
        .split(rows[0]);
    probes(f, app, top[0]);
    output(f, app, top[1]);
    answer(f, app, rows[1]);
    input(f, app, rows[2]);
    status(f, app, rows[3]);
    if app.show_keys {
        keys(f, app, area);
    } else if let Some(lines) = &app.browser {
        browser(f, app, lines, area);
    }
}

/// The probes pane: one row per call, then the findings.
pub fn probes(f: &mut Frame, app: &App, area: Rect) {
    let inner_h = area.height.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = Vec::new();
    let call_rows = if app.findings.is_empty() {
        inner_h
    } else {
        inner_h.saturating_sub(app.findings.len().min(inner_h / 2) + 1)
    };
    let first = app
        .selected
        .saturating_sub(call_rows.saturating_sub(1))
        .min(app.calls.len());
    for (i, c) in app.calls.iter().enumerate().skip(first).take(call_rows) {
        let colour = match c.status {
            RowStatus::Running => Color::Yellow,
            RowStatus::Ok => Color::Green,
            RowStatus::Denied => Color::Magenta,
            RowStatus::Error => Color::Red,
        };
        let dur = c
            .duration_ms
            .map(|ms| format!("{ms}ms"))
            .unwrap_or_default();
        let sel = i == app.selected;
        let mut row = Line::from(vec![
            Span::raw(if sel { "> " } else { "  " }),
            Span::styled(format!("{:<6}", c.status.marker()), style(app, colour)),
            Span::raw(format!("{:<4} {} ", c.id, c.tool)),
            Span::styled(dur, style(app, Color::DarkGray)),
            Span::raw(format!(" {}", c.args)),
        ]);
        if sel {
            row = row.style(Style::default().add_modifier(Modifier::REVERSED));
        }
        lines.push(row);
    }
    if app.calls.is_empty() {
        lines.push(Line::from(match &app.busy {
            Some(what) => format!("  {what}…"),
            None => "  no tool call yet: ask, or /collect disk".into(),
        }));
    }
    if !app.findings.is_empty() {
        lines.push(Line::from(Span::styled(
            "Findings",
            Style::default().add_modifier(Modifier::BOLD),
        )));
        for fd in app.findings.iter().take(inner_h / 2) {
            lines.push(Line::from(format!("! {fd}")));
        }
    }
    let title = format!("Probes ({}) on {}", app.calls.len(), app.host);
    f.render_widget(
        Paragraph::new(lines).block(block(app, Pane::Probes, title)),
        area,
    );
}

/// The output pane: the selected call's output from `output_scroll`, cited lines marked `»`,
/// search matches marked `*`.
pub fn output(f: &mut Frame, app: &mut App, area: Rect) {
    let h = area.height.saturating_sub(2) as usize;
    app.page = h.max(1);
    let Some(call) = app.calls.get(app.selected) else {
        f.render_widget(
            Paragraph::new("no call selected").block(block(app, Pane::Output, "Output".into())),
            area,
        );
        return;
    };
    let q = app
        .search
        .as_ref()
        .filter(|s| !s.is_empty())
        .map(|s| s.to_lowercase());
    let cited: Vec<&str> = app
        .cited
        .iter()
        .filter(|(id, _)| *id == call.id)
        .map(|(_, l)| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    let mut total = 0usize;
    let mut lines: Vec<Line> = Vec::with_capacity(h);
    for (i, l) in call.output.lines().enumerate() {
        total = i + 1;
        if i < app.output_scroll || lines.len() >= h {
            continue;
        }
        let is_cited = !cited.is_empty() && cited.iter().any(|c| l.contains(c));
        let is_match = q.as_ref().is_some_and(|q| l.to_lowercase().contains(q));
        let mark = match (is_cited, is_match) {
            (true, _) => "» ",
            (false, true) => "* ",
            _ => "  ",
        };
        let mut st = Style::default();
        if is_cited {
            st = style(app, Color::Yellow).add_modifier(Modifier::BOLD);
        }
        if is_match {
            st = st.add_modifier(Modifier::REVERSED);
        }
        lines.push(Line::from(vec![
            Span::raw(mark),
            Span::styled(l.to_string(), st),
        ]));
    }
    let search = match (&app.search, app.searching) {
        (Some(s), true) => format!("  /{s}_"),
        (Some(s), false) if !s.is_empty() => format!("  /{s}"),
        _ => String::new(),
    };
    let title = format!(
        "Output {} {} ({}-{} of {total}){search}",
        call.id,
        call.tool,
        (app.output_scroll + 1).min(total),
        (app.output_scroll + lines.len()).min(total)
    );
    f.render_widget(
        Paragraph::new(lines).block(block(app, Pane::Output, title)),
        area,
    );
}

/// The answer pane: the reports and what the engine said, the cursor line marked `>`.
pub fn answer(f: &mut Frame, app: &App, area: Rect) {
    let h = area.height.saturating_sub(2) as usize;
    let first = app.answer_cursor.saturating_sub(h.saturating_sub(1) / 2);
    let first = first.min(app.answer.len().saturating_sub(h));
    let lines: Vec<Line> = app
        .answer
        .iter()
        .enumerate()
        .skip(first)
        .take(h)
        .map(|(i, l)| {
            let cur = i == app.answer_cursor && app.focus == Pane::Answer;
            let line = Line::from(format!("{}{l}", if cur { "> " } else { "  " }));
            if cur {
                line.style(Style::default().add_modifier(Modifier::REVERSED))
            } else {
                line
            }
        })
        .collect();
    let title = match &app.busy {
        Some(what) => format!("Answer ({what}…)"),
        None => "Answer".into(),
    };
    f.render_widget(
        Paragraph::new(lines).block(block(app, Pane::Answer, title)),
        area,
    );
}

/// The input bar.
pub fn input(f: &mut Frame, app: &App, area: Rect) {
    let cursor = if app.focus == Pane::Input { "_" } else { "" };
    let w = area.width.saturating_sub(4) as usize;
    let text = format!("{}{cursor}", app.input);
    let skip = text.chars().count().saturating_sub(w);
    let shown: String = text.chars().skip(skip).collect();
    let title = "Ask, or /collect /show /history /help (Tab completes)".to_string();
    f.render_widget(
        Paragraph::new(format!("> {shown}")).block(block(app, Pane::Input, title)),
        area,
    );
}

/// The status line: the engine's last problem or note, else the keys hint.
pub fn status(f: &mut Frame, app: &App, area: Rect) {
    let text = match &app.error {
        Some(e) => e.clone(),
        None if app.status.is_empty() => "? keys  Tab panes  q quit".to_string(),
        None => app.status.clone(),
    };
    let st = if text.starts_with("error:") {
        style(app, Color::Red).add_modifier(Modifier::BOLD)
    } else {
        Style::default()
    };
    f.render_widget(Paragraph::new(Span::styled(text, st)), area);
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// The `?` overlay.
pub fn keys(f: &mut Frame, _app: &App, area: Rect) {
    let r = centered(area, 78, KEYS.len() as u16 + 2);
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| Line::from(format!("{k:<16} {what}")))
        .collect();
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title("Keys")),
        r,
    );
}

/// The history browser overlay.
pub fn browser(f: &mut Frame, _app: &App, lines: &[String], area: Rect) {
    let r = centered(
        area,
        area.width.saturating_sub(4),
        area.height.saturating_sub(4),
    );
    let body: Vec<Line> = lines.iter().map(|l| Line::from(l.as_str())).collect();
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(body).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title("History: past sessions and runbooks retrieved (any key closes)"),
        ),
        r,
    );
}

#[cfg(test)]
#[path = "panes_tests.rs"]
mod tests;
