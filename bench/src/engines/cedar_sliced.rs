//! Cedar as a host at scale calls it: the policy set sliced by scope at load, so each
//! decision evaluates only the policies whose head can match the request.
//!
//! The slices come from the parsed policies' scope constraints
//! (`Policy::action_constraint`, `principal_constraint`, `resource_constraint`), never from
//! the generator's model, so any Cedar policy text slices the same way:
//!
//! - by action: `action == A` goes to A's slice; `action in [A, B]` to the slice of every
//!   listed action and of every action entity below one of them in the entity store;
//!   policies without an action constraint are global and go to every slice, and alone
//!   form the slice of actions no policy names;
//! - within an action, by the principal's and the resource's entity type where the head
//!   names one (`principal is User`, `principal == User::"u"`, `resource is T`): a
//!   policy whose head names another type cannot apply and is left out. `principal in
//!   Group::"g"` names no type and keeps the policy in every type's slice.
//!
//! Each slice is its own `PolicySet` (identical slices are shared). The slice lookup (a
//! hash of the request's action uid, then of its principal and resource types) happens
//! inside the timed region, on every decision.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Instant;

use cedar_policy::{
    ActionConstraint, Authorizer, Decision, Entities, EntityTypeName, EntityUid, Policy, PolicyId,
    PolicySet, PrincipalConstraint, Request, ResourceConstraint, Response,
};

use super::cedar::{parse_request, request_text};
use super::{wrap, Answer, Decider, EngineKind, LoadTimes};
use crate::error::BenchError;
use crate::gen::Workload;

/// A policy's scope, as far as slicing needs it.
struct Scope {
    principal_type: Option<EntityTypeName>,
    resource_type: Option<EntityTypeName>,
}

/// The slices of one action (or of the actions no policy names), by principal and
/// resource type. Type index 0 stands for every type no policy of the action names.
struct TypeSlices {
    principal_types: HashMap<EntityTypeName, usize>,
    resource_types: HashMap<EntityTypeName, usize>,
    /// `resource_types.len() + 1`.
    columns: usize,
    /// Index into [`Slices::pool`], row-major by (principal type, resource type).
    sets: Vec<usize>,
}

impl TypeSlices {
    /// The pool index of the slice for a request's principal and resource.
    fn lookup(&self, principal: &EntityUid, resource: &EntityUid) -> Option<usize> {
        let p = self
            .principal_types
            .get(principal.type_name())
            .copied()
            .unwrap_or(0);
        let r = self
            .resource_types
            .get(resource.type_name())
            .copied()
            .unwrap_or(0);
        let at = p.checked_mul(self.columns)?.checked_add(r)?;
        self.sets.get(at).copied()
    }
}

/// The whole policy set sliced by action, then by principal and resource type.
pub struct Slices {
    by_action: HashMap<EntityUid, TypeSlices>,
    other_actions: TypeSlices,
    pool: Vec<PolicySet>,
}

impl Slices {
    /// Slices `policies`; `entities` supplies the action hierarchy for `action in [..]`.
    pub fn new(policies: &PolicySet, entities: &Entities) -> Result<Slices, String> {
        let all: Vec<&Policy> = policies.policies().collect();
        let scopes: Vec<Scope> = all.iter().map(|p| scope(p)).collect();
        let actions: Vec<EntityUid> = entities
            .iter()
            .map(cedar_policy::Entity::uid)
            .filter(is_action)
            .collect();
        let mut global = Vec::new();
        let mut per_action: HashMap<EntityUid, Vec<usize>> = HashMap::new();
        for (index, policy) in all.iter().enumerate() {
            match policy.action_constraint() {
                ActionConstraint::Any => global.push(index),
                ActionConstraint::Eq(action) => per_action.entry(action).or_default().push(index),
                ActionConstraint::In(listed) => {
                    let mut targets: Vec<EntityUid> = listed.clone();
                    for action in &actions {
                        if listed.iter().any(|a| entities.is_ancestor_of(a, action)) {
                            targets.push(action.clone());
                        }
                    }
                    targets.sort();
                    targets.dedup();
                    for action in targets {
                        per_action.entry(action).or_default().push(index);
                    }
                }
            }
        }
        let mut builder = Builder {
            all: &all,
            scopes: &scopes,
            pool: Vec::new(),
            seen: HashMap::new(),
        };
        let other_actions = builder.type_slices(&global)?;
        let mut by_action = HashMap::with_capacity(per_action.len());
        for (action, mut members) in per_action {
            members.extend_from_slice(&global);
            members.sort_unstable();
            members.dedup();
            by_action.insert(action, builder.type_slices(&members)?);
        }
        Ok(Slices {
            by_action,
            other_actions,
            pool: builder.pool,
        })
    }

