//! Live progress on stderr while the loop runs: a spinner while the model thinks, and each tool
//! call as it starts and ends (name, short arguments, duration, ✓/✗). Never stdout.
use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::render::Palette;
use crate::tools::{CallStatus, ToolOutcome};

use super::budget::short_args;

/// Where progress goes and how it looks.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub enabled: bool,
    /// Animate (a terminal); otherwise one line per event.
    pub animate: bool,
    pub palette: Palette,
}

impl Progress {
    /// Progress on stderr, coloured and animated only on a terminal.
    pub fn stderr(color_allowed: bool) -> Progress {
        let tty = std::io::stderr().is_terminal();
        Progress {
            enabled: true,
            animate: tty,
            palette: Palette::new(color_allowed && tty),
        }
    }

    pub fn off() -> Progress {
        Progress {
            enabled: false,
            animate: false,
            palette: Palette::new(false),
        }
    }

    fn line(&self, s: &str) {
        if self.enabled {
            let mut e = std::io::stderr().lock();
            let _ = writeln!(e, "{s}");
        }
    }

    /// Start the "model is thinking" indicator; it stops when the guard drops.
    pub fn thinking(&self, step: usize, max: usize) -> Spinner {
        if !self.enabled {
            return Spinner {
                task: None,
                animate: false,
            };
        }
        let label = format!("thinking (step {}/{max})", step + 1);
        if !self.animate {
            self.line(&self.palette.dim(&format!("· {label}…")));
            return Spinner {
                task: None,
                animate: false,
            };
        }
        let task = tokio::spawn(async move {
            const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
            let start = std::time::Instant::now();
            for i in 0usize.. {
                {
                    let mut e = std::io::stderr().lock();
                    let _ = write!(
                        e,
                        "\r{} {label} {:.0}s\x1b[K",
                        FRAMES[i % FRAMES.len()],
                        start.elapsed().as_secs_f64()
                    );
                    let _ = e.flush();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Spinner {
            task: Some(task),
            animate: true,
        }
    }

    pub fn tool_start(&self, id: &str, tool: &str, args: &serde_json::Value) {
        self.line(&format!(
            "{} {} {} {}",
            self.palette.dim("→"),
            self.palette.dim(id),
            self.palette.bold(tool),
            short_args(args, 70)
        ));
    }

    pub fn tool_end(&self, o: &ToolOutcome) {
        let (mark, word) = match o.status {
            CallStatus::Ok => (self.palette.ok("✓"), String::new()),
            CallStatus::Error => (self.palette.error("✗"), " error".to_string()),
            CallStatus::Denied => (self.palette.warn("✗"), " denied by policy".to_string()),
        };
        self.line(&format!(
            "{mark} {} {} {} {}{}",
            self.palette.dim(&o.call.id),
            self.palette.bold(&o.call.tool),
            short_args(&o.call.args, 70),
            self.palette.dim(&format!("{} ms", o.duration_ms)),
            word
        ));
    }

    pub fn note(&self, s: &str) {
        self.line(&self.palette.dim(s));
    }
}

/// Stops the spinner (and clears its line) when dropped.
pub struct Spinner {
    task: Option<tokio::task::JoinHandle<()>>,
    animate: bool,
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        if self.animate {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[K");
            let _ = e.flush();
        }
    }
}
