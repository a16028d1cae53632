//! A moment as JSON, written whole: `#[serde(serialize_with = "timestamp::write")]` (or
//! `write_opt` for an `Option`) gives exactly what chrono's `Serialize` gives (RFC 3339 in UTC
//! with `Z`, as many fractional digits as needed), but chrono's goes through `collect_str`,
//! which serde_json escapes a character at a time: about 1,800 instructions a moment, on the
//! writer's path for every event and answer. Reading is chrono's, unchanged.

use chrono::{DateTime, SecondsFormat, Utc};
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

    proptest! {
        #[test]
        fn a_moment_is_written_as_chrono_writes_it(at in any_moment(), maybe in proptest::option::of(any_moment())) {
            prop_assert_eq!(
                serde_json::to_string(&Whole(at, maybe)).expect("written"),
                serde_json::to_string(&Chrono(at, maybe)).expect("written")
            );
        }
    }
}
