//! Figures over many runs, for BENCHMARKS.md: operations, origin calls, store requests,
//! violations, and the request rate on the busiest item of each kind.

use std::collections::BTreeMap;

use crate::checker::{Report, Violation, check};
use crate::history::Outcome;
use crate::sim::{self, Run};
use crate::workload::{SimConfig, Step};

/// The kind of store item a key names.
fn kind_of(item: &str) -> &'static str {
    if item.ends_with('*') {
        "prefix scan"
    } else if item.starts_with("!t#") {
        "data type stamp"
    } else if item.starts_with("!g#") {
        "tag stamp"
    } else if item.starts_with("!p#") {
        "key prefix stamp"
    } else {
        "data item"
    }
}

/// The busiest item of one kind.
#[derive(Debug, Default, Clone, Copy)]
struct Busiest {
    /// Most requests on one item within one virtual second, over every run.
    peak_per_second: u64,
    /// Sum over runs of the busiest item's requests per virtual second (run average).
    mean_rate_sum: f64,
}

/// One violation, with what reproduces it.
#[derive(Debug)]
pub(crate) struct Example {
    seed: u64,
    config: SimConfig,
    plan: Vec<Step>,
    report: String,
}

impl std::fmt::Display for Example {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Runs where several lookups wait on one in-process flight can replay differently
        // (see the module doc's Determinism section): say whether this one did.
        let replay = sim::run(self.seed, &self.config, &self.plan);
        let reproduced = check(&replay).iter().any(|violation| {
            Report {
                run: &replay,
                violation,
            }
            .to_string()
                == self.report
        });
        let replay = if reproduced {
            "a replay reproduced it"
        } else {
            "a replay did NOT reproduce it (flight wake order, see the module doc)"
        };
        writeln!(f, "{}  ({replay})", self.report)
    }
}

/// Totals over runs.
#[derive(Debug, Default)]
pub(crate) struct Figures {
    containers: usize,
    runs: u64,
    operations: u64,
    origin_reads: u64,
    store_requests: u64,
    virtual_ms: u64,
    /// Lookups by how they ended.
    lookups: BTreeMap<&'static str, u64>,
    violations: BTreeMap<String, u64>,
    failing_seeds: Vec<u64>,
    /// The first violation of each kind.
    examples: BTreeMap<String, Example>,
    busiest: BTreeMap<&'static str, Busiest>,
}

impl Figures {
    /// Adds a run and its violations.
    pub(crate) fn add(&mut self, run: &Run, violations: &[Violation]) {
        self.containers = run.config.containers;
        self.runs += 1;
        self.operations += run.history.len() as u64;
        self.origin_reads += run.origin_reads;
        self.store_requests += run.store.calls.len() as u64;
        self.virtual_ms += run.elapsed_ms;
        for record in &run.history {
            if record.action.lookup_key().is_some() {
                *self.lookups.entry(ending(&record.outcome)).or_default() += 1;
            }
        }
        for violation in violations {
            let kind = match violation {
                Violation::Stale { cause, .. } => format!("stale reads: {cause}"),
                Violation::WrongKey { .. } => "wrong-key reads".to_owned(),
                Violation::OutOfLifetime { broke, .. } => format!("out of lifetime: {broke}"),
                Violation::StaleNotFound { .. } => "stale \"not found\" answers".to_owned(),
                Violation::LeakedLease { cause, .. } => format!("leaked leases: {cause}"),
            };
            *self.violations.entry(kind.clone()).or_default() += 1;
            self.examples.entry(kind).or_insert_with(|| Example {
                seed: run.seed,
                config: run.config,
                plan: run.plan.clone(),
                report: Report { run, violation }.to_string(),
            });
        }
        if !violations.is_empty() {
            self.failing_seeds.push(run.seed);
        }
        let mut per_second: BTreeMap<(&str, u64), u64> = BTreeMap::new();
        for call in &run.store.calls {
            for item in &call.items {
                *per_second.entry((item, call.sent.ms / 1000)).or_default() += 1;
            }
        }
        let seconds = (run.elapsed_ms.max(1000) as f64) / 1000.0;
        let mut run_busiest: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
        for (item, total) in run.store.requests_per_item() {
            let entry = run_busiest.entry(kind_of(item)).or_default();
            entry.1 = entry.1.max(total);
        }
        for ((item, _), count) in per_second {
            let entry = run_busiest.entry(kind_of(item)).or_default();
            entry.0 = entry.0.max(count);
        }
        for (kind, (peak, total)) in run_busiest {
            let busiest = self.busiest.entry(kind).or_default();
            busiest.peak_per_second = busiest.peak_per_second.max(peak);
            busiest.mean_rate_sum += total as f64 / seconds;
        }
    }

    /// The first violation of each kind.
    pub(crate) fn examples(&self) -> impl Iterator<Item = &Example> {
        self.examples.values()
    }

    /// Seeds with at least one violation.
    pub(crate) fn failing_seeds(&self) -> &[u64] {
        &self.failing_seeds
    }
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let runs = self.runs.max(1) as f64;
        writeln!(
            f,
            "{} runs at {} containers: {} operations, {} origin calls, {} store requests, {:.0} virtual s",
            self.runs,
            self.containers,
            self.operations,
            self.origin_reads,
            self.store_requests,
            self.virtual_ms as f64 / 1000.0
        )?;
        write!(f, "lookups:")?;
        for (ending, n) in &self.lookups {
            write!(f, " {n} {ending};")?;
        }
        writeln!(f)?;
        let total: u64 = self.violations.values().sum();
        writeln!(
            f,
            "violations: {total} in {} runs",
            self.failing_seeds.len()
        )?;
        for (kind, n) in &self.violations {
            writeln!(f, "  {n:>5} {kind}")?;
        }
        writeln!(
            f,
            "busiest item per kind (requests per virtual second: peak in one second, and run average):"
        )?;
        for (kind, busiest) in &self.busiest {
            writeln!(
                f,
                "  {kind:<12} peak {:>4}/s  average {:>7.3}/s",
                busiest.peak_per_second,
                busiest.mean_rate_sum / runs
            )?;
        }
        Ok(())
    }
}

/// How a lookup ended, in a word.
fn ending(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Value(Some(_)) => "fresh",
        Outcome::Value(None) => "nothing",
        Outcome::Stale(_) => "marked stale",
        Outcome::Found(_) => "unlabelled",
        Outcome::NotFound => "not found",
        Outcome::Failed(_) => "failed",
        Outcome::Cancelled => "cancelled",
        Outcome::Done => "done",
    }
}
