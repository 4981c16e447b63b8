//! Lexical retrieval: a tokenizer tuned for operations text (service names, error codes, paths)
//! and an in-memory BM25 index. Always available; needs no server.
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
}
