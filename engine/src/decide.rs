//! The decision procedure.
//!
//! 1. The principal is the request's, else the first `principal` mapping whose condition
//!    holds and whose id evaluates, else `Anonymous::""`.
//! 2. The rule index selects the rules for the action, the resource type and the principal
//!    type; each is kept if its package is selected.
//! 3. Every kept rule is evaluated. A deny/require applies when its conditions say so *or*
//!    when evaluating them fails; an allow applies only when its conditions say so.
//! 4. Deny if any deny/require applies, else allow if any allow applies, else deny.
//! 5. On allow, the selected obligations are evaluated; an error in one turns the allow
//!    into a deny (fail closed).
//!
//! One walk ([`Engine::walk`]) implements this for every door; what it records is up to an
//! [`Observer`]: only the effect ([`Engine::decide_effect`]), rule and obligation indexes
//! in a reusable buffer ([`Engine::decide_into`]), or a trace of every rule
//! ([`Engine::explain`]). The first two allocate nothing when no error occurs.

use std::ops::ControlFlow;

use crate::buffer::{DecisionBuffer, DecisionView};
use crate::bundle::{ObligationKind, PackageId, RuleKind, TypeId};
use crate::decision::{Decision, DecisionError, Effect};
use crate::engine::Engine;
use crate::entities::EntityStore;
use crate::eval::{EvalContext, EvalError};
use crate::explain::TraceKind;
use crate::head;
use crate::index::principal_in_scope;
use crate::program::{CompiledObligation, CompiledRule, Span};
use crate::request::Request;

/// What a header obligation's value is called in messages; also tells the decision
/// procedure which obligation values must be sendable as HTTP header values.
pub(crate) const HEADER_VALUE: &str = "a header value";
use crate::val::{Resolved, Subject};
use crate::value::{EntityUid, Value};

/// Which part of a rule a conjunct belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clause {
    When,
    Unless,
    Require,
}

/// How a rule's (or obligation's) conditions came out; conjuncts by position in their
/// clause.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// `when` held and `unless` did not; for a `require`, the required condition failed at
    /// `require_false`.
    Applied {
        unless_false: Option<usize>,
        require_false: Option<usize>,
    },
    WhenFalse(usize),
    UnlessHeld,
    RequireHeld,
    Error {
        clause: Clause,
        conjunct: usize,
        error: EvalError,
    },
}

/// What became of an obligation whose scope covers the request, on an allow.
#[derive(Debug)]
pub(crate) enum ObligationOutcome {
    /// Its conditions did not hold, or failed (`Verdict::Error`).
    Conditions(Verdict),
    /// It applies, and its key or header value (if it has one) is a single value.
    Applied(Verdict),
    /// It applies but its value could not be computed.
    ValueError(EvalError),
}

/// What a walk records. Returning `Break` stops the walk: the outcome is settled.
pub(crate) trait Observer {
    /// Walk every rule of the action and resource type and report those outside the
    /// principal's scope, and obligations on a deny (explanations).
    const EXPLAIN: bool = false;

    fn principal(&mut self, _engine: &Engine, _principal: &EntityUid) {}

    fn rule_out_of_scope(&mut self, _engine: &Engine, _rule: &CompiledRule, _principal: TypeId) {}

    /// A rule or obligation whose scope head the request does not match; `why` says which
    /// (explanations only).
    fn outside_head(&mut self, _engine: &Engine, _id: &str, _kind: TraceKind, _why: String) {}

    fn rule(
        &mut self,
        engine: &Engine,
        slot: u32,
        rule: &CompiledRule,
        verdict: Verdict,
    ) -> ControlFlow<()>;

    /// Whether the rules allowed so far (obligations are evaluated only then).
    fn allowed(&self) -> bool;

    fn obligation_out_of_scope(
        &mut self,
        _engine: &Engine,
        _obligation: &CompiledObligation,
        _principal: TypeId,
    ) {
    }

    fn obligation_not_evaluated(&mut self, _engine: &Engine, _obligation: &CompiledObligation) {}

    fn obligation(
        &mut self,
        engine: &Engine,
        slot: u32,
        obligation: &CompiledObligation,
        outcome: ObligationOutcome,
    ) -> ControlFlow<()>;
}

impl Engine {
    /// Decides a request against entity data, as an owned [`Decision`].
    ///
    /// Convenient, but it allocates: the decision's ids, reasons and obligations are
    /// `String`s. On a hot path use [`Engine::decide_into`] (the same decision, without
    /// allocation, read through a [`DecisionView`]) or [`Engine::decide_effect`].
    pub fn decide(&self, request: &Request, entities: &EntityStore) -> Decision {
        let mut buffer = DecisionBuffer::new();
        self.decide_into(request, entities, &mut buffer)
            .to_decision()
    }

