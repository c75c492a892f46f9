//! The engine: the public face of the core. Reads are answered from the in-memory state;
//! writes are queued to the writer thread and answered once committed.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::ann::{self, IndexOrigin};
use crate::filter::Filter;
use crate::kernels::{check_vector, normalised};
use crate::ops::{Op, Outcome};
use crate::query::{self, Hit, SearchMode, SearchRequest};
use crate::record::{HistoryEvent, MemoryRecord};
use crate::state::State;
use crate::writer::{Job, Writer};
use crate::{registry, store, Error, Result};

/// How long `open` waits for a lock that a closing engine of this process still holds.
const LOCK_WAIT: Duration = Duration::from_secs(3);

/// A handle on an open store. Cheap to clone; the store closes when the last handle
/// (and every operation still running) is gone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    path: PathBuf,
    index_origin: IndexOrigin,
    state: Arc<RwLock<State>>,
    jobs: Option<Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    reader: Option<Mutex<Connection>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The reader closes first, so that the writer, closing last, can checkpoint and
        // remove the WAL file (SQLite only does that on the last connection's close).
        self.reader.take();
        // Closing the channel ends the writer after its current batch; joining it means
        // the file lock is free once the engine is gone.
        self.jobs.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl Engine {
    /// Opens (creating if needed) the store at `path`, a SQLite file.
    ///
    /// `dims` is the embedder's dimension when known; a store that already holds vectors
    /// of another length is refused with [`Error::Validation`]. A path held by another
    /// process is refused with [`Error::Store`].
    pub fn open(path: &Path, dims: Option<usize>) -> Result<Engine> {
        Self::open_with(path, dims, ann::DEFAULT_INDEX_MIN_MEMORIES)
    }

    /// [`Engine::open`], keeping an approximate (HNSW) index once the store holds
    /// `index_min_memories` memories (at least the planner's exact-scan bound). A path
    /// already open in this process keeps the setting it was opened with.
    pub fn open_with(
        path: &Path,
        dims: Option<usize>,
        index_min_memories: usize,
    ) -> Result<Engine> {
        let path = canonical(path)?;
        let check_shared = |inner: &Arc<Inner>| check_dims(&path, inner.dims(), dims);
        let min = ann::threshold(index_min_memories);
        let inner = registry::open_shared(&path, check_shared, || {
            Inner::open(&path, dims, min).map(Arc::new)
        })?;
        Ok(Engine { inner })
    }

    /// The file this engine stores into.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// How the approximate index was obtained when the store was opened.
    pub fn index_origin(&self) -> IndexOrigin {
        self.inner.index_origin
    }

    /// Whether an approximate index currently serves large searches.
    pub fn has_index(&self) -> bool {
        self.inner.read_state().index.is_some()
    }

    /// The vector length of this store, once known.
    pub fn dims(&self) -> Option<usize> {
        self.inner.dims()
    }

    /// Number of memories stored.
    pub fn len(&self) -> usize {
        self.inner.read_state().len()
    }

    /// True when no memory is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies `ops` atomically (all or none) and returns one outcome per op.
    pub async fn apply(&self, ops: Vec<Op>) -> Result<Vec<Outcome>> {
        self.validate(&ops)?;
        let jobs = self.inner.jobs.as_ref().ok_or(Error::Closed)?;
        let (reply, answer) = oneshot::channel();
        jobs.send(Job { ops, reply }).map_err(|_| Error::Closed)?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Checks what can be checked before queueing, so bad input fails fast.
    fn validate(&self, ops: &[Op]) -> Result<()> {
        let dims = self.dims();
        for op in ops {
            let vector = match op {
                Op::Add(new) => Some(&new.vector),
                Op::Update { text, .. } => text.as_ref().map(|(_, v)| v),
                Op::DeleteScope(scope) if scope.is_empty() => {
                    return Err(Error::invalid(
                        "a scope delete needs user_id, agent_id or run_id",
                    ))
                }
                Op::DeleteScope(_) | Op::Reset if ops.len() > 1 => {
                    return Err(Error::invalid(
                        "a scope delete or reset must be the only op of its call",
                    ))
                }
                _ => None,
            };
            if let Some(v) = vector {
                check_vector(v, dims).map_err(Error::Validation)?;
            }
        }
        Ok(())
    }

    /// The memory with this id.
    pub fn get(&self, id: &str) -> Result<Arc<MemoryRecord>> {
        self.inner
            .read_state()
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NotFound(id.to_owned()))
    }

    /// Memories matching `filter`, oldest first, at most `limit`.
    pub fn list(&self, filter: &Filter, limit: usize) -> Vec<Arc<MemoryRecord>> {
        query::list(&self.inner.read_state(), filter, limit)
    }

    /// The `limit` best memories for `text` (and its embedding `vector`, required unless
    /// `mode` is keyword-only) among those matching `filter`, best first, each with its
    /// score in [0, 1]; hits scoring below `threshold` are dropped.
    pub fn search(
        &self,
        vector: Option<&[f32]>,
        text: &str,
        filter: &Filter,
        limit: usize,
        threshold: Option<f32>,
        mode: SearchMode,
    ) -> Result<Vec<Hit>> {
        let state = self.inner.read_state();
        let known = (state.dims != 0).then_some(state.dims);
        let unit = match vector {
            Some(v) => {
                let norm = check_vector(v, known).map_err(Error::Validation)?;
                Some(normalised(v, norm))
            }
            None if matches!(mode, SearchMode::Keyword) => None,
            None => return Err(Error::invalid("this search mode needs the query's vector")),
        };
        if let SearchMode::Hybrid { semantic_weight } = mode {
            if !(0.0..=1.0).contains(&semantic_weight) {
                return Err(Error::invalid("semantic_weight must be between 0 and 1"));
            }
        }
        let request = SearchRequest {
            unit_vector: unit.as_deref(),
            text,
            filter,
            limit,
            threshold,
            mode,
        };
        Ok(query::search(&state, &request))
    }

    /// A memory's history, oldest first (empty for an id never seen). Reads the disk.
    pub fn history(&self, id: &str) -> Result<Vec<HistoryEvent>> {
        let reader = self.inner.reader.as_ref().ok_or(Error::Closed)?;
        let conn = reader.lock().unwrap_or_else(|e| e.into_inner());
        store::history(&conn, id)
    }
}

