//! Rampart's own gRPC door: `rampart.v1.Decisions/Decide`, `DecideBatch` and `Plan`.
//!
//! A `DecideRequest` is the request JSON in typed form: it is turned back into exactly that
//! JSON (`convert`), its bearer token is verified, and it is decided by
//! [`State::decide_on`] like every other door, so metrics, the decision log, rate limits
//! and fail-closed handling are the same. The decision goes back typed, with its id and
//! the revision of the bundle that decided. A `PlanRequest` becomes the plan request JSON
//! of `POST /v1/plan` and is planned by [`crate::plans`]; the plan JSON goes back typed.

pub(crate) mod codec;
mod convert;
mod limit;
mod wire;

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::plans::{self, PlanDoor, PlanFailure};
use crate::proto::rampart::v1::decide_batch_result::Outcome;
use crate::proto::rampart::v1::decisions_server;
use crate::proto::rampart::v1::{
    DecideBatchRequest, DecideBatchResponse, DecideBatchResult, DecideRequest, DecideResponse,
    ItemError, PlanRequest, PlanResponse,
};
use crate::state::{Door, State};

pub use convert::ConvertError;
pub use limit::BatchLimit;

/// The most requests one `DecideBatch` call may carry: counted on the message's bytes,
/// before any is decoded (`RESOURCE_EXHAUSTED` past it).
pub const MAX_BATCH_REQUESTS: usize = 256;

/// The largest `DecideBatch` message (`RESOURCE_EXHAUSTED` above; `Decide` takes up to
/// [`MAX_GRPC_MESSAGE_BYTES`](crate::MAX_GRPC_MESSAGE_BYTES)).
pub const MAX_BATCH_MESSAGE_BYTES: usize = 1 << 20;

/// The most protobuf fields, at any depth, one `Decide` or `DecideBatch` message may hold
/// (`RESOURCE_EXHAUSTED` past it): each becomes a decoded value and a JSON value, so this
/// bounds the memory a message costs whatever its bytes.
pub const MAX_MESSAGE_FIELDS: usize = 65_536;

/// The most `DecideBatch` calls read, decoded and decided at once; more wait their turn
/// (within the request timeout) without their messages being read.
pub const MAX_CONCURRENT_BATCHES: usize = 4;

/// The gRPC status code of a request that cannot be read (`INVALID_ARGUMENT`).
const INVALID_ARGUMENT: i32 = 3;

/// The `rampart.v1.Decisions` service.
pub struct DecisionApi {
    state: Arc<State>,
}

impl DecisionApi {
    pub fn new(state: Arc<State>) -> DecisionApi {
        DecisionApi { state }
    }

    /// Decides one request; an error only when it cannot be turned into request JSON.
    async fn decide_one(&self, request: &DecideRequest) -> Result<DecideResponse, ConvertError> {
        let mut json = convert::request_json(request).inspect_err(|_| {
            self.state.metrics.bad_request(Door::Grpc);
        })?;
        // A raw-HTTP request's bearer token fills `context.auth` (`--jwks`).
        self.state.authenticate(&mut json);
        // The snapshot that decides, so the answer can name its revision.
        let policy = self.state.policy();
        let decided = self
            .state
            .decide_on_async(&policy, Door::Grpc, &json, None)
            .await;
        Ok(DecideResponse {
            decision: Some(convert::decision_message(&decided.decision)),
            decision_id: decided.id,
            bundle_revision: policy.revision().to_owned(),
            rate_limited: decided
                .rate_limited
                .as_ref()
                .map(convert::rate_limited_message),
        })
    }
}

#[tonic::async_trait]
impl decisions_server::Decisions for DecisionApi {
    async fn decide(
        &self,
        request: Request<DecideRequest>,
    ) -> Result<Response<DecideResponse>, Status> {
        self.decide_one(request.get_ref())
            .await
            .map(Response::new)
            .map_err(|error| Status::invalid_argument(error.to_string()))
    }

    async fn decide_batch(
        &self,
        request: Request<DecideBatchRequest>,
    ) -> Result<Response<DecideBatchResponse>, Status> {
        // The codec refused a batch of more than MAX_BATCH_REQUESTS before decoding it.
        let batch = request.into_inner();
        // One after the other: a batch's rate limits are checked in order.
        let mut results = Vec::with_capacity(batch.requests.len());
        for item in &batch.requests {
            results.push(DecideBatchResult {
                outcome: Some(match self.decide_one(item).await {
                    Ok(decided) => Outcome::Decided(decided),
                    Err(error) => Outcome::Error(ItemError {
                        code: INVALID_ARGUMENT,
                        message: error.to_string(),
                    }),
                }),
            });
        }
        Ok(Response::new(DecideBatchResponse { results }))
    }

    async fn plan(&self, request: Request<PlanRequest>) -> Result<Response<PlanResponse>, Status> {
        let mut json = convert::plan_request_json(request.get_ref()).map_err(|error| {
            plans::refused(&self.state, PlanDoor::Grpc);
            Status::invalid_argument(error.to_string())
        })?;
        // A bearer token or API key in the call's metadata fills `context.auth`.
        let metadata = request.metadata().clone().into_headers();
        let pairs = metadata
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
        plans::authenticate(&self.state, &mut json, pairs);
        let planned = plans::plan(&self.state, PlanDoor::Grpc, json)
            .await
            .map_err(|failure| {
                let message = failure.message();
                match &failure {
                    PlanFailure::Invalid(_) => Status::invalid_argument(message),
                    PlanFailure::Unsupported { .. } | PlanFailure::TooLarge { .. } => {
                        Status::failed_precondition(message)
                    }
                    PlanFailure::Internal(_) => Status::internal(message),
                    PlanFailure::Unavailable(_) => Status::unavailable(message),
                }
            })?;
        convert::plan_message(&planned.json, &planned.revision)
            .map(Response::new)
            .ok_or_else(|| Status::internal("internal error while planning"))
    }
}

/// gRPC reflection over what the gRPC listener serves with descriptors: `rampart.v1`,
/// `grpc.health.v1` and reflection itself (Envoy's ext_authz types come without
/// descriptors). Build it with `build_v1()` and `build_v1alpha()`: grpcurl 1.8 speaks only
/// v1alpha.
pub fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}
