//! Lexical retrieval: a tokenizer tuned for operations text (service names, error codes, paths)
//! and BM25 scoring. Always available; needs no server.
//!
//! Two forms score identically (same terms, same order of float operations, same tie-break):
//! [`Bm25Index`], built in memory from texts, and [`score_postings`], which scores from stored
//! statistics (a [`DocTable`] and per-term [`Posting`] lists, as the store persists them) and
//! so reads only the query's terms.
use std::collections::HashMap;

/// BM25 term-frequency saturation.
const K1: f32 = 1.2;
/// BM25 length normalisation.
const B: f32 = 0.75;

const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "did", "do", "does",
    "for", "from", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my",
    "not", "of", "on", "or", "our", "since", "so", "that", "the", "their", "then", "there",
    "these", "this", "to", "was", "we", "were", "what", "when", "where", "which", "while", "who",
    "why", "will", "with", "you", "your",
];

/// Split text into normalised terms: lowercase alphanumeric runs (`_` separates), stopwords
/// dropped, a light suffix stemmer so "timeouts"/"timeout" and "failing"/"failed"/"fail" meet.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        if ch.is_alphanumeric() {
            for l in ch.to_lowercase() {
                cur.push(l);
            }
        } else if !cur.is_empty() {
            push_term(&mut out, std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        push_term(&mut out, cur);
    }
    out
}

fn push_term(out: &mut Vec<String>, term: String) {
    if term.chars().count() > 40 || STOPWORDS.contains(&term.as_str()) {
        return;
    }
    out.push(stem(term));
}

/// A deliberately small suffix stemmer (plurals, -ing, -ed, trailing -e). Terms that contain
/// digits are kept as they are: `502`, `ext4`, `tls1_2` must match exactly.
pub fn stem(term: String) -> String {
    if term.len() <= 3 || !term.is_ascii() || term.chars().any(|c| c.is_ascii_digit()) {
        return term;
    }
    let mut s = term;
    if s.ends_with("ies") && s.len() > 4 {
        s.truncate(s.len() - 3);
        s.push('y');
    } else if s.ends_with("es")
        && ["s", "x", "z", "ch", "sh"]
            .iter()
            .any(|e| s[..s.len() - 2].ends_with(e))
    {
        s.truncate(s.len() - 2);
    } else if s.ends_with('s') && !s.ends_with("ss") && !s.ends_with("us") && !s.ends_with("is") {
        s.truncate(s.len() - 1);
    }
    if s.ends_with("ing") && s.len() >= 7 {
        s.truncate(s.len() - 3);
    } else if s.ends_with("ed") && s.len() >= 6 {
        s.truncate(s.len() - 2);
    }
    if s.ends_with('e') && s.len() > 4 {
        s.truncate(s.len() - 1);
    }
    s
}

/// One indexed document's statistics.
#[derive(Debug, Clone, Default)]
struct Doc {
    len: u32,
    tf: HashMap<String, u32>,
}

/// An in-memory BM25 index over documents numbered in insertion order.
#[derive(Debug, Clone, Default)]
pub struct Bm25Index {
    docs: Vec<Doc>,
    df: HashMap<String, u32>,
    total_len: u64,
}

impl Bm25Index {
    pub fn new() -> Self {
        Self::default()
    }

    /// Index every text; document `i` is the `i`-th text.
    pub fn build<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut idx = Self::new();
        for t in texts {
            idx.add(t);
        }
        idx
    }

    /// Add a document; returns its number.
    pub fn add(&mut self, text: &str) -> usize {
        let terms = tokenize(text);
        let mut doc = Doc {
            len: terms.len() as u32,
            tf: HashMap::new(),
        };
        for t in terms {
            *doc.tf.entry(t).or_insert(0) += 1;
        }
        for t in doc.tf.keys() {
            *self.df.entry(t.clone()).or_insert(0) += 1;
        }
        self.total_len += u64::from(doc.len);
        self.docs.push(doc);
        self.docs.len() - 1
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Score every document against `query`; returns `(doc, score)` with score > 0, best
    /// first, at most `limit`.
    pub fn search(&self, query: &str, limit: usize) -> Vec<(usize, f32)> {
        let scores = self.scores(query);
        let mut ranked: Vec<(usize, f32)> = scores
            .into_iter()
            .enumerate()
            .filter(|(_, s)| *s > 0.0)
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(limit);
        ranked
    }

    /// The BM25 score of every document (0 where no query term occurs).
    pub fn scores(&self, query: &str) -> Vec<f32> {
        let mut scores = vec![0.0f32; self.docs.len()];
        if self.docs.is_empty() {
            return scores;
        }
        let n = self.docs.len() as f32;
        let avgdl = (self.total_len as f32 / n).max(1.0);
        let mut terms = tokenize(query);
        terms.sort();
        terms.dedup();
        for term in &terms {
            let Some(&df) = self.df.get(term) else {
                continue;
            };
            let df = df as f32;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for (i, doc) in self.docs.iter().enumerate() {
                if let Some(&tf) = doc.tf.get(term) {
                    let tf = tf as f32;
                    let norm = K1 * (1.0 - B + B * doc.len as f32 / avgdl);
                    scores[i] += idf * tf * (K1 + 1.0) / (tf + norm);
                }
            }
        }
        scores
    }
}

