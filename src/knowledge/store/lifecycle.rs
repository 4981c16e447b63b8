//! The store's lifecycle: metadata beyond the schema version (the tai version that created
//! it, the last runbook sync, the embedding models and their widths), the health figures
//! `tai doctor` shows, session removal for `tai cleanup`, and the one-transaction merge
//! behind `tai import`.
//!
//! Every change here happens in one LMDB write transaction: a failure (a full disk, a killed
//! process) leaves the store exactly as it was. A full disk is reported as such, naming the
//! store, so the operator knows to free space rather than suspect the data.
use std::collections::HashSet;

use heed::RwTxn;
use serde::Serialize;

use super::{now_secs, runbook, Kind, RunbookRecord, SessionRecord, Store, SCHEMA_KEY};
use crate::knowledge::vector::VectorIndex;
use crate::knowledge::KnowledgeError;

/// Meta key of the tai version that created the store (a JSON string).
pub const CREATED_BY_KEY: &str = "created_by";
/// Meta key of the last runbook write (Unix seconds).
pub const LAST_SYNC_KEY: &str = "last_sync";

/// One embedding model recorded in the store.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EmbeddingInfo {
    pub model: String,
    pub dimensions: usize,
    pub runbook_vectors: usize,
    pub session_vectors: usize,
}

/// What `tai doctor` reports about the store.
#[derive(Debug, Clone, Serialize)]
pub struct StoreHealth {
    pub path: String,
    pub schema_version: u32,
    /// The tai version that created the store; `None` for stores older than this record.
    pub created_by: Option<String>,
    /// Unix seconds of the last runbook write.
    pub last_sync: Option<u64>,
    pub runbooks: u64,
    pub chunks: u64,
    pub sessions: u64,
    pub embed_cache_entries: u64,
    pub disk_bytes: u64,
    pub embeddings: Vec<EmbeddingInfo>,
}

/// What an import did (or, on a dry run, would do).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ImportStats {
    /// Session ids given to the new sessions, in archive order.
    pub sessions_added: Vec<u32>,
    /// Sessions whose content is already stored (same content id).
    pub sessions_unchanged: usize,
    pub runbooks_added: Vec<String>,
    /// Runbooks stored with the same text.
    pub runbooks_unchanged: Vec<String>,
    /// Runbooks stored under the same name with different text: the local one is kept.
    pub runbooks_conflicting: Vec<String>,
}

/// Validated records to merge: sessions keep their archive id when it is free; runbooks are
/// re-chunked from their text.
#[derive(Debug, Clone, Default)]
pub struct ImportBatch {
    pub sessions: Vec<SessionRecord>,
    pub runbooks: Vec<RunbookRecord>,
}

/// Whether an LMDB error means the disk is full (or the quota is used up).
pub fn is_no_space(e: &heed::Error) -> bool {
    match e {
        heed::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::StorageFull
                || matches!(io.raw_os_error(), Some(28) | Some(122))
        }
        _ => false,
    }
}

