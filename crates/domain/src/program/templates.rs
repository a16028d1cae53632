//! Built-in program templates: one ready-made rule per `Industry`, which a business can start a
//! program from (`POST /v1/programs/from-template`), optionally overriding parts of the rule's
//! config with a JSON merge patch.
//!
//! Template ids are fixed constants: clients store them and `loyalty.template.used` events carry
//! them, so an id never changes once released. A template's config is kept as the JSON a client
//! would send, and the tests check that each one parses with [`RuleConfig::parse`].

use std::fmt;
use std::str::FromStr;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{RuleConfig, RuleType};
use crate::ValidationErrors;

/// The trade a business is in; each has one built-in template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Industry {
    Coffee,
    Retail,
    Restaurant,
    Salon,
    Fitness,
    Automotive,
    Hotel,
    Healthcare,
    Entertainment,
    Education,
    ProfessionalServices,
    Ecommerce,
    Other,
}

impl Industry {
    /// How many industries there are.
    pub const COUNT: usize = 13;

    /// The contract's names, in declaration order (`NAMES[industry as usize]`).
    pub const NAMES: &'static [&'static str] = &[
        "COFFEE",
        "RETAIL",
        "RESTAURANT",
        "SALON",
        "FITNESS",
        "AUTOMOTIVE",
        "HOTEL",
        "HEALTHCARE",
        "ENTERTAINMENT",
        "EDUCATION",
        "PROFESSIONAL_SERVICES",
        "ECOMMERCE",
        "OTHER",
    ];

    /// Every industry, in the order of [`Industry::NAMES`].
    pub const ALL: [Industry; Industry::COUNT] = [
        Self::Coffee,
        Self::Retail,
        Self::Restaurant,
        Self::Salon,
        Self::Fitness,
        Self::Automotive,
        Self::Hotel,
        Self::Healthcare,
        Self::Entertainment,
        Self::Education,
        Self::ProfessionalServices,
        Self::Ecommerce,
        Self::Other,
    ];

    /// The contract name, such as `PROFESSIONAL_SERVICES`.
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

impl fmt::Display for Industry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Industry {
    type Err = ();

    /// Only the exact contract names are accepted (case matters), as for `RuleType`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::NAMES
            .iter()
            .position(|name| *name == s)
            .map(|index| Self::ALL[index])
            .ok_or(())
    }
}

/// A built-in program template: a named rule for one industry, with suggested program settings.
///
/// Serializes as the `GET /v1/templates` item:
/// `{templateId, name, industry, ruleType, ruleConfig, description, pointExpiryDays?, signupBonusPoints?}`.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    /// Fixed for ever: stored by clients and carried by `loyalty.template.used`.
    pub template_id: Uuid,
    pub name: &'static str,
    pub industry: Industry,
    pub rule_type: RuleType,
    pub description: &'static str,
    /// Builds the rule config as a client would send it (`serde_json::Value` cannot be a static).
    config: fn() -> Value,
    /// Suggested `pointExpiryDays` for programs made from this template.
    pub point_expiry_days: Option<u32>,
    /// Suggested `signupBonusPoints` for programs made from this template.
    pub signup_bonus_points: Option<u64>,
}

impl Template {
    /// The rule config as JSON, as shown to clients and as the base that overrides merge into.
    pub fn rule_config_json(&self) -> Value {
        (self.config)()
    }

    /// The rule config, parsed. Built-in configs always parse (checked by this module's tests),
    /// so an error here is a bug in a template, reported rather than panicking.
    pub fn rule_config(&self) -> Result<RuleConfig, ValidationErrors> {
        RuleConfig::parse(self.rule_type, "ruleConfig", &self.rule_config_json())
    }