    /// Decides a request into a reusable buffer. **Allocates nothing** when no evaluation
    /// error occurs and the buffer has room (see [`Engine::decision_buffer`]): rules and
    /// obligations are recorded by index, and [`DecisionView::to_decision`] builds the owned
    /// [`Decision`] only when asked.
    pub fn decide_into<'b>(
        &'b self,
        request: &'b Request,
        entities: &'b EntityStore,
        buffer: &'b mut DecisionBuffer,
    ) -> DecisionView<'b> {
        buffer.reset();
        self.walk(request, entities, &mut BufferObserver { buffer });
        buffer.settle();
        DecisionView {
            engine: self,
            buffer,
            request,
            entities,
        }
    }

    /// Only the effect of [`Engine::decide`]. **Allocates nothing** when no evaluation
    /// error occurs, and stops at the first deny/require rule that applies.
    pub fn decide_effect(&self, request: &Request, entities: &EntityStore) -> Effect {
        let mut observer = EffectObserver::default();
        self.walk(request, entities, &mut observer);
        if observer.allowed() && !observer.failed {
            Effect::Allow
        } else {
            Effect::Deny
        }
    }

    /// A buffer for [`Engine::decide_into`] large enough for any request of this engine,
    /// so that not even the first decision grows it.
    pub fn decision_buffer(&self) -> DecisionBuffer {
        DecisionBuffer::with_capacity(
            self.rule_index.max_candidates(),
            self.obligation_index.max_candidates(),
        )
    }

    /// How many rules the index hands `request` to evaluate (before package selection):
    /// those of its action, resource type and principal type, less those whose
    /// discriminating key the request does not match. A measure of the index, for
    /// benchmarks and tests; deciding does not call it.
    pub fn candidate_count(&self, request: &Request, entities: &EntityStore) -> usize {
        let cx = self.request_context(request, entities);
        let principal = cx.principal.type_id();
        self.rule_index
            .select_keyed(request.action, request.resource.ty, principal, &cx)
            .count()
    }

    /// Reads a request and decides it; a request that cannot be read is denied with the
    /// reading error listed.
    pub fn decide_json(&self, json: &str, entities: &EntityStore) -> Decision {
        match self.parse_request(json) {
            Ok(request) => self.decide(&request, entities),
            Err(error) => Decision::error(error.to_string()),
        }
    }

    /// What the expressions of `request` see, its principal mapped if the request does not
    /// name one.
    pub(crate) fn request_context<'a>(
        &'a self,
        request: &'a Request,
        entities: &'a EntityStore,
    ) -> EvalContext<'a> {
        let mut cx = EvalContext::for_request(self, entities, request);
        self.map_unnamed_principal(&mut cx, request);
        cx
    }

    /// Maps the principal of a request that does not name one.
    fn map_unnamed_principal<'a>(&'a self, cx: &mut EvalContext<'a>, request: &Request) {
        if request.principal.is_none() {
            let mapped = self.map_principal(cx, request.package);
            cx.principal = Subject::Resolved(mapped);
        }
    }

    /// The decision procedure, reporting to `observer`.
    pub(crate) fn walk<O: Observer>(
        &self,
        request: &Request,
        entities: &EntityStore,
        observer: &mut O,
    ) {
        // Built here rather than by `request_context`: the context (with its memo) is a few
        // hundred bytes, and returning it would copy them on every decision.
        let mut cx = EvalContext::for_request(self, entities, request);
        self.map_unnamed_principal(&mut cx, request);
        let principal = cx.principal.type_id();
        if O::EXPLAIN {
            if let Some(uid) = cx.principal.uid() {
                observer.principal(self, uid);
            }
        }
        let (action, resource) = (request.action, request.resource.ty);
        let rules = if O::EXPLAIN {
            self.rule_index.select_all(action, resource)
        } else {
            self.rule_index
                .select_keyed(action, resource, principal, &cx)
        };
        for slot in rules {
            let Some(rule) = self.compiled_rule(slot) else {
                continue;
            };
            if !self.package_selected(request.package, rule.package) {
                continue;
            }
            if O::EXPLAIN {
                let is_allow = rule.kind == RuleKind::Allow;
                let scope = self.bundle_rule(slot).map(|r| &r.scope);
                if !scope.is_some_and(|s| principal_in_scope(s, is_allow, principal)) {
                    observer.rule_out_of_scope(self, rule, principal);
                    continue;
                }
            }
            if rule.has_head() {
                let Some(source) = self.bundle_rule(slot) else {
                    continue;
                };
                if let Some((side, head)) = head::mismatch(&source.scope, &cx) {
                    if O::EXPLAIN {
                        let why = head::describe(self, side, head, &cx);
                        observer.outside_head(self, &source.id, rule.kind.into(), why);
                    }
                    continue;
                }
            }
            let verdict = self.verdict(&cx, rule.when(), rule.unless(), rule.require());
            if observer.rule(self, slot, rule, verdict).is_break() {
                return;
            }
        }
        if !O::EXPLAIN && !observer.allowed() {
            return;
        }
        let obligations = if O::EXPLAIN {
            self.obligation_index.select_all(action, resource)
        } else {
            self.obligation_index.select(action, resource, principal)
        };
        for slot in obligations {
            let Some(obligation) = self.compiled_obligation(slot) else {
                continue;
            };
            if !self.package_selected(request.package, obligation.package) {
                continue;
            }
            if O::EXPLAIN {
                let scope = self.bundle_obligation(slot).map(|o| &o.scope);
                if !scope.is_some_and(|s| principal_in_scope(s, false, principal)) {
                    observer.obligation_out_of_scope(self, obligation, principal);
                    continue;
                }
            }
            if obligation.has_head {
                let Some(source) = self.bundle_obligation(slot) else {
                    continue;
                };
                if let Some((side, head)) = head::mismatch(&source.scope, &cx) {
                    if O::EXPLAIN {
                        let why = head::describe(self, side, head, &cx);
                        observer.outside_head(self, &source.id, TraceKind::Obligation, why);
                    }
                    continue;
                }
            }
            if !observer.allowed() {
                observer.obligation_not_evaluated(self, obligation);
                continue;
            }
            let outcome = self.obligation_outcome(&cx, obligation);
            if observer
                .obligation(self, slot, obligation, outcome)
                .is_break()
            {
                return;
            }
        }
    }

    /// The first mapping whose `when` holds and whose id evaluates; else `Anonymous::""`.
    fn map_principal<'a>(
        &'a self,
        cx: &EvalContext<'a>,
        package: Option<PackageId>,
    ) -> Resolved<'a> {
        for mapping in &self.mappings {
            if !self.package_selected(package, mapping.package) {
                continue;
            }
            let holds = self
                .program
                .conjuncts(mapping.when)
                .iter()
                .try_fold(true, |all, c| Ok::<_, EvalError>(all && cx.truth(*c)?));
            if !matches!(holds, Ok(true)) {
                continue;
            }
            if let Ok(id) = cx.eval(mapping.id) {
                if let Value::String(id) = &*id {
                    return Resolved::of_id(cx.entities, mapping.entity_type, id);
                }
            }
        }
        match cx.entities.find(0, "") {
            Some(_) => Resolved::of_id(cx.entities, 0, &self.anonymous_id),
            None => Resolved::missing(&self.anonymous),
        }
    }

    /// Evaluates an applying obligation's value, refusing what cannot be written as text.
    fn obligation_outcome(
        &self,
        cx: &EvalContext<'_>,
        obligation: &CompiledObligation,
    ) -> ObligationOutcome {
        let verdict = self.verdict(cx, obligation.when, obligation.unless, None);
        if !matches!(verdict, Verdict::Applied { .. }) {
            return ObligationOutcome::Conditions(verdict);
        }
        let Some((node, what)) = obligation.value else {
            return ObligationOutcome::Applied(verdict);
        };
        match cx.eval(node) {
            Ok(value) => match &*value {
                Value::Set(_) | Value::Record(_) | Value::Map(_) => {
                    ObligationOutcome::ValueError(EvalError::new(format!(
                        "{what} must be a single value, found {}",
                        value.kind()
                    )))
                }
                // A header value computed from request or entity data could otherwise
                // smuggle a line break into what the gateway sends on: every door, and
                // every caller of the library, gets the same deny.
                Value::String(text) | Value::Entity(EntityUid { id: text, .. })
                    if what == HEADER_VALUE && !crate::gateway::is_header_value(text) =>
                {
                    let name = usize::try_from(obligation.bundle_index)
                        .ok()
                        .and_then(|i| self.bundle.obligations.get(i))
                        .and_then(|o| match &o.kind {
                            ObligationKind::RequestHeader { name, .. }
                            | ObligationKind::ResponseHeader { name, .. } => Some(name.as_str()),
                            _ => None,
                        })
                        .unwrap_or_default();
                    ObligationOutcome::ValueError(EvalError::new(format!(
                        "the value of header `{name}` has control characters"
                    )))
                }
                _ => ObligationOutcome::Applied(verdict),
            },
            Err(error) => ObligationOutcome::ValueError(error),
        }
    }

    /// Evaluates `when`, then `unless`, then the required condition, stopping at the first
    /// conjunct that decides.
    fn verdict(
        &self,
        cx: &EvalContext<'_>,
        when: Span,
        unless: Option<Span>,
        require: Option<Span>,
    ) -> Verdict {
        let error = |clause, (conjunct, error)| Verdict::Error {
            clause,
            conjunct,
            error,
        };
        match self.first_false(cx, when) {
            Err(failure) => return error(Clause::When, failure),
            Ok(Some(conjunct)) => return Verdict::WhenFalse(conjunct),
            Ok(None) => {}
        }
        let unless_false = match unless.map(|u| self.first_false(cx, u)) {
            None => None,
            Some(Err(failure)) => return error(Clause::Unless, failure),
            Some(Ok(None)) => return Verdict::UnlessHeld,
            Some(Ok(Some(conjunct))) => Some(conjunct),
        };
        let require_false = match require.map(|r| self.first_false(cx, r)) {
            None => None,
            Some(Err(failure)) => return error(Clause::Require, failure),
            Some(Ok(None)) => return Verdict::RequireHeld,
            Some(Ok(Some(conjunct))) => Some(conjunct),
        };
        Verdict::Applied {
            unless_false,
            require_false,
        }
    }

    /// The position of the first conjunct that is false (`None`: all hold), or of the
    /// first that fails.
    fn first_false(
        &self,
        cx: &EvalContext<'_>,
        condition: Span,
    ) -> Result<Option<usize>, (usize, EvalError)> {
        for (position, (conjunct, shared)) in self.program.conjuncts_shared(condition).enumerate() {
            let truth = if shared {
                cx.shared_truth(conjunct)
            } else {
                cx.truth(conjunct)
            };
            match truth {
                Ok(true) => {}
                Ok(false) => return Ok(Some(position)),
                Err(error) => return Err((position, error)),
            }
        }
        Ok(None)
    }
}

