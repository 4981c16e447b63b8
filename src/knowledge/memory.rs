//! Session memory (Tier 3): redacted summaries of finished sessions (the built-in rules plus
//! the user's `[redact] patterns`; full tool outputs never reach the store), stored with a
//! vector when an embedding server answers (backfilled after an outage), ranked by BM25 (the
//! store's persisted index: a search reads its terms' postings and the candidates' records,
//! not every session) fused with vectors and the same host's history, and the
//! `search_history` tool's text.
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::embed::Embedder;
use super::store::{self, Kind};
use super::{format_time, fusion, score_line, Knowledge, KnowledgeError, CANDIDATES};
use crate::redact::Redactor;

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

    /// The summary as it may be stored: every text through `redactor` (the built-ins plus
    /// the user's `[redact] patterns`).
    pub fn redacted(&self, redactor: &Redactor) -> SessionSummary {
        let r = |s: &str| redactor.redact(s);
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

/// One retrieved past session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionHit {
    pub id: u32,
    pub score: f32,
    pub bm25: Option<f32>,
    pub vector: Option<f32>,
    pub summary: SessionSummary,
}

impl Knowledge {
    /// Record a finished session: redacted first, then stored with a vector when the
    /// embedding server answers. Returns the session id. Under `--no-persist` it goes to the
    /// temporary store only.
    pub async fn record_session(&self, summary: SessionSummary) -> Result<u32, KnowledgeError> {
        let clean = summary.redacted(&self.redactor);
        let text = clean.index_text();
        let hash = store::sha256_hex(&text);
        let mut vector = None;
        if let Some(emb) = &self.embedder {
            match emb.embed_documents(std::slice::from_ref(&text)).await {
                Ok(mut v) => vector = v.pop().map(|v| (emb.model().to_string(), v)),
                Err(reason) => {
                    self.note(Some(format!("session stored without a vector: {reason}")))
                }
            }
        }
        let id = self
            .blocking_write(move |store| match vector {
                Some((model, v)) => store.add_session(clean, hash, Some((&model, v))),
                None => store.add_session(clean, hash, None),
            })
            .await?;
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
        let model = emb.model().to_string();
        self.blocking_write(move |store| store.add_session_vectors(&model, &items))
            .await
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
        // The persisted index, scored over the host's sessions alone when filtering (as a
        // BM25 index built over just those would), over all of them otherwise.
        let lex_host = if prefer_host { None } else { host };
        let lexical = self
            .store
            .lexical_search(Kind::Sessions, query, lex_host, CANDIDATES)?;
        let bm25_score: HashMap<u32, f32> = lexical.iter().copied().collect();
        let lex_ids: Vec<u32> = lexical.iter().map(|(id, _)| *id).collect();
        let nearest = match qv {
            Some((model, v)) => self
                .store
                .nearest(model, Kind::Sessions, v, CANDIDATES * 4)?,
            None => Vec::new(),
        };
        // Only the candidates' records are read.
        let mut wanted = lex_ids.clone();
        wanted.extend(nearest.iter().map(|(id, _)| *id));
        wanted.sort_unstable();
        wanted.dedup();
        let by_id: HashMap<u32, store::SessionRecord> = self
            .store
            .sessions_by_id(&wanted)?
            .into_iter()
            .filter(|s| prefer_host || host.is_none_or(|h| s.summary.host == h))
            .map(|s| (s.id, s))
            .collect();
        let mut vec_score = HashMap::new();
        let mut vec_ids = Vec::new();
        for (id, sim) in nearest {
            if by_id.contains_key(&id) && sim > 0.0 {
                vec_score.insert(id, sim);
                vec_ids.push(id);
            }
        }
        vec_ids.truncate(CANDIDATES);
        let mut rankings = vec![lex_ids.clone(), vec_ids.clone()];
        if prefer_host {
            if let Some(h) = host {
                let mut same: Vec<u32> = Vec::new();
                for id in lex_ids.iter().chain(vec_ids.iter()) {
                    if by_id.get(id).is_some_and(|s| s.summary.host == h) && !same.contains(id) {
                        same.push(*id);
                    }
                }
                rankings.push(same);
            }
        }
        let fused = fusion::rrf(&rankings, fusion::RRF_K);
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

    /// `search_history` for the model: similar past sessions as text.
    pub async fn search_history(
        &self,
        query: &str,
        host: Option<&str>,
        limit: usize,
    ) -> Result<String, KnowledgeError> {
        let hits = self
            .search_sessions(query, host, limit.clamp(1, 10))
            .await?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let r = s.redacted(&Redactor::builtin());
        let text = serde_json::to_string(&r).unwrap();
        for secret in ["hunter22", "letmein123", "AKIAIOSFODNN7EXAMPLE"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(r.time > 0);
        // The user's patterns apply too, in every field.
        let user = Redactor::with_patterns(&["db0[0-9]".to_string()]).unwrap();
        let text = serde_json::to_string(&s.redacted(&user)).unwrap();
        assert!(!text.contains("db01"), "{text}");
        assert!(!text.contains("hunter22"), "{text}");
    }
}
