//! The engine end to end on a real SQLite file: writes, reads, history, reopen, errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{add, new_memory, scope, vec_along};
use memlane_core::{Engine, Error, Filter, Op, Outcome, Scope, SearchMode};
use serde_json::json;

fn open(dir: &tempfile::TempDir) -> Engine {
    Engine::open(&dir.path().join("m.db"), Some(4)).expect("open")
}

#[tokio::test]
async fn add_get_list_search_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(&dir);
    let a = add(&engine, "likes tea", "alice", 0).await;
    let b = add(&engine, "likes coffee", "alice", 1).await;
    let _c = add(&engine, "likes juice", "bob", 0).await;

    let got = engine.get(&a).unwrap();
    assert_eq!(got.memory, "likes tea");
    assert_eq!(got.user_id.as_deref(), Some("alice"));
    assert_eq!(got.hash.len(), 32);

    let alice = Filter::scope_eq(memlane_core::record::Field::UserId, "alice");
    let listed: Vec<String> = engine
        .list(&alice, 10)
        .iter()
        .map(|r| r.id.clone())
        .collect();
    assert_eq!(
        listed,
        vec![a.clone(), b.clone()],
        "oldest first, only alice"
    );

    let hits = engine
        .search(
            Some(&vec_along(1)),
            "",
            &alice,
            10,
            None,
            SearchMode::Semantic,
        )
        .unwrap();
    assert_eq!(hits[0].0.id, b, "closest first");
    assert_eq!(hits.len(), 2, "bob's memory is outside the scope");
    assert!(hits[0].1 > hits[1].1);
}

#[tokio::test]
async fn md5_hash_matches_known_digest() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(&dir);
    let id = add(&engine, "hello", "u", 0).await;
    assert_eq!(
        engine.get(&id).unwrap().hash,
        "5d41402abc4b2a76b9719d911017c592"
    );
}

#[tokio::test]
async fn update_delete_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(&dir);
    let id = add(&engine, "lives in Paris", "alice", 0).await;
    let out = engine
        .apply(vec![Op::Update {
            id: id.clone(),
            text: Some(("lives in Rome".into(), vec_along(2))),
            metadata: Some(Some(json!({"city": "Rome"}).as_object().unwrap().clone())),
        }])
        .await
        .unwrap();
    match &out[0] {
        Outcome::Updated { record, previous } => {
            assert_eq!(previous, "lives in Paris");
            assert_eq!(record.memory, "lives in Rome");
        }
        other => panic!("{other:?}"),
    }
    let hits = engine
        .search(
            Some(&vec_along(2)),
            "",
            &Filter::All,
            1,
            None,
            SearchMode::Semantic,
        )
        .unwrap();
    assert_eq!(hits[0].0.id, id, "the new vector is searched");
    assert!(hits[0].1 > 0.99);

    engine
        .apply(vec![Op::Delete { id: id.clone() }])
        .await
        .unwrap();
    assert!(matches!(engine.get(&id), Err(Error::NotFound(_))));
    let events: Vec<(String, Option<String>, Option<String>, bool)> = engine
        .history(&id)
        .unwrap()
        .into_iter()
        .map(|e| (e.event, e.old_memory, e.new_memory, e.is_deleted))
        .collect();
    assert_eq!(
        events,
        vec![
            ("ADD".into(), None, Some("lives in Paris".into()), false),
            (
                "UPDATE".into(),
                Some("lives in Paris".into()),
                Some("lives in Rome".into()),
                false
            ),
            ("DELETE".into(), Some("lives in Rome".into()), None, true),
        ]
    );
    assert!(engine.history("never-seen").unwrap().is_empty());
}

#[tokio::test]
async fn unknown_ids_fail_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(&dir);
    let id = add(&engine, "x", "u", 0).await;
    // The second op fails: the first (valid) one must roll back with it.
    let err = engine
        .apply(vec![
            Op::Delete { id: id.clone() },
            Op::Delete {
                id: "missing".into(),
            },
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(ref m) if m == "missing"));
    assert!(engine.get(&id).is_ok());
    assert_eq!(engine.history(&id).unwrap().len(), 1);
}

#[tokio::test]
async fn scope_delete_is_subset_match_and_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(&dir);
    let mut in_run = new_memory("a", "alice", 0);
    in_run.scope.run_id = Some("r1".into());
    engine.apply(vec![Op::Add(in_run)]).await.unwrap();
    let other_run = add(&engine, "b", "alice", 1).await;
    let bob = add(&engine, "c", "bob", 0).await;

    let target = Scope {
        user_id: Some("alice".into()),
        run_id: Some("r1".into()),
        ..Scope::default()
    };
    engine.apply(vec![Op::DeleteScope(target)]).await.unwrap();
    assert_eq!(engine.len(), 2);
    assert!(engine.get(&other_run).is_ok());
    engine
        .apply(vec![Op::DeleteScope(scope("alice"))])
        .await
        .unwrap();
    assert_eq!(engine.len(), 1);
    assert!(engine.get(&bob).is_ok());

    let err = engine
        .apply(vec![Op::DeleteScope(Scope::default())])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Validation(_)),
        "an empty scope never means everything"
    );
    assert_eq!(engine.len(), 1);
}

