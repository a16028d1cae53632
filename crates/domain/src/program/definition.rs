//! What a business writes when it creates a program, parsed field by field.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{RuleConfig, RuleType, Tier};
use crate::fields::Fields;
use crate::values::POINTS_PER_COMMAND_MAX;
use crate::ValidationErrors;

pub const PROGRAM_NAME_CHARS_MAX: usize = 100;
pub const DESCRIPTION_CHARS_MAX: usize = 1_000;
pub const POINT_EXPIRY_DAYS_MAX: u64 = 3_650;
pub const PENDING_DAYS_MAX: u64 = 365;
pub const LOCATION_IDS_MAX: usize = 1_000;

/// Who may enrol, and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentSettings {
    pub self_enroll_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_enrollments: Option<u64>,
}

impl Default for EnrollmentSettings {
    fn default() -> Self {
        Self {
            self_enroll_enabled: true,
            max_enrollments: None,
        }
    }
}

/// A program's definition: its name, rule and settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgramDefinition {
    #[serde(rename = "programName")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_type: Option<RuleType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_config: Option<RuleConfig>,
    #[serde(default)]
    pub tiers: Vec<Tier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point_expiry_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signup_bonus_points: Option<u64>,
    #[serde(default)]
    pub enrollment_settings: EnrollmentSettings,
    #[serde(default)]
    pub location_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<DateTime<Utc>>,
}

impl ProgramDefinition {
    /// Parse a `POST /v1/programs` body, naming every bad field.
    pub fn parse(body: &Value) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let Some(mut f) = Fields::object("", body, &mut errors) else {
            return Err(errors);
        };
        let name = f.string("name", true, &mut errors).map(str::trim);
        if let Some(n) = name {
            if n.is_empty() || n.chars().count() > PROGRAM_NAME_CHARS_MAX {
                errors.push("name", format!("must be 1 to {PROGRAM_NAME_CHARS_MAX} characters"));
            }
        }
        let description = f.string("description", false, &mut errors).map(str::trim);
        if description.is_some_and(|d| d.chars().count() > DESCRIPTION_CHARS_MAX) {
            errors.push(
                "description",
                format!("must be at most {DESCRIPTION_CHARS_MAX} characters"),
            );
        }
        let rule_type: Option<RuleType> = f.choice("ruleType", false, RuleType::NAMES, &mut errors);
        let rule_config = match (rule_type, f.raw("ruleConfig")) {
            (Some(rule_type), Some(config)) => errors.collect(RuleConfig::parse(rule_type, "ruleConfig", config)),
            (Some(_), None) => {
                errors.push("ruleConfig", "is required when ruleType is given");
                None
            }
            (None, Some(_)) if f.raw("ruleType").is_none() => {
                errors.push("ruleType", "is required when ruleConfig is given");
                None
            }
            _ => None,
        };
        let tiers = match f.raw("tiers") {
            None => Some(Vec::new()),
            Some(value) => Tier::parse_list("tiers", value, 1, &mut errors),
        };
        let point_expiry_days = f.integer("pointExpiryDays", false, 1, POINT_EXPIRY_DAYS_MAX, &mut errors);
        let pending_days = f.integer("pendingDays", false, 0, PENDING_DAYS_MAX, &mut errors);
        let signup_bonus_points = f.integer("signupBonusPoints", false, 0, POINTS_PER_COMMAND_MAX, &mut errors);
        let enrollment_settings = match f.raw("enrollmentSettings") {
            None => Some(EnrollmentSettings::default()),
            Some(value) => parse_enrollment_settings(value, &mut errors),
        };
        let location_ids = match f.array("locationIds", false, &mut errors) {
            None => Some(Vec::new()),
            Some(items) if items.len() > LOCATION_IDS_MAX => {
                errors.push("locationIds", format!("must have at most {LOCATION_IDS_MAX} locations"));
                None
            }
            Some(items) => {
                let mut ids = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item.as_str().map(str::trim) {
                        Some(id) if !id.is_empty() && id.chars().count() <= 50 => ids.push(id.to_owned()),
                        _ => errors.push(
                            format!("locationIds[{i}]"),
                            "must be a location id of 1 to 50 characters",
                        ),
                    }
                }
                Some(ids)
            }
        };
        let start_date = parse_date(&mut f, "startDate", &mut errors);
        let end_date = parse_date(&mut f, "endDate", &mut errors);
        if let (Some(Some(start)), Some(Some(end))) = (start_date, end_date) {
            if end <= start {
                errors.push("endDate", "must be after startDate");
            }
        }
        f.deny_unknown(&mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        let (Some(name), Some(tiers), Some(enrollment_settings), Some(location_ids), Some(start_date), Some(end_date)) =
            (name, tiers, enrollment_settings, location_ids, start_date, end_date)
        else {
            return Err(errors);
        };
        Ok(Self {
            name: name.to_owned(),
            description: description.map(str::to_owned),
            rule_type: rule_config.as_ref().map(RuleConfig::rule_type),
            rule_config,
            tiers,
            point_expiry_days: point_expiry_days.map(|d| d as u32),
            pending_days: pending_days.map(|d| d as u32).filter(|d| *d > 0),
            signup_bonus_points: signup_bonus_points.filter(|p| *p > 0),
            enrollment_settings,
            location_ids,
            start_date,
            end_date,
        })
    }

    pub fn rule(&self) -> Option<&RuleConfig> {
        self.rule_config.as_ref()
    }

    pub fn set_rule(&mut self, rule: RuleConfig) {
        self.rule_type = Some(rule.rule_type());
        self.rule_config = Some(rule);
    }
}

