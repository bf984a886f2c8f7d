//! Entry points for the fuzz targets of `fuzz/` (hidden from the docs; not an API: they
//! change with the targets). Each reaches a door's own code, so that a target fuzzes what
//! `rampart serve` runs and not a copy of it.

use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use envoy_types::ext_authz::v3::pb::{CheckRequest, CheckResponse};
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

    /// Verifies bearer tokens with the key set of `config`, as `--jwks` does.
    pub fn with_jwks(self, config: JwtConfig) -> Result<Doors, JwksError> {
        let auth = Authenticator::load(config)?;
        Ok(Doors {
            state: self.state.with_auth(auth),
        })
    }

    /// The ext_authz door: what `Authorization/Check` answers.
    pub fn check(&self, check: &CheckRequest) -> CheckResponse {
        crate::ext_authz::decide_check(&self.state, check)
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
        crate::forward_auth::answer(&self.state, method, uri, headers)
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
