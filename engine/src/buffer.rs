//! The allocation-free form of a decision: a reusable [`DecisionBuffer`] that
//! [`Engine::decide_into`] fills with rule and obligation indexes, read through a
//! [`DecisionView`]; the owned [`Decision`] (ids, reasons and obligation texts as `String`s)
//! is built from it only when asked, at the API edge.

use crate::bundle::{ObligationKind, Rule};
use crate::decision::{Decision, DecisionError, Effect, ObligationOut};
use crate::display::{uid_literal, value_literal};
use crate::engine::Engine;
use crate::entities::EntityStore;
use crate::request::Request;
use crate::value::Value;

/// Reusable space for the outcome of [`Engine::decide_into`].
///
/// Keep one per thread and pass it to every decision: once its lists have grown to the
/// engine's largest candidate set ([`Engine::decision_buffer`] sizes them up front), a
/// decision without errors allocates nothing. A buffer may be used with several engines;
/// its contents are read through the [`DecisionView`] of the call that filled it.
#[derive(Debug, Clone, Default)]
pub struct DecisionBuffer {
    /// The deciding rules, as slots of the engine's compiled rules, in bundle order: the
    /// applying deny/require rules once one applied, else the applying allow rules.
    pub(crate) deciding: Vec<u32>,
    /// A deny or require rule applied.
    pub(crate) denied: bool,
    pub(crate) errors: Vec<DecisionError>,
    /// Applying obligations, as slots of the engine's compiled obligations. Their values
    /// (keys, header values) are computed again when a [`Decision`] is built.
    pub(crate) obligations: Vec<u32>,
    /// An obligation failed to evaluate: the decision is a deny.
    pub(crate) obligation_failed: bool,
}

impl DecisionBuffer {
    /// An empty buffer; it grows on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// A buffer that holds `rules` deciding rules and `obligations` obligations without
    /// growing.
    pub fn with_capacity(rules: usize, obligations: usize) -> Self {
        DecisionBuffer {
            deciding: Vec::with_capacity(rules),
            obligations: Vec::with_capacity(obligations),
            ..Self::default()
        }
    }

    pub(crate) fn reset(&mut self) {
        self.deciding.clear();
        self.denied = false;
        self.errors.clear();
        self.obligations.clear();
        self.obligation_failed = false;
    }

    /// Whether the rules allowed (obligations not considered).
    pub(crate) fn rules_allow(&self) -> bool {
        !self.denied && !self.deciding.is_empty()
    }

    /// Applies the obligations' verdict: a failed obligation makes the decision a deny
    /// with no deciding rule and no obligation.
    pub(crate) fn settle(&mut self) {
        if self.obligation_failed {
            self.deciding.clear();
            self.obligations.clear();
        }
    }

    fn effect(&self) -> Effect {
        if self.rules_allow() && !self.obligation_failed {
            Effect::Allow
        } else {
            Effect::Deny
        }
    }
}

/// A decision held in a [`DecisionBuffer`], read through the engine that made it.
/// Reading it allocates nothing, except [`DecisionView::to_decision`].
#[derive(Debug, Clone, Copy)]
pub struct DecisionView<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) buffer: &'a DecisionBuffer,
    pub(crate) request: &'a Request,
    pub(crate) entities: &'a EntityStore,
}

impl<'a> DecisionView<'a> {
    pub fn effect(&self) -> Effect {
        self.buffer.effect()
    }

    pub fn is_allow(&self) -> bool {
        self.effect() == Effect::Allow
    }

    /// The rules that decided, in bundle order: the applying deny/require rules for a
    /// deny, the applying allow rules for an allow, none for a default deny.
    pub fn rules(&self) -> impl Iterator<Item = &'a Rule> + 'a {
        let engine = self.engine;
        self.buffer
            .deciding
            .iter()
            .filter_map(move |slot| engine.bundle_rule(*slot))
    }

    /// The ids of [`Self::rules`].
    pub fn rule_ids(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.rules().map(|rule| rule.id.as_str())
    }

    /// Every evaluation error met while deciding.
    pub fn errors(&self) -> &'a [DecisionError] {
        &self.buffer.errors
    }

    /// How many obligations the enforcer must carry out.
    pub fn obligation_count(&self) -> usize {
        self.buffer.obligations.len()
    }

    /// The owned decision: ids, reasons (deduplicated in order of first appearance),
    /// errors, obligations and controls.
    pub fn to_decision(&self) -> Decision {
        let mut reasons: Vec<String> = Vec::new();
        let mut controls: Vec<String> = Vec::new();
        for rule in self.rules() {
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
            decision: self.effect(),
            rules: self.rule_ids().map(str::to_string).collect(),
            reasons,
            errors: self.buffer.errors.clone(),
            obligations: self.obligations(),
            controls,
        }
    }

    /// The obligations' outputs. Their values are computed again from the request: the
    /// same inputs give the same values the decision procedure checked.
    fn obligations(&self) -> Vec<ObligationOut> {
        if self.buffer.obligations.is_empty() {
            return Vec::new();
        }
        let cx = self.engine.request_context(self.request, self.entities);
        self.buffer
            .obligations
            .iter()
            .filter_map(|slot| {
                let compiled = self.engine.compiled_obligation(*slot)?;
                let value = match compiled.value {
                    Some((node, _)) => Some(cx.eval(node).ok()?),
                    None => None,
                };
                self.obligation_output(*slot, value.as_deref())
            })
            .collect()
    }

    fn obligation_output(&self, slot: u32, value: Option<&Value>) -> Option<ObligationOut> {
        let obligation = self.engine.bundle_obligation(slot)?;
        let rule = obligation.id.clone();
        let schema = &self.engine.bundle.schema;
        Some(match &obligation.kind {
            ObligationKind::Mask { fields } => ObligationOut::Mask {
                fields: fields.clone(),
                rule,
            },
            ObligationKind::RateLimit { limit, per_ms, .. } => ObligationOut::RateLimit {
                limit: *limit,
                per_s: u64::try_from(per_ms.checked_div(1000).unwrap_or(0)).unwrap_or(0),
                key: match value? {
                    Value::Entity(uid) => uid_literal(schema, uid),
                    other => self.scalar_text(other),
                },
                rule,
            },
            ObligationKind::RequestHeader { name, .. } => ObligationOut::RequestHeader {
                name: name.clone(),
                value: self.header_text(value?),
                rule,
            },
            ObligationKind::ResponseHeader { name, .. } => ObligationOut::ResponseHeader {
                name: name.clone(),
                value: self.header_text(value?),
                rule,
            },
            ObligationKind::RemoveHeader { name } => ObligationOut::RemoveHeader {
                name: name.clone(),
                rule,
            },
        })
    }

    fn header_text(&self, value: &Value) -> String {
        match value {
            Value::Entity(uid) => uid.id.to_string(),
            other => self.scalar_text(other),
        }
    }

    /// A string as is; another value in its literal form (the decision procedure refused
    /// sets, records and maps already).
    fn scalar_text(&self, value: &Value) -> String {
        match value {
            Value::String(text) => text.to_string(),
            other => {
                let bundle = &self.engine.bundle;
                value_literal(&bundle.schema, &bundle.symbols, other)
            }
        }
    }
}
