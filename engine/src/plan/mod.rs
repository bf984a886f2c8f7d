//! Query plans: "which resources of this type may the principal act on?"
//!
//! [`Engine::plan`] decides a request whose resource is unknown except for its type. The
//! principal, the action and the context are known, so every expression that reads only
//! them is evaluated by the decision procedure's own evaluator; what reads the resource is
//! *partially* evaluated into a [`Cond`] over the resource's id, attributes and ancestors.
//!
//! Each boolean expression is carried as two residuals, `t` (it evaluates to true) and `f`
//! (it evaluates to false); where neither holds, evaluating it fails. That is what keeps a
//! plan exact under the decision procedure's fail-closed rules: a conjunct that fails stops
//! its condition (conjuncts are evaluated left to right), a deny or require whose conditions
//! fail applies, an allow whose conditions fail does not, and an obligation that fails turns
//! an allow into a deny. So for every resource of the type, the plan's condition holds
//! exactly when [`Engine::decide`] allows (the property `engine/tests/plan.rs` checks).
//!
//! Supported: comparisons of resource attributes (nested records included) with known
//! values, `has`, `in` on the resource's hierarchy and on sets, `contains*`, `like`, and
//! `principal in resource`. Anything else that reads the resource (an attribute of an entity
//! the resource refers to, arithmetic on resource data, `matches`, a tag read, …) is
//! refused with an error naming the rule and the construct, never approximated.

mod residual;

use std::sync::Arc;

use serde_json::{json, Value as Json};

use crate::bundle::{BinaryOp, HeadOp, PackageId, RuleKind, Sym, Ty, TypeId};
use crate::engine::Engine;
use crate::entities::EntityStore;
use crate::error::{DataError, RequestError};
use crate::eval::EvalContext;
use crate::program::{NodeId, Span};
use crate::request::Request;
use crate::value::{EntityUid, Record, Value};

pub use residual::{value_json, AttrPath, CmpOp, Cond, ResourceView, StoredResource};

/// A request with its resource unknown except for its type.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRequest {
    /// `None`: the principal comes from the bundle's `principal` mappings.
    pub principal: Option<EntityUid>,
    pub action: crate::bundle::ActionId,
    pub resource_type: TypeId,
    pub context: Arc<Record>,
    pub package: Option<PackageId>,
}

/// Which resources of the type a plan allows.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanOutcome {
    /// Every resource of the type.
    Always,
    /// None.
    Never,
    /// Those for which the condition holds.
    Conditional(Cond),
}

/// The answer to a [`PlanRequest`].
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub resource_type: TypeId,
    pub outcome: PlanOutcome,
    /// The principal the plan was made for (mapped, if the request named none).
    pub principal: Option<EntityUid>,
    /// Ids of the rules that apply to some resource of the type (allow, deny and require).
    pub rules: Vec<String>,
    /// Ids of the obligations that apply to some allowed resource.
    pub obligations: Vec<String>,
    /// The compliance controls of those rules and obligations, deduplicated, in order.
    pub controls: Vec<String>,
}

/// Why a plan could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The residual of the whole plan has more than [`MAX_PLAN_NODES`] nodes.
    #[error("the plan's condition has {nodes} nodes, more than the {max} a plan may have", max = MAX_PLAN_NODES)]
    TooLarge { nodes: usize },
    /// A condition reads the resource in a way no residual can express.
    #[error("{item} `{id}`: `{conjunct}`: {construct} cannot be planned")]
    Unsupported {
        /// `rule` or `obligation`.
        item: &'static str,
        id: String,
        conjunct: String,
        construct: String,
    },
}

impl PlanError {
    /// The error as the wasm module's `rampart_plan` answers it: `{"error", "kind"}`, where
    /// `kind` is `request` (the request cannot be read), `unsupported` (with the `rule` and
    /// the `construct`) or `too_large` (with `nodes`), the fields the sidecar's
    /// `POST /v1/plan` answers with its 400 and 422 statuses.
    pub fn to_json(&self) -> Json {
        let error = self.to_string();
        match self {
            PlanError::Request(_) => json!({"error": error, "kind": "request"}),
            PlanError::Unsupported { id, construct, .. } => json!({
                "error": error, "kind": "unsupported", "rule": id, "construct": construct,
            }),
            PlanError::TooLarge { nodes } => {
                json!({"error": error, "kind": "too_large", "nodes": nodes})
            }
        }
    }
}

impl Plan {
    /// The condition as a [`Cond`] in every case: `Always` is `true`, `Never` is `false`.
    pub fn condition(&self) -> Cond {
        match &self.outcome {
            PlanOutcome::Always => Cond::TRUE,
            PlanOutcome::Never => Cond::FALSE,
            PlanOutcome::Conditional(cond) => cond.clone(),
        }
    }

    /// The JSON form (`docs/plan.md`).
    pub fn to_json(&self, engine: &Engine) -> Json {
        let schema = &engine.bundle().schema;
        let decision = match self.outcome {
            PlanOutcome::Always => "always",
            PlanOutcome::Never => "never",
            PlanOutcome::Conditional(_) => "conditional",
        };
        let mut out = json!({
            "decision": decision,
            "resource_type": crate::display::type_name(schema, self.resource_type),
            "principal": self.principal.as_ref().map(|uid| residual::uid_json(schema, uid)),
            "rules": self.rules,
            "obligations": self.obligations,
            "controls": self.controls,
        });
        if let (PlanOutcome::Conditional(cond), Some(object)) = (&self.outcome, out.as_object_mut())
        {
            object.insert("condition".into(), cond.to_json(schema));
            object.insert(
                "text".into(),
                Json::String(cond.to_text(schema, &engine.bundle().symbols)),
            );
        }
        out
    }

    /// Whether the plan allows the resource `id` of its type in `entities`: its condition
    /// evaluated against what `decide` would see of that entity. `false` for an id the store
    /// does not hold.
    pub fn allows_stored(&self, engine: &Engine, entities: &EntityStore, id: &str) -> bool {
        match &self.outcome {
            PlanOutcome::Always => entities.find(self.resource_type, id).is_some(),
            PlanOutcome::Never => false,
            PlanOutcome::Conditional(cond) => engine
                .stored_resource(entities, self.resource_type, id)
                .is_some_and(|resource| cond.eval(&resource)),
        }
    }
}

