//! Knowledge: runbooks (Tier 2) and session memory (Tier 3) in an arroy/heed store under
//! `TAI_HOME/knowledge`, BM25 always and vectors when an embedding server answers (fused by
//! reciprocal rank), redaction before anything is persisted, and per-session chunk retrieval
//! over tool outputs (Tier 1, [`chunks::SessionChunks`], purely in memory).
//!
//! With `--no-persist` the store lives in a temporary directory outside `TAI_HOME` (bundled
//! runbooks only; sessions recorded there vanish at exit), so nothing is written under
//! `TAI_HOME`.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::exit::{Code, HasExitCode};

pub mod bm25;
pub mod chunks;
pub mod embed;
pub mod fusion;
pub mod redact;
pub mod runbook;
pub mod store;
pub mod vector;

use embed::Embedder;
use store::{Kind, RunbookUpdate, Store, SyncStats, Vectors};

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
    Runbook { path: String, reason: String },
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

/// What the agent records at the end of a session. Redacted before it is stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    pub host: String,
    pub issue: String,
    /// Issue category (`plan::Category` as text: service, disk, dns, ...).
    pub category: String,
    pub root_cause: String,
    pub actions: Vec<String>,
    /// Evidence lines worth remembering (with their call ids).
    #[serde(default)]
    pub evidence: Vec<String>,
    /// Unix seconds when the session ended (0 = now).
    pub time: u64,
    /// Chat model used, if any.
    #[serde(default)]
    pub model: Option<String>,
}

impl SessionSummary {
    /// The text indexed for search and shown to the model as a prior session.
    pub fn index_text(&self) -> String {
        let mut t = format!(
            "host: {}\nissue: {}\ncategory: {}\nroot cause: {}\n",
            self.host, self.issue, self.category, self.root_cause
        );
        if !self.actions.is_empty() {
            t.push_str("actions: ");
            t.push_str(&self.actions.join("; "));
            t.push('\n');
        }
        if !self.evidence.is_empty() {
            t.push_str("evidence: ");
            t.push_str(&self.evidence.join("; "));
            t.push('\n');
        }
        t
    }

    /// The summary of a finished session from its report (time = now). The agent records it
    /// with `Knowledge::record_session(SessionSummary::from_report(&report, model))`.
    pub fn from_report(report: &crate::report::Report, model: Option<&str>) -> SessionSummary {
        SessionSummary {
            host: report.host.clone(),
            issue: report.issue.clone(),
            category: report.category.clone(),
            root_cause: report.root_cause.clone(),
            actions: report.actions.clone(),
            evidence: report
                .evidence
                .iter()
                .map(|e| {
                    if e.sources.is_empty() {
                        e.text.clone()
                    } else {
                        format!("{} [{}]", e.text, e.sources.join(", "))
                    }
                })
                .collect(),
            time: 0,
            model: model.map(str::to_string),
        }
    }

    fn redacted(&self) -> SessionSummary {
        let r = |s: &str| redact::redact(s);
        SessionSummary {
            host: r(&self.host),
            issue: r(&self.issue),
            category: r(&self.category),
            root_cause: r(&self.root_cause),
            actions: self.actions.iter().map(|a| r(a)).collect(),
            evidence: self.evidence.iter().map(|a| r(a)).collect(),
            time: if self.time == 0 {
                store::now_secs()
            } else {
                self.time
            },
            model: self.model.as_deref().map(r),
        }
    }
}

/// One retrieved runbook section with both scores.
#[derive(Debug, Clone, Serialize)]
pub struct RunbookHit {
    /// `nginx.md#Upstream timeouts`
    pub citation: String,
    pub runbook: String,
    pub section: String,
    pub service: String,
    /// Fused (reciprocal-rank) score.
    pub score: f32,
    /// BM25 score, when the section matched lexically.
    pub bm25: Option<f32>,
    /// Cosine similarity, when vectors were used and the section was among the nearest.
    pub vector: Option<f32>,
    pub text: String,
}

/// One retrieved past session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionHit {
    pub id: u32,
    pub score: f32,
    pub bm25: Option<f32>,
    pub vector: Option<f32>,
    pub summary: SessionSummary,
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