/// One document of a persisted index: its id in the store, its length in terms, and its
/// group (the host's number for sessions, 0 for runbook chunks), for filtered searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocEntry {
    pub id: u32,
    pub len: u32,
    pub group: u32,
}

/// The documents of a persisted index, in id order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocTable {
    pub docs: Vec<DocEntry>,
}

/// One term's occurrence in a document: `(doc id, term frequency)`.
pub type Posting = (u32, u32);

impl DocTable {
    /// Little-endian `id, len, group` triples.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.docs.len() * 12);
        for d in &self.docs {
            out.extend_from_slice(&d.id.to_le_bytes());
            out.extend_from_slice(&d.len.to_le_bytes());
            out.extend_from_slice(&d.group.to_le_bytes());
        }
        out
    }

    /// `None` when the bytes are not whole triples.
    pub fn from_bytes(b: &[u8]) -> Option<DocTable> {
        if !b.len().is_multiple_of(12) {
            return None;
        }
        let u = |c: &[u8]| u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        Some(DocTable {
            docs: b
                .chunks_exact(12)
                .map(|c| DocEntry {
                    id: u(&c[0..4]),
                    len: u(&c[4..8]),
                    group: u(&c[8..12]),
                })
                .collect(),
        })
    }
}

/// Little-endian `(id, tf)` pairs.
pub fn postings_to_bytes(p: &[Posting]) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.len() * 8);
    append_posting(&mut out, p.iter().copied());
    out
}

/// Append postings to an encoded list.
pub fn append_posting(out: &mut Vec<u8>, p: impl IntoIterator<Item = Posting>) {
    for (id, tf) in p {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&tf.to_le_bytes());
    }
}

/// `None` when the bytes are not whole pairs.
pub fn postings_from_bytes(b: &[u8]) -> Option<Vec<Posting>> {
    if !b.len().is_multiple_of(8) {
        return None;
    }
    let u = |c: &[u8]| u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    Some(
        b.chunks_exact(8)
            .map(|c| (u(&c[0..4]), u(&c[4..8])))
            .collect(),
    )
}

/// A document's terms with their frequencies and its length: what an index stores for it.
pub fn term_counts(text: &str) -> (u32, HashMap<String, u32>) {
    let terms = tokenize(text);
    let len = terms.len() as u32;
    let mut tf = HashMap::new();
    for t in terms {
        *tf.entry(t).or_insert(0) += 1;
    }
    (len, tf)
}

/// The distinct query terms, in the order [`Bm25Index::scores`] adds them up.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut terms = tokenize(query);
    terms.sort();
    terms.dedup();
    terms
}

