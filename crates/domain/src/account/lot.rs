//! Lots: the points of one accrual, each with its own expiry. Spending takes the lots that
//! expire soonest first; the balance is always the sum of the lots.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::values::{timestamp, TransactionId};

/// Points still available from one accrual.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lot {
    pub transaction_id: TransactionId,
    pub remaining: u64,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "timestamp::write_opt",
        deserialize_with = "timestamp::read_opt"
    )]
    pub expires_at: Option<DateTime<Utc>>,
}

/// The lots of an account, kept ordered by expiry (never-expiring last).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Lots(Vec<Lot>);

impl Lots {
    pub fn total(&self) -> u64 {
        self.0.iter().map(|l| l.remaining).sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Lot> {
        self.0.iter()
    }

    /// Add an accrual's points. Points that never expire share one lot, so an account without
    /// expiry keeps a single lot however long its history.
    pub fn add(&mut self, transaction_id: TransactionId, points: u64, expires_at: Option<DateTime<Utc>>) {
        if points == 0 {
            return;
        }
        if expires_at.is_none() {
            if let Some(lot) = self.0.iter_mut().find(|l| l.expires_at.is_none()) {
                lot.remaining += points;
                return;
            }
        }
        let at = self
            .0
            .iter()
            .position(|l| expiry_key(l.expires_at) > expiry_key(expires_at))
            .unwrap_or(self.0.len());
        self.0.insert(
            at,
            Lot {
                transaction_id,
                remaining: points,
                expires_at,
            },
        );
    }

    /// Take `points` from the lots that expire soonest; returns how many could be taken.
    pub fn take(&mut self, points: u64) -> u64 {
        let mut left = points;
        for lot in &mut self.0 {
            if left == 0 {
                break;
            }
            let taken = lot.remaining.min(left);
            lot.remaining -= taken;
            left -= taken;
        }
        self.0.retain(|l| l.remaining > 0);
        points - left
    }

    /// The lots due at `as_of` that still hold points.
    pub fn due(&self, as_of: DateTime<Utc>) -> impl Iterator<Item = &Lot> {
        self.0
            .iter()
            .filter(move |l| l.expires_at.is_some_and(|at| at <= as_of) && l.remaining > 0)
    }

    /// Remove what is left of one lot (it expired); returns the points removed.
    pub fn expire(&mut self, transaction_id: TransactionId) -> u64 {
        let removed = self
            .0
            .iter()
            .filter(|l| l.transaction_id == transaction_id)
            .map(|l| l.remaining)
            .sum();
        self.0.retain(|l| l.transaction_id != transaction_id);
        removed
    }

    /// Points expiring up to `until`, and the next expiry.
    pub fn expiring(&self, until: DateTime<Utc>) -> (u64, Option<DateTime<Utc>>) {
        let soon = self
            .0
            .iter()
            .filter(|l| l.expires_at.is_some_and(|at| at <= until))
            .map(|l| l.remaining)
            .sum();
        (soon, self.0.iter().find_map(|l| l.expires_at))
    }
}

fn expiry_key(at: Option<DateTime<Utc>>) -> (bool, Option<DateTime<Utc>>) {
    (at.is_none(), at)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32) -> Option<DateTime<Utc>> {
        Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).single()
    }

    fn id(n: u128) -> TransactionId {
        TransactionId(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn spends_the_soonest_expiring_first() {
        let mut lots = Lots::default();
        lots.add(id(1), 10, at(20));
        lots.add(id(2), 10, None);
        lots.add(id(3), 10, at(5));
        assert_eq!(lots.take(15), 15);
        let left: Vec<(TransactionId, u64)> = lots.iter().map(|l| (l.transaction_id, l.remaining)).collect();
        assert_eq!(left, [(id(1), 5), (id(2), 10)]);
        assert_eq!(lots.total(), 15);
    }

    #[test]
    fn never_expiring_points_share_one_lot() {
        let mut lots = Lots::default();
        for n in 0..100 {
            lots.add(id(n), 1, None);
        }
        assert_eq!(lots.iter().count(), 1);
        assert_eq!(lots.total(), 100);
    }

    #[test]
    fn due_lots_expire_whole() {
        let mut lots = Lots::default();
        lots.add(id(1), 10, at(5));
        lots.add(id(2), 7, at(6));
        let due: Vec<TransactionId> = lots.due(at(5).expect("date")).map(|l| l.transaction_id).collect();
        assert_eq!(due, [id(1)]);
        assert_eq!(lots.expire(id(1)), 10);
        assert_eq!(lots.total(), 7);
        assert_eq!(lots.expiring(at(6).expect("date")), (7, at(6)));
    }
}
