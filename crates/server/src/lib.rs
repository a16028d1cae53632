//! The loyalty service: HTTP API, command line, and the wiring of domain, store and server.

pub mod bench;
pub mod business;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod demo;
pub mod error;
pub mod http;
pub mod import;
pub mod leadership;
pub mod notifications;
mod progress;
pub mod restaurant;
pub mod sagas;
pub mod service;
pub mod startup;
pub mod sweeper;
pub mod telemetry;
pub mod webhooks;
