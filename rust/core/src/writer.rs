//! The single writer: one thread owns the read-write connection and applies every change.
//!
//! Group commit: jobs that arrive while a transaction is being written wait in the
//! channel; the writer then takes all of them (up to [`MAX_BATCH`]) into ONE transaction
//! and ONE fsync, each job inside its own savepoint so that a failing job rolls back
//! alone. Jobs in one batch never touch the same memory (a conflicting job waits for the
//! next batch), so each sees exactly the committed state. Only after the commit succeeds
//! is the in-memory state updated and each caller answered: an acknowledged write is on
//! disk, and readers never see a change that could still roll back.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, RwLock};

use md5::{Digest, Md5};
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::filter::Filter;
use crate::kernels::{check_vector, normalised};
use crate::ops::{NewMemory, Op, Outcome, Scope};
use crate::record::{Field, HistoryEvent, MemoryRecord};
use crate::state::State;
use crate::time::now_iso;
use crate::{ann, query, store, Error, Result};

/// Most jobs one transaction takes; bounds the latency a job can add to its batch-mates.
const MAX_BATCH: usize = 512;

/// A list of ops to apply atomically, and where to send the answer.
pub(crate) struct Job {
    pub(crate) ops: Vec<Op>,
    pub(crate) reply: oneshot::Sender<Result<Vec<Outcome>>>,
}

/// A change to the in-memory state, applied once the transaction has committed.
enum Change {
    Insert(Arc<MemoryRecord>, Vec<f32>),
    Replace(Arc<MemoryRecord>, Option<Vec<f32>>),
    Remove(String),
    Clear,
}

/// A change to the approximate index, keyed by rowid (applied after the state's).
enum IndexChange {
    Upsert(u32, Vec<f32>),
    Remove(u32),
}

pub(crate) struct Writer {
    pub(crate) conn: Connection,
    /// The database file (the index snapshot is saved beside it).
    pub(crate) path: std::path::PathBuf,
    /// Committed writes so far (the store's generation, see `ann.rs`).
    pub(crate) generation: u64,
    /// The generation of the snapshot on disk, when it is known to be current for it
    /// (loaded at open, or saved since): closing then has nothing to save.
    pub(crate) snapshot_generation: Option<u64>,
    /// Store size from which the approximate index is kept.
    pub(crate) index_min_memories: usize,
    pub(crate) state: Arc<RwLock<State>>,
    pub(crate) jobs: Receiver<Job>,
    /// Held for the writer's lifetime: the OS releases it when the process dies.
    pub(crate) _lock: File,
}

impl Writer {
    pub(crate) fn run(mut self) {
        let mut carried: Option<Job> = None;
        loop {
            let first = match carried.take() {
                Some(job) => job,
                None => match self.jobs.recv() {
                    Ok(job) => job,
                    Err(_) => {
                        // Every sender dropped: the engine is closed. Fold the WAL into the
                        // database so that the file is removed when the connection closes.
                        let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
                        self.save_index();
                        return;
                    }
                },
            };
            let (batch, next) = self.gather(first);
            carried = next;
            self.commit(batch);
        }
    }

