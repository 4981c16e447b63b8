//! The on-disk store: one LMDB environment (heed) holding runbook texts and chunks, session
//! summaries, an embedding cache keyed by content hash, and arroy cosine indexes (one pair per
//! embedding model: runbook chunks and sessions). A schema-version record guards the format:
//! an older store is re-indexed in place (sources are kept; everything derived is rebuilt), a
//! newer one is refused untouched. LMDB serialises writers across processes, and every
//! read-modify-write happens inside one write transaction, so concurrent tai processes do not
//! lose each other's writes.
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use arroy::distances::Cosine;
use heed::byteorder::BigEndian;
use heed::types::{Bytes, SerdeJson, Str, U32};
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions, RoTxn, RwTxn};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::runbook::{self, Runbook};
use super::vector::{ArroyIndex, VectorIndex};
use super::{KnowledgeError, SessionSummary};

pub mod archive;
mod lexical;
mod lifecycle;
mod upgrade;

pub use lifecycle::{
    is_no_space, EmbeddingInfo, ImportBatch, ImportStats, StoreHealth, CREATED_BY_KEY,
    LAST_SYNC_KEY,
};

/// The store format this tai reads and writes.
pub const SCHEMA_VERSION: u32 = 1;
/// Meta key of the schema version (a JSON number).
pub const SCHEMA_KEY: &str = "schema_version";
/// Meta key of the embedding-model → vector-slot table.
const MODELS_KEY: &str = "vector_models";
/// Name of the metadata database.
pub const META_DB: &str = "meta";
/// Virtual size of the memory map; the file grows only as needed.
pub const MAP_SIZE: usize = 4 << 30;

/// A runbook as stored: its source text (so the index can always be rebuilt) and its chunks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunbookRecord {
    pub name: String,
    /// `bundled`, or the file the text came from.
    pub source: String,
    /// SHA-256 of the text.
    pub hash: String,
    pub text: String,
    pub service: String,
    pub title: String,
    /// Unix seconds of the last change.
    pub synced_at: u64,
    pub chunk_ids: Vec<u32>,
}

/// One indexed runbook section.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunkRecord {
    pub id: u32,
    pub runbook: String,
    pub heading: String,
    pub service: String,
    /// Text used for BM25 and embeddings (title, heading, service, tags, body).
    pub text: String,
    pub body: String,
    /// SHA-256 of `text`: the embedding cache key (with the model).
    pub hash: String,
}

impl ChunkRecord {
    pub fn citation(&self) -> String {
        format!("{}#{}", self.runbook, self.heading)
    }
}

/// A session summary as stored (already redacted).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: u32,
    pub summary: SessionSummary,
    pub hash: String,
}

/// Which collection a vector index holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Runbooks,
    Sessions,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ModelSlot {
    slot: u16,
    dims: usize,
}

/// A runbook to write: parsed, with its source.
pub struct RunbookUpdate {
    pub runbook: Runbook,
    pub source: String,
    pub text: String,
    pub hash: String,
}

/// What a write of runbooks did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncStats {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    pub removed: Vec<String>,
    pub embedded_chunks: usize,
}

/// Vectors for texts by content hash, from one model.
pub struct Vectors<'a> {
    pub model: &'a str,
    pub by_hash: &'a HashMap<String, Vec<f32>>,
}

