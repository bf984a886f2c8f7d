//! What every door shares: the policy snapshot, the metrics, the decision log, and the one
//! function that decides.

use std::cell::RefCell;
use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use rampart_engine::gateway::RequestFacts;
use rampart_engine::{Decision, DecisionBuffer, Effect, Engine, EntityStore};
use serde_json::Value as Json;

use crate::auth::{Authenticator, Outcome};
use crate::decision_log::{DecisionLog, Entry, FactValue, RequestSummary};
use crate::enforce;
use crate::forward_auth::ForwardAuth;
use crate::metrics::Metrics;
use crate::ratelimit::{self, Limits, RateLimited, RateLimiter, SharedLimiter};
use crate::reload::Reloader;

/// A policy the sidecar serves: an engine (a loaded bundle) and the entities it decides
/// against. Replaced as a whole, never changed in place.
pub struct Policy {
    pub engine: Engine,
    pub entities: EntityStore,
}

impl Policy {
    /// The bundle's revision, as printed in the ready line and exported in the metrics.
    pub fn revision(&self) -> &str {
        &self.engine.bundle().revision
    }
}

/// The door a request came through: a label of metrics and decision-log records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    /// Envoy ext_authz v3 over gRPC.
    ExtAuthz,
    /// `POST /v1/decide`.
    Decide,
    /// The forward-auth endpoint `/v1/authz`.
    ForwardAuth,
    /// The OPA-compatible `POST /v1/data/…`.
    Opa,
    /// Rampart's own gRPC API, `rampart.v1.Decisions` (`Decide`, `DecideBatch`).
    Grpc,
}