    /// The slice that decides `request`: inside the timed region.
    pub fn slice(&self, request: &Request) -> Option<&PolicySet> {
        let action = request.action()?;
        let slices = self.by_action.get(action).unwrap_or(&self.other_actions);
        let index = slices.lookup(request.principal()?, request.resource()?)?;
        self.pool.get(index)
    }

    /// The number of distinct slices.
    pub fn len(&self) -> usize {
        self.pool.len()
    }

    /// Whether there is no slice at all (never, once built).
    pub fn is_empty(&self) -> bool {
        self.pool.is_empty()
    }

    /// The largest slice's number of policies.
    pub fn largest(&self) -> usize {
        self.pool
            .iter()
            .map(|set| set.policies().count())
            .max()
            .unwrap_or(0)
    }
}

/// Builds the `PolicySet`s, sharing identical ones.
struct Builder<'a> {
    all: &'a [&'a Policy],
    scopes: &'a [Scope],
    pool: Vec<PolicySet>,
    seen: HashMap<Vec<usize>, usize>,
}

impl Builder<'_> {
    fn type_slices(&mut self, members: &[usize]) -> Result<TypeSlices, String> {
        let mut principal_types = HashMap::new();
        let mut resource_types = HashMap::new();
        for scope in members.iter().filter_map(|&i| self.scopes.get(i)) {
            if let Some(ty) = &scope.principal_type {
                let next = principal_types.len() + 1;
                principal_types.entry(ty.clone()).or_insert(next);
            }
            if let Some(ty) = &scope.resource_type {
                let next = resource_types.len() + 1;
                resource_types.entry(ty.clone()).or_insert(next);
            }
        }
        let by_index = |types: &HashMap<EntityTypeName, usize>| {
            let mut named: Vec<Option<EntityTypeName>> = vec![None; types.len() + 1];
            for (ty, &i) in types {
                if let Some(slot) = named.get_mut(i) {
                    *slot = Some(ty.clone());
                }
            }
            named
        };
        let (principals, resources) = (by_index(&principal_types), by_index(&resource_types));
        let mut sets = Vec::with_capacity(principals.len() * resources.len());
        for principal in &principals {
            for resource in &resources {
                let fits = |wanted: &Option<EntityTypeName>, named: &Option<EntityTypeName>| {
                    wanted.is_none() || wanted == named
                };
                let slice: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|&i| {
                        self.scopes.get(i).is_some_and(|s| {
                            fits(&s.principal_type, principal) && fits(&s.resource_type, resource)
                        })
                    })
                    .collect();
                sets.push(self.set_of(slice)?);
            }
        }
        Ok(TypeSlices {
            principal_types,
            resource_types,
            columns: resources.len(),
            sets,
        })
    }

    /// The pool index of the set of these policies, built on first use.
    fn set_of(&mut self, members: Vec<usize>) -> Result<usize, String> {
        if let Some(&index) = self.seen.get(&members) {
            return Ok(index);
        }
        let mut set = PolicySet::new();
        for policy in members.iter().filter_map(|&i| self.all.get(i)) {
            set.add((*policy).clone()).map_err(|e| e.to_string())?;
        }
        let index = self.pool.len();
        self.pool.push(set);
        self.seen.insert(members, index);
        Ok(index)
    }
}

