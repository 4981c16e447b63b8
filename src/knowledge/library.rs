//! The runbook library (Tier 2): bundled and synced Markdown runbooks indexed by section,
//! BM25 (the store's persisted index: a search reads its terms' postings, not every chunk)
//! fused with vectors when an embedding server answers, the `search_runbooks` tool's text,
//! and the evidence patterns the runbooks tell the agent to look for.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::store::{self, Kind, RunbookUpdate, SyncStats, Vectors};
use super::{fusion, runbook, score_line, Knowledge, KnowledgeError, CANDIDATES};

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

impl Knowledge {
    /// Index bundled runbooks that are missing, or that came from the bundle and changed
    /// (a newer tai ships newer text), lexically and at once. Runbooks synced from a
    /// directory or added by hand are never replaced. No write when nothing changed.
    /// Runs at every open, so it reads only the bundled names' records and parses only the
    /// runbooks whose text changed.
    pub(super) fn refresh_bundled(&self) -> Result<(), KnowledgeError> {
        let mut updates = Vec::new();
        for (name, text) in runbook::BUNDLED {
            let hash = store::sha256_hex(text);
            let stale = match self.store.runbook_record(name)? {
                None => true,
                Some(r) => r.source == "bundled" && r.hash != hash,
            };
            if stale {
                updates.push(bundled_update(name, text)?);
            }
        }
        if !updates.is_empty() {
            self.store.write_runbooks(&updates, &[], None)?;
        }
        Ok(())
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
        self.blocking_write(move |store| {
            let vectors = (!by_hash.is_empty()).then_some(Vectors {
                model: &model,
                by_hash: &by_hash,
            });
            store.write_runbooks(&updates, &remove, vectors)
        })
        .await
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

    /// Every indexed runbook section (`tai mcp` serves them as resources).
    pub fn sections(&self) -> Result<Vec<store::ChunkRecord>, KnowledgeError> {
        self.store.chunks()
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
        // The persisted index: only the query's terms are read (the same ranking as a
        // `bm25::Bm25Index` built over every chunk).
        let lexical = self
            .store
            .lexical_search(Kind::Runbooks, query, None, CANDIDATES)?;
        let bm25_score: HashMap<u32, f32> = lexical.iter().copied().collect();
        let lex_ids: Vec<u32> = lexical.iter().map(|(id, _)| *id).collect();
        let mut vec_score: HashMap<u32, f32> = HashMap::new();
        let mut vec_ids = Vec::new();
        if let Some((model, v)) = qv {
            for (id, sim) in self.store.nearest(model, Kind::Runbooks, v, CANDIDATES)? {
                vec_score.insert(id, sim);
                vec_ids.push(id);
            }
        }
        let fused = fusion::rrf(&[lex_ids, vec_ids], fusion::RRF_K);
        let ids: Vec<u32> = fused.iter().map(|(id, _)| *id).collect();
        let by_id: HashMap<u32, store::ChunkRecord> = self
            .store
            .chunks_by_id(&ids)?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
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

    /// `search_runbooks` for the model: cited sections as text.
    pub async fn search_runbooks(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<String, KnowledgeError> {
        let hits = self.search(query, limit.clamp(1, 10)).await?;
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
}

fn bundled_updates() -> Result<Vec<RunbookUpdate>, KnowledgeError> {
    runbook::BUNDLED
        .iter()
        .map(|(name, text)| bundled_update(name, text))
        .collect()
}

fn bundled_update(name: &str, text: &str) -> Result<RunbookUpdate, KnowledgeError> {
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