impl Door {
    pub const ALL: [Door; 5] = [
        Door::ExtAuthz,
        Door::Decide,
        Door::ForwardAuth,
        Door::Opa,
        Door::Grpc,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Door::ExtAuthz => "ext_authz",
            Door::Decide => "decide",
            Door::ForwardAuth => "forward_auth",
            Door::Opa => "opa",
            Door::Grpc => "grpc",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// The decision timeout of a [`State`] not given one (`--request-timeout`'s default).
pub const DEFAULT_DECISION_TIMEOUT: Duration = Duration::from_secs(5);

/// A decision with the id it is known by in logs, metadata and headers.
pub struct Decided {
    pub id: String,
    pub decision: Decision,
    /// Set when the policy allowed but a `rate_limit` obligation was exhausted: `decision`
    /// is then the deny naming that obligation.
    pub rate_limited: Option<RateLimited>,
}

/// The shared state of a running sidecar.
pub struct State {
    policy: ArcSwap<Policy>,
    pub metrics: Metrics,
    log: Option<DecisionLog>,
    ids: DecisionIds,
    shutting_down: AtomicBool,
    /// Verifies bearer tokens (`--jwks`); disabled by default. Its `reload` re-reads the
    /// key set.
    pub auth: Authenticator,
    /// Enforces `rate_limit` obligations (off, local buckets, or the shared store).
    limits: Limits,
    /// Reloads the policy (SIGHUP, file changes, `POST /v1/reload`); `None`: no reloads.
    reloader: Option<Reloader>,
    /// Where forward-auth reads the request being authorized (`--forward-auth`).
    pub forward_auth: ForwardAuth,
    /// A decision that takes longer than this (`--request-timeout`) is answered deny,
    /// whatever the engine said: an answer that late is one the gateway may have given up
    /// on, and input that makes deciding slow is an attack until shown otherwise.
    decision_timeout: Duration,
    /// Plans computed at once (`crate::plans`).
    plan_permits: tokio::sync::Semaphore,
}

impl State {
    pub fn new(policy: Policy, log: Option<DecisionLog>) -> State {
        State {
            policy: ArcSwap::from_pointee(policy),
            metrics: Metrics::default().with_log(log.as_ref().map(DecisionLog::status)),
            log,
            ids: DecisionIds::new(),
            shutting_down: AtomicBool::new(false),
            auth: Authenticator::disabled(),
            limits: Limits::Local(RateLimiter::new(ratelimit::DEFAULT_MAX_KEYS)),
            reloader: None,
            forward_auth: ForwardAuth::default(),
            decision_timeout: DEFAULT_DECISION_TIMEOUT,
            plan_permits: tokio::sync::Semaphore::new(crate::plans::MAX_CONCURRENT_PLANS),
        }
    }

    /// The permits of plans computed at once: at most
    /// [`MAX_CONCURRENT_PLANS`](crate::plans::MAX_CONCURRENT_PLANS).
    pub fn plan_permits(&self) -> &tokio::sync::Semaphore {
        &self.plan_permits
    }

    /// Denies decisions that take longer than `timeout`.
    pub fn with_decision_timeout(mut self, timeout: Duration) -> State {
        self.decision_timeout = timeout;
        self
    }

    /// Reads forward-auth requests as `mode` says.
    pub fn with_forward_auth(mut self, mode: ForwardAuth) -> State {
        self.forward_auth = mode;
        self
    }

    /// Verifies bearer tokens (and API keys) with `auth`; `/metrics` reports its counters.
    pub fn with_auth(mut self, auth: Authenticator) -> State {
        self.metrics.auth = auth.metrics();
        self.auth = auth;
        self
    }

    /// Enforces `rate_limit` obligations with `limits`, or not at all with `None`.
    pub fn with_rate_limiter(mut self, limits: Option<RateLimiter>) -> State {
        self.limits = limits.map_or(Limits::Off, Limits::Local);
        self
    }

    /// Enforces `rate_limit` obligations in the shared store of `limits`
    /// (`--rate-limit-store`), and reports its metrics.
    pub fn with_shared_limiter(mut self, limits: SharedLimiter) -> State {
        self.metrics.set_rate_limit_store(limits.metrics());
        self.limits = Limits::Shared(limits);
        self
    }

    /// Fills `context.auth` of a raw-HTTP request from its verified bearer token (see
    /// [`Authenticator::authenticate`]); a token that does not verify is counted and
    /// leaves the request unauthenticated. Doors call this before [`State::decide`].
    pub fn authenticate(&self, request: &mut Json) {
        if !self.auth.is_enabled() {
            return;
        }
        let outcome = self.auth.authenticate(request, now_ms().div_euclid(1000));
        self.count(&outcome);
    }

    /// [`State::authenticate`] for a request given as header pairs (the typed path):
    /// returns the `context.auth` facts of a verified bearer token, if any.
    pub fn authenticate_headers<'h>(
        &self,
        headers: impl Iterator<Item = (&'h str, &'h str)>,
    ) -> Option<Json> {
        if !self.auth.is_enabled() {
            return None;
        }
        let (outcome, facts) = self
            .auth
            .authenticate_headers(headers, now_ms().div_euclid(1000));
        self.count(&outcome);
        facts
    }

    /// Counts what authenticating a request did.
    fn count(&self, outcome: &Outcome) {
        match outcome {
            Outcome::Verified => self.metrics.jwt_verified(),
            Outcome::Rejected(rejection) => self.metrics.jwt_invalid(*rejection),
            Outcome::ApiKeyVerified => self.metrics.auth.api_key_verified(),
            Outcome::ApiKeyRejected(rejection) => self.metrics.auth.api_key_invalid(*rejection),
            Outcome::Disabled | Outcome::NoToken | Outcome::StatedByCaller => {}
        }
    }

    /// Reloads the policy with `reloader`.
    pub fn with_reloader(mut self, reloader: Reloader) -> State {
        self.reloader = Some(reloader);
        self
    }

    /// The reloader, when reloads are configured.
    pub fn reloader(&self) -> Option<&Reloader> {
        self.reloader.as_ref()
    }

    /// Serves `policy` from now on; decisions that loaded the old one finish on it. Returns
    /// the old one.
    pub fn replace_policy(&self, policy: Policy) -> Arc<Policy> {
        self.policy.swap(Arc::new(policy))
    }

    /// The policy serving now.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy.load_full()
    }

    /// Marks the sidecar as stopping: `/readyz` answers 503 from now on.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// True while decisions are denied because the decision log is required
    /// (`--decision-log-required`) and cannot be written: `/readyz` answers 503.
    pub fn log_refuses_decisions(&self) -> bool {
        self.log
            .as_ref()
            .is_some_and(DecisionLog::refuses_decisions)
    }

    /// Decides a request given as request JSON. `time_ms` is the time of the request
    /// (milliseconds since the Unix epoch) when the door knows it; otherwise the current
    /// time fills `context.time` when the request carries none.
    ///
    /// Never fails: a request the engine cannot read is denied with the error listed, and
    /// an internal failure (a panic) is denied and counted.
    pub fn decide(&self, door: Door, request: &Json, time_ms: Option<i64>) -> Decided {
        self.decide_on(&self.policy.load(), door, request, time_ms)
    }

    /// [`State::decide`] on a policy snapshot the caller holds (from [`State::policy`]), so
    /// that it can tell which revision decided.
    ///
    /// Rate limits are enforced without waiting: with a shared store
    /// (`--rate-limit-store`), as while it is down. The doors use [`State::decide_async`].
    pub fn decide_on(
        &self,
        policy: &Policy,
        door: Door,
        request: &Json,
        time_ms: Option<i64>,
    ) -> Decided {
        let (decision, elapsed) = self.evaluate(policy, door, request, time_ms);
        let limited = self.limits.enforce_now(&decision);
        let decided = self.conclude(door, decision, limited);
        self.record(policy, door, request, decided, elapsed)
    }

