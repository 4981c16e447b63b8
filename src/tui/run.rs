//! The run loop: the terminal (raw mode, alternate screen, restored on every exit path and on
//! panic), key reads on their own thread (never on the async runtime), and the engine, the
//! REPL's [`crate::repl::Session`] over `Session::start_with` + `HostRunner`, driven while
//! the screen keeps redrawing. The engine's progress lines (stderr) are captured through a
//! pipe and become the probes pane's live rows; what it says goes to the answer pane and its
//! problems to the status line, worded as the CLI words them.
use std::future::Future;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use ratatui::crossterm::{execute, terminal};
use ratatui::Terminal;
use tokio::sync::mpsc;

use super::app::{Action, App};
use super::{panes, TuiError};
use crate::config::Config;
use crate::exit::Code;
use crate::render::Palette;
use crate::repl::{self, Io, ReplError, Session};
use crate::transport::Target;

/// What reaches the loop besides the engine's own result.
enum Ev {
    Term(Event),
    Progress(String),
}

/// A writer the loop reads back: the engine's `Io` writes into it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn take(&self) -> String {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let s = String::from_utf8_lossy(&g).into_owned();
        g.clear();
        s
    }
}

/// The saved stderr while it is captured (-1: not captured); the panic hook restores it.
static SAVED_STDERR: AtomicI32 = AtomicI32::new(-1);

fn restore_stderr() {
    let fd = SAVED_STDERR.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: dup2/close on descriptors this module owns.
        unsafe {
            libc::dup2(fd, 2);
            libc::close(fd);
        }
    }
}

fn restore_terminal() {
    restore_stderr();
    let _ = terminal::disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        terminal::LeaveAlternateScreen,
        ratatui::crossterm::cursor::Show
    );
}

/// Restores the terminal and stderr when dropped: every return, `?` and panic path.
struct Guard {
    stop: Arc<AtomicBool>,
    keys: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(k) = self.keys.take() {
            let _ = k.join();
        }
        restore_terminal();
    }
}

/// Send stderr (fd 2) into a pipe whose lines become [`Ev::Progress`].
fn capture_stderr(tx: mpsc::UnboundedSender<Ev>) -> std::io::Result<()> {
    let mut fds = [0i32; 2];
    // SAFETY: plain POSIX calls on fresh descriptors; every result is checked.
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let saved = libc::fcntl(2, libc::F_DUPFD_CLOEXEC, 3);
        if saved < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::dup2(fds[1], 2) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        libc::close(fds[1]);
        SAVED_STDERR.store(saved, Ordering::SeqCst);
    }
    // SAFETY: fds[0] is ours alone from here on.
    let reader = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[0]) };
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if tx.send(Ev::Progress(line)).is_err() {
                break;
            }
        }
    });
    Ok(())
}

type Term<W> = Terminal<CrosstermBackend<W>>;

/// The screen, the events and the engine's writers.
struct Ui<W: Write> {
    term: Term<W>,
    rx: mpsc::UnboundedReceiver<Ev>,
    out: Shared,
    err: Shared,
    app: App,
    /// Lines submitted while something ran, in order.
    pending: std::collections::VecDeque<String>,
}

/// How driven work ended.
enum Driven<T> {
    Done(T),
    /// `q`/Ctrl-C before there was a session (connecting).
    Abandoned,
}

impl<W: Write> Ui<W> {
    fn draw(&mut self) -> Result<(), TuiError> {
        let app = &mut self.app;
        self.term
            .draw(|f| panes::draw(f, app))
            .map_err(TuiError::Terminal)?;
        Ok(())
    }

    /// Move what the engine wrote into the panes.
    fn drain(&mut self) {
        let out = self.out.take();
        if !out.is_empty() {
            self.app.say(&out);
        }
        let err = self.err.take();
        let msgs: Vec<&str> = err
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if !msgs.is_empty() {
            let text = msgs.join(" | ");
            // A problem stays on the status line until the next input; notes replace notes.
            if text.contains("error:") {
                self.app.error = Some(text);
            } else {
                self.app.status = text;
            }
        }
    }

