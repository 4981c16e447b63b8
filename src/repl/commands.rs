//! The slash commands of the interactive session: what the user can type besides free text,
//! how a line is parsed into [`Input`], and the help text of every command.
//!
//! A line is a command when its first word is `/name` (letters only, like `/collect`); anything
//! else is a follow-up turn for the model. So `/var/log is full` is a question, not an unknown
//! command, and `//collect` sends the literal text `/collect` to the model.
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::plan::Category;
use crate::transport::Target;

/// What one line of input asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Nothing but whitespace.
    Empty,
    /// A slash command.
    Command(Command),
    /// Free text: a follow-up turn for the model.
    Turn(String),
}

/// What `/show` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShowWhat {
    /// Collected output, by tool call; optionally only one tool (`disk_usage`) or call (`T3`).
    Logs(Option<String>),
    /// The evidence of the last report (or the findings over what was collected).
    Evidence,
    /// Tool calls so far with status and duration.
    Tools,
}

/// A slash command, parsed and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the baseline plan of a category now (default: the session's category).
    Collect(Option<Category>),
    Show(ShowWhat),
    /// Runbooks retrieved this session.
    Runbooks,
    /// Similar past sessions.
    History,
    /// Switch to another host, keeping the conversation.
    Host(String),
    Tokens,
    /// Write the transcript and report as Markdown.
    Save(PathBuf),
    /// Forget the conversation and what was collected (the connection stays).
    Clear,
    /// All commands, or the details of one.
    Help(Option<String>),
    Quit,
}

/// The help entry of one command.
#[derive(Debug, Clone, Copy)]
pub struct CommandHelp {
    /// The name without the slash.
    pub name: &'static str,
    /// Other names that mean the same command.
    pub aliases: &'static [&'static str],
    /// Arguments as shown in usage lines (`[CATEGORY]`), empty when none.
    pub args: &'static str,
    /// One line for the `/help` list and completion menus.
    pub summary: &'static str,
    /// More, for `/help NAME`.
    pub details: &'static str,
}

impl CommandHelp {
    /// `/collect [CATEGORY]`.
    pub fn usage(&self) -> String {
        if self.args.is_empty() {
            format!("/{}", self.name)
        } else {
            format!("/{} {}", self.name, self.args)
        }
    }
}

/// Every command, in the order `/help` lists them.
pub const COMMANDS: &[CommandHelp] = &[
    CommandHelp {
        name: "collect",
        aliases: &[],
        args: "[CATEGORY]",
        summary: "run the baseline plan now and add its output to the context",
        details:
            "Runs the read-only baseline tool calls of CATEGORY (service, network, dns, disk, \
                  memory, kernel, auth, time, tls, performance, general) concurrently on the host. \
                  Without CATEGORY, uses the category of the issue (or `general`). Needs no model.",
    },
    CommandHelp {
        name: "show",
        aliases: &[],
        args: "logs [TOOL|CALL] | evidence | tools",
        summary: "show collected output, the evidence, or the tool calls so far",
        details: "`/show logs` prints what each tool call collected (`/show logs T3` or \
                  `/show logs disk_usage` for one); `/show evidence` the evidence of the last \
                  report or the findings over what was collected; `/show tools` every call with \
                  its status and duration.",
    },
    CommandHelp {
        name: "runbooks",
        aliases: &[],
        args: "",
        summary: "runbooks retrieved this session",
        details: "Lists the runbook sections retrieved into the conversation so far.",
    },
    CommandHelp {
        name: "history",
        aliases: &[],
        args: "",
        summary: "similar past sessions",
        details: "Searches the summaries of past sessions for ones like this one.",
    },
    CommandHelp {
        name: "host",
        aliases: &[],
        args: "HOST",
        summary: "switch to another host, keeping the conversation",
        details: "Connects to HOST ([user@]host[:port], an ssh_config alias, or `local`) and \
                  continues there; what was collected stays, labelled with the host it came from.",
    },
    CommandHelp {
        name: "tokens",
        aliases: &[],
        args: "",
        summary: "model tokens used so far",
        details: "Prompt and completion tokens the model reported for this session.",
    },
    CommandHelp {
        name: "save",
        aliases: &[],
        args: "FILE",
        summary: "write the transcript and report as Markdown",
        details: "Writes the conversation, every tool call with its output, and the last report \
                  to FILE as Markdown. Refuses to overwrite a directory.",
    },
    CommandHelp {
        name: "clear",
        aliases: &[],
        args: "",
        summary: "forget the conversation and what was collected",
        details: "Starts over on the same host: the conversation, the collected output and the \
                  turn counter are reset; the connection stays open.",
    },
    CommandHelp {
        name: "help",
        aliases: &["?"],
        args: "[COMMAND]",
        summary: "list the commands, or explain one",
        details: "`/help` lists every command; `/help collect` explains one.",
    },
    CommandHelp {
        name: "quit",
        aliases: &["exit", "q"],
        args: "",
        summary: "end the session (Ctrl-D too)",
        details: "Ends the session; the session summary is saved unless --no-persist.",
    },
];