    /// [`State::decide`], with the rate limits of a shared store checked in it (one round
    /// trip, bounded by `--rate-limit-store-timeout`).
    pub async fn decide_async(&self, door: Door, request: &Json, time_ms: Option<i64>) -> Decided {
        let policy = self.policy.load();
        let (decision, elapsed) = self.evaluate(&policy, door, request, time_ms);
        if !self.limits.asks_store(&decision) {
            let limited = self.limits.enforce_now(&decision);
            let decided = self.conclude(door, decision, limited);
            return self.record(&policy, door, request, decided, elapsed);
        }
        // The snapshot is held across the round trip as an `Arc`, not a guard.
        let policy = arc_swap::Guard::into_inner(policy);
        let limited = self.limits.enforce(&decision).await;
        let decided = self.conclude(door, decision, limited);
        self.record(&policy, door, request, decided, elapsed)
    }

    /// [`State::decide_on`], with the rate limits of a shared store checked in it.
    pub async fn decide_on_async(
        &self,
        policy: &Policy,
        door: Door,
        request: &Json,
        time_ms: Option<i64>,
    ) -> Decided {
        let (decision, elapsed) = self.evaluate(policy, door, request, time_ms);
        let limited = self.limits.enforce(&decision).await;
        let decided = self.conclude(door, decision, limited);
        self.record(policy, door, request, decided, elapsed)
    }

