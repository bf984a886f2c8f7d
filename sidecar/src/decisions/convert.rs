//! `rampart.v1` messages ⇄ the request and decision JSON of the engine.
//!
//! The request goes to JSON field by field (empty strings and unset messages are absent
//! fields); the open `context` goes from `google.protobuf.Struct` to a JSON object, whole
//! numbers as integers (protobuf has only doubles, the engine's `Long` needs integers).
//! The decision comes back typed, obligations as a `oneof`.

use prost_types::value::Kind;
use prost_types::{Struct, Value as PbValue};
use rampart_engine::{Decision, DecisionError, Effect, ObligationOut};
use serde_json::{Map, Number, Value as Json};

use crate::proto::rampart::v1 as pb;
use crate::ratelimit::RateLimited;
use pb::obligation::{Header, Kind as ObligationKind, Mask, RateLimit, RemoveHeader};

/// The largest magnitude up to which every whole double is an exact integer (2^53).
const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// Why a request message cannot be turned into request JSON.
#[derive(Debug, thiserror::Error)]
#[error("invalid `{path}`: {problem}")]
pub struct ConvertError {
    path: String,
    problem: String,
}

/// The request JSON of a `DecideRequest`.
pub fn request_json(request: &pb::DecideRequest) -> Result<Json, ConvertError> {
    let mut out = Map::new();
    if let Some(principal) = &request.principal {
        out.insert("principal".into(), entity_json(principal));
    }
    if !request.action.is_empty() {
        out.insert("action".into(), Json::from(request.action.as_str()));
    }
    if let Some(resource) = &request.resource {
        out.insert("resource".into(), entity_json(resource));
    }
    if let Some(http) = &request.http {
        out.insert("http".into(), http_json(http));
    }
    if let Some(context) = &request.context {
        let mut path = String::from("context");
        out.insert("context".into(), struct_json(context, &mut path)?);
    }
    if !request.package.is_empty() {
        out.insert("package".into(), Json::from(request.package.as_str()));
    }
    Ok(Json::Object(out))
}

/// The plan request JSON of a `PlanRequest`: the request JSON with `resource` as
/// `{"type": resource_type}` (absent when `resource_type` is empty, which the engine
/// refuses).
pub fn plan_request_json(request: &pb::PlanRequest) -> Result<Json, ConvertError> {
    let mut out = Map::new();
    if let Some(principal) = &request.principal {
        out.insert("principal".into(), entity_json(principal));
    }
    if !request.action.is_empty() {
        out.insert("action".into(), Json::from(request.action.as_str()));
    }
    if !request.resource_type.is_empty() {
        let mut resource = Map::new();
        resource.insert("type".into(), Json::from(request.resource_type.as_str()));
        out.insert("resource".into(), Json::Object(resource));
    }
    if let Some(context) = &request.context {
        let mut path = String::from("context");
        out.insert("context".into(), struct_json(context, &mut path)?);
    }
    if !request.package.is_empty() {
        out.insert("package".into(), Json::from(request.package.as_str()));
    }
    Ok(Json::Object(out))
}

/// The typed form of the plan JSON (`Plan::to_json`), or `None` when it is not that
/// shape: the caller answers an error, never a plan it could not read.
pub fn plan_message(plan: &Json, revision: &str) -> Option<pb::PlanResponse> {
    let decision = match plan.get("decision")?.as_str()? {
        "always" => pb::PlanDecision::Always,
        "never" => pb::PlanDecision::Never,
        "conditional" => pb::PlanDecision::Conditional,
        _ => return None,
    };
    let strings = |field: &str| -> Option<Vec<String>> {
        plan.get(field)?
            .as_array()?
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect()
    };
    let (condition_json, text) = if decision == pb::PlanDecision::Conditional {
        (
            serde_json::to_string(plan.get("condition")?).ok()?,
            plan.get("text")?.as_str()?.to_owned(),
        )
    } else {
        (String::new(), String::new())
    };
    let principal = match plan.get("principal") {
        None | Some(Json::Null) => None,
        Some(principal) => Some(pb::Entity {
            r#type: principal.get("type")?.as_str()?.to_owned(),
            id: principal.get("id")?.as_str()?.to_owned(),
        }),
    };
    Some(pb::PlanResponse {
        decision: decision as i32,
        condition_json,
        text,
        rules: strings("rules")?,
        obligations: strings("obligations")?,
        controls: strings("controls")?,
        bundle_revision: revision.to_owned(),
        resource_type: plan.get("resource_type")?.as_str()?.to_owned(),
        principal,
    })
}

