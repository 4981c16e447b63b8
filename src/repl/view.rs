//! How the session shows things: the host facts line, the tool-call table, collected logs,
//! and wrapping of wide text to the terminal. Pure functions from data to text; colour comes
//! from [`Palette`], so `NO_COLOR`/`--no-color` and pipes get plain text.
use crate::render::Palette;
use crate::report::status_word;
use crate::tools::{CallStatus, HostFacts, ToolOutcome};

/// A tool outcome together with the host it ran on (the session can switch hosts).
#[derive(Debug, Clone)]
pub struct Labelled {
    pub host: String,
    pub outcome: ToolOutcome,
}

/// The width of the terminal on stdout, when stdout is one.
pub fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    // SAFETY: TIOCGWINSZ fills a winsize struct for a terminal fd; we pass a valid pointer.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    if rc == 0 && ws.ws_col > 0 {
        Some(ws.ws_col as usize)
    } else {
        None
    }
}

/// Wrap every line of `text` to `width` columns (chars), breaking at spaces when possible.
/// Continuation lines keep the line's indentation. `None` leaves the text as it is.
pub fn wrap(text: &str, width: Option<usize>) -> String {
    let Some(width) = width.filter(|w| *w >= 20) else {
        return text.to_string();
    };
    let mut out = String::with_capacity(text.len() + text.len() / width.max(1));
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        wrap_line(line, width, &mut out);
    }
    out
}

fn wrap_line(line: &str, width: usize, out: &mut String) {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= width {
        out.push_str(line);
        return;
    }
    let indent = hanging_indent(&chars, width);
    let mut start = 0;
    let mut first = true;
    // Each pass emits at least one char, so chars.len() passes always suffice.
    for _ in 0..chars.len() {
        if start >= chars.len() {
            break;
        }
        let room = if first {
            width
        } else {
            width - indent.chars().count()
        };
        if !first {
            out.push('\n');
            out.push_str(&indent);
        }
        let end = (start + room).min(chars.len());
        let cut = if end < chars.len() && chars[end] == ' ' {
            end
        } else if end < chars.len() {
            // Break after the last space in the window, if there is one past the start.
            match chars[start..end].iter().rposition(|c| *c == ' ') {
                Some(p) if p > 0 => start + p + 1,
                _ => end,
            }
        } else {
            end
        };
        let piece: String = chars[start..cut].iter().collect();
        let piece = if first {
            &piece[..]
        } else {
            piece.trim_start()
        };
        out.push_str(if cut < chars.len() {
            piece.trim_end()
        } else {
            piece
        });
        start = cut;
        first = false;
    }
}

/// Where continuation lines start: under the second column of a table row
/// (`  name    text…`), else under the line's own indentation; never past half the width.
fn hanging_indent(chars: &[char], width: usize) -> String {
    let lead = chars.iter().take_while(|c| **c == ' ').count();
    let mut col = lead;
    // The first run of two or more spaces after some text, followed by text.
    let mut i = lead;
    while i + 1 < chars.len() {
        if chars[i] == ' ' && chars[i + 1] == ' ' && i > lead {
            let mut j = i;
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            if j < chars.len() {
                col = j;
            }
            break;
        }
        i += 1;
    }
    let col = if col <= width / 2 {
        col
    } else if lead <= width / 2 {
        lead
    } else {
        0
    };
    " ".repeat(col)
}

/// `Ubuntu 24.04 LTS · kernel 6.8.0-45-generic · up 3 days, 2:04` on one line.
pub fn facts_line(host: &str, facts: &HostFacts, p: &Palette) -> String {
    let mut parts = Vec::new();
    let os = if !facts.os_pretty.is_empty() {
        facts.os_pretty.clone()
    } else if !facts.os_id.is_empty() {
        facts.os_id.clone()
    } else {
        "unknown OS".to_string()
    };
    parts.push(os);
    if !facts.kernel.is_empty() {
        parts.push(format!("kernel {}", facts.kernel));
    }
    if let Some(up) = short_uptime(&facts.uptime) {
        parts.push(up);
    }
    let name = if facts.hostname.is_empty() || facts.hostname == host {
        host.to_string()
    } else {
        format!("{host} ({})", facts.hostname)
    };
    format!("{} {}", p.heading(&name), parts.join(" · "))
}

/// `up 3 days, 2:04` from `uptime` output (` 08:47:41 up 3 days,  2:04,  1 user,  load …`)
/// or from an already short form.
pub fn short_uptime(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let rest = match raw.find("up ") {
        Some(i) => &raw[i + 3..],
        None => raw,
    };
    let parts: Vec<&str> = rest
        .split(',')
        .map(str::trim)
        .take_while(|p| !p.contains("user") && !p.starts_with("load average"))
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        return None;
    }
    Some(format!("up {}", parts.join(", ")))
}

