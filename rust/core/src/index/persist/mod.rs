//! Snapshots: [`HnswIndex::save`] and [`HnswIndex::load`].
//!
//! A snapshot holds the whole index, vectors included, so that loading needs nothing
//! else (the engine can check it against SQLite by the `tag` it stored: the last
//! transaction the snapshot covers). Nothing in a snapshot is trusted: loading checks
//! the checksum *and* every structural invariant a search relies on, so a corrupt,
//! truncated, foreign or wrong-dimension file is an error, never a panic or a graph
//! that misbehaves later.
//!
//! Format version 1, all integers little-endian:
//!
//! | field | type |
//! |---|---|
//! | magic `\x89MLHNSW\n` | 8 bytes |
//! | format version (1) | u32 |
//! | dims, metric code, m, ef_construction, ef_search | u32 each |
//! | seed, level draws, tag | u64 each |
//! | slots, live, deleted, entry slot (`u32::MAX` = none), entry level | u32 each |
//! | slot states (1 live, 2 deleted; free slots are not saved) | `slots` bytes |
//! | slot levels | `slots` bytes |
//! | slot keys | `slots` u32 |
//! | for each slot, levels 0..=level: count, then `count` neighbour slots | u32s |
//! | for each slot: its stored vector | `dims` f32 |
//! | CRC-32 of every byte above | u32 |

mod crc32;
mod decode;
mod io;

use std::io::{BufWriter, Read, Write};
use std::sync::atomic::Ordering;

use super::graph::SlotState;
use super::hnsw::{lock, read, HnswIndex};
use crate::error::{Error, Result};
use io::CrcWriter;

/// First bytes of every snapshot. The high byte and the newline catch 7-bit and
/// text-mode transfers, as PNG's signature does.
pub(crate) const MAGIC: [u8; 8] = *b"\x89MLHNSW\n";
/// The format version this code writes and reads.
pub(crate) const VERSION: u32 = 1;
/// `entry slot` when the graph is empty.
pub(crate) const NO_ENTRY: u32 = u32::MAX;

fn io_error(e: std::io::Error) -> Error {
    Error::Store(format!("cannot write the index snapshot: {e}"))
}

impl HnswIndex {
    /// Writes a snapshot of the index to `w`, recording `tag` (the engine's last
    /// covered transaction). Searches continue meanwhile; mutations wait until it is
    /// written.
    pub fn save<W: Write>(&self, w: W, tag: u64) -> Result<()> {
        let writer = lock(&self.writer);
        let g = read(&self.graph);
        let p = &self.params;
        // Free slots are left out and the others renumbered densely, so that a snapshot
        // holds a vector for every slot it declares (which bounds what `load` allocates
        // by the file's size).
        let kept: Vec<u32> = (0..g.used() as u32)
            .filter(|&s| g.state(s) != SlotState::Free)
            .collect();
        let mut renumber = vec![NO_ENTRY; g.used()];
        for (new, &old) in kept.iter().enumerate() {
            renumber[old as usize] = new as u32;
        }
        let to_new = |old: u32| renumber.get(old as usize).copied().unwrap_or(NO_ENTRY);
        let mut out = CrcWriter::new(BufWriter::with_capacity(1 << 16, w));
        let body = (|| -> std::io::Result<()> {
            out.bytes(&MAGIC)?;
            out.u32(VERSION)?;
            out.u32(p.dims as u32)?;
            out.u32(u32::from(p.metric.code()))?;
            out.u32(p.m as u32)?;
            out.u32(p.ef_construction.min(u32::MAX as usize) as u32)?;
            out.u32(p.ef_search.min(u32::MAX as usize) as u32)?;
            out.u64(p.seed)?;
            out.u64(writer.draws)?;
            out.u64(tag)?;
            out.u32(kept.len() as u32)?;
            out.u32(g.live.load(Ordering::Acquire) as u32)?;
            out.u32(g.deleted.load(Ordering::Acquire) as u32)?;
            let (entry, level) = g
                .entry()
                .map_or((NO_ENTRY, 0), |(s, l)| (to_new(s), l as u32));
            out.u32(entry)?;
            out.u32(level)?;
            out.bytes(&kept.iter().map(|&s| g.state(s) as u8).collect::<Vec<u8>>())?;
            out.bytes(&kept.iter().map(|&s| g.level(s) as u8).collect::<Vec<u8>>())?;
            out.u32s(kept.iter().map(|&s| g.key(s)))?;
            let mut ids = Vec::new();
            for &s in &kept {
                for level in 0..=g.level(s) {
                    g.neighbours_into(s, level, &mut ids);
                    // A list never names a free slot (consolidation purges them first).
                    ids.retain(|&n| to_new(n) != NO_ENTRY);
                    out.u32(ids.len() as u32)?;
                    out.u32s(ids.iter().map(|&n| to_new(n)))?;
                }
            }
            for &s in &kept {
                out.f32s(g.vector(s))?;
            }
            Ok(())
        })();
        body.map_err(io_error)?;
        let mut inner = out.finish().map_err(io_error)?;
        inner.flush().map_err(io_error)
    }

    /// Reads a snapshot written by [`HnswIndex::save`]; returns the index and its tag.
    /// With `expected_dims`, a snapshot of another dimension is an error.
    ///
    /// Errors (never panics) on a corrupt, truncated, foreign or unsupported snapshot.
    pub fn load<R: Read>(r: R, expected_dims: Option<usize>) -> Result<(HnswIndex, u64)> {
        decode::decode(r, expected_dims)
    }
}

/// CRC-32 of `bytes` (for tests that forge snapshots).
#[cfg(test)]
pub(crate) fn crc32_of(bytes: &[u8]) -> u32 {
    let mut c = crc32::Crc32::default();
    c.update(bytes);
    c.finish()
}
