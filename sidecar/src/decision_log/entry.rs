//! What a deciding thread hands to the decision-log writer: an [`Entry`], the owned facts
//! of one decision. The writer turns it into the record's JSON text and seals it into the
//! chain, so formatting and hashing stay off the request path.

use std::time::Duration;

use rampart_engine::Decision;
use serde_json::Value as Json;

use super::record::{redact, secrets_of, FACTS};
use crate::state::{now_ms, Door};

/// One decision to log.
pub struct Entry {
    pub id: String,
    /// When it was decided, in milliseconds since the Unix epoch.
    pub time_ms: i64,
    pub door: Door,
    /// The revision of the bundle that decided.
    pub revision: String,
    pub request: RequestSummary,
    /// The decision; its error messages must already be redacted (see
    /// [`Entry::redact_errors`]), as only the deciding thread knows the request's secrets.
    pub decision: Decision,
    pub elapsed: Duration,
}

impl Entry {
    /// The entry of a decision on a request given as request JSON, stamped now; errors
    /// quoting the request's secrets are redacted.
    pub fn from_json(
        id: String,
        door: Door,
        revision: String,
        request: &Json,
        mut decision: Decision,
        elapsed: Duration,
    ) -> Entry {
        if !decision.errors.is_empty() {
            Entry::redact_errors(&mut decision, &secrets_of(request));
        }
        Entry {
            id,
            time_ms: now_ms(),
            door,
            revision,
            request: RequestSummary::from_json(request),
            decision,
            elapsed,
        }
    }

    /// Cuts every secret of the request (header values, the query string, strings under
    /// `context.auth`; see `record::secrets_of`) out of the decision's error messages.
    pub fn redact_errors(decision: &mut Decision, secrets: &[String]) {
        for error in &mut decision.errors {
            error.message = redact(&error.message, secrets);
        }
    }
}

/// The facts of a request a record keeps, in the order of `record::FACTS`: method, path
/// (without its query string), host, package, principal, action, resource, source address
/// and mTLS peer. Never a header, a query string, a token or a claim.
#[derive(Debug, Default, PartialEq)]
pub struct RequestSummary {
    pub method: Option<FactValue>,
    pub path: Option<FactValue>,
    pub host: Option<FactValue>,
    pub package: Option<FactValue>,
    pub principal: Option<FactValue>,
    pub action: Option<FactValue>,
    pub resource: Option<FactValue>,
    pub source_ip: Option<FactValue>,
    pub tls_peer: Option<FactValue>,
}

/// A fact's value: a string, or another JSON value as the request gave it.
#[derive(Debug, PartialEq)]
pub enum FactValue {
    Text(String),
    Json(Box<Json>),
}

impl RequestSummary {
    /// The values in the order of `record::FACTS`.
    pub fn values(&self) -> [Option<&FactValue>; FACTS.len()] {
        [
            self.method.as_ref(),
            self.path.as_ref(),
            self.host.as_ref(),
            self.package.as_ref(),
            self.principal.as_ref(),
            self.action.as_ref(),
            self.resource.as_ref(),
            self.source_ip.as_ref(),
            self.tls_peer.as_ref(),
        ]
    }

    /// The slots in the order of `record::FACTS`.
    pub fn slots_mut(&mut self) -> [&mut Option<FactValue>; FACTS.len()] {
        [
            &mut self.method,
            &mut self.path,
            &mut self.host,
            &mut self.package,
            &mut self.principal,
            &mut self.action,
            &mut self.resource,
            &mut self.source_ip,
            &mut self.tls_peer,
        ]
    }
}
