//! The loyalty domain: programs, loyalty accounts and rewards catalogues, their commands, events,
//! rules and errors.
//!
//! Everything here is pure: no I/O, no clocks, no randomness. Commands carry the time and the
//! fresh ids they need, so every decision is a deterministic function of past events and a
//! command. The storage and HTTP layers live in other crates.

pub mod account;
pub mod aggregate;
pub mod event;
pub mod fields;
pub mod program;
pub mod restaurant;
pub mod reward;
pub mod testing;
pub mod upcast;
pub mod validation;
pub mod values;

#[cfg(test)]
mod decoding_properties;

pub use aggregate::Aggregate;
pub use event::{DomainEvent, EventDecodeError, LoyaltyEvent};
pub use validation::{FieldError, ValidationErrors};
