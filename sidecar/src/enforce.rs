//! What a gateway is told to do with a decision, shared by the ext_authz, forward-auth and
//! OPA doors: the header obligations of an allow, and the status and body of a deny.
//!
//! The mapping itself lives in [`rampart_engine::gateway`], so that the proxy-wasm filter,
//! which runs the engine inside Envoy, answers exactly as these doors do.

use crate::state::Decided;

pub use rampart_engine::gateway::{
    deny_status, unsendable_header, HeaderObligations, CHALLENGE, DECISION_ID_HEADER,
};

/// The JSON body of a deny: the decision id, the deciding rules and their reasons (and,
/// for a rate-limited request, `retry_after_s`). Errors are not shown to the client (they
/// may describe the policy); the decision log has them.
pub fn deny_body(decided: &Decided) -> String {
    let retry_after_s = decided.rate_limited.as_ref().map(|l| l.retry_after_s);
    rampart_engine::gateway::deny_body(&decided.id, &decided.decision, retry_after_s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_engine::{Decision, ObligationOut};

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
    }
}
