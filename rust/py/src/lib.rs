//! `memlane._native`: the Python bindings of memlane-core, the one crate that knows pyo3.
//!
//! Every store call returns an awaitable (pyo3-async-runtimes on tokio): arguments are
//! converted into owned Rust values while attached to the interpreter, the work runs on
//! tokio (or its blocking pool) with the GIL released, and the result is turned into
//! Python objects only at the end.

mod convert;
mod errors;
mod ops;
mod store;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<store::Store>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
