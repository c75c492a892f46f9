//! A minimal parallel-for over scoped threads (no thread pool dependency): work is
//! handed out in chunks from an atomic counter, so uneven items balance themselves.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `f(start..end)` over chunks of `0..n` on `threads` threads (the caller's thread
/// is one of them). `f` receives the worker number too, for per-worker state.
pub(crate) fn for_each_chunk<F>(threads: usize, n: usize, chunk: usize, f: F)
where
    F: Fn(usize, std::ops::Range<usize>) + Sync,
{
    let chunk = chunk.max(1);
    let threads = threads.clamp(1, n.div_ceil(chunk).max(1));
    let next = AtomicUsize::new(0);
    let work = |worker: usize| loop {
        let start = next.fetch_add(chunk, Ordering::Relaxed);
        if start >= n {
            break;
        }
        f(worker, start..(start + chunk).min(n));
    };
    if threads == 1 {
        work(0);
        return;
    }
    std::thread::scope(|scope| {
        for worker in 1..threads {
            let work = &work;
            scope.spawn(move || work(worker));
        }
        work(0);
    });
}

/// The number of threads to use when the caller says 0 ("all cores").
pub(crate) fn resolve_threads(threads: usize) -> usize {
    if threads > 0 {
        threads
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_once() {
        for threads in [1, 2, 3] {
            for n in [0, 1, 7, 100] {
                let seen: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
                for_each_chunk(threads, n, 3, |_, range| {
                    for i in range {
                        seen[i].fetch_add(1, Ordering::Relaxed);
                    }
                });
                assert!(seen.iter().all(|c| c.load(Ordering::Relaxed) == 1));
            }
        }
    }
}
