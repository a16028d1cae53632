//! Late claims: a member who forgot to show their code claims a payment that found no member,
//! within the claim window.

use chrono::{DateTime, Duration, Utc};

use crate::account::AccountError;

/// How long after a payment it can be claimed, unless configured otherwise.
pub const CLAIM_WINDOW_DAYS: u32 = 30;

/// Whether a payment received at `received_at` with `outcome` can be claimed at `now`, within
/// `window_days`.
pub fn claimable(
    payment_ref: &str,
    outcome: &str,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
    window_days: u32,
) -> Result<(), AccountError> {
    let payment_ref = payment_ref.to_owned();
    match outcome {
        "NO_ACCOUNT" => {}
        "ACCRUED" | "CLAIMED" => return Err(AccountError::AlreadyClaimed { payment_ref }),
        "LOCATION_NOT_ENABLED" => {
            return Err(AccountError::PaymentNotClaimable {
                payment_ref,
                reason: "its location did not run the loyalty program".to_owned(),
            })
        }
        other => {
            return Err(AccountError::PaymentNotClaimable {
                payment_ref,
                reason: format!("its outcome was {other}"),
            })
        }
    }
    if now - received_at > Duration::days(i64::from(window_days)) {
        return Err(AccountError::ClaimWindowClosed {
            payment_ref,
            window_days,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, 12, 0, 0).single().expect("date")
    }

    #[test]
    fn only_unmatched_payments_inside_the_window() {
        assert_eq!(claimable("T-1", "NO_ACCOUNT", at(1), at(31), 30), Ok(()));
        assert_eq!(
            claimable("T-1", "NO_ACCOUNT", at(1), at(31) + Duration::seconds(1), 30),
            Err(AccountError::ClaimWindowClosed {
                payment_ref: "T-1".to_owned(),
                window_days: 30
            })
        );
        assert_eq!(
            claimable("T-1", "CLAIMED", at(1), at(2), 30),
            Err(AccountError::AlreadyClaimed {
                payment_ref: "T-1".to_owned()
            })
        );
        assert!(matches!(
            claimable("T-1", "LOCATION_NOT_ENABLED", at(1), at(2), 30),
            Err(AccountError::PaymentNotClaimable { .. })
        ));
    }
}
