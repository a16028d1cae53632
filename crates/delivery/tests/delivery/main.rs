//! The delivery crate's tests, in one binary: subscriptions on a real SQLite store, and the
//! Redis Streams bus on the real Redis of `LOYALTY_TEST_REDIS_URL`.

mod fixtures;
mod redis;
mod subscription;