/// A runbook as `tai runbooks list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RunbookInfo {
    pub name: String,
    pub title: String,
    pub service: String,
    pub source: String,
    pub chunks: usize,
    pub vectors: usize,
    pub synced_at: u64,
}

/// How searches used vectors.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SearchInfo {
    pub vectors_used: bool,
    pub note: Option<String>,
}

/// The knowledge layer of one tai process.
pub struct Knowledge {
    store: Store,
    embedder: Option<Embedder>,
    persist: bool,
    rag_debug: bool,
    last_note: Mutex<Option<String>>,
    retrieved: Mutex<Vec<String>>,
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
        Self::open_with(OpenOptions {
            dir: (!config.no_persist).then(|| Self::store_dir(&config.tai_home)),
            embed: Some((
                config.model.embed_base_url.clone(),
                config.model.embed_model.clone(),
            )),
            rag_debug: config.rag_debug,
        })
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
            _tmp: tmp,
        };
        if k.store.runbook_records()?.is_empty() {
            k.index_bundled_lexical()?;
        }
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

    fn index_bundled_lexical(&self) -> Result<SyncStats, KnowledgeError> {
        let updates = bundled_updates()?;
        self.store.write_runbooks(&updates, &[], None)
    }

    // ----- runbooks -------------------------------------------------------------------

    /// Index the bundled runbooks (incremental).
    pub async fn sync_bundled(&self) -> Result<SyncStats, KnowledgeError> {
        let updates = bundled_updates()?;
        self.write_with_vectors(updates, Vec::new()).await
    }

    /// Index every `*.md` in `dir` (incremental: unchanged files are skipped; runbooks that
    /// came from `dir` and are gone from it are removed).
    pub async fn sync_dir(&self, dir: &Path) -> Result<SyncStats, KnowledgeError> {
        let canon = dir.canonicalize().map_err(|e| KnowledgeError::Io {
            path: dir.display().to_string(),
            reason: format!("{e}; pass a directory of Markdown runbooks"),
        })?;
        let entries = std::fs::read_dir(&canon).map_err(|e| KnowledgeError::Io {
            path: canon.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "md"))
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.eq_ignore_ascii_case("README.md"))
            })
            .collect();
        files.sort();
        let mut updates = Vec::new();
        for f in &files {
            updates.push(read_update(f)?);
        }
        let present: Vec<String> = updates.iter().map(|u| u.runbook.name.clone()).collect();
        let prefix = format!("{}/", canon.display());
        let remove: Vec<String> = self
            .store
            .runbook_records()?
            .into_iter()
            .filter(|r| r.source.starts_with(&prefix) && !present.contains(&r.name))
            .map(|r| r.name)
            .collect();
        self.write_with_vectors(updates, remove).await
    }

    /// Index one runbook file.
    pub async fn add_file(&self, file: &Path) -> Result<SyncStats, KnowledgeError> {
        let u = read_update(file)?;
        self.write_with_vectors(vec![u], Vec::new()).await
    }

    async fn write_with_vectors(
        &self,
        updates: Vec<RunbookUpdate>,
        remove: Vec<String>,
    ) -> Result<SyncStats, KnowledgeError> {
        let mut by_hash = HashMap::new();
        let mut model = String::new();
        if let Some(emb) = &self.embedder {
            model = emb.model().to_string();
            // Chunks that will exist after this write and have no vector yet.
            let have: std::collections::HashSet<u32> = self
                .store
                .vector_ids(&model, Kind::Runbooks)?
                .into_iter()
                .collect();
            let existing: HashMap<String, store::RunbookRecord> = self
                .store
                .runbook_records()?
                .into_iter()
                .map(|r| (r.name.clone(), r))
                .collect();
            let chunks: HashMap<u32, store::ChunkRecord> = self
                .store
                .chunks()?
                .into_iter()
                .map(|c| (c.id, c))
                .collect();
            let mut need: Vec<(String, String)> = Vec::new();
            for u in &updates {
                match existing.get(&u.runbook.name) {
                    Some(rec) if rec.hash == u.hash => {
                        for id in &rec.chunk_ids {
                            if !have.contains(id) {
                                if let Some(c) = chunks.get(id) {
                                    need.push((c.hash.clone(), c.text.clone()));
                                }
                            }
                        }
                    }
                    _ => {
                        for i in 0..u.runbook.sections.len() {
                            let text = u.runbook.index_text(i);
                            need.push((store::sha256_hex(&text), text));
                        }
                    }
                }
            }
            need.sort();
            need.dedup();
            if !need.is_empty() {
                let hashes: Vec<String> = need.iter().map(|(h, _)| h.clone()).collect();
                by_hash = self.store.cached(&model, &hashes)?;
                let missing: Vec<&(String, String)> = need
                    .iter()
                    .filter(|(h, _)| !by_hash.contains_key(h))
                    .collect();
                if !missing.is_empty() {
                    let texts: Vec<String> = missing.iter().map(|(_, t)| t.clone()).collect();
                    match emb.embed_documents(&texts).await {
                        Ok(vs) => {
                            for ((h, _), v) in missing.iter().zip(vs) {
                                by_hash.insert(h.clone(), v);
                            }
                            self.note(None);
                        }
                        Err(reason) => {
                            self.note(Some(format!("vectors not updated: {reason}")));
                        }
                    }
                }
            }
        }
        let vectors = (!by_hash.is_empty()).then_some(Vectors {
            model: &model,
            by_hash: &by_hash,
        });
        self.store.write_runbooks(&updates, &remove, vectors)
    }

    /// Indexed runbooks with chunk and vector counts.
    pub fn list(&self) -> Result<Vec<RunbookInfo>, KnowledgeError> {
        let vec_ids: std::collections::HashSet<u32> = match &self.embedder {
            Some(e) => self
                .store
                .vector_ids(e.model(), Kind::Runbooks)?
                .into_iter()
                .collect(),
            None => Default::default(),
        };
        let mut out: Vec<RunbookInfo> = self
            .store
            .runbook_records()?
            .into_iter()
            .map(|r| RunbookInfo {
                vectors: r.chunk_ids.iter().filter(|i| vec_ids.contains(i)).count(),
                chunks: r.chunk_ids.len(),
                name: r.name,
                title: r.title,
                service: r.service,
                source: r.source,
                synced_at: r.synced_at,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Embed a query, or say why not (remembered per process, so this is fast when the
    /// server is down).
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

    /// Search runbook sections: BM25, fused with vectors when available.
    pub async fn search(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<Vec<RunbookHit>, KnowledgeError> {
        let qv = self.query_vector(query).await;
        let hits = self.search_with(
            query,
            limit,
            qv.as_ref().map(|(m, v)| (m.as_str(), v.as_slice())),
        )?;
        self.remember_retrieved(&hits);
        Ok(hits)
    }

    /// Search with an explicit query vector (or none): the pure ranking step.
    pub fn search_with(
        &self,
        query: &str,
        limit: usize,
        qv: Option<(&str, &[f32])>,
    ) -> Result<Vec<RunbookHit>, KnowledgeError> {
        let chunks = self.store.chunks()?;
        let index = bm25::Bm25Index::build(chunks.iter().map(|c| c.text.as_str()));
        let lexical = index.search(query, CANDIDATES);
        let mut bm25_score: HashMap<u32, f32> = HashMap::new();
        let lex_ids: Vec<u32> = lexical
            .iter()
            .map(|(i, s)| {
                bm25_score.insert(chunks[*i].id, *s);
                chunks[*i].id
            })
            .collect();
        let mut vec_score: HashMap<u32, f32> = HashMap::new();
        let mut vec_ids = Vec::new();
        if let Some((model, v)) = qv {
            for (id, sim) in self.store.nearest(model, Kind::Runbooks, v, CANDIDATES)? {
                vec_score.insert(id, sim);
                vec_ids.push(id);
            }
        }
        let fused = fusion::rrf(&[lex_ids, vec_ids], fusion::RRF_K);
        let by_id: HashMap<u32, &store::ChunkRecord> = chunks.iter().map(|c| (c.id, c)).collect();
        Ok(fused
            .into_iter()
            .filter_map(|(id, score)| {
                let c = by_id.get(&id)?;
                Some(RunbookHit {
                    citation: c.citation(),
                    runbook: c.runbook.clone(),
                    section: c.heading.clone(),
                    service: c.service.clone(),
                    score,
                    bm25: bm25_score.get(&id).copied(),
                    vector: vec_score.get(&id).copied(),
                    text: c.body.clone(),
                })
            })
            .take(limit)
            .collect())
    }

    // ----- sessions -------------------------------------------------------------------

    /// Record a finished session: redacted first, then stored with a vector when the
    /// embedding server answers. Returns the session id. Under `--no-persist` it goes to the
    /// temporary store only.
    pub async fn record_session(&self, summary: SessionSummary) -> Result<u32, KnowledgeError> {
        let clean = summary.redacted();
        let text = clean.index_text();
        let hash = store::sha256_hex(&text);
        let mut vector = None;
        if let Some(emb) = &self.embedder {
            match emb.embed_documents(std::slice::from_ref(&text)).await {
                Ok(mut v) => vector = v.pop().map(|v| (emb.model(), v)),
                Err(reason) => {
                    self.note(Some(format!("session stored without a vector: {reason}")))
                }
            }
        }
        let id = self.store.add_session(clean, hash, vector)?;
        // Sessions recorded while the server was down get their vectors now.
        if let Some(emb) = &self.embedder {
            if emb.known_unavailable().is_none() {
                self.backfill_session_vectors(emb).await?;
            }
        }
        Ok(id)
    }

    async fn backfill_session_vectors(&self, emb: &Embedder) -> Result<(), KnowledgeError> {
        let have: std::collections::HashSet<u32> = self
            .store
            .vector_ids(emb.model(), Kind::Sessions)?
            .into_iter()
            .collect();
        let missing: Vec<store::SessionRecord> = self
            .store
            .sessions()?
            .into_iter()
            .filter(|s| !have.contains(&s.id))
            .take(256)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let hashes: Vec<String> = missing.iter().map(|s| s.hash.clone()).collect();
        let mut cached = self.store.cached(emb.model(), &hashes)?;
        let texts: Vec<String> = missing
            .iter()
            .filter(|s| !cached.contains_key(&s.hash))
            .map(|s| s.summary.index_text())
            .collect();
        if !texts.is_empty() {
            if let Ok(vs) = emb.embed_documents(&texts).await {
                for (s, v) in missing
                    .iter()
                    .filter(|s| !cached.contains_key(&s.hash))
                    .zip(vs)
                    .collect::<Vec<_>>()
                {
                    cached.insert(s.hash.clone(), v);
                }
            }
        }
        let items: Vec<(u32, String, Vec<f32>)> = missing
            .iter()
            .filter_map(|s| {
                cached
                    .get(&s.hash)
                    .map(|v| (s.id, s.hash.clone(), v.clone()))
            })
            .collect();
        self.store.add_session_vectors(emb.model(), &items)
    }

    /// The most recent sessions, newest first (optionally on one host).
    pub fn recent_sessions(
        &self,
        host: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SessionHit>, KnowledgeError> {
        let mut all = self.store.sessions()?;
        all.retain(|s| host.is_none_or(|h| s.summary.host == h));
        all.sort_by(|a, b| b.summary.time.cmp(&a.summary.time).then(b.id.cmp(&a.id)));
        Ok(all
            .into_iter()
            .take(limit)
            .map(|s| SessionHit {
                id: s.id,
                score: 0.0,
                bm25: None,
                vector: None,
                summary: s.summary,
            })
            .collect())
    }

    /// Sessions similar to `query`; with `host`, only that host's.
    pub async fn search_sessions(
        &self,
        query: &str,
        host: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SessionHit>, KnowledgeError> {
        let qv = self.query_vector(query).await;
        self.search_sessions_with(
            query,
            host,
            false,
            limit,
            qv.as_ref().map(|(m, v)| (m.as_str(), v.as_slice())),
        )
    }

    /// Ranking of sessions. `prefer_host` keeps every host but adds a same-host ranking to
    /// the fusion, so the same machine's history wins ties.
    pub fn search_sessions_with(
        &self,
        query: &str,
        host: Option<&str>,
        prefer_host: bool,
        limit: usize,
        qv: Option<(&str, &[f32])>,
    ) -> Result<Vec<SessionHit>, KnowledgeError> {
        let mut sessions = self.store.sessions()?;
        if !prefer_host {
            sessions.retain(|s| host.is_none_or(|h| s.summary.host == h));
        }
        let index = bm25::Bm25Index::build(
            sessions
                .iter()
                .map(|s| s.summary.index_text())
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str),
        );
        let lexical = index.search(query, CANDIDATES);
        let mut bm25_score = HashMap::new();
        let lex_ids: Vec<u32> = lexical
            .iter()
            .map(|(i, s)| {
                bm25_score.insert(sessions[*i].id, *s);
                sessions[*i].id
            })
            .collect();
        let allowed: std::collections::HashSet<u32> = sessions.iter().map(|s| s.id).collect();
        let mut vec_score = HashMap::new();
        let mut vec_ids = Vec::new();
        if let Some((model, v)) = qv {
            for (id, sim) in self
                .store
                .nearest(model, Kind::Sessions, v, CANDIDATES * 4)?
            {
                if allowed.contains(&id) && sim > 0.0 {
                    vec_score.insert(id, sim);
                    vec_ids.push(id);
                }
            }
            vec_ids.truncate(CANDIDATES);
        }
        let mut rankings = vec![lex_ids.clone(), vec_ids.clone()];
        if prefer_host {
            if let Some(h) = host {
                let by_id: HashMap<u32, &store::SessionRecord> =
                    sessions.iter().map(|s| (s.id, s)).collect();
                let same: Vec<u32> = lex_ids
                    .iter()
                    .chain(vec_ids.iter())
                    .filter(|id| by_id.get(id).is_some_and(|s| s.summary.host == h))
                    .copied()
                    .collect();
                rankings.push(same);
            }
        }
        let fused = fusion::rrf(&rankings, fusion::RRF_K);
        let by_id: HashMap<u32, store::SessionRecord> =
            sessions.into_iter().map(|s| (s.id, s)).collect();
        Ok(fused
            .into_iter()
            .filter_map(|(id, score)| {
                let s = by_id.get(&id)?;
                Some(SessionHit {
                    id,
                    score,
                    bm25: bm25_score.get(&id).copied(),
                    vector: vec_score.get(&id).copied(),
                    summary: s.summary.clone(),
                })
            })
            .take(limit)
            .collect())
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

    // ----- Tier 1 helpers ----------------------------------------------------------------

    /// Log messages worth looking for, taken from the runbook sections most relevant to
    /// `question`: the backtick-quoted spans of several words (`connect() failed (111:
    /// Connection refused) while connecting to upstream`). Lexical only, so it is instant.
    pub fn evidence_patterns(&self, question: &str, sections: usize) -> Vec<String> {
        let Ok(hits) = self.search_with(question, sections, None) else {
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        for h in hits {
            for (i, span) in h.text.split('`').enumerate() {
                let span = span.trim();
                if i % 2 == 1
                    && span.contains(' ')
                    && span.len() >= 12
                    && span.len() <= 200
                    && !out.iter().any(|o| o == span)
                {
                    out.push(span.to_string());
                }
            }
        }
        out
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
        let mut qv = None;
        if let Some(e) = &self.embedder {
            if e.known_unavailable().is_none() && chunks.embed_pending(e).await.is_ok() {
                qv = e.embed_query(question).await.ok();
            }
        }
        chunks.select_guided(question, &patterns, budget_tokens, qv.as_deref())
    }

    // ----- the tools' view (tools::KnowledgeSource) ------------------------------------

    /// `search_runbooks` for the model: cited sections as text.
    pub async fn search_runbooks(&self, query: &str, limit: usize) -> Result<String, String> {
        let hits = self
            .search(query, limit.clamp(1, 10))
            .await
            .map_err(|e| e.to_string())?;
        if hits.is_empty() {
            return Ok(format!("no runbook section matches {query:?}"));
        }
        let mut out = String::new();
        for h in hits {
            out.push_str(&format!("[{}]", h.citation));
            if self.rag_debug {
                out.push_str(&format!(" ({})", score_line(h.score, h.bm25, h.vector)));
            }
            out.push('\n');
            out.push_str(h.text.trim());
            out.push_str("\n\n");
        }
        Ok(out)
    }

    /// `search_history` for the model: similar past sessions as text.
    pub async fn search_history(
        &self,
        query: &str,
        host: Option<&str>,
        limit: usize,
    ) -> Result<String, String> {
        let hits = self
            .search_sessions(query, host, limit.clamp(1, 10))
            .await
            .map_err(|e| e.to_string())?;
        if hits.is_empty() {
            return Ok(match host {
                Some(h) => format!("no past session on {h} matches {query:?}"),
                None => format!("no past session matches {query:?}"),
            });
        }
        let mut out = String::new();
        for h in hits {
            out.push_str(&format!(
                "[session {} · {} · {}]",
                h.id,
                h.summary.host,
                format_time(h.summary.time)
            ));
            if self.rag_debug {
                out.push_str(&format!(" ({})", score_line(h.score, h.bm25, h.vector)));
            }
            out.push('\n');
            out.push_str(h.summary.index_text().trim());
            out.push_str("\n\n");
        }
        Ok(out)
    }
}

/// The tools' `search_runbooks` / `search_history` go through this.
#[async_trait::async_trait]
impl crate::tools::KnowledgeSource for Knowledge {
    async fn search_runbooks(&self, query: &str, limit: usize) -> Result<String, String> {
        Knowledge::search_runbooks(self, query, limit).await
    }

    async fn search_history(
        &self,
        query: &str,
        host: Option<&str>,
        limit: usize,
    ) -> Result<String, String> {
        Knowledge::search_history(self, query, host, limit).await
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

fn bundled_updates() -> Result<Vec<RunbookUpdate>, KnowledgeError> {
    runbook::BUNDLED
        .iter()
        .map(|(name, text)| {
            let rb = runbook::parse(name, text).map_err(|reason| KnowledgeError::Runbook {
                path: format!("bundled {name}"),
                reason,
            })?;
            Ok(RunbookUpdate {
                runbook: rb,
                source: "bundled".into(),
                text: text.to_string(),
                hash: store::sha256_hex(text),
            })
        })
        .collect()
}

fn read_update(file: &Path) -> Result<RunbookUpdate, KnowledgeError> {
    let path = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
    let text = std::fs::read_to_string(&path).map_err(|e| KnowledgeError::Io {
        path: file.display().to_string(),
        reason: e.to_string(),
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "runbook.md".into());
    let rb = runbook::parse(&name, &text).map_err(|reason| KnowledgeError::Runbook {
        path: file.display().to_string(),
        reason,
    })?;
    Ok(RunbookUpdate {
        runbook: rb,
        source: path.display().to_string(),
        hash: store::sha256_hex(&text),
        text,
    })
}

/// `2026-11-25 08:15 UTC` from Unix seconds.
pub fn format_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
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

    #[test]
    fn summary_from_a_report_keeps_what_matters() {
        let report = crate::report::Report {
            host: "web01".into(),
            issue: "nginx 502".into(),
            category: "service".into(),
            root_cause: "app on :8080 is down".into(),
            evidence: vec![crate::report::Evidence {
                text: "connect() failed (111: Connection refused)".into(),
                sources: vec!["T3".into()],
            }],
            actions: vec!["systemctl start app".into()],
            ..Default::default()
        };
        let s = SessionSummary::from_report(&report, Some("qwen3:4b"));
        assert_eq!(s.host, "web01");
        assert_eq!(s.root_cause, "app on :8080 is down");
        assert_eq!(
            s.evidence,
            vec!["connect() failed (111: Connection refused) [T3]"]
        );
        assert_eq!(s.actions, vec!["systemctl start app"]);
        assert_eq!(s.model.as_deref(), Some("qwen3:4b"));
    }

    #[test]
    fn summary_is_redacted_before_storage() {
        let s = SessionSummary {
            host: "db01".into(),
            issue: "psql fails with postgres://app:hunter22@db01/app".into(),
            root_cause: "password=letmein123 in env".into(),
            actions: vec!["rotate AKIAIOSFODNN7EXAMPLE".into()],
            ..Default::default()
        };
        let r = s.redacted();
        let text = serde_json::to_string(&r).unwrap();
        for secret in ["hunter22", "letmein123", "AKIAIOSFODNN7EXAMPLE"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(r.time > 0);
    }
}
