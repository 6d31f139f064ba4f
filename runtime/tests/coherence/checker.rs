//! The checker: replays a run's history against the coherence contract ([`forbids`]),
//! and the store's lease ledger against "no lease is left held": once the run has
//! quiesced, every lease the store granted must have been released by its holder. A lease
//! that lapsed on its TTL still counts: lapsing is the safety net, and every other
//! container's miss on that key waited for it meanwhile.

use std::time::Duration;

use crate::history::{Outcome, Record};
use crate::sim::{self, Run, VERSION_CHECK};
use crate::store::{Effect, LeaseGrant, StoreCall};
use crate::workload::{Op, SimConfig};
use crate::world::{Made, Maker, Mark};

/// A broken promise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Violation {
    /// A lookup served a value that an invalidation had removed ([`forbids`]).
    Stale {
        /// The invalidation (the latest one the lookup breaks).
        invalidation: Record,
        /// The lookup.
        lookup: Record,
        /// What it returned.
        value: Made,
        /// What the store log points at.
        cause: Cause,
    },
    /// A lookup returned a value made for another key.
    WrongKey {
        /// The lookup.
        lookup: Record,
        /// What it returned.
        value: Made,
    },
    /// A lookup served a value outside its lifetime as the origin policy draws it
    /// ([`lifetime`]): as fresh past its TTL, marked stale while still fresh, or past
    /// its expiry (`max_stale`, or the stale-while-revalidate window, past its TTL).
    OutOfLifetime {
        /// The lookup.
        lookup: Record,
        /// What it returned.
        value: Made,
        /// Which bound it broke.
        broke: Bound,
    },
    /// `wrap_optional` answered "not found" with no origin read behind it that could
    /// still be served: every "not found" read of the key either began before an
    /// invalidation the lookup must see (`invalidation`), or is past its expiry
    /// (`invalidation` is `None`).
    StaleNotFound {
        /// The latest invalidation the lookup must see, if any.
        invalidation: Option<Record>,
        /// The lookup.
        lookup: Record,
    },
    /// A lease its holder never gave back: every other container's miss on that key waits
    /// until it lapses.
    LeakedLease {
        /// The lease.
        grant: LeaseGrant,
        /// What the history points at.
        cause: Cause,
    },
}

/// A bound of a value's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Bound {
    /// Served as fresh once its TTL (with the most jitter) had passed.
    FreshPastTtl,
    /// Marked stale before its TTL had passed.
    StaleWhileFresh,
    /// Served past its expiry.
    PastExpiry,
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Bound::FreshPastTtl => "served as fresh after its TTL (and the most jitter)",
            Bound::StaleWhileFresh => "marked stale before its TTL had passed",
            Bound::PastExpiry => {
                "served after its expiry (max_stale, or the stale-while-revalidate window, \
                 past its TTL)"
            }
        })
    }
}

/// When a value may be served, in virtual ms: fresh until at least `fresh_from_ms` and at
/// most `fresh_until_ms`, and never from `expires_ms` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lifetime {
    /// The earliest its TTL can end: made at the earliest, no jitter.
    pub stale_from_ms: u64,
    /// The latest its TTL can end: made at the latest, the most jitter.
    pub fresh_until_ms: u64,
    /// The latest it can be kept to.
    pub expires_ms: u64,
}

/// The lifetime of a value made at `made_ms` (from `made_ms..=made_latest_ms`) by `op`,
/// with TTL `ttl`: the policy's jitter lengthens it, and it is kept past it for the
/// policy's `max_stale` or, for `wrap_swr`'s values, the stale-while-revalidate window,
/// whichever is longer.
fn lifetime_of(
    config: &SimConfig,
    made_ms: u64,
    made_latest_ms: u64,
    ttl: Duration,
    op: &Op,
) -> Lifetime {
    let (_, _, stale_window, policy) = sim::settings(config);
    let max_stale = policy.fail_safe.map_or(Duration::ZERO, |f| f.max_stale);
    let window = if matches!(op, Op::WrapSwr { .. }) {
        stale_window
    } else {
        Duration::ZERO
    };
    let fresh_until_ms = made_latest_ms + (ttl + policy.ttl_jitter).as_millis() as u64;
    Lifetime {
        stale_from_ms: made_ms + ttl.as_millis() as u64,
        fresh_until_ms,
        expires_ms: fresh_until_ms + max_stale.max(window).as_millis() as u64,
    }
}

