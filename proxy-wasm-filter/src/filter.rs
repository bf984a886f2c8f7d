//! One decision, host-independent: the facts of a request in, what to do with it out
//! (let it through with the header obligations, or answer the deny), exactly as the
//! sidecar's ext_authz door maps its decisions for Envoy.

use rampart_engine::gateway::{
    deny_body, deny_status, is_unauthenticated, unsendable_header, HeaderObligations, CHALLENGE,
    DECISION_ID_HEADER,
};
use rampart_engine::{Decision, ObligationOut};
use serde_json::Value as Json;

use crate::config::{ConfigError, Policy, RateLimits};
use crate::facts::{read_facts, route_name, RequestSource};
use crate::ids::DecisionIds;

/// What the host must do with the request.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let it through: set and remove these upstream request headers, and add these to
    /// the response once it comes.
    Continue(HeaderObligations),
    /// Answer the client with this response; the upstream never sees the request.
    Deny(DenyResponse),
}

/// A deny answered by the filter itself.
#[derive(Debug, PartialEq, Eq)]
pub struct DenyResponse {
    /// 401 (no authentication at all), else 403.
    pub status: u16,
    /// `content-type`, `x-rampart-decision-id`, and `www-authenticate` with a 401.
    pub headers: Vec<(String, String)>,
    /// `{"decision":"deny","id":…,"rules":[…],"reasons":[…]}`.
    pub body: String,
}

/// A decision taken, with its id and what the host must do.
#[derive(Debug)]
pub struct Decided {
    pub id: String,
    pub decision: Decision,
    pub verdict: Verdict,
    /// On an allow of a request whose target is not canonical (`//admin`, `/%61dmin`):
    /// the canonical target the decision was taken on, for the host to forward instead of
    /// the raw one, so that the upstream serves exactly what was decided.
    pub canonical_target: Option<String>,
}

/// The filter of one VM: the policy its configuration loaded (or why it did not), and
/// the decision ids.
pub struct Filter {
    policy: Result<Policy, ConfigError>,
    ids: DecisionIds,
}

impl Filter {
    /// A filter deciding with `policy`; with a configuration error it denies everything.
    pub fn new(policy: Result<Policy, ConfigError>, ids: DecisionIds) -> Filter {
        Filter { policy, ids }
    }

    /// The configuration error, when the filter denies everything because of one.
    pub fn config_error(&self) -> Option<&ConfigError> {
        self.policy.as_ref().err()
    }

    /// Decides the request `source` describes, at `now_ms` (milliseconds since the Unix
    /// epoch; the value of `now` when the policy asks). Never fails: anything that goes
    /// wrong is a deny.
    pub fn decide(&self, source: &impl RequestSource, now_ms: i64) -> Decided {
        let id = self.ids.next_id();
        let Ok(policy) = &self.policy else {
            // The configuration did not load (logged when it was read): fail closed.
            let decision = Decision::error("the filter has no policy: its configuration failed");
            return deny(id, decision, false);
        };
        let mut facts = read_facts(source);
        let route = route_name(source);
        facts.package = policy.package_for(route.as_deref()).map(str::to_owned);
        let request = facts.to_request_json();
        let decision = decide_request(policy, &request, now_ms);
        if decision.is_allow() {
            let headers = HeaderObligations::of(&decision);
            // The engine canonicalised the same target to decide (an allow means it could).
            let canonical_target = rampart_engine::gateway::canonicalize(&facts.path)
                .ok()
                .filter(|c| c.target != facts.path.as_str())
                .map(|c| c.target.into_owned());
            return Decided {
                id,
                decision,
                verdict: Verdict::Continue(headers),
                canonical_target,
            };
        }
        deny(id, decision, is_unauthenticated(&request))
    }
}

/// The engine's decision on request JSON. An allow becomes a deny (fail closed) when its
/// header obligations cannot be sent (as in the sidecar), or when it carries a
/// `rate_limit` obligation and the configuration does not leave those to another filter.
pub fn decide_request(policy: &Policy, request: &Json, now_ms: i64) -> Decision {
    let engine = &policy.engine;
    let decision = match engine.request_from_value(request) {
        Ok(mut parsed) => {
            engine.fill_time(&mut parsed, now_ms);
            engine.decide(&parsed, &policy.entities)
        }
        Err(error) => Decision::error(error.to_string()),
    };
    if !decision.is_allow() {
        return decision;
    }
    if let Some(error) = unsendable_header(&decision) {
        return Decision::error(error);
    }
    if policy.rate_limits == RateLimits::Deny {
        let limited = decision.obligations.iter().find_map(|o| match o {
            ObligationOut::RateLimit { rule, .. } => Some(rule),
            _ => None,
        });
        if let Some(rule) = limited {
            return Decision::error(format!(
                "obligation `{rule}`: the proxy-wasm filter does not enforce rate limits \
                 (set `rate_limits` to `not_enforced` when another filter does)"
            ));
        }
    }
    decision
}

fn deny(id: String, decision: Decision, unauthenticated: bool) -> Decided {
    let status = deny_status(unauthenticated);
    let mut headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        (DECISION_ID_HEADER.to_owned(), id.clone()),
    ];
    if unauthenticated {
        headers.push(("www-authenticate".to_owned(), CHALLENGE.to_owned()));
    }
    let body = deny_body(&id, &decision, None);
    Decided {
        id,
        decision,
        verdict: Verdict::Deny(DenyResponse {
            status,
            headers,
            body,
        }),
        canonical_target: None,
    }
}

#[cfg(test)]
mod tests;