impl Engine {
    /// Reads a plan request: a request whose `resource` is `{"type": "T"}` (or the type's
    /// name) and which has no `http` part.
    pub fn parse_plan_request(&self, json: &str) -> Result<PlanRequest, RequestError> {
        if json.len() > crate::request::MAX_REQUEST_BYTES {
            return Err(crate::error::TooLargeError::new(
                json.len(),
                crate::request::MAX_REQUEST_BYTES,
            )
            .into());
        }
        let value = crate::strict_json::from_str(json)
            .map_err(|e| crate::error::SyntaxError::new("request", e.to_string()))?;
        self.plan_request_from_value(&value)
    }

    /// [`Engine::parse_plan_request`] for parsed JSON.
    pub fn plan_request_from_value(&self, json: &Json) -> Result<PlanRequest, RequestError> {
        let Some(object) = json.as_object() else {
            return Err(DataError::new("request", "expected an object").into());
        };
        if object.get("http").is_some_and(|h| !h.is_null()) {
            return Err(DataError::new("http", "a plan names its action and resource type").into());
        }
        let type_name = match object.get("resource") {
            Some(Json::String(name)) => name.as_str(),
            Some(Json::Object(resource)) => {
                if let Some(key) = resource.keys().find(|k| k.as_str() != "type") {
                    return Err(DataError::new(
                        "resource",
                        format!(
                            "a plan leaves the resource unknown: unexpected field `{}`",
                            crate::display::truncate(key, 60)
                        ),
                    )
                    .into());
                }
                resource.get("type").and_then(Json::as_str).ok_or_else(|| {
                    DataError::new("resource.type", "expected the name of an entity type")
                })?
            }
            _ => {
                return Err(DataError::new(
                    "resource",
                    "expected `{\"type\": \"T\"}` naming the resource type",
                )
                .into())
            }
        };
        let resource_type = self.entity_type_id(type_name).ok_or_else(|| {
            DataError::new(
                "resource.type",
                format!(
                    "unknown entity type `{}`",
                    crate::display::truncate(type_name, 60)
                ),
            )
        })?;
        // The rest of the request reads as any request does, with a placeholder resource
        // of the type (never evaluated: the planner does not evaluate what reads it).
        let mut object = object.clone();
        object.insert("resource".into(), json!({"type": type_name, "id": ""}));
        let request = self.request_from_value(&Json::Object(object))?;
        Ok(PlanRequest {
            principal: request.principal,
            action: request.action,
            resource_type,
            context: request.context,
            package: request.package,
        })
    }

    /// Reads a condition's JSON form (as [`Cond::to_json`] writes it) for resources of
    /// type `resource_type`, typing each value by the schema type of the attribute it is
    /// compared with.
    pub fn condition_from_json(&self, resource_type: TypeId, json: &Json) -> Result<Cond, String> {
        Cond::from_json(json, &mut |path, value| {
            self.read_attr_value(resource_type, path, value)
        })
    }

    /// A value for the attribute at `path` of a resource type (an item of it, for a set
    /// attribute and a value that is not an array); an entity for the empty path.
    fn read_attr_value(
        &self,
        resource_type: TypeId,
        path: &[String],
        json: &Json,
    ) -> Result<Value, String> {
        let schema = &self.bundle().schema;
        let mut ty = Ty::AnyEntity;
        if let Some((first, rest)) = path.split_first() {
            let mut record = usize::try_from(resource_type)
                .ok()
                .and_then(|i| schema.entity_types.get(i))
                .map(|t| &t.attrs)
                .ok_or("unknown resource type")?;
            let mut names = std::iter::once(first).chain(rest).peekable();
            while let Some(name) = names.next() {
                let field = self
                    .names
                    .symbols
                    .get(name.as_str())
                    .and_then(|sym| record.fields.iter().find(|f| f.name == *sym))
                    .ok_or_else(|| {
                        format!(
                            "no attribute `{}` in `{}`",
                            crate::display::truncate(name, 60),
                            path.join(".")
                        )
                    })?;
                ty = field.ty.clone();
                if names.peek().is_none() {
                    break;
                }
                match &field.ty {
                    Ty::Record(inner) => record = inner,
                    _ => return Err(format!("`{}` is not a record", path.join("."))),
                }
            }
        }
        if let (Ty::Set(item), false) = (&ty, json.is_array()) {
            ty = (**item).clone();
        }
        crate::json::Reader::new(self, "value")
            .value(json, &ty)
            .map_err(|e| format!("{}: {}", e.path, e.message))
    }

    /// [`Engine::fill_time`] for a plan request: sets `context.time` when the request does
    /// not carry one and the action's context declares it.
    pub fn fill_plan_time(&self, request: &mut PlanRequest, epoch_ms: i64) {
        let mut full = Request {
            principal: None,
            action: request.action,
            resource: EntityUid {
                ty: request.resource_type,
                id: Arc::from(""),
            },
            context: Arc::clone(&request.context),
            package: None,
            route: None,
        };
        self.fill_time(&mut full, epoch_ms);
        request.context = full.context;
    }

