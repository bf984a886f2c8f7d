//! Explanations: for each rule and obligation the index selected for a request, whether it
//! applied and which conjunct decided that.

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use crate::buffer::{DecisionBuffer, DecisionView};
use crate::bundle::{Condition, RuleKind, TypeId};
use crate::decide::{BufferObserver, Clause, ObligationOutcome, Observer, Verdict};
use crate::decision::Decision;
use crate::display::type_name;
use crate::engine::Engine;
use crate::entities::EntityStore;
use crate::eval::EvalError;
use crate::program::{CompiledObligation, CompiledRule};
use crate::request::Request;
use crate::value::EntityUid;

/// Why a request was decided the way it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// The principal decided for (after mapping): `User::"alice"`.
    pub principal: String,
    pub action: String,
    pub resource: String,
    /// The route a raw HTTP request matched: `GET /v1/accounts/{id}`.
    pub route: Option<String>,
    /// One entry per rule and obligation the index selected, rules first, in bundle order.
    pub rules: Vec<RuleTrace>,
}

/// What happened to one rule or obligation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleTrace {
    pub id: String,
    pub kind: TraceKind,
    pub outcome: TraceOutcome,
    /// Human text: which conjunct decided, e.g. ``when: `context.tls.mtls` was false``.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceKind {
    Allow,
    Deny,
    Require,
    Obligation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceOutcome {
    Applied,
    NotApplied,
    /// Evaluation failed: a deny/require applied anyway, an allow did not, an obligation
    /// turned the decision into a deny.
    Error,
}

impl From<RuleKind> for TraceKind {
    fn from(kind: RuleKind) -> Self {
        match kind {
            RuleKind::Allow => TraceKind::Allow,
            RuleKind::Deny => TraceKind::Deny,
            RuleKind::Require => TraceKind::Require,
        }
    }
}

impl Engine {
    /// Decides a request and explains the decision rule by rule.
    pub fn explain(&self, request: &Request, entities: &EntityStore) -> (Decision, Explanation) {
        let mut buffer = DecisionBuffer::new();
        let mut observer = TraceObserver {
            inner: BufferObserver {
                buffer: &mut buffer,
            },
            principal: String::new(),
            rules: Vec::new(),
        };
        self.walk(request, entities, &mut observer);
        let TraceObserver {
            principal, rules, ..
        } = observer;
        buffer.settle();
        let decision = DecisionView {
            engine: self,
            buffer: &buffer,
            request,
            entities,
        }
        .to_decision();
        let route = request
            .route
            .and_then(|r| usize::try_from(r).ok())
            .and_then(|r| self.bundle.routes.get(r))
            .map(|r| format!("{} {}", r.method.as_deref().unwrap_or("*"), r.template));
        let explanation = Explanation {
            principal,
            action: self.action_name(request.action).to_string(),
            resource: self.uid_to_string(&request.resource),
            route,
            rules,
        };
        (decision, explanation)
    }
}

/// The explained decision as `rampart eval --explain` prints it and the wasm module's
/// `rampart_explain` answers: the decision JSON's fields, then `explain`. A request that
/// cannot be read has no explanation: its answer is the error decision alone.
pub fn explained_json(decision: &Decision, explanation: &Explanation) -> serde_json::Value {
    // Both serialise infallibly (strings, lists and unit enums); a failure would read as null.
    let mut out = serde_json::to_value(decision).unwrap_or_default();
    if let Some(object) = out.as_object_mut() {
        object.insert(
            "explain".into(),
            serde_json::to_value(explanation).unwrap_or_default(),
        );
    }
    out
}

/// Records a trace entry for every rule and obligation, and the decision in a buffer.
struct TraceObserver<'b> {
    inner: BufferObserver<'b>,
    principal: String,
    rules: Vec<RuleTrace>,
}

impl Observer for TraceObserver<'_> {
    const EXPLAIN: bool = true;

    fn principal(&mut self, engine: &Engine, principal: &EntityUid) {
        self.principal = engine.uid_to_string(principal);
    }

    fn rule_out_of_scope(&mut self, engine: &Engine, rule: &CompiledRule, principal: TypeId) {
        if let Some(bundle_rule) = engine.bundle_rule_of(rule) {
            let is_allow = rule.kind == RuleKind::Allow;
            let kind = rule.kind.into();
            let id = &bundle_rule.id;
            let trace = RuleTrace::out_of_scope(engine, id, kind, principal, is_allow);
            self.rules.push(trace);
        }
    }

    fn outside_head(&mut self, _engine: &Engine, id: &str, kind: TraceKind, why: String) {
        self.rules.push(RuleTrace {
            id: id.to_string(),
            kind,
            outcome: TraceOutcome::NotApplied,
            detail: why,
        });
    }

    fn rule(
        &mut self,
        engine: &Engine,
        slot: u32,
        rule: &CompiledRule,
        verdict: Verdict,
    ) -> ControlFlow<()> {
        if let Some(r) = engine.bundle_rule(slot) {
            let texts = Texts {
                when: &r.when,
                unless: r.unless.as_ref(),
                require: r.require.as_ref(),
            };
            let trace = RuleTrace::of_verdict(engine, &r.id, r.kind.into(), &verdict, texts);
            self.rules.push(trace);
        }
        self.inner.rule(engine, slot, rule, verdict)
    }

    fn allowed(&self) -> bool {
        self.inner.allowed()
    }

    fn obligation_out_of_scope(
        &mut self,
        engine: &Engine,
        obligation: &CompiledObligation,
        principal: TypeId,
    ) {
        if let Some(o) = engine.bundle_obligation_of(obligation) {
            let kind = TraceKind::Obligation;
            let trace = RuleTrace::out_of_scope(engine, &o.id, kind, principal, false);
            self.rules.push(trace);
        }
    }

    fn obligation_not_evaluated(&mut self, engine: &Engine, obligation: &CompiledObligation) {
        if let Some(o) = engine.bundle_obligation_of(obligation) {
            self.rules.push(RuleTrace::not_evaluated(&o.id));
        }
    }

    fn obligation(
        &mut self,
        engine: &Engine,
        slot: u32,
        obligation: &CompiledObligation,
        outcome: ObligationOutcome,
    ) -> ControlFlow<()> {
        if let Some(o) = engine.bundle_obligation(slot) {
            let texts = Texts {
                when: &o.when,
                unless: o.unless.as_ref(),
                require: None,
            };
            let kind = TraceKind::Obligation;
            let trace = match &outcome {
                ObligationOutcome::Conditions(verdict) | ObligationOutcome::Applied(verdict) => {
                    RuleTrace::of_verdict(engine, &o.id, kind, verdict, texts)
                }
                ObligationOutcome::ValueError(error) => {
                    RuleTrace::obligation_value_error(engine, &o.id, error)
                }
            };
            self.rules.push(trace);
        }
        self.inner.obligation(engine, slot, obligation, outcome)
    }
}

