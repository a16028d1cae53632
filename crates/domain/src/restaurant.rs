//! The restaurant chain's payment events, as its Front of House and Online Ordering contexts
//! publish them, and their translation into purchases (the RIDDL adaptors `FromPayment` and
//! `FromOnlinePayment`). Loyalty only listens: the upstream systems do not change.

mod claim;
mod online_payment;
mod outcome;
mod payment;
mod payment_method;
mod payment_refunded;

pub use claim::{claimable, CLAIM_WINDOW_DAYS};
pub use online_payment::OnlinePaymentProcessed;
pub use outcome::PaymentOutcome;
pub use payment::PaymentProcessed;
pub use payment_method::PaymentMethod;
pub use payment_refunded::PaymentRefunded;
