//! One interactive session's state and what each input does to it: the host(s), the tool
//! calls collected so far (labelled by host), the transcript, turn and token counts, and the
//! handlers for every slash command and for free-text turns.
use std::io::Write;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::commands::{help_for, help_text, Command, Input, ShowWhat};
use super::engine::{self, Connected, Tools};
use super::view::{self, Labelled};
use super::ReplError;
use crate::config::Config;
use crate::plan::Category;
use crate::render::Palette;
use crate::report::{Report, Tokens};

/// Where the session writes: results to `out`, progress and problems to `err`.
pub struct Io {
    pub out: Box<dyn Write + Send>,
    pub err: Box<dyn Write + Send>,
    /// Colours for `out`.
    pub palette: Palette,
    /// Colours for `err`.
    pub err_palette: Palette,
    /// Wrap wide output to this many columns (a terminal), or not at all (a pipe).
    pub width: Option<usize>,
}

impl Io {
    pub fn say(&mut self, text: &str) -> Result<(), ReplError> {
        let text = view::wrap(text, self.width);
        self.out.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            self.out.write_all(b"\n")?;
        }
        self.out.flush()?;
        Ok(())
    }

    /// Progress and problems, on stderr.
    pub fn note(&mut self, text: &str) -> Result<(), ReplError> {
        let text = view::wrap(text, self.width);
        // The session must go on even if stderr is gone; stdout errors are what end it.
        let _ = writeln!(self.err, "{}", text.trim_end_matches('\n'));
        let _ = self.err.flush();
        Ok(())
    }

    pub fn problem(&mut self, text: &str) -> Result<(), ReplError> {
        let label = self.err_palette.error("error:");
        self.note(&format!("{label} {text}"))
    }
}

/// What happened in the conversation, in order; `/save` writes it out.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A question or follow-up typed by the user.
    User { host: String, text: String },
    /// A slash command that changed something (`/collect disk`, `/host db01`).
    Command { host: String, text: String },
    /// Something tai said: a model answer, an explanation why a turn could not run.
    Note { host: String, text: String },
    /// A report (from the model or triage).
    Report { host: String, report: Box<Report> },
}

/// Whether the loop goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// How a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnEnd {
    /// The model answered.
    Answered,
    /// No usable model; the reason was shown.
    NoModel,
    /// Ctrl-C.
    Cancelled,
}

/// The state of one session.
pub struct Session {
    pub config: Config,
    pub tools: Tools,
    pub host: Connected,
    /// Every tool call so far, on every host, in order.
    pub collected: Vec<Labelled>,
    pub transcript: Vec<Entry>,
    /// Completed model turns.
    pub turns: usize,
    pub tokens: Tokens,
    pub last_report: Option<Report>,
    /// The first issue text, if any.
    pub issue: Option<String>,
    /// The category `/collect` uses without an argument.
    pub category: Category,
    /// The next tool call id number (`T{n}`).
    pub next_id: u32,
    pub started: Instant,
}

/// How long a cancelled operation may take to wind down before it is abandoned.
const CANCEL_GRACE: Duration = Duration::from_secs(10);

impl Session {
    pub fn new(config: Config, tools: Tools, host: Connected) -> Self {
        Session {
            config,
            tools,
            host,
            collected: Vec::new(),
            transcript: Vec::new(),
            turns: 0,
            tokens: Tokens::default(),
            last_report: None,
            issue: None,
            category: Category::General,
            next_id: 1,
            started: Instant::now(),
        }
    }

    /// Tokens used so far (prompt + completion).
    pub fn total_tokens(&self) -> u64 {
        self.tokens.prompt + self.tokens.completion
    }

    /// The number the next turn will have.
    pub fn next_turn(&self) -> usize {
        self.turns + 1
    }

    /// Handle one parsed line.
    pub async fn handle(&mut self, input: Input, io: &mut Io) -> Result<Flow, ReplError> {
        match input {
            Input::Empty => Ok(Flow::Continue),
            Input::Turn(text) => {
                let _ = self.turn(&text, io).await?;
                Ok(Flow::Continue)
            }
            Input::Command(cmd) => self.command(cmd, io).await,
        }
    }

    /// Handle one raw line: parse errors are shown, not returned.
    pub async fn handle_line(&mut self, line: &str, io: &mut Io) -> Result<Flow, ReplError> {
        match line.parse::<Input>() {
            Ok(input) => self.handle(input, io).await,
            Err(e) => {
                io.problem(&e.to_string())?;
                Ok(Flow::Continue)
            }
        }
    }