#[tokio::test]
async fn reopen_keeps_memories_vectors_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let engine = open(&dir);
        add(&engine, "persisted", "alice", 3).await
    };
    let engine = open(&dir);
    assert_eq!(engine.get(&id).unwrap().memory, "persisted");
    let hits = engine
        .search(
            Some(&vec_along(3)),
            "",
            &Filter::All,
            1,
            None,
            SearchMode::Semantic,
        )
        .unwrap();
    assert_eq!(hits[0].0.id, id);
    assert_eq!(engine.history(&id).unwrap().len(), 1);
}

#[tokio::test]
async fn dimension_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(&dir);
    let mut wrong = new_memory("x", "u", 0);
    wrong.vector = vec![1.0; 5];
    assert!(matches!(
        engine.apply(vec![Op::Add(wrong)]).await,
        Err(Error::Validation(_))
    ));
    let mut nan = new_memory("x", "u", 0);
    nan.vector[1] = f32::NAN;
    assert!(matches!(
        engine.apply(vec![Op::Add(nan)]).await,
        Err(Error::Validation(_))
    ));
    let mut zero = new_memory("x", "u", 0);
    zero.vector = vec![0.0; 4];
    assert!(matches!(
        engine.apply(vec![Op::Add(zero)]).await,
        Err(Error::Validation(_))
    ));
    assert!(engine.is_empty());
    drop(engine);
    let reopened = Engine::open(&dir.path().join("m.db"), Some(8));
    assert!(
        matches!(reopened, Err(Error::Validation(_))),
        "a 4-d store refuses an 8-d embedder"
    );
}

#[tokio::test]
async fn dimension_is_learned_from_the_first_vector() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    {
        let engine = Engine::open(&path, None).unwrap();
        assert_eq!(engine.dims(), None);
        add(&engine, "x", "u", 0).await;
        assert_eq!(engine.dims(), Some(4));
    }
    assert_eq!(Engine::open(&path, None).unwrap().dims(), Some(4));
}

#[tokio::test]
async fn same_path_in_one_process_shares_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(&dir);
    let second = open(&dir);
    let id = add(&first, "shared", "u", 0).await;
    assert_eq!(second.get(&id).unwrap().memory, "shared");
}

#[tokio::test]
async fn reset_empties_memories_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(&dir);
    let id = add(&engine, "x", "u", 0).await;
    engine.apply(vec![Op::Reset]).await.unwrap();
    assert!(engine.is_empty());
    assert!(engine.history(&id).unwrap().is_empty());
    add(&engine, "after reset", "u", 1).await;
    assert_eq!(engine.len(), 1);
}

#[tokio::test]
async fn concurrent_adds_are_all_committed() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(&dir);
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let engine = engine.clone();
            tokio::spawn(async move {
                add(&engine, &format!("m{i}"), &format!("u{}", i % 7), i % 4).await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200);
    assert_eq!(engine.len(), 200);
    drop(engine);
    assert_eq!(open(&dir).len(), 200, "all acknowledged writes are on disk");
}

#[tokio::test]
async fn keyword_and_hybrid_modes_rank_by_words() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(&dir);
    let hiking = add(&engine, "Loves hiking in the Alps", "alice", 0).await;
    let cooking = add(&engine, "Enjoys cooking Italian pasta", "alice", 1).await;
    let _other = add(&engine, "Loves hiking too", "bob", 0).await;
    let alice = Filter::scope_eq(memlane_core::record::Field::UserId, "alice");

    let hits = engine
        .search(None, "went hiking", &alice, 10, None, SearchMode::Keyword)
        .unwrap();
    assert_eq!(
        hits.len(),
        1,
        "keyword mode returns only memories sharing a word"
    );
    assert_eq!(hits[0].0.id, hiking);
    assert!(
        (hits[0].1 - 1.0).abs() < 1e-6,
        "the best keyword hit scores 1"
    );

    // The vector points at the cooking memory, the words at the hiking one.
    let w = 0.6;
    let hits = engine
        .search(
            Some(&vec_along(1)),
            "hiking",
            &alice,
            10,
            None,
            SearchMode::Hybrid { semantic_weight: w },
        )
        .unwrap();
    let score = |id: &str| hits.iter().find(|h| h.0.id == id).unwrap().1;
    let cos = |a: usize, b: usize| {
        let (x, y) = (vec_along(a), vec_along(b));
        let dot: f32 = x.iter().zip(&y).map(|(p, q)| p * q).sum();
        let n = |v: &[f32]| v.iter().map(|p| p * p).sum::<f32>().sqrt();
        dot / (n(&x) * n(&y))
    };
    assert!(
        (score(&cooking) - w * 1.0).abs() < 1e-5,
        "no shared word: semantic part only"
    );
    assert!((score(&hiking) - (w * cos(0, 1) + (1.0 - w))).abs() < 1e-5);
    assert!(hits.iter().all(|h| (0.0..=1.0).contains(&h.1)));

    let none = engine.search(None, "hiking", &alice, 10, None, SearchMode::Semantic);
    assert!(
        matches!(none, Err(Error::Validation(_))),
        "semantic search needs a vector"
    );
    let thresholded = engine
        .search(
            Some(&vec_along(1)),
            "hiking",
            &alice,
            10,
            Some(0.9),
            SearchMode::Hybrid { semantic_weight: w },
        )
        .unwrap();
    assert!(thresholded.iter().all(|h| h.1 >= 0.9));
}
