//! Upcasting: events are stored forever in the shape they were written in, and read through a
//! chain of steps that turns each older version into the next, until the current one. Readers
//! (aggregates, projections, consumers) only ever see current versions. A new version of an
//! event adds one step here; no stored event is rewritten.
//!
//! `loyalty.points.earned` 1.0 → 2.0: the seed's 1.0 carried `points` (the versioning example)
//! or `pointsEarned`, no `reason`, no `earnedAt`, sometimes no `transactionId`, `referenceType`
//! or `referenceId`, and no `expiresAt` (which is dropped if present: 1.0 had no lots). What 2.0
//! needs and 1.0 may lack is filled from the envelope: `transactionId` derived from the eventId
//! (Uuid v5, so the same on every read), `earnedAt` from its timestamp. `customerId`,
//! `programId` and `totalPoints` cannot be derived from one event; a 1.0 event without them is
//! refused as malformed, naming the missing field.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::EventDecodeError;

/// What a step may use besides the data: the envelope.
#[derive(Debug, Clone, Copy)]
pub struct Envelope {
    pub event_id: Uuid,
    pub timestamp: DateTime<Utc>,
}

type Step = fn(Map<String, Value>, &Envelope) -> Result<Map<String, Value>, String>;

/// `(event type, from version, to version, step)`.
const STEPS: &[(&str, &str, &str, Step)] = &[("loyalty.points.earned", "1.0", "2.0", points_earned_1_to_2)];

/// The current version of `data`, written as `version` of `event_type`.
pub fn upcast(
    event_type: &str,
    version: &str,
    data: Value,
    envelope: &Envelope,
) -> Result<(String, Value), EventDecodeError> {
    let mut version = version.to_owned();
    let mut data = data;
    while let Some((_, _, to, step)) = STEPS
        .iter()
        .find(|(t, from, _, _)| *t == event_type && *from == version)
    {
        let Value::Object(map) = data else {
            return Err(malformed(event_type, "data is not an object"));
        };
        data = Value::Object(step(map, envelope).map_err(|m| malformed(event_type, &m))?);
        version = (*to).to_owned();
    }
    Ok((version, data))
}

/// Whether no step reads `version` of `event_type`: it is current (or unknown, which decoding
/// refuses).
pub fn is_current(event_type: &str, version: &str) -> bool {
    !STEPS.iter().any(|(t, from, _, _)| *t == event_type && *from == version)
}

fn malformed(event_type: &str, message: &str) -> EventDecodeError {
    EventDecodeError::Malformed {
        event_type: event_type.to_owned(),
        message: format!("upcasting: {message}"),
    }
}

fn points_earned_1_to_2(mut data: Map<String, Value>, envelope: &Envelope) -> Result<Map<String, Value>, String> {
    let points = data
        .remove("points")
        .or_else(|| data.remove("pointsEarned"))
        .ok_or("version 1.0 has neither `points` nor `pointsEarned`")?;
    data.insert("pointsEarned".to_owned(), points);
    for required in ["customerId", "programId", "totalPoints"] {
        if !data.contains_key(required) {
            return Err(format!("version 1.0 without `{required}` cannot be read as 2.0"));
        }
    }
    data.entry("transactionId")
        .or_insert_with(|| Value::String(Uuid::new_v5(&envelope.event_id, b"loyalty.points.earned/1.0").to_string()));
    let reference_type = data
        .get("referenceType")
        .and_then(Value::as_str)
        .map(|t| t.to_uppercase().replace('-', "_"))
        .filter(|t| ["MANUAL", "PURCHASE", "SIGNUP_BONUS", "REWARD"].contains(&t.as_str()))
        .unwrap_or_else(|| "MANUAL".to_owned());
    data.insert("referenceType".to_owned(), Value::String(reference_type));
    data.entry("referenceId").or_insert(Value::Null);
    data.entry("reason")
        .or_insert_with(|| Value::String("Points earned".to_owned()));
    data.remove("expiresAt");
    data.insert(
        "earnedAt".to_owned(),
        Value::String(envelope.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
    );
    Ok(data)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::account::AccountEvent;
    use crate::DomainEvent;

    fn envelope() -> Envelope {
        Envelope {
            event_id: Uuid::from_u128(42),
            timestamp: Utc.with_ymd_and_hms(2025, 11, 7, 15, 30, 0).single().expect("date"),
        }
    }

    #[test]
    fn the_seeds_1_0_shape_reads_as_2_0() {
        let old = json!({"customerId": "cust-222", "programId": "00000000-0000-0000-0000-000000000001",
                         "points": 50, "totalPoints": 150, "referenceType": "purchase", "referenceId": "order-1",
                         "expiresAt": "2026-11-07T15:30:00Z"});
        let (version, data) = upcast("loyalty.points.earned", "1.0", old, &envelope()).expect("upcast");
        assert_eq!(version, "2.0");
        assert_eq!(data["pointsEarned"], 50);
        assert!(data.get("points").is_none());
        assert!(data.get("expiresAt").is_none(), "1.0 had no lots");
        assert_eq!(data["referenceType"], "PURCHASE");
        assert_eq!(data["reason"], "Points earned");
        assert_eq!(data["earnedAt"], "2025-11-07T15:30:00.000000Z");
        assert_eq!(
            data["transactionId"],
            Uuid::new_v5(&Uuid::from_u128(42), b"loyalty.points.earned/1.0").to_string()
        );
        let event = AccountEvent::decode("loyalty.points.earned", &version, data).expect("a current event");
        let AccountEvent::PointsEarned(e) = &event else {
            panic!("{event:?}")
        };
        assert_eq!((e.points_earned, e.total_points), (50, 150));
        assert_eq!(event.version(), "2.0");
    }

    #[test]
    fn current_versions_and_other_types_pass_through() {
        let data = json!({"anything": 1});
        assert_eq!(
            upcast("loyalty.points.earned", "2.0", data.clone(), &envelope()).expect("as is"),
            ("2.0".to_owned(), data.clone())
        );
        assert_eq!(
            upcast("loyalty.points.redeemed", "1.0", data.clone(), &envelope()).expect("as is"),
            ("1.0".to_owned(), data)
        );
    }

    #[test]
    fn what_cannot_be_derived_is_named() {
        let err = upcast("loyalty.points.earned", "1.0", json!({"points": 5}), &envelope()).expect_err("refused");
        assert!(err.to_string().contains("customerId"), "{err}");
        let err = upcast("loyalty.points.earned", "1.0", json!({"customerId": "c"}), &envelope()).expect_err("refused");
        assert!(err.to_string().contains("points"), "{err}");
    }
}