    /// The rule config with `overrides` merged in (see [`merge_overrides`]), parsed, and whether
    /// the result differs from the template's. Errors are named under `ruleConfigOverrides`, the
    /// request field that caused them (a `null` override removing a required field, a bad value).
    pub fn rule_config_with_overrides(&self, overrides: &Value) -> Result<(RuleConfig, bool), ValidationErrors> {
        let (merged, _) = merge_overrides(&self.rule_config_json(), overrides);
        let rule = RuleConfig::parse(self.rule_type, "ruleConfigOverrides", &merged)?;
        // Customised means a different rule, not different JSON: `"2"` over `2` changes nothing.
        let customized = self.rule_config().map_or(true, |base| base != rule);
        Ok((rule, customized))
    }
}

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Template", 8)?;
        s.serialize_field("templateId", &self.template_id)?;
        s.serialize_field("name", self.name)?;
        s.serialize_field("industry", &self.industry)?;
        s.serialize_field("ruleType", &self.rule_type)?;
        s.serialize_field("ruleConfig", &self.rule_config_json())?;
        s.serialize_field("description", self.description)?;
        match self.point_expiry_days {
            Some(days) => s.serialize_field("pointExpiryDays", &days)?,
            None => s.skip_field("pointExpiryDays")?,
        }
        match self.signup_bonus_points {
            Some(points) => s.serialize_field("signupBonusPoints", &points)?,
            None => s.skip_field("signupBonusPoints")?,
        }
        s.end()
    }
}

/// Every built-in template, one per industry, in the order of [`Industry::ALL`].
pub fn all() -> &'static [Template] {
    &TEMPLATES
}

/// The built-in template with this id.
pub fn find(template_id: Uuid) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.template_id == template_id)
}

/// The built-in templates of one industry (exactly one today).
pub fn for_industry(industry: Industry) -> impl Iterator<Item = &'static Template> {
    TEMPLATES.iter().filter(move |t| t.industry == industry)
}

/// Merge `overrides` into `base` as an RFC 7396 JSON merge patch, and say whether the result
/// differs from `base`.
///
/// - An object merges into an object key by key, recursively; a key whose override is `null`
///   is removed; a key not in `base` is added.
/// - Anything else (a number, string, array, or an object over a non-object) replaces the value
///   wholesale: arrays such as `tiers` or `excludedCategories` are replaced, never merged.
///
/// `customized` is true exactly when the merged value is not equal to `base` as JSON: overriding
/// a value with the same value, removing an absent key or an empty patch `{}` is not a
/// customization. (JSON equality: `10` and `"10"` differ, object key order does not matter.)
/// Recursion follows the nesting of `overrides`, which the JSON parser already bounds.
pub fn merge_overrides(base: &Value, overrides: &Value) -> (Value, bool) {
    let merged = merge_patch(base.clone(), overrides);
    let customized = merged != *base;
    (merged, customized)
}

fn merge_patch(target: Value, patch: &Value) -> Value {
    let Value::Object(patch) = patch else {
        return patch.clone();
    };
    let mut target = match target {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            let current = target.remove(key).unwrap_or(Value::Null);
            target.insert(key.clone(), merge_patch(current, value));
        }
    }
    Value::Object(target)
}

/// Template ids: `4c4f5941-4c54-8000-8000-0000000000NN` ("LOYALT" in ASCII, then the industry's
/// number). Released ids must never change.
const fn template_id(industry: Industry) -> Uuid {
    Uuid::from_u128(0x4c4f5941_4c54_8000_8000_000000000000 | (industry as u128 + 1))
}

