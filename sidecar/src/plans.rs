//! Query plans at the sidecar: `POST /v1/plan` and `rampart.v1.Decisions/Plan`.
//!
//! **Key design decision:** a plan is the engine's answer or an error, never anything
//! else. Both doors turn what they receive into the plan request JSON of `rampart plan`
//! and hand it to [`plan`], which reads it with the engine, plans it on the blocking pool
//! (a plan can take tens of milliseconds on a large policy set: too long for an async
//! worker), at most [`MAX_CONCURRENT_PLANS`] at once, and returns the plan JSON
//! ([`Plan::to_json`](rampart_engine::plan::Plan::to_json)). A request the engine cannot
//! read, a condition no plan can express, a plan too large and any internal failure (a
//! panic) are a [`PlanFailure`], which each door answers with an error status: a client
//! never receives a plan that allows more than the policy does.
//!
//! A plan names its resource type, not a resource, so there is no raw HTTP request whose
//! headers could carry a bearer token: the token (or API key) is read from the plan
//! call's own headers or metadata and verified as at every door ([`authenticate`]).
//!
//! Plans are counted in `rampart_plans_total{door, outcome}`; they are not written to the
//! decision log, whose records (and what is shipped from them) are decisions on one
//! resource.

use rampart_engine::plan::{PlanError, PlanOutcome};
use serde_json::{Map, Value as Json};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::state::{now_ms, Policy, State};

/// The most plans computed at once; more wait their turn (within the request timeout).
pub const MAX_CONCURRENT_PLANS: usize = 8;

/// The door a plan request came through: the `door` label of `rampart_plans_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanDoor {
    /// `POST /v1/plan`.
    Http,
    /// `rampart.v1.Decisions/Plan`.
    Grpc,
}

impl PlanDoor {
    pub const ALL: [PlanDoor; 2] = [PlanDoor::Http, PlanDoor::Grpc];

    pub fn label(self) -> &'static str {
        match self {
            PlanDoor::Http => "http",
            PlanDoor::Grpc => "grpc",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// How a plan request ended: the `outcome` label of `rampart_plans_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Always,
    Never,
    Conditional,
    /// No plan: the request could not be read or planned, or planning failed.
    Error,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Always,
        Outcome::Never,
        Outcome::Conditional,
        Outcome::Error,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Always => "always",
            Outcome::Never => "never",
            Outcome::Conditional => "conditional",
            Outcome::Error => "error",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// A plan, as the plan JSON, with the revision of the bundle that planned it.
pub struct Planned {
    pub json: Json,
    pub outcome: Outcome,
    pub revision: String,
}

/// Why there is no plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanFailure {
    /// The request cannot be read (400, `INVALID_ARGUMENT`).
    Invalid(String),
    /// A condition reads the resource in a way no plan can express (422,
    /// `FAILED_PRECONDITION`).
    Unsupported {
        message: String,
        rule: String,
        construct: String,
    },
    /// The plan's condition would be too large (422, `FAILED_PRECONDITION`).
    TooLarge { message: String, nodes: usize },
    /// Planning failed inside the sidecar (500, `INTERNAL`).
    Internal(String),
    /// A required decision log cannot be written, so decisions are denied: plans are
    /// refused as well (503, `UNAVAILABLE`).
    Unavailable(String),
}

impl PlanFailure {
    /// The one-line message of the failure.
    pub fn message(&self) -> &str {
        match self {
            PlanFailure::Invalid(message)
            | PlanFailure::Internal(message)
            | PlanFailure::Unavailable(message)
            | PlanFailure::Unsupported { message, .. }
            | PlanFailure::TooLarge { message, .. } => message,
        }
    }
}

impl From<PlanError> for PlanFailure {
    fn from(error: PlanError) -> PlanFailure {
        let message = error.to_string();
        match error {
            PlanError::Request(_) => PlanFailure::Invalid(message),
            PlanError::TooLarge { nodes } => PlanFailure::TooLarge { message, nodes },
            PlanError::Unsupported { id, construct, .. } => PlanFailure::Unsupported {
                message,
                rule: id,
                construct,
            },
        }
    }
}

/// The message of a plan that failed inside the sidecar.
const INTERNAL: &str = "internal error while planning";

/// The message of a plan refused while the required decision log cannot be written.
const LOG_UNWRITABLE: &str = "the decision log cannot be written: plans are refused, as \
                              decisions are denied, until it can (--decision-log-required)";

/// Fills `context.auth` of a plan request from the bearer token (or, without one, the API
/// key) among `headers`, the plan call's own headers or metadata, when it verifies
/// ([`State::authenticate_headers`]). A request that states `context.auth` itself keeps it,
/// as `/v1/decide` keeps it: the door trusts its caller to state the context.
pub fn authenticate<'h>(
    state: &State,
    request: &mut Json,
    headers: impl Iterator<Item = (&'h str, &'h str)>,
) {
    let states_auth = request
        .get("context")
        .and_then(|context| context.get("auth"))
        .is_some_and(|auth| !auth.is_null());
    if states_auth {
        return;
    }
    let Some(facts) = state.authenticate_headers(headers) else {
        return;
    };
    let Json::Object(fields) = request else {
        // Not an object: the engine refuses the request.
        return;
    };
    let context = fields
        .entry("context")
        .or_insert_with(|| Json::Object(Map::new()));
    // A context that is not an object is an input error the engine reports.
    if let Json::Object(context) = context {
        context.insert("auth".into(), facts);
    }
}

