//! `RuleType` and its `ruleConfig`: how a program turns purchases and visits into rewards.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{RewardType, Tier};
use crate::fields::Fields;
use crate::ValidationErrors;

/// The kind of earning rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RuleType {
    PointsBased,
    PunchCard,
    StampCard,
    VisitFrequency,
    AmountSpent,
    TierBased,
}

impl RuleType {
    pub const NAMES: &'static [&'static str] = &[
        "POINTS_BASED",
        "PUNCH_CARD",
        "STAMP_CARD",
        "VISIT_FREQUENCY",
        "AMOUNT_SPENT",
        "TIER_BASED",
    ];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

impl fmt::Display for RuleType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RuleType {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "POINTS_BASED" => Self::PointsBased,
            "PUNCH_CARD" => Self::PunchCard,
            "STAMP_CARD" => Self::StampCard,
            "VISIT_FREQUENCY" => Self::VisitFrequency,
            "AMOUNT_SPENT" => Self::AmountSpent,
            "TIER_BASED" => Self::TierBased,
            _ => return Err(()),
        })
    }
}

/// Over which window a tier's qualifying points are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EvaluationPeriod {
    Lifetime,
    RollingYear,
    CalendarYear,
}

impl EvaluationPeriod {
    pub const NAMES: &'static [&'static str] = &["LIFETIME", "ROLLING_YEAR", "CALENDAR_YEAR"];
}

impl FromStr for EvaluationPeriod {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "LIFETIME" => Self::Lifetime,
            "ROLLING_YEAR" => Self::RollingYear,
            "CALENDAR_YEAR" => Self::CalendarYear,
            _ => return Err(()),
        })
    }
}

/// `POINTS_BASED`: points = floor(amount × pointsPerDollar), 0 under the minimum, capped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PointsBasedConfig {
    pub points_per_dollar: Decimal,
    pub min_purchase_amount: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_points_per_transaction: Option<u64>,
    #[serde(default)]
    pub excluded_categories: Vec<String>,
}

/// `PUNCH_CARD`: a reward after `requiredPunches` purchases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PunchCardConfig {
    pub required_punches: u32,
    pub reward_type: RewardType,
    pub reward_value: String,
}

/// `STAMP_CARD`: `stampsPerVisit` stamps a visit, a reward at `requiredStamps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StampCardConfig {
    pub required_stamps: u32,
    pub stamps_per_visit: u32,
    pub reward_type: RewardType,
    pub reward_value: String,
}

/// `VISIT_FREQUENCY`: a reward after `requiredVisits` visits within `periodDays`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VisitFrequencyConfig {
    pub required_visits: u32,
    pub period_days: u32,
    pub reward_type: RewardType,
    pub reward_value: String,
}

/// `AMOUNT_SPENT`: a reward after spending `targetAmount` within `periodDays`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AmountSpentConfig {
    pub target_amount: Decimal,
    pub period_days: u32,
    pub reward_type: RewardType,
    pub reward_value: String,
}

/// `TIER_BASED`: members climb tiers by qualifying points earned in the evaluation period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TierBasedConfig {
    pub tiers: Vec<Tier>,
    pub evaluation_period: EvaluationPeriod,
}

/// A validated rule configuration. Stored and sent as the bare config object; the variant is
/// recognised by its required fields, which no two variants share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RuleConfig {
    PointsBased(PointsBasedConfig),
    PunchCard(PunchCardConfig),
    StampCard(StampCardConfig),
    VisitFrequency(VisitFrequencyConfig),
    AmountSpent(AmountSpentConfig),
    TierBased(TierBasedConfig),
}

/// Limits of the rule fields, named so a reader finds them here.
pub const PUNCHES_REQUIRED_MIN: u64 = 2;
pub const PUNCHES_REQUIRED_MAX: u64 = 50;
pub const STAMPS_REQUIRED_MAX: u64 = 100;
pub const VISITS_REQUIRED_MAX: u64 = 1_000;
pub const PERIOD_DAYS_MAX: u64 = 3_660;
pub const POINTS_PER_DOLLAR_MAX: u64 = 10_000;
pub const EXCLUDED_CATEGORIES_MAX: usize = 100;

