//! Program definitions (the body of `POST /v1/programs`): any JSON gets a definition or field
//! errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loyalty_domain::program::ProgramDefinition;

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Err(errors) = ProgramDefinition::parse(&body) {
            assert!(!errors.0.is_empty());
        }
    }
});
