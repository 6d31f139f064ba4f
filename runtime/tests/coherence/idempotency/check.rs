//! The idempotency checker: replays a run's calls, handler calls and store log against
//! the contract of `runtime::idempotency` ([`check`]).
//!
//! Every bound here is one the store itself draws: a handler's in-progress record is the
//! lease its call was granted (lapsing `deadline - now` after it landed, or when its
//! release or its result's write lands), and a result's record is the write that landed
//! (live for the window from when it was sent). Nothing assumes how fast a call ran. A
//! store call took effect between when it was sent and when it landed (on the simulated
//! store, at the landing; on a live one, while the adapter waited for it), and each check
//! takes whichever end of that span is the lenient one.

use crate::store::{Faults, LeaseGrant, StoreCall};
use crate::world::Mark;

use super::sim::{HandlerRun, IdemOutcome, IdemRecord, IdemRun, receipt};

/// A broken promise of an idempotent handler.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum IdemViolation {
    /// A handler was called while an earlier call of the same key still held it: its
    /// in-progress record had neither lapsed nor been given back, or its result's record
    /// was within its window.
    RanTwice {
        /// The earlier handler call.
        first: HandlerRun,
        /// The one that should not have run.
        second: HandlerRun,
    },
    /// A call returned a result its handler did not make, and that breaks the contract.
    BadReplay {
        /// The call.
        call: IdemRecord,
        /// What is wrong with it.
        wrong: Replay,
    },
    /// A call was refused (`InProgress`, `PayloadMismatch`) with no in-progress record,
    /// or for a mismatch no record of another payload, in the store while it ran.
    Unjustified {
        /// The call.
        call: IdemRecord,
    },
    /// On a calm network, a handler's result was not stored although it returned while
    /// its call held the key.
    Unstored {
        /// The handler call.
        run: HandlerRun,
    },
    /// A call whose handler failed, or that was dropped, never gave its in-progress
    /// record back: every retry waits for the deadline.
    KeptRecord {
        /// The call.
        call: IdemRecord,
    },
}

/// What is wrong with a replayed result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Replay {
    /// Not byte-identical to what the handler returned.
    Altered,
    /// Made for another key or another payload (which must be refused).
    OtherRequest,
    /// Its record's write never landed, was sent after the call returned, or wrote
    /// nothing (the call no longer held the key).
    NotStored,
    /// Its record's window had passed when the call began.
    Expired,
    /// Another result's record was in the store, within its window, for the whole call.
    NotTheStoredOne,
    /// The call failed to read a record back (`IdempotencyError::Serde`).
    Unreadable,
}

impl std::fmt::Display for IdemViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdemViolation::RanTwice { first, second } => write!(
                f,
                "ran twice: op {} called its handler at {} while op {} (called at {}) still held key {}",
                second.op, second.called, first.op, first.called, first.key
            ),
            IdemViolation::BadReplay { call, wrong } => {
                write!(f, "bad replay ({wrong:?}): {call}")
            }
            IdemViolation::Unjustified { call } => {
                write!(f, "refused with nothing in progress: {call}")
            }
            IdemViolation::Unstored { run } => write!(
                f,
                "result not stored on a calm network: op {}'s handler returned at {:?}",
                run.op, run.returned
            ),
            IdemViolation::KeptRecord { call } => {
                write!(f, "in-progress record never given back: {call}")
            }
        }
    }
}

/// A result's record in the store.
#[derive(Clone, Copy, Debug)]
struct Stored {
    /// When its write was sent.
    sent: Mark,
    /// When its write landed.
    landed: Mark,
    /// Virtual ms at which it expires.
    expires_ms: u64,
}

/// The run, indexed for the checks.
struct View<'a> {
    run: &'a IdemRun,
}

