//! `HnswIndex`: the vector index of memlane-core for Python (wrapped by
//! `memlane.index.HnswIndex`, which owns the typed public API and the argument
//! normalisation; this layer takes only C-contiguous numpy arrays of the exact dtype).
//!
//! Inputs are copied out of numpy while attached (so that Python code mutating an
//! array cannot race with Rust reading it), then every build, search and file operation
//! runs with the GIL released (`py.detach`). The class is `frozen` and the core index is
//! `Sync`, so Python threads can search concurrently, and with an `add`.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use memlane_core::index::{self, Candidates, HnswParams, Metric};
use memlane_core::Error;
use numpy::{
    IntoPyArray, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn,
    PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::errors::IntoPyResult;

/// The default seed of the level generator (any fixed value; "memlane3" in ASCII).
const DEFAULT_SEED: u64 = 0x6d65_6d6c_616e_6533;

/// An HNSW index over `u32` ids with exact scan for small id lists.
#[pyclass(name = "HnswIndex", module = "memlane._native", frozen)]
pub(crate) struct HnswIndex {
    inner: index::HnswIndex,
    /// The tag of the snapshot this index was loaded from (0 if built).
    tag: AtomicU64,
}

fn contiguous<'a, T: numpy::Element>(
    a: &'a PyReadonlyArray1<'_, T>,
    what: &str,
) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| Error::invalid(format!("{what} must be C-contiguous")))
        .py_err()
}

fn matrix<'a>(a: &'a PyReadonlyArray2<'_, f32>, what: &str) -> PyResult<(&'a [f32], usize, usize)> {
    let shape = a.shape();
    let data = a
        .as_slice()
        .map_err(|_| Error::invalid(format!("{what} must be C-contiguous")))
        .py_err()?;
    Ok((data, shape[0], shape[1]))
}

#[pymethods]
impl HnswIndex {
    #[new]
    #[pyo3(signature = (dims, metric="cosine", m=16, ef_construction=200, ef_search=64, seed=DEFAULT_SEED))]
    fn new(
        dims: usize,
        metric: &str,
        m: usize,
        ef_construction: usize,
        ef_search: usize,
        seed: u64,
    ) -> PyResult<Self> {
        let params = HnswParams {
            dims,
            metric: metric.parse::<Metric>().py_err()?,
            m,
            ef_construction,
            ef_search,
            seed,
        };
        Ok(HnswIndex {
            inner: index::HnswIndex::new(params).py_err()?,
            tag: AtomicU64::new(0),
        })
    }

    /// Inserts (or replaces) vectors under ids; `num_threads = 0` uses every core.
    #[pyo3(signature = (ids, vectors, num_threads=0))]
    fn add(
        &self,
        py: Python<'_>,
        ids: PyReadonlyArray1<'_, u32>,
        vectors: PyReadonlyArray2<'_, f32>,
        num_threads: usize,
    ) -> PyResult<()> {
        let ids = contiguous(&ids, "ids")?.to_vec();
        let (data, rows, cols) = matrix(&vectors, "vectors")?;
        if rows != ids.len() || cols != self.inner.params().dims {
            return Err(Error::invalid(format!(
                "vectors has shape ({rows}, {cols}), expected ({}, {})",
                ids.len(),
                self.inner.params().dims
            )))
            .py_err();
        }
        let data = data.to_vec();
        py.detach(|| self.inner.insert_batch(&ids, &data, num_threads))
            .py_err()
    }