    /// The engine's decision on request JSON, settled (see [`State::settle`]).
    fn evaluate(
        &self,
        policy: &Policy,
        door: Door,
        request: &Json,
        time_ms: Option<i64>,
    ) -> (Decision, Duration) {
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            match policy.engine.request_from_value(request) {
                Ok(mut parsed) => {
                    policy
                        .engine
                        .fill_time(&mut parsed, time_ms.unwrap_or_else(now_ms));
                    decide_reusing_buffer(policy, &parsed)
                }
                Err(error) => Decision::error(error.to_string()),
            }
        }));
        self.settle(door, outcome, started)
    }

    /// Logs and counts a decision on request JSON.
    fn record(
        &self,
        policy: &Policy,
        door: Door,
        request: &Json,
        mut decided: Decided,
        elapsed: Duration,
    ) -> Decided {
        if let Some(log) = &self.log {
            let logged = log.record(
                &decided.id,
                door,
                policy.revision(),
                request,
                &decided.decision,
                elapsed,
            );
            if !logged && log.is_required() {
                decided.decision = Decision::error(LOG_FULL);
            }
        }
        self.metrics.decided(door, &decided.decision, elapsed);
        decided
    }

    /// Answers deny, without asking the engine, for a request a door cannot read (a
    /// forward-auth request without the headers its gateway mode trusts): counted, logged
    /// and named like any decision, with `message` as its error.
    pub fn refuse(&self, door: Door, request: &Json, message: String) -> Decided {
        let policy = self.policy.load();
        let started = Instant::now();
        let (decision, elapsed) = self.settle(door, Ok(Decision::error(message)), started);
        let decided = self.conclude(door, decision, None);
        if let Some(log) = &self.log {
            // A deny either way: whether the record could be queued changes nothing here.
            let _queued = log.record(
                &decided.id,
                door,
                policy.revision(),
                request,
                &decided.decision,
                elapsed,
            );
        }
        self.metrics.decided(door, &decided.decision, elapsed);
        decided
    }

    /// Decides a raw-HTTP request given as typed facts and its header pairs (see
    /// [`Engine::request_from_http`]): the same decision [`State::decide`] gives for the
    /// request JSON of the same facts, without that JSON. Never fails, like
    /// [`State::decide`]. The rate limits of a shared store are checked in it (one round
    /// trip, bounded by `--rate-limit-store-timeout`).
    ///
    /// The decision is not logged yet, so that the door can answer from it without a
    /// copy: pass both halves to [`State::log_decided`] once the answer is built.
    pub async fn decide_http<'h>(
        &self,
        door: Door,
        facts: &RequestFacts<'_>,
        headers: impl Iterator<Item = (&'h str, &'h str)> + Clone,
    ) -> (Decided, PendingLog) {
        let policy = self.policy.load();
        let (decision, elapsed) = self.evaluate_http(&policy, door, facts, headers.clone());
        if !self.limits.asks_store(&decision) {
            let limited = self.limits.enforce_now(&decision);
            let decided = self.conclude(door, decision, limited);
            return self.record_http(&policy, door, facts, headers, decided, elapsed);
        }
        let policy = arc_swap::Guard::into_inner(policy);
        let limited = self.limits.enforce(&decision).await;
        let decided = self.conclude(door, decision, limited);
        self.record_http(&policy, door, facts, headers, decided, elapsed)
    }

    /// The engine's decision on typed facts, settled (see [`State::settle`]).
    fn evaluate_http<'h>(
        &self,
        policy: &Policy,
        door: Door,
        facts: &RequestFacts<'_>,
        headers: impl Iterator<Item = (&'h str, &'h str)>,
    ) -> (Decision, Duration) {
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            match policy.engine.request_from_http(facts, headers) {
                Ok(request) => decide_reusing_buffer(policy, &request),
                Err(error) => Decision::error(error.to_string()),
            }
        }));
        self.settle(door, outcome, started)
    }

    /// Counts a decision on typed facts and prepares (or, with a required log, queues) its
    /// decision-log record.
    fn record_http<'h>(
        &self,
        policy: &Policy,
        door: Door,
        facts: &RequestFacts<'_>,
        headers: impl Iterator<Item = (&'h str, &'h str)>,
        mut decided: Decided,
        elapsed: Duration,
    ) -> (Decided, PendingLog) {
        let Some(log) = &self.log else {
            self.metrics.decided(door, &decided.decision, elapsed);
            return (decided, PendingLog(None));
        };
        if !decided.decision.errors.is_empty() {
            let joined = rampart_engine::gateway::request_headers(headers).unwrap_or_default();
            let secrets =
                crate::decision_log::secrets_from(joined.values(), Some(facts.path), facts.auth);
            Entry::redact_errors(&mut decided.decision, &secrets);
        }
        let text = |text: &str| Some(FactValue::Text(text.to_owned()));
        let request = RequestSummary {
            method: text(facts.method),
            path: text(crate::decision_log::cut_path(facts.path)),
            host: facts.host.and_then(text),
            package: facts.package.and_then(text),
            source_ip: facts.source_ip.and_then(|ip| match ip.parse::<IpAddr>() {
                Ok(ip) => Some(FactValue::Text(ip.to_string())),
                Err(_) => text(ip),
            }),
            tls_peer: facts.tls.peer.and_then(text),
            ..RequestSummary::default()
        };
        let entry = Entry {
            id: String::new(),
            time_ms: now_ms(),
            door,
            revision: policy.revision().to_owned(),
            request,
            decision: empty_decision(),
            elapsed,
        };
        if log.is_required() {
            // The record must be queued before the answer: a copy of the decision goes.
            let entry = Entry {
                id: decided.id.clone(),
                decision: decided.decision.clone(),
                ..entry
            };
            if !log.push(entry) {
                decided.decision = Decision::error(LOG_FULL);
            }
            self.metrics.decided(door, &decided.decision, elapsed);
            return (decided, PendingLog(None));
        }
        self.metrics.decided(door, &decided.decision, elapsed);
        (decided, PendingLog(Some(entry)))
    }

    /// Queues the decision-log record of a decision of [`State::decide_http`].
    pub fn log_decided(&self, pending: PendingLog, decided: Decided) {
        let (Some(log), PendingLog(Some(mut entry))) = (&self.log, pending) else {
            return;
        };
        entry.id = decided.id;
        entry.decision = decided.decision;
        // A drop is counted by the log.
        log.push(entry);
    }

    /// What every door does with the engine's outcome: deny while a required decision log
    /// cannot be written, fail closed on an unsendable allow or a panic, or a decision that
    /// took too long. Returns the time deciding took; the caller then enforces the rate
    /// limits and names the decision ([`State::conclude`]).
    fn settle(
        &self,
        door: Door,
        outcome: std::thread::Result<Decision>,
        started: Instant,
    ) -> (Decision, Duration) {
        let decision = match outcome {
            _ if self.log_refuses_decisions() => Decision::error(LOG_UNWRITABLE),
            // Fail closed: an allow whose header obligations cannot be sent is a deny.
            Ok(decision) if decision.is_allow() => match enforce::unsendable_header(&decision) {
                Some(error) => Decision::error(error),
                None => decision,
            },
            Ok(decision) => decision,
            Err(_) => {
                self.metrics.internal_error(door);
                Decision::error("internal error while deciding")
            }
        };
        let elapsed = started.elapsed();
        let decision = if elapsed > self.decision_timeout {
            self.metrics.timed_out(door);
            Decision::error(format!(
                "deciding took {} ms, longer than the request timeout",
                elapsed.as_millis()
            ))
        } else {
            decision
        };
        (decision, elapsed)
    }

    /// Turns an allow whose rate limit is exhausted into the deny naming it, and names the
    /// decision (the caller counts it once it is logged).
    fn conclude(
        &self,
        door: Door,
        decision: Decision,
        rate_limited: Option<RateLimited>,
    ) -> Decided {
        let decision = match &rate_limited {
            Some(limited) => {
                self.metrics.rate_limited(door);
                limited.decision()
            }
            None => decision,
        };
        Decided {
            id: self.ids.next(),
            decision,
            rate_limited,
        }
    }

    /// Closes the decision log, writing out what is queued.
    pub fn close_log(&self) {
        if let Some(log) = &self.log {
            log.close();
        }
    }
}

