//! Timestamps as memlane returns them: ISO-8601, UTC, microseconds, explicit `+00:00`.

/// The current time, e.g. `2026-11-27T10:00:00.123456+00:00`.
pub fn now_iso() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}
