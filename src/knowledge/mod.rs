//! Knowledge: runbooks (Tier 2, `library.rs`) and session memory (Tier 3, `memory.rs`) in an
//! arroy/heed store under
//! `TAI_HOME/knowledge`, BM25 always and vectors when an embedding server answers (fused by
//! reciprocal rank), redaction before anything is persisted, and per-session chunk retrieval
//! over tool outputs (Tier 1, [`chunks::SessionChunks`], purely in memory).
//!
//! With `--no-persist` the store lives in a temporary directory outside `TAI_HOME` (bundled
//! runbooks only; sessions recorded there vanish at exit), so nothing is written under
//! `TAI_HOME`.
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use crate::config::Config;
use crate::exit::{Code, HasExitCode};

pub mod bm25;
pub mod chunks;
pub mod embed;
pub mod fusion;
mod library;
mod memory;
pub mod redact;
pub mod runbook;
pub mod store;
pub mod vector;

use embed::Embedder;
pub use library::{RunbookHit, RunbookInfo};
pub use memory::{SessionHit, SessionSummary};
use store::Store;

/// Candidates taken from each ranking before fusion.
const CANDIDATES: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error("knowledge store at {path} could not be used: {reason}")]
    Store { path: String, reason: String },
    #[error("knowledge store at {path} is damaged or not an LMDB store ({reason})\n  nothing was changed or deleted; move it aside (`mv {path} {path}.damaged`) and run `tai runbooks sync` to start a new one; the moved copy keeps your past sessions")]
    Corrupt { path: String, reason: String },
    #[error("knowledge store at {path} was written by a newer tai (store schema {found}; this tai understands up to {supported})\n  nothing was changed; upgrade tai, or use another store with --tai-home DIR")]
    NewerSchema {
        path: String,
        found: u32,
        supported: u32,
    },
    #[error("runbook {path}: {reason}")]
    Runbook {
        path: String,
        #[source]
        reason: runbook::RunbookError,
    },
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },
}

impl HasExitCode for KnowledgeError {
    fn exit_code(&self) -> Code {
        match self {
            KnowledgeError::Runbook { .. } | KnowledgeError::Io { .. } => Code::Failure,
            _ => Code::Store,
        }
    }
}

/// What the agent gets at session start.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Retrieved {
    pub runbook_sections: Vec<RunbookHit>,
    pub prior_sessions: Vec<SessionHit>,
    /// Why vectors were not used, when they were not.
    pub notes: Vec<String>,
}

impl Retrieved {
    /// The retrieved context as Markdown for the model, each item with its citation.
    pub fn to_prompt(&self) -> String {
        let mut out = String::new();
        if !self.runbook_sections.is_empty() {
            out.push_str("## Runbook sections\n\n");
            for h in &self.runbook_sections {
                out.push_str(&format!(
                    "### [runbook: {}]\n{}\n\n",
                    h.citation,
                    h.text.trim()
                ));
            }
        }
        if !self.prior_sessions.is_empty() {
            out.push_str("## Prior sessions\n\n");
            for s in &self.prior_sessions {
                out.push_str(&format!(
                    "### [session {} · {} · {}]\n{}\n",
                    s.id,
                    s.summary.host,
                    format_time(s.summary.time),
                    s.summary.index_text().trim()
                ));
                out.push('\n');
            }
        }
        out
    }
}

/// The knowledge layer of one tai process.
pub struct Knowledge {
    store: Store,
    embedder: Option<Embedder>,
    persist: bool,
    rag_debug: bool,
    last_note: Mutex<Option<String>>,
    retrieved: Mutex<Vec<String>>,
    /// What session summaries go through before they are stored (built-ins + `[redact]`).
    redactor: crate::redact::Redactor,
    // Keeps the temporary store alive (and removes it at exit) under --no-persist.
    _tmp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Knowledge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Knowledge")
            .field("path", &self.store.path())
            .field("persist", &self.persist)
            .finish()
    }
}

/// Options for [`Knowledge::open_with`].
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Store directory; `None` = a temporary directory (nothing persisted).
    pub dir: Option<PathBuf>,
    /// Embedding endpoint and model; `None` = BM25 only.
    pub embed: Option<(String, String)>,
    pub rag_debug: bool,
}

