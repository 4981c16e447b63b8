//! The REPL's line history in `TAI_HOME/repl_history`: reedline's file-backed history with
//! every line passed through the redactor (the built-ins plus the user's `[redact] patterns`:
//! `config.redact`) before it is kept, so a token typed into a question never reaches the disk.
//! With `--no-persist` the history lives in memory only.
use std::path::PathBuf;
use std::sync::Arc;

use reedline::{
    FileBackedHistory, History, HistoryItem, HistoryItemId, HistorySessionId, SearchQuery,
};

/// Turns a line into what may be stored.
pub type Redactor = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// A [`History`] that redacts each line before storing it.
pub struct RedactingHistory {
    inner: FileBackedHistory,
    redact: Redactor,
}

impl RedactingHistory {
    /// File-backed at `file`, or in memory when `file` is `None`.
    pub fn open(
        capacity: usize,
        file: Option<PathBuf>,
        redact: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> reedline::Result<Self> {
        let inner = match file {
            Some(f) => FileBackedHistory::with_file(capacity, f)?,
            None => FileBackedHistory::new(capacity)?,
        };
        Ok(Self {
            inner,
            redact: Arc::new(redact),
        })
    }
}

impl History for RedactingHistory {
    fn save(&mut self, mut h: HistoryItem) -> reedline::Result<HistoryItem> {
        h.command_line = (self.redact)(&h.command_line);
        self.inner.save(h)
    }
    fn load(&self, id: HistoryItemId) -> reedline::Result<HistoryItem> {
        self.inner.load(id)
    }
    fn count(&self, query: SearchQuery) -> reedline::Result<i64> {
        self.inner.count(query)
    }
    fn search(&self, query: SearchQuery) -> reedline::Result<Vec<HistoryItem>> {
        self.inner.search(query)
    }
    fn update(
        &mut self,
        id: HistoryItemId,
        updater: &dyn Fn(HistoryItem) -> HistoryItem,
    ) -> reedline::Result<()> {
        let redact = &self.redact;
        self.inner.update(id, &|item| {
            let mut item = updater(item);
            item.command_line = redact(&item.command_line);
            item
        })
    }
    fn clear(&mut self) -> reedline::Result<()> {
        self.inner.clear()
    }
    fn delete(&mut self, h: HistoryItemId) -> reedline::Result<()> {
        self.inner.delete(h)
    }
    fn sync(&mut self) -> std::io::Result<()> {
        self.inner.sync()
    }
    fn session(&self) -> Option<HistorySessionId> {
        self.inner.session()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask_digits(s: &str) -> String {
        s.chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect()
    }

    #[test]
    fn lines_are_redacted_before_they_reach_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/repl_history");
        {
            let mut h = RedactingHistory::open(10, Some(file.clone()), mask_digits).unwrap();
            h.save(HistoryItem::from_command_line("token 12345 leaked"))
                .unwrap();
            h.save(HistoryItem::from_command_line("/collect disk"))
                .unwrap();
            h.sync().unwrap();
            assert_eq!(h.count_all().unwrap(), 2);
        }
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("token ##### leaked"), "{text}");
        assert!(!text.contains("12345"), "{text}");
        assert!(text.contains("/collect disk"), "{text}");
        // Reopened, the history is there for the next session.
        let h = RedactingHistory::open(10, Some(file), mask_digits).unwrap();
        assert_eq!(h.count_all().unwrap(), 2);
    }

    #[test]
    fn the_real_redactor_keeps_tokens_out_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("repl_history");
        let line = "why does curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U' fail with password=hunter2";
        {
            let mut h =
                RedactingHistory::open(10, Some(file.clone()), crate::knowledge::redact::redact)
                    .unwrap();
            h.save(HistoryItem::from_command_line(line)).unwrap();
            h.sync().unwrap();
        }
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("dozjgNryP4J3jVmNHl0w5N"), "{text}");
        assert!(text.contains("why does curl"), "{text}");
    }

    #[test]
    fn user_patterns_from_config_reach_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("repl_history");
        let r = crate::redact::Redactor::with_patterns(&["bluebird-[0-9]+".to_string()]).unwrap();
        {
            let mut h =
                RedactingHistory::open(10, Some(file.clone()), move |l: &str| r.redact(l)).unwrap();
            h.save(HistoryItem::from_command_line(
                "why is bluebird-42 slow, token=abcdef123456",
            ))
            .unwrap();
            h.sync().unwrap();
        }
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("bluebird-42"), "{text}");
        assert!(!text.contains("abcdef123456"), "{text}");
        assert!(text.contains("why is"), "{text}");
    }

    #[test]
    fn in_memory_history_writes_nothing() {
        let mut h = RedactingHistory::open(10, None, mask_digits).unwrap();
        h.save(HistoryItem::from_command_line("a 1")).unwrap();
        h.sync().unwrap();
        assert_eq!(h.count_all().unwrap(), 1);
    }
}
