//! What the engine answers: the [`Decision`], in the JSON shape shared by every door.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Allow,
    Deny,
}

/// A decision and why it was taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub decision: Effect,
    /// Ids of the rules that decided: the applying deny/require rules for a deny, the
    /// applying allow rules for an allow, none for a default deny.
    pub rules: Vec<String>,
    /// The `reason` texts of the deciding rules.
    pub reasons: Vec<String>,
    /// Every evaluation or input error met while deciding.
    pub errors: Vec<DecisionError>,
    /// Obligations the enforcer must carry out (allow decisions only).
    pub obligations: Vec<ObligationOut>,
    /// Compliance controls of the deciding rules.
    pub controls: Vec<String>,
}

impl Decision {
    /// A deny that carries one error and no deciding rule: bad input, fail closed.
    pub fn error(message: impl Into<String>) -> Decision {
        Decision {
            decision: Effect::Deny,
            rules: Vec::new(),
            reasons: Vec::new(),
            errors: vec![DecisionError {
                rule: None,
                message: message.into(),
            }],
            obligations: Vec::new(),
            controls: Vec::new(),
        }
    }

    pub fn is_allow(&self) -> bool {
        self.decision == Effect::Allow
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"decision\":\"deny\"}"))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionError {
    /// The rule, obligation or mapping being evaluated, when there was one.
    pub rule: Option<String>,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ObligationOut {
    Mask {
        fields: Vec<String>,
        rule: String,
    },
    RateLimit {
        limit: u64,
        per_s: u64,
        key: String,
        rule: String,
    },
    RequestHeader {
        name: String,
        value: String,
        rule: String,
    },
    ResponseHeader {
        name: String,
        value: String,
        rule: String,
    },
    RemoveHeader {
        name: String,
        rule: String,
    },
}
