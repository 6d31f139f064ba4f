//! The recorded history: every operation's container, action, virtual start and end, and
//! outcome, plus which operation a store call belongs to.

use std::future::Future;
use std::sync::Mutex;

use cachegen_runtime::Served;

use crate::workload::Op;
use crate::world::{Made, Mark};

tokio::task_local! {
    /// The index (in the plan) of the operation the current task runs.
    static OPERATION: usize;
}

/// Runs `work` as operation `op`, so store calls it makes are attributed to it.
pub(crate) async fn as_operation<F: Future>(op: usize, work: F) -> F::Output {
    OPERATION.scope(op, work).await
}

/// The operation the current task runs; `None` in tasks the cache spawned itself (an SWR
/// refresh).
pub(crate) fn current_operation() -> Option<usize> {
    OPERATION.try_with(|op| *op).ok()
}

/// How an operation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A lookup returned this (`None`: not cached), fresh as the API says (`get`, or
    /// `wrap_served`/`wrap_swr_served` with `stale: false`).
    Value(Option<Made>),
    /// `wrap_served`/`wrap_swr_served` returned this, marked stale.
    Stale(Made),
    /// A lookup whose API does not say whether it is stale (`wrap_optional`,
    /// `wrap_expiring`) returned this.
    Found(Made),
    /// `wrap_optional` returned "not found".
    NotFound,
    /// A write or invalidation returned `Ok`.
    Done,
    /// It returned an error.
    Failed(String),
    /// It was dropped before it finished.
    Cancelled,
}

impl Outcome {
    /// The outcome of a lookup that says whether what it served is stale.
    pub(crate) fn served(served: Served<Made>) -> Self {
        if served.stale {
            Self::Stale(served.value)
        } else {
            Self::Value(Some(served.value))
        }
    }

    /// The value a lookup returned, however it was labelled.
    pub(crate) fn value(&self) -> Option<&Made> {
        match self {
            Self::Value(Some(value)) | Self::Stale(value) | Self::Found(value) => Some(value),
            _ => None,
        }
    }
}

/// One operation as it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    /// Its index in the plan.
    pub op: usize,
    /// The container that ran it.
    pub container: usize,
    /// What it did.
    pub action: Op,
    /// When the cache was called (after a writer changed the source).
    pub start: Mark,
    /// When it returned or was dropped.
    pub end: Mark,
    /// How it ended.
    pub outcome: Outcome,
}

impl std::fmt::Display for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "op {} `{}` in container {}, called at {}, ",
            self.op, self.action, self.container, self.start
        )?;
        match &self.outcome {
            Outcome::Value(Some(value)) => write!(f, "returned {value} at {}", self.end),
            Outcome::Value(None) => write!(f, "returned nothing at {}", self.end),
            Outcome::Stale(value) => write!(f, "returned {value}, marked stale, at {}", self.end),
            Outcome::Found(value) => write!(f, "returned {value} (unlabelled) at {}", self.end),
            Outcome::NotFound => write!(f, "returned \"not found\" at {}", self.end),
            Outcome::Done => write!(f, "returned Ok at {}", self.end),
            Outcome::Failed(error) => write!(f, "failed at {}: {error}", self.end),
            Outcome::Cancelled => write!(f, "dropped at {}", self.end),
        }
    }
}

/// The recorder operations append to.
#[derive(Debug, Default)]
pub(crate) struct History(Mutex<Vec<Record>>);

impl History {
    /// Records an operation that ended.
    pub(crate) fn push(&self, record: Record) {
        self.0.lock().expect("history lock").push(record);
    }

    /// The records, in the order the operations ended.
    pub(crate) fn into_records(self) -> Vec<Record> {
        self.0.into_inner().expect("history lock")
    }
}