impl RuleConfig {
    pub fn rule_type(&self) -> RuleType {
        match self {
            Self::PointsBased(_) => RuleType::PointsBased,
            Self::PunchCard(_) => RuleType::PunchCard,
            Self::StampCard(_) => RuleType::StampCard,
            Self::VisitFrequency(_) => RuleType::VisitFrequency,
            Self::AmountSpent(_) => RuleType::AmountSpent,
            Self::TierBased(_) => RuleType::TierBased,
        }
    }

    /// Validate `config` (at JSON path `path`) as the config of `rule_type`, field by field.
    pub fn parse(rule_type: RuleType, path: &str, config: &Value) -> Result<RuleConfig, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let parsed = Fields::object(path, config, &mut errors).and_then(|mut fields| {
            let parsed = match rule_type {
                RuleType::PointsBased => parse_points_based(&mut fields, &mut errors),
                RuleType::PunchCard => parse_punch_card(&mut fields, &mut errors),
                RuleType::StampCard => parse_stamp_card(&mut fields, &mut errors),
                RuleType::VisitFrequency => parse_visit_frequency(&mut fields, &mut errors),
                RuleType::AmountSpent => parse_amount_spent(&mut fields, &mut errors),
                RuleType::TierBased => parse_tier_based(&mut fields, &mut errors),
            };
            fields.deny_unknown(&mut errors);
            parsed
        });
        match parsed {
            Some(rule) if errors.is_empty() => Ok(rule),
            _ => Err(errors),
        }
    }

    /// The config as JSON, as it is stored in events and shown to clients.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn parse_points_based(f: &mut Fields<'_>, errors: &mut ValidationErrors) -> Option<RuleConfig> {
    let per_dollar = f.decimal(
        "pointsPerDollar",
        true,
        Decimal::ZERO,
        true,
        Decimal::from(POINTS_PER_DOLLAR_MAX),
        4,
        errors,
    );
    let min_amount = f
        .decimal(
            "minPurchaseAmount",
            false,
            Decimal::ZERO,
            false,
            Decimal::from(1_000_000_000u64),
            2,
            errors,
        )
        .or_else(|| f.raw("minPurchaseAmount").is_none().then_some(Decimal::ZERO));
    let max_points = match f.raw("maxPointsPerTransaction") {
        None => Some(None),
        Some(_) => f
            .integer(
                "maxPointsPerTransaction",
                true,
                1,
                crate::values::POINTS_PER_COMMAND_MAX,
                errors,
            )
            .map(Some),
    };
    let excluded = match f.array("excludedCategories", false, errors) {
        None => Some(Vec::new()),
        Some(items) if items.len() > EXCLUDED_CATEGORIES_MAX => {
            errors.push(
                f.path_of("excludedCategories"),
                format!("must have at most {EXCLUDED_CATEGORIES_MAX} categories"),
            );
            None
        }
        Some(items) => {
            let path = f.path_of("excludedCategories");
            let mut categories = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item.as_str().map(str::trim) {
                    Some(c) if !c.is_empty() && c.chars().count() <= 50 => categories.push(c.to_owned()),
                    _ => errors.push(format!("{path}[{i}]"), "must be a category name of 1 to 50 characters"),
                }
            }
            Some(categories)
        }
    };
    Some(RuleConfig::PointsBased(PointsBasedConfig {
        points_per_dollar: per_dollar?,
        min_purchase_amount: min_amount?,
        max_points_per_transaction: max_points?,
        excluded_categories: excluded?,
    }))
}