    /// What `decide` would see of the entity `T::id` in `entities`.
    pub fn stored_resource<'s>(
        &'s self,
        entities: &'s EntityStore,
        ty: TypeId,
        id: &str,
    ) -> Option<StoredResource<'s>> {
        Some(StoredResource {
            store: entities,
            entity: entities.find(ty, id)?,
            symbols: &self.names.symbols,
        })
    }

    /// Partially evaluates the policies for a request whose resource is unknown except for
    /// its type. See the [module documentation](self).
    pub fn plan(&self, request: &PlanRequest, entities: &EntityStore) -> Result<Plan, PlanError> {
        let full = Request {
            principal: request.principal.clone(),
            action: request.action,
            resource: EntityUid {
                ty: request.resource_type,
                id: Arc::from(""),
            },
            context: Arc::clone(&request.context),
            package: request.package,
            route: None,
        };
        let cx = self.request_context(&full, entities);
        let planner = Planner {
            engine: self,
            cx: &cx,
            resource_type: request.resource_type,
        };
        let principal_type = cx.principal.type_id();
        let (mut allows, mut denies) = (Vec::new(), Vec::new());
        let mut plan = Plan {
            resource_type: request.resource_type,
            outcome: PlanOutcome::Never,
            principal: cx.principal.uid().cloned(),
            rules: Vec::new(),
            obligations: Vec::new(),
            controls: Vec::new(),
        };
        for slot in self
            .rule_index
            .select(request.action, request.resource_type, principal_type)
        {
            let (Some(rule), Some(source)) = (self.compiled_rule(slot), self.bundle_rule(slot))
            else {
                continue;
            };
            if !self.package_selected(request.package, rule.package) {
                continue;
            }
            let head = planner.head(&source.scope);
            if head == Cond::FALSE {
                continue;
            }
            let item = Item {
                kind: "rule",
                id: &source.id,
                texts: [
                    Some(&source.when),
                    source.unless.as_ref(),
                    source.require.as_ref(),
                ],
            };
            let outcome =
                planner.clauses(&item, [Some(rule.when()), rule.unless(), rule.require()])?;
            let applies = if rule.kind == RuleKind::Allow {
                outcome.holds
            } else {
                outcome.applies_failing_closed()
            };
            // Outside its head, a rule neither applies nor fails.
            let applies = and(vec![head, applies]);
            if applies == Cond::FALSE {
                continue;
            }
            plan.rules.push(source.id.clone());
            push_controls(&mut plan.controls, &source.controls);
            if rule.kind == RuleKind::Allow {
                allows.push(applies);
            } else {
                denies.push(applies);
            }
        }
        let rules_allow = and(vec![or(allows), not(or(denies))]);
        let mut failures = Vec::new();
        if rules_allow != Cond::FALSE {
            for slot in
                self.obligation_index
                    .select(request.action, request.resource_type, principal_type)
            {
                let (Some(obligation), Some(source)) =
                    (self.compiled_obligation(slot), self.bundle_obligation(slot))
                else {
                    continue;
                };
                if !self.package_selected(request.package, obligation.package) {
                    continue;
                }
                let head = planner.head(&source.scope);
                if head == Cond::FALSE {
                    continue;
                }
                let item = Item {
                    kind: "obligation",
                    id: &source.id,
                    texts: [Some(&source.when), source.unless.as_ref(), None],
                };
                let mut outcome =
                    planner.clauses(&item, [Some(obligation.when), obligation.unless, None])?;
                outcome.holds = and(vec![head.clone(), outcome.holds]);
                outcome.failed = and(vec![head, outcome.failed]);
                // It fails when its conditions fail, or when it applies and its value
                // cannot be computed.
                let value_fails = match obligation.value {
                    None => false,
                    Some((node, what)) => {
                        if planner.reads_resource(node) {
                            return Err(item.unsupported(
                                0,
                                None,
                                "a value computed from the resource",
                            ));
                        }
                        planner.value_fails(node, what)
                    }
                };
                let fails = if value_fails {
                    or(vec![outcome.failed.clone(), outcome.holds.clone()])
                } else {
                    outcome.failed.clone()
                };
                if outcome.holds != Cond::FALSE {
                    plan.obligations.push(source.id.clone());
                    push_controls(&mut plan.controls, &source.controls);
                }
                failures.push(fails);
            }
        }
        let allowed = and(vec![rules_allow, not(or(failures))]);
        if allowed.size() > MAX_PLAN_NODES {
            return Err(PlanError::TooLarge {
                nodes: allowed.size(),
            });
        }
        plan.outcome = match allowed {
            Cond::Const(true) => PlanOutcome::Always,
            Cond::Const(false) => PlanOutcome::Never,
            cond => PlanOutcome::Conditional(cond),
        };
        Ok(plan)
    }
}

fn push_controls(controls: &mut Vec<String>, more: &[String]) {
    for control in more {
        if !controls.contains(control) {
            controls.push(control.clone());
        }
    }
}

/// A rule or obligation, for error messages.
struct Item<'b> {
    kind: &'static str,
    id: &'b str,
    /// The bundle's `when`, `unless` and required conditions (their conjuncts' texts).
    texts: [Option<&'b crate::bundle::Condition>; 3],
}

impl Item<'_> {
    fn unsupported(&self, clause: usize, conjunct: Option<usize>, construct: &str) -> PlanError {
        let text = conjunct
            .and_then(|c| self.texts.get(clause)?.as_ref()?.conjuncts.get(c))
            .map(|c| c.text.clone())
            .unwrap_or_default();
        PlanError::Unsupported {
            item: self.kind,
            id: self.id.to_string(),
            conjunct: text,
            construct: construct.to_string(),
        }
    }
}

/// How a rule's or obligation's conditions come out, as residuals.
struct ClauseOutcome {
    /// It applies: `when` holds and `unless` (if any) is false, without an error; for a
    /// `require`, the required condition is false too.
    holds: Cond,
    /// Evaluating its conditions fails (before anything decided otherwise).
    failed: Cond,
}

impl ClauseOutcome {
    /// A deny or require applies when it holds or when evaluating it fails.
    fn applies_failing_closed(&self) -> Cond {
        or(vec![self.holds.clone(), self.failed.clone()])
    }
}

/// A condition's conjuncts folded: it holds (every conjunct true), it is false (some
/// conjunct false, those before it true), or it fails (some conjunct fails, those before it
/// true).
struct Folded {
    holds: Cond,
    is_false: Cond,
    fails: Cond,
}

/// The value of an expression that reads the resource.
enum Partial {
    /// Fully known: read only the principal, the action, the context and constants.
    Known(Result<Value, ()>),
    /// A boolean: `t` where it is true, `f` where false (neither: it fails).
    Bool { t: Cond, f: Cond },
    /// The resource itself.
    Resource,
    /// An attribute of the resource; `present` is where the resource has it.
    Path {
        path: Vec<Sym>,
        ty: Ty,
        present: Cond,
    },
}

