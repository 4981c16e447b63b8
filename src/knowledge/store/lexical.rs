//! The persisted lexical (BM25) indexes: one for runbook chunks, one for sessions, kept in the
//! `lexical` database so a search reads only its query terms' postings and the document table,
//! never every record.
//!
//! Layout, per collection (`r` runbook chunks, `s` sessions): `{c}\0meta` (JSON: the LMDB
//! transaction the index is current for, the host names whose positions are the sessions'
//! groups), `{c}\0docs` (a [`DocTable`]: id, length, group per document) and
//! `{c}\x01{term}\0{block}` (that term's postings, by id, in blocks of [`BLOCK`] so that
//! recording a session appends to one small value per term whatever the store's size).
//!
//! Invalidation needs no cooperation from other writers: an index is current only when its
//! `valid_at` equals the transaction id of the snapshot being read, and every committed write
//! transaction advances that id. The writes that know what they changed keep the index current
//! in the same transaction (a session appended, runbooks re-chunked: [`Store::lexical_after_write`]);
//! any other write (cleanup, import, an upgrade, an older tai) leaves it stale, and the next
//! search rebuilds it once from the records (or, when the store cannot be written, scores in
//! memory from the records). Either way the ranking is the one [`bm25::Bm25Index`] gives.
use std::collections::HashMap;

use heed::{RoTxn, RwTxn};
use serde::{Deserialize, Serialize};

use super::{ChunkRecord, Kind, RunbookRecord, SessionRecord, Store};
use crate::knowledge::bm25::{self, DocEntry, DocTable, Posting};
use crate::knowledge::KnowledgeError;

/// Name of the lexical index database.
pub const LEXICAL_DB: &str = "lexical";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct LexMeta {
    /// The LMDB transaction id this index reflects.
    valid_at: u64,
    /// Host names; a session's group is its host's position (sessions only).
    #[serde(default)]
    hosts: Vec<String>,
}

/// What a write transaction did to the indexed collections, for [`Store::lexical_after_write`].
pub(super) enum Change<'a> {
    /// Nothing indexed changed (vectors, the embedding cache, metadata).
    Nothing,
    /// One session was appended with an id above every other.
    SessionAppended(&'a SessionRecord),
    /// Runbook chunks were added, replaced or removed.
    Chunks,
}

fn prefix(kind: Kind) -> u8 {
    match kind {
        Kind::Runbooks => b'r',
        Kind::Sessions => b's',
    }
}

fn meta_key(kind: Kind) -> [u8; 6] {
    let mut k = *b"?\0meta";
    k[0] = prefix(kind);
    k
}

fn docs_key(kind: Kind) -> [u8; 6] {
    let mut k = *b"?\0docs";
    k[0] = prefix(kind);
    k
}

/// Postings per stored block (small in tests, so they cross block boundaries).
#[cfg(not(test))]
pub const BLOCK: usize = 1024;
#[cfg(test)]
pub const BLOCK: usize = 8;

/// The prefix of every block of `term` (terms never contain NUL: they are alphanumeric).
fn term_key(kind: Kind, term: &str) -> Vec<u8> {
    let mut k = vec![prefix(kind), 1];
    k.extend_from_slice(term.as_bytes());
    k.push(0);
    k
}

fn block_key(term_prefix: &[u8], block: u32) -> Vec<u8> {
    let mut k = term_prefix.to_vec();
    k.extend_from_slice(&block.to_be_bytes());
    k
}

/// A collection's documents as the index needs them: id, group name, text.
struct Source {
    docs: Vec<(u32, String, String)>,
}

