//! The restaurant adaptors' decoding of upstream events: any JSON gets a payment or field
//! errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loyalty_domain::restaurant::{OnlinePaymentProcessed, PaymentProcessed, PaymentRefunded};

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = PaymentProcessed::parse(&body);
        let _ = OnlinePaymentProcessed::parse(&body);
        let _ = PaymentRefunded::parse(&body, "tableOrderId");
    }
});