/// The lifetime of `value` in `run`: its TTL is the type's, or the one its origin told
/// (`wrap_expiring`) within the policy's bounds. An origin's value is made when the origin
/// was called; a writer's between its `set`'s call and return.
pub(crate) fn lifetime(run: &Run, value: &Made) -> Lifetime {
    let (ttl, _, _, policy) = sim::settings(&run.config);
    let op = &run.plan[value.op].op;
    let ttl = match (value.told_ms, policy.ttl_bounds) {
        (Some(told), Some((low, high))) => Duration::from_millis(told).clamp(low, high),
        (Some(told), None) => Duration::from_millis(told).clamp(Duration::ZERO, ttl),
        (None, _) => ttl,
    };
    let made_latest_ms = match value.by {
        Maker::Origin => value.called.ms,
        Maker::Writer => run
            .history
            .iter()
            .find(|record| record.op == value.op)
            .map_or(u64::MAX / 2, |record| record.end.ms),
    };
    lifetime_of(&run.config, value.called.ms, made_latest_ms, ttl, op)
}

/// The bound of its lifetime a lookup broke in serving `value`, if any. Its TTL ends
/// and it expires at fixed instants, and the lookup judged it between its start and end.
fn broken_bound(run: &Run, lookup: &Record, value: &Made) -> Option<Bound> {
    let life = lifetime(run, value);
    let labelled_fresh = matches!(lookup.outcome, Outcome::Value(Some(_)));
    let labelled_stale = matches!(lookup.outcome, Outcome::Stale(_));
    if lookup.start.ms >= life.expires_ms {
        Some(Bound::PastExpiry)
    } else if labelled_fresh && lookup.start.ms >= life.fresh_until_ms {
        Some(Bound::FreshPastTtl)
    } else if labelled_stale && lookup.end.ms < life.stale_from_ms {
        Some(Bound::StaleWhileFresh)
    } else {
        None
    }
}

/// Whether `lookup` must see `invalidation`: it began after the invalidation returned, in
/// the same container, or `grace` or more after that in another.
fn must_see(invalidation: &Record, lookup: &Record, grace: Duration) -> bool {
    if lookup.container == invalidation.container {
        lookup.start > invalidation.end
    } else {
        lookup.start.ms >= invalidation.end.ms + grace.as_millis() as u64
    }
}

/// The violation, if any, of `wrap_optional`'s "not found" answer in `lookup`: the answer
/// needs an origin read of the key that found the row removed, began after every
/// invalidation of the key the lookup must see, ended by the lookup's end, and whose
/// negative entry had not expired when the lookup began.
fn stale_not_found(run: &Run, lookup: &Record, key: u32, grace: Duration) -> Option<Violation> {
    let (_, _, _, policy) = sim::settings(&run.config);
    let negative_ttl = policy.negative_ttl.unwrap_or(sim::settings(&run.config).0);
    let latest = run
        .history
        .iter()
        .filter(|invalidation| {
            invalidation.outcome == Outcome::Done
                && invalidation.action.invalidates(key)
                && must_see(invalidation, lookup, grace)
        })
        .max_by_key(|invalidation| invalidation.start);
    let op = &run.plan[lookup.op].op;
    let servable = run.not_found.iter().any(|read| {
        let life = lifetime_of(
            &run.config,
            read.called.ms,
            read.called.ms,
            negative_ttl,
            op,
        );
        read.key == key
            && read.read <= lookup.end
            && lookup.start.ms < life.expires_ms
            && latest.is_none_or(|invalidation| read.read > invalidation.start)
    });
    (!servable).then(|| Violation::StaleNotFound {
        invalidation: latest.cloned(),
        lookup: lookup.clone(),
    })
}