/// `rewardType` and `rewardValue`, the value checked against the type.
fn parse_reward(f: &mut Fields<'_>, errors: &mut ValidationErrors) -> Option<(RewardType, String)> {
    let reward_type: Option<RewardType> = f.choice("rewardType", true, RewardType::NAMES, errors);
    let value = match reward_type {
        Some(RewardType::DiscountPercentage) => f
            .decimal("rewardValue", true, Decimal::ZERO, true, Decimal::from(100), 2, errors)
            .map(|d| d.to_string()),
        Some(RewardType::DiscountAmount) => f
            .decimal(
                "rewardValue",
                true,
                Decimal::ZERO,
                true,
                Decimal::from(1_000_000u64),
                2,
                errors,
            )
            .map(|d| d.to_string()),
        Some(RewardType::Points) => f
            .integer("rewardValue", true, 1, crate::values::POINTS_PER_COMMAND_MAX, errors)
            .map(|n| n.to_string()),
        Some(RewardType::FreeItem | RewardType::TierUpgrade) => match f.raw("rewardValue") {
            None => {
                errors.push(f.path_of("rewardValue"), "is required");
                None
            }
            Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 100 => Some(s.trim().to_owned()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(_) => {
                errors.push(f.path_of("rewardValue"), "must be a description of 1 to 100 characters");
                None
            }
        },
        None => {
            f.raw("rewardValue");
            None
        }
    };
    Some((reward_type?, value?))
}

fn parse_punch_card(f: &mut Fields<'_>, errors: &mut ValidationErrors) -> Option<RuleConfig> {
    let required = f.integer(
        "requiredPunches",
        true,
        PUNCHES_REQUIRED_MIN,
        PUNCHES_REQUIRED_MAX,
        errors,
    );
    let reward = parse_reward(f, errors);
    let (reward_type, reward_value) = reward?;
    Some(RuleConfig::PunchCard(PunchCardConfig {
        required_punches: required? as u32,
        reward_type,
        reward_value,
    }))
}

fn parse_stamp_card(f: &mut Fields<'_>, errors: &mut ValidationErrors) -> Option<RuleConfig> {
    let required = f.integer("requiredStamps", true, 1, STAMPS_REQUIRED_MAX, errors);
    let per_visit = f
        .integer("stampsPerVisit", false, 1, STAMPS_REQUIRED_MAX, errors)
        .or_else(|| f.raw("stampsPerVisit").is_none().then_some(1));
    let reward = parse_reward(f, errors);
    let (required, per_visit) = (required?, per_visit?);
    if per_visit > required {
        errors.push(f.path_of("stampsPerVisit"), "must be at most requiredStamps");
        return None;
    }
    let (reward_type, reward_value) = reward?;
    Some(RuleConfig::StampCard(StampCardConfig {
        required_stamps: required as u32,
        stamps_per_visit: per_visit as u32,
        reward_type,
        reward_value,
    }))
}

fn parse_visit_frequency(f: &mut Fields<'_>, errors: &mut ValidationErrors) -> Option<RuleConfig> {
    let required = f.integer("requiredVisits", true, 2, VISITS_REQUIRED_MAX, errors);
    let period = f.integer("periodDays", true, 1, PERIOD_DAYS_MAX, errors);
    let reward = parse_reward(f, errors);
    let (reward_type, reward_value) = reward?;
    Some(RuleConfig::VisitFrequency(VisitFrequencyConfig {
        required_visits: required? as u32,
        period_days: period? as u32,
        reward_type,
        reward_value,
    }))
}

fn parse_amount_spent(f: &mut Fields<'_>, errors: &mut ValidationErrors) -> Option<RuleConfig> {
    let target = f.decimal(
        "targetAmount",
        true,
        Decimal::ZERO,
        true,
        Decimal::from(1_000_000_000u64),
        2,
        errors,
    );
    let period = f.integer("periodDays", true, 1, PERIOD_DAYS_MAX, errors);
    let reward = parse_reward(f, errors);
    let (reward_type, reward_value) = reward?;
    Some(RuleConfig::AmountSpent(AmountSpentConfig {
        target_amount: target?,
        period_days: period? as u32,
        reward_type,
        reward_value,
    }))
}

fn parse_tier_based(f: &mut Fields<'_>, errors: &mut ValidationErrors) -> Option<RuleConfig> {
    let tiers = match f.raw("tiers") {
        None => {
            errors.push(f.path_of("tiers"), "is required");
            None
        }
        Some(value) => Tier::parse_list(&f.path_of("tiers"), value, 2, errors),
    };
    let period: Option<EvaluationPeriod> = f.choice("evaluationPeriod", true, EvaluationPeriod::NAMES, errors);
    Some(RuleConfig::TierBased(TierBasedConfig {
        tiers: tiers?,
        evaluation_period: period?,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields_of(result: Result<RuleConfig, ValidationErrors>) -> Vec<String> {
        result
            .expect_err("should be refused")
            .0
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn points_based_defaults_and_round_trip() {
        let rule =
            RuleConfig::parse(RuleType::PointsBased, "ruleConfig", &json!({"pointsPerDollar": 1.5})).expect("valid");
        let RuleConfig::PointsBased(config) = &rule else {
            panic!("wrong variant")
        };
        assert_eq!(config.points_per_dollar, Decimal::new(15, 1));
        assert_eq!(config.min_purchase_amount, Decimal::ZERO);
        let back: RuleConfig = serde_json::from_value(rule.to_json()).expect("round trip");
        assert_eq!(back, rule);
    }

    #[test]
    fn every_rule_type_round_trips_through_json() {
        let configs = [
            (
                RuleType::PunchCard,
                json!({"requiredPunches": 10, "rewardType": "FREE_ITEM", "rewardValue": "Coffee"}),
            ),
            (
                RuleType::StampCard,
                json!({"requiredStamps": 8, "stampsPerVisit": 2, "rewardType": "DISCOUNT_AMOUNT", "rewardValue": "5.00"}),
            ),
            (
                RuleType::VisitFrequency,
                json!({"requiredVisits": 4, "periodDays": 30, "rewardType": "POINTS", "rewardValue": 100}),
            ),
            (
                RuleType::AmountSpent,
                json!({"targetAmount": "250.00", "periodDays": 90, "rewardType": "DISCOUNT_PERCENTAGE", "rewardValue": 10}),
            ),
            (
                RuleType::TierBased,
                json!({"evaluationPeriod": "ROLLING_YEAR", "tiers": [
                {"name": "Silver", "level": 1, "minPoints": 0, "maxPoints": 999},
                {"name": "Gold", "level": 2, "minPoints": 1000}]}),
            ),
        ];
        for (rule_type, config) in configs {
            let rule = RuleConfig::parse(rule_type, "ruleConfig", &config).expect("valid");
            assert_eq!(rule.rule_type(), rule_type);
            let back: RuleConfig = serde_json::from_value(rule.to_json()).expect("round trip");
            assert_eq!(back, rule, "{rule_type}");
        }
    }

    #[test]
    fn names_each_bad_field() {
        let fields = fields_of(RuleConfig::parse(
            RuleType::PointsBased,
            "ruleConfig",
            &json!({"pointsPerDollar": 0, "minPurchaseAmount": "-1", "maxPointsPerTransaction": 0, "pointPerDollar": 1}),
        ));
        assert_eq!(
            fields,
            [
                "ruleConfig.pointsPerDollar",
                "ruleConfig.minPurchaseAmount",
                "ruleConfig.maxPointsPerTransaction",
                "ruleConfig.pointPerDollar"
            ]
        );
        let fields = fields_of(RuleConfig::parse(
            RuleType::PunchCard,
            "ruleConfig",
            &json!({"requiredPunches": 51, "rewardType": "FREE_LUNCH"}),
        ));
        assert_eq!(fields, ["ruleConfig.requiredPunches", "ruleConfig.rewardType"]);
        let fields = fields_of(RuleConfig::parse(RuleType::VisitFrequency, "ruleConfig", &json!([1])));
        assert_eq!(fields, ["ruleConfig"]);
    }

    #[test]
    fn tier_based_needs_two_non_overlapping_tiers() {
        let fields = fields_of(RuleConfig::parse(
            RuleType::TierBased,
            "ruleConfig",
            &json!({"evaluationPeriod": "LIFETIME", "tiers": [{"name": "Only", "level": 1, "minPoints": 0}]}),
        ));
        assert_eq!(fields, ["ruleConfig.tiers"]);
    }
}
