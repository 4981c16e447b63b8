//! The interactive session: reedline editor, prompt, completer and slash commands.
//!
//! [`commands`] parses what the user types, [`completer`] completes and hints it, [`prompt`]
//! shows host, turn and tokens.
pub mod commands;
pub mod completer;
pub mod prompt;