    /// The `k` best ids and scores (higher is better) per query, as two arrays of
    /// shape (k,) for one query of shape (dims,), or (nq, k) for queries of shape
    /// (nq, dims); padded with id -1 and score -inf where fewer than `k` exist. With
    /// `allowed`, only those ids are eligible (the planner scans short lists exactly).
    #[pyo3(signature = (queries, k, ef=0, allowed=None, num_threads=1))]
    #[allow(clippy::type_complexity)]
    fn search<'py>(
        &self,
        py: Python<'py>,
        queries: PyReadonlyArrayDyn<'py, f32>,
        k: usize,
        ef: usize,
        allowed: Option<PyReadonlyArray1<'py, u32>>,
        num_threads: usize,
    ) -> PyResult<(Bound<'py, PyUntypedArray>, Bound<'py, PyUntypedArray>)> {
        let dims = self.inner.params().dims;
        let shape = queries.shape().to_vec();
        let nq = match shape.as_slice() {
            [d] if *d == dims => 1,
            [n, d] if *d == dims => *n,
            _ => {
                return Err(Error::invalid(format!(
                    "queries must have shape ({dims},) or (n, {dims}), got {shape:?}"
                )))
                .py_err()
            }
        };
        // A TypeError (not a ValidationError) so that the Python wrapper converts and
        // retries, as it does for a wrong dtype.
        let data = queries
            .as_slice()
            .map_err(|_| PyTypeError::new_err("queries must be C-contiguous"))?
            .to_vec();
        let allowed: Option<Vec<u32>> = match &allowed {
            Some(a) => Some(
                a.as_slice()
                    .map_err(|_| PyTypeError::new_err("allowed must be C-contiguous"))?
                    .to_vec(),
            ),
            None => None,
        };
        let results = py
            .detach(|| {
                let candidates = allowed.as_deref().map_or(Candidates::All, Candidates::Keys);
                if nq == 1 {
                    self.inner
                        .search_filtered(&data, k, ef, candidates)
                        .map(|hits| vec![hits])
                } else {
                    self.inner
                        .search_batch(&data, k, ef, candidates, num_threads)
                }
            })
            .py_err()?;
        let mut ids = Vec::with_capacity(nq * k);
        let mut scores = Vec::with_capacity(nq * k);
        for hits in &results {
            for j in 0..k {
                match hits.get(j) {
                    Some(h) => {
                        ids.push(i64::from(h.key));
                        scores.push(h.score);
                    }
                    None => {
                        ids.push(-1);
                        scores.push(f32::NEG_INFINITY);
                    }
                }
            }
        }
        let ids = ids.into_pyarray(py);
        let scores = scores.into_pyarray(py);
        if shape.len() == 1 {
            return Ok((ids.into_any().cast_into()?, scores.into_any().cast_into()?));
        }
        let ids = ids.reshape([nq, k])?;
        let scores = scores.reshape([nq, k])?;
        Ok((ids.into_any().cast_into()?, scores.into_any().cast_into()?))
    }

    /// Removes ids; returns how many were present.
    fn remove(&self, py: Python<'_>, ids: PyReadonlyArray1<'_, u32>) -> PyResult<usize> {
        let ids = contiguous(&ids, "ids")?.to_vec();
        Ok(py.detach(|| self.inner.remove_batch(&ids)))
    }

    /// Repairs removed ids out of the graph now (it also happens automatically).
    fn consolidate(&self, py: Python<'_>) {
        py.detach(|| self.inner.consolidate());
    }

    /// Writes a snapshot to `path` atomically (a temporary file renamed over it).
    #[pyo3(signature = (path, tag=0))]
    fn save(&self, py: Python<'_>, path: PathBuf, tag: u64) -> PyResult<()> {
        py.detach(|| -> Result<(), Error> {
            let io =
                |e: std::io::Error| Error::Store(format!("cannot write {}: {e}", path.display()));
            let mut tmp = path.clone().into_os_string();
            tmp.push(".tmp");
            let tmp = PathBuf::from(tmp);
            let file = File::create(&tmp).map_err(io)?;
            let mut w = BufWriter::new(file);
            self.inner.save(&mut w, tag)?;
            w.flush().map_err(io)?;
            w.get_ref().sync_all().map_err(io)?;
            drop(w);
            std::fs::rename(&tmp, &path).map_err(io)
        })
        .py_err()
    }

    /// Reads a snapshot; with `dims`, a snapshot of another dimension is an error.
    #[staticmethod]
    #[pyo3(signature = (path, dims=None))]
    fn load(py: Python<'_>, path: PathBuf, dims: Option<usize>) -> PyResult<Self> {
        let (inner, tag) = py
            .detach(|| {
                let file = File::open(&path)
                    .map_err(|e| Error::Store(format!("cannot open {}: {e}", path.display())))?;
                index::HnswIndex::load(BufReader::new(file), dims)
            })
            .py_err()?;
        Ok(HnswIndex {
            inner,
            tag: AtomicU64::new(tag),
        })
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __contains__(&self, id: i64) -> bool {
        u32::try_from(id).is_ok_and(|id| self.inner.contains(id))
    }

    #[getter]
    fn dims(&self) -> usize {
        self.inner.params().dims
    }

    #[getter]
    fn metric(&self) -> &'static str {
        self.inner.params().metric.as_str()
    }

    #[getter]
    fn m(&self) -> usize {
        self.inner.params().m
    }

    #[getter]
    fn ef_construction(&self) -> usize {
        self.inner.params().ef_construction
    }

    #[getter]
    fn ef_search(&self) -> usize {
        self.inner.params().ef_search
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.inner.params().seed
    }

    #[getter]
    fn tag(&self) -> u64 {
        self.tag.load(Ordering::Relaxed)
    }

    #[getter]
    fn tombstones(&self) -> usize {
        self.inner.tombstones()
    }

    #[getter]
    fn memory_bytes(&self) -> usize {
        self.inner.memory_usage().bytes
    }

    /// The SIMD kernels in use ("avx512f", "avx2+fma", "neon" or "scalar").
    #[getter]
    fn kernels(&self) -> &'static str {
        index::distance::kernels().name()
    }
}
