//! How a guest paid.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The Front of House's payment methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentMethod {
    Cash,
    CreditCard,
    DebitCard,
    MobilePayment,
    GiftCard,
}

impl PaymentMethod {
    pub const NAMES: &'static [&'static str] = &["Cash", "CreditCard", "DebitCard", "MobilePayment", "GiftCard"];
}

impl FromStr for PaymentMethod {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "Cash" => Self::Cash,
            "CreditCard" => Self::CreditCard,
            "DebitCard" => Self::DebitCard,
            "MobilePayment" => Self::MobilePayment,
            "GiftCard" => Self::GiftCard,
            _ => return Err(()),
        })
    }
}