fn entity_json(entity: &pb::Entity) -> Json {
    let mut out = Map::new();
    out.insert("type".into(), Json::from(entity.r#type.as_str()));
    out.insert("id".into(), Json::from(entity.id.as_str()));
    Json::Object(out)
}

fn http_json(http: &pb::HttpRequest) -> Json {
    let mut out = Map::new();
    out.insert("method".into(), Json::from(http.method.as_str()));
    out.insert("path".into(), Json::from(http.path.as_str()));
    if !http.host.is_empty() {
        out.insert("host".into(), Json::from(http.host.as_str()));
    }
    // Sorted, so that the JSON (and the decision log) does not depend on map order.
    let mut headers: Vec<(&String, &String)> = http.headers.iter().collect();
    headers.sort();
    let headers: Map<String, Json> = headers
        .into_iter()
        .map(|(name, value)| (name.clone(), Json::from(value.as_str())))
        .collect();
    out.insert("headers".into(), Json::Object(headers));
    Json::Object(out)
}

/// A `Struct` as a JSON object; `path` names where it is, for errors. The depth is bounded
/// by the protobuf decoder's recursion limit.
fn struct_json(value: &Struct, path: &mut String) -> Result<Json, ConvertError> {
    let mut fields: Vec<(&String, &PbValue)> = value.fields.iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Map::new();
    for (name, field) in fields {
        let len = path.len();
        path.push('.');
        path.push_str(name);
        let json = value_json(field, path)?;
        path.truncate(len);
        out.insert(name.clone(), json);
    }
    Ok(Json::Object(out))
}

fn value_json(value: &PbValue, path: &mut String) -> Result<Json, ConvertError> {
    Ok(match &value.kind {
        None | Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::BoolValue(b)) => Json::Bool(*b),
        Some(Kind::StringValue(s)) => Json::from(s.as_str()),
        Some(Kind::NumberValue(n)) => number_json(*n, path)?,
        Some(Kind::StructValue(s)) => struct_json(s, path)?,
        Some(Kind::ListValue(list)) => {
            let mut items = Vec::with_capacity(list.values.len());
            for (index, item) in list.values.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                items.push(value_json(item, path)?);
                path.truncate(len);
            }
            Json::Array(items)
        }
    })
}

/// A double as a JSON number: an integer when it is a whole number that a double holds
/// exactly, else a float. NaN and infinities have no JSON form.
fn number_json(n: f64, path: &str) -> Result<Json, ConvertError> {
    if n.fract() == 0.0 && n.abs() <= MAX_EXACT_INTEGER {
        // Exact: a whole number within ±2^53 converts without loss.
        return Ok(Json::from(n as i64));
    }
    Number::from_f64(n)
        .map(Json::Number)
        .ok_or_else(|| ConvertError {
            path: path.to_owned(),
            problem: format!("a number must be finite, found `{n}`"),
        })
}

/// The typed form of a decision.
pub fn decision_message(decision: &Decision) -> pb::Decision {
    let effect = match decision.decision {
        Effect::Allow => pb::Effect::Allow,
        Effect::Deny => pb::Effect::Deny,
    };
    pb::Decision {
        effect: effect as i32,
        rules: decision.rules.clone(),
        reasons: decision.reasons.clone(),
        errors: decision.errors.iter().map(error_message).collect(),
        obligations: decision
            .obligations
            .iter()
            .map(obligation_message)
            .collect(),
        controls: decision.controls.clone(),
    }
}

/// Which rate limit turned an allow into a deny.
pub fn rate_limited_message(limited: &RateLimited) -> pb::RateLimited {
    pb::RateLimited {
        rule: limited.rule.clone(),
        limit: limited.limit,
        per_s: limited.per_s,
        retry_after_s: limited.retry_after_s,
    }
}

fn error_message(error: &DecisionError) -> pb::DecisionError {
    pb::DecisionError {
        rule: error.rule.clone(),
        message: error.message.clone(),
    }
}

