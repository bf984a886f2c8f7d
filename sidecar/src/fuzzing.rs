//! Entry points for the fuzz targets of `fuzz/` (hidden from the docs; not an API: they
//! change with the targets). Each reaches a door's own code, so that a target fuzzes what
//! `rampart serve` runs and not a copy of it.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use envoy_types::ext_authz::v3::pb::{CheckRequest, CheckResponse};
use envoy_types::pb::google::rpc;
use rampart_engine::{Decision, Engine, EntityStore};
use serde_json::{Map, Value as Json};

use crate::auth::{Authenticator, JwtVerifier};
use crate::state::{Door, Policy, State};
use crate::{JwksError, JwtConfig};

/// A sidecar's state without listeners, decision log or rate limits (so that deciding the
/// same request twice gives the same answer), with optional bearer-token verification.
pub struct Doors {
    state: State,
}

impl Doors {
    pub fn new(engine: Engine, entities: EntityStore) -> Doors {
        let state = State::new(Policy { engine, entities }, None).with_rate_limiter(None);
        Doors { state }
    }

    /// [`Doors::new`] with a decision log written to `path` (as `--decision-log` does, with
    /// the default options): what `examples/check_cost.rs` measures.
    pub fn with_decision_log(
        engine: Engine,
        entities: EntityStore,
        path: &std::path::Path,
    ) -> Result<Doors, String> {
        let log = crate::decision_log::DecisionLog::open_shipped(
            path,
            crate::LogOptions::default(),
            &crate::ShipOptions::default(),
        )
        .map_err(|e| e.to_string())?;
        let state = State::new(Policy { engine, entities }, Some(log)).with_rate_limiter(None);
        Ok(Doors { state })
    }

    /// Writes out the decision log and stops its writer.
    pub fn close_log(&self) {
        self.state.close_log();
    }

    /// The ext_authz door on the bytes of a `CheckRequest` (one gRPC message, unframed):
    /// read as the server reads it (`CheckView::parse`), decided, and the `CheckResponse`
    /// encoded. A message that does not decode is the error the server answers with.
    pub fn check_message(&self, message: &[u8]) -> Result<Vec<u8>, tonic::Status> {
        now_or_never(crate::ext_authz::decide_message(&self.state, message))
            .ok_or_else(|| tonic::Status::internal("a door without a rate-limit store waited"))?
    }

    /// [`Doors::check_message`] through the typed message: decoded by prost into a
    /// `CheckRequest` (as the generated service did), then decided.
    pub fn check_message_typed(&self, message: &[u8]) -> Result<Vec<u8>, tonic::Status> {
        use prost::Message as _;
        let check =
            CheckRequest::decode(message).map_err(|e| tonic::Status::internal(e.to_string()))?;
        Ok(self.check(&check).encode_to_vec())
    }

    /// Verifies bearer tokens with the key set of `config`, as `--jwks` does.
    pub fn with_jwks(self, config: JwtConfig) -> Result<Doors, JwksError> {
        let auth = Authenticator::load(config)?;
        Ok(Doors {
            state: self.state.with_auth(auth),
        })
    }

    /// The ext_authz door: what `Authorization/Check` answers.
    pub fn check(&self, check: &CheckRequest) -> CheckResponse {
        now_or_never(crate::ext_authz::decide_check(&self.state, check)).unwrap_or_else(|| {
            CheckResponse {
                status: Some(rpc::Status {
                    code: PERMISSION_DENIED,
                    ..rpc::Status::default()
                }),
                ..CheckResponse::default()
            }
        })
    }

    /// The ext_authz door's reference mapping: the request JSON of `check`, authenticated
    /// and decided as `POST /v1/decide` would decide it.
    pub fn check_as_json(&self, check: &CheckRequest) -> Decision {
        let mut mapped = crate::ext_authz::request_json(check);
        self.state.authenticate(&mut mapped.request);
        let decided = self
            .state
            .decide(Door::ExtAuthz, &mapped.request, mapped.time_ms);
        decided.decision
    }

    /// Reads forward-auth requests as `mode` says (`--forward-auth`).
    pub fn with_forward_auth(self, mode: crate::ForwardAuth) -> Doors {
        Doors {
            state: self.state.with_forward_auth(mode),
        }
    }

    /// The forward-auth door (`/v1/authz`): what it answers the gateway.
    pub fn forward_auth(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
        now_or_never(crate::forward_auth::answer(
            &self.state,
            method,
            uri,
            headers,
        ))
        .unwrap_or_else(|| StatusCode::FORBIDDEN.into_response())
    }

    /// The request JSON the forward-auth door maps a request to, before authentication, or
    /// why the door refuses it (its mode's headers missing or repeated).
    pub fn forward_auth_request(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<Json, String> {
        crate::forward_auth::request_json(&self.state.forward_auth, method, uri, headers)
    }
}

/// The bearer-token verifier of `--jwks`.
pub struct TokenVerifier {
    verifier: JwtVerifier,
}

impl TokenVerifier {
    pub fn load(config: &JwtConfig) -> Result<TokenVerifier, JwksError> {
        Ok(TokenVerifier {
            verifier: JwtVerifier::load(config)?,
        })
    }

    /// The claims of a token that verifies at `now_s` (seconds since the epoch), or the
    /// label of the reason it was refused.
    pub fn verify(&self, token: &str, now_s: i64) -> Result<Map<String, Json>, &'static str> {
        self.verifier.verify(token, now_s).map_err(|r| r.label())
    }
}

/// The gRPC status code of a deny (`PERMISSION_DENIED`).
const PERMISSION_DENIED: i32 = 7;

/// The output of a door's future that completes without waiting, which every door of these
/// states does: they have no rate-limit store, the only thing a door waits for. `None` (a
/// deny) if one ever waited.
pub(crate) fn now_or_never<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}
