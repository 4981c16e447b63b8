//! One interactive session's state and what each input does to it: the host(s), the tool
//! calls collected so far (labelled by host), the transcript, turn and token counts, and the
//! handlers for every slash command and for free-text turns.
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::commands::{help_for, help_text, Command, Input, ShowWhat};
use super::engine;
use super::view::{self, Labelled};
use super::ReplError;
use crate::agent::{AgentError, HostRunner, ToolRunner};
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
    /// The tool runner over the current host (shared with the agent session); its
    /// [`crate::agent::SessionTools`] hold the policy, registry and knowledge store.
    pub runner: Arc<HostRunner>,
    /// The conversation with the model; `None` when it could not be set up (the reason is in
    /// `agent_problem`), in which case `/collect` still works.
    pub agent: Option<crate::agent::Session>,
    pub agent_problem: Option<String>,
    /// How many of the agent's outcomes are already in `collected`.
    synced: usize,
    /// Every tool call so far, on every host, in order.
    pub collected: Vec<Labelled>,
    pub transcript: Vec<Entry>,
    /// Completed model turns.
    pub turns: usize,
    /// Tokens of conversations cleared with `/clear`.
    cleared_tokens: Tokens,
    pub last_report: Option<Report>,
    /// The first issue text, if any.
    pub issue: Option<String>,
    /// The category `/collect` uses without an argument.
    pub category: Category,
    /// A host switch the model has not been told about yet.
    pending_switch: Option<String>,
    pub started: Instant,
}

/// How long a cancelled operation may take to wind down before it is abandoned.
const CANCEL_GRACE: Duration = Duration::from_secs(10);

impl Session {
    pub async fn new(config: Config, runner: Arc<HostRunner>) -> Self {
        let (agent, agent_problem) = match engine::start_agent(&config, runner.clone()).await {
            Ok(a) => (Some(a), None),
            Err(e) => (None, Some(agent_error_message(&config, &e))),
        };
        Session {
            config,
            runner,
            agent,
            agent_problem,
            synced: 0,
            collected: Vec::new(),
            transcript: Vec::new(),
            turns: 0,
            cleared_tokens: Tokens::default(),
            last_report: None,
            issue: None,
            category: Category::General,
            pending_switch: None,
            started: Instant::now(),
        }
    }

    /// The current host's name.
    pub fn host_name(&self) -> String {
        self.runner.host().name
    }

    /// Tokens used by the session (prompt and completion), including cleared conversations.
    pub fn tokens(&self) -> Tokens {
        let t = self.agent.as_ref().map(|a| a.tokens()).unwrap_or_default();
        Tokens {
            prompt: t.prompt + self.cleared_tokens.prompt,
            completion: t.completion + self.cleared_tokens.completion,
        }
    }

    /// Tokens used so far (prompt + completion).
    pub fn total_tokens(&self) -> u64 {
        let t = self.tokens();
        t.prompt + t.completion
    }

