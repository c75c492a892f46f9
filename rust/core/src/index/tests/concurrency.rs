//! Searches concurrent with inserts and removes: no panic, no torn result, and every
//! returned key is one that was inserted.

use std::sync::atomic::{AtomicBool, Ordering};

use super::fixture::{data, key_of, DIMS};
use crate::index::{Candidates, HnswIndex, HnswParams, Metric};

#[test]
fn readers_search_while_a_writer_inserts_and_removes() {
    let (vectors, queries) = data(21, 1_500);
    let index = HnswIndex::new(HnswParams::new(DIMS, Metric::Cosine)).unwrap();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let readers: Vec<_> = (0..2)
            .map(|r| {
                let (index, done, queries) = (&index, &done, &queries);
                s.spawn(move || {
                    let mut searches = 0;
                    let keys: Vec<u32> = (0..200).map(key_of).collect();
                    while !done.load(Ordering::Acquire) {
                        let q = &queries[(searches % 50) * DIMS..][..DIMS];
                        let hits = index.search(q, 10, 32).unwrap();
                        assert!(hits.len() <= 10);
                        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
                        let scoped = index
                            .search_filtered(q, 5, 0, Candidates::Keys(&keys))
                            .unwrap();
                        assert!(scoped.iter().all(|n| keys.contains(&n.key)), "reader {r}");
                        searches += 1;
                    }
                    searches
                })
            })
            .collect();
        for (chunk_no, chunk) in vectors.chunks(DIMS * 100).enumerate() {
            let keys: Vec<u32> = (0..chunk.len() / DIMS)
                .map(|i| key_of(chunk_no * 100 + i))
                .collect();
            if chunk_no % 2 == 0 {
                for (k, v) in keys.iter().zip(chunk.chunks_exact(DIMS)) {
                    index.insert(*k, v).unwrap();
                }
            } else {
                index.insert_batch(&keys, chunk, 2).unwrap();
            }
            if chunk_no % 3 == 2 {
                index.remove_batch(&keys[..40]);
            }
        }
        done.store(true, Ordering::Release);
        for r in readers {
            assert!(r.join().unwrap() > 0);
        }
    });
    index.consolidate();
    assert_eq!(index.unreachable(), 0);
}
