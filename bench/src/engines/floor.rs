//! The floor: no policy engine, a hash-map lookup of the answer precomputed for each
//! (action, principal, resource) of the stream, to show how far each engine is from the
//! limit of "find this request's answer".
//!
//! The answers are Rampart's decisions of the stream, computed at load. Where the stream
//! holds one (action, principal, resource) with answers that differ by context (a scope,
//! MFA, the source address), that key maps to a second table keyed by the context's JSON
//! text; every other key holds its answer directly, so a decision is one lookup (two for
//! those keys). `decide` looks up the key prepared at load; `decide_e2e` parses the
//! Rampart request JSON text ([`super::rampart::request_text`]) with serde_json, takes the
//! fields out of it and looks them up. A request not in the table is denied.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::Value as Json;

use super::rampart::RampartDecider;
use super::{wrap, Answer, Decider, EngineKind, LoadTimes};
use crate::error::BenchError;
use crate::gen::Workload;

/// What the floor looks an answer up by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub action: String,
    pub principal_type: String,
    pub principal_id: String,
    pub resource_type: String,
    pub resource_id: String,
}

/// The answer of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Answer(bool),
    /// The stream has this key with answers that differ by context: by context JSON text.
    ByContext(HashMap<String, bool>),
}

/// A request read from Rampart's request JSON: its key and its context's JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub key: Key,
    pub context: String,
}

/// Reads the key and the context out of Rampart request JSON text; `None` if it is not
/// JSON or lacks a part.
pub fn parse(text: &str) -> Option<Parsed> {
    let mut value: Json = serde_json::from_str(text).ok()?;
    let mut take = |outer: &str, inner: Option<&str>| -> Option<String> {
        let mut slot = value.get_mut(outer)?;
        if let Some(inner) = inner {
            slot = slot.get_mut(inner)?;
        }
        match slot.take() {
            Json::String(s) => Some(s),
            _ => None,
        }
    };
    let key = Key {
        action: take("action", None)?,
        principal_type: take("principal", Some("type"))?,
        principal_id: take("principal", Some("id"))?,
        resource_type: take("resource", Some("type"))?,
        resource_id: take("resource", Some("id"))?,
    };
    let context = value
        .get("context")
        .map(Json::to_string)
        .unwrap_or_default();
    Some(Parsed { key, context })
}

/// The floor with a request stream's answers loaded.
pub struct FloorDecider {
    table: HashMap<Key, Entry>,
    /// The requests as prepared keys.
    requests: Vec<Parsed>,
    /// The requests as Rampart request JSON text, for the end-to-end mode.
    texts: Vec<String>,
    times: LoadTimes,
}

impl FloorDecider {
    /// Loads Rampart, then builds the table from its decisions.
    pub fn load(workload: &Workload) -> Result<Self, BenchError> {
        FloorDecider::from_rampart(&RampartDecider::load(workload)?)
    }

