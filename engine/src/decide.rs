//! The decision procedure.
//!
//! 1. The principal is the request's, else the first `principal` mapping whose condition
//!    holds and whose id evaluates, else `Anonymous::""`.
//! 2. The rule index selects the rules for the action and resource type; each is kept if
//!    its package is selected and its principal scope covers the principal's type.
//! 3. Every kept rule is evaluated. A deny/require applies when its conditions say so *or*
//!    when evaluating them fails; an allow applies only when its conditions say so.
//! 4. Deny if any deny/require applies, else allow if any allow applies, else deny.
//! 5. On allow, the selected obligations are evaluated; an error in one turns the allow
//!    into a deny (fail closed).

use crate::bundle::{Condition, Conjunct, Expr, ObligationKind, Rule, RuleKind};
use crate::decision::{Decision, DecisionError, Effect, ObligationOut};
use crate::display::{uid_literal, value_literal};
use crate::engine::Engine;
use crate::entities::EntityStore;
use crate::eval::{EvalContext, EvalError};
use crate::explain::{RuleTrace, TraceKind};
use crate::index::principal_in_scope;
use crate::request::Request;
use crate::value::{EntityUid, Value};

/// Which part of a rule a conjunct belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clause {
    When,
    Unless,
    Require,
}

/// How a rule's (or obligation's) conditions came out.
#[derive(Debug)]
pub(crate) enum Verdict<'b> {
    /// `when` held and `unless` did not; for a `require`, the required condition failed at
    /// `require_false`.
    Applied {
        unless_false: Option<&'b Conjunct>,
        require_false: Option<&'b Conjunct>,
    },
    WhenFalse(&'b Conjunct),
    UnlessHeld(&'b Condition),
    RequireHeld(&'b Condition),
    Error {
        clause: Clause,
        conjunct: &'b Conjunct,
        error: EvalError,
    },
}

/// The result of deciding, with the principal it was decided for.
pub(crate) struct Outcome {
    pub decision: Decision,
    pub principal: EntityUid,
}

impl Engine {
    /// Decides a request against entity data.
    pub fn decide(&self, request: &Request, entities: &EntityStore) -> Decision {
        self.run(request, entities, None).decision
    }

    /// Reads a request and decides it; a request that cannot be read is denied with the
    /// reading error listed.
    pub fn decide_json(&self, json: &str, entities: &EntityStore) -> Decision {
        match self.parse_request(json) {
            Ok(request) => self.decide(&request, entities),
            Err(error) => Decision::error(error.to_string()),
        }
    }

    pub(crate) fn run(
        &self,
        request: &Request,
        entities: &EntityStore,
        mut trace: Option<&mut Vec<RuleTrace>>,
    ) -> Outcome {
        let principal = match &request.principal {
            Some(principal) => principal.clone(),
            None => self.map_principal(request, entities),
        };
        let cx = EvalContext {
            engine: self,
            entities,
            principal: Some(&principal),
            action: request.action,
            resource: Some(&request.resource),
            context: Some(&request.context),
            params: &[],
        };
        let mut denies: Vec<&Rule> = Vec::new();
        let mut allows: Vec<&Rule> = Vec::new();
        let mut errors: Vec<DecisionError> = Vec::new();
        for &index in self.rule_index.select(request.action, request.resource.ty) {
            let Some(rule) = usize::try_from(index)
                .ok()
                .and_then(|i| self.bundle.rules.get(i))
            else {
                continue;
            };
            if !self.package_selected(request.package, rule.package) {
                continue;
            }
            let is_allow = rule.kind == RuleKind::Allow;
            if !principal_in_scope(&rule.scope, is_allow, principal.ty) {
                if let Some(trace) = trace.as_deref_mut() {
                    trace.push(RuleTrace::out_of_scope(
                        self,
                        &rule.id,
                        rule.kind.into(),
                        principal.ty,
                        is_allow,
                    ));
                }
                continue;
            }
            let verdict =
                rule_verdict(&cx, &rule.when, rule.unless.as_ref(), rule.require.as_ref());
            let applies = match &verdict {
                Verdict::Applied { .. } => true,
                Verdict::Error { error, .. } => {
                    errors.push(DecisionError {
                        rule: Some(rule.id.clone()),
                        message: error.message.clone(),
                    });
                    !is_allow
                }
                _ => false,
            };
            if applies {
                if is_allow {
                    allows.push(rule)
                } else {
                    denies.push(rule)
                }
            }
            if let Some(trace) = trace.as_deref_mut() {
                trace.push(RuleTrace::of_verdict(&rule.id, rule.kind.into(), &verdict));
            }
        }
        let (effect, deciding) = if !denies.is_empty() {
            (Effect::Deny, denies)
        } else if !allows.is_empty() {
            (Effect::Allow, allows)
        } else {
            (Effect::Deny, Vec::new())
        };
        let mut decision = deciding_rules(effect, &deciding, errors);
        self.add_obligations(&cx, request, &mut decision, trace);
        Outcome {
            decision,
            principal,
        }
    }

    /// The first mapping whose `when` holds and whose id evaluates; else `Anonymous::""`.
    fn map_principal(&self, request: &Request, entities: &EntityStore) -> EntityUid {
        let cx = EvalContext {
            engine: self,
            entities,
            principal: None,
            action: request.action,
            resource: Some(&request.resource),
            context: Some(&request.context),
            params: &[],
        };
        for mapping in &self.bundle.principals {
            if !self.package_selected(request.package, mapping.package) {
                continue;
            }
            let holds = mapping
                .when
                .conjuncts
                .iter()
                .try_fold(true, |all, c| Ok::<_, EvalError>(all && cx.truth(&c.expr)?));
            if holds != Ok(true) {
                continue;
            }
            if let Ok(Value::String(id)) = cx.eval(&mapping.id) {
                return EntityUid {
                    ty: mapping.entity_type,
                    id,
                };
            }
        }
        EntityUid {
            ty: 0,
            id: std::sync::Arc::from(""),
        }
    }

    /// On an allow, evaluates the selected obligations; an error turns the allow into a deny.
    fn add_obligations(
        &self,
        cx: &EvalContext<'_>,
        request: &Request,
        decision: &mut Decision,
        mut trace: Option<&mut Vec<RuleTrace>>,
    ) {
        let principal = cx.principal.map_or(0, |p| p.ty);
        let mut failures: Vec<DecisionError> = Vec::new();
        for &index in self
            .obligation_index
            .select(request.action, request.resource.ty)
        {
            let Some(obligation) = usize::try_from(index)
                .ok()
                .and_then(|i| self.bundle.obligations.get(i))
            else {
                continue;
            };
            if !self.package_selected(request.package, obligation.package) {
                continue;
            }
            if !principal_in_scope(&obligation.scope, false, principal) {
                if let Some(trace) = trace.as_deref_mut() {
                    trace.push(RuleTrace::out_of_scope(
                        self,
                        &obligation.id,
                        TraceKind::Obligation,
                        principal,
                        false,
                    ));
                }
                continue;
            }
            if !decision.is_allow() {
                if let Some(trace) = trace.as_deref_mut() {
                    trace.push(RuleTrace::not_evaluated(&obligation.id));
                }
                continue;
            }
            let verdict = rule_verdict(cx, &obligation.when, obligation.unless.as_ref(), None);
            let (failure, entry) = match &verdict {
                Verdict::Applied { .. } => {
                    match self.obligation_output(cx, &obligation.kind, &obligation.id) {
                        Ok(out) => {
                            decision.obligations.push(out);
                            (None, None)
                        }
                        Err(error) => {
                            let entry = trace
                                .is_some()
                                .then(|| RuleTrace::obligation_value_error(&obligation.id, &error));
                            (Some(error), entry)
                        }
                    }
                }
                Verdict::Error { error, .. } => (Some(error.clone()), None),
                _ => (None, None),
            };
            if let Some(trace) = trace.as_deref_mut() {
                trace.push(entry.unwrap_or_else(|| {
                    RuleTrace::of_verdict(&obligation.id, TraceKind::Obligation, &verdict)
                }));
            }
            if let Some(error) = failure {
                failures.push(DecisionError {
                    rule: Some(obligation.id.clone()),
                    message: error.message,
                });
            }
        }
        if !failures.is_empty() {
            decision.decision = Effect::Deny;
            decision.rules.clear();
            decision.reasons.clear();
            decision.controls.clear();
            decision.obligations.clear();
            decision.errors.extend(failures);
        }
    }

    fn obligation_output(
        &self,
        cx: &EvalContext<'_>,
        kind: &ObligationKind,
        rule: &str,
    ) -> Result<ObligationOut, EvalError> {
        let rule = rule.to_string();
        Ok(match kind {
            ObligationKind::Mask { fields } => ObligationOut::Mask {
                fields: fields.clone(),
                rule,
            },
            ObligationKind::RateLimit { limit, per_ms, key } => {
                let key = match cx.eval(key)? {
                    Value::Entity(uid) => uid_literal(&self.bundle.schema, &uid),
                    other => self.scalar_text(&other, "a rate-limit key")?,
                };
                let per_s = u64::try_from(per_ms.checked_div(1000).unwrap_or(0)).unwrap_or(0);
                ObligationOut::RateLimit {
                    limit: *limit,
                    per_s,
                    key,
                    rule,
                }
            }
            ObligationKind::RequestHeader { name, value } => ObligationOut::RequestHeader {
                name: name.clone(),
                value: self.header_value(cx, value)?,
                rule,
            },
            ObligationKind::ResponseHeader { name, value } => ObligationOut::ResponseHeader {
                name: name.clone(),
                value: self.header_value(cx, value)?,
                rule,
            },
            ObligationKind::RemoveHeader { name } => ObligationOut::RemoveHeader {
                name: name.clone(),
                rule,
            },
        })
    }

    fn header_value(&self, cx: &EvalContext<'_>, expr: &Expr) -> Result<String, EvalError> {
        match cx.eval(expr)? {
            Value::Entity(uid) => Ok(uid.id.to_string()),
            other => self.scalar_text(&other, "a header value"),
        }
    }

    /// A string as is; another scalar in its literal form; sets, records and maps refused.
    fn scalar_text(&self, value: &Value, what: &str) -> Result<String, EvalError> {
        match value {
            Value::String(text) => Ok(text.to_string()),
            Value::Set(_) | Value::Record(_) | Value::Map(_) => Err(EvalError::new(format!(
                "{what} must be a single value, found {}",
                value.kind()
            ))),
            other => Ok(value_literal(
                &self.bundle.schema,
                &self.bundle.symbols,
                other,
            )),
        }
    }
}

/// Builds the decision of the deciding rules: ids in bundle order, reasons and controls
/// deduplicated in order of first appearance.
fn deciding_rules(effect: Effect, deciding: &[&Rule], errors: Vec<DecisionError>) -> Decision {
    let mut reasons: Vec<String> = Vec::new();
    let mut controls: Vec<String> = Vec::new();
    for rule in deciding {
        if let Some(reason) = &rule.reason {
            if !reasons.contains(reason) {
                reasons.push(reason.clone());
            }
        }
        for control in &rule.controls {
            if !controls.contains(control) {
                controls.push(control.clone());
            }
        }
    }
    Decision {
        decision: effect,
        rules: deciding.iter().map(|r| r.id.clone()).collect(),
        reasons,
        errors,
        obligations: Vec::new(),
        controls,
    }
}

/// Evaluates `when`, then `unless`, then the required condition, stopping at the first
/// conjunct that decides.
pub(crate) fn rule_verdict<'b>(
    cx: &EvalContext<'_>,
    when: &'b Condition,
    unless: Option<&'b Condition>,
    require: Option<&'b Condition>,
) -> Verdict<'b> {
    match first_false(cx, when) {
        Err((conjunct, error)) => {
            return Verdict::Error {
                clause: Clause::When,
                conjunct,
                error,
            }
        }
        Ok(Some(conjunct)) => return Verdict::WhenFalse(conjunct),
        Ok(None) => {}
    }
    let unless_false = match unless.map(|u| (u, first_false(cx, u))) {
        None => None,
        Some((_, Err((conjunct, error)))) => {
            return Verdict::Error {
                clause: Clause::Unless,
                conjunct,
                error,
            }
        }
        Some((condition, Ok(None))) => return Verdict::UnlessHeld(condition),
        Some((_, Ok(Some(conjunct)))) => Some(conjunct),
    };
    let require_false = match require.map(|r| (r, first_false(cx, r))) {
        None => None,
        Some((_, Err((conjunct, error)))) => {
            return Verdict::Error {
                clause: Clause::Require,
                conjunct,
                error,
            }
        }
        Some((condition, Ok(None))) => return Verdict::RequireHeld(condition),
        Some((_, Ok(Some(conjunct)))) => Some(conjunct),
    };
    Verdict::Applied {
        unless_false,
        require_false,
    }
}

/// The first conjunct that is false (`None`: all hold), or the first that fails.
fn first_false<'b>(
    cx: &EvalContext<'_>,
    condition: &'b Condition,
) -> Result<Option<&'b Conjunct>, (&'b Conjunct, EvalError)> {
    for conjunct in &condition.conjuncts {
        match cx.truth(&conjunct.expr) {
            Ok(true) => {}
            Ok(false) => return Ok(Some(conjunct)),
            Err(error) => return Err((conjunct, error)),
        }
    }
    Ok(None)
}