/// What a violation's history and store log point at: a reading aid tied to the issue's
/// defect list, not part of the verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Cause {
    /// The origin value's write landed in the store after the invalidation removed the
    /// item.
    FillAfterRemoval,
    /// A writer's `set`, begun before the invalidation was called, landed after it removed
    /// the item.
    SetAfterRemoval,
    /// The lookup joined its container's in-process flight that began before the
    /// invalidation (the value's operation was still running when the lookup started).
    JoinedOldFlight,
    /// A lookup in the invalidating container that overlapped the invalidation put its
    /// earlier read into L1 after the invalidation cleared it.
    RefilledL1,
    /// No write after the removal, and the invalidating container served it anyway.
    ServedInProcess,
    /// Another container served its L1 copy past the version-check bound after its stamp
    /// read failed or timed out: it kept the stamps it knew before the read.
    StampReadFailed,
    /// No write after the removal: another container's L1 copy outlived the grace.
    CopyOutlivedGrace,
    /// The invalidation's store removal had not applied when it returned `Ok`.
    UnfinishedInvalidation,
    /// The operation holding the lease was dropped.
    DroppedWhileHolding,
    /// The operation finished without releasing (its acquire's reply was lost or timed
    /// out after the grant, or it returned early).
    NotReleased,
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Cause::FillAfterRemoval => {
                "the origin value's write landed in the store after the invalidation \
                 removed the item (defect 1: set after delete)"
            }
            Cause::SetAfterRemoval => {
                "a writer's set, begun before the invalidation was called, landed after it \
                 removed the item (defect 1's pattern, for explicit sets)"
            }
            Cause::JoinedOldFlight => {
                "the lookup joined an in-process flight begun before the invalidation \
                 (defect 1: delete does not touch in-process flights)"
            }
            Cause::RefilledL1 => {
                "a lookup that overlapped the invalidation, in the same container, put its \
                 earlier read into L1 after the invalidation cleared it (defect 1's \
                 pattern, for L1; with a version check, that lookup's stamp read also \
                 replaced the container's newer stamps)"
            }
            Cause::ServedInProcess => {
                "served by the invalidating container with no store write after the \
                 removal"
            }
            Cause::StampReadFailed => {
                "the lookup's stamp read failed or timed out, and the container kept the \
                 stamps it knew before it (not in the issue's list; kin to defect 7)"
            }
            Cause::CopyOutlivedGrace => {
                "no store write after the removal: another container's L1 copy outlived \
                 the grace"
            }
            Cause::UnfinishedInvalidation => {
                "the invalidation returned Ok before its store removal applied (it timed \
                 out or failed and degraded; defect 7)"
            }
            Cause::DroppedWhileHolding => {
                "the operation holding the lease was dropped (defect 9: a cancelled call \
                 leaks its lease)"
            }
            Cause::NotReleased => {
                "the operation ended without releasing: its acquire's reply was lost or \
                 timed out after the grant, or it returned early (defect 9)"
            }
        })
    }
}

/// How long after an invalidation returned another container may still serve a copy it
/// held: the type's `version_check` bound, or without one its memory TTL.
pub(crate) fn grace(config: &SimConfig) -> Duration {
    if config.version_check {
        VERSION_CHECK
    } else {
        sim::settings(config).1
    }
}

/// The coherence contract: whether serving `value` from `lookup` breaks `invalidation`.
///
/// Once an invalidation (`delete`, `invalidate_tag`, `invalidate_all`) returns `Ok`, a
/// lookup (`get`, `wrap`, `wrap_swr`) of a key it covers must not return a value whose
/// origin read (for a writer's `set`, the writer's change of the source) began before the
/// invalidation was called:
/// - in the container that invalidated, for every lookup that starts after it returned;
/// - in any other container, for every lookup that starts `grace` or more after it
///   returned, `grace` being the type's `version_check` bound, or, without a version
///   check, its memory TTL (another container's L1 may keep the copy it held that long,
///   and no longer).
///
/// A writer's `set` is an operation like the invalidation: it is bound by it only if it
/// returned `Ok` before the invalidation was called (`set_returned`, its end when it did).
/// A set that overlaps the invalidation may take effect after it (linearizability allows
/// either order), and one that failed promises nothing (a timed-out write may still land).
///
/// Lookups that overlap the invalidation, and invalidations that failed or were dropped,
/// promise nothing.
pub(crate) fn forbids(
    invalidation: &Record,
    lookup: &Record,
    value: &Made,
    set_returned: Option<Mark>,
    grace: Duration,
) -> bool {
    let returned_ok = invalidation.outcome == Outcome::Done;
    let covers = invalidation.action.invalidates(value.key);
    let made_before_call = match value.by {
        Maker::Origin => value.read < invalidation.start,
        Maker::Writer => set_returned.is_some_and(|end| end < invalidation.start),
    };
    returned_ok && covers && made_before_call && must_see(invalidation, lookup, grace)
}

