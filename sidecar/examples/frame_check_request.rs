//! Writes a pre-framed Envoy `CheckRequest` for load generators that send a fixed body
//! (h2load `-d`), and reads back what the server answered: the tools of
//! `scripts/sidecar-load.sh`.
//!
//! ```sh
//! frame_check_request write check.grpc         # the request below, gRPC-framed
//! frame_check_request decode response.grpc     # `allow 200` / `deny 403` (exit 1 on junk)
//! frame_check_request decide request.json decide.grpc   # a `rampart.v1` DecideRequest
//! frame_check_request decode-decide response.grpc       # `allow REVISION` / `deny REVISION`
//! ```
//!
//! `decide` frames the request JSON of `POST /v1/decide` (`principal`, `action`, `resource`,
//! `context`, `package`) as a `rampart.v1.Decisions/Decide` request: the reload phase sends
//! it over HTTP/2, where many requests share a connection, as Envoy's checks do.
//!
//! The request is what Envoy 1.40 sends for `GET /docs/handbook?view=full` on an mTLS
//! listener, with the route's `context_extensions` selecting package `gateway` of
//! `cli/tests/fixtures/gateway`: the service `spiffe://corp/docs-editor` reads a document
//! of its own team, so the sidecar allows it (rule `team-read`) with three header
//! obligations (`team-header`, `strip-auth`, `no-store`). A gRPC frame is one byte (0: not compressed),
//! the message length as a big-endian `u32`, and the protobuf message.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

use envoy_types::ext_authz::v3::pb::{CheckRequest, CheckResponse, HttpResponse};
use envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier;
use envoy_types::pb::envoy::config::core::v3::{address, Address, SocketAddress};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{
    HttpRequest, Peer, Request, TlsSession,
};
use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
use envoy_types::pb::google::protobuf::Timestamp;
use prost::Message;
use prost_types::value::Kind;
use prost_types::Struct;
use rampart_sidecar::proto::rampart::v1 as decisions;
use serde_json::Value as Json;

const USAGE: &str = "usage: frame_check_request write FILE | decode FILE | decide JSON FILE | \
                     decode-decide FILE";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [command, file] if command == "write" => write(Path::new(file)),
        [command, file] if command == "decode" => decode(Path::new(file)),
        [command, json, file] if command == "decide" => decide(Path::new(json), Path::new(file)),
        [command, file] if command == "decode-decide" => decode_decide(Path::new(file)),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("frame_check_request: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Writes the framed request to `file`.
fn write(file: &Path) -> Result<(), String> {
    write_framed(file, &check_request().encode_to_vec())
}

/// Writes `message` as one uncompressed gRPC frame to `file`.
fn write_framed(file: &Path, message: &[u8]) -> Result<(), String> {
    let length = u32::try_from(message.len()).map_err(|_| "message too large".to_owned())?;
    let mut frame = Vec::with_capacity(message.len() + 5);
    frame.push(0);
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(message);
    std::fs::write(file, &frame).map_err(|e| format!("cannot write `{}`: {e}", file.display()))?;
    println!("{} bytes ({} of protobuf)", frame.len(), message.len());
    Ok(())
}

/// The message of the one uncompressed gRPC frame in `file`.
fn read_framed(file: &Path) -> Result<Vec<u8>, String> {
    let bytes =
        std::fs::read(file).map_err(|e| format!("cannot read `{}`: {e}", file.display()))?;
    let (head, message) = bytes
        .split_at_checked(5)
        .ok_or_else(|| format!("`{}` is not a gRPC frame", file.display()))?;
    let declared = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
    if head[0] != 0 || usize::try_from(declared).ok() != Some(message.len()) {
        return Err(format!(
            "`{}` is not one uncompressed frame",
            file.display()
        ));
    }
    Ok(message.to_vec())
}

/// Reads one framed `CheckResponse` and prints `allow STATUS` or `deny STATUS`.
fn decode(file: &Path) -> Result<(), String> {
    let message = read_framed(file)?;
    let message = message.as_slice();
    let response =
        CheckResponse::decode(message).map_err(|e| format!("not a CheckResponse: {e}"))?;
    let code = response.status.map(|s| s.code).unwrap_or_default();
    let (effect, status) = match response.http_response {
        Some(HttpResponse::OkResponse(_)) | None if code == 0 => ("allow", 200),
        Some(HttpResponse::DeniedResponse(denied)) => {
            ("deny", denied.status.map(|s| s.code).unwrap_or(403))
        }
        _ => ("deny", 403),
    };
    println!("{effect} {status}");
    Ok(())
}

/// Frames the request JSON in `json` as a `DecideRequest` and writes it to `file`.
fn decide(json: &Path, file: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(json)
        .map_err(|e| format!("cannot read `{}`: {e}", json.display()))?;
    let request: Json =
        serde_json::from_str(&text).map_err(|e| format!("`{}`: {e}", json.display()))?;
    let entity = |key: &str| {
        request.get(key).map(|e| decisions::Entity {
            r#type: text_of(e.get("type")),
            id: text_of(e.get("id")),
        })
    };
    let message = decisions::DecideRequest {
        principal: entity("principal"),
        action: text_of(request.get("action")),
        resource: entity("resource"),
        http: None,
        context: match request.get("context") {
            Some(Json::Object(fields)) => Some(to_struct(fields)),
            _ => None,
        },
        package: text_of(request.get("package")),
    };
    write_framed(file, &message.encode_to_vec())
}

/// Reads one framed `DecideResponse` and prints `allow REVISION` or `deny REVISION`.
fn decode_decide(file: &Path) -> Result<(), String> {
    let message = read_framed(file)?;
    let response = decisions::DecideResponse::decode(message.as_slice())
        .map_err(|e| format!("not a DecideResponse: {e}"))?;
    let allowed = response
        .decision
        .is_some_and(|d| d.effect == decisions::Effect::Allow as i32);
    let effect = if allowed { "allow" } else { "deny" };
    println!("{effect} {}", response.bundle_revision);
    Ok(())
}

fn text_of(value: Option<&Json>) -> String {
    value.and_then(Json::as_str).unwrap_or_default().to_owned()
}

fn to_struct(fields: &serde_json::Map<String, Json>) -> Struct {
    Struct {
        fields: fields
            .iter()
            .map(|(k, v)| (k.clone(), to_value(v)))
            .collect(),
    }
}

fn to_value(value: &Json) -> prost_types::Value {
    let kind = match value {
        Json::Null => Kind::NullValue(0),
        Json::Bool(b) => Kind::BoolValue(*b),
        Json::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Json::String(s) => Kind::StringValue(s.clone()),
        Json::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(to_value).collect(),
        }),
        Json::Object(fields) => Kind::StructValue(to_struct(fields)),
    };
    prost_types::Value { kind: Some(kind) }
}

