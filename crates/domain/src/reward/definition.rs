//! What a business writes when it adds a reward to a program's catalogue, parsed field by field.

use serde_json::Value;

use crate::fields::Fields;
use crate::program::RewardType;
use crate::values::{Points, RewardName, POINTS_PER_COMMAND_MAX};
use crate::ValidationErrors;

/// The largest stock one reward may start with.
pub const REWARD_STOCK_MAX: u64 = 1_000_000_000;
/// The largest `perCustomerLimit`.
pub const PER_CUSTOMER_LIMIT_MAX: u64 = 1_000_000;

/// A valid catalogue entry as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewardDefinition {
    pub name: RewardName,
    pub reward_type: RewardType,
    /// Exactly what a redemption of this reward spends.
    pub points_cost: Points,
    /// `None`: unlimited.
    pub stock: Option<u64>,
    /// How often one customer may redeem it; `None`: no limit.
    pub per_customer_limit: Option<u32>,
}

impl RewardDefinition {
    /// Parse a `POST /v1/programs/{programId}/rewards` body, naming every bad field.
    pub fn parse(body: &Value) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let Some(mut f) = Fields::object("", body, &mut errors) else {
            return Err(errors);
        };
        let name = f
            .string("name", true, &mut errors)
            .and_then(|raw| errors.collect(RewardName::parse("name", raw)));
        let reward_type: Option<RewardType> = f.choice("rewardType", true, RewardType::NAMES, &mut errors);
        let points_cost = f.integer("pointsCost", true, 1, POINTS_PER_COMMAND_MAX, &mut errors);
        // An invalid optional field is an error here, never read as absent.
        let stock = f.integer("stock", false, 1, REWARD_STOCK_MAX, &mut errors);
        let limit = f.integer("perCustomerLimit", false, 1, PER_CUSTOMER_LIMIT_MAX, &mut errors);
        f.deny_unknown(&mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        let (Some(name), Some(reward_type), Some(points_cost)) = (name, reward_type, points_cost) else {
            return Err(errors);
        };
        Ok(Self {
            name,
            reward_type,
            points_cost: Points::new(points_cost),
            stock,
            // At most PER_CUSTOMER_LIMIT_MAX, so it fits.
            per_customer_limit: limit.and_then(|l| u32::try_from(l).ok()),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_a_full_reward() {
        let definition = RewardDefinition::parse(&json!({
            "name": " Free coffee ",
            "rewardType": "FREE_ITEM",
            "pointsCost": 100,
            "stock": 5,
            "perCustomerLimit": 2
        }))
        .expect("valid");
        assert_eq!(definition.name.as_str(), "Free coffee");
        assert_eq!(definition.reward_type, RewardType::FreeItem);
        assert_eq!(definition.points_cost, Points::new(100));
        assert_eq!((definition.stock, definition.per_customer_limit), (Some(5), Some(2)));
    }

    #[test]
    fn stock_and_limit_are_optional() {
        let definition =
            RewardDefinition::parse(&json!({"name": "10% off", "rewardType": "DISCOUNT_PERCENTAGE", "pointsCost": 50}))
                .expect("valid");
        assert_eq!((definition.stock, definition.per_customer_limit), (None, None));
    }

    #[test]
    fn names_every_bad_field() {
        let errors = RewardDefinition::parse(&json!({
            "name": "",
            "rewardType": "HUG",
            "pointsCost": 0,
            "stock": -1,
            "perCustomerLimit": "often",
            "colour": "red"
        }))
        .expect_err("invalid");
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        for expected in [
            "name",
            "rewardType",
            "pointsCost",
            "stock",
            "perCustomerLimit",
            "colour",
        ] {
            assert!(fields.contains(&expected), "{expected} missing from {fields:?}");
        }
    }

    #[test]
    fn names_missing_required_fields() {
        let errors = RewardDefinition::parse(&json!({})).expect_err("invalid");
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "rewardType", "pointsCost"]);
    }
}