impl Store {
    /// BM25 over `kind` (sessions on `host` only, when given): `(id, score)` best first, at
    /// most `limit`. Reads the persisted index; rebuilds it first when it is stale.
    pub fn lexical_search(
        &self,
        kind: Kind,
        query: &str,
        host: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(u32, f32)>, KnowledgeError> {
        let terms = bm25::query_terms(query);
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        {
            let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
            if let Some(r) = self.lexical_query(&rtxn, kind, &terms, host, limit)? {
                return Ok(r);
            }
        }
        // Stale: rebuild once (another process may have done it meanwhile), then read again.
        if self.lexical_rebuild(kind).is_ok() {
            let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
            if let Some(r) = self.lexical_query(&rtxn, kind, &terms, host, limit)? {
                return Ok(r);
            }
        }
        // The store cannot be written (disk full, read-only) or changed again meanwhile:
        // score from the records of one snapshot, as the index would.
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        let source = self.lexical_source(&rtxn, kind)?;
        let (table, hosts, lists) = build(&source);
        let group = match host {
            Some(h) => match hosts.iter().position(|x| x == h) {
                Some(g) => Some(g as u32),
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        bm25::score_postings::<KnowledgeError>(
            &table,
            group,
            &terms,
            |t| Ok(lists.get(t).cloned()),
            limit,
        )
    }

    /// Whether `kind`'s index is current in this snapshot.
    pub fn lexical_is_current(&self, kind: Kind) -> Result<bool, KnowledgeError> {
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        Ok(self
            .lexical_meta(&rtxn, kind)?
            .is_some_and(|m| m.valid_at == rtxn.id() as u64))
    }

    /// Score from the persisted index; `None` when it is not current in this snapshot.
    fn lexical_query(
        &self,
        rtxn: &RoTxn,
        kind: Kind,
        terms: &[String],
        host: Option<&str>,
        limit: usize,
    ) -> Result<Option<Vec<(u32, f32)>>, KnowledgeError> {
        let Some(meta) = self.lexical_meta(rtxn, kind)? else {
            return Ok(None);
        };
        if meta.valid_at != rtxn.id() as u64 {
            return Ok(None);
        }
        let group = match host {
            Some(h) => match meta.hosts.iter().position(|x| x == h) {
                Some(g) => Some(g as u32),
                None => return Ok(Some(Vec::new())),
            },
            None => None,
        };
        let table = match self
            .lexical
            .get(rtxn, &docs_key(kind))
            .map_err(|e| self.err(e))?
        {
            Some(b) => DocTable::from_bytes(b).ok_or_else(|| self.corrupt_index(kind))?,
            None => DocTable::default(),
        };
        let scored = bm25::score_postings(
            &table,
            group,
            terms,
            |t| self.read_postings(rtxn, kind, t),
            limit,
        )?;
        Ok(Some(scored))
    }

    /// Every block of `term`, in id order; `None` when the term occurs nowhere.
    fn read_postings(
        &self,
        rtxn: &RoTxn,
        kind: Kind,
        term: &str,
    ) -> Result<Option<Vec<Posting>>, KnowledgeError> {
        let mut out: Option<Vec<Posting>> = None;
        for item in self
            .lexical
            .prefix_iter(rtxn, &term_key(kind, term))
            .map_err(|e| self.err(e))?
        {
            let (_, b) = item.map_err(|e| self.err(e))?;
            let block = bm25::postings_from_bytes(b).ok_or_else(|| self.corrupt_index(kind))?;
            out.get_or_insert_with(Vec::new).extend(block);
        }
        Ok(out)
    }

    fn corrupt_index(&self, kind: Kind) -> KnowledgeError {
        self.err(format!(
            "the lexical index of {kind:?} is unreadable; `tai runbooks sync` rewrites the \
             runbook index and recording a session the history index, or move the store aside"
        ))
    }

    fn lexical_meta(&self, txn: &RoTxn, kind: Kind) -> Result<Option<LexMeta>, KnowledgeError> {
        match self
            .lexical
            .get(txn, &meta_key(kind))
            .map_err(|e| self.err(e))?
        {
            None => Ok(None),
            // An unreadable meta record is a stale index: it is rebuilt.
            Some(b) => Ok(serde_json::from_slice(b).ok()),
        }
    }

    fn put_meta(&self, wtxn: &mut RwTxn, kind: Kind, meta: &LexMeta) -> Result<(), KnowledgeError> {
        let bytes = serde_json::to_vec(meta).map_err(|e| self.err(e))?;
        self.lexical
            .put(wtxn, &meta_key(kind), &bytes)
            .map_err(|e| self.err(e))
    }

    /// Rebuild `kind`'s index in its own write transaction (nothing to do when another
    /// process rebuilt it first). The other index stays current if it was.
    pub fn lexical_rebuild(&self, kind: Kind) -> Result<(), KnowledgeError> {
        let mut wtxn = self.env.write_txn().map_err(|e| self.err(e))?;
        let before = wtxn.id() as u64 - 1;
        if self
            .lexical_meta(&wtxn, kind)?
            .is_some_and(|m| m.valid_at == before)
        {
            return Ok(());
        }
        self.lexical_rebuild_in(&mut wtxn, kind)?;
        let other = match kind {
            Kind::Runbooks => Kind::Sessions,
            Kind::Sessions => Kind::Runbooks,
        };
        self.lexical_carry(&mut wtxn, other)?;
        wtxn.commit().map_err(|e| self.err(e))
    }

    /// Keep the indexes current through a write transaction that changed `change` (called
    /// last, just before the commit). An index that was stale stays stale.
    pub(super) fn lexical_after_write(
        &self,
        wtxn: &mut RwTxn,
        change: Change<'_>,
    ) -> Result<(), KnowledgeError> {
        match change {
            Change::Nothing => {
                self.lexical_carry(wtxn, Kind::Runbooks)?;
                self.lexical_carry(wtxn, Kind::Sessions)
            }
            Change::Chunks => {
                self.lexical_rebuild_in(wtxn, Kind::Runbooks)?;
                self.lexical_carry(wtxn, Kind::Sessions)
            }
            Change::SessionAppended(rec) => {
                self.lexical_append_session(wtxn, rec)?;
                self.lexical_carry(wtxn, Kind::Runbooks)
            }
        }
    }

    /// Mark `kind`'s index current for this transaction if it was current before it.
    fn lexical_carry(&self, wtxn: &mut RwTxn, kind: Kind) -> Result<(), KnowledgeError> {
        let now = wtxn.id() as u64;
        if let Some(mut meta) = self.lexical_meta(wtxn, kind)? {
            if meta.valid_at + 1 == now {
                meta.valid_at = now;
                self.put_meta(wtxn, kind, &meta)?;
            }
        }
        Ok(())
    }

    /// Add one session (id above every indexed one) to a current sessions index.
    fn lexical_append_session(
        &self,
        wtxn: &mut RwTxn,
        rec: &SessionRecord,
    ) -> Result<(), KnowledgeError> {
        let now = wtxn.id() as u64;
        let kind = Kind::Sessions;
        let Some(mut meta) = self.lexical_meta(wtxn, kind)? else {
            return Ok(());
        };
        if meta.valid_at + 1 != now {
            return Ok(());
        }
        let mut table = match self
            .lexical
            .get(wtxn, &docs_key(kind))
            .map_err(|e| self.err(e))?
        {
            Some(b) => match DocTable::from_bytes(b) {
                Some(t) => t,
                None => return Ok(()),
            },
            None => DocTable::default(),
        };
        if table.docs.last().is_some_and(|d| d.id >= rec.id) {
            // Not an append: leave the index stale for a rebuild.
            return Ok(());
        }
        let group = match meta.hosts.iter().position(|h| *h == rec.summary.host) {
            Some(g) => g,
            None => {
                meta.hosts.push(rec.summary.host.clone());
                meta.hosts.len() - 1
            }
        } as u32;
        let (len, tf) = bm25::term_counts(&rec.summary.index_text());
        table.docs.push(DocEntry {
            id: rec.id,
            len,
            group,
        });
        for (term, n) in tf {
            let prefix = term_key(kind, &term);
            // The last block, if it has room; else a new one after it.
            let last = match self
                .lexical
                .rev_prefix_iter(wtxn, &prefix)
                .map_err(|e| self.err(e))?
                .next()
            {
                Some(item) => {
                    let (k, b) = item.map_err(|e| self.err(e))?;
                    let no = k
                        .get(prefix.len()..)
                        .and_then(|x| <[u8; 4]>::try_from(x).ok())
                        .map(u32::from_be_bytes)
                        .ok_or_else(|| self.corrupt_index(kind))?;
                    Some((no, b.to_vec()))
                }
                None => None,
            };
            let (key, mut list) = match last {
                Some((no, b)) if b.len() / 8 < BLOCK => (block_key(&prefix, no), b),
                Some((no, _)) => (block_key(&prefix, no + 1), Vec::new()),
                None => (block_key(&prefix, 0), Vec::new()),
            };
            bm25::append_posting(&mut list, [(rec.id, n)]);
            self.lexical
                .put(wtxn, &key, &list)
                .map_err(|e| self.err(e))?;
        }
        self.lexical
            .put(wtxn, &docs_key(kind), &table.to_bytes())
            .map_err(|e| self.err(e))?;
        meta.valid_at = now;
        self.put_meta(wtxn, kind, &meta)
    }

    /// Replace `kind`'s index with one built from the records in this transaction.
    fn lexical_rebuild_in(&self, wtxn: &mut RwTxn, kind: Kind) -> Result<(), KnowledgeError> {
        let source = self.lexical_source(wtxn, kind)?;
        let (table, hosts, lists) = build(&source);
        let p = [prefix(kind)];
        let end = [prefix(kind) + 1];
        self.lexical
            .delete_range(
                wtxn,
                &(
                    std::ops::Bound::Included(&p[..]),
                    std::ops::Bound::Excluded(&end[..]),
                ),
            )
            .map_err(|e| self.err(e))?;
        for (term, list) in &lists {
            let prefix = term_key(kind, term);
            for (no, block) in list.chunks(BLOCK).enumerate() {
                self.lexical
                    .put(
                        wtxn,
                        &block_key(&prefix, no as u32),
                        &bm25::postings_to_bytes(block),
                    )
                    .map_err(|e| self.err(e))?;
            }
        }
        self.lexical
            .put(wtxn, &docs_key(kind), &table.to_bytes())
            .map_err(|e| self.err(e))?;
        let meta = LexMeta {
            valid_at: wtxn.id() as u64,
            hosts,
        };
        self.put_meta(wtxn, kind, &meta)
    }

    /// The documents of `kind` in id order.
    fn lexical_source(&self, txn: &RoTxn, kind: Kind) -> Result<Source, KnowledgeError> {
        let mut docs = Vec::new();
        match kind {
            Kind::Runbooks => {
                for item in self.chunks.iter(txn).map_err(|e| self.err(e))? {
                    let (id, c) = item.map_err(|e| self.err(e))?;
                    docs.push((id, String::new(), c.text));
                }
            }
            Kind::Sessions => {
                for item in self.sessions.iter(txn).map_err(|e| self.err(e))? {
                    let (id, s) = item.map_err(|e| self.err(e))?;
                    docs.push((id, s.summary.host.clone(), s.summary.index_text()));
                }
            }
        }
        Ok(Source { docs })
    }

    /// One runbook record by name (what `Knowledge::open` checks for each bundled runbook).
    pub fn runbook_record(&self, name: &str) -> Result<Option<RunbookRecord>, KnowledgeError> {
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        self.runbooks.get(&rtxn, name).map_err(|e| self.err(e))
    }

    /// These sessions (those that exist), in the order asked.
    pub fn sessions_by_id(&self, ids: &[u32]) -> Result<Vec<SessionRecord>, KnowledgeError> {
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(s) = self.sessions.get(&rtxn, id).map_err(|e| self.err(e))? {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// These runbook chunks (those that exist), in the order asked.
    pub fn chunks_by_id(&self, ids: &[u32]) -> Result<Vec<ChunkRecord>, KnowledgeError> {
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(c) = self.chunks.get(&rtxn, id).map_err(|e| self.err(e))? {
                out.push(c);
            }
        }
        Ok(out)
    }
}

/// The index of a collection: document table, group names, postings by term.
fn build(source: &Source) -> (DocTable, Vec<String>, HashMap<String, Vec<Posting>>) {
    let mut table = DocTable::default();
    let mut hosts: Vec<String> = Vec::new();
    let mut group_of: HashMap<&str, u32> = HashMap::new();
    let mut lists: HashMap<String, Vec<Posting>> = HashMap::new();
    for (id, host, text) in &source.docs {
        let group = *group_of.entry(host.as_str()).or_insert_with(|| {
            hosts.push(host.clone());
            (hosts.len() - 1) as u32
        });
        let (len, tf) = bm25::term_counts(text);
        table.docs.push(DocEntry {
            id: *id,
            len,
            group,
        });
        for (term, n) in tf {
            lists.entry(term).or_default().push((*id, n));
        }
    }
    (table, hosts, lists)
}

#[cfg(test)]
#[path = "lexical_tests.rs"]
mod tests;