/// Records only the effect.
#[derive(Debug, Default)]
struct EffectObserver {
    denied: bool,
    allowed: bool,
    failed: bool,
}

impl Observer for EffectObserver {
    fn rule(
        &mut self,
        _: &Engine,
        _: u32,
        rule: &CompiledRule,
        verdict: Verdict,
    ) -> ControlFlow<()> {
        let is_allow = rule.kind == RuleKind::Allow;
        match (verdict, is_allow) {
            (Verdict::Applied { .. }, true) => self.allowed = true,
            (Verdict::Applied { .. } | Verdict::Error { .. }, false) => {
                self.denied = true;
                return ControlFlow::Break(());
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn allowed(&self) -> bool {
        self.allowed && !self.denied
    }

    fn obligation(
        &mut self,
        _: &Engine,
        _: u32,
        _: &CompiledObligation,
        outcome: ObligationOutcome,
    ) -> ControlFlow<()> {
        match outcome {
            ObligationOutcome::Conditions(Verdict::Error { .. })
            | ObligationOutcome::ValueError(_) => {
                self.failed = true;
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        }
    }
}

/// Records deciding rules, errors and obligations by index in a [`DecisionBuffer`].
pub(crate) struct BufferObserver<'b> {
    pub buffer: &'b mut DecisionBuffer,
}

impl Observer for BufferObserver<'_> {
    fn rule(
        &mut self,
        engine: &Engine,
        slot: u32,
        rule: &CompiledRule,
        verdict: Verdict,
    ) -> ControlFlow<()> {
        let is_allow = rule.kind == RuleKind::Allow;
        let applies = match verdict {
            Verdict::Applied { .. } => true,
            Verdict::Error { error, .. } => {
                self.buffer.errors.push(DecisionError {
                    rule: engine.bundle_rule(slot).map(|r| r.id.clone()),
                    message: error.message(engine),
                });
                !is_allow
            }
            _ => false,
        };
        let buffer = &mut *self.buffer;
        if applies {
            if !is_allow && !buffer.denied {
                buffer.denied = true;
                buffer.deciding.clear();
            }
            if !is_allow || !buffer.denied {
                buffer.deciding.push(slot);
            }
        }
        ControlFlow::Continue(())
    }

    fn allowed(&self) -> bool {
        self.buffer.rules_allow()
    }

    fn obligation(
        &mut self,
        engine: &Engine,
        slot: u32,
        _: &CompiledObligation,
        outcome: ObligationOutcome,
    ) -> ControlFlow<()> {
        let failure = match outcome {
            ObligationOutcome::Applied(_) => {
                self.buffer.obligations.push(slot);
                None
            }
            ObligationOutcome::Conditions(Verdict::Error { error, .. })
            | ObligationOutcome::ValueError(error) => Some(error),
            ObligationOutcome::Conditions(_) => None,
        };
        if let Some(error) = failure {
            self.buffer.errors.push(DecisionError {
                rule: engine.bundle_obligation(slot).map(|o| o.id.clone()),
                message: error.message(engine),
            });
            self.buffer.obligation_failed = true;
        }
        ControlFlow::Continue(())
    }
}