static TEMPLATES: [Template; Industry::COUNT] = [
    Template {
        template_id: template_id(Industry::Coffee),
        name: "Coffee Punch Card",
        industry: Industry::Coffee,
        rule_type: RuleType::PunchCard,
        description: "Buy 10 drinks, get the next one free: one punch per purchase, any drink as the reward.",
        config: coffee_config,
        point_expiry_days: None,
        signup_bonus_points: None,
    },
    Template {
        template_id: template_id(Industry::Retail),
        name: "Retail Points",
        industry: Industry::Retail,
        rule_type: RuleType::PointsBased,
        description: "1 point for every dollar spent in store. Gift card purchases earn no points.",
        config: retail_config,
        point_expiry_days: Some(365),
        signup_bonus_points: Some(50),
    },
    Template {
        template_id: template_id(Industry::Restaurant),
        name: "Dining Rewards",
        industry: Industry::Restaurant,
        rule_type: RuleType::PointsBased,
        description: "10 points per dollar on bills of $5.00 or more, up to 1,000 points a visit. \
                      Alcohol earns no points; points expire after a year.",
        config: restaurant_config,
        point_expiry_days: Some(365),
        signup_bonus_points: None,
    },
    Template {
        template_id: template_id(Industry::Salon),
        name: "Salon Regulars",
        industry: Industry::Salon,
        rule_type: RuleType::VisitFrequency,
        description: "Visit 5 times within 90 days and get 20% off your next appointment.",
        config: salon_config,
        point_expiry_days: None,
        signup_bonus_points: None,
    },
    Template {
        template_id: template_id(Industry::Fitness),
        name: "Workout Streak",
        industry: Industry::Fitness,
        rule_type: RuleType::VisitFrequency,
        description: "Check in 12 times within 30 days and earn a free personal training session.",
        config: fitness_config,
        point_expiry_days: None,
        signup_bonus_points: None,
    },
    Template {
        template_id: template_id(Industry::Automotive),
        name: "Service Milestones",
        industry: Industry::Automotive,
        rule_type: RuleType::AmountSpent,
        description: "Spend $500 on service and parts within a year and get $50 off your next service.",
        config: automotive_config,
        point_expiry_days: None,
        signup_bonus_points: None,
    },
    Template {
        template_id: template_id(Industry::Hotel),
        name: "Hotel Elite Status",
        industry: Industry::Hotel,
        rule_type: RuleType::TierBased,
        description: "Guests earn 1 point per dollar and climb Silver, Gold and Platinum by points earned in the \
                      last 12 months; higher tiers earn 10%, 25% and 50% bonus points.",
        config: hotel_config,
        point_expiry_days: Some(730),
        signup_bonus_points: Some(500),
    },
    Template {
        template_id: template_id(Industry::Healthcare),
        name: "Wellness Stamp Card",
        industry: Industry::Healthcare,
        rule_type: RuleType::StampCard,
        description: "One stamp per visit; 8 stamps give $20 off wellness products or services.",
        config: healthcare_config,
        point_expiry_days: None,
        signup_bonus_points: None,
    },
    Template {
        template_id: template_id(Industry::Entertainment),
        name: "Fan Rewards",
        industry: Industry::Entertainment,
        rule_type: RuleType::PointsBased,
        description: "5 points per dollar on tickets and concessions, up to 2,500 points a purchase. \
                      Gift cards earn no points.",
        config: entertainment_config,
        point_expiry_days: Some(365),
        signup_bonus_points: Some(100),
    },
    Template {
        template_id: template_id(Industry::Education),
        name: "Learning Milestones",
        industry: Industry::Education,
        rule_type: RuleType::AmountSpent,
        description: "Spend $1,000 on courses within a year and get 15% off your next enrolment.",
        config: education_config,
        point_expiry_days: None,
        signup_bonus_points: None,
    },
    Template {
        template_id: template_id(Industry::ProfessionalServices),
        name: "Client Partner Tiers",
        industry: Industry::ProfessionalServices,
        rule_type: RuleType::TierBased,
        description: "Clients earn 1 point per dollar billed and reach Associate, Preferred and Premier by points \
                      earned this calendar year, with priority service and discounts at higher tiers.",
        config: professional_services_config,
        point_expiry_days: None,
        signup_bonus_points: None,
    },
    Template {
        template_id: template_id(Industry::Ecommerce),
        name: "Online Shopper Points",
        industry: Industry::Ecommerce,
        rule_type: RuleType::PointsBased,
        description: "2 points per dollar on orders, up to 5,000 points an order. Gift cards and shipping \
                      earn no points.",
        config: ecommerce_config,
        point_expiry_days: Some(365),
        signup_bonus_points: Some(200),
    },
    Template {
        template_id: template_id(Industry::Other),
        name: "Classic Points",
        industry: Industry::Other,
        rule_type: RuleType::PointsBased,
        description: "1 point for every dollar spent: a simple program for any business.",
        config: other_config,
        point_expiry_days: None,
        signup_bonus_points: None,
    },
];

// Configs as a client would send them: money as decimal strings, counts as numbers.

fn coffee_config() -> Value {
    json!({"requiredPunches": 10, "rewardType": "FREE_ITEM", "rewardValue": "Any drink"})
}

fn retail_config() -> Value {
    json!({"pointsPerDollar": 1, "minPurchaseAmount": "0.00", "excludedCategories": ["GIFT_CARDS"]})
}

fn restaurant_config() -> Value {
    json!({
        "pointsPerDollar": 10,
        "minPurchaseAmount": "5.00",
        "maxPointsPerTransaction": 1000,
        "excludedCategories": ["ALCOHOL"]
    })
}

fn salon_config() -> Value {
    json!({"requiredVisits": 5, "periodDays": 90, "rewardType": "DISCOUNT_PERCENTAGE", "rewardValue": "20"})
}

