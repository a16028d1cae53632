//! Black-box tests of the HTTP API and the command line: a real server on a free port with its
//! own SQLite database per test, driven over HTTP as a client would.

mod accounts;
mod cli;
mod concurrency;
mod contract;
mod crash;
mod delivery;
mod errors;
mod halt;
mod helpers;
mod idempotency;
mod import;
mod instances;
mod operations;
mod programs;
mod purchases;
mod refunds;
mod restart;
mod restaurant;
mod rewards;
mod saga;
mod templates;
mod tenancy;
mod time;
mod traffic;
mod upcast;
mod webhooks;
