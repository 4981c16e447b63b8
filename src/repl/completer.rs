//! Tab completion for the session: slash command names, then each command's arguments
//! (categories for `/collect`, `logs`/`evidence`/`tools` and tool names for `/show`, hosts from
//! ssh_config for `/host`, command names for `/help`). Also the hinter that shows a command's
//! usage while it is typed, and the ssh_config `Host` reader that feeds `/host`.

use nu_ansi_term::{Color, Style};
use reedline::{Completer, CompletionResult, DefaultHinter, Hinter, History, Span, Suggestion};

use super::commands::{lookup, COMMANDS, SHOW_WHAT};

/// What the completer can offer besides the command names.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    /// Issue categories (`disk`, `dns`, ...).
    pub categories: Vec<String>,
    /// Tool names (`disk_usage`, ...).
    pub tools: Vec<String>,
    /// Host aliases from ssh_config, plus `local`.
    pub hosts: Vec<String>,
}

/// The reedline completer for slash commands.
#[derive(Debug, Clone)]
pub struct SlashCompleter {
    vocab: Vocabulary,
}

impl SlashCompleter {
    pub fn new(vocab: Vocabulary) -> Self {
        Self { vocab }
    }

    /// The suggestions for `line` with the cursor at byte `pos`.
    pub fn suggestions(&self, line: &str, pos: usize) -> Vec<Suggestion> {
        let pos = floor_char_boundary(line, pos.min(line.len()));
        let before = &line[..pos];
        let lead = before.len() - before.trim_start().len();
        let text = &before[lead..];
        if !text.starts_with('/') || text.starts_with("//") {
            return Vec::new();
        }
        // The word under the cursor starts after the last whitespace.
        let word_start = text.rfind(char::is_whitespace).map(|i| i + 1).unwrap_or(0);
        let word = &text[word_start..];
        let span = Span::new(lead + word_start, pos);
        if word_start == 0 {
            // Completing the command name itself.
            let typed = word.trim_start_matches('/').to_ascii_lowercase();
            return COMMANDS
                .iter()
                .filter(|c| c.name.starts_with(&typed))
                .map(|c| Suggestion {
                    value: format!("/{}", c.name),
                    description: Some(c.summary.to_string()),
                    extra: Some(vec![c.usage()]),
                    span,
                    append_whitespace: !c.args.is_empty(),
                    ..Default::default()
                })
                .collect();
        }
        let words: Vec<&str> = text[..word_start].split_whitespace().collect();
        let name = words[0].trim_start_matches('/');
        let Some(help) = lookup(name) else {
            return Vec::new();
        };
        let arg_index = words.len() - 1;
        let candidates: Vec<(String, Option<String>)> = match (help.name, arg_index) {
            ("collect", 0) => plain(&self.vocab.categories),
            ("show", 0) => SHOW_WHAT
                .iter()
                .map(|(w, d)| (w.to_string(), Some(d.to_string())))
                .collect(),
            ("show", 1) if words[1].eq_ignore_ascii_case("logs") => plain(&self.vocab.tools),
            ("host", 0) => plain(&self.vocab.hosts),
            ("help", 0) => COMMANDS
                .iter()
                .map(|c| (c.name.to_string(), Some(c.summary.to_string())))
                .collect(),
            _ => Vec::new(),
        };
        let lower = word.to_ascii_lowercase();
        candidates
            .into_iter()
            .filter(|(v, _)| v.to_ascii_lowercase().starts_with(&lower))
            .map(|(value, description)| Suggestion {
                value,
                description,
                span,
                append_whitespace: false,
                ..Default::default()
            })
            .collect()
    }
}

