//! Shrinking a failing plan to the fewest operations that still fail, for a readable
//! regression case.

use crate::sim::{self, Run};
use crate::store::Faults;
use crate::workload::SimConfig;

/// The smallest run found from `run` that still `fails`: steps removed one at a time
/// (last first, until none can go), then cancellations dropped, then a calm network
/// tried, each kept only if the run still fails; the plan is shifted to start at zero.
pub(crate) fn minimise(run: &Run, fails: impl Fn(&Run) -> bool) -> Run {
    let seed = run.seed;
    let mut config = run.config;
    let mut plan = run.plan.clone();
    let mut shrunk = true;
    while shrunk {
        shrunk = false;
        for index in (0..plan.len()).rev() {
            let mut candidate = plan.clone();
            candidate.remove(index);
            if fails(&sim::run(seed, &config, &candidate)) {
                plan = candidate;
                shrunk = true;
            }
        }
    }
    for index in 0..plan.len() {
        let mut candidate = plan.clone();
        candidate[index].cancel_after_ms = None;
        if fails(&sim::run(seed, &config, &candidate)) {
            plan = candidate;
        }
    }
    // Start at zero: network fates are drawn per call, not per instant.
    let first = plan.first().map_or(0, |step| step.at_ms);
    for step in &mut plan {
        step.at_ms -= first;
    }
    let calm = SimConfig {
        faults: Faults::CALM,
        ..config
    };
    if fails(&sim::run(seed, &calm, &plan)) {
        config = calm;
    }
    sim::run(seed, &config, &plan)
}