fn scope(policy: &Policy) -> Scope {
    let principal_type = match policy.principal_constraint() {
        PrincipalConstraint::Any | PrincipalConstraint::In(_) => None,
        PrincipalConstraint::Eq(uid) => Some(uid.type_name().clone()),
        PrincipalConstraint::Is(ty) | PrincipalConstraint::IsIn(ty, _) => Some(ty),
    };
    let resource_type = match policy.resource_constraint() {
        ResourceConstraint::Any | ResourceConstraint::In(_) => None,
        ResourceConstraint::Eq(uid) => Some(uid.type_name().clone()),
        ResourceConstraint::Is(ty) | ResourceConstraint::IsIn(ty, _) => Some(ty),
    };
    Scope {
        principal_type,
        resource_type,
    }
}

/// Whether an entity is an action (`Action`, or `NS::Action`).
fn is_action(uid: &EntityUid) -> bool {
    uid.type_name().basename() == "Action"
}

/// The rule ids (`@id` annotations, else the policy ids) of every policy, by policy id.
pub fn rule_ids(policies: &PolicySet) -> HashMap<PolicyId, String> {
    policies
        .policies()
        .map(|p| {
            let id = p
                .annotation("id")
                .map_or_else(|| p.id().to_string(), str::to_string);
            (p.id().clone(), id)
        })
        .collect()
}

/// The deciding rule ids of a Cedar response (sorted): the satisfied permits of an allow,
/// the satisfied forbids of a deny, none for a default deny.
pub fn deciding_rules(response: &Response, ids: &HashMap<PolicyId, String>) -> Vec<String> {
    let mut rules: Vec<String> = response
        .diagnostics()
        .reason()
        .map(|id| ids.get(id).cloned().unwrap_or_else(|| id.to_string()))
        .collect();
    rules.sort();
    rules
}

/// Cedar with a workload loaded and sliced.
pub struct CedarSlicedDecider {
    slices: Slices,
    entities: Entities,
    authorizer: Authorizer,
    requests: Vec<Request>,
    /// Each request's JSON text, for the end-to-end path.
    texts: Vec<String>,
    ids: HashMap<PolicyId, String>,
    times: LoadTimes,
}