    /// Collects jobs that can share a transaction with `first`; returns the first job
    /// that cannot, to start the next batch.
    fn gather(&self, first: Job) -> (Vec<Job>, Option<Job>) {
        let mut touched: HashSet<String> = HashSet::new();
        let Some(ids) = touched_ids(&first) else {
            return (vec![first], None);
        };
        touched.extend(ids);
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            let job = match self.jobs.try_recv() {
                Ok(job) => job,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            };
            match touched_ids(&job) {
                Some(ids) if ids.iter().all(|id| !touched.contains(id)) => {
                    touched.extend(ids);
                    batch.push(job);
                }
                _ => return (batch, Some(job)),
            }
        }
        (batch, None)
    }

    /// Saves the approximate index for the next open (best effort: without it the next
    /// open rebuilds the graph from SQLite, nothing is lost).
    fn save_index(&mut self) {
        if self.snapshot_generation == Some(self.generation) {
            return; // nothing written since the snapshot was loaded or saved
        }
        let index = self
            .state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .index
            .clone();
        if let Some(index) = index {
            if ann::save(&self.path, &index, self.generation).is_ok() {
                self.snapshot_generation = Some(self.generation);
            }
        }
    }

    /// Brings the approximate index up to date with the committed state, building it
    /// once the store grows past the size where it pays off.
    fn update_index(&self, changes: Vec<IndexChange>) {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        if let Some(index) = state.index.clone() {
            drop(state); // the index locks internally; readers keep searching meanwhile
            for change in changes {
                // A failure leaves the graph without this vector: searches still rescore
                // every candidate exactly, and the next rebuild includes it.
                let _ = match change {
                    IndexChange::Upsert(key, unit) => index.insert(key, &unit).map(|_| true),
                    IndexChange::Remove(key) => Ok(index.remove(key)),
                };
            }
        } else if state.len() >= self.index_min_memories && state.dims != 0 {
            let built = ann::build(&state).ok().flatten().map(Arc::new);
            drop(state);
            self.state.write().unwrap_or_else(|e| e.into_inner()).index = built;
        }
    }

    fn commit(&mut self, batch: Vec<Job>) {
        let mut results = Vec::with_capacity(batch.len());
        let mut changes = Vec::new();
        let mut index_changes = Vec::new();
        let outcome = (|| -> Result<()> {
            let state = self.state.read().unwrap_or_else(|e| e.into_inner());
            let mut dims = state.dims;
            let mut tx = self.conn.transaction()?;
            for job in &batch {
                let mut job_dims = dims;
                let sp = tx.savepoint()?;
                match apply_ops(&sp, &state, &mut job_dims, &job.ops) {
                    Ok((outcomes, job_changes)) => {
                        sp.commit()?;
                        dims = job_dims;
                        changes.extend(job_changes);
                        results.push(Ok(outcomes));
                    }
                    Err(err) => {
                        drop(sp); // rolls this job back, keeps the others
                        results.push(Err(err));
                    }
                }
            }
            drop(state);
            let wrote = results.iter().any(Result::is_ok);
            if wrote {
                store::bump_generation(&tx)?;
            }
            tx.commit()?;
            if wrote {
                self.generation += 1;
            }
            let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
            if state.dims == 0 {
                state.dims = dims;
            }
            // Without a graph there is nothing to keep in step (a graph built later is
            // built from the whole state), so no vector is copied for it.
            let mut indexed = state.index.is_some();
            for change in changes.drain(..) {
                match change {
                    Change::Insert(record, unit) => {
                        let key = ann::key_of(record.seq).filter(|_| indexed);
                        state.insert(record, &unit);
                        if let Some(key) = key {
                            index_changes.push(IndexChange::Upsert(key, unit));
                        }
                    }
                    Change::Replace(record, unit) => {
                        let key = ann::key_of(record.seq).filter(|_| indexed);
                        state.replace(record, unit.as_deref());
                        if let (Some(key), Some(unit)) = (key, unit) {
                            index_changes.push(IndexChange::Upsert(key, unit));
                        }
                    }
                    Change::Remove(id) => {
                        let removed = state.remove(&id);
                        if let Some(key) =
                            removed.and_then(|r| ann::key_of(r.seq)).filter(|_| indexed)
                        {
                            index_changes.push(IndexChange::Remove(key));
                        }
                    }
                    Change::Clear => {
                        state.clear();
                        index_changes.clear();
                        indexed = false;
                    }
                }
            }
            Ok(())
        })();
        if outcome.is_ok() {
            // Before answering, so that an acknowledged write is found by every search.
            self.update_index(index_changes);
        }
        if let Err(err) = outcome {
            // Nothing of the batch is on disk or in memory: every job fails.
            let message = err.to_string();
            results = batch
                .iter()
                .map(|_| Err(Error::Store(format!("the write was not saved: {message}"))))
                .collect();
        }
        for (job, result) in batch.into_iter().zip(results) {
            // A caller that stopped waiting (cancelled) still had its job applied whole.
            let _ = job.reply.send(result);
        }
    }
}

fn touched_ids(job: &Job) -> Option<Vec<String>> {
    let mut ids = Vec::new();
    for op in &job.ops {
        ids.extend(op.touched_ids()?.into_iter().map(str::to_owned));
    }
    Some(ids)
}

