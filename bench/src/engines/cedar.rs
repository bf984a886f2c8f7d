//! The cedar-policy adapter: parse the policies and the entities (no schema, as most
//! applications call Cedar), build a `Request` per request, decide with
//! `Authorizer::is_authorized`.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Instant;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityId, EntityTypeName, EntityUid, PolicyId,
    PolicySet, Request,
};

use super::cedar_sliced::{deciding_rules, rule_ids};
use super::{wrap, Answer, Decider, EngineKind, LoadTimes};
use crate::error::BenchError;
use crate::gen::{cedar::context_json, model::Uid, RequestSpec, Workload};

/// Cedar with a workload loaded.
pub struct CedarDecider {
    policies: PolicySet,
    entities: Entities,
    authorizer: Authorizer,
    requests: Vec<Request>,
    /// Rule ids by policy id, for the agreement check.
    ids: HashMap<PolicyId, String>,
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