/// BM25 over stored statistics: the documents of `docs` in `group` (all with `None`) are the
/// collection; `postings(term)` gives a term's list (by id). Returns `(doc id, score)` with
/// score > 0, best first (ties by id), at most `limit`: the same ranking and the same scores
/// as a [`Bm25Index`] built from those documents' texts in id order.
pub fn score_postings<E>(
    docs: &DocTable,
    group: Option<u32>,
    terms: &[String],
    mut postings: impl FnMut(&str) -> Result<Option<Vec<Posting>>, E>,
    limit: usize,
) -> Result<Vec<(u32, f32)>, E> {
    let in_group = |d: &DocEntry| group.is_none_or(|g| d.group == g);
    let mut len_of: HashMap<u32, u32> = HashMap::new();
    let mut n_docs = 0usize;
    let mut total_len = 0u64;
    for d in docs.docs.iter().filter(|d| in_group(d)) {
        n_docs += 1;
        total_len += u64::from(d.len);
        len_of.insert(d.id, d.len);
    }
    let mut scores: HashMap<u32, f32> = HashMap::new();
    if n_docs == 0 {
        return Ok(Vec::new());
    }
    let n = n_docs as f32;
    let avgdl = (total_len as f32 / n).max(1.0);
    for term in terms {
        let Some(list) = postings(term)? else {
            continue;
        };
        let hits: Vec<(u32, u32, u32)> = list
            .into_iter()
            .filter_map(|(id, tf)| len_of.get(&id).map(|&len| (id, tf, len)))
            .collect();
        if hits.is_empty() {
            continue;
        }
        let df = hits.len() as f32;
        let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
        for (id, tf, len) in hits {
            let tf = tf as f32;
            let norm = K1 * (1.0 - B + B * len as f32 / avgdl);
            *scores.entry(id).or_insert(0.0) += idf * tf * (K1 + 1.0) / (tf + norm);
        }
    }
    let mut ranked: Vec<(u32, f32)> = scores.into_iter().filter(|(_, s)| *s > 0.0).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(limit);
    Ok(ranked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_keeps_codes_and_stems_words() {
        let t = tokenize("nginx: 502 Bad Gateway; upstream timed out (110: Connection timed out)");
        assert!(t.contains(&"502".to_string()));
        assert!(t.contains(&"upstream".to_string()));
        assert!(t.contains(&"tim".to_string()) || t.contains(&"timed".to_string()));
        assert_eq!(tokenize("timeouts"), tokenize("timeout"));
        assert_eq!(tokenize("failing"), tokenize("fail"));
        assert!(!t.contains(&"the".to_string()));
    }

    #[test]
    fn bm25_ranks_the_matching_document_first() {
        let idx = Bm25Index::build([
            "disk full on /var: no space left on device",
            "nginx returns 502 bad gateway when the upstream is down",
            "ssh permission denied publickey",
        ]);
        let r = idx.search("502 bad gateway", 3);
        assert_eq!(r[0].0, 1);
        assert_eq!(r.len(), 1, "only documents with a query term score: {r:?}");
        assert!(idx.search("kernel panic", 3).is_empty());
    }

    #[test]
    fn rarer_terms_weigh_more() {
        let idx = Bm25Index::build(["error error common", "error rare", "error"]);
        let r = idx.search("error rare", 3);
        assert_eq!(r[0].0, 1);
    }

    /// A persisted index of the same texts, as the store writes it.
    fn persisted(texts: &[&str], groups: &[u32]) -> (DocTable, HashMap<String, Vec<Posting>>) {
        let mut table = DocTable::default();
        let mut lists: HashMap<String, Vec<Posting>> = HashMap::new();
        for (i, t) in texts.iter().enumerate() {
            let id = (i as u32 + 1) * 3;
            let (len, tf) = term_counts(t);
            table.docs.push(DocEntry {
                id,
                len,
                group: groups[i],
            });
            for (term, n) in tf {
                lists.entry(term).or_default().push((id, n));
            }
        }
        for l in lists.values_mut() {
            let bytes = postings_to_bytes(l);
            *l = postings_from_bytes(&bytes).unwrap();
        }
        let table = DocTable::from_bytes(&table.to_bytes()).unwrap();
        (table, lists)
    }

    #[test]
    fn stored_postings_score_exactly_like_the_in_memory_index() {
        let texts = [
            "nginx 502 bad gateway upstream timed out",
            "disk full on /var no space left on device",
            "nginx upstream connect() failed (111: Connection refused)",
            "postgres too many clients already; nginx fine",
            "ssh permission denied (publickey)",
            "nginx nginx nginx 502 502",
        ];
        let groups = [0, 1, 0, 1, 2, 0];
        let (table, lists) = persisted(&texts, &groups);
        for q in [
            "nginx 502",
            "upstream refused",
            "space",
            "kernel panic",
            "nginx",
        ] {
            let mem = Bm25Index::build(texts).search(q, 50);
            let stored = score_postings::<()>(
                &table,
                None,
                &query_terms(q),
                |t| Ok(lists.get(t).cloned()),
                50,
            )
            .unwrap();
            let mem: Vec<(u32, f32)> = mem
                .into_iter()
                .map(|(i, s)| ((i as u32 + 1) * 3, s))
                .collect();
            assert_eq!(stored, mem, "query {q:?}");
            // A group is scored as its own collection (document frequencies, lengths).
            let in0: Vec<&str> = texts
                .iter()
                .zip(groups)
                .filter(|(_, g)| *g == 0)
                .map(|(t, _)| *t)
                .collect();
            let ids0: Vec<u32> = (0..texts.len())
                .filter(|i| groups[*i] == 0)
                .map(|i| (i as u32 + 1) * 3)
                .collect();
            let mem0: Vec<(u32, f32)> = Bm25Index::build(in0)
                .search(q, 50)
                .into_iter()
                .map(|(i, s)| (ids0[i], s))
                .collect();
            let stored0 = score_postings::<()>(
                &table,
                Some(0),
                &query_terms(q),
                |t| Ok(lists.get(t).cloned()),
                50,
            )
            .unwrap();
            assert_eq!(stored0, mem0, "query {q:?} in group 0");
        }
        assert!(DocTable::from_bytes(&[1, 2, 3]).is_none());
        assert!(postings_from_bytes(&[0; 7]).is_none());
    }
}