/// The request Envoy sends for a service reading a document over mTLS.
fn check_request() -> CheckRequest {
    let headers: HashMap<String, String> = [
        (":authority", "docs.internal.example"),
        (":method", "GET"),
        (":path", "/docs/handbook?view=full"),
        (":scheme", "https"),
        ("accept", "application/json"),
        ("accept-encoding", "gzip, deflate, br"),
        ("authorization", "Bearer 6f1d2c3b4a5968778695a4b3c2d1e0f1"),
        ("user-agent", "docs-editor/2.14.1 (+grpc-go/1.66)"),
        ("x-forwarded-proto", "https"),
        ("x-request-id", "0f8d6c2e-3b1a-4e5f-9a7b-1c2d3e4f5a6b"),
        ("x-envoy-expected-rq-timeout-ms", "15000"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let extensions: HashMap<String, String> = [("policy", "gateway"), ("tls_version", "1.3")]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    CheckRequest {
        attributes: Some(AttributeContext {
            source: Some(peer("10.20.30.40", 52_248, "spiffe://corp/docs-editor")),
            destination: Some(peer("10.20.0.1", 10_443, "spiffe://corp/gateway")),
            request: Some(Request {
                time: Some(Timestamp {
                    seconds: 1_795_804_325,
                    nanos: 856_064_000,
                }),
                http: Some(HttpRequest {
                    id: "13486549274609014367".into(),
                    method: "GET".into(),
                    headers,
                    path: "/docs/handbook?view=full".into(),
                    host: "docs.internal.example".into(),
                    scheme: "https".into(),
                    size: 0,
                    protocol: "HTTP/1.1".into(),
                    ..HttpRequest::default()
                }),
            }),
            context_extensions: extensions,
            tls_session: Some(TlsSession {
                sni: "docs.internal.example".into(),
            }),
            ..AttributeContext::default()
        }),
    }
}

fn peer(ip: &str, port: u32, principal: &str) -> Peer {
    Peer {
        address: Some(Address {
            address: Some(address::Address::SocketAddress(SocketAddress {
                address: ip.into(),
                port_specifier: Some(PortSpecifier::PortValue(port)),
                ..SocketAddress::default()
            })),
        }),
        principal: principal.into(),
        ..Peer::default()
    }
}
