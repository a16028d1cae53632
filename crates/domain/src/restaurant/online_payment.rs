//! `OnlinePaymentProcessed` of Online Ordering: the member is the account of `customerId` in
//! the location's program.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::payment::{location, money, timestamp};
use crate::fields::Fields;
use crate::values::{CustomerId, Money, OrderRef};
use crate::ValidationErrors;

/// An online order's payment.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlinePaymentProcessed {
    pub online_order_id: OrderRef,
    pub customer_id: CustomerId,
    pub location_id: Option<String>,
    pub method: String,
    pub amount: Money,
    pub transaction_ref: String,
    pub paid_at: DateTime<Utc>,
}

impl OnlinePaymentProcessed {
    /// Read the event, naming every bad field. Unknown fields are ignored.
    pub fn parse(body: &Value) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let Some(mut f) = Fields::object("", body, &mut errors) else {
            return Err(errors);
        };
        let online_order_id = f
            .string("onlineOrderId", true, &mut errors)
            .and_then(|raw| errors.collect(OrderRef::parse("onlineOrderId", raw)));
        let customer_id = f
            .string("customerId", true, &mut errors)
            .and_then(|raw| errors.collect(CustomerId::parse("customerId", raw)));
        let location_id = location(&mut f, false, &mut errors);
        let paid_at = timestamp(&mut f, "onlinePaidAt", &mut errors);
        let mut payment = None;
        if let Some(raw) = f.raw("onlinePayment") {
            if let Some(mut p) = Fields::object("onlinePayment", raw, &mut errors) {
                let method = p.string("onlinePaymentMethod", true, &mut errors).map(str::to_owned);
                let amount = money(&mut p, "onlinePaymentAmount", true, &mut errors);
                let transaction_ref = p.string("onlineTransactionRef", true, &mut errors).map(str::to_owned);
                if let (Some(method), Some(amount), Some(transaction_ref)) = (method, amount, transaction_ref) {
                    payment = Some((method, amount, transaction_ref));
                }
            }
        } else {
            errors.push("onlinePayment", "is required");
        }
        match (online_order_id, customer_id, payment, paid_at) {
            (Some(online_order_id), Some(customer_id), Some((method, amount, transaction_ref)), Some(paid_at))
                if errors.is_empty() =>
            {
                Ok(Self {
                    online_order_id,
                    customer_id,
                    location_id,
                    method,
                    amount,
                    transaction_ref,
                    paid_at,
                })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_the_event_and_names_bad_fields() {
        let event = json!({"onlineOrderId": "W-1", "customerId": "cust-1", "onlinePaidAt": "2026-11-23T12:00:00Z",
                           "onlinePayment": {"onlinePaymentMethod": "Card", "onlinePaymentAmount": 19.99,
                                             "onlineTransactionRef": "ot-1"}, "somethingNew": true});
        let payment = OnlinePaymentProcessed::parse(&event).expect("valid");
        assert_eq!(payment.amount.to_string(), "19.99");
        assert_eq!(payment.location_id, None);
        let errors = OnlinePaymentProcessed::parse(&json!({"onlinePayment": {}})).expect_err("invalid");
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        for field in [
            "onlineOrderId",
            "customerId",
            "onlinePaidAt",
            "onlinePayment.onlinePaymentAmount",
        ] {
            assert!(fields.contains(&field), "{field} in {fields:?}");
        }
    }
}
