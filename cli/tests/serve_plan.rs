//! `rampart serve` query plans: `POST /v1/plan` and `rampart.v1.Decisions/Plan` on a real
//! sidecar, with a real HTTP/1.1 client and a real tonic client: the plan of
//! `rampart plan`, the same plan through both doors, refusals (400, 422, 413 and their gRPC
//! codes), attacks (a plan request naming a resource or carrying raw HTTP), API keys as at
//! `/v1/decide`, and `rampart_plans_total`.

mod serve_support;

use std::io::Write as _;
use std::process::{Command, Stdio};

use rampart_sidecar::proto::rampart::v1::decisions_client::DecisionsClient;
use rampart_sidecar::proto::rampart::v1::{Entity, PlanDecision, PlanRequest, PlanResponse};
use serde_json::{json, Value};
use serve_support::{payments, Reply, Scratch, Sidecar};
use tonic::transport::Channel;
use tonic::Code;

/// Alice, with the `payments:read` scope over TLS 1.3 and mTLS, reading accounts.
fn alice_reads() -> Value {
    json!({
        "principal": {"type": "User", "id": "alice"},
        "action": "payments:read",
        "resource": {"type": "Account"},
        "context": {"auth": {"scopes": ["payments:read"]}, "tls": {"version": "1.3", "mtls": true}},
    })
}

fn plan(sidecar: &Sidecar, body: &Value, headers: &[(&str, &str)]) -> Reply {
    post(sidecar, "/v1/plan", body.to_string().as_bytes(), headers)
}

fn post(sidecar: &Sidecar, target: &str, body: &[u8], headers: &[(&str, &str)]) -> Reply {
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    sidecar.http("POST", target, &all, body)
}

/// `rampart plan DIR --request FILE`: its plan JSON.
fn cli_plan(dir: &std::path::Path, request: &Value) -> Value {
    let scratch = Scratch::new("plan-request");
    let file = scratch.0.join("request.json");
    std::fs::write(&file, request.to_string()).expect("write the request");
    let output = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .arg("plan")
        .arg(dir)
        .arg("--request")
        .arg(&file)
        .output()
        .expect("run rampart plan");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "rampart plan printed no plan ({e}): {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

async fn client(sidecar: &Sidecar) -> DecisionsClient<Channel> {
    let channel = Channel::from_shared(format!("http://{}", sidecar.grpc))
        .expect("a valid URI")
        .connect()
        .await
        .expect("connect to the gRPC listener");
    DecisionsClient::new(channel)
}

/// A JSON object as a protobuf Struct.
fn pb_struct(json: &Value) -> prost_types::Struct {
    let object = json.as_object().expect("an object");
    prost_types::Struct {
        fields: object
            .iter()
            .map(|(key, value)| (key.clone(), pb_value(value)))
            .collect(),
    }
}

fn pb_value(json: &Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match json {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().expect("a number")),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(pb_value).collect(),
        }),
        Value::Object(_) => Kind::StructValue(pb_struct(json)),
    };
    prost_types::Value { kind: Some(kind) }
}

/// The `PlanRequest` of a plan request JSON (principal, action, resource type, context).
fn plan_message(request: &Value) -> PlanRequest {
    PlanRequest {
        principal: request.get("principal").map(|p| Entity {
            r#type: p["type"].as_str().expect("a type").into(),
            id: p["id"].as_str().expect("an id").into(),
        }),
        action: request["action"].as_str().unwrap_or_default().into(),
        resource_type: request["resource"]["type"]
            .as_str()
            .unwrap_or_default()
            .into(),
        context: request.get("context").map(pb_struct),
        ..PlanRequest::default()
    }
}

