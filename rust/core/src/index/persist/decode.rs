//! Loading a snapshot: verify, parse, check every invariant, then build.
//!
//! Order matters: the magic and version first (a foreign or newer file gets a clear
//! message), then the checksum over the whole file (so corruption is reported as such
//! before any field is believed), then the header fields against each other and
//! against the bytes present (before any allocation sized by them), then every slot,
//! link and vector. Only a snapshot that passes everything becomes an index.

use std::io::Read;

use super::io::{Cursor, Truncated};
use super::{crc32::Crc32, MAGIC, NO_ENTRY, VERSION};
use crate::error::{Error, Result};
use crate::index::graph::{Graph, SlotState, MAX_LEVEL};
use crate::index::hnsw::{HnswIndex, Writer};
use crate::index::keymap::KeyMap;
use crate::index::metric::Metric;
use crate::index::params::{HnswParams, MAX_DIMS, MAX_M};

/// Tolerance on the squared norm of a stored cosine vector (they are saved unit-length).
const UNIT_NORM_TOLERANCE: f64 = 1e-3;

fn bad(why: impl std::fmt::Display) -> Error {
    Error::Store(format!("invalid index snapshot: {why}"))
}

impl From<Truncated> for Error {
    fn from(_: Truncated) -> Self {
        bad("truncated (the file ends inside the data)")
    }
}

/// The header, as read.
struct Header {
    params: HnswParams,
    draws: u64,
    tag: u64,
    slots: usize,
    live: usize,
    deleted: usize,
    entry: u32,
    entry_level: usize,
}

pub(super) fn decode<R: Read>(mut r: R, expected_dims: Option<usize>) -> Result<(HnswIndex, u64)> {
    let mut buf = Vec::new();
    r.read_to_end(&mut buf)
        .map_err(|e| Error::Store(format!("cannot read the index snapshot: {e}")))?;
    if buf.len() < MAGIC.len() + 4 || buf[..MAGIC.len()] != MAGIC {
        return Err(bad("not a memlane index snapshot (wrong magic bytes)"));
    }
    let version = u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]);
    if version != VERSION {
        return Err(bad(format!(
            "format version {version}, this build reads version {VERSION}"
        )));
    }
    let (body, stored) = buf.split_at(buf.len() - 4);
    let mut crc = Crc32::default();
    crc.update(body);
    if crc.finish().to_le_bytes() != stored {
        return Err(bad("checksum mismatch (the file is corrupt or truncated)"));
    }
    let mut c = Cursor::new(body);
    c.take(MAGIC.len() + 4)?;
    let h = header(&mut c, expected_dims)?;
    let index = build(&mut c, &h)?;
    if c.remaining() != 0 {
        return Err(bad(format!(
            "{} unexpected bytes after the data",
            c.remaining()
        )));
    }
    Ok((index, h.tag))
}

fn header(c: &mut Cursor<'_>, expected_dims: Option<usize>) -> Result<Header> {
    let dims = c.u32()? as usize;
    let metric_code = c.u32()?;
    let m = c.u32()? as usize;
    let ef_construction = c.u32()? as usize;
    let ef_search = c.u32()? as usize;
    let seed = c.u64()?;
    let draws = c.u64()?;
    let tag = c.u64()?;
    let slots = c.u32()? as usize;
    let live = c.u32()? as usize;
    let deleted = c.u32()? as usize;
    let entry = c.u32()?;
    let entry_level = c.u32()? as usize;
    if let Some(want) = expected_dims {
        if dims != want {
            return Err(bad(format!(
                "it holds {dims}-dimensional vectors, expected {want}"
            )));
        }
    }
    if dims == 0 || dims > MAX_DIMS {
        return Err(bad(format!("dimension {dims} out of range")));
    }
    let metric = u8::try_from(metric_code)
        .ok()
        .and_then(Metric::from_code)
        .ok_or_else(|| bad(format!("unknown metric code {metric_code}")))?;
    if !(2..=MAX_M).contains(&m) || ef_construction == 0 || ef_search == 0 {
        return Err(bad("graph parameters out of range"));
    }
    if live.checked_add(deleted) != Some(slots) || slots >= NO_ENTRY as usize {
        return Err(bad("slot counts disagree"));
    }
    // Every slot needs at least its state, level, key, one list count and its vector.
    let min_bytes = slots.checked_mul(2 + 4 + 4 + 4 * dims);
    if min_bytes.is_none_or(|b| b > c.remaining()) {
        return Err(bad("it declares more slots than it holds"));
    }
    if (slots == 0) != (entry == NO_ENTRY) || entry_level > MAX_LEVEL {
        return Err(bad("bad entry point"));
    }
    let params = HnswParams {
        dims,
        metric,
        m,
        ef_construction,
        ef_search,
        seed,
    };
    Ok(Header {
        params,
        draws,
        tag,
        slots,
        live,
        deleted,
        entry,
        entry_level,
    })
}

