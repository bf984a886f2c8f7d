//! The cedar-policy adapter: parse the policies and the entities (no schema, as most
//! applications call Cedar), build a `Request` per request, decide with
//! `Authorizer::is_authorized`. End to end, the request's JSON text ([`request_text`]:
//! entity uids in Cedar's JSON form, context in Cedar's context JSON) is read with
//! [`parse_request`] (`EntityUid::from_json`, `Context::from_json_value`, `Request::new`)
//! and decided the same way.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Instant;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityId, EntityTypeName, EntityUid, PolicyId,
    PolicySet, Request,
};

use super::cedar_sliced::{deciding_rules, rule_ids};
use serde_json::{json, Value as Json};

use super::{wrap, Answer, Decider, EngineKind, LoadTimes};
use crate::error::BenchError;
use crate::gen::{cedar::context_json, model::Uid, RequestSpec, Workload};

/// A request as JSON text in Cedar's forms: `principal`, `action` and `resource` as entity
/// uid JSON (`{"type": …, "id": …}`), `context` as Cedar context JSON.
pub fn request_text(spec: &RequestSpec) -> String {
    let uid = |uid: &Uid| json!({"type": uid.ty, "id": uid.id});
    json!({
        "principal": uid(&spec.principal),
        "action": {"type": "Action", "id": spec.action},
        "resource": uid(&spec.resource),
        "context": context_json(spec),
    })
    .to_string()
}

/// Reads a [`request_text`] into a Cedar `Request` (no schema), as a host receiving it
/// would: one JSON parse, then Cedar's own readers of each part.
pub fn parse_request(text: &str) -> Result<Request, String> {
    let mut value: Json = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut take = |field: &str| {
        value
            .get_mut(field)
            .map(Json::take)
            .ok_or_else(|| format!("the request has no `{field}`"))
    };
    let read_uid = |json: Json| EntityUid::from_json(json).map_err(|e| e.to_string());
    let principal = read_uid(take("principal")?)?;
    let action = read_uid(take("action")?)?;
    let resource = read_uid(take("resource")?)?;
    let context = Context::from_json_value(take("context")?, None).map_err(|e| e.to_string())?;
    Request::new(principal, action, resource, context, None).map_err(|e| e.to_string())
}

/// Cedar with a workload loaded.
pub struct CedarDecider {
    policies: PolicySet,
    entities: Entities,
    authorizer: Authorizer,
    requests: Vec<Request>,
    /// Rule ids by policy id, for the agreement check.
    ids: HashMap<PolicyId, String>,
    /// The requests as JSON text, for the end-to-end mode.
    texts: Vec<String>,
    times: LoadTimes,
}

impl CedarDecider {
    /// Parses the policies (timed as compile) and the entities (timed as load), and builds
    /// the requests.
    pub fn load(workload: &Workload) -> Result<Self, BenchError> {
        let started = Instant::now();
        let policies = PolicySet::from_str(&workload.cedar_policies)
            .map_err(|e| BenchError::new(format!("cedar: cannot parse the policies: {e}")))?;
        let compiled = started.elapsed();
        let loading = Instant::now();
        let entities = Entities::from_json_str(&workload.entities_json, None)
            .map_err(|e| BenchError::new(format!("cedar: cannot load the entities: {e}")))?;
        let times = LoadTimes {
            compile: compiled,
            load: loading.elapsed(),
        };
        let requests = workload
            .requests
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                request(spec)
                    .map_err(|e| BenchError::new(format!("cedar: cannot build request {i}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CedarDecider {
            ids: rule_ids(&policies),
            policies,
            entities,
            authorizer: Authorizer::new(),
            requests,
            texts: workload.requests.iter().map(request_text).collect(),
            times,
        })
    }

    /// Decides one prepared request (used by the criterion benches too).
    pub fn is_allowed(&self, request: &Request) -> bool {
        self.authorizer
            .is_authorized(request, &self.policies, &self.entities)
            .decision()
            == Decision::Allow
    }

    /// The prepared requests.
    pub fn requests(&self) -> &[Request] {
        &self.requests
    }
}

fn uid(uid: &Uid) -> Result<EntityUid, String> {
    let ty = EntityTypeName::from_str(&uid.ty).map_err(|e| e.to_string())?;
    Ok(EntityUid::from_type_name_and_id(ty, EntityId::new(&uid.id)))
}

fn request(spec: &RequestSpec) -> Result<Request, String> {
    let action = uid(&Uid::new("Action", spec.action.clone()))?;
    let context = Context::from_json_value(context_json(spec), None).map_err(|e| e.to_string())?;
    Request::new(
        uid(&spec.principal)?,
        action,
        uid(&spec.resource)?,
        context,
        None,
    )
    .map_err(|e| e.to_string())
}

impl Decider for CedarDecider {
    fn kind(&self) -> EngineKind {
        EngineKind::Cedar
    }

    fn len(&self) -> usize {
        self.requests.len()
    }

    fn decide(&mut self, index: usize) -> bool {
        match self.requests.get(wrap(index, self.requests.len())) {
            Some(request) => self.is_allowed(request),
            None => false,
        }
    }

    fn decide_e2e(&mut self, index: usize) -> bool {
        let Some(text) = self.texts.get(wrap(index, self.texts.len())) else {
            return false;
        };
        match parse_request(text) {
            Ok(request) => self.is_allowed(&request),
            Err(_) => false,
        }
    }

    fn answer(&mut self, index: usize) -> Answer {
        let Some(request) = self.requests.get(wrap(index, self.requests.len())) else {
            return Answer {
                allow: false,
                errors: vec!["no such request".into()],
                rules: None,
            };
        };
        let response = self
            .authorizer
            .is_authorized(request, &self.policies, &self.entities);
        Answer {
            allow: response.decision() == Decision::Allow,
            errors: response
                .diagnostics()
                .errors()
                .map(ToString::to_string)
                .collect(),
            rules: Some(deciding_rules(&response, &self.ids)),
        }
    }

    fn load_times(&self) -> LoadTimes {
        self.times
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RequestSpec {
        RequestSpec {
            principal: Uid::new("User", "u1"),
            action: "api0:op1".into(),
            resource: Uid::new("Res0", "r1"),
            scopes: vec!["api0:*".into()],
            mfa: true,
            mtls: false,
            ip: "10.1.2.3".into(),
            tls_minor: 3,
        }
    }

    #[test]
    fn the_request_text_reads_back_to_the_prepared_request() {
        let parsed = parse_request(&request_text(&spec()));
        assert_eq!(
            parsed.map(|r| r.to_string()),
            request(&spec()).map(|r| r.to_string())
        );
    }

    #[test]
    fn a_bad_request_text_is_an_error() {
        assert!(parse_request("{").is_err());
        assert!(
            parse_request("{\"principal\": {\"type\": \"User\", \"id\": \"u\"}}")
                .is_err_and(|e| e.contains("action"))
        );
    }
}
