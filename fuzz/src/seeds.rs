//! Seed corpora generated from the repository: what `fuzz/seed.sh` cannot copy as files
//! (bundle JSON compiled from the policy folders, request JSON split out of the
//! conformance `cases.json` files, `CheckRequest` protobufs, signed tokens).
//!
//! A target calls [`write_if_asked`] from its `init`: when `RAMPART_FUZZ_SEEDS` names a
//! folder, the target writes its generated seeds there and exits instead of fuzzing.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier;
use envoy_types::pb::envoy::config::core::v3::{address, Address, SocketAddress};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{
    HttpRequest, Peer, Request as AttrRequest,
};
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use prost::Message;
use rampart_lang::PolicySet;
use serde_json::{json, Value as Json};

use crate::repo_root;

/// The issuer and audience the `jwt` target (and the `check_request` seeds) accept.
pub const ISSUER: &str = "https://idp.test";
pub const AUDIENCE: &str = "payments";

/// When `RAMPART_FUZZ_SEEDS` is set: writes the generated seeds of `target` into that
/// folder and exits.
pub fn write_if_asked(target: &str) {
    let Some(out) = std::env::var_os("RAMPART_FUZZ_SEEDS") else {
        return;
    };
    let out = PathBuf::from(out);
    let seeds = match target {
        "bundle" => bundles(),
        "request_json" | "wasm_abi_input" => requests()
            .into_iter()
            .map(|r| r.to_string().into_bytes())
            .collect(),
        "check_request" => {
            // Requests that state a verified caller carry a token of a fixture key instead.
            let bearer = tokens().into_iter().nth(4);
            requests()
                .iter()
                .filter_map(|r| check_request(r, bearer.as_deref()))
                .map(|c| c.encode_to_vec())
                .collect()
        }
        "jwt" => tokens().into_iter().map(String::into_bytes).collect(),
        _ => Vec::new(),
    };
    if let Err(error) = fs::create_dir_all(&out) {
        panic!("cannot create `{}`: {error}", out.display());
    }
    for (i, seed) in seeds.iter().enumerate() {
        let path = out.join(format!("gen-{i:04}"));
        if let Err(error) = fs::write(&path, seed) {
            panic!("cannot write `{}`: {error}", path.display());
        }
    }
    eprintln!(
        "{target}: {} generated seeds in `{}`",
        seeds.len(),
        out.display()
    );
    std::process::exit(0);
}

/// The policy folders of the repository: every conformance case and the examples.
fn policy_folders() -> Vec<PathBuf> {
    let root = repo_root();
    let mut folders = Vec::new();
    for parent in ["tests/conformance", "examples"] {
        let Ok(entries) = fs::read_dir(root.join(parent)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let has_policy = fs::read_dir(&path)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "rampart"));
            if has_policy {
                folders.push(path);
            }
        }
    }
    folders.sort();
    folders
}

/// Each policy folder compiled to bundle JSON (the ones that compile).
fn bundles() -> Vec<Vec<u8>> {
    policy_folders()
        .iter()
        .filter_map(|dir| {
            let set = PolicySet::load(dir).ok()?;
            let bundle = rampart_lang::compile(&set).bundle?;
            serde_json::to_vec(&bundle).ok()
        })
        .collect()
}

