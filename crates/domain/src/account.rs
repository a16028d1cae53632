//! The `LoyaltyAccount` aggregate: one customer's membership of one program (RIDDL
//! `LoyaltyAccount`, NxLoy `CustomerEnrollment`). Its id is the `aggregateId` of every event that
//! happens to the member.

mod accrue_points;
mod card;
mod command;
mod day_buckets;
mod enroll_customer;
mod error;
mod event;
mod expire_points;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod invariants;
mod lot;
mod pending;
mod program_open;
mod qualifying;
mod reactivate_account;
mod record_purchase;
mod redeem_points;
mod refund_order;
mod release_pending;
mod review_tier;
mod state;
mod status;
mod suspend_account;
mod tiering;
mod use_issued_reward;

pub use card::{advance as advance_card, CardProgress, CardStep};
pub use command::{
    AccountCommand, AccruePoints, EnrollCustomer, EnrollmentMethod, ExpirePoints, OrderFacts, ProgramFacts,
    ProgramRules, ReactivateAccount, RecordPurchase, RedeemPoints, ReferenceType, RefundOrder, ReleasePending,
    ReviewTier, RewardRef, SuspendAccount, UseIssuedReward,
};
pub use error::AccountError;
pub use event::{
    AccountEvent, AccountReactivated, AccountSuspended, CardProgressed, CustomerEnrolled, IssuedRewardUsed,
    PointsEarned, PointsExpired, PointsRedeemed, PointsReleased, PointsReversed, PurchaseRecorded, RewardIssued,
    TierDowngraded, TierUpgraded,
};
pub use lot::{Lot, Lots};
pub use pending::{Pending, PendingLot};
pub use qualifying::Qualifying;
pub use state::{Enrollment, IssuedReward, LoyaltyAccount, TierRef};
pub use status::AccountStatus;