/// Why a line could not be parsed as a command. Every message says what to type instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown command `/{name}`{}; type /help for the list", did_you_mean(.suggestion))]
    Unknown {
        name: String,
        suggestion: Option<String>,
    },
    #[error("`/{command}` needs {what}\n  usage: {usage}")]
    MissingArgument {
        command: &'static str,
        what: &'static str,
        usage: String,
    },
    #[error("`/{command}` takes no more than {max} argument(s), got {got:?}\n  usage: {usage}")]
    TooManyArguments {
        command: &'static str,
        max: usize,
        got: Vec<String>,
        usage: String,
    },
    #[error("`/{command}`: {reason}\n  usage: {usage}")]
    BadArgument {
        command: &'static str,
        reason: String,
        usage: String,
    },
    #[error("could not split the arguments: {0}; close the quote or drop it")]
    Quoting(String),
}

fn did_you_mean(s: &Option<String>) -> String {
    match s {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}

/// The help entry for a name or alias (without the slash).
pub fn lookup(name: &str) -> Option<&'static CommandHelp> {
    let name = name.to_ascii_lowercase();
    COMMANDS
        .iter()
        .find(|c| c.name == name || c.aliases.contains(&name.as_str()))
}

fn help_of(name: &str) -> &'static CommandHelp {
    lookup(name).unwrap_or(&COMMANDS[0])
}

/// Is `word` shaped like a command name (`/collect`, `/?`), as opposed to a path (`/var/log`)?
fn is_command_word(word: &str) -> bool {
    match word.strip_prefix('/') {
        Some("?") => true,
        Some(rest) => !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphabetic()),
        None => false,
    }
}

impl FromStr for Input {
    type Err = CommandError;

    fn from_str(line: &str) -> Result<Input, CommandError> {
        let text = line.trim();
        if text.is_empty() {
            return Ok(Input::Empty);
        }
        if let Some(rest) = text.strip_prefix("//") {
            return Ok(Input::Turn(format!("/{rest}")));
        }
        let first = text.split_whitespace().next().unwrap_or("");
        if is_command_word(first) {
            return text.parse::<Command>().map(Input::Command);
        }
        Ok(Input::Turn(text.to_string()))
    }
}

impl FromStr for Command {
    type Err = CommandError;