pub fn paint_status(status: CallStatus, p: &Palette) -> String {
    let word = format!("{:<6}", status_word(status));
    match status {
        CallStatus::Ok => p.ok(&word),
        CallStatus::Error => p.warn(&word),
        CallStatus::Denied => p.error(&word),
    }
}

fn args_summary(args: &serde_json::Value) -> String {
    match args {
        serde_json::Value::Object(m) if m.is_empty() => String::new(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else if max <= 1 {
        "…".to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// The `/show tools` table: id, tool, status, duration, host when several, the command.
pub fn tools_table(items: &[&Labelled], p: &Palette, width: Option<usize>) -> String {
    if items.is_empty() {
        return "no tool calls yet: run /collect or ask a question\n".to_string();
    }
    let many_hosts = items.iter().any(|l| l.host != items[0].host);
    let id_w = items
        .iter()
        .map(|l| l.outcome.call.id.len())
        .max()
        .unwrap_or(2);
    let tool_w = items
        .iter()
        .map(|l| l.outcome.call.tool.len())
        .max()
        .unwrap_or(4);
    let host_w = items.iter().map(|l| l.host.len()).max().unwrap_or(4);
    let mut s = String::new();
    for l in items {
        let o = &l.outcome;
        let ms = format!("{:>6} ms", o.duration_ms);
        let host = if many_hosts {
            format!("{:<host_w$}  ", l.host)
        } else {
            String::new()
        };
        let detail = if o.commands.is_empty() {
            args_summary(&o.call.args)
        } else {
            o.commands
                .iter()
                .map(|c| c.command.as_str())
                .collect::<Vec<_>>()
                .join(" ; ")
        };
        let fixed = id_w + 2 + tool_w + 2 + 6 + 2 + ms.len() + 2 + host.chars().count();
        let detail = match width {
            Some(w) if w > fixed + 8 => truncate(&detail, w - fixed),
            _ => detail,
        };
        s.push_str(&format!(
            "{:<id_w$}  {:<tool_w$}  {}  {}  {}{}\n",
            o.call.id,
            o.call.tool,
            paint_status(o.status, p),
            p.dim(&ms),
            host,
            p.dim(&detail)
        ));
        if o.status == CallStatus::Denied {
            for c in &o.commands {
                if let Some(note) = &c.note {
                    s.push_str(&format!("{:id_w$}  {} {}\n", "", p.error("denied:"), note));
                }
            }
        }
    }
    s
}

/// One line counting outcomes by status: `6 tool calls: 5 ok, 1 error, 0 denied`.
pub fn status_counts(outcomes: &[&ToolOutcome], p: &Palette) -> String {
    let count = |s: CallStatus| outcomes.iter().filter(|o| o.status == s).count();
    let (ok, err, den) = (
        count(CallStatus::Ok),
        count(CallStatus::Error),
        count(CallStatus::Denied),
    );
    let den_s = format!("{den} denied");
    format!(
        "{} tool call{}: {}, {}, {}",
        outcomes.len(),
        if outcomes.len() == 1 { "" } else { "s" },
        p.ok(&format!("{ok} ok")),
        if err > 0 {
            p.warn(&format!("{err} error"))
        } else {
            format!("{err} error")
        },
        if den > 0 { p.error(&den_s) } else { den_s }
    )
}

/// The `/show logs` text: per call a heading, the command lines, and the collected output.
pub fn logs(items: &[&Labelled], p: &Palette, width: Option<usize>) -> String {
    if items.is_empty() {
        return "nothing collected yet: run /collect or ask a question\n".to_string();
    }
    let mut s = String::new();
    for l in items {
        let o = &l.outcome;
        s.push_str(&format!(
            "{} {} on {} ({}, {} ms)\n",
            p.heading(&format!("[{}]", o.call.id)),
            p.bold(&o.call.tool),
            l.host,
            paint_status(o.status, p).trim_end(),
            o.duration_ms
        ));
        // The output already carries each command line (`$ df -hP  (exit 0, 12 ms)`), its
        // stdout, stderr and notes; commands are dimmed, denials and notes stand out.
        let body = o.output.trim_end();
        if body.is_empty() {
            s.push_str(&p.dim("(no output)"));
            s.push('\n');
        }
        for line in wrap(body, width).lines().filter(|_| !body.is_empty()) {
            if line.starts_with("$ ") {
                s.push_str(&p.dim(line));
            } else if o.status == CallStatus::Denied && line.starts_with('[') {
                s.push_str(&p.error(line));
            } else {
                s.push_str(line);
            }
            s.push('\n');
        }
        s.push('\n');
    }
    s
}

/// Deterministic findings, strongest first, each citing its tool call.
pub fn findings(findings: &[crate::triage::Finding], p: &Palette) -> String {
    let mut s = format!("{}\n", p.heading("Findings (deterministic triage)"));
    for f in findings {
        s.push_str(&format!(
            "  • {} {}\n",
            f.summary,
            p.dim(&format!("[{}]", f.call_id))
        ));
        for line in f.evidence.iter().take(3) {
            s.push_str(&format!("      {}\n", p.dim(line.trim())));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::{CommandRecord, ToolCall};

    fn outcome(id: &str, tool: &str, status: CallStatus, cmd: &str, out: &str) -> Labelled {
        Labelled {
            host: "web01".into(),
            outcome: ToolOutcome {
                call: ToolCall {
                    id: id.into(),
                    tool: tool.into(),
                    args: serde_json::json!({}),
                },
                status,
                commands: vec![CommandRecord {
                    command: cmd.into(),
                    status,
                    exit_code: Some(0),
                    duration_ms: 12,
                    stdout: out.into(),
                    stderr: String::new(),
                    truncated: 0,
                    note: (status == CallStatus::Denied).then(|| "writes to the host".into()),
                }],
                output: out.into(),
                duration_ms: 12,
            },
        }
    }

    #[test]
    fn wraps_long_lines_at_spaces_keeping_indent() {
        let text = "  alpha beta gamma delta epsilon zeta eta theta";
        let w = wrap(text, Some(20));
        for line in w.lines() {
            assert!(line.chars().count() <= 20, "{line:?}");
            assert!(line.starts_with("  "), "{line:?}");
        }
        assert_eq!(
            w.split_whitespace().collect::<Vec<_>>(),
            text.split_whitespace().collect::<Vec<_>>()
        );
        // No spaces: hard breaks, nothing lost.
        let long = "x".repeat(50);
        let w = wrap(&long, Some(20));
        assert_eq!(w.replace('\n', ""), long);
        assert!(w.lines().all(|l| l.chars().count() <= 20));
        // Table rows continue under their second column.
        let row = "  /tokens  model tokens used so far in this long session";
        let w = wrap(row, Some(30));
        assert_eq!(
            w,
            "  /tokens  model tokens used\n           so far in this long\n           session"
        );
        // No width: unchanged.
        assert_eq!(wrap(text, None), text);
        assert_eq!(wrap("short\n\nlines", Some(40)), "short\n\nlines");
    }

    #[test]
    fn facts_in_one_line() {
        let f = HostFacts {
            os_pretty: "Debian GNU/Linux 13 (trixie)".into(),
            kernel: "6.12.0".into(),
            uptime: "up 3 days".into(),
            hostname: "web01".into(),
            ..Default::default()
        };
        let line = facts_line("web01", &f, &Palette::new(false));
        assert_eq!(
            line,
            "web01 Debian GNU/Linux 13 (trixie) · kernel 6.12.0 · up 3 days"
        );
        assert!(!line.contains('\n'));
        assert_eq!(
            short_uptime(" 08:47:41 up 41 min,  0 user,  load average: 7.05, 7.50, 5.77").unwrap(),
            "up 41 min"
        );
        assert_eq!(
            short_uptime("10:01:02 up 3 days,  2:04,  1 user,  load average: 0.00").unwrap(),
            "up 3 days, 2:04"
        );
        assert_eq!(short_uptime("up 5 min").unwrap(), "up 5 min");
        assert_eq!(short_uptime("  "), None);
        let line = facts_line("local", &HostFacts::default(), &Palette::new(false));
        assert_eq!(line, "local unknown OS");
    }

    #[test]
    fn table_shows_status_duration_and_denials() {
        let a = outcome("T1", "disk_usage", CallStatus::Ok, "df -hP", "");
        let b = outcome("T2", "rm", CallStatus::Denied, "rm -rf /", "");
        let t = tools_table(&[&a, &b], &Palette::new(false), Some(80));
        assert!(t.contains("T1  disk_usage  ok"), "{t}");
        assert!(t.contains("12 ms"), "{t}");
        assert!(t.contains("denied: writes to the host"), "{t}");
        for line in t.lines() {
            assert!(line.chars().count() <= 80, "{line}");
        }
        let coloured = tools_table(&[&b], &Palette::new(true), None);
        assert!(coloured.contains("\u{1b}["), "colour when enabled");
        assert!(!t.contains('\u{1b}'), "no colour when disabled");
    }

    #[test]
    fn logs_show_commands_and_output() {
        let a = outcome(
            "T1",
            "disk_usage",
            CallStatus::Ok,
            "df -hP",
            "$ df -hP  (exit 0, 12 ms)\n/dev/sda1 91%",
        );
        let text = logs(&[&a], &Palette::new(false), None);
        assert!(
            text.contains("[T1] disk_usage on web01 (ok, 12 ms)"),
            "{text}"
        );
        assert!(text.contains("$ df -hP"), "{text}");
        assert!(text.contains("/dev/sda1 91%"), "{text}");
        let counts = status_counts(&[&a.outcome], &Palette::new(false));
        assert_eq!(counts, "1 tool call: 1 ok, 0 error, 0 denied");
    }
}
