//! Schema upgrades of the store: an older store is re-indexed in place inside one write
//! transaction (runbook sources and sessions are kept; chunks and vectors are rebuilt, vectors
//! from the embedding cache where the text is unchanged); a newer one is refused untouched.
//! A new store records the tai version that created it (`created_by`).
use heed::RwTxn;

use super::{bytes_to_vec, cache_key, runbook, Kind, ModelSlot, Store, SCHEMA_KEY, SCHEMA_VERSION};
use crate::knowledge::vector::VectorIndex;
use crate::knowledge::KnowledgeError;

impl Store {
    /// Bring an older store to [`SCHEMA_VERSION`] (or stamp a new one), in one transaction.
    pub(super) fn upgrade(&self) -> Result<(), KnowledgeError> {
        let mut wtxn = self.env.write_txn().map_err(|e| self.err(e))?;
        let current = self.meta.get(&wtxn, SCHEMA_KEY).map_err(|e| self.err(e))?;
        let version = current.as_ref().and_then(|v| v.as_u64()).map(|v| v as u32);
        match version {
            Some(v) if v == SCHEMA_VERSION => return Ok(()),
            Some(v) if v > SCHEMA_VERSION => {
                return Err(KnowledgeError::NewerSchema {
                    path: self.path.display().to_string(),
                    found: v,
                    supported: SCHEMA_VERSION,
                })
            }
            _ => {}
        }
        let is_empty = self.runbooks.is_empty(&wtxn).map_err(|e| self.err(e))?
            && self.sessions.is_empty(&wtxn).map_err(|e| self.err(e))?;
        if !is_empty {
            self.reindex(&mut wtxn)?;
        } else if version.is_none() {
            // A new store: remember which tai made it.
            self.stamp_created(&mut wtxn)?;
        }
        self.meta
            .put(&mut wtxn, SCHEMA_KEY, &serde_json::json!(SCHEMA_VERSION))
            .map_err(|e| self.err(e))?;
        wtxn.commit().map_err(|e| self.write_err(e))
    }

    /// Rebuild everything derived (chunks, vectors) from what is kept (runbook texts, session
    /// summaries, the embedding cache). Sessions and runbook sources are never dropped.
    fn reindex(&self, wtxn: &mut RwTxn) -> Result<(), KnowledgeError> {
        // Records that cannot be decoded in today's format are a real problem: say so rather
        // than dropping them.
        let mut records = Vec::new();
        for item in self.runbooks.iter(wtxn).map_err(|e| self.err(e))? {
            let (_, rec) = item.map_err(|e| {
                self.err(format!(
                    "a runbook record cannot be read during upgrade: {e}; nothing was changed"
                ))
            })?;
            records.push(rec);
        }
        let mut sessions = Vec::new();
        for item in self.sessions.iter(wtxn).map_err(|e| self.err(e))? {
            let (_, rec) = item.map_err(|e| {
                self.err(format!(
                    "a session record cannot be read during upgrade: {e}; nothing was changed"
                ))
            })?;
            sessions.push(rec);
        }
        self.chunks.clear(wtxn).map_err(|e| self.err(e))?;
        let models = self.models(wtxn)?;
        for slot in models.values() {
            for kind in [Kind::Runbooks, Kind::Sessions] {
                self.index(slot, kind)
                    .clear(wtxn)
                    .map_err(|e| self.err(e))?;
            }
        }
        for mut rec in records {
            let parsed = match runbook::parse(&rec.name, &rec.text) {
                Ok(r) => r,
                Err(_) => {
                    // Keep the source; it simply has no chunks until it is fixed and re-added.
                    rec.chunk_ids.clear();
                    self.runbooks
                        .put(wtxn, &rec.name, &rec)
                        .map_err(|e| self.err(e))?;
                    continue;
                }
            };
            rec.chunk_ids = self.insert_chunks(wtxn, &parsed)?;
            self.runbooks
                .put(wtxn, &rec.name, &rec)
                .map_err(|e| self.err(e))?;
        }
        for s in sessions {
            self.sessions
                .put(wtxn, &s.id, &s)
                .map_err(|e| self.err(e))?;
        }
        // Vectors come back from the cache where the text is unchanged.
        for (model, slot) in &models {
            self.revectorize_from_cache(wtxn, model, slot)?;
        }
        Ok(())
    }

    fn revectorize_from_cache(
        &self,
        wtxn: &mut RwTxn,
        model: &str,
        slot: &ModelSlot,
    ) -> Result<(), KnowledgeError> {
        let mut pending: Vec<(Kind, u32, String)> = Vec::new();
        for item in self.chunks.iter(wtxn).map_err(|e| self.err(e))? {
            let (id, c) = item.map_err(|e| self.err(e))?;
            pending.push((Kind::Runbooks, id, c.hash));
        }
        for item in self.sessions.iter(wtxn).map_err(|e| self.err(e))? {
            let (id, s) = item.map_err(|e| self.err(e))?;
            pending.push((Kind::Sessions, id, s.hash));
        }
        for (kind, id, hash) in pending {
            let cached = self
                .cache
                .get(wtxn, &cache_key(model, &hash))
                .map_err(|e| self.err(e))?
                .map(bytes_to_vec);
            if let Some(v) = cached {
                if v.len() == slot.dims {
                    self.index(slot, kind)
                        .put(wtxn, id, &v)
                        .map_err(|e| self.err(e))?;
                }
            }
        }
        for kind in [Kind::Runbooks, Kind::Sessions] {
            self.index(slot, kind)
                .build(wtxn)
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }
}
