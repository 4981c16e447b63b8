//! The approximate-nearest-neighbour index behind a small trait, so arroy can be swapped for
//! hannoy (its HNSW successor on the same heed) without touching the store. Items are `u32`
//! ids; results are `(id, cosine similarity)`, best first.
use std::num::NonZeroUsize;

use arroy::distances::Cosine;
use heed::{RoTxn, RwTxn};
use rand::SeedableRng;

/// Search budget multiplier: arroy inspects `count * n_trees * SEARCH_BUDGET` nodes. The
/// default (1) gave recall@10 of about 0.5 on 768-d vectors; `tai`'s knowledge benchmark
/// (`cargo bench --bench knowledge`, BENCHMARKS.md) picked this value for recall@10 >= 0.95.
pub const SEARCH_BUDGET: usize = 15;

/// Trees per index. arroy's automatic choice grows with the collection (259 trees for 100k
/// 768-d vectors: a 668 MiB store and minutes to build on 2 cores); a fixed forest keeps the
/// store and build time bounded, and [`SEARCH_BUDGET`] buys the recall back at query time.
pub const N_TREES: usize = 32;

/// What the store needs from a vector index.
pub trait VectorIndex {
    /// Insert or replace one item's vector (takes effect after [`VectorIndex::build`]).
    fn put(&self, wtxn: &mut RwTxn, id: u32, vector: &[f32]) -> Result<(), VectorError>;
    /// Remove one item (no error when absent).
    fn delete(&self, wtxn: &mut RwTxn, id: u32) -> Result<(), VectorError>;
    /// Remove every item.
    fn clear(&self, wtxn: &mut RwTxn) -> Result<(), VectorError>;
    /// Make pending changes searchable.
    fn build(&self, wtxn: &mut RwTxn) -> Result<(), VectorError>;
    /// The ids of every searchable item.
    fn ids(&self, rtxn: &RoTxn) -> Result<Vec<u32>, VectorError>;
    /// The `k` nearest items to `query` as `(id, cosine similarity)`, best first.
    fn search(&self, rtxn: &RoTxn, query: &[f32], k: usize)
        -> Result<Vec<(u32, f32)>, VectorError>;
    /// The vector width, fixed per index.
    fn dimensions(&self) -> usize;
}

/// arroy 0.9 cosine trees in one heed database; `index` separates collections within it.
#[derive(Debug, Clone, Copy)]
pub struct ArroyIndex {
    pub db: arroy::Database<'static, Cosine>,
    pub index: u16,
    pub dims: usize,
    /// Multiplier on arroy's default search budget (see [`SEARCH_BUDGET`]).
    pub budget: usize,
    /// Fixed seed: tree building is reproducible.
    pub seed: u64,
}

/// What failed in the vector index.
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    #[error("vector index: {0}")]
    Arroy(#[from] arroy::Error),
    #[error("{what} vector has {got} dimensions, the index has {want} (vectors from another embedding model?)")]
    Dimensions {
        what: &'static str,
        got: usize,
        want: usize,
    },
}

fn err(e: arroy::Error) -> VectorError {
    VectorError::Arroy(e)
}

impl ArroyIndex {
    pub fn new(db: arroy::Database<'static, Cosine>, index: u16, dims: usize) -> Self {
        Self {
            db,
            index,
            dims,
            budget: SEARCH_BUDGET,
            seed: 0x7a1,
        }
    }

    fn writer(&self) -> arroy::Writer<Cosine> {
        arroy::Writer::new(self.db, self.index, self.dims)
    }

    /// Build with an explicit number of trees (benchmarks); `None` lets arroy choose.
    pub fn build_with(&self, wtxn: &mut RwTxn, n_trees: Option<usize>) -> Result<(), VectorError> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.seed);
        let w = self.writer();
        let mut b = w.builder(&mut rng);
        if let Some(n) = n_trees {
            b.n_trees(n);
        }
        b.build(wtxn).map_err(err)
    }

    /// Search with an explicit budget multiplier (benchmarks).
    pub fn search_with_budget(
        &self,
        rtxn: &RoTxn,
        query: &[f32],
        k: usize,
        budget: usize,
    ) -> Result<Vec<(u32, f32)>, VectorError> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let reader = match arroy::Reader::<Cosine>::open(rtxn, self.index, self.db) {
            Ok(r) => r,
            Err(arroy::Error::MissingMetadata(_)) => return Ok(Vec::new()),
            Err(e) => return Err(err(e)),
        };
        if reader.dimensions() != query.len() {
            return Err(VectorError::Dimensions {
                what: "query",
                got: query.len(),
                want: reader.dimensions(),
            });
        }
        let mut q = reader.nns(k);
        let trees = reader.n_trees().max(1);
        if let Some(sk) = NonZeroUsize::new(k * trees * budget.max(1)) {
            q.search_k(sk);
        }
        let found = q.by_vector(rtxn, query).map_err(err)?;
        // arroy's cosine distance is (1 - cos) / 2.
        Ok(found
            .into_iter()
            .map(|(id, d)| (id, 1.0 - 2.0 * d))
            .collect())
    }
}

impl VectorIndex for ArroyIndex {
    fn put(&self, wtxn: &mut RwTxn, id: u32, vector: &[f32]) -> Result<(), VectorError> {
        if vector.len() != self.dims {
            return Err(VectorError::Dimensions {
                what: "the",
                got: vector.len(),
                want: self.dims,
            });
        }
        self.writer().add_item(wtxn, id, vector).map_err(err)
    }

    fn delete(&self, wtxn: &mut RwTxn, id: u32) -> Result<(), VectorError> {
        self.writer().del_item(wtxn, id).map(|_| ()).map_err(err)
    }

    fn clear(&self, wtxn: &mut RwTxn) -> Result<(), VectorError> {
        self.writer().clear(wtxn).map_err(err)
    }

    fn build(&self, wtxn: &mut RwTxn) -> Result<(), VectorError> {
        let w = self.writer();
        if !w.need_build(wtxn).map_err(err)? {
            return Ok(());
        }
        self.build_with(wtxn, Some(N_TREES))
    }

    fn ids(&self, rtxn: &RoTxn) -> Result<Vec<u32>, VectorError> {
        match arroy::Reader::<Cosine>::open(rtxn, self.index, self.db) {
            Ok(r) => Ok(r.item_ids().iter().collect()),
            Err(arroy::Error::MissingMetadata(_)) => Ok(Vec::new()),
            Err(e) => Err(err(e)),
        }
    }

    fn search(
        &self,
        rtxn: &RoTxn,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<(u32, f32)>, VectorError> {
        self.search_with_budget(rtxn, query, k, self.budget)
    }

    fn dimensions(&self) -> usize {
        self.dims
    }
}