/// `Some(None)` when absent, `Some(Some(date))` when valid, `None` when invalid.
#[allow(clippy::option_option)]
fn parse_date(f: &mut Fields<'_>, key: &'static str, errors: &mut ValidationErrors) -> Option<Option<DateTime<Utc>>> {
    match f.string(key, false, errors) {
        None if f.raw(key).is_some() => None,
        None => Some(None),
        Some(raw) => match DateTime::parse_from_rfc3339(raw) {
            Ok(date) => Some(Some(date.with_timezone(&Utc))),
            Err(_) => {
                errors.push(key, "must be an RFC 3339 date-time such as 2026-01-31T00:00:00Z");
                None
            }
        },
    }
}

fn parse_enrollment_settings(value: &Value, errors: &mut ValidationErrors) -> Option<EnrollmentSettings> {
    let mut f = Fields::object("enrollmentSettings", value, errors)?;
    let self_enroll = f.boolean("selfEnrollEnabled", false, errors);
    let max = f.integer("maxEnrollments", false, 1, u64::MAX / 2, errors);
    let max_invalid = max.is_none() && f.raw("maxEnrollments").is_some();
    let self_invalid = self_enroll.is_none() && f.raw("selfEnrollEnabled").is_some();
    f.deny_unknown(errors);
    if max_invalid || self_invalid {
        return None;
    }
    Some(EnrollmentSettings {
        self_enroll_enabled: self_enroll.unwrap_or(true),
        max_enrollments: max,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_a_full_program() {
        let definition = ProgramDefinition::parse(&json!({
            "name": " Coffee Rewards ",
            "ruleType": "POINTS_BASED",
            "ruleConfig": {"pointsPerDollar": 10, "minPurchaseAmount": "1.00"},
            "pointExpiryDays": 365,
            "enrollmentSettings": {"selfEnrollEnabled": false, "maxEnrollments": 1000},
            "locationIds": ["loc-1"],
            "startDate": "2026-01-01T00:00:00Z"
        }))
        .expect("valid");
        assert_eq!(definition.name, "Coffee Rewards");
        assert_eq!(definition.rule_type, Some(RuleType::PointsBased));
        assert!(!definition.enrollment_settings.self_enroll_enabled);
        let stored = serde_json::to_value(&definition).expect("serialize");
        let back: ProgramDefinition = serde_json::from_value(stored).expect("deserialize");
        assert_eq!(back, definition);
    }

    #[test]
    fn a_program_may_start_without_a_rule() {
        let definition = ProgramDefinition::parse(&json!({"name": "Later"})).expect("valid");
        assert!(definition.rule().is_none());
    }

    #[test]
    fn names_every_bad_field() {
        let errors = ProgramDefinition::parse(&json!({
            "name": "",
            "ruleType": "POINTS",
            "pointExpiryDays": 0,
            "startDate": "tomorrow",
            "colour": "red"
        }))
        .expect_err("invalid");
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        for expected in ["name", "ruleType", "pointExpiryDays", "startDate", "colour"] {
            assert!(fields.contains(&expected), "{expected} missing from {fields:?}");
        }
    }
}