impl Knowledge {
    /// The store directory under a TAI_HOME.
    pub fn store_dir(tai_home: &Path) -> PathBuf {
        tai_home.join("knowledge")
    }

    /// Open the store for this configuration: `TAI_HOME/knowledge`, or a temporary store
    /// under `--no-persist`. A fresh store gets the bundled runbooks indexed (BM25 at once;
    /// vectors on the next `tai runbooks sync` with an embedding server).
    pub fn open(config: &Config) -> Result<Knowledge, KnowledgeError> {
        let mut k = Self::open_with(OpenOptions {
            dir: (!config.no_persist).then(|| Self::store_dir(&config.tai_home)),
            embed: Some((
                config.model.embed_base_url.clone(),
                config.model.embed_model.clone(),
            )),
            rag_debug: config.rag_debug,
        })?;
        k.redactor = config.redact.clone();
        Ok(k)
    }

    pub fn open_with(opts: OpenOptions) -> Result<Knowledge, KnowledgeError> {
        let (dir, tmp, persist) = match opts.dir {
            Some(d) => (d, None, true),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("tai-knowledge-")
                    .tempdir()
                    .map_err(|e| KnowledgeError::Store {
                        path: std::env::temp_dir().display().to_string(),
                        reason: format!("cannot create a temporary store: {e}"),
                    })?;
                (t.path().to_path_buf(), Some(t), false)
            }
        };
        let store = Store::open(&dir)?;
        let k = Knowledge {
            store,
            embedder: opts.embed.map(|(url, model)| Embedder::new(&url, &model)),
            persist,
            rag_debug: opts.rag_debug,
            last_note: Mutex::new(None),
            retrieved: Mutex::new(Vec::new()),
            redactor: crate::redact::Redactor::builtin(),
            _tmp: tmp,
        };
        k.refresh_bundled()?;
        Ok(k)
    }

    pub fn path(&self) -> &Path {
        self.store.path()
    }

    pub fn persists(&self) -> bool {
        self.persist
    }

    pub fn rag_debug(&self) -> bool {
        self.rag_debug
    }

    /// The store's schema version (after any upgrade done by `open`).
    pub fn schema_version(&self) -> Result<u32, KnowledgeError> {
        self.store.schema_version()
    }

    pub fn disk_size(&self) -> u64 {
        self.store.disk_size()
    }

    /// Run a store write (an LMDB write transaction, arroy index builds) on a blocking
    /// thread, off the async runtime.
    async fn blocking_write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, KnowledgeError> + Send + 'static,
    ) -> Result<T, KnowledgeError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| KnowledgeError::Store {
                path: self.store.path().display().to_string(),
                reason: format!("the write task did not finish ({e}); run the command again"),
            })?
    }

    /// Why the last search ran without vectors, if it did.
    pub fn last_note(&self) -> Option<String> {
        self.last_note.lock().ok().and_then(|n| n.clone())
    }

    fn note(&self, n: Option<String>) {
        if let Ok(mut g) = self.last_note.lock() {
            *g = n;
        }
    }

    /// Citations retrieved during this process (what `/runbooks` in the REPL shows).
    pub fn retrieved_this_session(&self) -> Vec<String> {
        self.retrieved.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn remember_retrieved(&self, hits: &[RunbookHit]) {
        if let Ok(mut r) = self.retrieved.lock() {
            for h in hits {
                if !r.contains(&h.citation) {
                    r.push(h.citation.clone());
                }
            }
        }
    }

    /// Embed a query, or say why not (a failure is remembered by the embedder for a cool-down,
    /// so this is fast while the server is down).
    async fn query_vector(&self, query: &str) -> Option<(String, Vec<f32>)> {
        let emb = self.embedder.as_ref()?;
        match emb.embed_query(query).await {
            Ok(v) => {
                self.note(None);
                Some((emb.model().to_string(), v))
            }
            Err(reason) => {
                self.note(Some(format!("BM25 only: {reason}")));
                None
            }
        }
    }

    /// At session start: the runbook sections and prior sessions relevant to the issue, the
    /// same host's sessions preferred. One query embedding serves both.
    pub async fn retrieve_for_issue(
        &self,
        issue: &str,
        host: &str,
    ) -> Result<Retrieved, KnowledgeError> {
        let qv = self.query_vector(issue).await;
        let qv_ref = qv.as_ref().map(|(m, v)| (m.as_str(), v.as_slice()));
        let runbook_sections = self.search_with(issue, 3, qv_ref)?;
        self.remember_retrieved(&runbook_sections);
        let prior_sessions = self.search_sessions_with(issue, Some(host), true, 3, qv_ref)?;
        Ok(Retrieved {
            runbook_sections,
            prior_sessions,
            notes: self.last_note().into_iter().collect(),
        })
    }

    /// The first-turn context for the agent (`agent::ContextSource::context_for`): runbook
    /// sections and prior sessions as Markdown with citations, or `None` when nothing matched
    /// or the store failed (the session goes on without it).
    pub async fn context_for(&self, issue: &str, host: &str) -> Option<String> {
        let r = self.retrieve_for_issue(issue, host).await.ok()?;
        let text = r.to_prompt();
        (!text.trim().is_empty()).then_some(text)
    }

    /// The Tier-1 step the agent loop calls before each model turn: pick the chunks of this
    /// session's tool outputs relevant to `question` under `budget_tokens`, guided by the
    /// runbooks' evidence patterns and by vectors when the embedding server answers.
    pub async fn select_chunks(
        &self,
        chunks: &mut chunks::SessionChunks,
        question: &str,
        budget_tokens: usize,
    ) -> chunks::Selection {
        let patterns = self.evidence_patterns(question, 5);
        self.select_chunks_with(chunks, question, &patterns, budget_tokens)
            .await
    }

    /// Whether an embedding server is configured and not known to be down (no request is
    /// made): the agent takes the vector-assisted Tier-1 path only then.
    pub fn embeddings_available(&self) -> bool {
        self.embedder
            .as_ref()
            .is_some_and(|e| e.known_unavailable().is_none())
    }

    /// [`Self::select_chunks`] with the evidence patterns already known (the agent looks
    /// them up once per turn). The chunks not embedded yet and the question are embedded
    /// when the server answers; otherwise (or on any embedding error) the selection is
    /// lexical, as without an embedder.
    pub async fn select_chunks_with(
        &self,
        chunks: &mut chunks::SessionChunks,
        question: &str,
        patterns: &[String],
        budget_tokens: usize,
    ) -> chunks::Selection {
        let mut qv = None;
        if let Some(e) = &self.embedder {
            if e.known_unavailable().is_none() && chunks.embed_pending(e).await.is_ok() {
                qv = e.embed_query(question).await.ok();
            }
        }
        chunks.select_guided(question, patterns, budget_tokens, qv.as_deref())
    }
}

