//! Tiers: `{tierId, name, level (1 lowest), minPoints, maxPoints?, benefits[{type, value}]}`,
//! whose point ranges never overlap.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fields::Fields;
use crate::ValidationErrors;

/// What a tier gives its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BenefitType {
    /// Multiplies points earned (value: a decimal from 1 to 10, such as "1.5").
    PointMultiplier,
    DiscountPercentage,
    FreeShipping,
    PriorityService,
    ExclusiveRewards,
    BirthdayBonus,
}

impl BenefitType {
    pub const NAMES: &'static [&'static str] = &[
        "POINT_MULTIPLIER",
        "DISCOUNT_PERCENTAGE",
        "FREE_SHIPPING",
        "PRIORITY_SERVICE",
        "EXCLUSIVE_REWARDS",
        "BIRTHDAY_BONUS",
    ];
}

impl FromStr for BenefitType {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "POINT_MULTIPLIER" => Self::PointMultiplier,
            "DISCOUNT_PERCENTAGE" => Self::DiscountPercentage,
            "FREE_SHIPPING" => Self::FreeShipping,
            "PRIORITY_SERVICE" => Self::PriorityService,
            "EXCLUSIVE_REWARDS" => Self::ExclusiveRewards,
            "BIRTHDAY_BONUS" => Self::BirthdayBonus,
            _ => return Err(()),
        })
    }
}

/// One benefit of a tier. The value is kept as text: a decimal for multipliers and
/// percentages, free text for the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TierBenefit {
    #[serde(rename = "type")]
    pub benefit_type: BenefitType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// One tier of a program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tier {
    pub tier_id: String,
    pub name: String,
    pub level: u32,
    pub min_points: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_points: Option<u64>,
    #[serde(default)]
    pub benefits: Vec<TierBenefit>,
}

impl Tier {
    pub const COUNT_MAX: usize = 20;
    pub const BENEFITS_MAX: usize = 20;

    /// The multiplier this tier applies to earning (1 when it has none).
    pub fn point_multiplier(&self) -> Decimal {
        self.benefits
            .iter()
            .filter(|b| b.benefit_type == BenefitType::PointMultiplier)
            .filter_map(|b| b.value.as_deref().and_then(|v| Decimal::from_str(v).ok()))
            .max()
            .unwrap_or(Decimal::ONE)
    }

    /// Parse a list of tiers at `path`, checking ids, levels and that ranges never overlap.
    pub fn parse_list(path: &str, value: &Value, min_count: usize, errors: &mut ValidationErrors) -> Option<Vec<Tier>> {
        let Value::Array(items) = value else {
            errors.push(path, "must be an array of tiers");
            return None;
        };
        if items.len() < min_count || items.len() > Self::COUNT_MAX {
            errors.push(path, format!("must have {min_count} to {} tiers", Self::COUNT_MAX));
            return None;
        }
        let before = errors.0.len();
        let mut tiers = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            if let Some(tier) = Self::parse_one(&format!("{path}[{index}]"), item, errors) {
                tiers.push(tier);
            }
        }
        if errors.0.len() > before {
            return None;
        }
        check_ranges(path, &mut tiers, errors).then_some(tiers)
    }

    fn parse_one(path: &str, value: &Value, errors: &mut ValidationErrors) -> Option<Tier> {
        let mut fields = Fields::object(path, value, errors)?;
        let level = fields.integer("level", true, 1, 100, errors);
        let tier_id = fields.string("tierId", false, errors).map(str::trim);
        if let Some(id) = tier_id {
            if id.is_empty() || id.chars().count() > 50 {
                errors.push(fields.path_of("tierId"), "must be 1 to 50 characters");
            }
        }
        let name = fields.string("name", true, errors).map(str::trim);
        if let Some(n) = name {
            if n.is_empty() || n.chars().count() > 100 {
                errors.push(fields.path_of("name"), "must be 1 to 100 characters");
            }
        }
        let min_points = fields.integer("minPoints", true, 0, u64::MAX / 2, errors);
        let max_points = fields.integer("maxPoints", false, 0, u64::MAX / 2, errors);
        let benefits = match fields.array("benefits", false, errors) {
            None => Some(Vec::new()),
            Some(items) if items.len() > Self::BENEFITS_MAX => {
                errors.push(
                    fields.path_of("benefits"),
                    format!("must have at most {} benefits", Self::BENEFITS_MAX),
                );
                None
            }
            Some(items) => {
                let path = fields.path_of("benefits");
                let parsed: Vec<Option<TierBenefit>> = items
                    .iter()
                    .enumerate()
                    .map(|(i, b)| parse_benefit(&format!("{path}[{i}]"), b, errors))
                    .collect();
                parsed.into_iter().collect()
            }
        };
        fields.deny_unknown(errors);
        let (level, name, min_points, benefits) = (level?, name?, min_points?, benefits?);
        if let Some(max) = max_points {
            if max < min_points {
                errors.push(format!("{path}.maxPoints"), "must be at least minPoints");
                return None;
            }
        }
        Some(Tier {
            tier_id: tier_id.map_or_else(|| format!("tier-{level}"), str::to_owned),
            name: name.to_owned(),
            level: level as u32,
            min_points,
            max_points,
            benefits,
        })
    }
}

