//! `memlane._native`: the Python bindings of memlane-core, the one crate that knows pyo3.
//!
//! Every store call returns an awaitable (pyo3-async-runtimes on tokio): arguments are
//! converted into owned Rust values while attached to the interpreter, the work runs on
//! tokio (or its blocking pool) with the GIL released, and the result is turned into
//! Python objects only at the end.

mod bridge;
mod convert;
mod errors;
mod index;
mod ops;
mod store;

use pyo3::prelude::*;

/// Checks a filter (JSON text) and returns its canonical JSON form (see
/// `memlane_core::filter::canonical`); raises ValidationError naming what is wrong.
#[pyfunction]
fn canonical_filter(filters_json: &str) -> PyResult<String> {
    use errors::IntoPyResult;
    let filter = memlane_core::Filter::from_json_str(filters_json).py_err()?;
    Ok(filter.to_canonical().to_string())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    bridge::configure_runtime();
    m.add_class::<store::Store>()?;
    m.add_class::<index::HnswIndex>()?;
    m.add_function(wrap_pyfunction!(canonical_filter, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