    /// Builds the table from the decisions of an already loaded Rampart on its stream.
    /// Compile time is the time to decide the whole stream with Rampart, load time the time
    /// to build the table.
    pub fn from_rampart(rampart: &RampartDecider) -> Result<Self, BenchError> {
        let started = Instant::now();
        let (engine, entities) = (rampart.engine(), rampart.entities());
        let answers: Vec<bool> = rampart
            .requests()
            .iter()
            .map(|request| engine.decide(request, entities).is_allow())
            .collect();
        let compiled = started.elapsed();
        let loading = Instant::now();
        let texts = rampart.texts().to_vec();
        let requests = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                parse(text)
                    .ok_or_else(|| BenchError::new(format!("floor: cannot read request {i}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let table = table(&requests, &answers);
        Ok(FloorDecider {
            table,
            requests,
            texts,
            times: LoadTimes {
                compile: compiled,
                load: loading.elapsed(),
            },
        })
    }

    /// The answer of a read request: one lookup, two for a key whose answer depends on
    /// the context; `None` when the stream did not have it.
    fn lookup(&self, key: &Key, context: &str) -> Option<bool> {
        match self.table.get(key)? {
            Entry::Answer(allow) => Some(*allow),
            Entry::ByContext(by_context) => by_context.get(context).copied(),
        }
    }

    /// The number of keys whose answer depends on the context.
    pub fn context_dependent_keys(&self) -> usize {
        self.table
            .values()
            .filter(|e| matches!(e, Entry::ByContext(_)))
            .count()
    }
}

/// Every key with its answer; keys seen with both answers keep them by context.
fn table(requests: &[Parsed], answers: &[bool]) -> HashMap<Key, Entry> {
    let mut by_key: HashMap<&Key, Vec<(&str, bool)>> = HashMap::new();
    for (request, &allow) in requests.iter().zip(answers) {
        by_key
            .entry(&request.key)
            .or_default()
            .push((request.context.as_str(), allow));
    }
    by_key
        .into_iter()
        .map(|(key, seen)| {
            let first = seen.first().is_some_and(|(_, allow)| *allow);
            let entry = if seen.iter().all(|(_, allow)| *allow == first) {
                Entry::Answer(first)
            } else {
                Entry::ByContext(
                    seen.into_iter()
                        .map(|(context, allow)| (context.to_string(), allow))
                        .collect(),
                )
            };
            (key.clone(), entry)
        })
        .collect()
}

impl Decider for FloorDecider {
    fn kind(&self) -> EngineKind {
        EngineKind::Floor
    }

    fn len(&self) -> usize {
        self.requests.len()
    }

    fn decide(&mut self, index: usize) -> bool {
        self.requests
            .get(wrap(index, self.requests.len()))
            .and_then(|r| self.lookup(&r.key, &r.context))
            .unwrap_or(false)
    }

    fn decide_e2e(&mut self, index: usize) -> bool {
        self.texts
            .get(wrap(index, self.texts.len()))
            .and_then(|text| parse(text))
            .and_then(|r| self.lookup(&r.key, &r.context))
            .unwrap_or(false)
    }

    fn answer(&mut self, index: usize) -> Answer {
        match self
            .requests
            .get(wrap(index, self.requests.len()))
            .and_then(|r| self.lookup(&r.key, &r.context))
        {
            Some(allow) => Answer {
                allow,
                errors: Vec::new(),
                rules: None,
            },
            None => Answer {
                allow: false,
                errors: vec!["no precomputed answer for this request".into()],
                rules: None,
            },
        }
    }

    fn load_times(&self) -> LoadTimes {
        self.times
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::generate;

    #[test]
    fn reads_the_key_and_the_context_of_a_request_text() {
        let text = r#"{"principal": {"type": "User", "id": "u1"}, "action": "read",
            "resource": {"type": "Doc", "id": "d1"}, "context": {"auth": {"mfa": true}}}"#;
        let parsed = parse(text).expect("a well-formed request");
        assert_eq!(parsed.key.action, "read");
        assert_eq!(
            (
                parsed.key.principal_id.as_str(),
                parsed.key.resource_type.as_str()
            ),
            ("u1", "Doc")
        );
        assert_eq!(parsed.context, r#"{"auth":{"mfa":true}}"#);
        assert!(parse("{").is_none());
        assert!(parse(r#"{"action": "read"}"#).is_none());
        assert!(parse(r#"{"principal": {"type": "User", "id": 7}, "action": "read", "resource": {"type": "Doc", "id": "d1"}}"#).is_none());
    }

    #[test]
    fn keys_with_answers_that_differ_by_context_are_looked_up_by_context() {
        let request = |id: &str, context: &str| Parsed {
            key: Key {
                action: "read".into(),
                principal_type: "User".into(),
                principal_id: id.into(),
                resource_type: "Doc".into(),
                resource_id: "d".into(),
            },
            context: context.into(),
        };
        let requests = [
            request("a", "{}"),
            request("a", "{}"),
            request("b", "{\"mfa\":true}"),
            request("b", "{\"mfa\":false}"),
        ];
        let table = table(&requests, &[true, true, true, false]);
        assert_eq!(table.get(&requests[0].key), Some(&Entry::Answer(true)));
        let Some(Entry::ByContext(by_context)) = table.get(&requests[2].key) else {
            panic!("b's answer depends on the context");
        };
        assert_eq!(by_context.get("{\"mfa\":false}"), Some(&false));
    }

    #[test]
    fn the_floor_answers_every_request_as_rampart_does_both_ways() {
        let workload = generate("small", 300).expect("small is a workload");
        let mut rampart = RampartDecider::load(&workload).expect("small loads");
        let mut floor = FloorDecider::from_rampart(&rampart).expect("the floor builds");
        // `small` has 50 entities, so its 300 requests repeat keys with other contexts.
        assert!(floor.context_dependent_keys() > 0);
        for i in 0..workload.requests.len() {
            let allow = rampart.decide(i);
            assert_eq!(floor.decide(i), allow, "request {i}");
            assert_eq!(floor.decide_e2e(i), allow, "request {i}");
            assert!(floor.answer(i).errors.is_empty());
        }
    }
}
