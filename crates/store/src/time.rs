//! Timestamps are stored as RFC 3339 UTC text with microseconds, so text order is time order:
//! `2026-12-07T00:14:03.123456Z`, 27 bytes.
//!
//! Every event, ledger entry and read-model row carries one, and a rebuild formats or parses one
//! per event: chrono's general formatter and parser took about 735 and 444 instructions a
//! timestamp, these about 380 and 240 (BENCHMARKS.md). The stored shape is written and read
//! here digit by digit, and anything else (a year before 0 or after 9999, a leap second, text in
//! another shape) goes to chrono as before; the tests check both give the same.

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Timelike, Utc};

use crate::StoreError;

/// The stored text's length.
const STORED_LEN: usize = 27;

pub fn format(at: DateTime<Utc>) -> String {
    match write_stored(at).map(|text| String::from_utf8(text.to_vec())) {
        Some(Ok(text)) => text,
        _ => at.to_rfc3339_opts(SecondsFormat::Micros, true),
    }
}

/// `at` in the stored shape, digit by digit; `None` for a time chrono writes otherwise: a year
/// outside 0..=9999, or a leap second (past a second's last nanosecond, written as second 60).
fn write_stored(at: DateTime<Utc>) -> Option<[u8; STORED_LEN]> {
    // Read once, without the offset (UTC's is none) that each of `DateTime`'s own accessors
    // adds again.
    let naive = at.naive_utc();
    let (date, time) = (naive.date(), naive.time());
    // Cut, not rounded, to the microsecond, as chrono writes it.
    let micros = time.nanosecond() / 1_000;
    if !(0..=9999).contains(&date.year()) || micros >= 1_000_000 {
        return None;
    }
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, mut value: u32| {
        for i in (at..at + width).rev() {
            text[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, date.year().unsigned_abs());
    put(5, 2, date.month());
    put(8, 2, date.day());
    put(11, 2, time.hour());
    put(14, 2, time.minute());
    put(17, 2, time.second());
    put(20, 6, micros);
    Some(text)
}

pub fn parse(raw: &str) -> Result<DateTime<Utc>, StoreError> {
    if let Some(at) = parse_stored(raw.as_bytes()) {
        return Ok(at);
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("bad timestamp {raw:?}: {e}")))
}

/// `raw` read as the stored shape; `None` if it is not in it, or names no time (a 31st of
/// April, a 24th hour), or a leap second (second 60), which chrono reads.
fn parse_stored(raw: &[u8]) -> Option<DateTime<Utc>> {
    if raw.len() != STORED_LEN {
        return None;
    }
    let separators = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (26, b'Z'),
    ];
    if separators.iter().any(|&(at, byte)| raw[at] != byte) {
        return None;
    }
    let number = |from: usize, to: usize| {
        raw[from..to].iter().try_fold(0u32, |n, &b| match b {
            b'0'..=b'9' => Some(n * 10 + u32::from(b - b'0')),
            _ => None,
        })
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(number(0, 4)?).ok()?, number(5, 7)?, number(8, 10)?)?;
    // Refuses second 60: six digits of microseconds cannot say a leap second.
    let time = date.and_hms_micro_opt(number(11, 13)?, number(14, 16)?, number(17, 19)?, number(20, 26)?)?;
    Some(time.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn chrono_format(at: DateTime<Utc>) -> String {
        at.to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    fn chrono_parse(raw: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(raw).ok().map(|t| t.with_timezone(&Utc))
    }

    proptest! {
        /// Any time from year 0 to 9999, to the nanosecond, is written as chrono writes it,
        /// and read back as chrono reads it: the same time, cut to the microsecond.
        #[test]
        fn a_time_is_written_and_read_as_chrono_does(
            seconds in -62_167_219_200i64..253_402_300_800i64,
            nanos in 0u32..1_000_000_000,
        ) {
            let at = Utc.timestamp_opt(seconds, nanos).single().expect("a time");
            // Written and read here, not by chrono's fallback.
            let written = write_stored(at).expect("the stored shape");
            let text = format(at);
            prop_assert_eq!(text.as_bytes(), &written[..]);
            prop_assert_eq!(&text, &chrono_format(at));
            let read = parse_stored(&written).expect("read back");
            prop_assert_eq!(parse(&text).ok(), Some(read));
            prop_assert_eq!(Some(read), chrono_parse(&text));
            prop_assert_eq!(read.timestamp(), at.timestamp());
            prop_assert_eq!(read.timestamp_subsec_micros(), at.timestamp_subsec_micros());
        }

        /// Text in the stored shape whose digits were changed at random is read exactly as
        /// chrono reads it: the same time, or, where it names none, an error.
        #[test]
        fn stored_shaped_text_is_read_as_chrono_reads_it(
            changes in proptest::collection::vec((0usize..20, 0u8..10), 1..5),
        ) {
            let mut text = *b"2026-12-07T00:14:03.123456Z";
            let places: Vec<usize> = (0..STORED_LEN).filter(|&i| text[i].is_ascii_digit()).collect();
            // A few digits changed, so that some texts name a time and some do not.
            for (place, digit) in changes {
                text[places[place]] = b'0' + digit;
            }
            let stored = parse_stored(&text);
            let text = std::str::from_utf8(&text).expect("ascii");
            prop_assert_eq!(parse(text).ok(), chrono_parse(text), "{}", text);
            // Whatever the digits read here name is what chrono reads (a leap second only
            // goes to chrono).
            if stored.is_some() {
                prop_assert_eq!(stored, chrono_parse(text), "{}", text);
            } else if !text.contains(":60.") {
                prop_assert_eq!(chrono_parse(text), None, "{}", text);
            }
        }
    }

    /// The edges of the stored shape: year 0 and the last microsecond of 9999 are written
    /// here; a time is cut to the microsecond, not rounded; the first and last nanosecond of a
    /// leap second go to chrono, which writes second 60.
    #[test]
    fn the_edges_of_the_stored_shape_are_written_as_chrono_writes_them() {
        let at = |y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, nanos: u32| {
            Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
                .single()
                .and_then(|t| t.with_nanosecond(nanos))
                .expect("a time")
        };
        for (time, text) in [
            (at(0, 1, 1, 0, 0, 0, 0), "0000-01-01T00:00:00.000000Z"),
            (at(9999, 12, 31, 23, 59, 59, 999_999_999), "9999-12-31T23:59:59.999999Z"),
            (at(2026, 12, 7, 1, 2, 3, 1_999), "2026-12-07T01:02:03.000001Z"),
        ] {
            assert_eq!(write_stored(time).as_ref().map(|t| &t[..]), Some(text.as_bytes()));
            assert_eq!(format(time), chrono_format(time));
            assert_eq!(format(time), text);
        }
        for nanos in [1_000_000_000, 1_000_000_999, 1_999_999_999] {
            let leap = at(2016, 12, 31, 23, 59, 59, nanos);
            assert_eq!(write_stored(leap), None, "{nanos}");
            assert_eq!(format(leap), chrono_format(leap));
            assert!(format(leap).contains(":60."), "{}", format(leap));
        }
    }

    /// What the fast path leaves to chrono: years outside 0..=9999, leap seconds, other shapes
    /// of RFC 3339; and what neither reads.
    #[test]
    fn other_times_and_shapes_go_to_chrono() {
        let far = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).single().expect("a time");
        assert_eq!(format(far), chrono_format(far));
        let before = Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).single().expect("a time");
        assert_eq!(format(before), chrono_format(before));
        let leap = Utc
            .with_ymd_and_hms(2016, 12, 31, 23, 59, 59)
            .single()
            .and_then(|t| t.with_nanosecond(1_500_000_000))
            .expect("a leap second");
        assert_eq!(format(leap), chrono_format(leap));
        for text in [
            "2016-12-31T23:59:60.500000Z",
            "2026-12-07T00:14:03Z",
            "2026-12-07T01:14:03.123456+01:00",
            "2026-12-07T00:14:03.1234567Z",
        ] {
            assert_eq!(parse(text).ok(), chrono_parse(text), "{text}");
            assert!(parse(text).is_ok(), "{text}");
        }
        for text in [
            "2026-12-07t00:14:03.123456z",
            "2026-12-07 00:14:03.123456Z",
            "+2026-12-07T00:14:03.123456Z",
        ] {
            assert_eq!(parse(text).ok(), chrono_parse(text), "{text}");
        }
        for text in [
            "2026-02-30T00:00:00.000000Z",
            "2026-12-07T24:00:00.000000Z",
            "",
            "not a time",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
    }
}