    fn from_str(line: &str) -> Result<Command, CommandError> {
        let text = line.trim();
        let body = text.strip_prefix('/').unwrap_or(text);
        let (name, rest) = match body.split_once(char::is_whitespace) {
            Some((n, r)) => (n, r.trim()),
            None => (body, ""),
        };
        let Some(help) = lookup(name) else {
            return Err(CommandError::Unknown {
                name: name.to_string(),
                suggestion: suggest(name).map(|c| format!("/{}", c.name)),
            });
        };
        let args = shell_words::split(rest).map_err(|e| CommandError::Quoting(e.to_string()))?;
        let usage = help.usage();
        let too_many = |max: usize| CommandError::TooManyArguments {
            command: help.name,
            max,
            got: args.clone(),
            usage: usage.clone(),
        };
        let no_args = |cmd: Command| {
            if args.is_empty() {
                Ok(cmd)
            } else {
                Err(too_many(0))
            }
        };
        match help.name {
            "collect" => match args.as_slice() {
                [] => Ok(Command::Collect(None)),
                [cat] => match cat.parse::<Category>() {
                    Ok(c) => Ok(Command::Collect(Some(c))),
                    Err(reason) => Err(CommandError::BadArgument {
                        command: "collect",
                        reason,
                        usage,
                    }),
                },
                _ => Err(too_many(1)),
            },
            "show" => parse_show(&args, &usage),
            "runbooks" => no_args(Command::Runbooks),
            "history" => no_args(Command::History),
            "host" => match args.as_slice() {
                [] => Err(CommandError::MissingArgument {
                    command: "host",
                    what: "a host ([user@]host[:port], an ssh_config alias, or `local`)",
                    usage,
                }),
                [h] => match Target::parse(h) {
                    Ok(_) => Ok(Command::Host(h.clone())),
                    Err(e) => Err(CommandError::BadArgument {
                        command: "host",
                        reason: first_line(&e.to_string()),
                        usage,
                    }),
                },
                _ => Err(too_many(1)),
            },
            "tokens" => no_args(Command::Tokens),
            "save" => match args.as_slice() {
                [] => Err(CommandError::MissingArgument {
                    command: "save",
                    what: "a file to write (e.g. `/save incident.md`)",
                    usage,
                }),
                [f] => Ok(Command::Save(crate::config::expand_tilde(
                    std::path::Path::new(f),
                ))),
                _ => Err(CommandError::BadArgument {
                    command: "save",
                    reason: format!(
                        "expected one file name, got {} words; quote a name with spaces",
                        args.len()
                    ),
                    usage,
                }),
            },
            "clear" => no_args(Command::Clear),
            "help" => match args.as_slice() {
                [] => Ok(Command::Help(None)),
                [c] => {
                    let c = c.trim_start_matches('/');
                    match lookup(c) {
                        Some(h) => Ok(Command::Help(Some(h.name.to_string()))),
                        None => Err(CommandError::Unknown {
                            name: c.to_string(),
                            suggestion: suggest(c).map(|h| format!("/help {}", h.name)),
                        }),
                    }
                }
                _ => Err(too_many(1)),
            },
            "quit" => no_args(Command::Quit),
            other => unreachable_command(other),
        }
    }
}

/// Every name in [`COMMANDS`] is matched above; this keeps the match total without a panic.
fn unreachable_command(name: &str) -> Result<Command, CommandError> {
    Err(CommandError::Unknown {
        name: name.to_string(),
        suggestion: None,
    })
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

/// The words `/show` accepts.
pub const SHOW_WHAT: &[(&str, &str)] = &[
    ("logs", "what was collected, by tool call"),
    ("evidence", "the evidence of the last report"),
    ("tools", "tool calls with status and duration"),
];

fn parse_show(args: &[String], usage: &str) -> Result<Command, CommandError> {
    let Some(what) = args.first() else {
        return Err(CommandError::MissingArgument {
            command: "show",
            what: "what to show: logs, evidence or tools",
            usage: usage.to_string(),
        });
    };
    let what_l = what.to_ascii_lowercase();
    let max = if what_l == "logs" { 2 } else { 1 };
    if args.len() > max {
        return Err(CommandError::TooManyArguments {
            command: "show",
            max,
            got: args.to_vec(),
            usage: usage.to_string(),
        });
    }
    match what_l.as_str() {
        "logs" | "log" => Ok(Command::Show(ShowWhat::Logs(args.get(1).cloned()))),
        "evidence" => Ok(Command::Show(ShowWhat::Evidence)),
        "tools" | "tool" | "calls" => Ok(Command::Show(ShowWhat::Tools)),
        _ => {
            let near = SHOW_WHAT
                .iter()
                .map(|(w, _)| (*w, distance(&what_l, w)))
                .min_by_key(|(_, d)| *d)
                .filter(|(_, d)| *d <= 2)
                .map(|(w, _)| format!(" (did you mean `/show {w}`?)"))
                .unwrap_or_default();
            Err(CommandError::BadArgument {
                command: "show",
                reason: format!("cannot show {what:?}: expected logs, evidence or tools{near}"),
                usage: usage.to_string(),
            })
        }
    }
}

/// The closest command to a mistyped name: a unique prefix, or within edit distance 2.
pub fn suggest(name: &str) -> Option<&'static CommandHelp> {
    let name = name.to_ascii_lowercase();
    if name.is_empty() {
        return None;
    }
    let prefixed: Vec<_> = COMMANDS
        .iter()
        .filter(|c| c.name.starts_with(&name))
        .collect();
    if prefixed.len() == 1 {
        return Some(prefixed[0]);
    }
    COMMANDS
        .iter()
        .map(|c| (c, distance(&name, c.name)))
        .filter(|(_, d)| *d <= 2)
        .min_by_key(|(_, d)| *d)
        .map(|(c, _)| c)
}