fn parse_benefit(path: &str, value: &Value, errors: &mut ValidationErrors) -> Option<TierBenefit> {
    let mut fields = Fields::object(path, value, errors)?;
    let benefit_type: Option<BenefitType> = fields.choice("type", true, BenefitType::NAMES, errors);
    let value = match benefit_type {
        Some(BenefitType::PointMultiplier) => fields
            .decimal("value", true, Decimal::ONE, false, Decimal::from(10), 2, errors)
            .map(|d| Some(d.to_string())),
        Some(BenefitType::DiscountPercentage) => fields
            .decimal("value", true, Decimal::ZERO, true, Decimal::from(100), 2, errors)
            .map(|d| Some(d.to_string())),
        Some(_) => match fields.raw("value") {
            None => Some(None),
            Some(Value::String(s)) if s.chars().count() <= 200 => Some(Some(s.clone())),
            Some(Value::Number(n)) => Some(Some(n.to_string())),
            Some(_) => {
                errors.push(
                    fields.path_of("value"),
                    "must be a string of at most 200 characters or a number",
                );
                None
            }
        },
        None => {
            fields.raw("value");
            None
        }
    };
    fields.deny_unknown(errors);
    Some(TierBenefit {
        benefit_type: benefit_type?,
        value: value?,
    })
}

/// Sort by `minPoints` and check: distinct ids and levels, levels rising with points, each range
/// ending before the next begins, and only the last tier open-ended.
fn check_ranges(path: &str, tiers: &mut [Tier], errors: &mut ValidationErrors) -> bool {
    tiers.sort_by_key(|t| t.min_points);
    let before = errors.0.len();
    for pair in tiers.windows(2) {
        let (low, high) = (&pair[0], &pair[1]);
        match low.max_points {
            None => errors.push(
                path,
                format!(
                    "tier '{}' has no maxPoints but tier '{}' starts above it: ranges overlap",
                    low.tier_id, high.tier_id
                ),
            ),
            Some(max) if max >= high.min_points => errors.push(
                path,
                format!(
                    "tiers '{}' ({}..={}) and '{}' (from {}) overlap",
                    low.tier_id, low.min_points, max, high.tier_id, high.min_points
                ),
            ),
            Some(_) => {}
        }
        if low.level >= high.level {
            errors.push(
                path,
                format!(
                    "tier '{}' must have a higher level than '{}'",
                    high.tier_id, low.tier_id
                ),
            );
        }
        if low.min_points == high.min_points {
            errors.push(
                path,
                format!(
                    "tiers '{}' and '{}' start at the same minPoints",
                    low.tier_id, high.tier_id
                ),
            );
        }
    }
    let mut ids: Vec<&str> = tiers.iter().map(|t| t.tier_id.as_str()).collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        errors.push(path, "tierId values must be distinct");
    }
    errors.0.len() == before
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: Value) -> Result<Vec<Tier>, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let tiers = Tier::parse_list("tiers", &value, 2, &mut errors);
        match tiers {
            Some(t) if errors.is_empty() => Ok(t),
            _ => Err(errors),
        }
    }

    #[test]
    fn accepts_adjacent_ranges_in_any_order() {
        let tiers = parse(json!([
            {"tierId": "gold", "name": "Gold", "level": 2, "minPoints": 500,
             "benefits": [{"type": "POINT_MULTIPLIER", "value": 1.5}]},
            {"tierId": "bronze", "name": "Bronze", "level": 1, "minPoints": 0, "maxPoints": 499}
        ]))
        .expect("valid");
        assert_eq!(tiers[0].tier_id, "bronze");
        assert_eq!(tiers[1].point_multiplier(), Decimal::new(15, 1));
    }

    #[test]
    fn refuses_overlap_and_open_ended_middle_tiers() {
        let overlap = parse(json!([
            {"name": "Bronze", "level": 1, "minPoints": 0, "maxPoints": 500},
            {"name": "Gold", "level": 2, "minPoints": 500}
        ]));
        assert!(overlap.is_err());
        let open = parse(json!([
            {"name": "Bronze", "level": 1, "minPoints": 0},
            {"name": "Gold", "level": 2, "minPoints": 500}
        ]));
        assert!(open.is_err());
    }

    #[test]
    fn names_the_bad_field() {
        let errors = parse(json!([
            {"name": "Bronze", "level": 1, "minPoints": 0, "maxPoints": 10},
            {"name": "", "level": 2, "minPoints": "x"}
        ]))
        .expect_err("invalid");
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"tiers[1].name"), "{fields:?}");
        assert!(fields.contains(&"tiers[1].minPoints"), "{fields:?}");
    }
}