/// Every violation in `run`: at most one stale read per lookup (against the latest
/// invalidation it breaks), then every leaked lease.
pub(crate) fn check(run: &Run) -> Vec<Violation> {
    let grace = grace(&run.config);
    let mut violations = Vec::new();
    for lookup in &run.history {
        let Some(key) = lookup.action.lookup_key() else {
            continue;
        };
        if lookup.outcome == Outcome::NotFound {
            violations.extend(stale_not_found(run, lookup, key, grace));
            continue;
        }
        let Some(value) = lookup.outcome.value() else {
            continue;
        };
        if value.key != key {
            violations.push(Violation::WrongKey {
                lookup: lookup.clone(),
                value: *value,
            });
            continue;
        }
        let set_returned = run
            .history
            .iter()
            .find(|record| record.op == value.op && record.outcome == Outcome::Done)
            .filter(|_| value.by == Maker::Writer)
            .map(|record| record.end);
        let broken = run
            .history
            .iter()
            .filter(|invalidation| forbids(invalidation, lookup, value, set_returned, grace))
            .max_by_key(|invalidation| invalidation.end);
        if let Some(broke) = broken_bound(run, lookup, value) {
            violations.push(Violation::OutOfLifetime {
                lookup: lookup.clone(),
                value: *value,
                broke,
            });
        }
        if let Some(invalidation) = broken {
            violations.push(Violation::Stale {
                invalidation: invalidation.clone(),
                lookup: lookup.clone(),
                value: *value,
                cause: stale_cause(run, invalidation, lookup, value),
            });
        }
    }
    // A grant whose reply its caller never got (it gave up waiting) is one it cannot give
    // back: that lease lapses after its TTL, which the contract allows.
    let reached_its_caller = |grant: &&LeaseGrant| run.store.calls[grant.call].answered.is_some();
    for grant in run
        .store
        .grants
        .iter()
        .filter(|grant| !grant.released)
        .filter(reached_its_caller)
    {
        let dropped = grant.op.is_some_and(|op| {
            run.history
                .iter()
                .any(|record| record.op == op && record.outcome == Outcome::Cancelled)
        });
        violations.push(Violation::LeakedLease {
            grant: grant.clone(),
            cause: if dropped {
                Cause::DroppedWhileHolding
            } else {
                Cause::NotReleased
            },
        });
    }
    violations
}

/// A violation with what is needed to reproduce and read it.
pub(crate) struct Report<'a> {
    /// The run it happened in.
    pub run: &'a Run,
    /// The violation.
    pub violation: &'a Violation,
}

