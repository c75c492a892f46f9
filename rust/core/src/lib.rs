//! memlane-core: the storage and search engine behind memlane, in pure Rust (no Python).
//!
//! SQLite is the source of truth (memories, vectors, history); an in-memory view of the
//! rows and their normalised vectors answers reads without touching the database. Every
//! change goes through one writer thread that applies it in a single transaction, then
//! publishes it to the in-memory view, so readers only ever see committed data.

mod ann;
pub mod engine;
pub mod error;
pub mod filter;
pub mod index;
pub mod kernels;
mod keywords;
pub mod ops;
pub mod query;
pub mod record;
mod registry;
mod state;
mod store;
pub mod text;
mod time;
mod writer;

pub use ann::{IndexOrigin, DEFAULT_INDEX_MIN_MEMORIES};
pub use engine::Engine;
pub use error::{Error, Result};
pub use filter::Filter;
pub use ops::{NewMemory, Op, Outcome, Scope};
pub use query::SearchMode;
pub use record::{HistoryEvent, MemoryRecord};
