//! `PaymentProcessed` of the Front of House (a dine-in table order was paid), with the
//! `locationId` the chain's routing adds. Points are earned on the amount without the tip.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use super::PaymentMethod;
use crate::fields::Fields;
use crate::values::{Money, OrderRef};
use crate::ValidationErrors;

/// A dine-in payment.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentProcessed {
    pub table_order_id: OrderRef,
    pub location_id: String,
    pub method: PaymentMethod,
    /// What the guest paid, tip included.
    pub amount: Money,
    pub tip: Money,
    pub transaction_ref: Option<String>,
    pub processed_at: DateTime<Utc>,
}

impl PaymentProcessed {
    /// Read the event, naming every bad field. Unknown fields are ignored: upstream may add some.
    pub fn parse(body: &Value) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let Some(mut f) = Fields::object("", body, &mut errors) else {
            return Err(errors);
        };
        let table_order_id = f
            .string("tableOrderId", true, &mut errors)
            .and_then(|raw| errors.collect(OrderRef::parse("tableOrderId", raw)));
        let location_id = location(&mut f, true, &mut errors);
        let processed_at = timestamp(&mut f, "processedAt", &mut errors);
        let mut payment = None;
        if let Some(raw) = f.raw("orderPayment") {
            if let Some(mut p) = Fields::object("orderPayment", raw, &mut errors) {
                let method = p.choice("paymentMethod", true, PaymentMethod::NAMES, &mut errors);
                let amount = money(&mut p, "paymentAmount", true, &mut errors);
                let tip = money(&mut p, "tipAmount", false, &mut errors);
                let transaction_ref = p.string("transactionRef", false, &mut errors).map(str::to_owned);
                if let (Some(method), Some(amount)) = (method, amount) {
                    let tip = tip.unwrap_or(Money::ZERO);
                    if tip > amount {
                        errors.push("orderPayment.tipAmount", "must not exceed paymentAmount");
                    }
                    payment = Some((method, amount, tip, transaction_ref));
                }
            }
        } else {
            errors.push("orderPayment", "is required");
        }
        match (table_order_id, location_id, payment, processed_at) {
            (Some(table_order_id), Some(location_id), Some((method, amount, tip, transaction_ref)), Some(at))
                if errors.is_empty() =>
            {
                Ok(Self {
                    table_order_id,
                    location_id,
                    method,
                    amount,
                    tip,
                    transaction_ref,
                    processed_at: at,
                })
            }
            _ => Err(errors),
        }
    }

    /// What earns points: the paid amount without the tip.
    pub fn earning_amount(&self) -> Money {
        self.amount.checked_sub(self.tip).unwrap_or(Money::ZERO)
    }
}

pub(super) fn location(f: &mut Fields<'_>, required: bool, errors: &mut ValidationErrors) -> Option<String> {
    let raw = f.string("locationId", required, errors)?;
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 50 {
        errors.push(f.path_of("locationId"), "must be 1 to 50 characters");
        return None;
    }
    Some(trimmed.to_owned())
}

pub(super) fn money(
    f: &mut Fields<'_>,
    key: &'static str,
    required: bool,
    errors: &mut ValidationErrors,
) -> Option<Money> {
    let max = Decimal::from(Money::AMOUNT_MAX);
    let value = f.decimal(key, required, Decimal::ZERO, false, max, Money::SCALE_MAX, errors)?;
    errors.collect(Money::parse(&f.path_of(key), &value.to_string()))
}

pub(super) fn timestamp(f: &mut Fields<'_>, key: &'static str, errors: &mut ValidationErrors) -> Option<DateTime<Utc>> {
    let raw = f.string(key, true, errors)?;
    match DateTime::parse_from_rfc3339(raw) {
        Ok(at) => Some(at.with_timezone(&Utc)),
        Err(_) => {
            errors.push(f.path_of(key), "must be an RFC 3339 time such as 2026-11-23T12:00:00Z");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event() -> Value {
        json!({"tableOrderId": "T-17", "locationId": "loc-1", "processedAt": "2026-11-23T12:00:00Z",
               "orderPayment": {"paymentMethod": "CreditCard", "paymentAmount": "54.50", "tipAmount": "4.50",
                                "transactionRef": "tx-9"}})
    }

    #[test]
    fn earns_on_the_amount_without_the_tip() {
        let payment = PaymentProcessed::parse(&event()).expect("valid");
        assert_eq!(payment.earning_amount().to_string(), "50.00");
        assert_eq!(payment.method, PaymentMethod::CreditCard);
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut bad = event();
        bad["orderPayment"]["paymentMethod"] = json!("Cheque");
        bad["orderPayment"]["paymentAmount"] = json!("12.345");
        bad["processedAt"] = json!("yesterday");
        bad.as_object_mut().expect("object").remove("tableOrderId");
        let errors = PaymentProcessed::parse(&bad).expect_err("invalid");
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        for field in [
            "tableOrderId",
            "processedAt",
            "orderPayment.paymentMethod",
            "orderPayment.paymentAmount",
        ] {
            assert!(fields.contains(&field), "{field} in {fields:?}");
        }
    }

    #[test]
    fn a_tip_larger_than_the_payment_is_refused() {
        let mut bad = event();
        bad["orderPayment"]["tipAmount"] = json!("60");
        let errors = PaymentProcessed::parse(&bad).expect_err("invalid");
        assert_eq!(errors.0[0].field, "orderPayment.tipAmount");
    }
}
