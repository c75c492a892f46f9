//! The filter language: parsing errors and evaluation semantics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::new_memory;
use memlane_core::{Engine, Error, Filter, NewMemory, Op, Outcome};
use serde_json::json;

fn parse(v: serde_json::Value) -> Result<Filter, Error> {
    Filter::from_json(&v)
}

#[test]
fn malformed_filters_are_rejected_with_the_culprit_named() {
    for (filter, needle) in [
        (json!({"k": {"regex": "x"}}), "regex"),
        (json!({"k": {}}), "empty"),
        (json!({"k": [1, 2]}), "in"),
        (json!({"AND": []}), "AND"),
        (json!({"OR": {"k": 1}}), "OR"),
        (json!({"k": {"in": 3}}), "in"),
        (json!({"k": {"gt": [1]}}), "gt"),
        (json!({"k": {"contains": 3}}), "contains"),
        (json!([1]), "object"),
    ] {
        match parse(filter.clone()) {
            Err(Error::Validation(msg)) => assert!(msg.contains(needle), "{filter}: {msg}"),
            other => panic!("{filter} gave {other:?}"),
        }
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let mut f = json!({"k": 1});
    for _ in 0..100 {
        f = json!({"NOT": [f]});
    }
    assert!(matches!(parse(f), Err(Error::Validation(_))));
}

async fn store_with(metas: Vec<serde_json::Value>) -> (tempfile::TempDir, Engine, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(&dir.path().join("f.db"), Some(4)).unwrap();
    let mut ids = Vec::new();
    for (i, meta) in metas.into_iter().enumerate() {
        let mut m: NewMemory = new_memory(&format!("m{i}"), "u", i % 4);
        m.metadata = meta.as_object().cloned();
        match &engine.apply(vec![Op::Add(m)]).await.unwrap()[0] {
            Outcome::Added(r) => ids.push(r.id.clone()),
            _ => unreachable!(),
        }
    }
    (dir, engine, ids)
}

fn matching(engine: &Engine, ids: &[String], filter: serde_json::Value) -> Vec<usize> {
    let f = parse(filter).unwrap();
    let found: Vec<String> = engine.list(&f, 100).iter().map(|r| r.id.clone()).collect();
    ids.iter()
        .enumerate()
        .filter(|(_, id)| found.contains(id))
        .map(|(i, _)| i)
        .collect()
}

#[tokio::test]
async fn operators_follow_the_documented_semantics() {
    let (_dir, e, ids) = store_with(vec![
        json!({"n": 1, "tag": "Red", "tags": ["a", "b"]}),
        json!({"n": 2.5, "tag": "blue"}),
        json!({"n": 10, "when": "2026-01-05"}),
        json!({}),
    ])
    .await;
    assert_eq!(matching(&e, &ids, json!({"n": 1})), vec![0]);
    assert_eq!(matching(&e, &ids, json!({"n": {"eq": 1.0}})), vec![0]);
    assert_eq!(
        matching(&e, &ids, json!({"n": {"ne": 1}})),
        vec![1, 2, 3],
        "ne matches a missing key"
    );
    assert_eq!(matching(&e, &ids, json!({"n": {"gt": 1}})), vec![1, 2]);
    assert_eq!(
        matching(&e, &ids, json!({"n": {"gte": 1, "lt": 10}})),
        vec![0, 1]
    );
    assert_eq!(matching(&e, &ids, json!({"n": {"lte": 2.5}})), vec![0, 1]);
    assert_eq!(
        matching(&e, &ids, json!({"n": {"in": [2.5, 10]}})),
        vec![1, 2]
    );
    assert_eq!(
        matching(&e, &ids, json!({"n": {"nin": [2.5, 10]}})),
        vec![0, 3]
    );
    assert_eq!(
        matching(&e, &ids, json!({"tag": {"contains": "Re"}})),
        vec![0]
    );
    assert_eq!(
        matching(&e, &ids, json!({"tag": {"contains": "re"}})),
        Vec::<usize>::new()
    );
    assert_eq!(
        matching(&e, &ids, json!({"tag": {"icontains": "rE"}})),
        vec![0]
    );
    assert_eq!(
        matching(&e, &ids, json!({"tags": {"contains": "b"}})),
        vec![0]
    );
    assert_eq!(matching(&e, &ids, json!({"tag": "*"})), vec![0, 1]);
    assert_eq!(
        matching(&e, &ids, json!({"when": {"gte": "2026-01-01"}})),
        vec![2]
    );
    assert_eq!(
        matching(&e, &ids, json!({"n": {"gt": "1"}})),
        Vec::<usize>::new(),
        "no cross-kind order"
    );
    assert_eq!(
        matching(&e, &ids, json!({"OR": [{"n": 1}, {"tag": "blue"}]})),
        vec![0, 1]
    );
    assert_eq!(
        matching(&e, &ids, json!({"NOT": [{"n": 1}, {"n": 10}]})),
        vec![1, 3]
    );
    assert_eq!(
        matching(
            &e,
            &ids,
            json!({"AND": [{"n": {"gt": 0}}, {"NOT": [{"tag": "blue"}]}]})
        ),
        vec![0, 2]
    );
    assert_eq!(
        matching(&e, &ids, json!({"role": "user", "n": 10})),
        vec![2]
    );
    assert_eq!(
        matching(&e, &ids, json!({"user_id": {"in": ["u", "v"]}})).len(),
        4
    );
    assert_eq!(
        matching(&e, &ids, json!({"created_at": {"gt": "2000"}})).len(),
        4
    );
    assert_eq!(
        matching(&e, &ids, json!({"x' OR 1=1 --": "1"})),
        Vec::<usize>::new()
    );
}
