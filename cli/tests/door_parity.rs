//! Door parity (issue 11): the whole conformance corpus (`tests/conformance/`) decided through
//! every door, and the same decision required from each.
//!
//! Doors: the library (`Engine::request_from_value` + `decide`), `rampart eval`, the sidecar's
//! `POST /v1/decide` and `POST /v1/data` (OPA), and, for raw-HTTP cases a gateway can carry
//! (no stated `context`, `principal` or `package`: a gateway only has the request), Envoy's
//! ext_authz over gRPC, forward-auth in Envoy's HTTP mode, and the proxy-wasm filter's
//! decision flow (run natively over a table of headers, as Envoy presents them). The wasm
//! module's plain ABI runs the same corpus in wasmtime (`wasm/tests/tests/conformance.rs`).
//!
//! HTTP variants: every raw-HTTP case is decided again with its path spelled differently
//! (`//`, `/./`, an escaped unreserved character, a `x/..` detour), which must give the
//! same effect and rules: rules see the canonical path.
//!
//! Compared: the effect, the deciding rules, the obligations, and whether there are errors
//! (error texts may name the door's own request form).

mod serve_support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use envoy_types::pb::envoy::config::core::v3::{HeaderMap, HeaderValue};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest};
use rampart_engine::Engine;
use rampart_proxy_wasm::config::{self, Sources};
use rampart_proxy_wasm::embedded::Embedded;
use rampart_proxy_wasm::facts::RequestSource;
use rampart_proxy_wasm::filter::Filter;
use rampart_proxy_wasm::ids::DecisionIds;
use serde_json::{json, Value};
use serve_support::{repo, Scratch, Sidecar};

/// A decision reduced to what every door reports.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    allow: bool,
    rules: Vec<String>,
    obligations: Value,
    errors: bool,
}

impl Outcome {
    fn of(decision: &Value) -> Outcome {
        let mut rules: Vec<String> = decision["rules"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        rules.sort();
        Outcome {
            allow: decision["decision"] == "allow",
            rules,
            obligations: decision["obligations"].clone(),
            errors: decision["errors"].as_array().is_some_and(|e| !e.is_empty()),
        }
    }

    /// What a gateway's answer shows: the effect and, on a deny, the rules.
    fn gateway_view(&self) -> (bool, Vec<String>) {
        (
            self.allow,
            if self.allow {
                Vec::new()
            } else {
                self.rules.clone()
            },
        )
    }
}

struct Case {
    name: String,
    request: Value,
}

/// A reply's JSON body, or a description of what came instead (a difference to report).
fn reply_json(reply: &serve_support::Reply) -> Value {
    serde_json::from_slice(&reply.body).unwrap_or_else(
        |_| json!({"decision": format!("status {} {}", reply.status, reply.text()), "rules": []}),
    )
}

fn cases(dir: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(dir.join("cases.json")).expect("cases.json");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("cases.json is JSON");
    cases
        .into_iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap_or_default().to_owned(),
            request: c["request"].clone(),
        })
        .collect()
}

