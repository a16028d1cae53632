//! Events and commands the account tests are written in.

use super::*;
use crate::program::ProgramStatus;
use crate::values::{
    AccountId, CustomerId, DisplayName, Email, Points, ProgramId, Reason, SuspensionReason, TransactionId,
};

pub fn account_id() -> AccountId {
    AccountId(uuid::Uuid::from_u128(10))
}

pub fn program_id() -> ProgramId {
    ProgramId(uuid::Uuid::from_u128(1))
}

pub fn customer_id() -> CustomerId {
    CustomerId::parse("customerId", "cust-222").expect("valid")
}

pub fn transaction_id(n: u128) -> TransactionId {
    TransactionId(uuid::Uuid::from_u128(1000 + n))
}

pub fn program_facts() -> ProgramFacts {
    ProgramFacts {
        program_id: program_id(),
        name: "Coffee Rewards".to_owned(),
        status: ProgramStatus::Active,
        self_enroll_enabled: true,
        enrollment_full: false,
    }
}

pub fn enroll() -> AccountCommand {
    AccountCommand::Enroll(EnrollCustomer {
        account_id: account_id(),
        customer_id: customer_id(),
        display_name: DisplayName::parse("displayName", "Ada").expect("valid"),
        email: Email::parse("email", "ada@example.com").expect("valid"),
        method: EnrollmentMethod::Manual,
        program: program_facts(),
        email_taken: false,
    })
}

pub fn enrolled() -> AccountEvent {
    AccountEvent::Enrolled(CustomerEnrolled {
        customer_id: customer_id(),
        program_id: program_id(),
        program_name: "Coffee Rewards".to_owned(),
        enrollment_method: EnrollmentMethod::Manual,
        initial_tier_id: None,
        display_name: "Ada".to_owned(),
        email: "ada@example.com".to_owned(),
    })
}

pub fn accrue(txn: u128, points: u64) -> AccountCommand {
    AccountCommand::Accrue(AccruePoints {
        transaction_id: transaction_id(txn),
        points: Points::new(points),
        reason: Reason::parse("reason", "purchase").expect("valid"),
        order_ref: None,
        reference_type: ReferenceType::Manual,
        program_status: ProgramStatus::Active,
        expires_at: None,
    })
}

pub fn earned(txn: u128, points: u64, total: u64) -> AccountEvent {
    AccountEvent::PointsEarned(PointsEarned {
        customer_id: customer_id(),
        program_id: program_id(),
        points_earned: points,
        total_points: total,
        transaction_id: transaction_id(txn),
        reference_type: ReferenceType::Manual,
        reference_id: None,
        reason: "purchase".to_owned(),
        order_ref: None,
        expires_at: None,
    })
}

pub fn redeem(txn: u128, points: u64) -> AccountCommand {
    AccountCommand::Redeem(RedeemPoints {
        transaction_id: transaction_id(txn),
        points: Points::new(points),
        reason: Reason::parse("reason", "coffee").expect("valid"),
        reward: None,
        program_status: ProgramStatus::Active,
    })
}

pub fn redeemed(txn: u128, points: u64, remaining: u64) -> AccountEvent {
    AccountEvent::PointsRedeemed(PointsRedeemed {
        customer_id: customer_id(),
        program_id: program_id(),
        points_redeemed: points,
        remaining_points: remaining,
        reward_id: None,
        reward_name: None,
        transaction_id: transaction_id(txn),
        reason: "coffee".to_owned(),
    })
}

pub fn suspend() -> AccountCommand {
    AccountCommand::Suspend(SuspendAccount {
        reason: SuspensionReason::parse("reason", "fraud check").expect("valid"),
    })
}

pub fn suspended() -> AccountEvent {
    AccountEvent::Suspended(AccountSuspended {
        customer_id: customer_id(),
        program_id: program_id(),
        reason: "fraud check".to_owned(),
    })
}

pub fn reactivated() -> AccountEvent {
    AccountEvent::Reactivated(AccountReactivated {
        customer_id: customer_id(),
        program_id: program_id(),
    })
}