/// The tools' `search_runbooks` / `search_history` go through this (the tool layer's trait
/// carries the [`KnowledgeError`] boxed; the tool shows it to the model).
#[async_trait::async_trait]
impl crate::tools::KnowledgeSource for Knowledge {
    async fn search_runbooks(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<String, crate::tools::types::SearchError> {
        Ok(Knowledge::search_runbooks(self, query, limit).await?)
    }

    async fn search_history(
        &self,
        query: &str,
        host: Option<&str>,
        limit: usize,
    ) -> Result<String, crate::tools::types::SearchError> {
        Ok(Knowledge::search_history(self, query, host, limit).await?)
    }
}

/// `fused 0.0325 · bm25 7.41 · vector 0.812` (absent scores shown as `-`).
pub fn score_line(score: f32, bm25: Option<f32>, vector: Option<f32>) -> String {
    let f = |v: Option<f32>, p: usize| v.map_or("-".to_string(), |x| format!("{x:.p$}"));
    format!(
        "fused {score:.4} · bm25 {} · vector {}",
        f(bm25, 2),
        f(vector, 3)
    )
}

/// `2026-11-25 08:15 UTC` from Unix seconds.
pub fn format_time(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map_or_else(
            || format!("{secs} (not a date)"),
            |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_764_058_500), "2025-11-25 08:15 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00 UTC");
    }
}
