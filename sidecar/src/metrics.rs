//! Counters and a latency histogram, exported in the Prometheus text format at `/metrics`.
//!
//! Plain atomics: recording a decision is a handful of relaxed increments, and the text is
//! written only when scraped.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rampart_engine::Decision;

use crate::auth::Rejection;
use crate::decision_log::{GapReason, LogStatus};
use crate::plans::{Outcome as PlanOutcome, PlanDoor};
use crate::state::Door;
use std::sync::Arc;

const DOORS: usize = Door::ALL.len();

/// Upper bounds of the latency buckets, in seconds (the engine decides in microseconds).
const BUCKETS: [f64; 12] = [
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005,
    0.01, 0.1,
];

/// Kinds of errors counted per door.
#[derive(Clone, Copy)]
enum ErrorKind {
    /// The decision lists evaluation or input errors (it was decided, fail closed).
    Decision = 0,
    /// The request could not be read at all (malformed JSON or protobuf, too large).
    BadRequest = 1,
    /// Something failed inside the sidecar; the answer was deny.
    Internal = 2,
    /// Deciding took longer than the request timeout; the answer was deny.
    Timeout = 3,
}

const ERROR_KINDS: [(ErrorKind, &str); 4] = [
    (ErrorKind::Decision, "decision"),
    (ErrorKind::BadRequest, "bad_request"),
    (ErrorKind::Internal, "internal"),
    (ErrorKind::Timeout, "timeout"),
];

/// Everything `/metrics` reports, except the bundle revision (read from the policy).
#[derive(Default)]
pub struct Metrics {
    /// Per door: [allow, deny].
    decisions: [[AtomicU64; 2]; DOORS],
    errors: [[AtomicU64; ERROR_KINDS.len()]; DOORS],
    /// Non-cumulative counts per bucket; the last slot is `+Inf`.
    latency_buckets: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_ns: AtomicU64,
    latency_count: AtomicU64,
    /// The decision log's counters, when there is a log.
    log: Option<Arc<LogStatus>>,
    /// Policy reloads: [success, failure].
    reloads: [AtomicU64; 2],
    /// Bearer tokens verified (`--jwks`).
    jwt_verified: AtomicU64,
    /// Bearer tokens refused, per [`Rejection`] reason.
    jwt_invalid: [AtomicU64; Rejection::ALL.len()],
    /// Requests denied by an exhausted `rate_limit` obligation, per door.
    rate_limited: [AtomicU64; DOORS],
    /// Query plans, per plan door and outcome.
    plans: [[AtomicU64; PlanOutcome::ALL.len()]; PlanDoor::ALL.len()],
    /// Key-set fetches from the identity provider and API keys (`crate::auth`).
    pub auth: Arc<crate::auth::AuthMetrics>,
    /// The listeners' TLS, whose reloads are counted (`--tls-cert`).
    pub tls: Option<Arc<crate::tls::ListenerTls>>,
    /// The shared rate-limit store's metrics (`--rate-limit-store`).
    ratelimit_store: Option<Arc<crate::ratelimit::StoreMetrics>>,
    /// The bundle's source, digest and fetches (`/v1/status`, `rampart_bundle_*`).
    pub bundle: crate::bundle_status::BundleStatus,
}

