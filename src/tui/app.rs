//! The TUI's state and what each key does to it. Pure: no terminal, no engine; the run loop
//! ([`super::run`]) feeds it keys and engine results, the panes ([`super::panes`]) draw it.
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::repl::completer::SlashCompleter;
use crate::repl::view::Labelled;
use crate::tools::CallStatus;

/// The focusable panes, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Probes,
    Output,
    Answer,
    Input,
}

impl Pane {
    const ORDER: [Pane; 4] = [Pane::Probes, Pane::Output, Pane::Answer, Pane::Input];

    fn step(self, by: isize) -> Pane {
        let i = Self::ORDER.iter().position(|p| *p == self).unwrap_or(0) as isize;
        Self::ORDER[(i + by).rem_euclid(Self::ORDER.len() as isize) as usize]
    }
}

/// A tool call's live status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    Running,
    Ok,
    Denied,
    Error,
}

impl RowStatus {
    /// The text marker, readable without colour.
    pub fn marker(self) -> &'static str {
        match self {
            RowStatus::Running => "[..]",
            RowStatus::Ok => "[ok]",
            RowStatus::Denied => "[DENY]",
            RowStatus::Error => "[ERR]",
        }
    }
}

impl From<CallStatus> for RowStatus {
    fn from(s: CallStatus) -> Self {
        match s {
            CallStatus::Ok => RowStatus::Ok,
            CallStatus::Denied => RowStatus::Denied,
            CallStatus::Error => RowStatus::Error,
        }
    }
}

/// One tool call as the probes pane lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRow {
    pub id: String,
    pub tool: String,
    pub args: String,
    pub status: RowStatus,
    pub duration_ms: Option<u64>,
    pub output: String,
}

/// What the run loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    None,
    Quit,
    /// A line from the input bar: a question or a slash command.
    Submit(String),
    /// Ctrl-C while something runs.
    Cancel,
    /// Open the history browser (past sessions, runbooks retrieved).
    History,
}

/// The whole screen's state.
pub struct App {
    pub host: String,
    pub focus: Pane,
    pub calls: Vec<CallRow>,
    pub selected: usize,
    /// First output line shown.
    pub output_scroll: usize,
    pub answer: Vec<String>,
    /// The answer line the cursor is on (Enter follows its citation).
    pub answer_cursor: usize,
    /// One line per triage finding.
    pub findings: Vec<String>,
    /// Evidence lines (call id, line) the findings and the report cite: highlighted in output.
    pub cited: Vec<(String, String)>,
    pub input: String,
    pub history: Vec<String>,
    history_pos: Option<usize>,
    /// The output search: the text, and whether it is being typed.
    pub search: Option<String>,
    pub searching: bool,
    /// The status line: errors exactly as the CLI words them, progress otherwise.
    pub status: String,
    /// The last problem (`error: ...`, as the CLI words it); shown before `status` until the
    /// next input.
    pub error: Option<String>,
    /// What is running (a turn, a collection), if anything.
    pub busy: Option<String>,
    pub show_keys: bool,
    /// The history browser's lines when it is open.
    pub browser: Option<Vec<String>>,
    pub color: bool,
    pub completer: Option<SlashCompleter>,
    /// Output lines that fit the output pane (set by the last draw; PgUp/PgDn move by it).
    pub page: usize,
}

impl App {
    pub fn new(host: impl Into<String>, color: bool) -> App {
        App {
            host: host.into(),
            focus: Pane::Input,
            calls: Vec::new(),
            selected: 0,
            output_scroll: 0,
            answer: Vec::new(),
            answer_cursor: 0,
            findings: Vec::new(),
            cited: Vec::new(),
            input: String::new(),
            history: Vec::new(),
            history_pos: None,
            search: None,
            searching: false,
            status: String::new(),
            error: None,
            busy: None,
            show_keys: false,
            browser: None,
            color,
            completer: None,
            page: 10,
        }
    }

    /// The selected call, if any.
    pub fn selected_call(&self) -> Option<&CallRow> {
        self.calls.get(self.selected)
    }

