//! The restaurant chain's payment streams: the same translation as the HTTP adaptors, fed from
//! the Redis streams its Front of House and Online Ordering already publish.

mod adaptor;
mod upstream;

pub use adaptor::RestaurantAdaptor;
pub use upstream::{decode, UPSTREAM_STREAMS};