    async fn command(&mut self, cmd: Command, io: &mut Io) -> Result<Flow, ReplError> {
        let p = io.palette;
        match cmd {
            Command::Help(None) => io.say(&help_text())?,
            Command::Help(Some(name)) => io.say(&help_for(&name))?,
            Command::Quit => return Ok(Flow::Quit),
            Command::Collect(cat) => {
                let category = cat.unwrap_or(self.category);
                self.transcript.push(Entry::Command {
                    host: self.host.name.clone(),
                    text: format!("/collect {category}"),
                });
                self.collect(category, io).await?;
            }
            Command::Show(ShowWhat::Tools) => {
                let items: Vec<&Labelled> = self.collected.iter().collect();
                io.say(&view::tools_table(&items, &p, io.width))?;
            }
            Command::Show(ShowWhat::Logs(filter)) => {
                let items: Vec<&Labelled> = self
                    .collected
                    .iter()
                    .filter(|l| match &filter {
                        None => true,
                        Some(f) => {
                            l.outcome.call.id.eq_ignore_ascii_case(f)
                                || l.outcome.call.tool.eq_ignore_ascii_case(f)
                        }
                    })
                    .collect();
                if items.is_empty() {
                    if let Some(f) = filter {
                        io.problem(&format!(
                            "no tool call matches {f:?}; /show tools lists the ids and tools"
                        ))?;
                        return Ok(Flow::Continue);
                    }
                }
                io.say(&view::logs(&items, &p, io.width))?;
            }
            Command::Show(ShowWhat::Evidence) => self.show_evidence(io)?,
            Command::Runbooks => io.note(
                "/runbooks: runbook retrieval (issue 6) is not built into this tai yet; nothing was retrieved",
            )?,
            Command::History => io.note(
                "/history: session memory (issue 6) is not built into this tai yet; no past sessions to search",
            )?,
            Command::Tokens => {
                let t = self.tokens;
                io.say(&format!(
                    "{} tokens used: {} prompt, {} completion, over {} turn{}",
                    t.prompt + t.completion,
                    t.prompt,
                    t.completion,
                    self.turns,
                    if self.turns == 1 { "" } else { "s" }
                ))?;
            }
            Command::Save(path) => match self.save(&path) {
                Ok(bytes) => io.say(&format!("saved {} ({bytes} bytes)", path.display()))?,
                Err(e) => io.problem(&e.to_string())?,
            },
            Command::Clear => {
                let n = self.collected.len();
                self.collected.clear();
                self.transcript.clear();
                self.turns = 0;
                self.last_report = None;
                self.next_id = 1;
                io.say(&format!(
                    "cleared the conversation and {n} tool call{}; still on {}",
                    if n == 1 { "" } else { "s" },
                    self.host.name
                ))?;
            }
            Command::Host(h) => self.switch_host(&h, io).await?,
        }
        Ok(Flow::Continue)
    }

    /// Run the baseline plan of `category`; Ctrl-C cancels it and keeps what finished.
    pub async fn collect(&mut self, category: Category, io: &mut Io) -> Result<(), ReplError> {
        let ep = io.err_palette;
        io.note(&ep.dim(&format!(
            "collecting the {category} baseline on {}… (Ctrl-C cancels)",
            self.host.name
        )))?;
        let cancel = CancellationToken::new();
        let start = Instant::now();
        let mut next_id = self.next_id;
        let tools = self.tools.clone();
        let host = self.host.clone();
        let work = engine::collect(&tools, &host, category, &mut next_id, &cancel);
        let (result, cancelled) = cancellable(work, &cancel, io).await;
        self.next_id = next_id.max(self.next_id);
        let outcomes = match result {
            None => {
                io.problem("the collection did not stop within 10s of Ctrl-C; abandoned it")?;
                return Ok(());
            }
            Some(Err(e)) => {
                io.problem(&e.to_string())?;
                return Ok(());
            }
            Some(Ok(o)) => o,
        };
        let p = io.palette;
        let refs: Vec<&crate::tools::ToolOutcome> = outcomes.iter().collect();
        let summary = view::status_counts(&refs, &p);
        let labelled: Vec<Labelled> = outcomes
            .into_iter()
            .map(|outcome| Labelled {
                host: self.host.name.clone(),
                outcome,
            })
            .collect();
        let items: Vec<&Labelled> = labelled.iter().collect();
        let head = if cancelled {
            p.warn(&format!("{category} (cancelled)"))
        } else {
            p.heading(category.as_str())
        };
        io.say(&format!(
            "{head}: {summary} in {:.1}s\n{}",
            start.elapsed().as_secs_f64(),
            view::tools_table(&items, &p, io.width)
        ))?;
        io.note(&ep.dim("/show logs shows what was collected"))?;
        self.collected.extend(labelled);
        Ok(())
    }