/// Levenshtein distance over chars (short strings only).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The `/help` text: every command with its usage and summary, then how input works.
pub fn help_text() -> String {
    let width = COMMANDS.iter().map(|c| c.usage().len()).max().unwrap_or(0);
    let mut s = String::from("Commands:\n");
    for c in COMMANDS {
        s.push_str(&format!("  {:width$}  {}\n", c.usage(), c.summary));
    }
    s.push_str(
        "\nAnything else is a question for the model about this host; it keeps the conversation \
         and the evidence collected so far. Start a line with // to send text that begins with /.\n\
         Tab completes commands and their arguments. End a line with \\ (or press Alt-Enter) to \
         continue on the next line. Ctrl-C cancels a running turn; Ctrl-D or /quit ends the session.",
    );
    s
}

/// The `/help NAME` text.
pub fn help_for(name: &str) -> String {
    let h = help_of(name);
    let mut s = format!("{}\n  {}\n\n{}", h.usage(), h.summary, h.details);
    if !h.aliases.is_empty() {
        let aliases: Vec<String> = h.aliases.iter().map(|a| format!("/{a}")).collect();
        s.push_str(&format!("\nAlso: {}", aliases.join(", ")));
    }
    s
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Collect(None) => write!(f, "/collect"),
            Command::Collect(Some(c)) => write!(f, "/collect {c}"),
            Command::Show(ShowWhat::Logs(None)) => write!(f, "/show logs"),
            Command::Show(ShowWhat::Logs(Some(t))) => write!(f, "/show logs {t}"),
            Command::Show(ShowWhat::Evidence) => write!(f, "/show evidence"),
            Command::Show(ShowWhat::Tools) => write!(f, "/show tools"),
            Command::Runbooks => write!(f, "/runbooks"),
            Command::History => write!(f, "/history"),
            Command::Host(h) => write!(f, "/host {h}"),
            Command::Tokens => write!(f, "/tokens"),
            Command::Save(p) => write!(f, "/save {}", p.display()),
            Command::Clear => write!(f, "/clear"),
            Command::Help(None) => write!(f, "/help"),
            Command::Help(Some(c)) => write!(f, "/help {c}"),
            Command::Quit => write!(f, "/quit"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> Command {
        match s.parse::<Input>() {
            Ok(Input::Command(c)) => c,
            other => panic!("{s:?} parsed as {other:?}"),
        }
    }

    fn err(s: &str) -> CommandError {
        match s.parse::<Input>() {
            Err(e) => e,
            other => panic!("{s:?} should fail, parsed as {other:?}"),
        }
    }

    #[test]
    fn every_command_parses() {
        assert_eq!(cmd("/collect"), Command::Collect(None));
        assert_eq!(cmd("/collect disk"), Command::Collect(Some(Category::Disk)));
        assert_eq!(
            cmd("  /collect   DISK  "),
            Command::Collect(Some(Category::Disk))
        );
        for c in Category::ALL {
            assert_eq!(cmd(&format!("/collect {c}")), Command::Collect(Some(c)));
        }
        assert_eq!(cmd("/show logs"), Command::Show(ShowWhat::Logs(None)));
        assert_eq!(
            cmd("/show logs T3"),
            Command::Show(ShowWhat::Logs(Some("T3".into())))
        );
        assert_eq!(cmd("/show evidence"), Command::Show(ShowWhat::Evidence));
        assert_eq!(cmd("/show tools"), Command::Show(ShowWhat::Tools));
        assert_eq!(cmd("/show Tools"), Command::Show(ShowWhat::Tools));
        assert_eq!(cmd("/runbooks"), Command::Runbooks);
        assert_eq!(cmd("/history"), Command::History);
        assert_eq!(cmd("/host web01"), Command::Host("web01".into()));
        assert_eq!(
            cmd("/host ops@10.0.0.5:2222"),
            Command::Host("ops@10.0.0.5:2222".into())
        );
        assert_eq!(cmd("/host local"), Command::Host("local".into()));
        assert_eq!(cmd("/tokens"), Command::Tokens);
        assert_eq!(cmd("/save out.md"), Command::Save(PathBuf::from("out.md")));
        assert_eq!(
            cmd("/save 'my notes.md'"),
            Command::Save(PathBuf::from("my notes.md"))
        );
        assert_eq!(cmd("/clear"), Command::Clear);
        assert_eq!(cmd("/help"), Command::Help(None));
        assert_eq!(cmd("/help /collect"), Command::Help(Some("collect".into())));
        assert_eq!(cmd("/help exit"), Command::Help(Some("quit".into())));
        assert_eq!(cmd("/?"), Command::Help(None));
        assert_eq!(cmd("/quit"), Command::Quit);
        assert_eq!(cmd("/exit"), Command::Quit);
        assert_eq!(cmd("/q"), Command::Quit);
        assert_eq!(cmd("/QUIT"), Command::Quit);
    }

    #[test]
    fn display_round_trips() {
        for line in [
            "/collect",
            "/collect dns",
            "/show logs",
            "/show logs T2",
            "/show evidence",
            "/show tools",
            "/runbooks",
            "/history",
            "/host web01",
            "/tokens",
            "/save x.md",
            "/clear",
            "/help",
            "/help show",
            "/quit",
        ] {
            assert_eq!(cmd(line).to_string(), line);
        }
    }

    #[test]
    fn free_text_is_a_turn() {
        assert_eq!(
            "why is nginx down?".parse::<Input>().unwrap(),
            Input::Turn("why is nginx down?".into())
        );
        // A path at the start is a question, not an unknown command.
        assert_eq!(
            "/var/log is full".parse::<Input>().unwrap(),
            Input::Turn("/var/log is full".into())
        );
        assert_eq!(
            "//collect means what?".parse::<Input>().unwrap(),
            Input::Turn("/collect means what?".into())
        );
        assert_eq!("   ".parse::<Input>().unwrap(), Input::Empty);
        assert_eq!("".parse::<Input>().unwrap(), Input::Empty);
    }

    #[test]
    fn unknown_commands_suggest_the_nearest() {
        let e = err("/colect disk");
        assert_eq!(
            e,
            CommandError::Unknown {
                name: "colect".into(),
                suggestion: Some("/collect".into())
            }
        );
        let msg = e.to_string();
        assert!(msg.contains("did you mean `/collect`"), "{msg}");
        assert!(msg.contains("/help"), "{msg}");
        // A unique prefix is suggested too.
        assert!(err("/tok").to_string().contains("/tokens"));
        // Nothing close: no suggestion, still points at /help.
        let msg = err("/frobnicate").to_string();
        assert!(!msg.contains("did you mean"), "{msg}");
        assert!(msg.contains("/help"), "{msg}");
    }

    #[test]
    fn bad_arguments_say_what_to_type() {
        let msg = err("/host").to_string();
        assert!(msg.contains("needs a host"), "{msg}");
        assert!(msg.contains("usage: /host HOST"), "{msg}");

        let msg = err("/host -oProxyCommand=x").to_string();
        assert!(msg.contains("cannot start with '-'"), "{msg}");

        let msg = err("/save").to_string();
        assert!(msg.contains("needs a file"), "{msg}");
        let msg = err("/save a b").to_string();
        assert!(msg.contains("quote a name with spaces"), "{msg}");

        let msg = err("/show").to_string();
        assert!(msg.contains("logs, evidence or tools"), "{msg}");
        let msg = err("/show evidnce").to_string();
        assert!(msg.contains("did you mean `/show evidence`"), "{msg}");
        let msg = err("/show tools extra").to_string();
        assert!(msg.contains("no more than 1"), "{msg}");

        let msg = err("/collect weather").to_string();
        assert!(msg.contains("unknown category `weather`"), "{msg}");
        assert!(msg.contains("disk") && msg.contains("general"), "{msg}");

        let msg = err("/collect disk dns").to_string();
        assert!(msg.contains("no more than 1"), "{msg}");
        assert!(msg.contains("usage: /collect [CATEGORY]"), "{msg}");

        for c in [
            "/quit now",
            "/clear all",
            "/tokens x",
            "/runbooks y",
            "/history z",
        ] {
            let msg = err(c).to_string();
            assert!(msg.contains("no more than 0"), "{c}: {msg}");
        }

        let msg = err("/save 'unterminated").to_string();
        assert!(msg.contains("close the quote"), "{msg}");

        let msg = err("/help nosuch").to_string();
        assert!(msg.contains("unknown command `/nosuch`"), "{msg}");
    }

    #[test]
    fn help_lists_every_command_with_its_usage() {
        let text = help_text();
        for c in COMMANDS {
            assert!(text.contains(&c.usage()), "missing {}", c.usage());
            assert!(text.contains(c.summary), "missing summary of {}", c.name);
        }
        assert!(help_for("quit").contains("/exit"));
        assert!(help_for("collect").contains("CATEGORY"));
    }

    #[test]
    fn edit_distance() {
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("colect", "collect"), 1);
        assert_eq!(distance("hlep", "help"), 2);
        assert_eq!(distance("same", "same"), 0);
    }
}
