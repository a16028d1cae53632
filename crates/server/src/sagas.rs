//! Sagas: handlers that react to committed events with further commands (the seed's
//! `EnrollmentSaga`), run by `loyalty_delivery` subscriptions exactly once per event.

mod enrollment;

pub use enrollment::EnrollmentSaga;