    /// A progress line from the engine (`→ T3 tool args`, `✓ T3 tool args 12 ms`).
    pub fn progress(&mut self, line: &str) {
        let line = line.trim_end();
        let mut words = line.splitn(4, ' ');
        let (mark, id, tool, rest) = (
            words.next().unwrap_or(""),
            words.next().unwrap_or(""),
            words.next().unwrap_or(""),
            words.next().unwrap_or(""),
        );
        let is_id =
            id.len() > 1 && id.starts_with('T') && id[1..].bytes().all(|b| b.is_ascii_digit());
        let status = match mark {
            "→" => Some(RowStatus::Running),
            "✓" => Some(RowStatus::Ok),
            "✗" if rest.ends_with("denied by policy") => Some(RowStatus::Denied),
            "✗" => Some(RowStatus::Error),
            _ => None,
        };
        match status {
            Some(status) if is_id => {
                let mut args = rest.to_string();
                let mut ms = None;
                if status != RowStatus::Running {
                    let cut = rest.rfind(" ms").unwrap_or(rest.len());
                    if let Some(sp) = rest[..cut].rfind(' ') {
                        ms = rest[sp + 1..cut].parse().ok();
                        args = rest[..sp].to_string();
                    }
                }
                match self.calls.iter_mut().find(|c| c.id == id) {
                    Some(row) => {
                        row.status = status;
                        row.duration_ms = ms.or(row.duration_ms);
                    }
                    None => self.calls.push(CallRow {
                        id: id.to_string(),
                        tool: tool.to_string(),
                        args,
                        status,
                        duration_ms: ms,
                        output: String::new(),
                    }),
                }
            }
            _ if !line.is_empty() => self.status = line.to_string(),
            _ => {}
        }
    }

    /// Take the engine's finished calls: they replace the live rows of the same id.
    pub fn sync_calls(&mut self, collected: &[Labelled]) {
        for l in collected {
            let o = &l.outcome;
            let row = CallRow {
                id: o.call.id.clone(),
                tool: o.call.tool.clone(),
                args: crate::agent::budget::short_args(&o.call.args, 60),
                status: o.status.into(),
                duration_ms: Some(o.duration_ms),
                output: o.output.clone(),
            };
            match self.calls.iter_mut().find(|c| c.id == row.id) {
                Some(r) => *r = row,
                None => self.calls.push(row),
            }
        }
        // Whatever still says running did not finish (cancelled).
        if self.busy.is_none() {
            for c in &mut self.calls {
                if c.status == RowStatus::Running {
                    c.status = RowStatus::Error;
                }
            }
        }
    }

    /// Append text the engine said (a report, a table) to the answer pane.
    pub fn say(&mut self, text: &str) {
        let start = self.answer.len();
        self.answer.extend(text.lines().map(str::to_string));
        // Show the newest answer from its first line.
        if self.answer.len() > start {
            self.answer_cursor = start;
        }
    }

    /// Follow the first `[T3]`-style citation on the answer cursor's line: select that call
    /// and show its output. `false` when the line cites nothing known.
    pub fn follow_citation(&mut self) -> bool {
        let Some(line) = self.answer.get(self.answer_cursor) else {
            return false;
        };
        for id in citations(line) {
            if let Some(i) = self.calls.iter().position(|c| c.id == id) {
                self.selected = i;
                self.output_scroll = 0;
                self.focus = Pane::Output;
                return true;
            }
        }
        false
    }

    /// Move the output view to the next line (after the top one) matching the search.
    pub fn search_next(&mut self) {
        let (Some(q), Some(call)) = (self.search.clone(), self.selected_call()) else {
            return;
        };
        if q.is_empty() {
            return;
        }
        let q = q.to_lowercase();
        let lines: Vec<&str> = call.output.lines().collect();
        let n = lines.len();
        for k in 1..=n {
            let i = (self.output_scroll + k) % n;
            if lines[i].to_lowercase().contains(&q) {
                self.output_scroll = i;
                return;
            }
        }
        self.status = format!("/{q}: not found in {}", call.id);
    }

    fn output_lines(&self) -> usize {
        self.selected_call()
            .map(|c| c.output.lines().count())
            .unwrap_or(0)
    }

    fn scroll(&mut self, by: isize) {
        match self.focus {
            Pane::Probes => {
                let max = self.calls.len().saturating_sub(1);
                self.selected = add(self.selected, by, max);
                self.output_scroll = 0;
            }
            Pane::Output => {
                let max = self.output_lines().saturating_sub(1);
                self.output_scroll = add(self.output_scroll, by, max);
            }
            Pane::Answer => {
                let max = self.answer.len().saturating_sub(1);
                self.answer_cursor = add(self.answer_cursor, by, max);
            }
            Pane::Input => {}
        }
    }

