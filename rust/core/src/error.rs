//! The one error type of the core. The bindings map each variant to one Python exception.

/// What can go wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input from the caller: nothing was read or changed.
    #[error("{0}")]
    Validation(String),
    /// A memory id that does not exist.
    #[error("memory {0:?} not found")]
    NotFound(String),
    /// The database failed (I/O, disk full, locked, corrupt).
    #[error("{0}")]
    Store(String),
    /// The engine was closed (or is shutting down).
    #[error("the store is closed")]
    Closed,
}

/// Result with the core's error.
pub type Result<T> = std::result::Result<T, Error>;

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        Error::Store(format!("SQLite error: {err}"))
    }
}

impl Error {
    /// Shorthand for a validation error.
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Validation(msg.into())
    }
}
