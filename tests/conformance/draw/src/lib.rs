//! Seeded draws of valid cachegen specs, and the driver that exercises each one's generated
//! module: what the conformance harness (`tests/conformance`) builds and runs.
//!
//! - [`spec`]: a spec drawn from a seed, built to be valid (a refusal is a finding);
//! - [`shrink`]: a failing spec cut down to one data type and what it needs;
//! - [`values`]: keys and values of a data type, edge values included;
//! - [`driver`]: the Rust source that drives every data type of a compiled spec.

pub mod driver;
pub mod shrink;
pub mod spec;
pub mod values;

/// The seeds CI runs: few, so the suite stays well inside its time limit, and chosen to
/// cover both stores, both deployments, sort keys of both types, indexes, large values,
/// documents and an idempotent handler (`--example draw` prints them).
pub const DEFAULT_SEEDS: &[u64] = &[3, 8, 11, 18];

/// Environment variable naming more seeds: `CACHEGEN_CONFORMANCE_SEEDS=1-40` or `7,19,23`.
pub const SEEDS_ENV: &str = "CACHEGEN_CONFORMANCE_SEEDS";

/// Environment variable naming spec files to run as they are (a shrunk spec, to reproduce
/// a finding), separated by commas.
pub const REPLAY_ENV: &str = "CACHEGEN_CONFORMANCE_REPLAY";

/// Whether the case of `seed` is deployed by its Terraform module (a third of the seeds)
/// rather than its CloudFormation template.
pub fn deploys_with_terraform(seed: u64) -> bool {
    seed % 3 == 2
}

/// The seeds `text` names (`1-40`, `7,19,23`, or both mixed), or why it names none.
pub fn parse_seeds(text: &str) -> Result<Vec<u64>, String> {
    let mut seeds = Vec::new();
    for part in text
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let number = |text: &str| {
            text.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{text}` is not a seed (a whole number)"))
        };
        match part.split_once('-') {
            Some((low, high)) => {
                let (low, high) = (number(low)?, number(high)?);
                if low > high {
                    return Err(format!("seed range `{part}` is empty"));
                }
                seeds.extend(low..=high);
            }
            None => seeds.push(number(part)?),
        }
    }
    seeds.sort_unstable();
    seeds.dedup();
    Ok(seeds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_read_as_lists_and_ranges() {
        assert_eq!(parse_seeds("3, 1-2,3"), Ok(vec![1, 2, 3]));
        assert!(parse_seeds("5-1").is_err());
        assert!(parse_seeds("x").is_err());
    }
}