fn obligation_message(obligation: &ObligationOut) -> pb::Obligation {
    let header = |name: &String, value: &String| Header {
        name: name.clone(),
        value: value.clone(),
    };
    let (rule, kind) = match obligation {
        ObligationOut::Mask { fields, rule } => (
            rule,
            ObligationKind::Mask(Mask {
                fields: fields.clone(),
            }),
        ),
        ObligationOut::RateLimit {
            limit,
            per_s,
            key,
            rule,
        } => (
            rule,
            ObligationKind::RateLimit(RateLimit {
                limit: *limit,
                per_s: *per_s,
                key: key.clone(),
            }),
        ),
        ObligationOut::RequestHeader { name, value, rule } => {
            (rule, ObligationKind::RequestHeader(header(name, value)))
        }
        ObligationOut::ResponseHeader { name, value, rule } => {
            (rule, ObligationKind::ResponseHeader(header(name, value)))
        }
        ObligationOut::RemoveHeader { name, rule } => (
            rule,
            ObligationKind::RemoveHeader(RemoveHeader { name: name.clone() }),
        ),
    };
    pb::Obligation {
        rule: rule.clone(),
        kind: Some(kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::ListValue;
    use serde_json::json;

    #[test]
    fn a_plan_request_becomes_plan_request_json() {
        let request = pb::PlanRequest {
            principal: Some(pb::Entity {
                r#type: "User".into(),
                id: "alice".into(),
            }),
            action: "payments:read".into(),
            resource_type: "Account".into(),
            context: Some(Struct {
                fields: [("n".to_owned(), number(3.0))].into_iter().collect(),
            }),
            package: String::new(),
        };
        assert_eq!(
            plan_request_json(&request).ok(),
            Some(json!({"principal": {"type": "User", "id": "alice"},
                        "action": "payments:read", "resource": {"type": "Account"},
                        "context": {"n": 3}}))
        );
        // No type: no `resource`, which the engine refuses.
        let untyped = pb::PlanRequest::default();
        assert_eq!(plan_request_json(&untyped).ok(), Some(json!({})));
    }

    #[test]
    fn a_plan_is_typed_only_when_it_is_the_plan_json() {
        let plan = json!({"decision": "conditional", "resource_type": "Account",
            "principal": {"type": "User", "id": "alice"}, "rules": ["r"], "obligations": [],
            "controls": ["c"], "condition": {"op": "==", "path": ["n"],
            "value": 9_007_199_254_740_993_i64}, "text": "resource.n == 9007199254740993"});
        let message = plan_message(&plan, "rev").expect("a plan");
        assert_eq!(message.decision(), pb::PlanDecision::Conditional);
        // Integers past 2^53 stay exact.
        assert_eq!(
            message.condition_json,
            r#"{"op":"==","path":["n"],"value":9007199254740993}"#
        );
        assert_eq!(message.bundle_revision, "rev");
        let never = json!({"decision": "never", "resource_type": "Account", "principal": null,
            "rules": [], "obligations": [], "controls": []});
        let message = plan_message(&never, "rev").expect("a plan");
        assert_eq!(message.decision(), pb::PlanDecision::Never);
        assert_eq!(
            (message.condition_json.as_str(), message.principal),
            ("", None)
        );
        // Anything else is no plan (the door answers INTERNAL), never a guess.
        for broken in [
            json!({"decision": "maybe", "resource_type": "A", "rules": [], "obligations": [],
                   "controls": []}),
            json!({"decision": "conditional", "resource_type": "A", "rules": [],
                   "obligations": [], "controls": [], "text": "t"}),
            json!({"decision": "always", "resource_type": "A", "rules": [1],
                   "obligations": [], "controls": []}),
        ] {
            assert_eq!(plan_message(&broken, "rev"), None, "{broken}");
        }
    }

    fn number(n: f64) -> PbValue {
        PbValue {
            kind: Some(Kind::NumberValue(n)),
        }
    }

    fn object(fields: Vec<(&str, PbValue)>) -> Struct {
        Struct {
            fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }
    }

    #[test]
    fn a_parts_request_becomes_the_request_json() {
        let request = pb::DecideRequest {
            principal: Some(pb::Entity {
                r#type: "User".into(),
                id: "alice".into(),
            }),
            action: "payments:write".into(),
            resource: Some(pb::Entity {
                r#type: "Account".into(),
                id: "a1".into(),
            }),
            context: Some(object(vec![
                (
                    "tls",
                    PbValue {
                        kind: Some(Kind::StructValue(object(vec![
                            (
                                "version",
                                PbValue {
                                    kind: Some(Kind::StringValue("1.3".into())),
                                },
                            ),
                            (
                                "mtls",
                                PbValue {
                                    kind: Some(Kind::BoolValue(true)),
                                },
                            ),
                        ]))),
                    },
                ),
                ("port", number(8443.0)),
                ("ratio", number(0.5)),
                (
                    "scopes",
                    PbValue {
                        kind: Some(Kind::ListValue(ListValue {
                            values: vec![PbValue {
                                kind: Some(Kind::StringValue("a".into())),
                            }],
                        })),
                    },
                ),
                ("none", PbValue { kind: None }),
            ])),
            ..pb::DecideRequest::default()
        };
        let json = request_json(&request).expect("converts");
        assert_eq!(
            json,
            json!({
                "principal": {"type": "User", "id": "alice"},
                "action": "payments:write",
                "resource": {"type": "Account", "id": "a1"},
                "context": {"none": null, "port": 8443, "ratio": 0.5, "scopes": ["a"],
                            "tls": {"mtls": true, "version": "1.3"}}
            })
        );
        assert!(json["context"]["port"].is_i64());
    }

    #[test]
    fn an_http_request_leaves_out_empty_fields() {
        let request = pb::DecideRequest {
            http: Some(pb::HttpRequest {
                method: "GET".into(),
                path: "/docs/a?x=1".into(),
                host: String::new(),
                headers: [
                    ("x-b".to_owned(), "2".to_owned()),
                    ("x-a".into(), "1".into()),
                ]
                .into_iter()
                .collect(),
            }),
            package: "gateway".into(),
            ..pb::DecideRequest::default()
        };
        assert_eq!(
            request_json(&request).expect("converts"),
            json!({"http": {"method": "GET", "path": "/docs/a?x=1",
                            "headers": {"x-a": "1", "x-b": "2"}},
                   "package": "gateway"})
        );
        assert_eq!(
            request_json(&pb::DecideRequest::default()).expect("converts"),
            json!({})
        );
    }

    #[test]
    fn numbers_without_a_json_form_are_named_in_the_error() {
        let request = pb::DecideRequest {
            context: Some(object(vec![(
                "limits",
                PbValue {
                    kind: Some(Kind::ListValue(ListValue {
                        values: vec![number(1.0), number(f64::NAN)],
                    })),
                },
            )])),
            ..pb::DecideRequest::default()
        };
        let error = request_json(&request).expect_err("NaN has no JSON form");
        assert_eq!(
            error.to_string(),
            "invalid `context.limits[1]`: a number must be finite, found `NaN`"
        );
        assert_eq!(
            number_json(1e300, "x").expect("finite"),
            json!(1e300),
            "large whole numbers stay floats"
        );
    }

    #[test]
    fn a_decision_keeps_every_part() {
        let decision = Decision {
            decision: Effect::Allow,
            rules: vec!["pay-write".into()],
            reasons: vec!["owners pay".into()],
            errors: vec![DecisionError {
                rule: None,
                message: "m".into(),
            }],
            obligations: vec![
                ObligationOut::RateLimit {
                    limit: 100,
                    per_s: 60,
                    key: "User::\"alice\"".into(),
                    rule: "rl".into(),
                },
                ObligationOut::RequestHeader {
                    name: "x-user".into(),
                    value: "alice".into(),
                    rule: "hdr".into(),
                },
                ObligationOut::RemoveHeader {
                    name: "authorization".into(),
                    rule: "strip".into(),
                },
            ],
            controls: vec!["pci-dss-4.0/7.2.1".into()],
        };
        let message = decision_message(&decision);
        assert_eq!(message.effect, pb::Effect::Allow as i32);
        assert_eq!(message.rules, vec!["pay-write".to_string()]);
        assert_eq!(message.reasons, vec!["owners pay".to_string()]);
        assert_eq!(message.errors[0].rule, None);
        assert_eq!(message.controls, vec!["pci-dss-4.0/7.2.1".to_string()]);
        assert_eq!(
            message.obligations[0],
            pb::Obligation {
                rule: "rl".into(),
                kind: Some(ObligationKind::RateLimit(RateLimit {
                    limit: 100,
                    per_s: 60,
                    key: "User::\"alice\"".into(),
                })),
            }
        );
        assert_eq!(
            message.obligations[1].kind,
            Some(ObligationKind::RequestHeader(Header {
                name: "x-user".into(),
                value: "alice".into(),
            }))
        );
        assert_eq!(message.obligations[2].rule, "strip");
        let deny = decision_message(&Decision::error("bad"));
        assert_eq!(deny.effect, pb::Effect::Deny as i32);
        assert_eq!(deny.errors[0].message, "bad");
    }
}
