//! A moment as JSON, written and read whole. `#[serde(serialize_with = "timestamp::write")]`
//! (or `write_opt` for an `Option`) gives exactly what chrono's `Serialize` gives (RFC 3339 in
//! UTC with `Z`, as many fractional digits as needed), but chrono's goes through `collect_str`,
//! which serde_json escapes a character at a time: about 1,800 instructions a moment, on the
//! writer's path for every event and answer. `deserialize_with = "timestamp::read"` (or
//! `read_opt`) reads what chrono reads, the form written here without chrono's general parser:
//! a long-lived member's snapshot holds a moment for each of its lots, read and written again
//! on every command. Any other form (another offset, a leap second, more than nine fractional
//! digits) goes through chrono as before.

use std::fmt;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::Serializer;

/// Write `at` as chrono would.
pub fn write<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// Write `at`, if any, as chrono would (`None` as `null`, for fields not skipped when empty).
pub fn write_opt<S: Serializer>(at: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => write(at, serializer),
        None => serializer.serialize_none(),
    }
}

/// Read a moment as chrono would.
pub fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    deserializer.deserialize_str(Moment)
}

/// Read a moment, or `null`, as chrono would.
pub fn read_opt<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    struct Maybe;

    impl<'de> Visitor<'de> for Maybe {
        type Value = Option<DateTime<Utc>>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an RFC 3339 moment or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
            read(deserializer).map(Some)
        }
    }

    deserializer.deserialize_option(Maybe)
}

struct Moment;

impl Visitor<'_> for Moment {
    type Value = DateTime<Utc>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an RFC 3339 moment")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<DateTime<Utc>, E> {
        if let Some(at) = parse_plain(text.as_bytes()) {
            return Ok(at);
        }
        text.parse::<DateTime<Utc>>().map_err(E::custom)
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.F]Z`, with one to nine fractional digits; `None` for anything else
/// (chrono then decides), and for a moment that does not exist (chrono then refuses it).
fn parse_plain(text: &[u8]) -> Option<DateTime<Utc>> {
    let (&b'Z', text) = text.split_last()? else {
        return None;
    };
    let (whole, fraction) = text.split_at_checked(19)?;
    let [y1, y2, y3, y4, b'-', mo1, mo2, b'-', d1, d2, b'T', h1, h2, b':', mi1, mi2, b':', s1, s2] = *whole else {
        return None;
    };
    let number = |digits: &[u8]| {
        digits
            .iter()
            .try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let nanos = match fraction {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => number(digits)? * 10u32.pow(9 - digits.len() as u32),
        _ => return None,
    };
    let day = NaiveDate::from_ymd_opt(
        number(&[y1, y2, y3, y4])? as i32,
        number(&[mo1, mo2])?,
        number(&[d1, d2])?,
    )?;
    let seconds = number(&[s1, s2])?;
    // A leap second (`:60`) is chrono's to read.
    if seconds > 59 {
        return None;
    }
    Some(
        day.and_hms_nano_opt(number(&[h1, h2])?, number(&[mi1, mi2])?, seconds, nanos)?
            .and_utc(),
    )
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use proptest::prelude::*;
    use serde::Serialize;

    #[derive(Serialize)]
    struct Chrono(DateTime<Utc>, Option<DateTime<Utc>>);

    #[derive(Serialize)]
    struct Whole(
        #[serde(serialize_with = "super::write")] DateTime<Utc>,
        #[serde(serialize_with = "super::write_opt")] Option<DateTime<Utc>>,
    );

    fn any_moment() -> impl Strategy<Value = DateTime<Utc>> {
        // Whole seconds, milliseconds, microseconds and nanoseconds (each written with its own
        // number of digits), leap seconds included, over chrono's range and around today.
        let nanos = prop_oneof![
            Just(0u32),
            (0u32..1_000).prop_map(|ms| ms * 1_000_000),
            (0u32..1_000_000).prop_map(|us| us * 1_000),
            0u32..2_000_000_000,
        ];
        let seconds = prop_oneof![
            DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp(),
            1_500_000_000i64..2_500_000_000,
        ];
        (seconds, nanos).prop_filter_map("a moment chrono can hold", |(s, n)| Utc.timestamp_opt(s, n).single())
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Read(
        #[serde(deserialize_with = "super::read")] DateTime<Utc>,
        #[serde(deserialize_with = "super::read_opt")] Option<DateTime<Utc>>,
    );

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct ChronoRead(DateTime<Utc>, Option<DateTime<Utc>>);

    /// Both readers' answers on `json`: the value, or that it was refused.
    fn both(json: &str) -> (Option<Read>, Option<Read>) {
        let fast = serde_json::from_str::<Read>(json).ok();
        let chrono = serde_json::from_str::<ChronoRead>(json).ok().map(|c| Read(c.0, c.1));
        (fast, chrono)
    }

    /// The edges the proptests rarely reach: years 0 and 9999, leap days that are and are not,
    /// hour 24, leap seconds, an empty or ten-digit fraction, lower case, a trailing space,
    /// years of other widths.
    #[test]
    fn the_edges_are_read_or_refused_as_chrono_does() {
        for text in [
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "2000-02-29T12:00:00Z",
            "1900-02-29T12:00:00Z",
            "2023-02-29T12:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T23:60:00Z",
            "2016-12-31T23:59:60Z",
            "2016-12-31T23:59:60.5Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00.1234567891Z",
            "2024-01-01T00:00:00z",
            "2024-01-01t00:00:00Z",
            "2024-01-01T00:00:00Z ",
            "+10000-01-01T00:00:00Z",
            "-0001-01-01T00:00:00Z",
            "2024-01-01T00:00:00+01:00",
        ] {
            let json = format!("[\"{text}\", \"{text}\"]");
            let (fast, chrono) = both(&json);
            assert_eq!(fast, chrono, "{text}");
        }
    }

    proptest! {
        #[test]
        fn a_moment_written_is_read_back_as_chrono_reads_it(at in any_moment(), maybe in proptest::option::of(any_moment())) {
            let json = serde_json::to_string(&Whole(at, maybe)).expect("written");
            let (fast, chrono) = both(&json);
            prop_assert_eq!(&fast, &chrono);
            prop_assert_eq!(fast, Some(Read(at, maybe)));
        }

        /// Text of the form read without chrono, valid or not (month 13, hour 24, second 60,
        /// February 30th, fractions of any length), and other forms: read exactly as chrono
        /// reads it, or refused as chrono refuses it.
        #[test]
        fn any_text_is_read_or_refused_as_chrono_does(
            text in prop_oneof![
                "[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{0,11})?Z",
                "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})",
                "[0-9T:.Z-]{0,32}",
            ]
        ) {
            let json = format!("[\"{text}\", \"{text}\"]");
            let (fast, chrono) = both(&json);
            prop_assert_eq!(fast, chrono);
        }

        #[test]
        fn a_moment_is_written_as_chrono_writes_it(at in any_moment(), maybe in proptest::option::of(any_moment())) {
            prop_assert_eq!(
                serde_json::to_string(&Whole(at, maybe)).expect("written"),
                serde_json::to_string(&Chrono(at, maybe)).expect("written")
            );
        }
    }
}
