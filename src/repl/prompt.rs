//! The session prompt: `tai web01 #3› ` on the left (host and the number of the next turn),
//! tokens used so far on the right.
use std::borrow::Cow;

use reedline::{Color, Prompt, PromptEditMode, PromptHistorySearch, PromptHistorySearchStatus};

/// A snapshot of what the prompt shows; rebuilt before every `read_line`.
#[derive(Debug, Clone)]
pub struct SessionPrompt {
    pub host: String,
    /// The number the next turn will have (1 for the first).
    pub turn: usize,
    /// Prompt plus completion tokens used so far.
    pub tokens: u64,
}

impl SessionPrompt {
    pub fn new(host: impl Into<String>, turn: usize, tokens: u64) -> Self {
        Self {
            host: host.into(),
            turn,
            tokens,
        }
    }

    /// The left prompt text (without the indicator).
    pub fn left(&self) -> String {
        format!("tai {} #{}", self.host, self.turn)
    }

    /// The right prompt text.
    pub fn right(&self) -> String {
        format!("{} tokens", human_count(self.tokens))
    }
}

/// `950`, `1.2k`, `34k`, `1.5M`.
pub fn human_count(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=9_999 => format!("{:.1}k", n as f64 / 1_000.0),
        10_000..=999_999 => format!("{}k", n / 1_000),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

impl Prompt for SessionPrompt {
    fn render_prompt_left(&self) -> Cow<'_, str> {
        Cow::Owned(self.left())
    }

    fn render_prompt_right(&self) -> Cow<'_, str> {
        Cow::Owned(self.right())
    }

    fn render_prompt_indicator(&self, _mode: PromptEditMode) -> Cow<'_, str> {
        Cow::Borrowed("› ")
    }

    fn render_prompt_multiline_indicator(&self) -> Cow<'_, str> {
        Cow::Borrowed("… ")
    }

    fn render_prompt_history_search_indicator(
        &self,
        history_search: PromptHistorySearch,
    ) -> Cow<'_, str> {
        let prefix = match history_search.status {
            PromptHistorySearchStatus::Passing => "",
            PromptHistorySearchStatus::Failing => "failing ",
        };
        Cow::Owned(format!("({prefix}search: {}) ", history_search.term))
    }

    fn get_prompt_color(&self) -> Color {
        Color::LightCyan
    }

    fn get_indicator_color(&self) -> Color {
        Color::LightCyan
    }

    fn get_prompt_right_color(&self) -> Color {
        Color::DarkGray
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_host_turn_and_tokens() {
        let p = SessionPrompt::new("web01", 3, 1234);
        assert_eq!(p.render_prompt_left(), "tai web01 #3");
        assert_eq!(p.render_prompt_right(), "1.2k tokens");
        assert_eq!(p.render_prompt_indicator(PromptEditMode::Default), "› ");
        assert_eq!(p.render_prompt_multiline_indicator(), "… ");
        let s = p.render_prompt_history_search_indicator(PromptHistorySearch::new(
            PromptHistorySearchStatus::Failing,
            "coll".into(),
        ));
        assert_eq!(s, "(failing search: coll) ");
    }

    #[test]
    fn token_counts_are_short() {
        assert_eq!(human_count(0), "0");
        assert_eq!(human_count(999), "999");
        assert_eq!(human_count(1_000), "1.0k");
        assert_eq!(human_count(34_567), "34k");
        assert_eq!(human_count(1_500_000), "1.5M");
    }
}
