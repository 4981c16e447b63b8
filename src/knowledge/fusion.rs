//! Reciprocal-rank fusion of several rankings (BM25 and vectors) into one.
use std::collections::HashMap;
use std::hash::Hash;

/// The usual RRF constant: damps the head of each list so one ranking cannot dominate.
pub const RRF_K: f32 = 60.0;

/// Fuse rankings (each best first) into one ranking by `sum 1 / (k + rank)`; rank starts at 1.
/// Ties keep the order of first appearance.
pub fn rrf<K: Clone + Eq + Hash>(rankings: &[Vec<K>], k: f32) -> Vec<(K, f32)> {
    let mut score: HashMap<K, (f32, usize)> = HashMap::new();
    let mut order = 0usize;
    for ranking in rankings {
        for (i, key) in ranking.iter().enumerate() {
            let e = score.entry(key.clone()).or_insert_with(|| {
                order += 1;
                (0.0, order)
            });
            e.0 += 1.0 / (k + (i + 1) as f32);
        }
    }
    let mut fused: Vec<(K, f32, usize)> = score.into_iter().map(|(k, (s, o))| (k, s, o)).collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    fused.into_iter().map(|(k, s, _)| (k, s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_beats_a_single_first_place() {
        let fused = rrf(&[vec!["a", "b", "c"], vec!["b", "c", "a"]], RRF_K);
        assert_eq!(fused[0].0, "b");
        let only_one = rrf(&[vec!["x"], vec![]], RRF_K);
        assert_eq!(only_one.len(), 1);
    }
}