    /// One event while idle or busy; the action for the caller.
    fn event(&mut self, ev: Ev) -> Action {
        match ev {
            Ev::Progress(line) => {
                self.app.progress(&line);
                Action::None
            }
            Ev::Term(Event::Key(k)) if k.kind != KeyEventKind::Release => self.app.key(k),
            Ev::Term(_) => Action::None, // resize: the next draw fits the new size
        }
    }

    /// Run `work` while the screen redraws; Ctrl-C cancels it through the engine's own
    /// cancellation (the SIGINT its `cancellable` waits for), keeping what it gathered.
    async fn drive<F: Future>(
        &mut self,
        what: &str,
        work: F,
        abandon_on_quit: bool,
    ) -> Result<Driven<F::Output>, TuiError> {
        self.app.busy = Some(what.to_string());
        tokio::pin!(work);
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let r = loop {
            self.drain();
            self.draw()?;
            // `work` first: it must have been polled (and its SIGINT listener armed) before a
            // Ctrl-C typed right after the screen changed is turned into that signal.
            tokio::select! {
                biased;
                r = &mut work => break Driven::Done(r),
                ev = self.rx.recv() => {
                    let Some(ev) = ev else { continue };
                    match self.event(ev) {
                        Action::Cancel if abandon_on_quit => break Driven::Abandoned,
                        Action::Cancel => {
                            self.app.status = "cancelling… (what finished is kept)".into();
                            // SAFETY: signalling this process; the engine listens for SIGINT
                            // (and `run` installed a listener, so it never kills us).
                            unsafe { libc::kill(libc::getpid(), libc::SIGINT) };
                        }
                        Action::Quit if abandon_on_quit => break Driven::Abandoned,
                        Action::Quit => {
                            self.app.status = format!("{what} is running: Ctrl-C cancels it first");
                        }
                        // Typed ahead: runs when this is done.
                        Action::Submit(line) => self.pending.push_back(line),
                        _ => {}
                    }
                }
                _ = tick.tick() => {}
            }
        };
        self.app.busy = None;
        self.drain();
        Ok(r)
    }

    fn io(&self) -> Io {
        Io {
            out: Box::new(self.out.clone()),
            err: Box::new(self.err.clone()),
            palette: Palette::new(false),
            err_palette: Palette::new(false),
            width: None,
        }
    }

    /// Calls, findings and cited lines from the session.
    fn sync(&mut self, s: &Session) {
        self.app.sync_calls(&s.collected);
        let host = s.host_name();
        let outcomes: Vec<crate::tools::ToolOutcome> = s
            .collected
            .iter()
            .filter(|l| l.host == host)
            .map(|l| l.outcome.clone())
            .collect();
        let findings = crate::triage::analyze(&outcomes);
        self.app.findings = findings
            .iter()
            .map(|f| format!("{:?} {} [{}]", f.severity, f.summary, f.call_id).to_lowercase())
            .collect();
        let mut cited: Vec<(String, String)> = Vec::new();
        for f in &findings {
            cited.extend(f.evidence.iter().map(|l| (f.call_id.clone(), l.clone())));
        }
        if let Some(r) = &s.last_report {
            for e in &r.evidence {
                cited.extend(e.sources.iter().map(|id| (id.clone(), e.text.clone())));
            }
        }
        self.app.cited = cited;
    }
}