impl std::fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let run = self.run;
        match self.violation {
            Violation::Stale {
                invalidation,
                lookup,
                value,
                cause,
            } => {
                writeln!(f, "stale read, seed {} with {:?}", run.seed, run.config)?;
                writeln!(f, "  invalidation: {invalidation}")?;
                writeln!(f, "  lookup:       {lookup}")?;
                writeln!(f, "  value made:   {value}")?;
                let place = if lookup.container == invalidation.container {
                    "in the same container".to_owned()
                } else {
                    format!(
                        "in another container, {} ms after it returned (grace {:?})",
                        lookup.start.ms - invalidation.end.ms,
                        grace(&run.config)
                    )
                };
                writeln!(
                    f,
                    "  the value was made before the invalidation was called, and the lookup began after it returned, {place}"
                )?;
                writeln!(f, "  cause (read from the store log): {cause}")?;
                writeln!(
                    f,
                    "  store calls about sim#{} from the value's making to the lookup's end:",
                    value.key
                )?;
                let item = format!("sim#{}", value.key);
                // The item, its lease, scans, tags, stamp writes, and the lookup's
                // container's stamp reads.
                let relevant = |call: &&StoreCall| {
                    call.items.iter().any(|i| {
                        i.ends_with(&item)
                            || i.ends_with('*')
                            || (i.starts_with('!')
                                && (call.effect == Effect::Write
                                    || call.container == lookup.container))
                    })
                };
                for call in run
                    .store
                    .calls
                    .iter()
                    .filter(|call| call.sent >= value.read && call.sent <= lookup.end)
                    .filter(relevant)
                {
                    writeln!(f, "    {call}")?;
                }
                Ok(())
            }
            Violation::OutOfLifetime {
                lookup,
                value,
                broke,
            } => {
                let life = lifetime(run, value);
                writeln!(
                    f,
                    "value out of its lifetime, seed {} with {:?}",
                    run.seed, run.config
                )?;
                writeln!(f, "  lookup:     {lookup}")?;
                writeln!(f, "  value made: {value}")?;
                writeln!(
                    f,
                    "  {broke}: its TTL ends from {} ms to {} ms at the latest, it expires by {} ms",
                    life.stale_from_ms, life.fresh_until_ms, life.expires_ms
                )
            }
            Violation::StaleNotFound {
                invalidation,
                lookup,
            } => {
                writeln!(
                    f,
                    "stale \"not found\", seed {} with {:?}",
                    run.seed, run.config
                )?;
                writeln!(f, "  lookup: {lookup}")?;
                match invalidation {
                    Some(invalidation) => writeln!(
                        f,
                        "  no \"not found\" read after the invalidation {invalidation} is servable"
                    )?,
                    None => writeln!(f, "  no \"not found\" read is servable (all expired)")?,
                }
                let key = lookup.action.lookup_key();
                for read in run.not_found.iter().filter(|read| Some(read.key) == key) {
                    writeln!(
                        f,
                        "    \"not found\" read by op {} at {} (called at {})",
                        read.op, read.read, read.called
                    )?;
                }
                Ok(())
            }
            Violation::WrongKey { lookup, value } => writeln!(
                f,
                "wrong key, seed {} with {:?}\n  lookup: {lookup}\n  value made: {value}",
                run.seed, run.config
            ),
            Violation::LeakedLease { grant, cause } => {
                let op = grant.op.map_or_else(
                    || "a background refresh".to_owned(),
                    |op| format!("op {op} {}", run.plan[op].op),
                );
                writeln!(
                    f,
                    "leaked lease, seed {} with {:?}\n  {} granted to container {} ({op}) at {}, never released",
                    run.seed, run.config, grant.lease, grant.container, grant.granted
                )?;
                if let Some(record) = grant
                    .op
                    .and_then(|op| run.history.iter().find(|r| r.op == op))
                {
                    writeln!(f, "  the operation: {record}")?;
                }
                writeln!(f, "  cause: {cause}")
            }
        }
    }
}