struct Unsupported(&'static str);

/// The most nodes a residual may have while planning (and at the end).
pub const MAX_PLAN_NODES: usize = 20_000;

const TOO_LARGE: &str = "a condition whose plan would exceed 20,000 nodes";

struct Planner<'p> {
    engine: &'p Engine,
    cx: &'p EvalContext<'p>,
    resource_type: TypeId,
}

impl Planner<'_> {
    /// Where a scope's heads hold: the principal's is known (true or false); the
    /// resource's is a residual on its id (`==`) or its ancestors (`in`), as the condition
    /// `resource == E` or `resource in E` would plan. A head never fails.
    fn head(&self, scope: &crate::bundle::Scope) -> Cond {
        if let Some(head) = &scope.principal_head {
            if !crate::head::principal_matches(head, self.cx) {
                return Cond::FALSE;
            }
        }
        let Some(head) = &scope.resource_head else {
            return Cond::TRUE;
        };
        match head.op {
            HeadOp::Eq => {
                let mut ids: Vec<String> = Vec::new();
                for uid in &head.entities {
                    if uid.ty == self.resource_type && !ids.iter().any(|i| **i == *uid.id) {
                        ids.push(uid.id.to_string());
                    }
                }
                if ids.is_empty() {
                    Cond::FALSE
                } else {
                    Cond::IdIn(ids)
                }
            }
            HeadOp::In => or(head
                .entities
                .iter()
                .map(|uid| Cond::InEntity(uid.clone()))
                .collect()),
        }
    }

    fn reads_resource(&self, node: NodeId) -> bool {
        self.engine.program.reads_resource(node)
    }

    /// Whether an obligation's value (not reading the resource) fails to compute: the
    /// decision procedure's own check, on the known value.
    fn value_fails(&self, node: NodeId, what: &str) -> bool {
        match self.cx.eval(node) {
            Ok(value) => match &*value {
                Value::Set(_) | Value::Record(_) | Value::Map(_) => true,
                Value::String(text) | Value::Entity(EntityUid { id: text, .. })
                    if what == crate::decide::HEADER_VALUE =>
                {
                    !crate::gateway::is_header_value(text)
                }
                _ => false,
            },
            Err(_) => true,
        }
    }

    /// Folds `when`, `unless` and the required condition as the decision procedure reads
    /// them ([`Engine::verdict`]).
    fn clauses(
        &self,
        item: &Item<'_>,
        spans: [Option<Span>; 3],
    ) -> Result<ClauseOutcome, PlanError> {
        let [when, unless, require] = spans;
        let when = self.fold(item, 0, when.unwrap_or_default())?;
        // Each clause is evaluated only where the ones before it let evaluation go on.
        let (unless_false, unless_fails) = match unless {
            None => (Cond::TRUE, Cond::FALSE),
            Some(_) if when.holds == Cond::FALSE => (Cond::FALSE, Cond::FALSE),
            Some(span) => {
                let u = self.fold(item, 1, span)?;
                (u.is_false, u.fails)
            }
        };
        let reached_require = and(vec![when.holds.clone(), unless_false.clone()]);
        let (require_false, require_fails) = match require {
            None => (Cond::TRUE, Cond::FALSE),
            Some(_) if reached_require == Cond::FALSE => (Cond::FALSE, Cond::FALSE),
            Some(span) => {
                let r = self.fold(item, 2, span)?;
                (r.is_false, r.fails)
            }
        };
        let holds = and(vec![reached_require.clone(), require_false]);
        let failed = or(vec![
            when.fails,
            and(vec![when.holds, unless_fails]),
            and(vec![reached_require, require_fails]),
        ]);
        Ok(ClauseOutcome { holds, failed })
    }

    /// Folds the conjuncts of one condition, left to right.
    fn fold(&self, item: &Item<'_>, clause: usize, span: Span) -> Result<Folded, PlanError> {
        let mut prefix = Cond::TRUE; // every conjunct so far held
        let (mut falses, mut fails) = (Vec::new(), Vec::new());
        for (position, node) in self.engine.program.conjuncts(span).iter().enumerate() {
            if prefix == Cond::FALSE {
                break;
            }
            let (t, f) = self
                .truth(*node)
                .map_err(|Unsupported(what)| item.unsupported(clause, Some(position), what))?;
            let failing = and(vec![not(t.clone()), not(f.clone())]);
            falses.push(and(vec![prefix.clone(), f]));
            fails.push(and(vec![prefix.clone(), failing]));
            prefix = and(vec![prefix, t]);
            let size = [&prefix]
                .into_iter()
                .chain(&falses)
                .chain(&fails)
                .fold(0usize, |n, c| n.saturating_add(c.size()));
            if size > MAX_PLAN_NODES {
                return Err(item.unsupported(clause, Some(position), TOO_LARGE));
            }
        }
        Ok(Folded {
            holds: prefix,
            is_false: or(falses),
            fails: or(fails),
        })
    }

    /// Where a conjunct is true and where false.
    /// `if c then a else b`: the chosen branch when `c` is known; when `c` reads the
    /// resource, both branches must be booleans: `(c and a) or (not c and b)` as residuals.
    #[inline(never)]
    fn if_partial(&self, c: NodeId, a: NodeId, b: NodeId) -> Result<Partial, Unsupported> {
        match self.partial(c)? {
            Partial::Known(Ok(Value::Bool(true))) => self.partial(a),
            Partial::Known(Ok(Value::Bool(false))) => self.partial(b),
            Partial::Known(_) => Ok(Partial::Known(Err(()))),
            condition => {
                // The condition reads the resource: both branches must be booleans,
                // `(c and a) or (not c and b)` as residuals.
                let boolean = |p: &Partial| {
                    matches!(p, Partial::Bool { .. } | Partial::Known(Ok(Value::Bool(_))))
                };
                let (then, otherwise) = (self.partial(a)?, self.partial(b)?);
                if !boolean(&then) || !boolean(&otherwise) {
                    return Err(Unsupported(
                        "`if` on resource data choosing a non-boolean value",
                    ));
                }
                let (ct, cf) = self.truth_of(condition)?;
                let (at, af) = self.truth_of(then)?;
                let (bt, bf) = self.truth_of(otherwise)?;
                Ok(Partial::Bool {
                    t: or(vec![and(vec![ct.clone(), at]), and(vec![cf.clone(), bt])]),
                    f: or(vec![and(vec![ct, af]), and(vec![cf, bf])]),
                })
            }
        }
    }

    /// `e is T` where `e` reads the resource: known when `e` is the resource itself.
    #[inline(never)]
    fn is_partial(&self, inner: NodeId, ty: TypeId) -> Result<Partial, Unsupported> {
        match self.partial(inner)? {
            Partial::Resource => Ok(Partial::Known(Ok(Value::Bool(ty == self.resource_type)))),
            _ => Err(Unsupported("`is` on an entity read from resource data")),
        }
    }

    fn truth(&self, node: NodeId) -> Result<(Cond, Cond), Unsupported> {
        let partial = self.partial(node)?;
        let (t, f) = self.truth_of(partial)?;
        // Each expression carries both residuals, and `and`/`or` repeat their operands'
        // (`a and b` is false where `a` is, or where `a` holds and `b` is false): deeply
        // nested conditions could grow without bound. Every boolean is checked here, so
        // nothing larger than a few times the limit is ever built.
        if t.size().saturating_add(f.size()) > MAX_PLAN_NODES {
            return Err(Unsupported(TOO_LARGE));
        }
        Ok((t, f))
    }

    fn names(&self, path: &[Sym]) -> AttrPath {
        path.iter()
            .map(|sym| self.engine.symbol_name(*sym).to_string())
            .collect()
    }

    /// The type of a resource attribute, and whether it is optional.
    fn field_type<'t>(
        &self,
        record: &'t crate::bundle::RecordType,
        sym: Sym,
    ) -> Option<(&'t Ty, bool)> {
        record
            .fields
            .binary_search_by_key(&sym, |f| f.name)
            .ok()
            .and_then(|i| record.fields.get(i))
            .map(|f| (&f.ty, f.optional))
    }

    /// A path one attribute further, or `Known(Err)` where reading it always fails.
    fn member(
        &self,
        base: Option<(Vec<Sym>, &Ty, Cond)>,
        sym: Option<Sym>,
    ) -> Result<Partial, Unsupported> {
        let entity_type = usize::try_from(self.resource_type)
            .ok()
            .and_then(|i| self.engine.bundle().schema.entity_types.get(i));
        let (mut path, record, present) = match base {
            None => match entity_type {
                Some(t) => (Vec::new(), &t.attrs, Cond::TRUE),
                None => return Ok(Partial::Known(Err(()))),
            },
            Some((path, Ty::Record(record), present)) => (path, &**record, present),
            Some((_, Ty::Entity(_) | Ty::AnyEntity, _)) => {
                return Err(Unsupported(
                    "an attribute of an entity the resource refers to (it is not in the resource's data)",
                ))
            }
            Some((_, Ty::Map(_), _)) => return Err(Unsupported("a key of a map attribute")),
            Some((_, Ty::Any, _)) => return Err(Unsupported("an attribute of type `any`")),
            Some(_) => return Ok(Partial::Known(Err(()))),
        };
        let Some((ty, optional)) = sym.and_then(|sym| self.field_type(record, sym)) else {
            return Ok(Partial::Known(Err(())));
        };
        if let Some(sym) = sym {
            path.push(sym);
        }
        let present = if optional {
            and(vec![present, Cond::Has(self.names(&path))])
        } else {
            present
        };
        Ok(Partial::Path {
            path,
            ty: ty.clone(),
            present,
        })
    }

    /// Evaluates what it can; what reads the resource becomes a residual.
    fn partial(&self, node: NodeId) -> Result<Partial, Unsupported> {
        use crate::program::Node;
        if !self.reads_resource(node) {
            return Ok(Partial::Known(
                self.cx.eval(node).map(|v| v.into_owned()).map_err(|_| ()),
            ));
        }
        let program = &self.engine.program;
        let Some(n) = program.node(node) else {
            return Ok(Partial::Known(Err(())));
        };
        match n {
            Node::Resource => Ok(Partial::Resource),
            Node::ResourceAttr(sym) => self.member(None, Some(sym)),
            Node::Attr(inner, sym) => self.attr(inner, Some(sym)),
            Node::Index(inner, key) => self.attr(inner, program.key(key).and_then(|k| k.sym)),
            Node::Has(inner, key) => {
                let sym = program.key(key).and_then(|k| k.sym);
                match self.partial(inner)? {
                    Partial::Resource => Ok(self.resource_has(sym)),
                    Partial::Path {
                        path,
                        ty: Ty::Record(record),
                        present,
                    } => {
                        let inner_present = present.clone();
                        match self.member(Some((path, &Ty::Record(record), present)), sym)? {
                            Partial::Path { path, .. } => {
                                let has = Cond::Has(self.names(&path));
                                Ok(Partial::Bool {
                                    t: has.clone(),
                                    f: and(vec![inner_present, not(has)]),
                                })
                            }
                            // No such field: `has` is false wherever the record is there.
                            _ => Ok(Partial::Bool {
                                t: Cond::FALSE,
                                f: inner_present,
                            }),
                        }
                    }
                    Partial::Path { ty: Ty::Map(_), .. } => Err(Unsupported("`has` on a map attribute")),
                    Partial::Path { ty: Ty::Any, .. } => Err(Unsupported("an attribute of type `any`")),
                    Partial::Path {
                        ty: Ty::Entity(_) | Ty::AnyEntity,
                        ..
                    } => Err(Unsupported(
                        "`has` on an entity the resource refers to (it is not in the resource's data)",
                    )),
                    _ => Ok(Partial::Known(Err(()))),
                }
            }
            Node::Not(inner) => Ok(match self.partial(inner)? {
                Partial::Known(value) => Partial::Known(match value {
                    Ok(Value::Bool(b)) => Ok(Value::Bool(!b)),
                    _ => Err(()),
                }),
                other => {
                    let (t, f) = self.truth_of(other)?;
                    Partial::Bool { t: f, f: t }
                }
            }),
            Node::And(left, right) => {
                let (lt, lf) = self.truth(left)?;
                if lt == Cond::FALSE {
                    return Ok(Partial::Bool {
                        t: Cond::FALSE,
                        f: lf,
                    });
                }
                let (rt, rf) = self.truth(right)?;
                Ok(Partial::Bool {
                    t: and(vec![lt.clone(), rt]),
                    f: or(vec![lf, and(vec![lt, rf])]),
                })
            }
            Node::Or(left, right) => {
                let (lt, lf) = self.truth(left)?;
                if lf == Cond::FALSE {
                    return Ok(Partial::Bool {
                        t: lt,
                        f: Cond::FALSE,
                    });
                }
                let (rt, rf) = self.truth(right)?;
                Ok(Partial::Bool {
                    t: or(vec![lt, and(vec![lf.clone(), rt])]),
                    f: and(vec![lf, rf]),
                })
            }
            Node::Binary(op, left, right) => {
                let left = self.partial(left)?;
                let right = self.partial(right)?;
                self.binary(op, left, right)
            }
            Node::BinaryConst(op, left, constant) => {
                let left = self.partial(left)?;
                let right = Partial::Known(program.constant(constant).cloned().ok_or(()));
                self.binary(op, left, right)
            }
            Node::TimePart(..) => Err(Unsupported(
                "a part of a timestamp or duration of resource data",
            )),
            Node::If(c, branches) => {
                let Some((a, b)) = program.branches(branches) else {
                    return Ok(Partial::Known(Err(())));
                };
                self.if_partial(c, a, b)
            }
            // The resource's type is the plan's: `resource is T` is known.
            Node::Is(inner, ty) => self.is_partial(inner, ty),
            Node::Like(inner, glob) => match (self.partial(inner)?, program.glob(glob)) {
                (
                    Partial::Path {
                        path,
                        ty: Ty::String,
                        present,
                    },
                    Some(glob),
                ) => {
                    let like = Cond::Like {
                        path: self.names(&path),
                        pieces: glob.pieces.clone(),
                    };
                    Ok(Partial::Bool {
                        t: like.clone(),
                        f: and(vec![present, not(like)]),
                    })
                }
                (Partial::Path { ty: Ty::Any, .. }, _) => {
                    Err(Unsupported("an attribute of type `any`"))
                }
                _ => Ok(Partial::Known(Err(()))),
            },
            Node::Matches(..) => Err(Unsupported("`matches` on resource data")),
            // Plans read the resource's attributes and ancestors, not its tags.
            Node::HasTag(..) | Node::GetTag(..) => Err(Unsupported(
                "a tag read (`has_tag`, `get_tag`) that depends on the resource",
            )),
            Node::Neg(_) => Err(Unsupported("arithmetic on resource data")),
            Node::EntityCtor(..) => Err(Unsupported("an entity built from resource data")),
            Node::Set(_) | Node::Record(_) => {
                Err(Unsupported("a set or record built from resource data"))
            }
            _ => Err(Unsupported("this expression")),
        }
    }

    fn truth_of(&self, partial: Partial) -> Result<(Cond, Cond), Unsupported> {
        Ok(match partial {
            Partial::Known(Ok(Value::Bool(b))) => (Cond::Const(b), Cond::Const(!b)),
            Partial::Known(_) | Partial::Resource => (Cond::FALSE, Cond::FALSE),
            Partial::Bool { t, f } => (t, f),
            Partial::Path { path, ty, present } => match ty {
                Ty::Bool => {
                    let names = self.names(&path);
                    let t = compare(CmpOp::Eq, names.clone(), Value::Bool(true));
                    // A required attribute is always there: false is "not true", which
                    // lets the failure residual (neither true nor false) fold away.
                    let f = match present {
                        Cond::Const(true) => not(t.clone()),
                        present => {
                            and(vec![present, compare(CmpOp::Eq, names, Value::Bool(false))])
                        }
                    };
                    (t, f)
                }
                Ty::Any => return Err(Unsupported("an attribute of type `any`")),
                _ => (Cond::FALSE, Cond::FALSE),
            },
        })
    }

    /// `inner.name` where `inner` reads the resource.
    fn attr(&self, inner: NodeId, sym: Option<Sym>) -> Result<Partial, Unsupported> {
        match self.partial(inner)? {
            Partial::Resource => self.member(None, sym),
            Partial::Path { path, ty, present } => self.member(Some((path, &ty, present)), sym),
            Partial::Known(_) | Partial::Bool { .. } => Ok(Partial::Known(Err(()))),
        }
    }

    /// `resource has name`: the entity is there (plans are about existing resources), so
    /// only the attribute can be missing.
    fn resource_has(&self, sym: Option<Sym>) -> Partial {
        match self.member(None, sym) {
            Ok(Partial::Path { path, present, .. }) => {
                // A required attribute is always there.
                let t = match present {
                    Cond::Const(true) => Cond::TRUE,
                    _ => Cond::Has(self.names(&path)),
                };
                let f = not(t.clone());
                Partial::Bool { t, f }
            }
            _ => Partial::Bool {
                t: Cond::FALSE,
                f: Cond::TRUE,
            },
        }
    }

    /// A binary operator where at least one side reads the resource.
    fn binary(&self, op: BinaryOp, left: Partial, right: Partial) -> Result<Partial, Unsupported> {
        use Partial::{Known, Path, Resource};
        // An operand that always fails makes the whole fail (both are evaluated).
        if matches!(left, Known(Err(()))) || matches!(right, Known(Err(()))) {
            return Ok(Known(Err(())));
        }
        let fails = || Ok(Known(Err(())));
        let bool_of = |t: Cond, present: Cond| Partial::Bool {
            f: and(vec![present, not(t.clone())]),
            t,
        };
        match (op, left, right) {
            (BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul, ..) => {
                Err(Unsupported("arithmetic on resource data"))
            }
            (_, Path { ty: Ty::Any, .. }, _) | (_, _, Path { ty: Ty::Any, .. }) => {
                Err(Unsupported("an attribute of type `any`"))
            }
            (_, Partial::Bool { .. }, _) | (_, _, Partial::Bool { .. }) => {
                // A comparison of a boolean computed from the resource.
                Err(Unsupported("a comparison of a condition on the resource"))
            }
            // resource == E, E == resource, !=
            (BinaryOp::Eq | BinaryOp::Ne, Resource, Known(Ok(v)))
            | (BinaryOp::Eq | BinaryOp::Ne, Known(Ok(v)), Resource) => {
                let Value::Entity(uid) = v else {
                    return fails();
                };
                let t = if uid.ty == self.resource_type {
                    Cond::IdIn(vec![uid.id.to_string()])
                } else {
                    Cond::FALSE
                };
                let f = not(t.clone());
                Ok(if op == BinaryOp::Eq {
                    Partial::Bool { t, f }
                } else {
                    Partial::Bool { t: f, f: t }
                })
            }
            // resource in E, resource in [E, …]
            (BinaryOp::In, Resource, Known(Ok(v))) => {
                let t = match v {
                    Value::Entity(uid) => Cond::InEntity(uid),
                    Value::Set(items) => {
                        let mut any = Vec::new();
                        for item in items.iter() {
                            match item {
                                Value::Entity(uid) => any.push(Cond::InEntity(uid.clone())),
                                _ => return fails(),
                            }
                        }
                        or(any)
                    }
                    _ => return fails(),
                };
                Ok(bool_of(t, Cond::TRUE))
            }
            // E in resource: E is the resource or has it as an ancestor.
            (BinaryOp::In, Known(Ok(v)), Resource) => {
                let Value::Entity(uid) = v else {
                    return fails();
                };
                let mut ids = Vec::new();
                if uid.ty == self.resource_type {
                    ids.push(uid.id.to_string());
                }
                if let Some(entity) = self.cx.entity_of(&uid) {
                    for ancestor in self.cx.entities.ancestors(entity) {
                        if ancestor.ty == self.resource_type && !ids.iter().any(|i| **i == *ancestor.id) {
                            ids.push(ancestor.id.to_string());
                        }
                    }
                }
                let t = if ids.is_empty() { Cond::FALSE } else { Cond::IdIn(ids) };
                Ok(bool_of(t, Cond::TRUE))
            }
            (_, Resource, _) | (_, _, Resource) => Err(Unsupported("this use of `resource`")),
            (BinaryOp::Eq | BinaryOp::Ne, Path { path, ty, present }, Known(Ok(v)))
            | (BinaryOp::Eq | BinaryOp::Ne, Known(Ok(v)), Path { path, ty, present }) => {
                if !type_admits(&ty, &v) {
                    return fails();
                }
                let eq = compare(CmpOp::Eq, self.names(&path), v);
                let ne = and(vec![present, not(eq.clone())]);
                Ok(if op == BinaryOp::Eq {
                    Partial::Bool { t: eq, f: ne }
                } else {
                    Partial::Bool { t: ne, f: eq }
                })
            }
            (BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge, left, right) => {
                let (path, ty, present, value, op) = match (left, right) {
                    (Path { path, ty, present }, Known(Ok(v))) => (path, ty, present, v, op),
                    (Known(Ok(v)), Path { path, ty, present }) => (path, ty, present, v, flip(op)),
                    _ => return Err(Unsupported("a comparison of two resource attributes")),
                };
                let ordered = matches!(
                    (&ty, &value),
                    (Ty::Int, Value::Int(_))
                        | (Ty::Duration, Value::Duration(_))
                        | (Ty::Timestamp, Value::Timestamp(_))
                        | (Ty::Decimal, Value::Decimal(_))
                        | (Ty::Tls, Value::Tls(_))
                );
                if !ordered {
                    return fails();
                }
                let names = self.names(&path);
                let (cmp, opposite) = match op {
                    BinaryOp::Lt => (CmpOp::Lt, CmpOp::Ge),
                    BinaryOp::Le => (CmpOp::Le, CmpOp::Gt),
                    BinaryOp::Gt => (CmpOp::Gt, CmpOp::Le),
                    _ => (CmpOp::Ge, CmpOp::Lt),
                };
                // Both false where the attribute is absent: reading it fails there. A
                // required attribute is always there, and false is "not true".
                let t = compare(cmp, names.clone(), value.clone());
                let f = match present {
                    Cond::Const(true) => not(t.clone()),
                    _ => compare(opposite, names, value),
                };
                Ok(Partial::Bool { t, f })
            }
            // "x" in resource.tags
            (BinaryOp::In, Known(Ok(v)), Path { path, ty, present }) => {
                let names = self.names(&path);
                match (ty, v) {
                    (Ty::Set(_), Value::Ip(_)) => Err(Unsupported("an address tested against a set of networks")),
                    (Ty::Set(item), Value::Entity(uid)) => {
                        // The entity, or one of its ancestors, is in the set; only entities of
                        // the set's item type can be.
                        let fits = |e: &EntityUid| match &*item {
                            Ty::Entity(ty) => e.ty == *ty,
                            _ => true,
                        };
                        let mut values = Vec::new();
                        if fits(&uid) {
                            values.push(Value::Entity(uid.clone()));
                        }
                        if let Some(entity) = self.cx.entity_of(&uid) {
                            values.extend(
                                self.cx
                                    .entities
                                    .ancestors(entity)
                                    .filter(|e| fits(e))
                                    .cloned()
                                    .map(Value::Entity),
                            );
                        }
                        if values.is_empty() {
                            return Ok(Partial::Bool {
                                t: Cond::FALSE,
                                f: present,
                            });
                        }
                        Ok(bool_of(
                            Cond::ContainsAny { path: names, values },
                            present,
                        ))
                    }
                    (Ty::Set(_), v) => Ok(bool_of(Cond::Contains { path: names, value: v }, present)),
                    (Ty::Ip, _) => Err(Unsupported("a network attribute tested with `in`")),
                    (Ty::Entity(_) | Ty::AnyEntity, _) => Err(Unsupported(
                        "`in` on an entity the resource refers to (its ancestors are not in the resource's data)",
                    )),
                    _ => fails(),
                }
            }
            // resource.status in ["a", "b"]
            (BinaryOp::In, Path { path, ty, present }, Known(Ok(v))) => match (ty, v) {
                (Ty::Ip, _) => Err(Unsupported("a network attribute tested with `in`")),
                (Ty::Entity(_) | Ty::AnyEntity, _) => Err(Unsupported(
                    "`in` on an entity the resource refers to (its ancestors are not in the resource's data)",
                )),
                (_, Value::Set(items)) => Ok(bool_of(
                    Cond::OneOf {
                        path: self.names(&path),
                        values: items.to_vec(),
                    },
                    present,
                )),
                _ => fails(),
            },
            (BinaryOp::Contains, Path { path, ty, present }, Known(Ok(v))) => {
                let names = self.names(&path);
                match (ty, v) {
                    (Ty::Set(_), v) => Ok(bool_of(Cond::Contains { path: names, value: v }, present)),
                    (Ty::String, Value::String(part)) => Ok(bool_of(
                        Cond::Like {
                            path: names,
                            pieces: vec![String::new(), part.to_string(), String::new()],
                        },
                        present,
                    )),
                    _ => fails(),
                }
            }
            // ["a", "b"].contains(resource.status)
            (BinaryOp::Contains, Known(Ok(v)), Path { path, present, .. }) => match v {
                Value::Set(items) => Ok(bool_of(
                    Cond::OneOf {
                        path: self.names(&path),
                        values: items.to_vec(),
                    },
                    present,
                )),
                Value::String(_) => Err(Unsupported("a search for resource data inside a known string")),
                _ => fails(),
            },
            (BinaryOp::ContainsAny, Path { path, ty, present }, Known(Ok(v)))
            | (BinaryOp::ContainsAny, Known(Ok(v)), Path { path, ty, present }) => match (ty, v) {
                (Ty::Set(_), Value::Set(items)) => Ok(bool_of(
                    Cond::ContainsAny {
                        path: self.names(&path),
                        values: items.to_vec(),
                    },
                    present,
                )),
                _ => fails(),
            },
            (BinaryOp::ContainsAll, Path { path, ty, present }, Known(Ok(v))) => match (ty, v) {
                (Ty::Set(_), Value::Set(items)) => Ok(bool_of(
                    Cond::ContainsAll {
                        path: self.names(&path),
                        values: items.to_vec(),
                    },
                    present,
                )),
                _ => fails(),
            },
            (BinaryOp::ContainsAll, Known(_), Path { .. }) => {
                Err(Unsupported("`contains_all` of a resource attribute's items"))
            }
            (BinaryOp::HasScope, ..) => Err(Unsupported("`has_scope` on resource data")),
            (_, Path { .. }, Path { .. }) => Err(Unsupported("a comparison of two resource attributes")),
            _ => Err(Unsupported("this operator on resource data")),
        }
    }
}

