//! Operational settings: checks a table skips, and the traffic a data type expects.

use indexmap::IndexMap;

use super::Checker;
use crate::diagnostics::codes;
use crate::diagnostics::source::NodePath;
use crate::ir::{SkipCheck, Traffic};
use crate::spec;

/// DynamoDB's largest item.
const MAX_ITEM_BYTES: u64 = 400 * 1024;

impl Checker<'_> {
    /// Checkov check IDs (`CKV_AWS_28`, `CKV2_AWS_16`), each with a non-empty reason.
    pub(super) fn skip_checks(
        &mut self,
        path: &NodePath,
        checks: &IndexMap<String, String>,
    ) -> Vec<SkipCheck> {
        let mut skips = Vec::new();
        for (id, reason) in checks {
            let entry = path.key(id.as_str());
            if !is_check_id(id) {
                self.key_error(
                    codes::SKIP_CHECK_ID,
                    &entry,
                    format!("`{id}` is not a checkov check ID"),
                    "write the ID checkov prints, such as `CKV_AWS_28`",
                );
            }
            if reason.contains('\n') {
                self.error(
                    codes::SKIP_CHECK_REASON,
                    &entry,
                    format!("the reason for skipping `{id}` spans several lines"),
                    "write it on one line: Terraform carries it in a `#checkov:skip` comment",
                );
            } else if reason.trim().is_empty() {
                self.error(
                    codes::SKIP_CHECK_REASON,
                    &entry,
                    format!("skipping `{id}` needs a reason"),
                    "say why the check does not apply to this cache; it is written into the templates",
                );
            } else {
                self.literal_text(&entry, reason, &format!("the reason for skipping `{id}`"));
            }
            skips.push(SkipCheck {
                id: id.clone(),
                reason: reason.trim().to_owned(),
            });
        }
        skips
    }

    /// A data type's expected traffic: a hit rate between 0 and 1 and a readable item size.
    pub(super) fn traffic(&mut self, path: &NodePath, traffic: &spec::Traffic) -> Option<Traffic> {
        if !(0.0..=1.0).contains(&traffic.hit_rate) {
            self.error(
                codes::TRAFFIC,
                &path.key("hit_rate"),
                format!("hit rate {} is not between 0 and 1", traffic.hit_rate),
                "write the share of lookups the cache answers, such as `0.8`",
            );
            return None;
        }
        match parse_size(&traffic.item_size) {
            Some(bytes) if (1..=MAX_ITEM_BYTES).contains(&bytes) => Some(Traffic {
                requests_per_day: traffic.requests_per_day,
                hit_rate: traffic.hit_rate,
                item_size_bytes: bytes,
            }),
            Some(_) => {
                self.error(
                    codes::TRAFFIC,
                    &path.key("item_size"),
                    format!(
                        "item size `{}` is outside DynamoDB's 1B to 400KB",
                        traffic.item_size
                    ),
                    "DynamoDB items hold at most 400KB; store larger values elsewhere",
                );
                None
            }
            None => {
                self.error(
                    codes::TRAFFIC,
                    &path.key("item_size"),
                    format!("`{}` is not a size", traffic.item_size),
                    "write it as `800B`, `5KB` or `1.5MB`",
                );
                None
            }
        }
    }
}

fn is_check_id(id: &str) -> bool {
    let rest = id
        .strip_prefix("CKV_AWS_")
        .or_else(|| id.strip_prefix("CKV2_AWS_"));
    rest.is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// `800B`, `5KB`, `1.5MB` (powers of 1024, as DynamoDB counts item sizes) in bytes.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit.trim().to_ascii_uppercase().as_str() {
        "B" => 1.0,
        "KB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = (number * scale).ceil();
    (bytes.is_finite() && bytes >= 0.0).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_read_in_powers_of_1024() {
        assert_eq!(parse_size("800B"), Some(800));
        assert_eq!(parse_size("5KB"), Some(5120));
        assert_eq!(parse_size("1.5 kb"), Some(1536));
        assert_eq!(parse_size("1MB"), Some(1_048_576));
        assert_eq!(parse_size("5 GB"), None);
        assert_eq!(parse_size("KB"), None);
    }

    #[test]
    fn check_ids_follow_checkov() {
        assert!(is_check_id("CKV_AWS_28"));
        assert!(is_check_id("CKV2_AWS_16"));
        assert!(!is_check_id("CKV_AWS_"));
        assert!(!is_check_id("ckv_aws_28"));
    }
}
