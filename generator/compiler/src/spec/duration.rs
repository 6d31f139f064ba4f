//! Human-written durations (`90s`, `5m`, `24h`, `7d`) as they appear in a spec.

use std::fmt;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as `500ms`, `90s`, `5m`, `24h` or `7d` (units may be combined: `1h 30m`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpecDuration(pub Duration);

impl SpecDuration {
    /// The duration in whole seconds, rounded down.
    pub fn as_secs(self) -> u64 {
        self.0.as_secs()
    }

    /// The duration in whole milliseconds, rounded down.
    pub fn as_millis(self) -> u64 {
        u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX)
    }
}

impl fmt::Display for SpecDuration {
    /// In the largest unit that divides it exactly: `400d`, `90s`, `1500ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u128, &str); 4] = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1_000, "s"),
        ];
        let millis = self.0.as_millis();
        match UNITS
            .iter()
            .find(|(size, _)| millis > 0 && millis.is_multiple_of(*size))
        {
            Some((size, unit)) => write!(f, "{}{unit}", millis / size),
            None => write!(f, "{millis}ms"),
        }
    }
}

impl std::str::FromStr for SpecDuration {
    type Err = String;

    /// Reads a duration; the error says what is wrong with the text (validation adds how
    /// to write one, from the schema).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        humantime::parse_duration(trimmed)
            .map(SpecDuration)
            .map_err(|err| {
                if trimmed.starts_with('-') {
                    format!("`{text}` is negative: a duration is zero or more")
                } else if trimmed.parse::<f64>().is_ok() {
                    format!("`{text}` has no unit")
                } else if let humantime::DurationError::NumberOverflow = err {
                    format!("`{text}` is too long a duration")
                } else if let humantime::DurationError::UnknownUnit { unit, .. } = err {
                    format!("`{text}` has the unknown unit `{unit}`")
                } else {
                    format!("`{text}` is not a duration")
                }
            })
    }
}

impl Serialize for SpecDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SpecDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for SpecDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration such as `500ms`, `90s`, `5m`, `24h` or `7d`.",
            "pattern": r"^\s*\d+\s*[a-zA-Z]+(\s*\d+\s*[a-zA-Z]+)*\s*$",
            "examples": ["90s", "5m", "24h", "7d"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_units_specs_use() {
        let parse = |text: &str| text.parse::<SpecDuration>().unwrap().as_secs();
        assert_eq!(parse("90s"), 90);
        assert_eq!(parse("5m"), 300);
        assert_eq!(parse("24h"), 86_400);
        assert_eq!(parse("7d"), 604_800);
        assert_eq!(parse("1h 30m"), 5_400);
        assert_eq!("500ms".parse::<SpecDuration>().unwrap().as_millis(), 500);
    }

    #[test]
    fn says_what_is_wrong_with_a_bad_duration() {
        let err = |text: &str| text.parse::<SpecDuration>().unwrap_err();
        assert_eq!(err("300"), "`300` has no unit");
        assert_eq!(err("-5m"), "`-5m` is negative: a duration is zero or more");
        assert_eq!(
            err("99999999999999999999d"),
            "`99999999999999999999d` is too long a duration"
        );
        assert_eq!(
            err("5 parsecs"),
            "`5 parsecs` has the unknown unit `parsecs`"
        );
        assert_eq!(err("abc"), "`abc` is not a duration");
    }

    #[test]
    fn round_trips_through_display() {
        let duration: SpecDuration = "7d".parse().unwrap();
        assert_eq!(
            duration.to_string().parse::<SpecDuration>().unwrap(),
            duration
        );
    }
}
