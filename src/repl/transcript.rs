//! The session as Markdown: the conversation, every tool call with its output (labelled by
//! host), and the last report; `/save FILE` writes it.
use super::session::{Entry, Session};
use super::ReplError;

impl Session {
    /// The Markdown transcript: conversation, tool calls with output, and the last report.
    pub fn transcript_markdown(&self) -> String {
        let mut s = format!("# tai session on {}\n\n", self.host_name());
        let tokens = self.tokens();
        if let Some(i) = &self.issue {
            s.push_str(&format!("**Issue:** {i}  \n"));
        }
        s.push_str(&format!(
            "**Turns:** {}  \n**Tokens:** {} prompt, {} completion\n\n## Conversation\n\n",
            self.turns, tokens.prompt, tokens.completion
        ));
        if self.transcript.is_empty() {
            s.push_str("_(nothing yet)_\n");
        }
        for e in &self.transcript {
            match e {
                Entry::User { host, text } => s.push_str(&format!("**you@{host}:** {text}\n\n")),
                Entry::Command { host, text } => s.push_str(&format!("`{text}` on {host}\n\n")),
                Entry::Note { host, text } => {
                    s.push_str(&format!("> tai@{host}: {}\n\n", text.replace('\n', "\n> ")))
                }
                Entry::Report { host, report } => {
                    s.push_str(&format!("**Report on {host}:**\n\n"));
                    s.push_str(&report.to_markdown().replace("\n# ", "\n### "));
                    s.push('\n');
                }
            }
        }
        s.push_str("\n## Tool calls\n\n");
        if self.collected.is_empty() {
            s.push_str("_(none)_\n");
        }
        for l in &self.collected {
            let o = &l.outcome;
            s.push_str(&format!(
                "### {} `{}` on {} ({}, {} ms)\n\n",
                o.call.id,
                o.call.tool,
                l.host,
                crate::report::status_word(o.status),
                o.duration_ms
            ));
            for c in &o.commands {
                s.push_str(&format!("- `{}`", c.command.replace('`', "'")));
                if let Some(n) = &c.note {
                    s.push_str(&format!(" — {n}"));
                }
                s.push('\n');
            }
            let fence = if o.output.contains("```") {
                "~~~~"
            } else {
                "```"
            };
            s.push_str(&format!(
                "\n{fence}text\n{}\n{fence}\n\n",
                o.output.trim_end()
            ));
        }
        if let Some(r) = &self.last_report {
            s.push_str("## Last report\n\n");
            s.push_str(&r.to_markdown().replace("\n# ", "\n### "));
        }
        s
    }

    pub(super) fn save(&self, path: &std::path::Path) -> Result<usize, ReplError> {
        if path.is_dir() {
            return Err(ReplError::Save {
                path: path.to_path_buf(),
                reason: "is a directory; give a file name, e.g. /save incident.md".into(),
            });
        }
        let text = self.transcript_markdown();
        std::fs::write(path, &text).map_err(|e| ReplError::Save {
            path: path.to_path_buf(),
            reason: match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "the directory does not exist; create it or pick another path".into()
                }
                _ => e.to_string(),
            },
        })?;
        Ok(text.len())
    }
}
