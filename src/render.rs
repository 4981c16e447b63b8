//! Terminal styling shared by every renderer: colours on only when stderr/stdout is a terminal
//! and neither `NO_COLOR` nor `--no-color` is set.
use nu_ansi_term::{Color, Style};

/// A palette that is either fully coloured or fully plain.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    pub enabled: bool,
}

impl Palette {
    pub fn new(enabled: bool) -> Self {
        Self { enabled }
    }

    /// Colours for stdout: only when allowed and stdout is a terminal.
    pub fn stdout(allowed: bool) -> Self {
        use std::io::IsTerminal;
        Self::new(allowed && std::io::stdout().is_terminal())
    }

    /// Colours for stderr: only when allowed and stderr is a terminal.
    pub fn stderr(allowed: bool) -> Self {
        use std::io::IsTerminal;
        Self::new(allowed && std::io::stderr().is_terminal())
    }

    fn paint(&self, style: Style, s: &str) -> String {
        if self.enabled {
            style.paint(s).to_string()
        } else {
            s.to_string()
        }
    }

    pub fn heading(&self, s: &str) -> String {
        self.paint(Color::Cyan.bold(), s)
    }
    pub fn ok(&self, s: &str) -> String {
        self.paint(Color::Green.normal(), s)
    }
    pub fn warn(&self, s: &str) -> String {
        self.paint(Color::Yellow.normal(), s)
    }
    pub fn error(&self, s: &str) -> String {
        self.paint(Color::Red.bold(), s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint(Style::new().dimmed(), s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint(Style::new().bold(), s)
    }
}

/// A size in KiB as `du -h` prints it (`512K`, `1.5M`, `3.9G`).
pub fn human_kib(k: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    let mut v = k as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{k}K")
    } else {
        format!("{v:.1}{}", UNITS[u])
    }
}
