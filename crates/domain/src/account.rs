//! The `LoyaltyAccount` aggregate: one customer's membership of one program (RIDDL
//! `LoyaltyAccount`, NxLoy `CustomerEnrollment`). Its id is the `aggregateId` of every event that
//! happens to the member.

mod accrue_points;
mod command;
mod enroll_customer;
mod error;
mod event;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod invariants;
mod reactivate_account;
mod redeem_points;
mod state;
mod status;
mod suspend_account;

pub use command::{
    AccountCommand, AccruePoints, EnrollCustomer, EnrollmentMethod, ProgramFacts, RedeemPoints, ReferenceType,
    RewardRef, SuspendAccount,
};
pub use error::AccountError;
pub use event::{AccountEvent, AccountReactivated, AccountSuspended, CustomerEnrolled, PointsEarned, PointsRedeemed};
pub use state::{Enrollment, LoyaltyAccount};
pub use status::AccountStatus;