fn fitness_config() -> Value {
    json!({
        "requiredVisits": 12,
        "periodDays": 30,
        "rewardType": "FREE_ITEM",
        "rewardValue": "Personal training session"
    })
}

fn automotive_config() -> Value {
    json!({"targetAmount": "500.00", "periodDays": 365, "rewardType": "DISCOUNT_AMOUNT", "rewardValue": "50.00"})
}

fn hotel_config() -> Value {
    json!({
        "evaluationPeriod": "ROLLING_YEAR",
        "tiers": [
            {"tierId": "silver", "name": "Silver", "level": 1, "minPoints": 0, "maxPoints": 9999,
             "benefits": [{"type": "POINT_MULTIPLIER", "value": "1.1"}]},
            {"tierId": "gold", "name": "Gold", "level": 2, "minPoints": 10000, "maxPoints": 49999,
             "benefits": [{"type": "POINT_MULTIPLIER", "value": "1.25"},
                          {"type": "PRIORITY_SERVICE", "value": "Late checkout"}]},
            {"tierId": "platinum", "name": "Platinum", "level": 3, "minPoints": 50000,
             "benefits": [{"type": "POINT_MULTIPLIER", "value": "1.5"},
                          {"type": "PRIORITY_SERVICE", "value": "Late checkout and room upgrades"},
                          {"type": "EXCLUSIVE_REWARDS", "value": "Lounge access"}]}
        ]
    })
}

fn healthcare_config() -> Value {
    json!({"requiredStamps": 8, "stampsPerVisit": 1, "rewardType": "DISCOUNT_AMOUNT", "rewardValue": "20.00"})
}

fn entertainment_config() -> Value {
    json!({
        "pointsPerDollar": 5,
        "minPurchaseAmount": "0.00",
        "maxPointsPerTransaction": 2500,
        "excludedCategories": ["GIFT_CARDS"]
    })
}

fn education_config() -> Value {
    json!({"targetAmount": "1000.00", "periodDays": 365, "rewardType": "DISCOUNT_PERCENTAGE", "rewardValue": "15"})
}

fn professional_services_config() -> Value {
    json!({
        "evaluationPeriod": "CALENDAR_YEAR",
        "tiers": [
            {"tierId": "associate", "name": "Associate", "level": 1, "minPoints": 0, "maxPoints": 4999},
            {"tierId": "preferred", "name": "Preferred", "level": 2, "minPoints": 5000, "maxPoints": 19999,
             "benefits": [{"type": "PRIORITY_SERVICE", "value": "Priority scheduling"},
                          {"type": "DISCOUNT_PERCENTAGE", "value": "5"}]},
            {"tierId": "premier", "name": "Premier", "level": 3, "minPoints": 20000,
             "benefits": [{"type": "PRIORITY_SERVICE", "value": "Dedicated account manager"},
                          {"type": "DISCOUNT_PERCENTAGE", "value": "10"},
                          {"type": "POINT_MULTIPLIER", "value": "1.5"}]}
        ]
    })
}

fn ecommerce_config() -> Value {
    json!({
        "pointsPerDollar": 2,
        "minPurchaseAmount": "0.00",
        "maxPointsPerTransaction": 5000,
        "excludedCategories": ["GIFT_CARDS", "SHIPPING"]
    })
}