    /// One key. Returns what the run loop must do.
    pub fn key(&mut self, k: KeyEvent) -> Action {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && k.code == KeyCode::Char('c') {
            if self.busy.is_some() {
                return Action::Cancel;
            }
            self.input.clear();
            self.searching = false;
            self.status = "nothing is running; q (outside the input bar) or /quit leaves".into();
            return Action::None;
        }
        if self.show_keys || self.browser.is_some() {
            // Any key closes an overlay.
            self.show_keys = false;
            self.browser = None;
            return Action::None;
        }
        if self.searching {
            match k.code {
                KeyCode::Enter => {
                    self.searching = false;
                    self.search_next();
                }
                KeyCode::Esc => {
                    self.searching = false;
                    self.search = None;
                }
                KeyCode::Backspace => {
                    if let Some(s) = self.search.as_mut() {
                        s.pop();
                    }
                }
                KeyCode::Char(c) => self.search.get_or_insert_with(String::new).push(c),
                _ => {}
            }
            return Action::None;
        }
        match k.code {
            KeyCode::Tab if self.focus == Pane::Input && self.input.starts_with('/') => {
                self.complete();
                return Action::None;
            }
            KeyCode::Tab => {
                self.focus = self.focus.step(1);
                return Action::None;
            }
            KeyCode::BackTab => {
                self.focus = self.focus.step(-1);
                return Action::None;
            }
            KeyCode::PageDown => {
                self.scroll(self.page.max(1) as isize);
                return Action::None;
            }
            KeyCode::PageUp => {
                self.scroll(-(self.page.max(1) as isize));
                return Action::None;
            }
            _ => {}
        }
        if self.focus == Pane::Input {
            return self.input_key(k);
        }
        match k.code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Char('j') | KeyCode::Down => self.scroll(1),
            KeyCode::Char('k') | KeyCode::Up => self.scroll(-1),
            KeyCode::Char('g') | KeyCode::Home => self.scroll(-(isize::MAX / 2)),
            KeyCode::Char('G') | KeyCode::End => self.scroll(isize::MAX / 2),
            KeyCode::Char('?') => self.show_keys = true,
            KeyCode::Char('h') => return Action::History,
            KeyCode::Char('i') | KeyCode::Esc => self.focus = Pane::Input,
            KeyCode::Char('/') => {
                if self.focus != Pane::Output {
                    self.focus = Pane::Output;
                }
                self.searching = true;
                self.search = Some(String::new());
            }
            KeyCode::Char('n') => self.search_next(),
            KeyCode::Enter if self.focus == Pane::Probes => {
                self.focus = Pane::Output;
                self.output_scroll = 0;
            }
            KeyCode::Enter if self.focus == Pane::Answer && !self.follow_citation() => {
                self.status = "this line cites no tool call ([T3])".into();
            }
            _ => {}
        }
        Action::None
    }

    fn input_key(&mut self, k: KeyEvent) -> Action {
        match k.code {
            KeyCode::Enter => {
                let line = std::mem::take(&mut self.input);
                self.history_pos = None;
                let trimmed = line.trim();
                if trimmed.is_empty() {
                    return Action::None;
                }
                if self.history.last().map(String::as_str) != Some(trimmed) {
                    self.history.push(trimmed.to_string());
                }
                if trimmed == "/history" {
                    return Action::History;
                }
                if trimmed == "?" {
                    self.show_keys = true;
                    return Action::None;
                }
                Action::Submit(trimmed.to_string())
            }
            KeyCode::Char(c) => {
                self.input.push(c);
                Action::None
            }
            KeyCode::Backspace => {
                self.input.pop();
                Action::None
            }
            KeyCode::Esc => {
                self.focus = Pane::Probes;
                Action::None
            }
            KeyCode::Up if !self.history.is_empty() => {
                let i = match self.history_pos {
                    None => self.history.len() - 1,
                    Some(i) => i.saturating_sub(1),
                };
                self.history_pos = Some(i);
                self.input = self.history[i].clone();
                Action::None
            }
            KeyCode::Down => {
                match self.history_pos {
                    Some(i) if i + 1 < self.history.len() => {
                        self.history_pos = Some(i + 1);
                        self.input = self.history[i + 1].clone();
                    }
                    _ => {
                        self.history_pos = None;
                        self.input.clear();
                    }
                }
                Action::None
            }
            _ => Action::None,
        }
    }

    /// Tab in the input bar: the REPL's completer; one suggestion is taken, several are listed
    /// in the status line (their common prefix is taken).
    fn complete(&mut self) {
        let Some(c) = &self.completer else { return };
        let s = c.suggestions(&self.input, self.input.len());
        if s.is_empty() {
            return;
        }
        let start = s[0].span.start.min(self.input.len());
        let mut common = s[0].value.clone();
        for x in &s[1..] {
            let n = common
                .chars()
                .zip(x.value.chars())
                .take_while(|(a, b)| a == b)
                .count();
            common = common.chars().take(n).collect();
        }
        self.input.truncate(start);
        self.input.push_str(&common);
        if s.len() == 1 {
            if s[0].append_whitespace {
                self.input.push(' ');
            }
        } else {
            let names: Vec<&str> = s.iter().map(|x| x.value.as_str()).collect();
            self.status = names.join("  ");
        }
    }
}

/// `[T3]`, `[T3, T4]` citations in a line, in order.
pub fn citations(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        for part in after[..close].split(',') {
            let p = part.trim();
            if p.len() > 1 && p.starts_with('T') && p[1..].bytes().all(|b| b.is_ascii_digit()) {
                out.push(p.to_string());
            }
        }
        rest = &after[close..];
    }
    out
}

fn add(v: usize, by: isize, max: usize) -> usize {
    (v as isize).saturating_add(by).clamp(0, max as isize) as usize
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
