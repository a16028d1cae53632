//! Property tests over everything that decodes outside input: the decimal amount parser, the
//! value parsers, the program definition, the upstream payment events, stored events and the
//! upcasters. Whatever arrives, they answer: a value or field errors naming a field, never a
//! panic. (The `fuzz/` targets drive the same functions with a coverage-guided fuzzer.)

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::program::ProgramDefinition;
use crate::restaurant::{OnlinePaymentProcessed, PaymentProcessed, PaymentRefunded};
use crate::values::{CustomerId, DisplayName, Email, Money};
use crate::LoyaltyEvent;

/// Any JSON value, up to a small depth: the shape attackers and buggy clients send.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        "[0-9]{1,12}(\\.[0-9]{0,4})?".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// Field names the decoders know, and others.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("name".to_owned()),
        Just("ruleType".to_owned()),
        Just("ruleConfig".to_owned()),
        Just("pointsPerDollar".to_owned()),
        Just("tiers".to_owned()),
        Just("orderPayment".to_owned()),
        Just("paymentAmount".to_owned()),
        Just("paymentMethod".to_owned()),
        Just("tipAmount".to_owned()),
        Just("locationId".to_owned()),
        Just("customerId".to_owned()),
        Just("points".to_owned()),
        Just("totalPoints".to_owned()),
        Just("programId".to_owned()),
        "[a-zA-Z]{1,10}",
    ]
}

/// Field errors must name a field (the empty name is the body itself).
fn named(errors: &crate::ValidationErrors) -> bool {
    !errors.0.is_empty() && errors.0.iter().all(|e| !e.message.is_empty())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_amount_parser_answers_any_string(raw in ".{0,24}") {
        match Money::parse("amount", &raw) {
            Ok(money) => {
                // What it accepted prints and parses back to itself.
                prop_assert_eq!(Money::parse("amount", &money.to_string()).ok(), Some(money));
            }
            Err(errors) => prop_assert!(named(&errors) && errors.0[0].field == "amount"),
        }
    }

    #[test]
    fn well_formed_amounts_are_accepted_exactly(cents in 0u64..100_000_000_000u64) {
        let raw = format!("{}.{:02}", cents / 100, cents % 100);
        let money = Money::parse("amount", &raw).expect("a well-formed amount");
        prop_assert_eq!(money.minor_units(), cents as i64);
        prop_assert_eq!(money.to_string(), raw);
    }

    #[test]
    fn value_parsers_answer_any_string(raw in "\\PC{0,300}") {
        for outcome in [
            Email::parse("email", &raw).map(|_| ()),
            CustomerId::parse("customerId", &raw).map(|_| ()),
            DisplayName::parse("displayName", &raw).map(|_| ()),
        ] {
            if let Err(errors) = outcome {
                prop_assert!(named(&errors));
            }
        }
    }

    #[test]
    fn program_definitions_answer_any_json(body in any_json()) {
        if let Err(errors) = ProgramDefinition::parse(&body) {
            prop_assert!(named(&errors));
        }
    }

    #[test]
    fn upstream_payments_answer_any_json(body in any_json()) {
        for outcome in [
            PaymentProcessed::parse(&body).map(|_| ()),
            OnlinePaymentProcessed::parse(&body).map(|_| ()),
            PaymentRefunded::parse(&body, "tableOrderId").map(|_| ()),
        ] {
            if let Err(errors) = outcome {
                prop_assert!(named(&errors));
            }
        }
    }

    #[test]
    fn stored_events_and_upcasters_answer_any_data(
        data in any_json(),
        type_index in 0usize..40,
        old in any::<bool>(),
    ) {
        let types: Vec<&str> = LoyaltyEvent::all_types().collect();
        let event_type = types.get(type_index).copied().unwrap_or("loyalty.unknown.type");
        let version = if old { "1.0" } else { "2.0" };
        let envelope = crate::upcast::Envelope { event_id: uuid::Uuid::nil(), timestamp: chrono::Utc::now() };
        // Either may refuse; neither may panic. Read from its JSON text, the data is read
        // exactly as from its value.
        if let Ok((version, data)) = crate::upcast::upcast(event_type, version, data, &envelope) {
            let text = data.to_string();
            let from_value = LoyaltyEvent::decode(event_type, &version, data);
            let from_text = LoyaltyEvent::decode(event_type, &version, &mut serde_json::Deserializer::from_str(&text));
            prop_assert_eq!(from_value.ok(), from_text.ok());
        }
    }
}