fn other_config() -> Value {
    json!({"pointsPerDollar": 1, "minPurchaseAmount": "0.00"})
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rust_decimal::Decimal;

    use super::*;
    use crate::program::{EvaluationPeriod, ProgramDefinition, RewardType};

    #[test]
    fn every_template_config_parses_for_its_rule_type() {
        for template in all() {
            let rule = template
                .rule_config()
                .unwrap_or_else(|e| panic!("{}: {e:?}", template.name));
            assert_eq!(rule.rule_type(), template.rule_type, "{}", template.name);
        }
    }

    #[test]
    fn every_template_makes_a_valid_program_definition() {
        for template in all() {
            let mut body = json!({
                "name": template.name,
                "description": template.description,
                "ruleType": template.rule_type,
                "ruleConfig": template.rule_config_json(),
            });
            if let Some(days) = template.point_expiry_days {
                body["pointExpiryDays"] = json!(days);
            }
            if let Some(points) = template.signup_bonus_points {
                body["signupBonusPoints"] = json!(points);
            }
            let definition = ProgramDefinition::parse(&body).unwrap_or_else(|e| panic!("{}: {e:?}", template.name));
            assert_eq!(definition.rule_type, Some(template.rule_type));
            assert_eq!(definition.point_expiry_days, template.point_expiry_days);
            assert_eq!(definition.signup_bonus_points, template.signup_bonus_points);
        }
    }

    #[test]
    fn one_template_per_industry_with_unique_ids_and_names() {
        assert_eq!(all().len(), 13);
        assert_eq!(Industry::NAMES.len(), Industry::COUNT);
        for (template, industry) in all().iter().zip(Industry::ALL) {
            assert_eq!(template.industry, industry, "templates are in industry order");
            assert_eq!(for_industry(industry).count(), 1, "{industry}");
        }
        let ids: HashSet<Uuid> = all().iter().map(|t| t.template_id).collect();
        assert_eq!(ids.len(), all().len());
        let names: HashSet<&str> = all().iter().map(|t| t.name).collect();
        assert_eq!(names.len(), all().len());
    }

    #[test]
    fn template_ids_are_stable() {
        let coffee = for_industry(Industry::Coffee).next().expect("coffee template");
        assert_eq!(coffee.template_id.to_string(), "4c4f5941-4c54-8000-8000-000000000001");
        let other = for_industry(Industry::Other).next().expect("other template");
        assert_eq!(other.template_id.to_string(), "4c4f5941-4c54-8000-8000-00000000000d");
        for template in all() {
            assert_eq!(find(template.template_id).map(|t| t.name), Some(template.name));
        }
        assert!(find(Uuid::nil()).is_none());
    }

    #[test]
    fn every_rule_type_is_used() {
        let used: HashSet<RuleType> = all().iter().map(|t| t.rule_type).collect();
        for name in RuleType::NAMES {
            let rule_type: RuleType = name.parse().expect("rule type name");
            assert!(used.contains(&rule_type), "{name} has no template");
        }
    }

    #[test]
    fn the_example_templates_say_what_they_promise() {
        let coffee = for_industry(Industry::Coffee).next().expect("coffee").rule_config();
        let Ok(RuleConfig::PunchCard(card)) = coffee else {
            panic!("coffee is a punch card: {coffee:?}")
        };
        assert_eq!(
            (card.required_punches, card.reward_type, card.reward_value.as_str()),
            (10, RewardType::FreeItem, "Any drink")
        );
        let restaurant = for_industry(Industry::Restaurant).next().expect("restaurant");
        assert_eq!(restaurant.point_expiry_days, Some(365));
        let Ok(RuleConfig::PointsBased(points)) = restaurant.rule_config() else {
            panic!("restaurant is points based")
        };
        assert_eq!(points.points_per_dollar, Decimal::from(10));
        assert_eq!(points.min_purchase_amount, Decimal::from(5));
        assert_eq!(points.max_points_per_transaction, Some(1000));
        assert_eq!(points.excluded_categories, ["ALCOHOL"]);
        let Ok(RuleConfig::TierBased(hotel)) = for_industry(Industry::Hotel).next().expect("hotel").rule_config()
        else {
            panic!("hotel is tier based")
        };
        assert_eq!(hotel.evaluation_period, EvaluationPeriod::RollingYear);
        let multipliers: Vec<Decimal> = hotel.tiers.iter().map(|t| t.point_multiplier()).collect();
        assert_eq!(
            multipliers,
            [Decimal::new(11, 1), Decimal::new(125, 2), Decimal::new(15, 1)]
        );
    }

    #[test]
    fn industry_names_round_trip() {
        for (industry, name) in Industry::ALL.into_iter().zip(Industry::NAMES) {
            assert_eq!(industry.as_str(), *name);
            assert_eq!(industry.to_string(), *name);
            assert_eq!(name.parse::<Industry>(), Ok(industry));
            assert_eq!(serde_json::to_value(industry).expect("serialize"), json!(name));
            assert_eq!(
                serde_json::from_value::<Industry>(json!(name)).expect("deserialize"),
                industry
            );
        }
        assert_eq!("coffee".parse::<Industry>(), Err(()));
        assert_eq!("PROFESSIONAL SERVICES".parse::<Industry>(), Err(()));
    }

    #[test]
    fn serializes_as_the_api_item() {
        let restaurant = for_industry(Industry::Restaurant).next().expect("restaurant");
        let value = serde_json::to_value(restaurant).expect("serialize");
        assert_eq!(value["templateId"], json!(restaurant.template_id.to_string()));
        assert_eq!(value["industry"], json!("RESTAURANT"));
        assert_eq!(value["ruleType"], json!("POINTS_BASED"));
        assert_eq!(value["ruleConfig"], restaurant.rule_config_json());
        assert_eq!(value["pointExpiryDays"], json!(365));
        assert!(value.get("signupBonusPoints").is_none());
    }

    #[test]
    fn an_override_that_changes_a_value_is_a_customization() {
        let base = json!({"pointsPerDollar": 10, "minPurchaseAmount": "5.00"});
        let (merged, customized) = merge_overrides(&base, &json!({"pointsPerDollar": 20}));
        assert_eq!(merged, json!({"pointsPerDollar": 20, "minPurchaseAmount": "5.00"}));
        assert!(customized);
        let (merged, customized) = merge_overrides(&base, &json!({"maxPointsPerTransaction": 500}));
        assert_eq!(merged["maxPointsPerTransaction"], json!(500));
        assert!(customized);
    }

    #[test]
    fn an_override_with_the_same_value_is_not_a_customization() {
        let base = json!({"pointsPerDollar": 10, "excludedCategories": ["ALCOHOL"]});
        let (merged, customized) = merge_overrides(
            &base,
            &json!({"pointsPerDollar": 10, "excludedCategories": ["ALCOHOL"]}),
        );
        assert_eq!(merged, base);
        assert!(!customized);
    }

    #[test]
    fn objects_merge_recursively_and_arrays_are_replaced() {
        let base = json!({"a": {"b": 1, "c": {"d": 2, "e": 3}}, "list": [1, 2]});
        let (merged, customized) = merge_overrides(&base, &json!({"a": {"c": {"e": 4, "f": 5}}, "list": [3]}));
        assert_eq!(
            merged,
            json!({"a": {"b": 1, "c": {"d": 2, "e": 4, "f": 5}}, "list": [3]})
        );
        assert!(customized);
        let (merged, _) = merge_overrides(&json!({"a": 1}), &json!({"a": {"b": null, "c": 2}}));
        assert_eq!(
            merged,
            json!({"a": {"c": 2}}),
            "an object over a scalar starts from empty"
        );
    }

    #[test]
    fn null_removes_a_key() {
        let base = json!({"pointsPerDollar": 10, "maxPointsPerTransaction": 1000, "nested": {"x": 1, "y": 2}});
        let (merged, customized) =
            merge_overrides(&base, &json!({"maxPointsPerTransaction": null, "nested": {"x": null}}));
        assert_eq!(merged, json!({"pointsPerDollar": 10, "nested": {"y": 2}}));
        assert!(customized);
        let (merged, customized) = merge_overrides(&base, &json!({"absent": null}));
        assert_eq!(merged, base);
        assert!(!customized, "removing an absent key changes nothing");
    }

    #[test]
    fn an_empty_patch_is_not_a_customization() {
        for template in all() {
            let base = template.rule_config_json();
            let (merged, customized) = merge_overrides(&base, &json!({}));
            assert_eq!(merged, base);
            assert!(!customized, "{}", template.name);
        }
    }

    #[test]
    fn a_non_object_patch_replaces_the_whole_config() {
        let (merged, customized) = merge_overrides(&json!({"a": 1}), &json!([1]));
        assert_eq!(merged, json!([1]));
        assert!(customized);
    }

    #[test]
    fn overrides_are_parsed_and_errors_named_under_the_request_field() {
        let restaurant = for_industry(Industry::Restaurant).next().expect("restaurant");
        let (rule, customized) = restaurant
            .rule_config_with_overrides(&json!({"pointsPerDollar": 12, "excludedCategories": null}))
            .expect("valid overrides");
        let RuleConfig::PointsBased(points) = rule else {
            panic!("points based")
        };
        assert_eq!(points.points_per_dollar, Decimal::from(12));
        assert!(points.excluded_categories.is_empty());
        assert!(customized);
        let (_, customized) = restaurant
            .rule_config_with_overrides(&json!({"pointsPerDollar": 10}))
            .expect("valid overrides");
        assert!(!customized);
        let errors = restaurant
            .rule_config_with_overrides(&json!({"pointsPerDollar": null, "maxPointsPerTransaction": 0}))
            .expect_err("invalid overrides");
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "ruleConfigOverrides.pointsPerDollar",
                "ruleConfigOverrides.maxPointsPerTransaction"
            ]
        );
    }
}
