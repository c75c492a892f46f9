//! Helpers shared by the engine tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use memlane_core::{Engine, NewMemory, Op, Outcome, Scope};

pub fn scope(user: &str) -> Scope {
    Scope {
        user_id: Some(user.into()),
        ..Scope::default()
    }
}

/// A 4-d vector pointing mostly along axis `axis`.
pub fn vec_along(axis: usize) -> Vec<f32> {
    let mut v = vec![0.1f32; 4];
    v[axis] = 1.0;
    v
}

pub fn new_memory(text: &str, user: &str, axis: usize) -> NewMemory {
    NewMemory {
        text: text.into(),
        vector: vec_along(axis),
        scope: scope(user),
        actor_id: None,
        role: Some("user".into()),
        metadata: None,
    }
}

/// Adds one memory and returns its id.
pub async fn add(engine: &Engine, text: &str, user: &str, axis: usize) -> String {
    let out = engine
        .apply(vec![Op::Add(new_memory(text, user, axis))])
        .await
        .expect("add");
    match &out[0] {
        Outcome::Added(r) => r.id.clone(),
        other => panic!("unexpected outcome {other:?}"),
    }
}