/// The error of a decision denied because the required decision log cannot be written.
const LOG_UNWRITABLE: &str =
    "the decision log cannot be written: decisions are denied until it can (--decision-log-required)";

/// The error of a decision denied because the required decision log's queue is full.
const LOG_FULL: &str =
    "the decision log cannot take the record of this decision: it is denied (--decision-log-required)";

/// The decision-log entry of a decision of [`State::decide_http`], waiting for the decision
/// itself ([`State::log_decided`]); empty when there is no decision log.
pub struct PendingLog(Option<Entry>);

/// A placeholder decision that allocates nothing.
fn empty_decision() -> Decision {
    Decision {
        decision: Effect::Deny,
        rules: Vec::new(),
        reasons: Vec::new(),
        errors: Vec::new(),
        obligations: Vec::new(),
        controls: Vec::new(),
    }
}

thread_local! {
    /// The decision buffer of this thread: deciding reuses its lists.
    static DECISION_BUFFER: RefCell<DecisionBuffer> = RefCell::new(DecisionBuffer::new());
}

/// [`Engine::decide`] with this thread's reused [`DecisionBuffer`].
fn decide_reusing_buffer(policy: &Policy, request: &rampart_engine::Request) -> Decision {
    DECISION_BUFFER.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut buffer) => policy
            .engine
            .decide_into(request, &policy.entities, &mut buffer)
            .to_decision(),
        // Only when deciding re-entered itself: a buffer of its own.
        Err(_) => policy.engine.decide(request, &policy.entities),
    })
}

/// The current time in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// True when the request JSON carries no authentication: `context.auth.method` absent or
/// `none`, and `context.tls.mtls` not true. A deny of such a request answers 401.
pub use rampart_engine::gateway::is_unauthenticated;

/// Decision ids: unique within a process and, through a start-time prefix, across restarts.
struct DecisionIds {
    prefix: u64,
    next: AtomicU64,
}

impl DecisionIds {
    fn new() -> DecisionIds {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_nanos();
        // Truncation is intended: the low bits carry the entropy.
        let seed = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
        DecisionIds {
            prefix: rampart_engine::gateway::decision_id_prefix(seed),
            next: AtomicU64::new(0),
        }
    }

    /// The prefix and a counter, each as 16 lowercase hex digits (written without the
    /// formatting machinery: this runs for every decision).
    fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut id = String::with_capacity(32);
        push_hex16(&mut id, self.prefix);
        push_hex16(&mut id, n);
        id
    }
}

/// Appends `value` as 16 lowercase hex digits, leading zeros included.
fn push_hex16(out: &mut String, value: u64) {
    const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..16).rev() {
        let digit = (value >> (shift * 4)) & 0xf;
        out.push(char::from(HEX_DIGITS[digit as usize]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unauthenticated_means_no_auth_method_and_no_mtls() {
        assert!(is_unauthenticated(&json!({"http": {}})));
        assert!(is_unauthenticated(
            &json!({"context": {"auth": {"method": "none"}, "tls": {"mtls": false}}})
        ));
        assert!(!is_unauthenticated(
            &json!({"context": {"tls": {"mtls": true}}})
        ));
        assert!(!is_unauthenticated(
            &json!({"context": {"auth": {"method": "jwt"}}})
        ));
    }

    #[test]
    fn decision_ids_are_distinct_and_fixed_width() {
        let ids = DecisionIds::new();
        let (a, b) = (ids.next(), ids.next());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        // The same digits `format!` gives.
        assert_eq!(b, format!("{:016x}{:016x}", ids.prefix, 1));
        let mut hex = String::new();
        push_hex16(&mut hex, 0x0123_4567_89ab_cdef);
        push_hex16(&mut hex, 0xa);
        assert_eq!(hex, "0123456789abcdef000000000000000a");
    }
}
