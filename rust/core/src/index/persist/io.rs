//! Little-endian snapshot encoding: a checksumming writer and a bounds-checked reader.
//!
//! Writing streams (checksumming as it goes); reading works on the whole snapshot in
//! memory, so that the checksum is verified before anything is parsed and every count
//! is checked against the bytes actually present before anything is allocated.

use std::io::{self, Write};

use super::crc32::Crc32;

/// Bytes buffered per write of a long array.
const CHUNK: usize = 1 << 16;

/// Writes through to `inner`, checksumming.
pub(crate) struct CrcWriter<W: Write> {
    inner: W,
    crc: Crc32,
}

impl<W: Write> CrcWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        CrcWriter {
            inner,
            crc: Crc32::default(),
        }
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        self.crc.update(b);
        self.inner.write_all(b)
    }

    pub(crate) fn u32(&mut self, v: u32) -> io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    pub(crate) fn u64(&mut self, v: u64) -> io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    /// Writes `values` as little-endian u32s.
    pub(crate) fn u32s(&mut self, values: impl Iterator<Item = u32>) -> io::Result<()> {
        let mut buf = Vec::with_capacity(CHUNK);
        for v in values {
            buf.extend_from_slice(&v.to_le_bytes());
            if buf.len() >= CHUNK {
                self.bytes(&buf)?;
                buf.clear();
            }
        }
        self.bytes(&buf)
    }

    /// Writes `values` as little-endian f32s.
    pub(crate) fn f32s(&mut self, values: &[f32]) -> io::Result<()> {
        self.u32s(values.iter().map(|v| v.to_bits()))
    }

    /// Writes the checksum of everything written so far (not itself checksummed) and
    /// returns the inner writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        let crc = self.crc.finish();
        self.inner.write_all(&crc.to_le_bytes())?;
        Ok(self.inner)
    }
}

/// A bounds-checked little-endian reader over a snapshot held in memory. Every read
/// past the end is an error, so a count cannot make it read (or allocate) more than
/// the snapshot holds.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(Truncated)?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Truncated> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Truncated> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }

    /// The next `n` little-endian u32s.
    pub(crate) fn u32s(&mut self, n: usize) -> Result<impl Iterator<Item = u32> + 'a, Truncated> {
        let bytes = self.take(n.checked_mul(4).ok_or(Truncated)?)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
    }
}

/// A read ran past the end of the snapshot.
#[derive(Debug)]
pub(crate) struct Truncated;
