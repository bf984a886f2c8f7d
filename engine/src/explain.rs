//! Explanations: for each rule and obligation the index selected for a request, whether it
//! applied and which conjunct decided that.

use serde::{Deserialize, Serialize};

use crate::bundle::{Condition, RuleKind, TypeId};
use crate::decide::{Clause, Verdict};
use crate::decision::Decision;
use crate::display::type_name;
use crate::engine::Engine;
use crate::entities::EntityStore;
use crate::eval::EvalError;
use crate::request::Request;

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
        let mut rules = Vec::new();
        let outcome = self.run(request, entities, Some(&mut rules));
        let route = request
            .route
            .and_then(|r| usize::try_from(r).ok())
            .and_then(|r| self.bundle.routes.get(r))
            .map(|r| format!("{} {}", r.method.as_deref().unwrap_or("*"), r.template));
        let explanation = Explanation {
            principal: self.uid_to_string(&outcome.principal),
            action: self.action_name(request.action).to_string(),
            resource: self.uid_to_string(&request.resource),
            route,
            rules,
        };
        (outcome.decision, explanation)
    }
}

impl RuleTrace {
    pub(crate) fn of_verdict(id: &str, kind: TraceKind, verdict: &Verdict<'_>) -> RuleTrace {
        let (outcome, detail) = match verdict {
            Verdict::Applied {
                unless_false,
                require_false,
            } => {
                let mut detail = match require_false {
                    Some(c) => format!("require: `{}` was false", c.text),
                    None => String::from("when: all conditions held"),
                };
                if let Some(c) = unless_false {
                    detail.push_str(&format!("; unless: `{}` was false", c.text));
                }
                (TraceOutcome::Applied, detail)
            }
            Verdict::WhenFalse(c) => (
                TraceOutcome::NotApplied,
                format!("when: `{}` was false", c.text),
            ),
            Verdict::UnlessHeld(condition) => (
                TraceOutcome::NotApplied,
                format!("unless: `{}` held", joined(condition)),
            ),
            Verdict::RequireHeld(condition) => (
                TraceOutcome::NotApplied,
                format!("require: `{}` held", joined(condition)),
            ),
            Verdict::Error {
                clause,
                conjunct,
                error,
            } => {
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
                    format!("{clause}: `{}`: {}; {effect}", conjunct.text, error.message),
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

    pub(crate) fn obligation_value_error(id: &str, error: &EvalError) -> RuleTrace {
        RuleTrace {
            id: id.to_string(),
            kind: TraceKind::Obligation,
            outcome: TraceOutcome::Error,
            detail: format!(
                "value: {}; the decision is deny (fail closed)",
                error.message
            ),
        }
    }
}

fn joined(condition: &Condition) -> String {
    let texts: Vec<&str> = condition
        .conjuncts
        .iter()
        .map(|c| c.text.as_str())
        .collect();
    if texts.is_empty() {
        String::from("true")
    } else {
        texts.join(" and ")
    }
}