/// The conditions of a rule or obligation, for the texts of its conjuncts.
#[derive(Clone, Copy)]
struct Texts<'b> {
    when: &'b Condition,
    unless: Option<&'b Condition>,
    require: Option<&'b Condition>,
}

impl<'b> Texts<'b> {
    fn clause(&self, clause: Clause) -> Option<&'b Condition> {
        match clause {
            Clause::When => Some(self.when),
            Clause::Unless => self.unless,
            Clause::Require => self.require,
        }
    }

    fn conjunct(&self, clause: Clause, position: usize) -> &'b str {
        self.clause(clause)
            .and_then(|c| c.conjuncts.get(position))
            .map_or("?", |c| c.text.as_str())
    }
}

impl RuleTrace {
    fn of_verdict(
        engine: &Engine,
        id: &str,
        kind: TraceKind,
        verdict: &Verdict,
        texts: Texts<'_>,
    ) -> RuleTrace {
        let (outcome, detail) = match verdict {
            Verdict::Applied {
                unless_false,
                require_false,
            } => {
                let mut detail = match require_false {
                    Some(c) => format!(
                        "require: `{}` was false",
                        texts.conjunct(Clause::Require, *c)
                    ),
                    None => String::from("when: all conditions held"),
                };
                if let Some(c) = unless_false {
                    let text = texts.conjunct(Clause::Unless, *c);
                    detail.push_str(&format!("; unless: `{text}` was false"));
                }
                (TraceOutcome::Applied, detail)
            }
            Verdict::WhenFalse(c) => (
                TraceOutcome::NotApplied,
                format!("when: `{}` was false", texts.conjunct(Clause::When, *c)),
            ),
            Verdict::UnlessHeld => (
                TraceOutcome::NotApplied,
                format!("unless: `{}` held", joined(texts.unless)),
            ),
            Verdict::RequireHeld => (
                TraceOutcome::NotApplied,
                format!("require: `{}` held", joined(texts.require)),
            ),
            Verdict::Error {
                clause,
                conjunct,
                error,
            } => {
                let text = texts.conjunct(*clause, *conjunct);
                let clause = match clause {
                    Clause::When => "when",
                    Clause::Unless => "unless",
                    Clause::Require => "require",
                };
                let effect = match kind {
                    TraceKind::Allow => "the rule does not apply",
                    TraceKind::Deny | TraceKind::Require => "the rule applies (fail closed)",
                    TraceKind::Obligation => "the decision is deny (fail closed)",
                };
                (
                    TraceOutcome::Error,
                    format!("{clause}: `{text}`: {}; {effect}", error.message(engine)),
                )
            }
        };
        RuleTrace {
            id: id.to_string(),
            kind,
            outcome,
            detail,
        }
    }

    pub(crate) fn out_of_scope(
        engine: &Engine,
        id: &str,
        kind: TraceKind,
        principal: TypeId,
        is_allow: bool,
    ) -> RuleTrace {
        let name = type_name(&engine.bundle.schema, principal);
        let detail = if is_allow && principal == 0 {
            format!("principal type `{name}` is not in scope: an allow covers it only with `for {name}`")
        } else {
            format!("principal type `{name}` is not in scope")
        };
        RuleTrace {
            id: id.to_string(),
            kind,
            outcome: TraceOutcome::NotApplied,
            detail,
        }
    }

    pub(crate) fn not_evaluated(id: &str) -> RuleTrace {
        RuleTrace {
            id: id.to_string(),
            kind: TraceKind::Obligation,
            outcome: TraceOutcome::NotApplied,
            detail: String::from("not evaluated: obligations attach to allow decisions only"),
        }
    }

    pub(crate) fn obligation_value_error(
        engine: &Engine,
        id: &str,
        error: &EvalError,
    ) -> RuleTrace {
        RuleTrace {
            id: id.to_string(),
            kind: TraceKind::Obligation,
            outcome: TraceOutcome::Error,
            detail: format!(
                "value: {}; the decision is deny (fail closed)",
                error.message(engine)
            ),
        }
    }
}

fn joined(condition: Option<&Condition>) -> String {
    let texts: Vec<&str> = condition
        .map(|c| c.conjuncts.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|c| c.text.as_str())
        .collect();
    if texts.is_empty() {
        String::from("true")
    } else {
        texts.join(" and ")
    }
}