fn build(c: &mut Cursor<'_>, h: &Header) -> Result<HnswIndex> {
    let n = h.slots;
    let states: Vec<SlotState> = c
        .take(n)?
        .iter()
        .map(|&b| match SlotState::from_u8(b) {
            Some(s @ (SlotState::Live | SlotState::Deleted)) => Ok(s),
            _ => Err(bad(format!("bad slot state {b}"))),
        })
        .collect::<Result<_>>()?;
    if states.iter().filter(|&&s| s == SlotState::Live).count() != h.live {
        return Err(bad("live count disagrees with the slot states"));
    }
    let levels: Vec<usize> = c.take(n)?.iter().map(|&l| usize::from(l)).collect();
    if levels.iter().any(|&l| l > MAX_LEVEL) {
        return Err(bad("node level out of range"));
    }
    let top = levels.iter().copied().max();
    if n > 0
        && (h.entry as usize >= n
            || levels[h.entry as usize] != h.entry_level
            || top != Some(h.entry_level))
    {
        return Err(bad("the entry point is not a node of the highest level"));
    }
    let keys: Vec<u32> = c.u32s(n)?.collect();
    let mut map = KeyMap::default();
    map.reserve(h.live);
    for (slot, (&key, &state)) in keys.iter().zip(&states).enumerate() {
        if state == SlotState::Live && map.insert(key, slot as u32).is_some() {
            return Err(bad(format!("key {key} is live twice")));
        }
    }
    let p = &h.params;
    let mut g = Graph::new(p.dims, p.metric, p.m, *crate::index::distance::kernels());
    g.try_reserve(n)
        .map_err(|e| bad(format!("cannot allocate {n} slots: {e}")))?;
    g.used.store(n as u32, std::sync::atomic::Ordering::Release);
    for (slot, (&key, &level)) in keys.iter().zip(&levels).enumerate() {
        // SAFETY: `g` is not shared with anything yet.
        unsafe { g.init_slot(slot as u32, key, level, &[]) };
        g.set_state(slot as u32, states[slot]);
    }
    let mut ids = Vec::new();
    for (slot, &level) in levels.iter().enumerate() {
        for lc in 0..=level {
            let count = c.u32()? as usize;
            if count > g.max_neighbours(lc) {
                return Err(bad(format!("slot {slot} has {count} links on level {lc}")));
            }
            ids.clear();
            ids.extend(c.u32s(count)?);
            if ids.iter().any(|&t| t as usize >= n) {
                return Err(bad(format!(
                    "slot {slot} links to a slot that does not exist"
                )));
            }
            let _guard = g.lock(slot as u32);
            g.set_neighbours(slot as u32, lc, &ids);
        }
    }
    let mut row = Vec::with_capacity(p.dims);
    for slot in 0..n {
        row.clear();
        row.extend(c.u32s(p.dims)?.map(f32::from_bits));
        if row.iter().any(|x| !x.is_finite()) {
            return Err(bad(format!("slot {slot} holds a non-finite value")));
        }
        if p.metric == Metric::Cosine {
            let sq = crate::kernels::norm(&row).powi(2);
            if (sq - 1.0).abs() > UNIT_NORM_TOLERANCE {
                return Err(bad(format!(
                    "slot {slot} is not unit-length in a cosine index"
                )));
            }
        }
        // SAFETY: `g` is not shared with anything yet.
        unsafe { g.write_row(slot as u32, &row) };
    }
    if n > 0 {
        g.set_entry(Some((h.entry, h.entry_level)));
    }
    g.live.store(h.live, std::sync::atomic::Ordering::Release);
    g.deleted
        .store(h.deleted, std::sync::atomic::Ordering::Release);
    let writer = Writer {
        free: Vec::new(),
        draws: h.draws,
        unchecked: 0,
    };
    Ok(HnswIndex::from_parts(h.params.clone(), g, map, writer))
}
