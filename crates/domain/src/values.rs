//! Value types that are only ever constructed by parsing, so holding one means it is valid.

mod bounded_text;
mod email;
mod ids;
mod money;
mod points;
pub mod timestamp;

pub use bounded_text::{BoundedText, DisplayName, OrderRef, Reason, RewardName, SuspensionReason};
pub use email::Email;
pub use ids::{AccountId, BusinessId, CustomerId, ProgramId, RewardId, TransactionId};
pub use money::Money;
pub use points::{Points, POINTS_PER_COMMAND_MAX};
