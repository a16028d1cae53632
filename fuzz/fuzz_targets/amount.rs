//! The decimal amount parser: any string gets a value or a field error; a value prints and
//! parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loyalty_domain::values::Money;

fuzz_target!(|raw: &str| {
    if let Ok(money) = Money::parse("amount", raw) {
        assert_eq!(Money::parse("amount", &money.to_string()).ok(), Some(money));
    }
});
