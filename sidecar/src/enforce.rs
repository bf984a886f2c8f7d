//! What a gateway is told to do with a decision, shared by the ext_authz and forward-auth
//! doors: the header obligations of an allow, and the status and body of a deny.

use rampart_engine::{Decision, ObligationOut};
use serde_json::json;

use crate::state::Decided;

/// The header obligations of an allow decision, in declaration order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HeaderObligations {
    /// `request_header`: set on the upstream request (replacing any value).
    pub set_upstream: Vec<(String, String)>,
    /// `remove_header`: removed from the upstream request.
    pub remove_upstream: Vec<String>,
    /// `response_header`: added to the response sent to the client.
    pub add_to_response: Vec<(String, String)>,
}

impl HeaderObligations {
    pub fn of(decision: &Decision) -> HeaderObligations {
        let mut out = HeaderObligations::default();
        if !decision.is_allow() {
            return out;
        }
        for obligation in &decision.obligations {
            match obligation {
                ObligationOut::RequestHeader { name, value, .. } => {
                    out.set_upstream.push((name.clone(), value.clone()));
                }
                ObligationOut::RemoveHeader { name, .. } => out.remove_upstream.push(name.clone()),
                ObligationOut::ResponseHeader { name, value, .. } => {
                    out.add_to_response.push((name.clone(), value.clone()));
                }
                ObligationOut::Mask { .. } | ObligationOut::RateLimit { .. } => {}
            }
        }
        out
    }
}

/// Why an allow's header obligations cannot be sent, if they cannot: a name that is not an
/// HTTP token or a value with control characters (a header value computed from request
/// data could otherwise smuggle a line break). The caller turns such an allow into a deny.
pub fn unsendable_header(decision: &Decision) -> Option<String> {
    let is_token = |name: &str| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let is_value = |value: &str| {
        value
            .bytes()
            .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
    };
    decision.obligations.iter().find_map(|obligation| {
        let (name, value, rule) = match obligation {
            ObligationOut::RequestHeader { name, value, rule }
            | ObligationOut::ResponseHeader { name, value, rule } => (name, Some(value), rule),
            ObligationOut::RemoveHeader { name, rule } => (name, None, rule),
            ObligationOut::Mask { .. } | ObligationOut::RateLimit { .. } => return None,
        };
        if !is_token(name) {
            Some(format!("obligation `{rule}`: invalid header name `{name}`"))
        } else if value.is_some_and(|v| !is_value(v)) {
            Some(format!(
                "obligation `{rule}`: the value of header `{name}` has control characters"
            ))
        } else {
            None
        }
    })
}

/// The HTTP status of a deny: 401 when the request carried no authentication at all
/// (authenticating may change the answer), 403 otherwise.
pub fn deny_status(unauthenticated: bool) -> u16 {
    if unauthenticated {
        401
    } else {
        403
    }
}

/// The JSON body of a deny: the decision id, the deciding rules and their reasons (and,
/// for a rate-limited request, `retry_after_s`). Errors are not shown to the client (they
/// may describe the policy); the decision log has them.
pub fn deny_body(decided: &Decided) -> String {
    let mut body = json!({
        "decision": "deny",
        "id": decided.id,
        "rules": decided.decision.rules,
        "reasons": decided.decision.reasons,
    });
    if let (Some(limited), Some(fields)) = (&decided.rate_limited, body.as_object_mut()) {
        fields.insert("retry_after_s".into(), json!(limited.retry_after_s));
    }
    body.to_string()
}

/// The `www-authenticate` challenge sent with a 401.
pub const CHALLENGE: &str = "Bearer realm=\"rampart\"";

/// The response header naming the decision, on every answer of the HTTP doors and on
/// ext_authz denials.
pub const DECISION_ID_HEADER: &str = "x-rampart-decision-id";

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_engine::Effect;

    fn allow_with(obligations: Vec<ObligationOut>) -> Decision {
        let mut decision = Decision::error("x");
        decision.decision = Effect::Allow;
        decision.errors.clear();
        decision.obligations = obligations;
        decision
    }

    #[test]
    fn header_obligations_are_sorted_by_where_they_go() {
        let decision = allow_with(vec![
            ObligationOut::RequestHeader {
                name: "x-user".into(),
                value: "alice".into(),
                rule: "a".into(),
            },
            ObligationOut::Mask {
                fields: vec!["card.pan".into()],
                rule: "m".into(),
            },
            ObligationOut::RemoveHeader {
                name: "authorization".into(),
                rule: "b".into(),
            },
            ObligationOut::ResponseHeader {
                name: "cache-control".into(),
                value: "no-store".into(),
                rule: "c".into(),
            },
        ]);
        let headers = HeaderObligations::of(&decision);
        assert_eq!(
            headers.set_upstream,
            vec![("x-user".into(), "alice".into())]
        );
        assert_eq!(headers.remove_upstream, vec!["authorization".to_string()]);
        assert_eq!(
            headers.add_to_response,
            vec![("cache-control".into(), "no-store".into())]
        );
    }

    #[test]
    fn a_deny_carries_no_header_obligations_and_a_body_without_errors() {
        let mut decision = Decision::error("secret detail");
        decision.obligations.push(ObligationOut::RemoveHeader {
            name: "authorization".into(),
            rule: "b".into(),
        });
        assert_eq!(
            HeaderObligations::of(&decision),
            HeaderObligations::default()
        );
        let body = deny_body(&Decided {
            id: "d1".into(),
            decision,
            rate_limited: None,
        });
        assert_eq!(
            body,
            r#"{"decision":"deny","id":"d1","rules":[],"reasons":[]}"#
        );
        assert_eq!(deny_status(true), 401);
        assert_eq!(deny_status(false), 403);
    }

    #[test]
    fn header_values_with_line_breaks_cannot_be_sent() {
        let header = |value: &str| ObligationOut::RequestHeader {
            name: "x-user".into(),
            value: value.into(),
            rule: "user".into(),
        };
        assert_eq!(
            unsendable_header(&allow_with(vec![header("alice\tok")])),
            None
        );
        let message = unsendable_header(&allow_with(vec![header("a\r\nx-admin: 1")]));
        assert_eq!(
            message.as_deref(),
            Some("obligation `user`: the value of header `x-user` has control characters")
        );
    }
}
