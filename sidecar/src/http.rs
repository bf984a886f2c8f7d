//! The HTTP doors (axum over hyper, HTTP/1.1): the decision API, query plans, forward-auth,
//! the OPA-compatible data API, health, readiness and metrics.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State as Shared};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use serde_json::{json, Value as Json};

use crate::enforce::DECISION_ID_HEADER;
use crate::plans::{PlanDoor, PlanFailure};
use crate::state::{Door, State};
use crate::{forward_auth, opa, plans, MAX_BODY_BYTES};

/// The router of every HTTP endpoint.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/v1/decide", post(decide))
        .route("/v1/plan", post(plan))
        .route("/v1/reload", post(crate::reload::reload_endpoint))
        .route("/v1/authz", any(authorize))
        .route("/v1/authz/{*target}", any(authorize))
        .route("/v1/data", post(data_root))
        .route("/v1/data/{*path}", post(data))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/status", get(status))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// `POST /v1/decide`: request JSON in, decision JSON out (200 for allow and deny alike);
/// the decision id is in the `x-rampart-decision-id` header.
async fn decide(
    Shared(state): Shared<Arc<State>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut request = match read_json(&state, Door::Decide, body) {
        Ok(request) => request,
        Err(error) => return error.into_response(),
    };
    state.authenticate(&mut request);
    // The snapshot that decides, so the answer can name its revision.
    let policy = state.policy();
    let decided = state
        .decide_on_async(&policy, Door::Decide, &request, None)
        .await;
    let body = match &decided.rate_limited {
        // The deny of an exhausted limit, with `rate_limited` saying which and for how long.
        Some(limited) => match serde_json::to_value(&decided.decision) {
            Ok(Json::Object(mut fields)) => {
                fields.insert("rate_limited".into(), limited.to_json());
                Json::Object(fields).to_string()
            }
            _ => decided.decision.to_json(),
        },
        None => decided.decision.to_json(),
    };
    let mut response = json_response(StatusCode::OK, body);
    set_decision_id(&mut response, &decided.id);
    if let Ok(revision) = HeaderValue::from_str(policy.revision()) {
        response.headers_mut().insert(REVISION_HEADER, revision);
    }
    response
}

/// The response header of `POST /v1/decide` and `POST /v1/plan` naming the bundle
/// revision that decided or planned.
pub const REVISION_HEADER: &str = "x-rampart-revision";

/// `POST /v1/plan`: plan request JSON in, plan JSON out (200), or `{"error": …}`: 400 for
/// a request that cannot be read, 422 for one that cannot be planned (with `rule` and
/// `construct`, or `nodes`), 500 for an internal failure, 503 while a required decision log
/// cannot be written. A bearer token or API key in the
/// call's own headers fills `context.auth` when it verifies (see [`plans::authenticate`]).
async fn plan(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut request = match read_body(body) {
        Ok(request) => request,
        Err(error) => {
            plans::refused(&state, PlanDoor::Http);
            return error.into_response();
        }
    };
    let pairs = headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
    plans::authenticate(&state, &mut request, pairs);
    match plans::plan(&state, PlanDoor::Http, request).await {
        Ok(planned) => {
            let mut response = json_response(StatusCode::OK, planned.json.to_string());
            if let Ok(revision) = HeaderValue::from_str(&planned.revision) {
                response.headers_mut().insert(REVISION_HEADER, revision);
            }
            response
        }
        Err(failure) => plan_failure_response(&failure),
    }
}

/// The answer to a plan request that has no plan.
fn plan_failure_response(failure: &PlanFailure) -> Response {
    let (status, body) = match failure {
        PlanFailure::Invalid(message) => (StatusCode::BAD_REQUEST, json!({ "error": message })),
        PlanFailure::Unsupported {
            message,
            rule,
            construct,
        } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({ "error": message, "rule": rule, "construct": construct }),
        ),
        PlanFailure::TooLarge { message, nodes } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({ "error": message, "nodes": nodes }),
        ),
        PlanFailure::Internal(message) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": message }),
        ),
        PlanFailure::Unavailable(message) => {
            (StatusCode::SERVICE_UNAVAILABLE, json!({ "error": message }))
        }
    };
    json_response(status, body.to_string())
}

