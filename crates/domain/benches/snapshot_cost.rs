//! What an account's snapshot costs to write and read as its qualifying points' daily buckets
//! grow (a member active on most days keeps up to 732), and as its lots of points that expire
//! do (one per accrual): the JSON's size, and the time of `serde_json::to_string` and
//! `from_str` of the whole state, which the writer does on every command. Not part of
//! `cargo test`. `cargo bench -p loyalty-domain --bench snapshot_cost`

use chrono::{Duration, TimeZone, Utc};
use loyalty_domain::account::LoyaltyAccount;
use loyalty_domain::values::TransactionId;
use std::time::Instant;

fn main() {
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).single().expect("a date");
    for days in [1usize, 100, 365, 732] {
        let mut account = LoyaltyAccount::default();
        for d in 0..days {
            account.qualifying.add(start + Duration::days(d as i64), 10);
        }
        measure(&account, &format!("{days:4} days"));
    }
    for lots in [1usize, 100, 365] {
        let mut account = LoyaltyAccount::default();
        for d in 0..lots {
            // Accruals' expiries at microsecond precision, as the service stores them.
            let expires_at = start + Duration::days(365 + d as i64) + Duration::microseconds(123_456);
            account.lots.add(TransactionId::new_random(), 1, Some(expires_at));
        }
        measure(&account, &format!("{lots:4} lots"));
    }
}

/// Print what `account`'s snapshot costs, as `what`.
fn measure(account: &LoyaltyAccount, what: &str) {
    {
        let json = serde_json::to_string(account).expect("written");
        let n = 20_000;
        let t = Instant::now();
        let mut len = 0;
        for _ in 0..n {
            len += serde_json::to_string(account).expect("written").len();
        }
        let ser = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        let t = Instant::now();
        for _ in 0..n {
            let a: LoyaltyAccount = serde_json::from_str(&json).expect("read");
            len += a.qualifying.days.len() + a.lots.iter().count();
        }
        let de = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        println!(
            "{what}: {:6} bytes, written in {ser:5.1} µs, read in {de:5.1} µs ({len} bytes, buckets and lots)",
            json.len()
        );
    }
}
