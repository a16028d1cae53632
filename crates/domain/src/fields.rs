//! Reading a JSON object field by field, naming every bad field by its path.
//!
//! Used where an input's shape depends on its content (a rule's config depends on its rule type),
//! so a plain derive could only say "data did not match any variant".

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::ValidationErrors;

/// A JSON object under a path, with the errors found so far.
pub struct Fields<'a> {
    path: String,
    map: &'a Map<String, Value>,
    known: Vec<&'static str>,
}

/// The path of `key` under `prefix` (`ruleConfig` + `pointsPerDollar`).
pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

impl<'a> Fields<'a> {
    /// The object at `path`, or an error naming it.
    pub fn object(path: &str, value: &'a Value, errors: &mut ValidationErrors) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Self {
                path: path.to_owned(),
                map,
                known: Vec::new(),
            }),
            _ => {
                errors.push(if path.is_empty() { "body" } else { path }, "must be a JSON object");
                None
            }
        }
    }

    pub fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The raw value of a key, remembering it as known; JSON `null` counts as absent.
    pub fn raw(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => Some(value),
        }
    }

    fn missing(&self, key: &str, required: bool, errors: &mut ValidationErrors) {
        if required {
            errors.push(self.path_of(key), "is required");
        }
    }

    /// A string field.
    pub fn string(&mut self, key: &'static str, required: bool, errors: &mut ValidationErrors) -> Option<&'a str> {
        match self.raw(key) {
            None => {
                self.missing(key, required, errors);
                None
            }
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => {
                errors.push(self.path_of(key), "must be a string");
                None
            }
        }
    }

    /// A boolean field.
    pub fn boolean(&mut self, key: &'static str, required: bool, errors: &mut ValidationErrors) -> Option<bool> {
        match self.raw(key) {
            None => {
                self.missing(key, required, errors);
                None
            }
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                errors.push(self.path_of(key), "must be true or false");
                None
            }
        }
    }

    /// A whole number within `min..=max`.
    pub fn integer(
        &mut self,
        key: &'static str,
        required: bool,
        min: u64,
        max: u64,
        errors: &mut ValidationErrors,
    ) -> Option<u64> {
        let value = match self.raw(key) {
            None => {
                self.missing(key, required, errors);
                return None;
            }
            Some(value) => value,
        };
        let parsed = match value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        match parsed {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                errors.push(self.path_of(key), format!("must be a whole number from {min} to {max}"));
                None
            }
        }
    }

    /// An exact decimal given as a JSON number or a decimal string, within `min..=max`
    /// (`min_exclusive` makes the lower bound strict), with at most `scale_max` decimal places.
    #[allow(clippy::too_many_arguments)]
    pub fn decimal(
        &mut self,
        key: &'static str,
        required: bool,
        min: Decimal,
        min_exclusive: bool,
        max: Decimal,
        scale_max: u32,
        errors: &mut ValidationErrors,
    ) -> Option<Decimal> {
        let value = match self.raw(key) {
            None => {
                self.missing(key, required, errors);
                return None;
            }
            Some(value) => value,
        };
        let parsed = match value {
            Value::Number(n) => parse_decimal(&n.to_string()),
            Value::String(s) => parse_decimal(s.trim()),
            _ => None,
        };
        let bound = if min_exclusive { "greater than" } else { "at least" };
        match parsed {
            None => {
                errors.push(self.path_of(key), "must be a decimal number such as 1.5 or \"1.5\"");
                None
            }
            Some(d) if (min_exclusive && d <= min) || (!min_exclusive && d < min) || d > max => {
                errors.push(self.path_of(key), format!("must be {bound} {min} and at most {max}"));
                None
            }
            Some(d) if d.scale() > scale_max => {
                errors.push(
                    self.path_of(key),
                    format!("must have at most {scale_max} decimal places"),
                );
                None
            }
            Some(d) => Some(d.normalize()),
        }
    }

    /// A value of a closed set of names (an enum), listing the allowed names when wrong.
    pub fn choice<T: FromStr>(
        &mut self,
        key: &'static str,
        required: bool,
        allowed: &[&str],
        errors: &mut ValidationErrors,
    ) -> Option<T> {
        let raw = self.string(key, required, errors)?;
        match raw.parse::<T>() {
            Ok(value) => Some(value),
            Err(_) => {
                errors.push(self.path_of(key), format!("must be one of {}", allowed.join(", ")));
                None
            }
        }
    }

    /// An array field.
    pub fn array(
        &mut self,
        key: &'static str,
        required: bool,
        errors: &mut ValidationErrors,
    ) -> Option<&'a Vec<Value>> {
        match self.raw(key) {
            None => {
                self.missing(key, required, errors);
                None
            }
            Some(Value::Array(items)) => Some(items),
            Some(_) => {
                errors.push(self.path_of(key), "must be an array");
                None
            }
        }
    }

    /// Report every key that no reader asked for: a misspelt field is an error, not a default.
    pub fn deny_unknown(self, errors: &mut ValidationErrors) {
        for key in self.map.keys() {
            if !self.known.iter().any(|k| k == key) {
                errors.push(join(&self.path, key), "is not a known field");
            }
        }
    }
}

fn parse_decimal(raw: &str) -> Option<Decimal> {
    let shape_ok = !raw.is_empty()
        && raw.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-')
        && !raw.contains('e')
        && !raw.contains('E');
    if !shape_ok {
        return None;
    }
    Decimal::from_str(raw).ok()
}