/// The plan JSON a `PlanResponse` stands for.
fn response_json(response: &PlanResponse) -> Value {
    let decision = match response.decision() {
        PlanDecision::Always => "always",
        PlanDecision::Never => "never",
        PlanDecision::Conditional => "conditional",
        PlanDecision::Unspecified => panic!("an unspecified plan decision"),
    };
    let mut out = json!({
        "decision": decision,
        "resource_type": response.resource_type,
        "principal": response.principal.as_ref().map(|p| json!({"type": p.r#type, "id": p.id})),
        "rules": response.rules,
        "obligations": response.obligations,
        "controls": response.controls,
    });
    if response.decision() == PlanDecision::Conditional {
        out["condition"] =
            serde_json::from_str(&response.condition_json).expect("the condition is JSON");
        out["text"] = json!(response.text);
    }
    out
}

/// True when some `path` of the condition JSON names `attribute`.
fn names_attribute(condition: &Value, attribute: &str) -> bool {
    match condition {
        Value::Object(fields) => fields.iter().any(|(key, value)| {
            (key == "path"
                && value
                    .as_array()
                    .is_some_and(|p| p.contains(&json!(attribute))))
                || names_attribute(value, attribute)
        }),
        Value::Array(items) => items.iter().any(|item| names_attribute(item, attribute)),
        _ => false,
    }
}

fn metric(sidecar: &Sidecar, sample: &str) -> u64 {
    let text = sidecar.http("GET", "/metrics", &[], b"").text();
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{sample}` in the metrics:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_doors_serve_the_plan_of_rampart_plan() {
    let sidecar = Sidecar::start(&payments(), &[]);
    let request = alice_reads();
    let reply = plan(&sidecar, &request, &[]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let revision = reply
        .header("x-rampart-revision")
        .expect("the revision header")
        .to_owned();
    assert!(
        sidecar.ready_line.contains(&revision),
        "{}",
        sidecar.ready_line
    );
    let http = reply.json();
    // What the policy says: pay-read lets alice read the accounts she owns.
    assert_eq!(http["decision"], "conditional", "{http}");
    assert!(names_attribute(&http["condition"], "owner"), "{http}");
    let text = http["text"].as_str().expect("the text");
    assert!(text.contains("resource.owner == User::\"alice\""), "{text}");
    assert!(http["rules"]
        .as_array()
        .is_some_and(|r| r.contains(&json!("pay-read"))));
    assert_eq!(http["resource_type"], "Account");
    assert_eq!(http["principal"], json!({"type": "User", "id": "alice"}));
    assert_eq!(http, cli_plan(&payments(), &request));

    // The same plan over gRPC, with the same condition JSON and revision.
    let mut grpc = client(&sidecar).await;
    let response = grpc
        .plan(plan_message(&request))
        .await
        .expect("a plan")
        .into_inner();
    assert_eq!(response.decision(), PlanDecision::Conditional);
    assert_eq!(response.bundle_revision, revision);
    assert_eq!(response_json(&response), http);

    // Carol is in finance: every account but the unencrypted cardholder data.
    let mut carol = request.clone();
    carol["principal"]["id"] = json!("carol");
    let carol_http = plan(&sidecar, &carol, &[]).json();
    assert_eq!(carol_http, cli_plan(&payments(), &carol));
    assert!(
        !names_attribute(&carol_http["condition"], "owner"),
        "{carol_http}"
    );
    let carol_grpc = grpc
        .plan(plan_message(&carol))
        .await
        .expect("a plan")
        .into_inner();
    assert_eq!(response_json(&carol_grpc), carol_http);

    // Without the scope: never, through both doors.
    let mut no_scope = request.clone();
    no_scope["context"]["auth"]["scopes"] = json!([]);
    let never = plan(&sidecar, &no_scope, &[]).json();
    assert_eq!(never["decision"], "never", "{never}");
    assert!(never.get("condition").is_none(), "{never}");
    let never_grpc = grpc
        .plan(plan_message(&no_scope))
        .await
        .expect("a plan")
        .into_inner();
    assert_eq!(never_grpc.decision(), PlanDecision::Never);
    assert_eq!(never_grpc.condition_json, "");
    assert_eq!(response_json(&never_grpc), never);

    assert_eq!(
        metric(
            &sidecar,
            "rampart_plans_total{door=\"http\",outcome=\"conditional\"}"
        ),
        2
    );
    assert_eq!(
        metric(
            &sidecar,
            "rampart_plans_total{door=\"grpc\",outcome=\"conditional\"}"
        ),
        2
    );
    assert_eq!(
        metric(
            &sidecar,
            "rampart_plans_total{door=\"http\",outcome=\"never\"}"
        ),
        1
    );
    assert_eq!(
        metric(
            &sidecar,
            "rampart_plans_total{door=\"grpc\",outcome=\"never\"}"
        ),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_plan_requests_are_refused_through_both_doors() {
    let sidecar = Sidecar::start(&payments(), &[]);
    let mut grpc = client(&sidecar).await;
    let refused: [(&str, Value); 5] = [
        ("an unknown resource type", {
            let mut r = alice_reads();
            r["resource"] = json!({"type": "Vault"});
            r
        }),
        // Attack: a plan naming one resource must not be read as a plan of all of them.
        ("a resource id", {
            let mut r = alice_reads();
            r["resource"] = json!({"type": "Account", "id": "a1"});
            r
        }),
        // Attack: raw HTTP would let routes pick the resource.
        ("an http part", {
            let mut r = alice_reads();
            r["http"] = json!({"method": "GET", "path": "/v1/accounts/a1", "headers": {}});
            r
        }),
        ("an unknown action", {
            let mut r = alice_reads();
            r["action"] = json!("payments:steal");
            r
        }),
        ("no resource", {
            let mut r = alice_reads();
            r.as_object_mut().expect("an object").remove("resource");
            r
        }),
    ];
    for (what, request) in &refused {
        let reply = plan(&sidecar, request, &[]);
        assert_eq!(reply.status, 400, "{what}: {}", reply.text());
        let error = reply.json();
        assert!(
            error["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {error}"
        );
        assert!(error.get("decision").is_none(), "{what}: {error}");
    }
    for (what, request) in &refused[..] {
        if *what == "a resource id" || *what == "an http part" {
            continue; // the typed request has no field for either
        }
        let status = grpc.plan(plan_message(request)).await.expect_err("no plan");
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
    }
    // A body that is not JSON, one with a repeated key, and one over the limit.
    assert_eq!(post(&sidecar, "/v1/plan", b"{not json", &[]).status, 400);
    let repeated = br#"{"action": "payments:read", "action": "payments:write"}"#;
    assert_eq!(post(&sidecar, "/v1/plan", repeated, &[]).status, 400);
    let mut big = alice_reads();
    big["context"]["padding"] = json!("x".repeat((1 << 20) + 1));
    let reply = plan(&sidecar, &big, &[]);
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert!(reply.json()["error"].as_str().is_some());
    // GET is not a plan.
    assert_eq!(sidecar.http("GET", "/v1/plan", &[], b"").status, 405);
    assert_eq!(
        metric(
            &sidecar,
            "rampart_plans_total{door=\"http\",outcome=\"error\"}"
        ),
        8
    );
    assert_eq!(
        metric(
            &sidecar,
            "rampart_plans_total{door=\"grpc\",outcome=\"error\"}"
        ),
        3
    );
}

/// A policy folder with API keys, a mapping from them to the principal, and a rule no plan
/// can express (`resource.owner.department`).
const DOCS_POLICY: &str = r#"package docs

schema {
  entity Service { department: String }
  entity Doc { owner: Service }
  action "docs:read", "docs:audit" on Doc for Service
}

route GET "/docs/{id}" => "docs:read" on Doc::{id}

principal Service::{context.auth.subject}
  when context.auth.method == api_key and context.auth has subject

@id("own-docs")
allow "docs:read" on Doc for Service
  when context.auth.scopes has_scope "docs:read" and resource.owner == principal

@id("audit-by-department")
allow "docs:audit" on Doc for Service
  when resource.owner.department == "audit"
"#;

const DOCS_ENTITIES: &str = r#"[
  {"uid": {"type": "Service", "id": "billing"}, "attrs": {"department": "finance"}, "parents": []},
  {"uid": {"type": "Doc", "id": "d1"}, "attrs": {"owner": {"__entity": {"type": "Service", "id": "billing"}}}, "parents": []}
]"#;

const KEY: &str = "rk_plan_5e1d7c9a3b2f4e6d8a0c";

fn sha256_of(key: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["apikey", "hash"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run rampart apikey hash");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(key.as_bytes())
        .expect("write the key");
    let output = child.wait_with_output().expect("rampart apikey hash");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_and_unplannable_policies_as_at_decide() {
    let scratch = Scratch::new("plan-docs");
    let policy = scratch.0.join("policy");
    std::fs::create_dir_all(&policy).expect("policy folder");
    std::fs::write(policy.join("docs.rampart"), DOCS_POLICY).expect("write the policy");
    std::fs::write(policy.join("entities.json"), DOCS_ENTITIES).expect("write the entities");
    let keys = scratch.0.join("api-keys.json");
    let record = json!({"keys": [{"id": "billing-1", "sha256": sha256_of(KEY),
                                  "subject": "billing", "scopes": ["docs:read"]}]});
    std::fs::write(&keys, record.to_string()).expect("write the keys");
    let keys = keys.display().to_string();
    let sidecar = Sidecar::start(&policy, &["--api-keys", &keys, "--rate-limit-keys", "0"]);
    let decide = |key: Option<&str>| -> Value {
        let headers = key.map_or(json!({}), |key| json!({"x-api-key": key}));
        let body = json!({"http": {"method": "GET", "path": "/docs/d1", "headers": headers}});
        post(&sidecar, "/v1/decide", body.to_string().as_bytes(), &[]).json()
    };
    let read_plan = json!({"action": "docs:read", "resource": {"type": "Doc"}});

    // With the key: /v1/decide allows d1; the plan names the mapped principal and its docs.
    assert_eq!(decide(Some(KEY))["decision"], "allow");
    let reply = plan(&sidecar, &read_plan, &[("x-api-key", KEY)]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let keyed = reply.json();
    assert_eq!(keyed["decision"], "conditional", "{keyed}");
    assert_eq!(
        keyed["principal"],
        json!({"type": "Service", "id": "billing"})
    );
    assert!(names_attribute(&keyed["condition"], "owner"), "{keyed}");
    // The same through gRPC metadata.
    let mut grpc = client(&sidecar).await;
    let mut call = tonic::Request::new(plan_message(&read_plan));
    call.metadata_mut()
        .insert("x-api-key", KEY.parse().expect("ASCII"));
    let response = grpc.plan(call).await.expect("a plan").into_inner();
    assert_eq!(response_json(&response), keyed);

    // Without a key, or with a wrong one: /v1/decide denies, and the plan allows nothing.
    for key in [None, Some("rk_wrong_0000000000000000")] {
        assert_eq!(decide(key)["decision"], "deny", "{key:?}");
        let headers: Vec<(&str, &str)> = key.map(|k| ("x-api-key", k)).into_iter().collect();
        let reply = plan(&sidecar, &read_plan, &headers);
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(
            reply.json()["decision"],
            "never",
            "{key:?}: {}",
            reply.text()
        );
    }
    // A request stating `context.auth` keeps it, key or not, as at /v1/decide.
    let stated = json!({"action": "docs:read", "resource": {"type": "Doc"},
        "context": {"auth": {"method": "api_key", "subject": "other", "scopes": ["docs:read"]}}});
    let stated_plan = plan(&sidecar, &stated, &[("x-api-key", KEY)]).json();
    assert_eq!(
        stated_plan["principal"],
        json!({"type": "Service", "id": "other"})
    );

    // A rule reading an attribute of the resource's owner cannot be planned: 422 naming it.
    let audit = json!({"principal": {"type": "Service", "id": "billing"},
                       "action": "docs:audit", "resource": {"type": "Doc"}});
    let reply = plan(&sidecar, &audit, &[]);
    assert_eq!(reply.status, 422, "{}", reply.text());
    let refusal = reply.json();
    assert_eq!(refusal["rule"], "audit-by-department", "{refusal}");
    assert!(
        refusal["construct"].as_str().is_some_and(|c| !c.is_empty()),
        "{refusal}"
    );
    assert!(refusal["error"]
        .as_str()
        .is_some_and(|e| e.contains("audit-by-department")));
    assert!(refusal.get("decision").is_none(), "{refusal}");
    let status = grpc.plan(plan_message(&audit)).await.expect_err("no plan");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().contains("audit-by-department"),
        "{status:?}"
    );
    assert!(
        status
            .message()
            .contains(refusal["construct"].as_str().unwrap_or_default()),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_message_of_too_many_fields_is_refused_before_it_is_decoded() {
    let sidecar = Sidecar::start(&payments(), &[]);
    let mut grpc = client(&sidecar).await;
    let mut request = plan_message(&alice_reads());
    let empty = prost_types::Value { kind: None };
    let list = prost_types::Value {
        kind: Some(prost_types::value::Kind::ListValue(
            prost_types::ListValue {
                values: vec![empty; 70_000],
            },
        )),
    };
    request
        .context
        .get_or_insert_with(prost_types::Struct::default)
        .fields
        .insert("padding".into(), list);
    let status = grpc.plan(request).await.expect_err("no plan");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("`Plan` message"), "{status:?}");
    // The listener keeps serving.
    let response = grpc
        .plan(plan_message(&alice_reads()))
        .await
        .expect("a plan")
        .into_inner();
    assert_eq!(response.decision(), PlanDecision::Conditional);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_condition_whose_plan_would_explode_is_refused_through_both_doors() {
    // ((((a and b) or c) and b) or c) …: about 2^25 nodes, refused at 20,000.
    let mut condition = String::from("resource.level > 1");
    for status in ["draft", "open", "closed"].iter().cycle().take(25) {
        condition =
            format!("(({condition} and resource.public) or resource.status == \"{status}\")");
    }
    let policy_text = format!(
        "package deep\n\nschema {{\n  entity User\n  entity Doc {{ level: Int, public: Bool, \
         status: String }}\n  action \"read\" on Doc for User\n}}\n\n@id(\"deep\")\n\
         allow \"read\" on Doc for User when {condition}\n"
    );
    let scratch = Scratch::new("plan-deep");
    std::fs::write(scratch.0.join("deep.rampart"), policy_text).expect("write the policy");
    let sidecar = Sidecar::start(&scratch.0, &[]);
    let request = json!({"principal": {"type": "User", "id": "u"}, "action": "read",
                         "resource": {"type": "Doc"}});
    let started = std::time::Instant::now();
    let reply = plan(&sidecar, &request, &[]);
    assert_eq!(reply.status, 422, "{}", reply.text());
    let refusal = reply.json();
    assert_eq!(refusal["rule"], "deep", "{refusal}");
    assert!(
        refusal["construct"]
            .as_str()
            .is_some_and(|c| c.contains("20,000 nodes")),
        "{refusal}"
    );
    let status = client(&sidecar)
        .await
        .plan(plan_message(&request))
        .await
        .expect_err("no plan");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("20,000 nodes"), "{status:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}
