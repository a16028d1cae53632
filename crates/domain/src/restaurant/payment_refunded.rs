//! `PaymentRefunded` of the Front of House or Online Ordering: the same order id as the payment,
//! plus the refunded amount (absent: all of it).

use serde_json::Value;

use super::payment::money;
use crate::fields::Fields;
use crate::values::{Money, OrderRef};
use crate::ValidationErrors;

/// A refund of a paid order, upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentRefunded {
    pub order_id: OrderRef,
    /// `None`: the whole order.
    pub amount: Option<Money>,
}

impl PaymentRefunded {
    /// Read the event; `id_field` is `tableOrderId` or `onlineOrderId`.
    pub fn parse(body: &Value, id_field: &'static str) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let Some(mut f) = Fields::object("", body, &mut errors) else {
            return Err(errors);
        };
        let order_id = f
            .string(id_field, true, &mut errors)
            .and_then(|raw| errors.collect(OrderRef::parse(id_field, raw)));
        let amount = money(&mut f, "refundedAmount", false, &mut errors);
        match order_id {
            Some(order_id) if errors.is_empty() => Ok(Self { order_id, amount }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_the_order_and_the_amount() {
        let refund = PaymentRefunded::parse(
            &json!({"tableOrderId": "T-1", "refundedAmount": "4.50"}),
            "tableOrderId",
        )
        .expect("valid");
        assert_eq!(refund.amount.map(|a| a.to_string()).as_deref(), Some("4.50"));
        let errors = PaymentRefunded::parse(&json!({"refundedAmount": "x"}), "onlineOrderId").expect_err("invalid");
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["onlineOrderId", "refundedAmount"]);
    }
}