    /// Take the agent's new outcomes into `collected`, labelled with the current host.
    fn sync_outcomes(&mut self) -> Vec<Labelled> {
        let host = self.host_name();
        let Some(agent) = &self.agent else {
            return Vec::new();
        };
        let all = agent.outcomes();
        let new: Vec<Labelled> = all[self.synced.min(all.len())..]
            .iter()
            .map(|o| Labelled {
                host: host.clone(),
                outcome: o.clone(),
            })
            .collect();
        self.synced = all.len();
        self.collected.extend(new.iter().cloned());
        new
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
                    host: self.host_name(),
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
            Command::Runbooks => self.show_runbooks(io)?,
            Command::History => self.show_history(io).await?,
            Command::Tokens => {
                let t = self.tokens();
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
                self.issue = None;
                self.pending_switch = None;
                self.category = Category::General;
                // A fresh conversation with the model; its tokens still count for the session.
                if let Some(old) = self.agent.take() {
                    let t = old.tokens();
                    self.cleared_tokens.prompt += t.prompt;
                    self.cleared_tokens.completion += t.completion;
                }
                self.synced = 0;
                let cancel = CancellationToken::new();
                let start = engine::start_agent(&self.config, self.runner.clone());
                match cancellable(start, &cancel, io).await {
                    (Some(Ok(a)), _) => {
                        self.agent = Some(a);
                        self.agent_problem = None;
                    }
                    (Some(Err(e)), _) => {
                        self.agent_problem = Some(agent_error_message(&self.config, &e))
                    }
                    (None, _) => {
                        self.agent_problem = Some(
                            "the model session was not set up (Ctrl-C); /clear again to retry"
                                .into(),
                        )
                    }
                }
                io.say(&format!(
                    "cleared the conversation and {n} tool call{}; still on {}",
                    if n == 1 { "" } else { "s" },
                    self.host_name()
                ))?;
            }
            Command::Host(h) => self.switch_host(&h, io).await?,
        }
        Ok(Flow::Continue)
    }

    /// Run the baseline plan of `category` and add it to the model's context; Ctrl-C cancels.
    pub async fn collect(&mut self, category: Category, io: &mut Io) -> Result<(), ReplError> {
        let ep = io.err_palette;
        let host = self.host_name();
        if self.agent.is_none() {
            // (The agent session reports its own progress.)
            io.note(&ep.dim(&format!(
                "collecting the {category} baseline on {host}… (Ctrl-C cancels)"
            )))?;
        }
        let cancel = CancellationToken::new();
        let start = Instant::now();
        let (result, cancelled) = match self.agent.as_mut() {
            Some(agent) => {
                let work = agent.collect(Some(category), &cancel);
                let (r, c) = cancellable(work, &cancel, io).await;
                (r.map(|r| r.map_err(ReplError::from)), c)
            }
            None => {
                // No model session: run the plan directly; the outcomes are kept here.
                let mut next_id = self.collected.len() as u32 + 1;
                let runner = self.runner.clone();
                let work = runner.collect(category, &mut next_id, &cancel);
                let (r, c) = cancellable(work, &cancel, io).await;
                (r.map(|r| r.map_err(ReplError::from)), c)
            }
        };
        let outcomes = match result {
            None => {
                self.sync_outcomes();
                return io
                    .problem("the collection was abandoned: it had not stopped after Ctrl-C (what finished is kept)");
            }
            Some(Err(ReplError::Agent(AgentError::Interrupted))) => {
                self.sync_outcomes();
                return io.note("collection cancelled; back at the prompt");
            }
            Some(Err(e)) => {
                self.sync_outcomes();
                return io.problem(&e.to_string());
            }
            Some(Ok(o)) => o,
        };
        let new: Vec<Labelled> = if self.agent.is_some() {
            self.sync_outcomes()
        } else {
            let new: Vec<Labelled> = outcomes
                .into_iter()
                .map(|outcome| Labelled {
                    host: host.clone(),
                    outcome,
                })
                .collect();
            self.collected.extend(new.iter().cloned());
            new
        };
        let p = io.palette;
        let items: Vec<&Labelled> = new.iter().collect();
        let refs: Vec<&crate::tools::ToolOutcome> = new.iter().map(|l| &l.outcome).collect();
        let summary = view::status_counts(&refs, &p);
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
        io.note(&ep.dim("/show logs shows what was collected"))
    }

    /// A free-text turn for the model.
    pub async fn turn(&mut self, text: &str, io: &mut Io) -> Result<TurnEnd, ReplError> {
        let host = self.host_name();
        self.transcript.push(Entry::User {
            host: host.clone(),
            text: text.to_string(),
        });
        if self.issue.is_none() {
            self.issue = Some(text.to_string());
            self.category = crate::plan::classify(text);
        }
        if self.config.no_llm {
            return self.no_model(
                "--no-llm is set, so questions are not sent to a model; /collect and /show work without one".into(),
                io,
            );
        }
        let Some(agent) = self.agent.as_mut() else {
            let why = self
                .agent_problem
                .clone()
                .unwrap_or_else(|| "the model session could not be set up".into());
            return self.no_model(why, io);
        };
        // After /host, tell the model where its tools now run.
        let message = match self.pending_switch.take() {
            Some(note) => format!("{note}\n\n{text}"),
            None => text.to_string(),
        };
        let cancel = CancellationToken::new();
        let work = agent.turn(&message, &cancel);
        let (result, cancelled) = cancellable(work, &cancel, io).await;
        let gathered = self.sync_outcomes().len();
        let kept = if gathered > 0 {
            format!(
                "; kept the {gathered} tool call{} it made (/show tools)",
                if gathered == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        };
        match result {
            Some(Ok(report)) => {
                self.turns += 1;
                let p = io.palette;
                io.say(&report.to_terminal(&p))?;
                self.transcript.push(Entry::Report {
                    host,
                    report: Box::new(report.clone()),
                });
                self.last_report = Some(report);
                Ok(TurnEnd::Answered)
            }
            None | Some(Err(AgentError::Interrupted)) => {
                io.note(&format!("turn cancelled{kept}; back at the prompt"))?;
                Ok(TurnEnd::Cancelled)
            }
            Some(Err(_)) if cancelled => {
                io.note(&format!("turn cancelled{kept}; back at the prompt"))?;
                Ok(TurnEnd::Cancelled)
            }
            Some(Err(AgentError::Llm(e))) => {
                let msg = match &e {
                    crate::llm::LlmError::Unreachable { .. }
                    | crate::llm::LlmError::Timeout { .. } => {
                        engine::unreachable_message(&self.config.model.base_url, &e)
                    }
                    other => format!("{other}\n  /collect works without a model"),
                };
                self.no_model(format!("{msg}{}", kept.replace("; kept", "\n  kept")), io)
            }
            Some(Err(AgentError::Transport(e))) => {
                let msg = format!(
                    "{e}\n  the turn ended; what was collected stays. Reconnect with /host {host}"
                );
                io.problem(&msg)?;
                self.transcript.push(Entry::Note { host, text: msg });
                Ok(TurnEnd::Cancelled)
            }
            Some(Err(e)) => {
                let msg = e.to_string();
                io.problem(&msg)?;
                self.transcript.push(Entry::Note { host, text: msg });
                Ok(TurnEnd::Cancelled)
            }
        }
    }

    /// A turn that could not reach a model: say why and what to do.
    fn no_model(&mut self, why: String, io: &mut Io) -> Result<TurnEnd, ReplError> {
        io.problem(&why)?;
        self.transcript.push(Entry::Note {
            host: self.host_name(),
            text: why,
        });
        Ok(TurnEnd::NoModel)
    }

    /// The first turn, from the command line: without a usable model, collect the baseline
    /// of the issue's category instead so the session starts with evidence.
    pub async fn first_turn(&mut self, issue: &str, io: &mut Io) -> Result<(), ReplError> {
        if self.turn(issue, io).await? == TurnEnd::NoModel {
            let category = self.category;
            self.collect(category, io).await?;
            let findings = self.findings();
            if !findings.is_empty() {
                io.say(&view::findings(&findings, &io.palette))?;
            }
        }
        Ok(())
    }

    fn show_evidence(&mut self, io: &mut Io) -> Result<(), ReplError> {
        let p = io.palette;
        if let Some(r) = self.last_report.as_ref().filter(|r| !r.evidence.is_empty()) {
            let mut s = format!("{}\n", p.heading("Evidence (last report)"));
            for e in &r.evidence {
                let cite = if e.sources.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", e.sources.join(", "))
                };
                s.push_str(&format!("  • {}{}\n", e.text, p.dim(&cite)));
            }
            return io.say(&s);
        }
        if self.collected.is_empty() {
            return io.note(
                "no evidence yet: run /collect or ask a question; a report cites its evidence",
            );
        }
        let findings = self.findings();
        if findings.is_empty() {
            return io.note(
                "no report yet, and the deterministic detectors found nothing in what was collected; /show logs shows the raw output",
            );
        }
        io.say(&view::findings(&findings, &p))
    }

    /// Deterministic findings over everything collected on the current host.
    fn findings(&self) -> Vec<crate::triage::Finding> {
        let host = self.host_name();
        let outcomes: Vec<crate::tools::ToolOutcome> = self
            .collected
            .iter()
            .filter(|l| l.host == host)
            .map(|l| l.outcome.clone())
            .collect();
        crate::triage::analyze(&outcomes)
    }

    fn show_runbooks(&mut self, io: &mut Io) -> Result<(), ReplError> {
        let tools = self.runner.tools();
        let Some(k) = &tools.knowledge else {
            let why = tools.knowledge_problem.clone().unwrap_or_default();
            return io.problem(&format!(
                "/runbooks: the knowledge store is not available: {why}"
            ));
        };
        let cited = k.retrieved_this_session();
        if cited.is_empty() {
            return io.note(
                "no runbook retrieved in this session yet (runbooks are retrieved for a question; `tai runbooks search` searches them)",
            );
        }
        let p = io.palette;
        let mut s = format!("{}\n", p.heading("Runbooks retrieved this session"));
        for c in cited {
            s.push_str(&format!("  • {c}\n"));
        }
        io.say(&s)
    }

    async fn show_history(&mut self, io: &mut Io) -> Result<(), ReplError> {
        let Some(k) = self.runner.knowledge() else {
            let why = self
                .runner
                .tools()
                .knowledge_problem
                .clone()
                .unwrap_or_default();
            return io.problem(&format!(
                "/history: the knowledge store is not available: {why}"
            ));
        };
        let host = self.host_name();
        let hits = match self.issue.clone() {
            Some(issue) => {
                let cancel = CancellationToken::new();
                match cancellable(k.search_sessions(&issue, None, 5), &cancel, io).await {
                    (Some(r), false) => r,
                    _ => return io.note("/history cancelled"),
                }
            }
            None => k.recent_sessions(Some(&host), 5),
        };
        let hits = match hits {
            Ok(h) => h,
            Err(e) => return io.problem(&e.to_string()),
        };
        if hits.is_empty() {
            return io.note(match &self.issue {
                Some(_) => "no similar past session (sessions are saved when they end, unless --no-persist)",
                None => "no past session on this host (sessions are saved when they end, unless --no-persist); ask a question to search by issue",
            });
        }
        let p = io.palette;
        let title = if self.issue.is_some() {
            "Similar past sessions"
        } else {
            "Recent sessions on this host"
        };
        let mut s = format!("{}\n", p.heading(title));
        for h in hits {
            let sm = &h.summary;
            s.push_str(&format!(
                "  #{} {} [{}] {}\n",
                h.id,
                p.bold(&sm.host),
                sm.category,
                sm.issue
            ));
            if !sm.root_cause.trim().is_empty() {
                s.push_str(&format!(
                    "      {} {}\n",
                    p.dim("root cause:"),
                    sm.root_cause.trim()
                ));
            }
        }
        io.say(&s)
    }

    /// The summary saved to session memory at the end: the last report, else triage over what
    /// was collected. `None` when nothing happened worth remembering.
    pub fn summary(&self) -> Option<crate::knowledge::SessionSummary> {
        if self.collected.is_empty() && self.turns == 0 {
            return None;
        }
        let host = self.host_name();
        let issue = self.issue.clone().unwrap_or_default();
        let report = match &self.last_report {
            Some(r) => r.clone(),
            None => {
                let findings = self.findings();
                let outcomes: Vec<crate::tools::ToolOutcome> =
                    self.collected.iter().map(|l| l.outcome.clone()).collect();
                crate::triage::report(&host, &issue, self.category.as_str(), &outcomes, &findings)
            }
        };
        let model = (self.turns > 0).then_some(self.config.model.model.as_str());
        let mut summary = crate::knowledge::SessionSummary::from_report(&report, model);
        summary.issue = issue;
        Some(summary)
    }

    async fn switch_host(&mut self, spec: &str, io: &mut Io) -> Result<(), ReplError> {
        let target = match crate::transport::Target::parse(spec) {
            Ok(t) => t,
            Err(e) => return io.problem(&e.to_string()),
        };
        let current = self.host_name();
        io.note(&io.err_palette.dim(&format!("connecting to {spec}…")))?;
        let cancel = CancellationToken::new();
        let config = self.config.clone();
        let runner = self.runner.clone();
        let connected = match cancellable(runner.connect_host(&config, &target), &cancel, io).await
        {
            (Some(r), false) => r,
            _ => return io.note(&format!("/host cancelled; still on {current}")),
        };
        match connected {
            Ok(h) => {
                let line = view::facts_line(&h.name, &h.facts, &io.palette);
                let facts = view::facts_line(&h.name, &h.facts, &Palette::new(false));
                let new_name = h.name.clone();
                let old = self.runner.switch(h);
                old.transport.close().await;
                self.transcript.push(Entry::Command {
                    host: current.clone(),
                    text: format!("/host {new_name}"),
                });
                self.pending_switch = Some(format!(
                    "(The user switched hosts: tool calls now run on {new_name}, not {current}. \
                     Host facts: {facts}. Earlier tool results came from {current}.)"
                ));
                io.say(&format!(
                    "{line}\n(switched from {current}; what was collected there stays, labelled by host)"
                ))
            }
            Err(e) => io.problem(&format!("{e}\n  still on {current}")),
        }
    }
}

/// What to tell the user when the model session could not be set up.
fn agent_error_message(config: &Config, e: &AgentError) -> String {
    match e {
        AgentError::Llm(l @ crate::llm::LlmError::Unreachable { .. })
        | AgentError::Llm(l @ crate::llm::LlmError::Timeout { .. }) => {
            engine::unreachable_message(&config.model.base_url, l)
        }
        other => format!("{other}\n  /collect works without a model"),
    }
}

/// Run `work`; on Ctrl-C (SIGINT: the terminal is cooked while a turn runs), cancel `cancel`
/// and give `work` a grace period to return what it gathered. A second Ctrl-C abandons it at
/// once. `None` when it did not stop (or was abandoned).
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
            // On its own line: a progress spinner may be mid-line.
            let _ = io.note(&format!(
                "\n{}",
                io.err_palette.warn("cancelling… (what finished is kept; Ctrl-C again abandons it)")
            ));
            tokio::select! {
                r = tokio::time::timeout(CANCEL_GRACE, work) => (r.ok(), true),
                _ = tokio::signal::ctrl_c() => (None, true),
            }
        }
    }
}