impl Metrics {
    /// Records one decision and how long the engine took.
    pub fn decided(&self, door: Door, decision: &Decision, elapsed: Duration) {
        let effect = usize::from(!decision.is_allow());
        self.decisions[door.index()][effect].fetch_add(1, Ordering::Relaxed);
        if !decision.errors.is_empty() {
            self.error(door, ErrorKind::Decision);
        }
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        self.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.latency_sum_ns.fetch_add(nanos, Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request that could not be read (it was answered with 400/413 or a deny).
    pub fn bad_request(&self, door: Door) {
        self.error(door, ErrorKind::BadRequest);
    }

    /// Counts an internal failure (it was answered with a deny).
    pub fn internal_error(&self, door: Door) {
        self.error(door, ErrorKind::Internal);
    }

    /// Counts a decision that took longer than the request timeout (answered deny).
    pub fn timed_out(&self, door: Door) {
        self.error(door, ErrorKind::Timeout);
    }

    /// Reports the counters of the decision log `status` too.
    pub fn with_log(mut self, status: Option<Arc<LogStatus>>) -> Metrics {
        self.log = status;
        self
    }

    /// Reports the shared rate-limit store's metrics too.
    pub fn set_rate_limit_store(&mut self, store: Arc<crate::ratelimit::StoreMetrics>) {
        self.ratelimit_store = Some(store);
    }

    /// Counts a policy reload that succeeded or failed (the old policy kept serving).
    pub fn reloaded(&self, success: bool) {
        self.reloads[usize::from(!success)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a bearer token that verified.
    pub fn jwt_verified(&self) {
        self.jwt_verified.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a bearer token that did not verify (the request went on unauthenticated).
    pub fn jwt_invalid(&self, reason: Rejection) {
        if let Some(counter) = self.jwt_invalid.get(reason.index()) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a request denied because a `rate_limit` obligation was exhausted.
    pub fn rate_limited(&self, door: Door) {
        self.rate_limited[door.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a plan request by how it ended.
    pub fn planned(&self, door: PlanDoor, outcome: PlanOutcome) {
        self.plans[door.index()][outcome.index()].fetch_add(1, Ordering::Relaxed);
    }

    fn error(&self, door: Door, kind: ErrorKind) {
        self.errors[door.index()][kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The decision log's drops (by reason), failed writes, and whether it can write.
    fn render_log(&self, out: &mut String) {
        let status = self.log.as_deref();
        out.push_str(
            "# HELP rampart_decision_log_dropped_total Decision-log records not written, by \
             reason: queue_full (the writer fell behind), write_error (writes were failing).\n",
        );
        out.push_str("# TYPE rampart_decision_log_dropped_total counter\n");
        for reason in GapReason::ALL {
            let _ = writeln!(
                out,
                "rampart_decision_log_dropped_total{{reason=\"{}\"}} {}",
                reason.label(),
                status.map_or(0, |s| s.dropped(reason))
            );
        }
        out.push_str(
            "# HELP rampart_decision_log_write_errors_total Decision-log writes (or syncs) that \
             failed and were retried.\n",
        );
        out.push_str("# TYPE rampart_decision_log_write_errors_total counter\n");
        let _ = writeln!(
            out,
            "rampart_decision_log_write_errors_total {}",
            status.map_or(0, LogStatus::write_errors)
        );
        out.push_str(
            "# HELP rampart_decision_log_writable 1 while the decision log can be written (or \
             there is none), 0 while its writes fail.\n",
        );
        out.push_str("# TYPE rampart_decision_log_writable gauge\n");
        let _ = writeln!(
            out,
            "rampart_decision_log_writable {}",
            u8::from(status.is_none_or(LogStatus::is_writable))
        );
        if let Some(status) = status {
            status.render_shipping(out);
        }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self, revision: &str) -> String {
        self.render_with_digest(revision, "")
    }

    /// [`Metrics::render`], with the digest of the bundle serving in `rampart_bundle_info`.
    pub fn render_with_digest(&self, revision: &str, digest: &str) -> String {
        let mut out = String::with_capacity(4096);
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);

        out.push_str("# HELP rampart_decisions_total Decisions taken, by door and effect.\n");
        out.push_str("# TYPE rampart_decisions_total counter\n");
        for door in Door::ALL {
            for (effect, name) in ["allow", "deny"].iter().enumerate() {
                let n = get(&self.decisions[door.index()][effect]);
                let _ = writeln!(
                    out,
                    "rampart_decisions_total{{door=\"{}\",effect=\"{name}\"}} {n}",
                    door.label()
                );
            }
        }

        out.push_str(
            "# HELP rampart_errors_total Errors, by door and kind: decision (the decision \
             lists errors), bad_request (unreadable input), internal (answered deny), timeout \
             (deciding took longer than the request timeout; answered deny).\n",
        );
        out.push_str("# TYPE rampart_errors_total counter\n");
        for door in Door::ALL {
            for (kind, name) in ERROR_KINDS {
                let n = get(&self.errors[door.index()][kind as usize]);
                let _ = writeln!(
                    out,
                    "rampart_errors_total{{door=\"{}\",kind=\"{name}\"}} {n}",
                    door.label()
                );
            }
        }

        out.push_str(
            "# HELP rampart_decision_duration_seconds Time the engine took to decide one \
             request.\n",
        );
        out.push_str("# TYPE rampart_decision_duration_seconds histogram\n");
        let mut cumulative = 0u64;
        for (slot, bound) in BUCKETS.iter().enumerate() {
            cumulative = cumulative.saturating_add(get(&self.latency_buckets[slot]));
            let _ = writeln!(
                out,
                "rampart_decision_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative = cumulative.saturating_add(get(&self.latency_buckets[BUCKETS.len()]));
        let _ = writeln!(
            out,
            "rampart_decision_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        // Precision loss is fine for an exported sum.
        let sum = get(&self.latency_sum_ns) as f64 / 1e9;
        let _ = writeln!(out, "rampart_decision_duration_seconds_sum {sum}");
        let _ = writeln!(
            out,
            "rampart_decision_duration_seconds_count {}",
            get(&self.latency_count)
        );

        out.push_str(
            "# HELP rampart_plans_total Query plans (POST /v1/plan, rampart.v1 Plan), by door \
             and outcome: always, never, conditional, or error (no plan: unreadable, \
             unplannable, too large, internal).\n",
        );
        out.push_str("# TYPE rampart_plans_total counter\n");
        for door in PlanDoor::ALL {
            for outcome in PlanOutcome::ALL {
                let n = get(&self.plans[door.index()][outcome.index()]);
                let _ = writeln!(
                    out,
                    "rampart_plans_total{{door=\"{}\",outcome=\"{}\"}} {n}",
                    door.label(),
                    outcome.label()
                );
            }
        }

        self.render_log(&mut out);

        out.push_str("# HELP rampart_jwt_verified_total Bearer tokens that verified.\n");
        out.push_str("# TYPE rampart_jwt_verified_total counter\n");
        let _ = writeln!(
            out,
            "rampart_jwt_verified_total {}",
            get(&self.jwt_verified)
        );
        out.push_str(
            "# HELP rampart_jwt_invalid_total Bearer tokens that did not verify (the request \
             was decided as unauthenticated), by reason.\n",
        );
        out.push_str("# TYPE rampart_jwt_invalid_total counter\n");
        for reason in Rejection::ALL {
            let _ = writeln!(
                out,
                "rampart_jwt_invalid_total{{reason=\"{}\"}} {}",
                reason.label(),
                get(&self.jwt_invalid[reason.index()])
            );
        }
        self.auth.render(&mut out);
        if let Some(tls) = &self.tls {
            tls.render(&mut out);
        }
        out.push_str(
            "# HELP rampart_rate_limited_total Requests denied because a rate_limit \
             obligation was exhausted, by door.\n",
        );
        out.push_str("# TYPE rampart_rate_limited_total counter\n");
        for door in Door::ALL {
            let _ = writeln!(
                out,
                "rampart_rate_limited_total{{door=\"{}\"}} {}",
                door.label(),
                get(&self.rate_limited[door.index()])
            );
        }

        if let Some(store) = &self.ratelimit_store {
            store.render(&mut out);
        }

        out.push_str(
            "# HELP rampart_reloads_total Policy reloads (SIGHUP, file change, POST \
             /v1/reload), by result; on failure the old policy kept serving.\n",
        );
        out.push_str("# TYPE rampart_reloads_total counter\n");
        for (slot, result) in ["success", "failure"].iter().enumerate() {
            let _ = writeln!(
                out,
                "rampart_reloads_total{{result=\"{result}\"}} {}",
                get(&self.reloads[slot])
            );
        }

        out.push_str("# HELP rampart_bundle_info The bundle being served.\n");
        out.push_str("# TYPE rampart_bundle_info gauge\n");
        let _ = writeln!(
            out,
            "rampart_bundle_info{{revision=\"{}\",digest=\"{}\"}} 1",
            escape_label(revision),
            escape_label(digest)
        );
        self.bundle.render(&mut out);
        out
    }
}

/// Escapes a label value: backslash, double quote and newline.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_decisions_and_fills_the_histogram_cumulatively() {
        let metrics = Metrics::default();
        let deny = Decision::error("bad input");
        metrics.decided(Door::ExtAuthz, &deny, Duration::from_micros(3));
        metrics.decided(Door::ExtAuthz, &deny, Duration::from_millis(50));
        metrics.bad_request(Door::Decide);
        let text = metrics.render("r\"1");
        assert!(text.contains("rampart_decisions_total{door=\"ext_authz\",effect=\"deny\"} 2"));
        assert!(text.contains("rampart_decisions_total{door=\"ext_authz\",effect=\"allow\"} 0"));
        assert!(text.contains("rampart_errors_total{door=\"ext_authz\",kind=\"decision\"} 2"));
        assert!(text.contains("rampart_errors_total{door=\"decide\",kind=\"bad_request\"} 1"));
        assert!(text.contains("rampart_decision_duration_seconds_bucket{le=\"0.000005\"} 1"));
        assert!(text.contains("rampart_decision_duration_seconds_bucket{le=\"0.1\"} 2"));
        assert!(text.contains("rampart_decision_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("rampart_decision_duration_seconds_count 2"));
        assert!(text.contains("rampart_bundle_info{revision=\"r\\\"1\",digest=\"\"} 1"));
        metrics.planned(PlanDoor::Grpc, PlanOutcome::Conditional);
        let text = metrics.render("r");
        assert!(text.contains("rampart_plans_total{door=\"grpc\",outcome=\"conditional\"} 1"));
        assert!(text.contains("rampart_plans_total{door=\"http\",outcome=\"error\"} 0"));
    }
}
