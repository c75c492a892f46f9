//! `Store`: an open embedded store, every operation an awaitable.

use std::path::PathBuf;
use std::sync::Mutex;

use memlane_core::{Engine, Error, Filter, IndexOrigin, SearchMode};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::bridge;
use crate::convert::{History, Hits, Outcomes, Record, Records};
use crate::errors::{to_py, IntoPyResult};
use crate::ops::{parse_ops, vector_from_bytes};

/// An open store. Methods return awaitables; `close()` releases it.
#[pyclass(module = "memlane._native", frozen)]
pub(crate) struct Store {
    engine: Mutex<Option<Engine>>,
}

impl Store {
    fn engine(&self) -> PyResult<Engine> {
        self.engine
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| to_py(Error::Closed))
    }
}

fn parse_filter(filters_json: Option<&str>) -> PyResult<Filter> {
    Filter::from_json_str(filters_json.unwrap_or("")).py_err()
}

fn check_limit(limit: i64) -> PyResult<usize> {
    usize::try_from(limit)
        .ok()
        .filter(|&l| l > 0)
        .ok_or_else(|| {
            to_py(Error::invalid(format!(
                "limit must be a positive integer, got {limit}"
            )))
        })
}

#[pymethods]
impl Store {
    /// Opens (or creates) the store file at `path`. Blocking; the GIL is released.
    #[new]
    #[pyo3(signature = (path, dims=None, index_min_memories=memlane_core::DEFAULT_INDEX_MIN_MEMORIES))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        dims: Option<usize>,
        index_min_memories: usize,
    ) -> PyResult<Self> {
        bridge::install_exit_hook(py)?;
        let engine = py
            .detach(|| Engine::open_with(&path, dims, index_min_memories))
            .py_err()?;
        Ok(Store {
            engine: Mutex::new(Some(engine)),
        })
    }

    /// `Store(path, ...)` as an awaitable: the open (which may load or build the graph
    /// of a large store) runs on the blocking pool, off the event loop.
    #[staticmethod]
    #[pyo3(signature = (path, dims=None, index_min_memories=memlane_core::DEFAULT_INDEX_MIN_MEMORIES))]
    fn open(
        py: Python<'_>,
        path: PathBuf,
        dims: Option<usize>,
        index_min_memories: usize,
    ) -> PyResult<Bound<'_, PyAny>> {
        bridge::install_exit_hook(py)?;
        bridge::spawn_blocking(py, move || {
            let engine = Engine::open_with(&path, dims, index_min_memories).py_err()?;
            Ok(Store {
                engine: Mutex::new(Some(engine)),
            })
        })
    }

    /// The database file.
    #[getter]
    fn path(&self) -> PyResult<PathBuf> {
        Ok(self.engine()?.path().to_owned())
    }

    /// The vector length, once known.
    #[getter]
    fn dims(&self) -> PyResult<Option<usize>> {
        Ok(self.engine()?.dims())
    }

    /// How the approximate index was obtained at open: "none" (store too small),
    /// "loaded" (from a current snapshot) or "built" (from SQLite).
    #[getter]
    fn index_origin(&self) -> PyResult<&'static str> {
        Ok(match self.engine()?.index_origin() {
            IndexOrigin::None => "none",
            IndexOrigin::Loaded => "loaded",
            IndexOrigin::Replayed => "replayed",
            IndexOrigin::Built => "built",
        })
    }

    /// Number of memories stored.
    fn count(&self) -> PyResult<usize> {
        Ok(self.engine()?.len())
    }

    /// Applies op tuples atomically; resolves to one result per op.
    fn apply<'py>(
        &self,
        py: Python<'py>,
        ops: Vec<Bound<'py, PyTuple>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.engine()?;
        let ops = parse_ops(ops)?;
        bridge::spawn(
            py,
            async move { engine.apply(ops).await.map(Outcomes).py_err() },
        )
    }

    fn get<'py>(&self, py: Python<'py>, memory_id: String) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.engine()?;
        bridge::spawn_blocking(py, move || engine.get(&memory_id).map(Record).py_err())
    }

    #[pyo3(signature = (filters_json, limit))]
    fn list<'py>(
        &self,
        py: Python<'py>,
        filters_json: Option<&str>,
        limit: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.engine()?;
        let filter = parse_filter(filters_json)?;
        let limit = check_limit(limit)?;
        bridge::spawn_blocking(py, move || Ok(Records(engine.list(&filter, limit))))
    }

    /// Search; `mode` is "semantic", "keyword" or "hybrid" (weighted by
    /// `semantic_weight`); hits scoring below `threshold` are dropped.
    #[pyo3(signature = (vector, text, filters_json, limit, threshold=None, mode="hybrid", semantic_weight=0.6))]
    #[allow(clippy::too_many_arguments)] // mirrors the Python signature one to one
    fn search<'py>(
        &self,
        py: Python<'py>,
        vector: Option<&[u8]>,
        text: String,
        filters_json: Option<&str>,
        limit: i64,
        threshold: Option<f32>,
        mode: &str,
        semantic_weight: f32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.engine()?;
        let filter = parse_filter(filters_json)?;
        let limit = check_limit(limit)?;
        let vector = vector.map(vector_from_bytes).transpose().py_err()?;
        let mode = match mode {
            "semantic" => SearchMode::Semantic,
            "keyword" => SearchMode::Keyword,
            "hybrid" => SearchMode::Hybrid { semantic_weight },
            other => return Err(Error::invalid(format!("unknown search mode {other:?}"))).py_err(),
        };
        bridge::spawn_blocking(py, move || {
            engine
                .search(vector.as_deref(), &text, &filter, limit, threshold, mode)
                .map(Hits)
                .py_err()
        })
    }

    fn history<'py>(&self, py: Python<'py>, memory_id: String) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.engine()?;
        bridge::spawn_blocking(py, move || engine.history(&memory_id).map(History).py_err())
    }

    /// Releases the store; resolves once this handle is gone. Idempotent.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.engine.lock().unwrap_or_else(|e| e.into_inner()).take();
        // The last handle's drop joins the writer thread: keep that off the loop.
        bridge::spawn_blocking(py, move || {
            drop(engine);
            Ok(())
        })
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.engine
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }
}
