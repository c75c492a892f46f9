//! The engine's approximate index: when it exists, how it is kept, saved and restored.
//!
//! Stores below [`DEFAULT_INDEX_MIN_MEMORIES`] (configurable) have no graph at all: every
//! search there is an exact scan. Scoped searches scan exactly anyway (a scope rarely
//! holds more than `index::EXACT_SCAN_MAX_KEYS` memories), and an unscoped scan of
//! 32,768 vectors of 384 floats costs a few milliseconds, so small and medium stores pay
//! neither the memory (about 1.5x the vectors) nor the insert cost of HNSW. Above it, the
//! graph is keyed by each memory's SQLite rowid (`seq`), which is stable across opens,
//! unlike the in-memory slots. The graph is a derived cache: it is only ever used to
//! propose candidates, whose scores are then computed exactly from the stored vectors.
//!
//! Persistence (design decision 1): at a clean close the graph is saved beside the
//! database with the store's generation (a counter every committed write bumps). On open
//! it is loaded only if that generation is current and it holds exactly the stored rows;
//! anything else (missing, stale, corrupt, foreign, wrong dimension) means a rebuild
//! from SQLite, never trust.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::index::{HnswIndex, HnswParams, Metric, EXACT_SCAN_MAX_KEYS};
use crate::state::State;
use crate::{Error, Result};

/// Fewer memories than this: no graph, exact scans only (never below the planner's
/// exact-scan bound, under which a graph would not be used).
pub const DEFAULT_INDEX_MIN_MEMORIES: usize = 32_768;

/// The effective threshold for a configured one.
pub(crate) fn threshold(configured: usize) -> usize {
    configured.max(EXACT_SCAN_MAX_KEYS)
}
/// Threads used to build the graph in one go (the machines we target have two cores).
const BUILD_THREADS: usize = 2;

/// Where the graph of the database at `db` is saved.
pub(crate) fn snapshot_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".hnsw");
    PathBuf::from(name)
}

/// The graph key of a memory: its rowid, when it fits.
pub(crate) fn key_of(seq: i64) -> Option<u32> {
    u32::try_from(seq).ok()
}

/// Builds a graph over every memory in `state` (None if a rowid does not fit a key).
pub(crate) fn build(state: &State) -> Result<Option<HnswIndex>> {
    let index = HnswIndex::new(HnswParams::new(state.dims, Metric::Cosine))?;
    let mut keys = Vec::with_capacity(state.len());
    let mut vectors = Vec::with_capacity(state.len() * state.dims);
    for slot in state.all_slots() {
        let Some(record) = state.record(slot) else {
            continue;
        };
        let Some(key) = key_of(record.seq) else {
            return Ok(None);
        };
        keys.push(key);
        vectors.extend_from_slice(state.vector(slot));
    }
    index.insert_batch(&keys, &vectors, BUILD_THREADS)?;
    Ok(Some(index))
}

/// The saved graph, if it describes exactly `generation` and the rows of `state`.
pub(crate) fn load(db: &Path, state: &State, generation: u64) -> Option<HnswIndex> {
    let file = File::open(snapshot_path(db)).ok()?;
    let (index, tag) = HnswIndex::load(BufReader::new(file), Some(state.dims)).ok()?;
    let covers_every_row = index.len() == state.len()
        && state.all_slots().all(|slot| {
            state
                .record(slot)
                .and_then(|r| key_of(r.seq))
                .is_some_and(|key| index.contains(key))
        });
    (tag == generation && covers_every_row).then_some(index)
}

/// How the approximate index of an open store came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexOrigin {
    /// The store is too small to need one (or holds no vectors).
    None,
    /// Loaded from a current snapshot.
    Loaded,
    /// Built from SQLite (no usable snapshot).
    Built,
}

/// The graph for a freshly opened store: loaded if current, else built; none for a
/// store too small to need one.
pub(crate) fn open(
    db: &Path,
    state: &State,
    generation: u64,
    min_memories: usize,
) -> Result<(Option<Arc<HnswIndex>>, IndexOrigin)> {
    if state.len() < min_memories || state.dims == 0 {
        return Ok((None, IndexOrigin::None));
    }
    if let Some(index) = load(db, state, generation) {
        return Ok((Some(Arc::new(index)), IndexOrigin::Loaded));
    }
    // The snapshot is unusable: remove it now, so a crash before the next clean close
    // cannot leave a file that looks current.
    let _ = std::fs::remove_file(snapshot_path(db));
    let built = build(state)?.map(Arc::new);
    let origin = if built.is_some() {
        IndexOrigin::Built
    } else {
        IndexOrigin::None
    };
    Ok((built, origin))
}

/// Saves the graph atomically (temporary file, fsync, rename).
pub(crate) fn save(db: &Path, index: &HnswIndex, generation: u64) -> Result<()> {
    let path = snapshot_path(db);
    let mut temporary = path.clone().into_os_string();
    temporary.push(".tmp");
    let io = |e: std::io::Error| Error::Store(format!("cannot save the index snapshot: {e}"));
    let file = File::create(&temporary).map_err(io)?;
    let mut writer = BufWriter::new(file);
    index.save(&mut writer, generation)?;
    writer.flush().map_err(io)?;
    writer.get_ref().sync_all().map_err(io)?;
    std::fs::rename(&temporary, &path).map_err(io)?;
    Ok(())
}