/// The case folders of the corpus.
fn corpus() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/conformance"))
        .expect("the corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("cases.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// The request fixes `context.time` when the policy reads `now`; the doors that fill the
/// time themselves agree with the library only then.
fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

struct Library {
    engine: Engine,
    entities: rampart_engine::EntityStore,
    bundle_json: String,
    entities_json: Option<String>,
}

impl Library {
    fn load(dir: &Path) -> Library {
        let set = rampart_lang::PolicySet::load(dir).expect("the policy folder reads");
        let bundle = rampart_lang::compile(&set)
            .bundle
            .expect("the policy compiles");
        let bundle_json = bundle.to_json();
        let engine = Engine::new(bundle).expect("the bundle loads");
        let entities_json = std::fs::read_to_string(dir.join("entities.json")).ok();
        let entities = match &entities_json {
            Some(text) => engine.load_entities(text).expect("the entities load"),
            None => engine.empty_entities(),
        };
        Library {
            engine,
            entities,
            bundle_json,
            entities_json,
        }
    }

    fn decide(&self, request: &Value) -> Outcome {
        let decision = match self.engine.request_from_value(request) {
            Ok(mut parsed) => {
                self.engine.fill_time(&mut parsed, now_ms());
                self.engine.decide(&parsed, &self.entities)
            }
            Err(error) => rampart_engine::Decision::error(error.to_string()),
        };
        Outcome::of(&serde_json::to_value(&decision).expect("a decision is JSON"))
    }
}

/// A raw-HTTP case a gateway can carry: method, target, header pairs.
struct Http {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

fn gateway_request(request: &Value) -> Option<Http> {
    let object = request.as_object()?;
    if object.keys().any(|k| k != "http") {
        return None;
    }
    let http = request["http"].as_object()?;
    if http.contains_key("host") {
        return None;
    }
    let method = http.get("method")?.as_str()?.to_owned();
    let target = http.get("path")?.as_str()?.to_owned();
    let mut headers = Vec::new();
    for (name, value) in http
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        match value {
            Value::String(text) => headers.push((name.clone(), text.clone())),
            Value::Array(items) => {
                for item in items {
                    headers.push((name.clone(), item.as_str()?.to_owned()));
                }
            }
            _ => return None,
        }
    }
    Some(Http {
        method,
        target,
        headers,
    })
}

/// A target and headers an HTTP/1.1 request line and head can carry as they are.
fn fits_a_request_line(http: &Http) -> bool {
    let token =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    http.target.starts_with('/')
        && http
            .target
            .bytes()
            .all(|b| (0x21..0x7f).contains(&b) && b != b'#')
        && token(&http.method)
        && http.headers.len() < 90
        && http.headers.iter().all(|(k, v)| {
            token(k)
                && !k.eq_ignore_ascii_case("host")
                && !k.eq_ignore_ascii_case("content-length")
                && !k.eq_ignore_ascii_case("transfer-encoding")
                && !k.eq_ignore_ascii_case("connection")
                && v.bytes().all(|b| (0x20..0x7f).contains(&b))
                && v.trim() == v
        })
}

/// The same target spelled otherwise: every variant has the same canonical form.
fn variants(target: &str) -> Vec<String> {
    let (path, query) = match target.find('?') {
        Some(at) => target.split_at(at),
        None => (target, ""),
    };
    if !path.starts_with('/') || path.contains(['#', ';', '\\', ' ']) || path.contains("..") {
        return Vec::new();
    }
    let mut out = vec![
        format!("/{path}{query}"),
        format!("/.{path}{query}"),
        format!("/parity/..{path}{query}"),
    ];
    // The first letter of the path, percent-encoded (in a path with no escapes yet).
    let letter = path.char_indices().find(|(_, c)| c.is_ascii_alphabetic());
    if let (false, Some((at, c))) = (path.contains('%'), letter) {
        out.push(format!(
            "{}%{:02X}{}{query}",
            &path[..at],
            u32::from(c),
            &path[at + 1..]
        ));
    }
    out
}

/// The proxy-wasm filter's view of a request: headers as Envoy presents them.
struct EnvoyHeaders(Vec<(String, Vec<u8>)>);

impl RequestSource for EnvoyHeaders {
    fn request_headers(&self) -> Vec<(String, Vec<u8>)> {
        self.0.clone()
    }

    fn property(&self, _path: &[&str]) -> Option<Vec<u8>> {
        None
    }
}

fn proxy_wasm_filter(library: &Library) -> Filter {
    let mut plugin = json!({
        "bundle": serde_json::from_str::<Value>(&library.bundle_json).expect("bundle JSON"),
        "rate_limits": "not_enforced",
    });
    if let Some(entities) = &library.entities_json {
        plugin["entities"] = serde_json::from_str(entities).expect("entity JSON");
    }
    let plugin = plugin.to_string();
    let policy = config::load(&Sources {
        plugin: Some(plugin.as_bytes()),
        vm: None,
        embedded: Ok(Embedded::default()),
    });
    Filter::new(policy, DecisionIds::new(1))
}

/// The CheckRequest Envoy sends with `encode_raw_headers: true`: every header field in
/// `header_map`, repeated names as they came.
fn ext_authz_request(http: &Http) -> CheckRequest {
    let mut fields = vec![
        (":method".to_owned(), http.method.clone()),
        (":path".to_owned(), http.target.clone()),
    ];
    fields.extend(
        http.headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone())),
    );
    let header_map = HeaderMap {
        headers: fields
            .into_iter()
            .map(|(key, value)| HeaderValue {
                key,
                raw_value: value.into_bytes(),
                ..HeaderValue::default()
            })
            .collect(),
    };
    let (path, query) = match http.target.find('?') {
        Some(at) => (
            http.target[..at].to_owned(),
            http.target[at + 1..].to_owned(),
        ),
        None => (http.target.clone(), String::new()),
    };
    CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(Request {
                time: None,
                http: Some(HttpRequest {
                    method: http.method.clone(),
                    path,
                    query,
                    header_map: Some(header_map),
                    ..HttpRequest::default()
                }),
            }),
            ..AttributeContext::default()
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_door_decides_the_corpus_alike() {
    let scratch = Scratch::new("door-parity");
    let mut failures: Vec<String> = Vec::new();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for dir in corpus() {
        let folder = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let library = Library::load(&dir);
        // A policy that reads `context.request.raw_path` may tell spellings apart.
        let reads_raw_path = library.bundle_json.contains("raw_path")
            && std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok())
                .any(|e| {
                    std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("request.raw_path"))
                });
        let filter = proxy_wasm_filter(&library);
        let sidecar = Sidecar::start(&dir, &["--forward-auth", "envoy"]);
        let mut grpc = AuthorizationClient::connect(format!("http://{}", sidecar.grpc))
            .await
            .expect("connect to the gRPC listener");
        let mut differ = |door: &str, case: &str, want: String, got: String| {
            if want != got {
                failures.push(format!(
                    "{folder} / {case} / {door}:\n  library: {want}\n  {door}: {got}"
                ));
            }
        };
        for (index, case) in cases(&dir).iter().enumerate() {
            let want = library.decide(&case.request);
            *counts.entry("library").or_default() += 1;

            // rampart eval
            let file = scratch.0.join(format!("{folder}-{index}.json"));
            std::fs::write(&file, case.request.to_string()).expect("write the request");
            let output = Command::new(env!("CARGO_BIN_EXE_rampart"))
                .arg("eval")
                .arg(&dir)
                .arg("--request")
                .arg(&file)
                .output()
                .expect("run rampart eval");
            let eval: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
            if eval.is_null() {
                // A request eval cannot read at all is a usage error (exit 2), not a decision.
                differ(
                    "eval",
                    &case.name,
                    format!("{want:?}"),
                    format!(
                        "exit {:?}: {}",
                        output.status.code(),
                        String::from_utf8_lossy(&output.stderr)
                    ),
                );
            } else {
                differ(
                    "eval",
                    &case.name,
                    format!("{want:?}"),
                    format!("{:?}", Outcome::of(&eval)),
                );
            }
            *counts.entry("eval").or_default() += 1;

            // POST /v1/decide
            let body = case.request.to_string();
            let reply = sidecar.http(
                "POST",
                "/v1/decide",
                &[("content-type", "application/json")],
                body.as_bytes(),
            );
            differ(
                "/v1/decide",
                &case.name,
                format!("{want:?}"),
                format!("{:?}", Outcome::of(&reply_json(&reply))),
            );
            *counts.entry("/v1/decide").or_default() += 1;

            // POST /v1/data (OPA): effect, rules and obligations.
            let input = json!({ "input": case.request }).to_string();
            let reply = sidecar.http(
                "POST",
                "/v1/data",
                &[("content-type", "application/json")],
                input.as_bytes(),
            );
            let answer = reply_json(&reply);
            let result = &answer["result"];
            let opa = (
                result["allow"].as_bool().unwrap_or(false),
                Outcome::of(&json!({"rules": result["rules"]})).rules,
                result["obligations"].clone(),
            );
            differ(
                "/v1/data",
                &case.name,
                format!(
                    "{:?}",
                    (want.allow, want.rules.clone(), want.obligations.clone())
                ),
                format!("{opa:?}"),
            );
            *counts.entry("/v1/data").or_default() += 1;

            let Some(http) = gateway_request(&case.request) else {
                continue;
            };
            let mut targets = vec![http.target.clone()];
            targets.extend(variants(&http.target));
            for target in targets {
                let http = Http {
                    method: http.method.clone(),
                    target,
                    headers: http.headers.clone(),
                };
                let label = format!("{} ({} {})", case.name, http.method, http.target);
                // A variant must decide as the case itself, through the library too.
                let variant_request = {
                    let mut r = case.request.clone();
                    r["http"]["path"] = json!(http.target);
                    r
                };
                let expected = library.decide(&variant_request);
                if http.target != case.request["http"]["path"] && !reads_raw_path {
                    differ(
                        "library (path variant)",
                        &label,
                        format!("{:?}", (want.allow, &want.rules)),
                        format!("{:?}", (expected.allow, &expected.rules)),
                    );
                    *counts.entry("path variants").or_default() += 1;
                }

                // Envoy ext_authz (gRPC)
                let response = grpc
                    .check(ext_authz_request(&http))
                    .await
                    .expect("Check answers")
                    .into_inner();
                let allowed = response.status.as_ref().is_some_and(|s| s.code == 0);
                differ(
                    "ext_authz",
                    &label,
                    format!("{}", expected.allow),
                    format!("{allowed}"),
                );
                *counts.entry("ext_authz").or_default() += 1;

                // proxy-wasm filter (native)
                let mut headers: Vec<(String, Vec<u8>)> = vec![
                    (":method".into(), http.method.clone().into_bytes()),
                    (":path".into(), http.target.clone().into_bytes()),
                ];
                headers.extend(
                    http.headers
                        .iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone().into_bytes())),
                );
                let decided = filter.decide(&EnvoyHeaders(headers), now_ms());
                let filtered = Outcome::of(&serde_json::to_value(&decided.decision).expect("JSON"));
                differ(
                    "proxy-wasm",
                    &label,
                    format!("{:?}", expected.gateway_view()),
                    format!("{:?}", filtered.gateway_view()),
                );
                *counts.entry("proxy-wasm").or_default() += 1;

                // Forward-auth, Envoy's HTTP mode: the target after /v1/authz.
                if fits_a_request_line(&http) {
                    let pairs: Vec<(&str, &str)> = http
                        .headers
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    let reply = sidecar.http(
                        &http.method,
                        &format!("/v1/authz{}", http.target),
                        &pairs,
                        b"",
                    );
                    let allowed = reply.status == 200;
                    let rules = if allowed {
                        Vec::new()
                    } else {
                        Outcome::of(&reply_json(&reply)).rules
                    };
                    differ(
                        "forward-auth",
                        &label,
                        format!("{:?}", expected.gateway_view()),
                        format!("{:?}", (allowed, rules)),
                    );
                    *counts.entry("forward-auth").or_default() += 1;
                }
            }
        }
    }
    eprintln!("door parity: decisions per door {counts:?}");
    assert!(
        counts.get("ext_authz").copied().unwrap_or(0) >= 50,
        "{counts:?}"
    );
    assert!(
        failures.is_empty(),
        "{} doors disagree with the library:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
