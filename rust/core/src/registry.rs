//! One engine per database file per process.
//!
//! Mem0-style code often builds several `AsyncMemory()` objects on the default path.
//! They must all see the same data, so a second open of a path already open in this
//! process shares the live engine instead of opening the file again (which the process
//! lock would refuse).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::engine::Inner;
use crate::Result;

static OPEN: OnceLock<Mutex<HashMap<PathBuf, Weak<Inner>>>> = OnceLock::new();

/// Returns the live engine for `path`, or opens one with `open` and remembers it.
pub(crate) fn open_shared(
    path: &Path,
    on_shared: impl FnOnce(&Arc<Inner>) -> Result<()>,
    open: impl FnOnce() -> Result<Arc<Inner>>,
) -> Result<Arc<Inner>> {
    let mut open_engines = OPEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    open_engines.retain(|_, weak| weak.strong_count() > 0);
    if let Some(live) = open_engines.get(path).and_then(Weak::upgrade) {
        on_shared(&live)?;
        return Ok(live);
    }
    let inner = open()?;
    open_engines.insert(path.to_owned(), Arc::downgrade(&inner));
    Ok(inner)
}