impl View<'_> {
    fn record(&self, op: usize) -> &IdemRecord {
        self.run
            .history
            .iter()
            .find(|record| record.op == op)
            .expect("every call ends")
    }

    fn call_of(&self, op: usize, method: &str) -> Option<&StoreCall> {
        self.run
            .store
            .calls
            .iter()
            .find(|call| call.op == Some(op) && call.method == method)
    }

    /// When `op`'s call of `method` landed without an error.
    fn landed_ok(&self, op: usize, method: &str) -> Option<Mark> {
        self.call_of(op, method)
            .filter(|call| !call.failed)
            .and_then(|call| call.landed)
    }

    /// Every lease granted on key `key`'s record.
    fn grants(&self, key: u32) -> impl Iterator<Item = &LeaseGrant> {
        let record_key = &self.run.record_keys[key as usize];
        self.run
            .store
            .grants
            .iter()
            .filter(move |grant| &grant.lease == record_key)
    }

    fn grant_of(&self, op: usize) -> Option<&LeaseGrant> {
        self.run.store.grants.iter().find(|g| g.op == Some(op))
    }

    /// Virtual ms at which a grant's lease lapses: its TTL, `deadline - now` when it was
    /// sent, counted from when it landed.
    fn lapses_ms(&self, grant: &LeaseGrant) -> u64 {
        let call = &self.run.store.calls[grant.call];
        let deadline = self
            .record(grant.op.expect("a call takes leases"))
            .deadline_ms;
        grant.granted.ms + deadline.saturating_sub(call.sent.ms).max(1)
    }

    /// `op`'s result record, if its write landed and found the item as the call's lease
    /// left it.
    fn stored(&self, op: usize) -> Option<Stored> {
        let (index, write) = self
            .run
            .store
            .calls
            .iter()
            .enumerate()
            .find(|(_, call)| call.op == Some(op) && call.method == "write")?;
        let landed = write.landed.filter(|_| !write.failed)?;
        (!self.run.store.refused_writes.contains(&index)).then_some(Stored {
            sent: write.sent,
            landed,
            expires_ms: write.sent.ms + self.run.config.window.as_millis() as u64,
        })
    }

    /// Whether handler call `later` may run after `earlier` (same key, called before).
    fn may_follow(&self, earlier: &HandlerRun, later: &HandlerRun) -> bool {
        if let Some(stored) = self.stored(earlier.op) {
            return later.called.ms >= stored.expires_ms;
        }
        let Some(grant) = self.grant_of(earlier.op) else {
            // It held nothing (and its own predecessor check reports it).
            return true;
        };
        let given_back = match (earlier.returned, &self.record(earlier.op).outcome) {
            (Some((returned, false)), _) => later.called > returned,
            (_, IdemOutcome::Cancelled) => later.called > self.record(earlier.op).end,
            _ => false,
        };
        given_back || later.called.ms >= self.lapses_ms(grant)
    }

    /// Whether a lease `grant` may have been live during `call`: granted by its end, and
    /// neither lapsed, given back nor replaced by a result when it began.
    fn held_during(&self, grant: &LeaseGrant, call: &IdemRecord) -> bool {
        let op = grant.op.expect("a call takes leases");
        let ended = [
            self.landed_ok(op, "release_lease"),
            self.landed_ok(op, "write"),
        ]
        .into_iter()
        .flatten()
        .min();
        self.run.store.calls[grant.call].sent <= call.end
            && ended.is_none_or(|ended| ended > call.start)
            && self.lapses_ms(grant) > call.start.ms
    }

    fn ran_twice(&self) -> Vec<IdemViolation> {
        let mut violations = Vec::new();
        for key in 0..self.run.config.keys {
            let runs: Vec<&HandlerRun> = self.run.runs.iter().filter(|r| r.key == key).collect();
            for pair in runs.windows(2) {
                if !self.may_follow(pair[0], pair[1]) {
                    violations.push(IdemViolation::RanTwice {
                        first: pair[0].clone(),
                        second: pair[1].clone(),
                    });
                }
            }
        }
        violations
    }

    fn replay(&self, call: &IdemRecord, got: &super::sim::Receipt) -> Option<Replay> {
        let by = got.by_op;
        let Some(made) = self.run.plan.get(by) else {
            return Some(Replay::Altered);
        };
        let original = receipt(by, made.key, made.payload);
        let bytes = |r| serde_json::to_vec(r).expect("a receipt serializes");
        if bytes(&original) != bytes(got) {
            return Some(Replay::Altered);
        }
        if (made.key, made.payload) != (call.call.key, call.call.payload) {
            return Some(Replay::OtherRequest);
        }
        if by == call.op {
            return None;
        }
        let Some(stored) = self.stored(by).filter(|s| s.sent < call.end) else {
            return Some(Replay::NotStored);
        };
        if call.start.ms >= stored.expires_ms {
            return Some(Replay::Expired);
        }
        let another_stood = self.run.history.iter().any(|other| {
            other.op != by
                && other.call.key == call.call.key
                && self
                    .stored(other.op)
                    .is_some_and(|s| s.landed < call.start && call.end.ms < s.expires_ms)
        });
        another_stood.then_some(Replay::NotTheStoredOne)
    }

    fn justified(&self, call: &IdemRecord) -> bool {
        let mismatch = call.outcome == IdemOutcome::PayloadMismatch;
        // A waiting duplicate gives up only at its own deadline.
        if self.run.config.wait && !mismatch && call.end.ms < call.deadline_ms {
            return false;
        }
        let other_payload = |op: usize| self.run.plan[op].payload != call.call.payload;
        let leased = self.grants(call.call.key).any(|grant| {
            let op = grant.op.expect("a call takes leases");
            op != call.op && self.held_during(grant, call) && (!mismatch || other_payload(op))
        });
        let recorded = mismatch
            && self.run.history.iter().any(|other| {
                other.call.key == call.call.key
                    && other_payload(other.op)
                    && self
                        .stored(other.op)
                        .is_some_and(|s| s.sent <= call.end && s.expires_ms > call.start.ms)
            });
        leased || recorded
    }
}