/// `a OP b` read as `b OP' a`.
fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Le => BinaryOp::Ge,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Ge => BinaryOp::Le,
        other => other,
    }
}

/// Whether `==` between a value of schema type `ty` and `value` compares rather than fails
/// ([`crate::ops::same_type`]).
fn type_admits(ty: &Ty, value: &Value) -> bool {
    match (ty, value) {
        (Ty::Enum(a), Value::Enum(b, _)) => a == b,
        (Ty::Entity(_) | Ty::AnyEntity, Value::Entity(_)) => true,
        (Ty::Bool, Value::Bool(_))
        | (Ty::Int, Value::Int(_))
        | (Ty::String, Value::String(_))
        | (Ty::Ip, Value::Ip(_))
        | (Ty::Duration, Value::Duration(_))
        | (Ty::Timestamp, Value::Timestamp(_))
        | (Ty::Decimal, Value::Decimal(_))
        | (Ty::Tls, Value::Tls(_))
        | (Ty::Set(_), Value::Set(_))
        | (Ty::Record(_), Value::Record(_))
        | (Ty::Map(_), Value::Map(_)) => true,
        _ => false,
    }
}

fn compare(op: CmpOp, path: AttrPath, value: Value) -> Cond {
    Cond::Compare { op, path, value }
}