pub fn sha256_hex(text: &str) -> String {
    let d = Sha256::digest(text.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn cache_key(model: &str, hash: &str) -> Vec<u8> {
    let mut k = model.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(hash.as_bytes());
    k
}

fn vec_to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn bytes_to_vec(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The LMDB environment and its databases. Clones share the environment (one per path), so a
/// clone can be moved to a blocking thread for a write.
#[derive(Clone)]
pub struct Store {
    env: Env,
    meta: Database<'static, Str, SerdeJson<serde_json::Value>>,
    runbooks: Database<'static, Str, SerdeJson<RunbookRecord>>,
    chunks: Database<'static, U32<BigEndian>, SerdeJson<ChunkRecord>>,
    sessions: Database<'static, U32<BigEndian>, SerdeJson<SessionRecord>>,
    cache: Database<'static, Bytes, Bytes>,
    vectors: arroy::Database<'static, Cosine>,
    /// The persisted BM25 indexes (`lexical.rs`).
    lexical: Database<'static, Bytes, Bytes>,
    path: PathBuf,
}

struct Dbs {
    meta: Database<'static, Str, SerdeJson<serde_json::Value>>,
    runbooks: Database<'static, Str, SerdeJson<RunbookRecord>>,
    chunks: Database<'static, U32<BigEndian>, SerdeJson<ChunkRecord>>,
    sessions: Database<'static, U32<BigEndian>, SerdeJson<SessionRecord>>,
    cache: Database<'static, Bytes, Bytes>,
    vectors: arroy::Database<'static, Cosine>,
    lexical: Database<'static, Bytes, Bytes>,
}

impl Store {
    /// Open (creating if needed) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store, KnowledgeError> {
        let store_err = |reason: String| KnowledgeError::Store {
            path: dir.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| store_err(format!("cannot create it: {e}")))?;
        let data = dir.join("data.mdb");
        let existed = data.exists();
        // SAFETY: the environment is opened once per path in this process by this module and
        // LMDB's lock file coordinates other processes; tai never truncates the files.
        let env = unsafe {
            EnvOpenOptions::new()
                .map_size(MAP_SIZE)
                .max_dbs(16)
                .max_readers(126)
                .open(dir)
        }
        .map_err(|e| open_error(dir, existed, e))?;

        // Look before writing anything: a newer store must stay untouched.
        // `Err` carries a schema record that is not a number.
        let found_version: Option<Result<u32, serde_json::Value>> = {
            let rtxn = env.read_txn().map_err(|e| open_error(dir, existed, e))?;
            let looked = env
                .open_databases_and_commit(rtxn, |dbo, rtxn| -> heed::Result<_> {
                    let meta = dbo
                        .open_database::<Str, SerdeJson<serde_json::Value>>(rtxn, Some(META_DB))?;
                    let found = match meta {
                        None => None,
                        Some(meta) => Some(match meta.get(rtxn, SCHEMA_KEY)? {
                            None => Ok(0),
                            Some(v) => v.as_u64().map(|n| n as u32).ok_or(v),
                        }),
                    };
                    // Nothing to keep open: abort the read transaction, hand back the answer.
                    Ok(CommitOrAbort::<(), _>::Abort(found))
                })
                .map_err(|e| open_error(dir, existed, e))?;
            match looked {
                CommitOrAbort::Abort(found) => found,
                CommitOrAbort::Commit(()) => None,
            }
        };
        let found_version = match found_version {
            Some(Err(v)) => {
                return Err(KnowledgeError::Corrupt {
                    path: dir.display().to_string(),
                    reason: format!("schema version record is {v}, not a number"),
                })
            }
            Some(Ok(v)) => Some(v),
            None => None,
        };
        if let Some(v) = found_version {
            if v > SCHEMA_VERSION {
                return Err(KnowledgeError::NewerSchema {
                    path: dir.display().to_string(),
                    found: v,
                    supported: SCHEMA_VERSION,
                });
            }
        }

        let wtxn = env.write_txn().map_err(|e| open_error(dir, existed, e))?;
        let dbs = env
            .create_databases_and_commit(wtxn, |dbo, wtxn| -> heed::Result<_> {
                Ok(CommitOrAbort::<_, ()>::Commit((
                    dbo.create_database::<Str, SerdeJson<serde_json::Value>>(wtxn, Some(META_DB))?,
                    dbo.create_database::<Str, SerdeJson<RunbookRecord>>(wtxn, Some("runbooks"))?,
                    dbo.create_database::<U32<BigEndian>, SerdeJson<ChunkRecord>>(
                        wtxn,
                        Some("chunks"),
                    )?,
                    dbo.create_database::<U32<BigEndian>, SerdeJson<SessionRecord>>(
                        wtxn,
                        Some("sessions"),
                    )?,
                    dbo.create_database::<Bytes, Bytes>(wtxn, Some("embed_cache"))?,
                    dbo.create_database::<arroy::internals::KeyCodec, arroy::internals::NodeCodec<Cosine>>(
                        wtxn,
                        Some("vectors"),
                    )?,
                    dbo.create_database::<Bytes, Bytes>(wtxn, Some(lexical::LEXICAL_DB))?,
                )))
            })
            .map_err(|e| open_error(dir, existed, e))?
            .unwrap_commit();
        let dbs = Dbs {
            meta: dbs.0,
            runbooks: dbs.1,
            chunks: dbs.2,
            sessions: dbs.3,
            cache: dbs.4,
            vectors: dbs.5,
            lexical: dbs.6,
        };
        let store = Store {
            env,
            meta: dbs.meta,
            runbooks: dbs.runbooks,
            chunks: dbs.chunks,
            sessions: dbs.sessions,
            cache: dbs.cache,
            vectors: dbs.vectors,
            lexical: dbs.lexical,
            path: dir.to_path_buf(),
        };
        store.upgrade()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, reason: impl std::fmt::Display) -> KnowledgeError {
        KnowledgeError::Store {
            path: self.path.display().to_string(),
            reason: reason.to_string(),
        }
    }

    /// The schema version recorded in the store.
    pub fn schema_version(&self) -> Result<u32, KnowledgeError> {
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        Ok(self
            .meta
            .get(&rtxn, SCHEMA_KEY)
            .map_err(|e| self.err(e))?
            .and_then(|v| v.as_u64())
            .unwrap_or(0) as u32)
    }

    fn models(&self, txn: &RoTxn) -> Result<BTreeMap<String, ModelSlot>, KnowledgeError> {
        match self.meta.get(txn, MODELS_KEY).map_err(|e| self.err(e))? {
            None => Ok(BTreeMap::new()),
            Some(v) => serde_json::from_value(v)
                .map_err(|e| self.err(format!("vector model table is unreadable: {e}"))),
        }
    }

    fn index(&self, slot: &ModelSlot, kind: Kind) -> ArroyIndex {
        let k = match kind {
            Kind::Runbooks => 0,
            Kind::Sessions => 1,
        };
        ArroyIndex::new(self.vectors, slot.slot * 2 + k, slot.dims)
    }

    /// The slot for `model`, created with `dims` if new. A model whose width changed gets a
    /// fresh slot (its old vectors can no longer be compared).
    fn slot_for_write(
        &self,
        wtxn: &mut RwTxn,
        model: &str,
        dims: usize,
    ) -> Result<ModelSlot, KnowledgeError> {
        let mut models = self.models(wtxn)?;
        if let Some(s) = models.get(model) {
            if s.dims == dims {
                return Ok(s.clone());
            }
            let old = s.clone();
            for kind in [Kind::Runbooks, Kind::Sessions] {
                self.index(&old, kind)
                    .clear(wtxn)
                    .map_err(|e| self.err(e))?;
            }
        }
        let next = models.values().map(|s| s.slot + 1).max().unwrap_or(0);
        let slot = match models.get(model) {
            Some(s) => ModelSlot { slot: s.slot, dims },
            None => ModelSlot { slot: next, dims },
        };
        if slot.slot >= u16::MAX / 2 {
            return Err(self.err("too many embedding models recorded in the store"));
        }
        models.insert(model.to_string(), slot.clone());
        self.meta
            .put(
                wtxn,
                MODELS_KEY,
                &serde_json::to_value(&models).map_err(|e| self.err(e))?,
            )
            .map_err(|e| self.err(e))?;
        Ok(slot)
    }

    fn next_chunk_id(&self, txn: &RoTxn) -> Result<u32, KnowledgeError> {
        Ok(self
            .chunks
            .last(txn)
            .map_err(|e| self.err(e))?
            .map(|(k, _)| k + 1)
            .unwrap_or(1))
    }

    fn insert_chunks(&self, wtxn: &mut RwTxn, rb: &Runbook) -> Result<Vec<u32>, KnowledgeError> {
        let mut ids = Vec::new();
        let first = self.next_chunk_id(wtxn)?;
        for (id, (i, s)) in (first..).zip(rb.sections.iter().enumerate()) {
            let text = rb.index_text(i);
            let rec = ChunkRecord {
                id,
                runbook: rb.name.clone(),
                heading: s.heading.clone(),
                service: rb.front.service.clone(),
                hash: sha256_hex(&text),
                text,
                body: s.body.clone(),
            };
            self.chunks.put(wtxn, &id, &rec).map_err(|e| self.err(e))?;
            ids.push(id);
        }
        Ok(ids)
    }

    /// Every value of `db`, in key order, in one read transaction.
    fn all_values<K, V>(
        &self,
        db: &Database<'static, K, SerdeJson<V>>,
    ) -> Result<Vec<V>, KnowledgeError>
    where
        K: for<'a> heed::BytesDecode<'a>,
        V: serde::de::DeserializeOwned + 'static,
    {
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for item in db.iter(&rtxn).map_err(|e| self.err(e))? {
            out.push(item.map_err(|e| self.err(e))?.1);
        }
        Ok(out)
    }

    /// Every runbook record.
    pub fn runbook_records(&self) -> Result<Vec<RunbookRecord>, KnowledgeError> {
        self.all_values(&self.runbooks)
    }

    /// Every runbook chunk.
    pub fn chunks(&self) -> Result<Vec<ChunkRecord>, KnowledgeError> {
        self.all_values(&self.chunks)
    }

    /// Every session, oldest first.
    pub fn sessions(&self) -> Result<Vec<SessionRecord>, KnowledgeError> {
        self.all_values(&self.sessions)
    }

    /// Cached vectors of `model` for these content hashes.
    pub fn cached(
        &self,
        model: &str,
        hashes: &[String],
    ) -> Result<HashMap<String, Vec<f32>>, KnowledgeError> {
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        let mut out = HashMap::new();
        for h in hashes {
            if let Some(b) = self
                .cache
                .get(&rtxn, &cache_key(model, h))
                .map_err(|e| self.err(e))?
            {
                out.insert(h.clone(), bytes_to_vec(b));
            }
        }
        Ok(out)
    }

    /// Ids present in the vector index of `model` for `kind` (empty when the model is unknown).
    pub fn vector_ids(&self, model: &str, kind: Kind) -> Result<Vec<u32>, KnowledgeError> {
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        let models = self.models(&rtxn)?;
        match models.get(model) {
            None => Ok(Vec::new()),
            Some(slot) => self.index(slot, kind).ids(&rtxn).map_err(|e| self.err(e)),
        }
    }

    /// Nearest items of `kind` to `query` under `model`: `(id, cosine similarity)`.
    pub fn nearest(
        &self,
        model: &str,
        kind: Kind,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<(u32, f32)>, KnowledgeError> {
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        let models = self.models(&rtxn)?;
        match models.get(model) {
            Some(slot) if slot.dims == query.len() => self
                .index(slot, kind)
                .search(&rtxn, query, k)
                .map_err(|e| self.err(e)),
            _ => Ok(Vec::new()),
        }
    }

    /// Write runbooks: each one is compared with the stored record inside the write
    /// transaction (so two processes syncing at once cannot orphan chunks), changed ones are
    /// re-chunked, and vectors given by content hash are attached to the chunks that lack them.
    /// `remove` names runbooks to delete.
    pub fn write_runbooks(
        &self,
        updates: &[RunbookUpdate],
        remove: &[String],
        vectors: Option<Vectors<'_>>,
    ) -> Result<SyncStats, KnowledgeError> {
        let mut stats = SyncStats::default();
        let mut wtxn = self.env.write_txn().map_err(|e| self.err(e))?;
        let slot = match &vectors {
            Some(v) => match v.by_hash.values().next() {
                Some(first) => Some(self.slot_for_write(&mut wtxn, v.model, first.len())?),
                None => None,
            },
            None => None,
        };
        let mut touched_vectors = false;
        for name in remove {
            if let Some(rec) = self.runbooks.get(&wtxn, name).map_err(|e| self.err(e))? {
                self.drop_chunks(&mut wtxn, &rec.chunk_ids)?;
                self.runbooks
                    .delete(&mut wtxn, name)
                    .map_err(|e| self.err(e))?;
                stats.removed.push(name.clone());
                touched_vectors = true;
            }
        }
        for u in updates {
            let old = self
                .runbooks
                .get(&wtxn, &u.runbook.name)
                .map_err(|e| self.err(e))?;
            let chunk_ids = match &old {
                Some(rec) if rec.hash == u.hash => {
                    stats.unchanged.push(u.runbook.name.clone());
                    if rec.source != u.source {
                        let mut rec = rec.clone();
                        rec.source = u.source.clone();
                        self.runbooks
                            .put(&mut wtxn, &rec.name, &rec)
                            .map_err(|e| self.err(e))?;
                    }
                    rec.chunk_ids.clone()
                }
                _ => {
                    if let Some(rec) = &old {
                        self.drop_chunks(&mut wtxn, &rec.chunk_ids)?;
                        stats.updated.push(u.runbook.name.clone());
                    } else {
                        stats.added.push(u.runbook.name.clone());
                    }
                    let ids = self.insert_chunks(&mut wtxn, &u.runbook)?;
                    let rec = RunbookRecord {
                        name: u.runbook.name.clone(),
                        source: u.source.clone(),
                        hash: u.hash.clone(),
                        text: u.text.clone(),
                        service: u.runbook.front.service.clone(),
                        title: u.runbook.title.clone(),
                        synced_at: now_secs(),
                        chunk_ids: ids.clone(),
                    };
                    self.runbooks
                        .put(&mut wtxn, &rec.name, &rec)
                        .map_err(|e| self.err(e))?;
                    touched_vectors = true;
                    ids
                }
            };
            if let (Some(v), Some(slot)) = (&vectors, &slot) {
                let idx = self.index(slot, Kind::Runbooks);
                let present: std::collections::HashSet<u32> = idx
                    .ids(&wtxn)
                    .map_err(|e| self.err(e))?
                    .into_iter()
                    .collect();
                for id in chunk_ids {
                    if present.contains(&id) {
                        continue;
                    }
                    let Some(chunk) = self.chunks.get(&wtxn, &id).map_err(|e| self.err(e))? else {
                        continue;
                    };
                    if let Some(vec) = v.by_hash.get(&chunk.hash) {
                        if vec.len() == slot.dims {
                            idx.put(&mut wtxn, id, vec).map_err(|e| self.err(e))?;
                            stats.embedded_chunks += 1;
                            touched_vectors = true;
                        }
                    }
                }
            }
        }
        if let Some(v) = &vectors {
            for (h, vec) in v.by_hash {
                self.cache
                    .put(&mut wtxn, &cache_key(v.model, h), &vec_to_bytes(vec))
                    .map_err(|e| self.err(e))?;
            }
        }
        if touched_vectors {
            let models = self.models(&wtxn)?;
            for slot in models.values() {
                self.index(slot, Kind::Runbooks)
                    .build(&mut wtxn)
                    .map_err(|e| self.err(e))?;
            }
        }
        self.stamp_sync(&mut wtxn)?;
        let chunks_changed =
            !(stats.added.is_empty() && stats.updated.is_empty() && stats.removed.is_empty());
        self.lexical_after_write(
            &mut wtxn,
            if chunks_changed {
                lexical::Change::Chunks
            } else {
                lexical::Change::Nothing
            },
        )?;
        wtxn.commit().map_err(|e| self.write_err(e))?;
        Ok(stats)
    }

    fn drop_chunks(&self, wtxn: &mut RwTxn, ids: &[u32]) -> Result<(), KnowledgeError> {
        let models = self.models(wtxn)?;
        for id in ids {
            self.chunks.delete(wtxn, id).map_err(|e| self.err(e))?;
            for slot in models.values() {
                self.index(slot, Kind::Runbooks)
                    .delete(wtxn, *id)
                    .map_err(|e| self.err(e))?;
            }
        }
        Ok(())
    }

    /// Append a (redacted) session; returns its id. The id is allocated inside the write
    /// transaction, so concurrent writers never collide.
    pub fn add_session(
        &self,
        summary: SessionSummary,
        hash: String,
        vector: Option<(&str, Vec<f32>)>,
    ) -> Result<u32, KnowledgeError> {
        let mut wtxn = self.env.write_txn().map_err(|e| self.err(e))?;
        let id = self
            .sessions
            .last(&wtxn)
            .map_err(|e| self.err(e))?
            .map(|(k, _)| k + 1)
            .unwrap_or(1);
        let rec = SessionRecord { id, summary, hash };
        self.sessions
            .put(&mut wtxn, &id, &rec)
            .map_err(|e| self.err(e))?;
        if let Some((model, v)) = vector {
            let slot = self.slot_for_write(&mut wtxn, model, v.len())?;
            self.cache
                .put(&mut wtxn, &cache_key(model, &rec.hash), &vec_to_bytes(&v))
                .map_err(|e| self.err(e))?;
            let idx = self.index(&slot, Kind::Sessions);
            idx.put(&mut wtxn, id, &v).map_err(|e| self.err(e))?;
            idx.build(&mut wtxn).map_err(|e| self.err(e))?;
        }
        self.lexical_after_write(&mut wtxn, lexical::Change::SessionAppended(&rec))?;
        wtxn.commit().map_err(|e| self.write_err(e))?;
        Ok(id)
    }

    /// Attach vectors to sessions recorded while no embedding server was reachable.
    pub fn add_session_vectors(
        &self,
        model: &str,
        vectors: &[(u32, String, Vec<f32>)],
    ) -> Result<(), KnowledgeError> {
        let Some(first) = vectors.first() else {
            return Ok(());
        };
        let mut wtxn = self.env.write_txn().map_err(|e| self.err(e))?;
        let slot = self.slot_for_write(&mut wtxn, model, first.2.len())?;
        let idx = self.index(&slot, Kind::Sessions);
        for (id, hash, v) in vectors {
            if v.len() != slot.dims {
                continue;
            }
            self.cache
                .put(&mut wtxn, &cache_key(model, hash), &vec_to_bytes(v))
                .map_err(|e| self.err(e))?;
            if self
                .sessions
                .get(&wtxn, id)
                .map_err(|e| self.err(e))?
                .is_some()
            {
                idx.put(&mut wtxn, *id, v).map_err(|e| self.err(e))?;
            }
        }
        idx.build(&mut wtxn).map_err(|e| self.err(e))?;
        self.lexical_after_write(&mut wtxn, lexical::Change::Nothing)?;
        wtxn.commit().map_err(|e| self.write_err(e))
    }

    /// Size of the store on disk, in bytes.
    pub fn disk_size(&self) -> u64 {
        self.env.real_disk_size().unwrap_or(0)
    }
}

fn open_error(dir: &Path, existed: bool, e: heed::Error) -> KnowledgeError {
    let reason = e.to_string();
    let looks_corrupt = matches!(
        &e,
        heed::Error::Mdb(
            heed::MdbError::Invalid
                | heed::MdbError::Corrupted
                | heed::MdbError::PageNotFound
                | heed::MdbError::VersionMismatch
                | heed::MdbError::Incompatible
                | heed::MdbError::BadTxn
        ) | heed::Error::Decoding(_)
    );
    if existed && looks_corrupt {
        KnowledgeError::Corrupt {
            path: dir.display().to_string(),
            reason,
        }
    } else {
        KnowledgeError::Store {
            path: dir.display().to_string(),
            reason,
        }
    }
}