fn plain(v: &[String]) -> Vec<(String, Option<String>)> {
    v.iter().map(|s| (s.clone(), None)).collect()
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl Completer for SlashCompleter {
    fn complete(&mut self, line: &str, pos: usize) -> CompletionResult {
        CompletionResult::fresh(self.suggestions(line, pos))
    }
}

/// Hints: while a slash command is typed, its usage; otherwise the history hint.
pub struct SlashHinter {
    history: DefaultHinter,
    style: Style,
    current: String,
}

impl SlashHinter {
    pub fn new(color: bool) -> Self {
        let style = if color {
            Style::new().italic().fg(Color::DarkGray)
        } else {
            Style::new()
        };
        Self {
            history: DefaultHinter::default().with_style(style),
            style,
            current: String::new(),
        }
    }

    /// The text to show after the cursor for `line` (no styling).
    pub fn usage_hint(line: &str) -> Option<String> {
        let text = line.trim_start();
        if !text.starts_with('/') || text.starts_with("//") || text.contains(char::is_whitespace) {
            return None;
        }
        let typed = text.trim_start_matches('/').to_ascii_lowercase();
        if typed.is_empty() {
            return None;
        }
        let mut matches = COMMANDS.iter().filter(|c| c.name.starts_with(&typed));
        let c = matches.next()?;
        if matches.next().is_some() {
            return None;
        }
        let rest = &c.name[typed.len()..];
        let args = if c.args.is_empty() {
            String::new()
        } else {
            format!(" {}", c.args)
        };
        Some(format!("{rest}{args}  — {}", c.summary))
    }
}

impl Hinter for SlashHinter {
    fn handle(
        &mut self,
        line: &str,
        pos: usize,
        history: &dyn History,
        use_ansi_coloring: bool,
        cwd: &str,
    ) -> String {
        if pos == line.len() {
            if let Some(hint) = Self::usage_hint(line) {
                // Only the rest of the command name is accepted with → ; the usage is a reminder.
                let name_rest: String = hint
                    .chars()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .collect();
                self.current = name_rest;
                return if use_ansi_coloring {
                    self.style.paint(hint).to_string()
                } else {
                    hint
                };
            }
        }
        self.current.clear();
        self.history
            .handle(line, pos, history, use_ansi_coloring, cwd)
    }

    fn complete_hint(&self) -> String {
        if self.current.is_empty() {
            self.history.complete_hint()
        } else {
            self.current.clone()
        }
    }

    fn next_hint_token(&self) -> String {
        if self.current.is_empty() {
            self.history.next_hint_token()
        } else {
            self.current.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completer() -> SlashCompleter {
        SlashCompleter::new(Vocabulary {
            categories: ["disk", "dns", "network", "service"]
                .map(String::from)
                .to_vec(),
            tools: ["disk_usage", "dns_lookup", "journal"]
                .map(String::from)
                .to_vec(),
            hosts: ["local", "web01", "web02", "db01"]
                .map(String::from)
                .to_vec(),
        })
    }

    fn values(line: &str) -> Vec<String> {
        completer()
            .suggestions(line, line.len())
            .into_iter()
            .map(|s| s.value)
            .collect()
    }

    #[test]
    fn completes_command_names() {
        let all = values("/");
        assert_eq!(all.len(), COMMANDS.len());
        assert!(all.contains(&"/collect".to_string()));
        assert_eq!(values("/co"), vec!["/collect"]);
        assert_eq!(values("/h"), vec!["/history", "/host", "/help"]);
        assert_eq!(values("/Q"), vec!["/quit"]);
        assert!(values("/zz").is_empty());
        // Free text and escaped text get nothing.
        assert!(values("why is").is_empty());
        assert!(values("//co").is_empty());
    }

    #[test]
    fn command_suggestions_replace_the_word_and_describe_it() {
        let s = completer().suggestions("  /col", 6);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].span, Span::new(2, 6));
        assert!(s[0].append_whitespace, "/collect takes an argument");
        assert!(s[0].description.as_deref().unwrap().contains("baseline"));
        let s = completer().suggestions("/qu", 3);
        assert!(!s[0].append_whitespace, "/quit takes none");
    }

    #[test]
    fn completes_arguments() {
        assert_eq!(values("/collect d"), vec!["disk", "dns"]);
        assert_eq!(
            values("/collect "),
            vec!["disk", "dns", "network", "service"]
        );
        assert_eq!(values("/show "), vec!["logs", "evidence", "tools"]);
        assert_eq!(values("/show t"), vec!["tools"]);
        assert_eq!(values("/show logs d"), vec!["disk_usage", "dns_lookup"]);
        assert!(values("/show tools d").is_empty());
        assert_eq!(values("/host web"), vec!["web01", "web02"]);
        assert_eq!(values("/help co"), vec!["collect"]);
        assert!(values("/quit x").is_empty());
        assert!(values("/nosuch x").is_empty());
        // Third argument of /collect: nothing.
        assert!(values("/collect disk d").is_empty());
    }

    #[test]
    fn argument_span_covers_only_the_word() {
        let line = "/collect di";
        let s = completer().suggestions(line, line.len());
        assert_eq!(s[0].span, Span::new(9, 11));
        // Cursor in the middle: complete what is before it.
        let s = completer().suggestions("/collect di", 10);
        assert_eq!(
            s.iter().map(|s| &s.value).collect::<Vec<_>>(),
            ["disk", "dns"]
        );
        assert_eq!(s[0].span, Span::new(9, 10));
    }

    #[test]
    fn completer_trait_returns_fresh_results() {
        let mut c = completer();
        let r = c.complete("/to", 3);
        assert!(!r.is_provisional());
        assert_eq!(r.suggestions()[0].value, "/tokens");
        // Multi-byte text does not panic at any cursor position.
        let line = "/host wéb";
        for pos in 0..=line.len() + 2 {
            let _ = c.complete(line, pos);
        }
    }

    #[test]
    fn usage_hints() {
        assert_eq!(
            SlashHinter::usage_hint("/col").unwrap(),
            "lect [CATEGORY]  — run the baseline plan now and add its output to the context"
        );
        assert!(SlashHinter::usage_hint("/h").is_none(), "ambiguous");
        assert!(SlashHinter::usage_hint("/collect disk").is_none());
        assert!(SlashHinter::usage_hint("hello").is_none());
        assert!(SlashHinter::usage_hint("/").is_none());
    }
}
