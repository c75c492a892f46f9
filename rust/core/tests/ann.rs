//! Large stores: the approximate index is built past the threshold, kept in step with
//! writes, saved at close, loaded when current and rebuilt when not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use memlane_core::{Engine, Filter, IndexOrigin, NewMemory, Op, Outcome, Scope, SearchMode};

const DIMS: usize = 8;
/// Just past the size where the engine builds its graph.
const N: usize = 8_300;

/// Deterministic, well-spread vectors (a tiny LCG: no dependency, same on every run).
fn vector(i: usize) -> Vec<f32> {
    let mut x = (i as u64)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..DIMS)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        })
        .collect()
}

fn memory(i: usize) -> NewMemory {
    NewMemory {
        text: format!("memory number {i}"),
        vector: vector(i),
        scope: Scope {
            user_id: Some(format!("u{}", i % 3)),
            ..Scope::default()
        },
        actor_id: None,
        role: None,
        metadata: None,
    }
}

async fn fill(path: &Path) -> Vec<String> {
    let engine = Engine::open_with(path, Some(DIMS), 0).unwrap();
    let mut ids = Vec::new();
    for chunk in (0..N).collect::<Vec<_>>().chunks(500) {
        let ops = chunk.iter().map(|&i| Op::Add(memory(i))).collect();
        for outcome in engine.apply(ops).await.unwrap() {
            if let Outcome::Added(r) = outcome {
                ids.push(r.id);
            }
        }
    }
    assert!(
        engine.has_index(),
        "crossing the threshold builds the graph"
    );
    ids
}

fn top_ids(engine: &Engine, query: &[f32], k: usize) -> Vec<String> {
    engine
        .search(Some(query), "", &Filter::All, k, None, SearchMode::Semantic)
        .unwrap()
        .into_iter()
        .map(|(r, _)| r.id.clone())
        .collect()
}

/// Exact top-k by brute force over the same stored vectors.
fn brute_force(
    query: &[f32],
    ids: &[String],
    live: impl Fn(usize) -> bool,
    k: usize,
) -> Vec<String> {
    let unit = |v: &[f32]| {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect::<Vec<_>>()
    };
    let q = unit(query);
    let mut scored: Vec<(f32, usize)> = (0..ids.len())
        .filter(|&i| live(i))
        .map(|i| (unit(&vector(i)).iter().zip(&q).map(|(a, b)| a * b).sum(), i))
        .collect();
    scored.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
    scored
        .into_iter()
        .take(k)
        .map(|(_, i)| ids[i].clone())
        .collect()
}

fn recall(found: &[String], truth: &[String]) -> f64 {
    found.iter().filter(|id| truth.contains(id)).count() as f64 / truth.len() as f64
}

#[tokio::test]
async fn graph_search_matches_brute_force_and_follows_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.db");
    let ids = fill(&path).await;
    let engine = Engine::open_with(&path, Some(DIMS), 0).unwrap();
    let mut total = 0.0;
    for q in 0..20 {
        let query = vector(100_000 + q);
        total += recall(
            &top_ids(&engine, &query, 10),
            &brute_force(&query, &ids, |_| true, 10),
        );
    }
    assert!(total / 20.0 >= 0.95, "recall@10 {}", total / 20.0);

    // Deleted memories are never returned, and the rest is still found.
    let deleted: Vec<usize> = (0..N).step_by(3).collect();
    let ops = deleted
        .iter()
        .map(|&i| Op::Delete { id: ids[i].clone() })
        .collect();
    engine.apply(ops).await.unwrap();
    let query = vector(4242);
    let found = top_ids(&engine, &query, 10);
    assert!(found.iter().all(|id| engine.get(id).is_ok()));
    let truth = brute_force(&query, &ids, |i| i % 3 != 0, 10);
    assert!(recall(&found, &truth) >= 0.8);
}