/// `a and b and …`, flattened, with constants folded and repeats dropped.
pub(crate) fn and(items: Vec<Cond>) -> Cond {
    junction(items, true)
}

/// `a or b or …`, flattened, with constants folded and repeats dropped.
pub(crate) fn or(items: Vec<Cond>) -> Cond {
    junction(items, false)
}

/// `and` (`all`) or `or`: the constant `all` is the identity and `!all` absorbs; `x` with
/// `not x` absorbs too.
fn junction(items: Vec<Cond>, all: bool) -> Cond {
    let mut out: Vec<Cond> = Vec::new();
    let keep = |c: Cond, out: &mut Vec<Cond>| {
        if !out.contains(&c) {
            out.push(c);
        }
    };
    for item in items {
        match item {
            Cond::Const(b) if b == all => {}
            Cond::Const(_) => return Cond::Const(!all),
            Cond::And(inner) if all => inner.into_iter().for_each(|c| keep(c, &mut out)),
            Cond::Or(inner) if !all => inner.into_iter().for_each(|c| keep(c, &mut out)),
            c => keep(c, &mut out),
        }
    }
    if out
        .iter()
        .any(|c| matches!(c, Cond::Not(inner) if out.contains(inner)))
    {
        return Cond::Const(!all);
    }
    match out.len() {
        0 => Cond::Const(all),
        1 => out.pop().unwrap_or(Cond::Const(all)),
        _ if all => Cond::And(out),
        _ => Cond::Or(out),
    }
}

pub(crate) fn not(item: Cond) -> Cond {
    match item {
        Cond::Const(b) => Cond::Const(!b),
        Cond::Not(inner) => *inner,
        c => Cond::Not(Box::new(c)),
    }
}
