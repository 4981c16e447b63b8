//! The interactive session: reedline editor, prompt, completer and slash commands.
//! Lands with issue 7.
