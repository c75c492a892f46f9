//! Rust work → asyncio awaitables, with one thread hop and a clean interpreter exit.
//!
//! The work runs on the tokio runtime that pyo3-async-runtimes manages (reads directly on
//! its blocking pool, writes as async tasks). Its result is turned into Python objects on
//! a blocking-pool thread that takes the GIL, and handed to the event loop with
//! `call_soon_threadsafe`, which resolves the asyncio future unless it was cancelled.
//!
//! Why not `pyo3_async_runtimes::tokio::future_into_py`: its completion runs on a tokio
//! thread that may still be calling into Python when the interpreter finalises, which
//! aborts the process (pyo3-async-runtimes issue #40; measured here: one exit in three
//! after a search). Here every handoff is counted, and an `atexit` hook waits (GIL
//! released) until none is in flight, so no Rust thread touches Python during shutdown.
//! It also costs two fewer task spawns per call.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::IntoPyObjectExt;

/// How long interpreter exit waits for in-flight results before giving up.
const EXIT_WAIT: Duration = Duration::from_secs(10);
/// Threads the blocking pool may grow to: each holds an allocator arena, so an unbounded
/// pool inflates RSS under bursts without making anything faster on a small machine.
const MAX_BLOCKING_THREADS: usize = 16;

static IN_FLIGHT: Mutex<usize> = Mutex::new(0);
static IDLE: Condvar = Condvar::new();
static EXIT_HOOK: AtomicBool = AtomicBool::new(false);
static COMPLETE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Counts one result on its way to Python, from spawning the work until handed over.
struct InFlight;

impl InFlight {
    fn enter() -> Self {
        *IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut count = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
        *count -= 1;
        if *count == 0 {
            IDLE.notify_all();
        }
    }
}

/// Configures the runtime pyo3-async-runtimes builds on first use (nothing starts yet).
pub(crate) fn configure_runtime() {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS);
    pyo3_async_runtimes::tokio::init(builder);
}

/// Registers the exit hook once (called when the first store opens, not at import).
pub(crate) fn install_exit_hook(py: Python<'_>) -> PyResult<()> {
    if !EXIT_HOOK.swap(true, Ordering::SeqCst) {
        let hook = wrap_pyfunction!(wait_until_idle, py)?;
        py.import("atexit")?.call_method1("register", (hook,))?;
    }
    Ok(())
}

/// Blocks (GIL released) until no result is on its way to Python, or `EXIT_WAIT` passed.
#[pyfunction]
fn wait_until_idle(py: Python<'_>) {
    py.detach(|| {
        let count = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
        let _ = IDLE.wait_timeout_while(count, EXIT_WAIT, |n| *n > 0);
    });
}

/// An awaitable for blocking or CPU work `work`, run on the blocking pool.
pub(crate) fn spawn_blocking<'py, F, T>(py: Python<'py>, work: F) -> PyResult<Bound<'py, PyAny>>
where
    F: FnOnce() -> PyResult<T> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let (future, target) = new_future(py)?;
    let guard = InFlight::enter();
    pyo3_async_runtimes::tokio::get_runtime().spawn_blocking(move || {
        deliver(target, work());
        drop(guard);
    });
    Ok(future)
}

/// An awaitable for async work `work` (e.g. waiting for the writer thread).
pub(crate) fn spawn<'py, F, T>(py: Python<'py>, work: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let (future, target) = new_future(py)?;
    let guard = InFlight::enter();
    let runtime = pyo3_async_runtimes::tokio::get_runtime();
    runtime.spawn(async move {
        let result = work.await;
        // Converting to Python objects needs the GIL: never take it on a tokio worker.
        let handoff = tokio::task::spawn_blocking(move || {
            deliver(target, result);
            drop(guard);
        });
        let _ = handoff.await;
    });
    Ok(future)
}

/// The running loop and a new future on it.
struct Target {
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
}

fn new_future(py: Python<'_>) -> PyResult<(Bound<'_, PyAny>, Target)> {
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let future = event_loop.call_method0("create_future")?;
    let target = Target {
        event_loop: event_loop.unbind(),
        future: future.clone().unbind(),
    };
    Ok((future, target))
}

/// Hands a result to the event loop's thread, which resolves the future if still pending.
fn deliver<T>(target: Target, result: PyResult<T>)
where
    T: for<'a> IntoPyObject<'a>,
{
    Python::attach(|py| {
        let (ok, value) = match result.and_then(|v| v.into_py_any(py)) {
            Ok(value) => (true, value),
            Err(err) => (false, err.into_value(py).into_any()),
        };
        let sent = COMPLETE
            .import(py, "memlane._complete", "complete")
            .and_then(|complete| {
                target.event_loop.call_method1(
                    py,
                    "call_soon_threadsafe",
                    (complete, &target.future, ok, value),
                )
            });
        // A closed loop (asyncio.run already returned) has nobody left to tell.
        drop(sent);
    });
}