/// What the store log shows behind a stale read.
fn stale_cause(run: &Run, invalidation: &Record, lookup: &Record, value: &Made) -> Cause {
    let item = format!("sim#{}", value.key);
    let removed_at = run
        .store
        .calls
        .iter()
        .filter(|call| {
            call.op == Some(invalidation.op) && call.effect == Effect::Remove && !call.failed
        })
        .filter_map(|call| call.landed)
        .min();
    let Some(removed_at) = removed_at.filter(|removed| *removed < invalidation.end) else {
        return Cause::UnfinishedInvalidation;
    };
    let written_after = run.store.calls.iter().any(|call| {
        call.effect == Effect::Write
            && call.items.contains(&item)
            && (call.op == Some(value.op) || call.op.is_none())
            && call.landed.is_some_and(|landed| landed > removed_at)
    });
    // Stamp reads the lookup may have relied on: its own, and those cached for a bound.
    let since_ms = lookup
        .start
        .ms
        .saturating_sub(VERSION_CHECK.as_millis() as u64);
    let stamp_read_failed = run.store.calls.iter().any(|call| {
        call.container == lookup.container
            && call.effect == Effect::Read
            && call.items.iter().any(|i| i.starts_with('!'))
            && call.sent.ms >= since_ms
            && call.sent <= lookup.end
            && (call.landed.is_none() || call.failed || call.answered.is_none())
    });
    let refilled = run.history.iter().any(|record| {
        record.container == lookup.container
            && record.start < invalidation.end
            && record.end > invalidation.start
            && record.outcome.value() == Some(value)
    });
    let joined_old_flight = lookup.container == value.container
        && value.by == Maker::Origin
        && run
            .history
            .iter()
            .any(|record| record.op == value.op && record.end > lookup.start);
    if joined_old_flight {
        Cause::JoinedOldFlight
    } else if written_after && value.by == Maker::Writer {
        Cause::SetAfterRemoval
    } else if written_after {
        Cause::FillAfterRemoval
    } else if lookup.container == invalidation.container && refilled {
        Cause::RefilledL1
    } else if lookup.container == invalidation.container {
        Cause::ServedInProcess
    } else if stamp_read_failed {
        Cause::StampReadFailed
    } else {
        Cause::CopyOutlivedGrace
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{Delays, Op};
    use crate::world::Mark;

    fn at(seq: u64, ms: u64) -> Mark {
        Mark { seq, ms }
    }

    fn delete_in(container: usize, start: Mark, end: Mark, outcome: Outcome) -> Record {
        Record {
            op: 1,
            container,
            action: Op::Delete { key: 0 },
            start,
            end,
            outcome,
        }
    }

    fn wrap_in(container: usize, start: Mark) -> Record {
        Record {
            op: 2,
            container,
            action: Op::Wrap {
                key: 0,
                origin: Delays {
                    before_ms: 0,
                    after_ms: 0,
                    fails: false,
                },
            },
            start,
            end: start,
            outcome: Outcome::Cancelled,
        }
    }

    fn read_at(read: Mark) -> Made {
        Made {
            key: 0,
            version: 0,
            called: read,
            read,
            told_ms: None,
            container: 0,
            op: 0,
            by: Maker::Origin,
        }
    }

    const GRACE: Duration = Duration::from_secs(2);

    #[test]
    fn the_same_container_must_not_serve_an_older_value_once_the_invalidation_returned() {
        let delete = delete_in(0, at(10, 100), at(20, 200), Outcome::Done);
        let old = read_at(at(5, 50));
        assert!(forbids(
            &delete,
            &wrap_in(0, at(21, 200)),
            &old,
            None,
            GRACE
        ));
        // A lookup that overlaps the invalidation, a value read after the call, a failed
        // invalidation, or another key: no promise.
        assert!(!forbids(
            &delete,
            &wrap_in(0, at(15, 150)),
            &old,
            None,
            GRACE
        ));
        assert!(!forbids(
            &delete,
            &wrap_in(0, at(21, 200)),
            &read_at(at(11, 100)),
            None,
            GRACE
        ));
        let failed = delete_in(0, at(10, 100), at(20, 200), Outcome::Failed("x".into()));
        assert!(!forbids(
            &failed,
            &wrap_in(0, at(21, 200)),
            &old,
            None,
            GRACE
        ));
        let other_key = Made { key: 1, ..old };
        assert!(!forbids(
            &delete,
            &wrap_in(0, at(21, 200)),
            &other_key,
            None,
            GRACE
        ));
    }

    #[test]
    fn a_set_binds_only_if_it_returned_before_the_invalidation_was_called() {
        let delete = delete_in(0, at(10, 100), at(20, 200), Outcome::Done);
        let set = Made {
            by: Maker::Writer,
            ..read_at(at(5, 50))
        };
        let later = wrap_in(0, at(21, 200));
        assert!(forbids(&delete, &later, &set, Some(at(8, 80)), GRACE));
        assert!(
            !forbids(&delete, &later, &set, Some(at(12, 120)), GRACE),
            "overlapping"
        );
        assert!(
            !forbids(&delete, &later, &set, None, GRACE),
            "failed: no promise"
        );
    }

    #[test]
    fn another_container_may_serve_its_copy_within_the_grace() {
        let delete = delete_in(0, at(10, 100), at(20, 200), Outcome::Done);
        let old = read_at(at(5, 50));
        assert!(!forbids(
            &delete,
            &wrap_in(1, at(30, 2_199)),
            &old,
            None,
            GRACE
        ));
        assert!(forbids(
            &delete,
            &wrap_in(1, at(31, 2_200)),
            &old,
            None,
            GRACE
        ));
    }
}
