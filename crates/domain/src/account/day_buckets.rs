//! The qualifying points' daily buckets as a snapshot stores them: `[["2025-01-01",10],...]`,
//! exactly what serde gives a `Vec<(NaiveDate, i64)>`, but written and read without chrono's
//! text machinery for the usual four-digit years.
//!
//! A member active on most days holds up to two years of buckets, and the account's snapshot
//! is written and read on every command. Through chrono (`collect_str`, which serde_json
//! escapes a character at a time, and its general date parser) 732 buckets took about 69 µs
//! to write and 61 µs to read, more than the rest of an accrual. A date whose year is outside
//! 0 to 9999, or text not in the `YYYY-MM-DD` form, goes through chrono as before.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// Serialize the buckets (`#[serde(with = "day_buckets")]`).
pub fn serialize<S: Serializer>(days: &[(NaiveDate, i64)], serializer: S) -> Result<S::Ok, S::Error> {
    let mut seq = serializer.serialize_seq(Some(days.len()))?;
    for (day, points) in days {
        seq.serialize_element(&(Day(*day), points))?;
    }
    seq.end()
}

/// Deserialize the buckets (`#[serde(with = "day_buckets")]`).
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(NaiveDate, i64)>, D::Error> {
    struct Buckets;

    impl<'de> Visitor<'de> for Buckets {
        type Value = Vec<(NaiveDate, i64)>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of [date, points] pairs")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut days = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some((Day(day), points)) = seq.next_element::<(Day, i64)>()? {
                days.push((day, points));
            }
            Ok(days)
        }
    }

    deserializer.deserialize_seq(Buckets)
}

/// One bucket's date.
struct Day(NaiveDate);

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let date = self.0;
        let Ok(year) = u16::try_from(date.year()) else {
            return date.serialize(serializer);
        };
        if year > 9999 {
            return date.serialize(serializer);
        }
        let digits = |n: u32, buf: &mut [u8]| {
            let mut n = n;
            for byte in buf.iter_mut().rev() {
                *byte = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        let mut text = *b"0000-00-00";
        digits(u32::from(year), &mut text[0..4]);
        digits(date.month(), &mut text[5..7]);
        digits(date.day(), &mut text[8..10]);
        // ASCII digits and dashes only.
        serializer.serialize_str(std::str::from_utf8(&text).map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DayText;

        impl Visitor<'_> for DayText {
            type Value = Day;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a date (YYYY-MM-DD)")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Day, E> {
                if let Some(day) = parse_plain(text.as_bytes()) {
                    return Ok(Day(day));
                }
                text.parse::<NaiveDate>().map(Day).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(DayText)
    }
}

/// `YYYY-MM-DD` with four-digit year; `None` for anything else (chrono then decides).
fn parse_plain(text: &[u8]) -> Option<NaiveDate> {
    let [y1, y2, y3, y4, b'-', m1, m2, b'-', d1, d2] = *text else {
        return None;
    };
    let number = |digits: &[u8]| {
        digits
            .iter()
            .try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let year = number(&[y1, y2, y3, y4])?;
    NaiveDate::from_ymd_opt(year as i32, number(&[m1, m2])?, number(&[d1, d2])?)
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, NaiveDate};
    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};

    /// The buckets as serde writes them without this module.
    #[derive(Serialize, Deserialize)]
    struct Plain(Vec<(NaiveDate, i64)>);

    /// The same through this module.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Fast(#[serde(with = "super")] Vec<(NaiveDate, i64)>);

    fn day_between(first: NaiveDate, last: NaiveDate) -> impl Strategy<Value = NaiveDate> {
        (first.num_days_from_ce()..=last.num_days_from_ce())
            .prop_map(|n| NaiveDate::from_num_days_from_ce_opt(n).expect("in range"))
    }

    /// Mostly the four-digit years this module writes itself (most of them near today), and
    /// the rest of chrono's range, which it hands to chrono.
    fn any_day() -> impl Strategy<Value = NaiveDate> {
        let ymd = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("a date");
        prop_oneof![
            day_between(ymd(1900, 1, 1), ymd(2200, 12, 31)),
            day_between(ymd(0, 1, 1), ymd(9999, 12, 31)),
            day_between(NaiveDate::MIN, NaiveDate::MAX),
        ]
    }

    proptest! {
        /// Byte for byte what chrono writes, for every date chrono can hold (years of five
        /// digits and negative ones included), and read back the same.
        #[test]
        fn buckets_are_written_as_chrono_writes_them_and_read_back(
            days in proptest::collection::vec((any_day(), any::<i64>()), 0..20)
        ) {
            let fast = serde_json::to_string(&Fast(days.clone())).expect("written");
            prop_assert_eq!(&fast, &serde_json::to_string(&Plain(days.clone())).expect("written"));
            prop_assert_eq!(serde_json::from_str::<Fast>(&fast).expect("read"), Fast(days));
        }

        /// Whatever text chrono reads as a date, this reads as the same date; what it refuses,
        /// this refuses.
        #[test]
        fn any_text_is_read_as_chrono_reads_it(
            text in prop_oneof![
                "[0-9+-]{0,12}",
                (0u32..10_000, 0u32..14, 0u32..33).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
                (0u32..100_000, 0u32..14, 0u32..33).prop_map(|(y, m, d)| format!("{y}-{m}-{d}")),
            ]
        ) {
            let json = serde_json::json!([[text, 1]]).to_string();
            let plain = serde_json::from_str::<Plain>(&json).map(|p| p.0).ok();
            let fast = serde_json::from_str::<Fast>(&json).map(|f| f.0).ok();
            prop_assert_eq!(fast, plain);
        }
    }

    #[test]
    fn the_edges_are_written_and_read_as_chrono_does() {
        for text in [
            "0000-01-01",
            "0000-02-29",
            "2024-02-29",
            "9999-12-31",
            "+10000-01-01",
            "-0001-12-31",
        ] {
            let day: NaiveDate = text.parse().expect("chrono reads it");
            let json = format!(r#"[["{text}",1]]"#);
            assert_eq!(serde_json::to_string(&Fast(vec![(day, 1)])).expect("written"), json);
            assert_eq!(serde_json::from_str::<Fast>(&json).expect("read"), Fast(vec![(day, 1)]));
        }
    }

    #[test]
    fn a_plain_date_is_read_without_chrono_and_a_bad_one_is_refused() {
        assert_eq!(super::parse_plain(b"2025-01-31"), NaiveDate::from_ymd_opt(2025, 1, 31));
        assert_eq!(super::parse_plain(b"2025-02-30"), None);
        assert_eq!(super::parse_plain(b"2025-1-31x"), None);
        assert!(serde_json::from_str::<Fast>(r#"[["2025-02-30",1]]"#).is_err());
    }
}
