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
//! a snapshot of the current generation that holds exactly the stored rows is used as
//! is. A readable snapshot of an older generation (the process died, or was killed,
//! after writes it could not save) is brought up to date instead of thrown away: every
//! stored row is compared with the graph's copy, and the missing or changed ones are
//! inserted and the vanished ones removed, so the result holds exactly the stored rows
//! whatever the snapshot held; when more than [`REPLAY_MAX_SHARE`] of the rows differ
//! a fresh build is cheaper and gives the better graph. A missing, corrupt, foreign-format
//! or wrong-dimension snapshot means a rebuild from SQLite, never trust.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::index::{HnswIndex, HnswParams, Metric, EXACT_SCAN_MAX_KEYS};
use crate::state::{Slot, State};
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

/// A stale snapshot is brought up to date when at most this share of the stored rows
/// must be inserted, replaced or removed; beyond, the graph is rebuilt (inserting half
/// the rows costs about half a build, and a graph that lost most of its nodes routes
/// worse than a new one).
pub const REPLAY_MAX_SHARE: f64 = 0.5;

/// Largest difference, per component, between a stored unit vector and the graph's copy
/// of the same row that still counts as the same vector (the graph normalises again,
/// which may move the last bit; a changed embedding moves far more).
const SAME_VECTOR_TOLERANCE: f32 = 1e-5;

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

/// The graph key and state slot of every stored memory (None if a rowid does not fit a
/// key).
fn keyed_slots(state: &State) -> Option<Vec<(u32, Slot)>> {
    state
        .all_slots()
        .filter_map(|slot| {
            state
                .record(slot)
                .map(|r| key_of(r.seq).map(|key| (key, slot)))
        })
        .collect()
}

/// Builds a graph over every memory in `state` (None if a rowid does not fit a key).
pub(crate) fn build(state: &State) -> Result<Option<HnswIndex>> {
    let Some(rows) = keyed_slots(state) else {
        return Ok(None);
    };
    let index = HnswIndex::new(HnswParams::new(state.dims, Metric::Cosine))?;
    let mut keys = Vec::with_capacity(rows.len());
    let mut vectors = Vec::with_capacity(rows.len() * state.dims);
    for (key, slot) in rows {
        keys.push(key);
        vectors.extend_from_slice(state.vector(slot));
    }
    index.insert_batch(&keys, &vectors, BUILD_THREADS)?;
    Ok(Some(index))
}

/// The saved graph, if it can be read and is a cosine graph of `state`'s dimension,
/// with the generation it was saved at.
fn read_snapshot(db: &Path, state: &State) -> Option<(HnswIndex, u64)> {
    let file = File::open(snapshot_path(db)).ok()?;
    let (index, tag) = HnswIndex::load(BufReader::new(file), Some(state.dims)).ok()?;
    // The engine's graphs are cosine; another metric is some other program's file.
    (index.params().metric == Metric::Cosine).then_some((index, tag))
}

/// True if `index` holds exactly one key per stored row (assumed current otherwise).
fn covers_every_row(index: &HnswIndex, state: &State) -> bool {
    index.len() == state.len()
        && state.all_slots().all(|slot| {
            state
                .record(slot)
                .and_then(|r| key_of(r.seq))
                .is_some_and(|key| index.contains(key))
        })
}

/// Brings a stale graph up to date with `state`: inserts the rows it lacks or holds
/// with another vector, removes the keys no row has. Returns false (leaving `index`
/// unusable) when a rowid does not fit a key or too many rows differ.
fn replay(index: &HnswIndex, state: &State) -> Result<bool> {
    let Some(rows) = keyed_slots(state) else {
        return Ok(false);
    };
    let stored: HashSet<u32> = rows.iter().map(|&(key, _)| key).collect();
    let mut keys = Vec::new();
    let mut vectors = Vec::new();
    for (key, slot) in rows {
        let vector = state.vector(slot);
        let same = index.vector(key).is_some_and(|old| {
            old.iter()
                .zip(vector)
                .all(|(a, b)| (a - b).abs() <= SAME_VECTOR_TOLERANCE)
        });
        if !same {
            keys.push(key);
            vectors.extend_from_slice(vector);
        }
    }
    let vanished: Vec<u32> = index
        .keys()
        .into_iter()
        .filter(|k| !stored.contains(k))
        .collect();
    let changes = keys.len() + vanished.len();
    if changes as f64 > REPLAY_MAX_SHARE * state.len().max(1) as f64 {
        return Ok(false);
    }
    index.remove_batch(&vanished);
    index.insert_batch(&keys, &vectors, BUILD_THREADS)?;
    Ok(true)
}

/// How the approximate index of an open store came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexOrigin {
    /// The store is too small to need one (or holds no vectors).
    None,
    /// Loaded from a current snapshot.
    Loaded,
    /// Loaded from an older snapshot and brought up to date with SQLite.
    Replayed,
    /// Built from SQLite (no usable snapshot).
    Built,
}

/// The graph for a freshly opened store: loaded if current, brought up to date if
/// stale, else built; none for a store too small to need one.
pub(crate) fn open(
    db: &Path,
    state: &State,
    generation: u64,
    min_memories: usize,
) -> Result<(Option<Arc<HnswIndex>>, IndexOrigin)> {
    if state.len() < min_memories || state.dims == 0 {
        return Ok((None, IndexOrigin::None));
    }
    if let Some((index, tag)) = read_snapshot(db, state) {
        if tag == generation && covers_every_row(&index, state) {
            return Ok((Some(Arc::new(index)), IndexOrigin::Loaded));
        }
        // A failed replay leaves the build below to report whatever is wrong.
        if matches!(replay(&index, state), Ok(true)) {
            return Ok((Some(Arc::new(index)), IndexOrigin::Replayed));
        }
    }
    // The snapshot is unusable: remove it now, so a crash before the next clean close
    // does not make the next open read it again.
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