impl Inner {
    fn open(path: &Path, dims: Option<usize>, index_min_memories: usize) -> Result<Inner> {
        let lock = lock_store(path)?;
        let mut conn = store::open_writer(path)?;
        let stored = store::read_dims(&conn)?;
        check_dims(path, stored, dims)?;
        if let (None, Some(d)) = (stored, dims) {
            store::write_dims(&conn, d)?;
        }
        let mut state = load_state(&mut conn, stored.or(dims).unwrap_or(0))?;
        let generation = store::read_generation(&conn)?;
        let (index, index_origin) = ann::open(path, &state, generation, index_min_memories)?;
        state.index = index;
        let reader = store::open_reader(path)?;
        let state = Arc::new(RwLock::new(state));
        let (jobs, receiver) = mpsc::channel();
        let writer = Writer {
            conn,
            path: path.to_owned(),
            generation,
            snapshot_generation: (index_origin == IndexOrigin::Loaded).then_some(generation),
            index_min_memories,
            state: Arc::clone(&state),
            jobs: receiver,
            _lock: lock,
        };
        let writer = std::thread::Builder::new()
            .name("memlane-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| Error::Store(format!("cannot start the writer thread: {e}")))?;
        Ok(Inner {
            path: path.to_owned(),
            index_origin,
            state,
            jobs: Some(jobs),
            writer: Some(writer),
            reader: Some(Mutex::new(reader)),
        })
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn dims(&self) -> Option<usize> {
        let dims = self.read_state().dims;
        (dims != 0).then_some(dims)
    }
}

/// Builds the in-memory state row by row (no second copy of every vector).
fn load_state(conn: &mut Connection, dims: usize) -> Result<State> {
    let mut state = State::new(dims);
    state.reserve(store::count(conn)?);
    store::for_each_memory(conn, |record, vector| {
        let expected = (state.dims != 0).then_some(state.dims);
        let norm = check_vector(vector, expected).map_err(|e| {
            Error::Store(format!(
                "stored vector of memory {} is corrupt: {e}",
                record.id
            ))
        })?;
        state.insert(Arc::new(record), &normalised(vector, norm));
        Ok(())
    })?;
    Ok(state)
}

fn check_dims(path: &Path, stored: Option<usize>, wanted: Option<usize>) -> Result<()> {
    match (stored, wanted) {
        (Some(s), Some(w)) if s != w => Err(Error::invalid(format!(
            "the store at {} holds {s}-dimensional vectors but the embedder makes {w}-dimensional ones; \
             use the embedder the store was made with, or another path or collection",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// The absolute path of the database file, creating its folder. An existing file is
/// resolved through symlinks, so two spellings of one file share one engine and lock.
fn canonical(path: &Path) -> Result<PathBuf> {
    if let Ok(resolved) = path.canonicalize() {
        return Ok(resolved);
    }
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::invalid(format!("store path {} names no file", path.display())))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| {
        Error::Store(format!(
            "cannot create the store folder {}: {e}",
            parent.display()
        ))
    })?;
    let parent = parent.canonicalize().map_err(|e| {
        Error::Store(format!(
            "cannot resolve the store folder {}: {e}",
            parent.display()
        ))
    })?;
    Ok(parent.join(file_name))
}

/// Takes the store's process lock: one process writes a store at a time, so the
/// in-memory view can never go stale behind another writer's back. The OS drops the
/// lock when its holder exits, even by `kill -9`.
fn lock_store(path: &Path) -> Result<File> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::Store(format!("cannot create the lock file {lock_path:?}: {e}")))?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            // An engine of this process that is closing may still hold it for a moment.
            Err(TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(Error::Store(format!(
                    "the store at {} is in use by another process; an embedded store serves one process at a time \
                     (close the other one, or use the postgres store to share memories between processes)",
                    path.display()
                )))
            }
            Err(TryLockError::Error(e)) => {
                return Err(Error::Store(format!("cannot lock {lock_path:?}: {e}")))
            }
        }
    }
}