/// Forward-auth (NGINX `auth_request`, Traefik/APISIX forward-auth, Envoy HTTP mode).
async fn authorize(
    Shared(state): Shared<Arc<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    forward_auth::answer(&state, &method, &uri, &headers).await
}

/// `POST /v1/data`: the OPA data API over every package.
async fn data_root(
    Shared(state): Shared<Arc<State>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    data_at(&state, "", body).await
}

/// `POST /v1/data/{path}`: the OPA data API for one package.
async fn data(
    Shared(state): Shared<Arc<State>>,
    Path(path): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    data_at(&state, &path, body).await
}

async fn data_at(state: &State, path: &str, body: Result<Bytes, BytesRejection>) -> Response {
    match read_json(state, Door::Opa, body) {
        Ok(document) => opa::answer(state, path, document).await,
        Err(error) => error.into_response(),
    }
}

async fn healthz() -> Response {
    text_response(StatusCode::OK, "ok\n")
}

/// 200 while serving; 503 once shutdown has begun, and while a required decision log
/// cannot be written.
async fn readyz(Shared(state): Shared<Arc<State>>) -> Response {
    if state.is_shutting_down() {
        text_response(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    } else if state.log_refuses_decisions() {
        text_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "the decision log cannot be written\n",
        )
    } else {
        text_response(StatusCode::OK, "ready\n")
    }
}

async fn metrics(Shared(state): Shared<Arc<State>>) -> Response {
    let policy = state.policy();
    // The digest of a local bundle is hashed once per loaded policy: off the workers.
    let shared = Arc::clone(&state);
    let text = tokio::task::spawn_blocking(move || {
        let digest = shared.metrics.bundle.digest(&policy);
        shared
            .metrics
            .render_with_digest(policy.revision(), &digest)
    })
    .await
    .unwrap_or_else(|_| state.metrics.render(state.policy().revision()));
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// `GET /v1/status`: the bundle and entities serving, where from, and the last fetch.
async fn status(Shared(state): Shared<Arc<State>>) -> Response {
    let policy = state.policy();
    let shared = Arc::clone(&state);
    match tokio::task::spawn_blocking(move || shared.metrics.bundle.to_json(&policy)).await {
        Ok(body) => json_response(StatusCode::OK, body.to_string()),
        Err(_) => error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    }
}

async fn not_found(uri: Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        &format!("no endpoint at `{}`", uri.path()),
    )
}

/// Why a body could not be read, answered as `{"error": …}` with its status.
struct BodyError {
    status: StatusCode,
    message: String,
}

impl IntoResponse for BodyError {
    fn into_response(self) -> Response {
        error_response(self.status, &self.message)
    }
}

/// Reads a JSON body: 413 above the size limit, 400 for anything that is not JSON or
/// repeats a key in an object (read strictly, as the engine reads request JSON).
fn read_json(
    state: &State,
    door: Door,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json, BodyError> {
    read_body(body).inspect_err(|_| state.metrics.bad_request(door))
}

/// [`read_json`] without counting.
fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Json, BodyError> {
    let bytes = body.map_err(|rejection| {
        let status = rejection.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("request body larger than {MAX_BODY_BYTES} bytes")
        } else {
            rejection.body_text().to_lowercase()
        };
        BodyError { status, message }
    })?;
    rampart_engine::strict_json::from_slice(&bytes).map_err(|e| BodyError {
        status: StatusCode::BAD_REQUEST,
        message: format!("invalid JSON: {e}"),
    })
}

/// A JSON response.
pub fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `{"error": MESSAGE}` with a status.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    json_response(status, json!({ "error": message }).to_string())
}

fn text_response(status: StatusCode, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Sets the `x-rampart-decision-id` header.
pub fn set_decision_id(response: &mut Response, id: &str) {
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert(DECISION_ID_HEADER, value);
    }
}
