//! Core errors → the exception classes of `memlane.errors` (defined once, in Python).

use memlane_core::Error;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

static VALIDATION: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static NOT_FOUND: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static STORE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static MEMLANE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Converts a core error into the matching `memlane.errors` exception.
pub(crate) fn to_py(err: Error) -> PyErr {
    Python::attach(|py| {
        let (cell, name) = match &err {
            Error::Validation(_) => (&VALIDATION, "ValidationError"),
            Error::NotFound(_) => (&NOT_FOUND, "MemoryNotFoundError"),
            Error::Store(_) => (&STORE, "StoreError"),
            Error::Closed => (&MEMLANE, "MemlaneError"),
        };
        match cell.import(py, "memlane.errors", name) {
            Ok(class) => match class.call1((err.to_string(),)) {
                Ok(instance) => PyErr::from_value(instance),
                Err(e) => e,
            },
            Err(e) => e,
        }
    })
}

/// `?`-friendly: `result.map_err(to_py)`.
pub(crate) trait IntoPyResult<T> {
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, Error> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