/// Applies one job's ops inside its savepoint; later ops of the job see earlier ones.
fn apply_ops(
    conn: &Connection,
    state: &State,
    dims: &mut usize,
    ops: &[Op],
) -> Result<(Vec<Outcome>, Vec<Change>)> {
    let mut outcomes = Vec::with_capacity(ops.len());
    let mut changes = Vec::with_capacity(ops.len());
    // This job's own changes, by id, in front of the committed state.
    let mut overlay: HashMap<String, Option<Arc<MemoryRecord>>> = HashMap::new();
    let lookup =
        |overlay: &HashMap<String, Option<Arc<MemoryRecord>>>, id: &str| match overlay.get(id) {
            Some(entry) => entry.clone(),
            None => state.get(id).cloned(),
        };
    let now = now_iso();
    for op in ops {
        match op {
            Op::Add(new) => {
                let unit = unit_vector(conn, dims, &new.vector)?;
                let record = Arc::new(insert(conn, new, &now)?);
                overlay.insert(record.id.clone(), Some(Arc::clone(&record)));
                outcomes.push(Outcome::Added((*record).clone()));
                changes.push(Change::Insert(record, unit));
            }
            Op::Update { id, text, metadata } => {
                let old = lookup(&overlay, id).ok_or_else(|| Error::NotFound(id.clone()))?;
                let mut record = (*old).clone();
                let mut unit = None;
                if let Some((new_text, vector)) = text {
                    unit = Some(unit_vector(conn, dims, vector)?);
                    record.memory = new_text.clone();
                    record.hash = md5_hex(new_text);
                }
                if let Some(meta) = metadata {
                    record.metadata = meta.clone().filter(|m| !m.is_empty());
                }
                record.updated_at = now.clone();
                store::update_memory(conn, &record, text.as_ref().map(|(_, v)| v.as_slice()))?;
                store::insert_history(
                    conn,
                    &event(
                        &record,
                        Some(&old.memory),
                        Some(&record.memory),
                        "UPDATE",
                        &now,
                    ),
                )?;
                let record = Arc::new(record);
                overlay.insert(id.clone(), Some(Arc::clone(&record)));
                outcomes.push(Outcome::Updated {
                    record: (*record).clone(),
                    previous: old.memory.clone(),
                });
                changes.push(Change::Replace(record, unit));
            }
            Op::Delete { id } => {
                let old = lookup(&overlay, id).ok_or_else(|| Error::NotFound(id.clone()))?;
                delete(conn, &old, &now)?;
                overlay.insert(id.clone(), None);
                outcomes.push(Outcome::Deleted((*old).clone()));
                changes.push(Change::Remove(id.clone()));
            }
            Op::DeleteScope(scope) => {
                // Runs alone in its job and batch (checked by the engine), so the
                // committed state is the whole truth.
                let victims = query::all_matching(state, &scope_filter(scope));
                for victim in &victims {
                    delete(conn, victim, &now)?;
                    changes.push(Change::Remove(victim.id.clone()));
                }
                outcomes.push(Outcome::DeletedScope(
                    victims.iter().map(|r| (**r).clone()).collect(),
                ));
            }
            Op::Reset => {
                store::reset(conn)?;
                changes.push(Change::Clear);
                outcomes.push(Outcome::Reset);
            }
        }
    }
    Ok((outcomes, changes))
}

/// Validates a vector against the store's dimension (learning it from the first vector)
/// and returns its unit-length copy.
fn unit_vector(conn: &Connection, dims: &mut usize, vector: &[f32]) -> Result<Vec<f32>> {
    let known = (*dims != 0).then_some(*dims);
    let norm = check_vector(vector, known).map_err(Error::Validation)?;
    if known.is_none() {
        store::write_dims(conn, vector.len())?;
        *dims = vector.len();
    }
    Ok(normalised(vector, norm))
}

fn insert(conn: &Connection, new: &NewMemory, now: &str) -> Result<MemoryRecord> {
    let mut record = MemoryRecord {
        id: uuid::Uuid::new_v4().to_string(),
        memory: new.text.clone(),
        hash: md5_hex(&new.text),
        user_id: new.scope.user_id.clone(),
        agent_id: new.scope.agent_id.clone(),
        run_id: new.scope.run_id.clone(),
        actor_id: new.actor_id.clone(),
        role: new.role.clone(),
        metadata: new.metadata.clone().filter(|m| !m.is_empty()),
        created_at: now.to_owned(),
        updated_at: now.to_owned(),
        seq: 0,
    };
    record.seq = store::insert_memory(conn, &record, &new.vector)?;
    let mut added = event(&record, None, Some(&record.memory), "ADD", now);
    added.updated_at = None;
    store::insert_history(conn, &added)?;
    Ok(record)
}

fn delete(conn: &Connection, old: &MemoryRecord, now: &str) -> Result<()> {
    store::delete_memory(conn, &old.id)?;
    let mut deleted = event(old, Some(&old.memory), None, "DELETE", now);
    deleted.is_deleted = true;
    store::insert_history(conn, &deleted)
}

fn event(
    record: &MemoryRecord,
    old: Option<&str>,
    new: Option<&str>,
    kind: &str,
    now: &str,
) -> HistoryEvent {
    HistoryEvent {
        id: uuid::Uuid::new_v4().to_string(),
        memory_id: record.id.clone(),
        old_memory: old.map(str::to_owned),
        new_memory: new.map(str::to_owned),
        event: kind.to_owned(),
        created_at: Some(record.created_at.clone()),
        updated_at: Some(now.to_owned()),
        is_deleted: false,
        actor_id: record.actor_id.clone(),
        role: record.role.clone(),
    }
}

/// The filter a scope delete uses: subset match on the ids given.
pub(crate) fn scope_filter(scope: &Scope) -> Filter {
    let mut parts = Vec::new();
    for (field, value) in [
        (Field::UserId, &scope.user_id),
        (Field::AgentId, &scope.agent_id),
        (Field::RunId, &scope.run_id),
    ] {
        if let Some(v) = value {
            parts.push(Filter::scope_eq(field, v));
        }
    }
    Filter::and(parts)
}

/// MD5 hex digest of a text, as Mem0 stores in `hash`.
pub(crate) fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