/// Every violation in `run`:
/// - a handler runs for a key only when no earlier call holds it: an in-progress record
///   neither lapsed (at its invocation's deadline) nor given back (after a failure or a
///   drop), or a result's record within its window. So a side effect runs at most once
///   per key while a record is live, and exactly once when nothing crashes, fails or
///   outlives its deadline;
/// - a call that did not run its handler and returns `Ok` returns, byte for byte, the
///   result of a handler of the same key and payload whose record's write landed, was
///   not overwritten, and was within its window when the call began, and no other such
///   record stood for the whole call (so no result counts as stored when its write
///   failed);
/// - `InProgress` needs another call's live in-progress record, and `PayloadMismatch` one
///   (or a stored result) of another payload, during the call: a failure is not stored,
///   and a retry after it runs; a waiting duplicate is refused only at its deadline;
/// - on a calm network, a result returned while its call held the key is stored;
/// - a call whose handler failed, or that was dropped, gives its record back.
pub(crate) fn check(run: &IdemRun) -> Vec<IdemViolation> {
    let view = View { run };
    let mut violations = view.ran_twice();
    for call in &run.history {
        match &call.outcome {
            IdemOutcome::Returned(got) => {
                if let Some(wrong) = view.replay(call, got) {
                    violations.push(IdemViolation::BadReplay {
                        call: call.clone(),
                        wrong,
                    });
                }
            }
            IdemOutcome::Other(_) => violations.push(IdemViolation::BadReplay {
                call: call.clone(),
                wrong: Replay::Unreadable,
            }),
            IdemOutcome::InProgress | IdemOutcome::PayloadMismatch if !view.justified(call) => {
                violations.push(IdemViolation::Unjustified { call: call.clone() });
            }
            _ => {}
        }
    }
    if run.config.faults == Faults::CALM {
        for handler in &run.runs {
            let Some((returned, true)) = handler.returned else {
                continue;
            };
            let finished = matches!(view.record(handler.op).outcome, IdemOutcome::Returned(_));
            // A calm trip takes at most 5 ms: a result returned 10 ms before the lease
            // lapses is written while the call holds the key.
            let in_time = view
                .grant_of(handler.op)
                .is_some_and(|grant| returned.ms + 10 < view.lapses_ms(grant));
            if finished && in_time && view.stored(handler.op).is_none() {
                violations.push(IdemViolation::Unstored {
                    run: handler.clone(),
                });
            }
        }
    }
    for grant in run.store.grants.iter().filter(|grant| !grant.released) {
        let call = view.record(grant.op.expect("a call takes leases"));
        let answered = run.store.calls[grant.call].answered.is_some();
        let gives_back = matches!(
            call.outcome,
            IdemOutcome::HandlerFailed | IdemOutcome::Cancelled
        );
        if answered && gives_back {
            violations.push(IdemViolation::KeptRecord { call: call.clone() });
        }
    }
    violations
}