/// Bytes available to unprivileged writers on the filesystem holding `path`.
fn free_bytes(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    // The field types differ between platforms (u32 or u64).
    #[allow(clippy::unnecessary_cast)]
    (rc == 0).then(|| (st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// LMDB reports a short write (the disk filled mid-write) as EIO: a write error on a
/// filesystem with (almost) nothing left is a full disk.
const NEARLY_FULL: u64 = 256 * 1024;

impl Store {
    /// Whether a write failed because the disk holding the store is full.
    fn failed_for_space(&self, e: &heed::Error) -> bool {
        if is_no_space(e) {
            return true;
        }
        matches!(e, heed::Error::Io(io) if io.raw_os_error() == Some(libc::EIO))
            && free_bytes(&self.path).is_some_and(|free| free < NEARLY_FULL)
    }

    /// A store error that says plainly when the disk is full.
    pub(super) fn write_err(&self, e: heed::Error) -> KnowledgeError {
        if self.failed_for_space(&e) {
            self.err(format!(
                "no space left on the device holding it ({e}); nothing from this command was \
                 stored and what was stored before is intact; free space (e.g. `tai cleanup`) \
                 and run it again"
            ))
        } else {
            self.err(e)
        }
    }

    /// Record the tai version that creates a store (only when none is recorded).
    pub(super) fn stamp_created(&self, wtxn: &mut RwTxn) -> Result<(), KnowledgeError> {
        if self
            .meta
            .get(wtxn, CREATED_BY_KEY)
            .map_err(|e| self.err(e))?
            .is_none()
        {
            self.meta
                .put(
                    wtxn,
                    CREATED_BY_KEY,
                    &serde_json::json!(env!("CARGO_PKG_VERSION")),
                )
                .map_err(|e| self.write_err(e))?;
        }
        Ok(())
    }

    /// Record that runbooks were written now.
    pub(super) fn stamp_sync(&self, wtxn: &mut RwTxn) -> Result<(), KnowledgeError> {
        self.meta
            .put(wtxn, LAST_SYNC_KEY, &serde_json::json!(now_secs()))
            .map_err(|e| self.write_err(e))
    }

    /// Schema, counts, size, last sync and embedding models, from one read transaction.
    pub fn health(&self) -> Result<StoreHealth, KnowledgeError> {
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        let meta_u64 = |key: &str| -> Result<Option<u64>, KnowledgeError> {
            Ok(self
                .meta
                .get(&rtxn, key)
                .map_err(|e| self.err(e))?
                .and_then(|v| v.as_u64()))
        };
        let schema_version = meta_u64(SCHEMA_KEY)?.unwrap_or(0) as u32;
        let last_sync = meta_u64(LAST_SYNC_KEY)?;
        let created_by = self
            .meta
            .get(&rtxn, CREATED_BY_KEY)
            .map_err(|e| self.err(e))?
            .and_then(|v| v.as_str().map(str::to_string));
        let mut embeddings = Vec::new();
        for (model, slot) in self.models(&rtxn)? {
            let count = |kind| -> Result<usize, KnowledgeError> {
                Ok(self
                    .index(&slot, kind)
                    .ids(&rtxn)
                    .map_err(|e| self.err(e))?
                    .len())
            };
            embeddings.push(EmbeddingInfo {
                runbook_vectors: count(Kind::Runbooks)?,
                session_vectors: count(Kind::Sessions)?,
                model,
                dimensions: slot.dims,
            });
        }
        Ok(StoreHealth {
            path: self.path.display().to_string(),
            schema_version,
            created_by,
            last_sync,
            runbooks: self.runbooks.len(&rtxn).map_err(|e| self.err(e))?,
            chunks: self.chunks.len(&rtxn).map_err(|e| self.err(e))?,
            sessions: self.sessions.len(&rtxn).map_err(|e| self.err(e))?,
            embed_cache_entries: self.cache.len(&rtxn).map_err(|e| self.err(e))?,
            disk_bytes: self.disk_size(),
            embeddings,
        })
    }

    /// Remove these sessions and their vectors (every model) in one write transaction.
    /// Returns the ids that were present and are now gone. The embedding cache keeps the
    /// vectors by content hash (it holds no text).
    pub fn delete_sessions(&self, ids: &[u32]) -> Result<Vec<u32>, KnowledgeError> {
        let mut wtxn = self.env.write_txn().map_err(|e| self.write_err(e))?;
        let models = self.models(&wtxn)?;
        let mut removed = Vec::new();
        for id in ids {
            if self
                .sessions
                .delete(&mut wtxn, id)
                .map_err(|e| self.write_err(e))?
            {
                removed.push(*id);
            }
        }
        if !removed.is_empty() {
            for slot in models.values() {
                let idx = self.index(slot, Kind::Sessions);
                let present: HashSet<u32> = idx
                    .ids(&wtxn)
                    .map_err(|e| self.err(e))?
                    .into_iter()
                    .collect();
                let mut touched = false;
                for id in &removed {
                    if present.contains(id) {
                        idx.delete(&mut wtxn, *id).map_err(|e| self.err(e))?;
                        touched = true;
                    }
                }
                if touched {
                    idx.build(&mut wtxn).map_err(|e| self.err(e))?;
                }
            }
        }
        wtxn.commit().map_err(|e| self.write_err(e))?;
        Ok(removed)
    }

    /// Merge validated records in one write transaction: a session whose content id (the
    /// SHA-256 of its index text) is stored already is skipped, so importing twice changes
    /// nothing; a new one keeps its archive id when that id is free. A runbook stored under
    /// the same name is never replaced. With `dry_run` the same work is done and then
    /// aborted, so the answer is exact and nothing changes.
    pub fn import(
        &self,
        batch: &ImportBatch,
        dry_run: bool,
    ) -> Result<ImportStats, KnowledgeError> {
        let mut stats = ImportStats::default();
        let mut wtxn = self.env.write_txn().map_err(|e| self.write_err(e))?;
        let mut hashes = HashSet::new();
        for item in self.sessions.iter(&wtxn).map_err(|e| self.err(e))? {
            hashes.insert(item.map_err(|e| self.err(e))?.1.hash);
        }
        for s in &batch.sessions {
            if !hashes.insert(s.hash.clone()) {
                stats.sessions_unchanged += 1;
                continue;
            }
            let free = self
                .sessions
                .get(&wtxn, &s.id)
                .map_err(|e| self.err(e))?
                .is_none();
            let id = if free && s.id > 0 {
                s.id
            } else {
                self.sessions
                    .last(&wtxn)
                    .map_err(|e| self.err(e))?
                    .map(|(k, _)| k + 1)
                    .unwrap_or(1)
            };
            let rec = SessionRecord {
                id,
                summary: s.summary.clone(),
                hash: s.hash.clone(),
            };
            self.sessions
                .put(&mut wtxn, &id, &rec)
                .map_err(|e| self.write_err(e))?;
            stats.sessions_added.push(id);
        }
        let mut wrote_runbooks = false;
        for r in &batch.runbooks {
            match self.runbooks.get(&wtxn, &r.name).map_err(|e| self.err(e))? {
                Some(local) if local.hash == r.hash => {
                    stats.runbooks_unchanged.push(r.name.clone())
                }
                Some(_) => stats.runbooks_conflicting.push(r.name.clone()),
                None => {
                    let parsed = runbook::parse(&r.name, &r.text).map_err(|e| {
                        self.err(format!("imported runbook {} cannot be parsed: {e}", r.name))
                    })?;
                    let mut rec = r.clone();
                    rec.chunk_ids = self.insert_chunks(&mut wtxn, &parsed)?;
                    self.runbooks
                        .put(&mut wtxn, &rec.name, &rec)
                        .map_err(|e| self.write_err(e))?;
                    stats.runbooks_added.push(r.name.clone());
                    wrote_runbooks = true;
                }
            }
        }
        if wrote_runbooks {
            self.stamp_sync(&mut wtxn)?;
        }
        if dry_run {
            wtxn.abort();
        } else {
            wtxn.commit().map_err(|e| self.write_err(e))?;
        }
        Ok(stats)
    }
}