impl CedarSlicedDecider {
    /// Parses and slices the policies (timed as compile), parses the entities (timed as
    /// load), and builds the requests.
    pub fn load(workload: &Workload) -> Result<Self, BenchError> {
        let started = Instant::now();
        let policies = PolicySet::from_str(&workload.cedar_policies).map_err(|e| {
            BenchError::new(format!("cedar-sliced: cannot parse the policies: {e}"))
        })?;
        let parsed = started.elapsed();
        let loading = Instant::now();
        let entities = Entities::from_json_str(&workload.entities_json, None)
            .map_err(|e| BenchError::new(format!("cedar-sliced: cannot load the entities: {e}")))?;
        let load = loading.elapsed();
        let slicing = Instant::now();
        let slices = Slices::new(&policies, &entities)
            .map_err(|e| BenchError::new(format!("cedar-sliced: cannot slice: {e}")))?;
        let times = LoadTimes {
            compile: parsed + slicing.elapsed(),
            load,
        };
        let texts: Vec<String> = workload.requests.iter().map(request_text).collect();
        let requests = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                parse_request(text).map_err(|e| {
                    BenchError::new(format!("cedar-sliced: cannot build request {i}: {e}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CedarSlicedDecider {
            ids: rule_ids(&policies),
            slices,
            entities,
            authorizer: Authorizer::new(),
            requests,
            texts,
            times,
        })
    }

    /// The slices.
    pub fn slices(&self) -> &Slices {
        &self.slices
    }

    fn response(&self, request: &Request) -> Option<Response> {
        let slice = self.slices.slice(request)?;
        Some(
            self.authorizer
                .is_authorized(request, slice, &self.entities),
        )
    }

    fn is_allowed(&self, request: &Request) -> bool {
        self.response(request)
            .is_some_and(|r| r.decision() == Decision::Allow)
    }
}

impl Decider for CedarSlicedDecider {
    fn kind(&self) -> EngineKind {
        EngineKind::CedarSliced
    }

    /// End to end: parses request `index`'s JSON text, finds its slice and decides (a
    /// request that does not parse is denied).
    fn decide_e2e(&mut self, index: usize) -> bool {
        match self.texts.get(wrap(index, self.texts.len())) {
            Some(text) => parse_request(text).is_ok_and(|request| self.is_allowed(&request)),
            None => false,
        }
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
        let response = self
            .requests
            .get(wrap(index, self.requests.len()))
            .and_then(|request| self.response(request));
        let Some(response) = response else {
            return Answer {
                allow: false,
                errors: vec!["no such request, or no slice for it".into()],
                rules: None,
            };
        };
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

    const POLICIES: &str = r#"
        @id("read")
        permit (principal is User in Group::"g", action == Action::"read", resource is Doc);
        @id("svc")
        permit (principal is Service, action == Action::"read", resource is Doc);
        @id("both")
        permit (principal, action in [Action::"read", Action::"write"], resource)
        when { context.ok };
        @id("group")
        permit (principal, action in [Action::"edit"], resource is Doc);
        @id("all")
        forbid (principal, action, resource) when { principal.blocked };
    "#;

    const ENTITIES: &str = r#"[
        {"uid": {"type": "Group", "id": "g"}, "attrs": {}, "parents": []},
        {"uid": {"type": "User", "id": "u"}, "attrs": {"blocked": false},
         "parents": [{"type": "Group", "id": "g"}]},
        {"uid": {"type": "Action", "id": "edit"}, "attrs": {}, "parents": []},
        {"uid": {"type": "Action", "id": "rename"}, "attrs": {},
         "parents": [{"type": "Action", "id": "edit"}]}
    ]"#;

    fn sliced() -> (Slices, HashMap<PolicyId, String>) {
        let policies = PolicySet::from_str(POLICIES).unwrap();
        let entities = Entities::from_json_str(ENTITIES, None).unwrap();
        (
            Slices::new(&policies, &entities).unwrap(),
            rule_ids(&policies),
        )
    }

    fn slice_of(principal: &str, action: &str, resource: &str) -> Vec<String> {
        let (slices, ids) = sliced();
        let text = format!(
            r#"{{"principal": {principal}, "action": {{"type": "Action", "id": "{action}"}},
                "resource": {resource}, "context": {{"ok": true}}}}"#
        );
        let request = parse_request(&text).unwrap();
        let mut names: Vec<String> = slices
            .slice(&request)
            .unwrap()
            .policies()
            .map(|p| ids[p.id()].clone())
            .collect();
        names.sort();
        names
    }

    const USER: &str = r#"{"type": "User", "id": "u"}"#;
    const SERVICE: &str = r#"{"type": "Service", "id": "s"}"#;
    const DOC: &str = r#"{"type": "Doc", "id": "d"}"#;
    const FILE: &str = r#"{"type": "File", "id": "f"}"#;

    #[test]
    fn slices_by_action_then_by_principal_and_resource_type() {
        assert_eq!(slice_of(USER, "read", DOC), ["all", "both", "read"]);
        assert_eq!(slice_of(SERVICE, "read", DOC), ["all", "both", "svc"]);
        assert_eq!(slice_of(USER, "read", FILE), ["all", "both"]);
        assert_eq!(slice_of(USER, "write", DOC), ["all", "both"]);
    }

    #[test]
    fn action_lists_reach_descendant_actions_and_globals_reach_every_action() {
        assert_eq!(slice_of(USER, "edit", DOC), ["all", "group"]);
        assert_eq!(slice_of(USER, "rename", DOC), ["all", "group"]);
        assert_eq!(slice_of(USER, "unknown", DOC), ["all"]);
    }

    #[test]
    fn identical_slices_are_shared() {
        let (slices, _) = sliced();
        // read: 3 principal × 2 resource types; write, edit, rename, other: fewer.
        assert!(slices.len() < 10, "{}", slices.len());
        assert_eq!(slices.largest(), 3);
    }

    #[test]
    fn a_bad_request_text_is_an_error() {
        assert!(parse_request("{").is_err());
        assert!(parse_request(r#"{"principal": {"type": "User", "id": "u"}}"#).is_err());
        let wrong = r#"{"principal": 3, "action": 3, "resource": 3, "context": {}}"#;
        assert!(parse_request(wrong).is_err());
    }
}