    /// A free-text turn for the model.
    pub async fn turn(&mut self, text: &str, io: &mut Io) -> Result<TurnEnd, ReplError> {
        self.transcript.push(Entry::User {
            host: self.host.name.clone(),
            text: text.to_string(),
        });
        if self.issue.is_none() {
            self.issue = Some(text.to_string());
            self.category = crate::plan::classify(text);
        }
        let problem = if self.config.no_llm {
            "--no-llm is set, so questions are not sent to a model; /collect and /show work without one".to_string()
        } else {
            let cancel = CancellationToken::new();
            let config = self.config.clone();
            let work = async move {
                match engine::probe_model(&config).await {
                    Err(msg) => msg,
                    Ok(()) => "the model is reachable, but model turns need the agent loop (issue 5), which is not built into this tai yet; /collect works without a model".to_string(),
                }
            };
            match cancellable(work, &cancel, io).await {
                (Some(msg), false) => msg,
                (_, _) => {
                    io.note("turn cancelled; back at the prompt")?;
                    return Ok(TurnEnd::Cancelled);
                }
            }
        };
        io.problem(&problem)?;
        self.transcript.push(Entry::Note {
            host: self.host.name.clone(),
            text: problem,
        });
        Ok(TurnEnd::NoModel)
    }

    /// The first turn, from the command line: without a usable model, collect the baseline
    /// of the issue's category instead so the session starts with evidence.
    pub async fn first_turn(&mut self, issue: &str, io: &mut Io) -> Result<(), ReplError> {
        if self.turn(issue, io).await? == TurnEnd::NoModel {
            let category = self.category;
            self.collect(category, io).await?;
        }
        Ok(())
    }

    fn show_evidence(&mut self, io: &mut Io) -> Result<(), ReplError> {
        let p = io.palette;
        match &self.last_report {
            Some(r) if !r.evidence.is_empty() => {
                let mut s = format!("{}\n", p.heading("Evidence"));
                for e in &r.evidence {
                    let cite = if e.sources.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", e.sources.join(", "))
                    };
                    s.push_str(&format!("  • {}{}\n", e.text, p.dim(&cite)));
                }
                io.say(&s)
            }
            _ => io.note(
                "no evidence yet: a report cites evidence once a turn finishes; /show logs shows the raw output collected so far",
            ),
        }
    }

    async fn switch_host(&mut self, spec: &str, io: &mut Io) -> Result<(), ReplError> {
        let target = match crate::transport::Target::parse(spec) {
            Ok(t) => t,
            Err(e) => return io.problem(&e.to_string()),
        };
        io.note(&io.err_palette.dim(&format!("connecting to {spec}…")))?;
        let cancel = CancellationToken::new();
        let config = self.config.clone();
        let tools = self.tools.clone();
        let connected =
            match cancellable(engine::connect(&config, &tools, &target), &cancel, io).await {
                (Some(r), false) => r,
                _ => return io.note(&format!("/host cancelled; still on {}", self.host.name)),
            };
        match connected {
            Ok(h) => {
                let old = std::mem::replace(&mut self.host, h);
                old.transport.close().await;
                self.transcript.push(Entry::Command {
                    host: old.name.clone(),
                    text: format!("/host {}", self.host.name),
                });
                let line = view::facts_line(&self.host.name, &self.host.facts, &io.palette);
                io.say(&format!(
                    "{line}\n(switched from {}; what was collected there stays, labelled by host)",
                    old.name
                ))
            }
            Err(e) => io.problem(&format!("{e}\n  still on {}", self.host.name)),
        }
    }

    /// The Markdown transcript: conversation, tool calls with output, and the last report.
    pub fn transcript_markdown(&self) -> String {
        let mut s = format!("# tai session on {}\n\n", self.host.name);
        if let Some(i) = &self.issue {
            s.push_str(&format!("**Issue:** {i}  \n"));
        }
        s.push_str(&format!(
            "**Turns:** {}  \n**Tokens:** {} prompt, {} completion\n\n## Conversation\n\n",
            self.turns, self.tokens.prompt, self.tokens.completion
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

    fn save(&self, path: &std::path::Path) -> Result<usize, ReplError> {
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

/// Run `work`; on Ctrl-C (SIGINT: the terminal is cooked while a turn runs), cancel `cancel`
/// and give `work` a grace period to return what it gathered. `None` when it did not stop.
pub async fn cancellable<F: std::future::Future>(
    work: F,
    cancel: &CancellationToken,
    io: &mut Io,
) -> (Option<F::Output>, bool) {
    tokio::pin!(work);
    tokio::select! {
        r = &mut work => (Some(r), false),
        _ = tokio::signal::ctrl_c() => {
            cancel.cancel();
            let _ = io.note(&io.err_palette.warn("^C cancelling… (what finished is kept)"));
            match tokio::time::timeout(CANCEL_GRACE, work).await {
                Ok(r) => (Some(r), true),
                Err(_) => (None, true),
            }
        }
    }
}
