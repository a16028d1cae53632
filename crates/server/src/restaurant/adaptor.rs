//! The adaptors (`FromPayment`, `FromOnlinePayment`) as an event handler: an upstream payment
//! event goes through the same translation as the HTTP endpoints, in the handler's transaction.
//! A malformed payment fails the handler, so after its retries it is dead-lettered with the
//! fields that were wrong; the consumer goes on.

use loyalty_delivery::{EventHandler, Handled};
use loyalty_domain::restaurant::{OnlinePaymentProcessed, PaymentProcessed, PaymentRefunded};
use loyalty_store::{EventFilter, StoreError, StoredEvent, WriteTx};

use super::upstream::{FRONT_OF_HOUSE_REFUNDS, ONLINE_PAYMENTS, ONLINE_REFUNDS, UPSTREAM_STREAMS};
use crate::service::{outcome_of, refund_payment, translate_payment, Context, UpstreamPayment};

/// Handles the chain's payment events.
#[derive(Debug, Default)]
pub struct RestaurantAdaptor;

impl RestaurantAdaptor {
    pub const NAME: &'static str = "restaurant-adaptor";
}

impl EventHandler for RestaurantAdaptor {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn handles(&self, event_type: &str) -> bool {
        UPSTREAM_STREAMS.contains(&event_type)
    }

    fn filter(&self) -> EventFilter {
        EventFilter::Types(&UPSTREAM_STREAMS)
    }

    fn handle(&self, tx: &mut WriteTx<'_>, event: &StoredEvent) -> Result<Handled, StoreError> {
        let context = Context {
            business_id: event.business_id,
            idempotency: None,
            correlation_id: event.event_id,
        };
        if event.event_type == FRONT_OF_HOUSE_REFUNDS || event.event_type == ONLINE_REFUNDS {
            let (source, field) = if event.event_type == ONLINE_REFUNDS {
                ("online-ordering", "onlineOrderId")
            } else {
                ("front-of-house", "tableOrderId")
            };
            let refund = PaymentRefunded::parse(&event.data, field)
                .map_err(|errors| StoreError::Corrupt(format!("malformed upstream refund: {errors}")))?;
            return Ok(match refund_payment(tx, &context, source, &refund)? {
                Ok(_) => Handled::Done,
                Err(refusal) => Handled::Refused(refusal.to_string()),
            });
        }
        let payment = if event.event_type == ONLINE_PAYMENTS {
            OnlinePaymentProcessed::parse(&event.data).map(UpstreamPayment::Online)
        } else {
            PaymentProcessed::parse(&event.data).map(UpstreamPayment::FrontOfHouse)
        };
        let payment = payment.map_err(|errors| StoreError::Corrupt(format!("malformed upstream payment: {errors}")))?;
        let source = payment.source();
        Ok(match translate_payment(tx, &context, &payment)? {
            Ok((_, receipt)) => {
                let outcome = outcome_of(&receipt).unwrap_or_else(|| "UNKNOWN".to_owned());
                metrics::counter!("adaptor_payments_total", "adaptor" => source, "outcome" => outcome).increment(1);
                Handled::Done
            }
            Err(refusal) => Handled::Refused(refusal.to_string()),
        })
    }
}