/// Plans a plan request given as JSON on the policy serving now, and counts it.
pub async fn plan(state: &State, door: PlanDoor, request: Json) -> Result<Planned, PlanFailure> {
    let planned = plan_uncounted(state, request).await;
    let outcome = planned.as_ref().map_or(Outcome::Error, |p| p.outcome);
    state.metrics.planned(door, outcome);
    planned
}

/// Counts a plan request refused before it reached [`plan`] (an unreadable body).
pub fn refused(state: &State, door: PlanDoor) {
    state.metrics.planned(door, Outcome::Error);
}

async fn plan_uncounted(state: &State, request: Json) -> Result<Planned, PlanFailure> {
    if state.log_refuses_decisions() {
        return Err(PlanFailure::Unavailable(LOG_UNWRITABLE.into()));
    }
    // The semaphore is never closed; an error would be a failure like any other.
    let _permit = state
        .plan_permits()
        .acquire()
        .await
        .map_err(|_| PlanFailure::Internal(INTERNAL.into()))?;
    let policy = state.policy();
    let task = tokio::task::spawn_blocking(move || {
        let planned = catch_unwind(AssertUnwindSafe(|| plan_on(&policy, &request)));
        (planned, policy)
    });
    match task.await {
        Ok((Ok(Ok((json, outcome))), policy)) => Ok(Planned {
            json,
            outcome,
            revision: policy.revision().to_owned(),
        }),
        Ok((Ok(Err(failure)), _)) => Err(failure),
        // A panic while planning, or the task lost: no plan.
        Ok((Err(_), _)) | Err(_) => Err(PlanFailure::Internal(INTERNAL.into())),
    }
}

/// The engine's plan of `request` on `policy`, as the plan JSON.
fn plan_on(policy: &Policy, request: &Json) -> Result<(Json, Outcome), PlanFailure> {
    let engine = &policy.engine;
    let mut parsed = engine
        .plan_request_from_value(request)
        .map_err(|e| PlanFailure::Invalid(e.to_string()))?;
    engine.fill_plan_time(&mut parsed, now_ms());
    let plan = engine.plan(&parsed, &policy.entities)?;
    let outcome = match plan.outcome {
        PlanOutcome::Always => Outcome::Always,
        PlanOutcome::Never => Outcome::Never,
        PlanOutcome::Conditional(_) => Outcome::Conditional,
    };
    Ok((plan.to_json(engine), outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_errors_keep_the_rule_and_the_construct() {
        let unsupported = PlanError::Unsupported {
            item: "rule",
            id: "audit".into(),
            conjunct: "resource.owner.department == \"x\"".into(),
            construct: "an attribute of an entity the resource refers to".into(),
        };
        let message = unsupported.to_string();
        assert_eq!(
            PlanFailure::from(unsupported),
            PlanFailure::Unsupported {
                message,
                rule: "audit".into(),
                construct: "an attribute of an entity the resource refers to".into(),
            }
        );
        let large = PlanFailure::from(PlanError::TooLarge { nodes: 20_001 });
        assert!(matches!(large, PlanFailure::TooLarge { nodes: 20_001, .. }));
        assert!(large.message().contains("20001"), "{}", large.message());
    }

    #[test]
    fn labels_are_in_index_order() {
        for (index, outcome) in Outcome::ALL.into_iter().enumerate() {
            assert_eq!(outcome.index(), index);
        }
        for (index, door) in PlanDoor::ALL.into_iter().enumerate() {
            assert_eq!(door.index(), index);
        }
        let labels: Vec<&str> = Outcome::ALL.iter().map(|o| o.label()).collect();
        assert_eq!(labels, ["always", "never", "conditional", "error"]);
    }
}