/// Request JSON: the examples' `requests/*.json`, every conformance case's request, and
/// the requests of the examples' `test` blocks.
fn requests() -> Vec<Json> {
    let root = repo_root();
    let mut requests = Vec::new();
    for dir in policy_folders() {
        if let Ok(text) = fs::read_to_string(dir.join("cases.json")) {
            if let Ok(Json::Array(cases)) = serde_json::from_str::<Json>(&text) {
                requests.extend(cases.iter().filter_map(|c| c.get("request").cloned()));
            }
        }
        for file in json_files(&dir.join("requests")) {
            if let Some(request) = read_json(&file) {
                requests.push(request);
            }
        }
        if dir.starts_with(root.join("examples")) {
            if let Ok(set) = PolicySet::load(&dir) {
                let compiled = rampart_lang::compile(&set);
                requests.extend(compiled.tests.into_iter().map(|t| t.request));
            }
        }
    }
    requests
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn read_json(path: &Path) -> Option<Json> {
    serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
}

/// A raw-HTTP request JSON as Envoy would send it in a `CheckRequest`.
fn check_request(request: &Json, bearer: Option<&str>) -> Option<CheckRequest> {
    let http = request.get("http")?;
    let text = |v: Option<&Json>| v.and_then(Json::as_str).unwrap_or_default().to_owned();
    let mut headers: HashMap<String, String> = HashMap::new();
    if let Some(map) = http.get("headers").and_then(Json::as_object) {
        for (name, value) in map {
            let value = match value {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            headers.insert(name.to_ascii_lowercase(), value);
        }
    }
    let context = request.get("context");
    if let (Some(token), Some(_)) = (bearer, context.and_then(|c| c.get("auth"))) {
        headers
            .entry("authorization".to_owned())
            .or_insert_with(|| format!("Bearer {token}"));
    }
    let tls = context.and_then(|c| c.get("tls"));
    let source_ip = context
        .and_then(|c| c.get("source"))
        .and_then(|s| s.get("ip"))
        .and_then(Json::as_str);
    let mut extensions = HashMap::new();
    if let Some(version) = tls.and_then(|t| t.get("version")).and_then(Json::as_str) {
        extensions.insert("tls_version".to_owned(), version.to_owned());
    }
    let source = Peer {
        address: source_ip.map(|ip| Address {
            address: Some(address::Address::SocketAddress(SocketAddress {
                address: ip.to_owned(),
                port_specifier: Some(PortSpecifier::PortValue(44321)),
                ..SocketAddress::default()
            })),
        }),
        principal: text(tls.and_then(|t| t.get("peer"))),
        ..Peer::default()
    };
    Some(CheckRequest {
        attributes: Some(AttributeContext {
            source: Some(source),
            request: Some(AttrRequest {
                http: Some(HttpRequest {
                    method: text(http.get("method")),
                    path: text(http.get("path")),
                    host: text(http.get("host")),
                    headers,
                    ..HttpRequest::default()
                }),
                ..AttrRequest::default()
            }),
            context_extensions: extensions,
            ..AttributeContext::default()
        }),
    })
}

/// The test-only signing keys: `(file, algorithm, kid in jwks.json)`.
const SIGNERS: [(&str, Algorithm, Option<&str>); 4] = [
    (
        "TEST-ONLY-rsa-private.pem",
        Algorithm::RS256,
        Some("test-rsa"),
    ),
    (
        "TEST-ONLY-ec-private.pem",
        Algorithm::ES256,
        Some("test-ec"),
    ),
    (
        "TEST-ONLY-ed25519-private.pem",
        Algorithm::EdDSA,
        Some("test-ed25519"),
    ),
    // In no key set: its tokens must never verify.
    (
        "TEST-ONLY-ed25519-other-private.pem",
        Algorithm::EdDSA,
        None,
    ),
];

/// Tokens signed by the fixture keys (valid until 2100) and by a key of no set, with and
/// without `kid`, and a few unsigned shapes.
fn tokens() -> Vec<String> {
    let dir = repo_root().join("cli/tests/fixtures/jwt");
    let claims = json!({
        "iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "iat": 1_700_000_000,
        "nbf": 1_700_000_000, "exp": 4_102_444_800_i64, "scope": "openid payments:write",
        "amr": ["pwd", "mfa"], "groups": ["a"], "nested": {"level": 1}
    });
    let mut tokens = Vec::new();
    for (file, algorithm, kid) in SIGNERS {
        let Ok(pem) = fs::read(dir.join(file)) else {
            continue;
        };
        let key = match algorithm {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem),
            Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
            _ => EncodingKey::from_ed_pem(&pem),
        };
        let Ok(key) = key else { continue };
        for kid in [kid, None] {
            let mut header = Header::new(algorithm);
            header.kid = kid.map(str::to_owned);
            if let Ok(token) = jsonwebtoken::encode(&header, &claims, &key) {
                tokens.push(token);
            }
        }
    }
    tokens.push("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.".to_owned());
    tokens.push("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln".to_owned());
    tokens
}