/// Run the TUI on `out` (the terminal) until `q` or `/quit`.
pub async fn run<W: Write>(
    config: Config,
    target: Target,
    issue: Option<String>,
    out: W,
) -> Result<Code, TuiError> {
    // A SIGINT listener for the whole run: Ctrl-C (a key in raw mode) is turned into SIGINT
    // for the engine, and SIGINT must never kill the process with the terminal raw.
    tokio::spawn(async { while tokio::signal::ctrl_c().await.is_ok() {} });
    tokio::task::yield_now().await;
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        prev(info);
    }));
    terminal::enable_raw_mode().map_err(TuiError::Terminal)?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut guard = Guard {
        stop: stop.clone(),
        keys: None,
    };
    let mut out = out;
    execute!(out, terminal::EnterAlternateScreen).map_err(TuiError::Terminal)?;
    let (tx, rx) = mpsc::unbounded_channel();
    capture_stderr(tx.clone()).map_err(TuiError::Terminal)?;
    guard.keys = Some(std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match event::poll(Duration::from_millis(50)) {
                Ok(true) => match event::read() {
                    Ok(e) => {
                        if tx.send(Ev::Term(e)).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                },
                Ok(false) => {}
                Err(_) => break,
            }
        }
    }));
    let term = Terminal::new(CrosstermBackend::new(out)).map_err(TuiError::Terminal)?;
    let mut ui = Ui {
        term,
        rx,
        out: Shared::default(),
        err: Shared::default(),
        app: App::new(target.display_name(), config.color),
        pending: Default::default(),
    };
    ui.app.status = format!("connecting to {}…", target.display_name());
    let connect = crate::agent::HostRunner::connect(&config, &target);
    let runner = match ui.drive("connecting", connect, true).await? {
        Driven::Done(r) => r.map_err(|e| TuiError::Repl(ReplError::Agent(e)))?,
        Driven::Abandoned => return Ok(Code::Interrupted),
    };
    let host = runner.host();
    ui.app.host = host.name.clone();
    ui.app.status = repl::view::facts_line(&host.name, &host.facts, &Palette::new(false));
    let start = Session::new(config.clone(), Arc::new(runner));
    let mut session = match ui.drive("starting the session", start, true).await? {
        Driven::Done(s) => s,
        Driven::Abandoned => return Ok(Code::Interrupted),
    };
    if let Some(p) = &session.agent_problem {
        ui.app.error = Some(format!("error: {}", p.replace('\n', " |")));
    }
    ui.app.completer = Some(repl::completer::SlashCompleter::new(
        repl::completer::Vocabulary {
            categories: repl::engine::category_names(),
            tools: session.runner.tools().names(),
            hosts: Vec::new(),
        },
    ));
    let mut io = ui.io();
    if let Some(issue) = issue.filter(|i| !i.trim().is_empty()) {
        ui.app.history.push(issue.clone());
        let work = session.first_turn(&issue, &mut io);
        if let Driven::Done(r) = ui.drive("investigating", work, false).await? {
            r.map_err(TuiError::Repl)?;
        }
        ui.sync(&session);
    }
    loop {
        ui.drain();
        ui.draw()?;
        let action = match ui.pending.pop_front() {
            Some(line) => Action::Submit(line),
            None => {
                let Some(ev) = ui.rx.recv().await else { break };
                ui.event(ev)
            }
        };
        match action {
            Action::Quit => break,
            Action::Submit(line) => {
                ui.app.error = None;
                let work = session.handle_line(&line, &mut io);
                let label = if line.starts_with('/') {
                    "running"
                } else {
                    "thinking"
                };
                let flow = match ui.drive(label, work, false).await? {
                    Driven::Done(r) => r.map_err(TuiError::Repl)?,
                    Driven::Abandoned => repl::session::Flow::Continue,
                };
                ui.sync(&session);
                if flow == repl::session::Flow::Quit {
                    break;
                }
            }
            Action::History => {
                let buf = Shared::default();
                let mut bio = Io {
                    out: Box::new(buf.clone()),
                    err: Box::new(buf.clone()),
                    ..ui.io()
                };
                for cmd in ["/history", "/runbooks"] {
                    let work = session.handle_line(cmd, &mut bio);
                    if let Driven::Done(r) = ui.drive("searching history", work, false).await? {
                        r.map_err(TuiError::Repl)?;
                    }
                }
                ui.app.browser = Some(buf.take().lines().map(str::to_string).collect());
            }
            Action::Cancel | Action::None => {}
        }
    }
    drop(ui);
    drop(guard);
    // The terminal is back: the session summary is saved as the REPL saves it.
    let mut std_io = repl::std_io(&config, false);
    repl::finish(&mut session, &mut std_io)
        .await
        .map_err(TuiError::Repl)?;
    Ok(Code::Success)
}