#[tokio::test]
async fn snapshot_is_loaded_when_current_replayed_when_stale_rebuilt_when_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.db");
    let ids = fill(&path).await;
    let snapshot = dir.path().join("big.db.hnsw");
    assert!(snapshot.exists(), "saved at close");

    let query = vector(7);
    let before = {
        let engine = Engine::open_with(&path, Some(DIMS), 0).unwrap();
        assert_eq!(engine.index_origin(), IndexOrigin::Loaded);
        top_ids(&engine, &query, 10)
    };
    assert_eq!(before[0], ids[7]);

    // Stale: a write after the snapshot, made by a run that could not save (simulated by
    // restoring the old snapshot file after a clean close).
    let old = std::fs::read(&snapshot).unwrap();
    {
        let engine = Engine::open_with(&path, Some(DIMS), 0).unwrap();
        engine
            .apply(vec![
                Op::Delete { id: ids[7].clone() },
                Op::Update {
                    id: ids[9].clone(),
                    text: Some(("moved".into(), vector(300_000))),
                    metadata: None,
                },
                Op::Add(memory(400_000)),
            ])
            .await
            .unwrap();
    }
    std::fs::write(&snapshot, &old).unwrap();
    {
        let engine = Engine::open_with(&path, Some(DIMS), 0).unwrap();
        assert_eq!(
            engine.index_origin(),
            IndexOrigin::Replayed,
            "a stale snapshot is brought up to date, not trusted as is"
        );
        assert!(!top_ids(&engine, &query, 10).contains(&ids[7]));
        assert_eq!(top_ids(&engine, &vector(8), 1)[0], ids[8]);
        assert_eq!(
            top_ids(&engine, &vector(300_000), 1)[0],
            ids[9],
            "new vector"
        );
        let added = top_ids(&engine, &vector(400_000), 1);
        assert_eq!(
            engine.get(&added[0]).unwrap().memory,
            "memory number 400000"
        );
    }
    // That open saved an up-to-date snapshot at close: the next one loads it.
    {
        let engine = Engine::open_with(&path, Some(DIMS), 0).unwrap();
        assert_eq!(engine.index_origin(), IndexOrigin::Loaded);
        assert!(!top_ids(&engine, &query, 10).contains(&ids[7]));
    }

    // Corrupt: flip a byte in the middle; truncated: cut it short.
    for damage in [0, 1] {
        let mut bytes = std::fs::read(&snapshot).unwrap();
        if damage == 0 {
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x5a;
        } else {
            bytes.truncate(bytes.len() / 3);
        }
        std::fs::write(&snapshot, &bytes).unwrap();
        let engine = Engine::open_with(&path, Some(DIMS), 0).unwrap();
        assert_eq!(engine.index_origin(), IndexOrigin::Built);
        assert_eq!(top_ids(&engine, &vector(11), 1)[0], ids[11]);
    }
}

#[tokio::test]
async fn a_snapshot_too_far_behind_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.db");
    let ids = fill(&path).await;
    let snapshot = dir.path().join("big.db.hnsw");
    let old = std::fs::read(&snapshot).unwrap();
    let changed = N * 6 / 10;
    {
        let engine = Engine::open_with(&path, Some(DIMS), 0).unwrap();
        let ops = (0..changed)
            .map(|i| Op::Update {
                id: ids[i].clone(),
                text: Some((format!("changed {i}"), vector(200_000 + i))),
                metadata: None,
            })
            .collect();
        engine.apply(ops).await.unwrap();
    }
    std::fs::write(&snapshot, &old).unwrap();
    let engine = Engine::open_with(&path, Some(DIMS), 0).unwrap();
    assert_eq!(
        engine.index_origin(),
        IndexOrigin::Built,
        "60 % of the rows changed: more than REPLAY_MAX_SHARE"
    );
    assert_eq!(top_ids(&engine, &vector(200_005), 1)[0], ids[5]);
}

#[tokio::test]
async fn small_stores_have_no_graph() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(&dir.path().join("small.db"), Some(DIMS)).unwrap();
    engine
        .apply((0..50).map(|i| Op::Add(memory(i))).collect())
        .await
        .unwrap();
    assert!(!engine.has_index());
    assert_eq!(engine.index_origin(), IndexOrigin::None);
}
