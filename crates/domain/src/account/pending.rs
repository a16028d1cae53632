//! Pending points: purchase points inside the program's return window (`pendingDays`). Not
//! spendable and not qualifying; released whole when the window closes, cancelled by a refund of
//! their order.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::values::{timestamp, TransactionId};

/// The pending points of one accrual.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingLot {
    pub transaction_id: TransactionId,
    pub points: u64,
    #[serde(serialize_with = "timestamp::write", deserialize_with = "timestamp::read")]
    pub release_at: DateTime<Utc>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "timestamp::write_opt",
        deserialize_with = "timestamp::read_opt"
    )]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_ref: Option<String>,
}

/// The pending lots of an account, soonest release first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pending(Vec<PendingLot>);

impl Pending {
    pub fn total(&self) -> u64 {
        self.0.iter().map(|l| l.points).sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = &PendingLot> {
        self.0.iter()
    }

    pub fn add(&mut self, lot: PendingLot) {
        if lot.points == 0 {
            return;
        }
        let at = self.0.partition_point(|l| l.release_at <= lot.release_at);
        self.0.insert(at, lot);
    }

    /// The lots whose window closed by `as_of`.
    pub fn due(&self, as_of: DateTime<Utc>) -> impl Iterator<Item = &PendingLot> {
        self.0.iter().take_while(move |l| l.release_at <= as_of)
    }

    /// Remove one accrual's lot (it was released); returns its points.
    pub fn release(&mut self, transaction_id: TransactionId) -> u64 {
        let released = self
            .0
            .iter()
            .filter(|l| l.transaction_id == transaction_id)
            .map(|l| l.points)
            .sum();
        self.0.retain(|l| l.transaction_id != transaction_id);
        released
    }

    /// Points of `order_ref` still pending.
    pub fn of_order(&self, order_ref: &str) -> u64 {
        self.0
            .iter()
            .filter(|l| l.order_ref.as_deref() == Some(order_ref))
            .map(|l| l.points)
            .sum()
    }

    /// Cancel up to `points` of `order_ref`'s pending points; returns how many were cancelled.
    pub fn cancel(&mut self, order_ref: &str, points: u64) -> u64 {
        let mut left = points;
        for lot in self.0.iter_mut().filter(|l| l.order_ref.as_deref() == Some(order_ref)) {
            let cancelled = lot.points.min(left);
            lot.points -= cancelled;
            left -= cancelled;
        }
        self.0.retain(|l| l.points > 0);
        points - left
    }

    /// When the next lot is released.
    pub fn next_release(&self) -> Option<DateTime<Utc>> {
        self.0.first().map(|l| l.release_at)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).single().expect("date")
    }

    fn lot(n: u128, points: u64, day: u32, order: &str) -> PendingLot {
        PendingLot {
            transaction_id: TransactionId(uuid::Uuid::from_u128(n)),
            points,
            release_at: at(day),
            expires_at: None,
            order_ref: Some(order.to_owned()),
        }
    }

    #[test]
    fn releases_in_window_order_and_cancels_by_order() {
        let mut pending = Pending::default();
        pending.add(lot(1, 10, 9, "a"));
        pending.add(lot(2, 20, 3, "b"));
        assert_eq!(pending.next_release(), Some(at(3)));
        let due: Vec<u64> = pending.due(at(5)).map(|l| l.points).collect();
        assert_eq!(due, [20]);
        assert_eq!(pending.cancel("a", 4), 4);
        assert_eq!(pending.of_order("a"), 6);
        assert_eq!(pending.cancel("a", 100), 6, "never more than is pending");
        assert_eq!(pending.total(), 20);
        assert_eq!(pending.release(TransactionId(uuid::Uuid::from_u128(2))), 20);
        assert_eq!(pending.total(), 0);
    }
}
