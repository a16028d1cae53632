//! Qualifying points: points earned, counted over a tier's evaluation period, never the balance.
//! Kept as daily buckets pruned after two years, so the state stays small.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::program::EvaluationPeriod;

/// How long daily buckets are kept: enough for a rolling year and the calendar year before.
pub const QUALIFYING_DAYS_KEPT: i64 = 2 * 366;

/// Points earned per day, and in total.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Qualifying {
    pub lifetime: i64,
    /// Written and read by [`super::day_buckets`]: the same JSON, faster.
    #[serde(with = "super::day_buckets")]
    pub days: Vec<(NaiveDate, i64)>,
}

impl Qualifying {
    /// Count `points` (negative for a reversal) as earned at `at`.
    pub fn add(&mut self, at: DateTime<Utc>, points: i64) {
        self.lifetime += points;
        let day = at.date_naive();
        match self.days.last_mut() {
            Some((last, total)) if *last == day => *total += points,
            _ => {
                let index = self.days.partition_point(|(d, _)| *d <= day);
                self.days.insert(index, (day, points));
            }
        }
        let oldest = day - Duration::days(QUALIFYING_DAYS_KEPT);
        self.days.retain(|(d, _)| *d >= oldest);
    }

    /// Points qualifying at `now` over `period`, never negative.
    pub fn over(&self, period: EvaluationPeriod, now: DateTime<Utc>) -> u64 {
        let today = now.date_naive();
        let total: i64 = match period {
            EvaluationPeriod::Lifetime => self.lifetime,
            EvaluationPeriod::RollingYear => {
                let from = today - Duration::days(365);
                self.days
                    .iter()
                    .filter(|(d, _)| *d > from && *d <= today)
                    .map(|(_, p)| p)
                    .sum()
            }
            EvaluationPeriod::CalendarYear => self
                .days
                .iter()
                .filter(|(d, _)| d.year() == today.year() && *d <= today)
                .map(|(_, p)| p)
                .sum(),
        };
        total.max(0) as u64
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).single().expect("date")
    }

    #[test]
    fn periods_count_what_falls_inside_them() {
        let mut q = Qualifying::default();
        q.add(at(2025, 3, 1), 100);
        q.add(at(2025, 12, 31), 50);
        q.add(at(2026, 1, 2), 25);
        assert_eq!(q.over(EvaluationPeriod::Lifetime, at(2026, 6, 1)), 175);
        assert_eq!(q.over(EvaluationPeriod::CalendarYear, at(2026, 6, 1)), 25);
        assert_eq!(q.over(EvaluationPeriod::RollingYear, at(2026, 6, 1)), 75);
        assert_eq!(q.over(EvaluationPeriod::RollingYear, at(2027, 1, 3)), 0);
    }

    #[test]
    fn buckets_are_daily_and_pruned() {
        let mut q = Qualifying::default();
        for day in 0..2000 {
            q.add(at(2020, 1, 1) + Duration::days(day), 1);
            q.add(at(2020, 1, 1) + Duration::days(day), 1);
        }
        assert!(q.days.len() <= QUALIFYING_DAYS_KEPT as usize + 1);
        assert_eq!(q.lifetime, 4000);
    }
}
