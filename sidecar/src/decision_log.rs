//! The decision log: one JSON line per decision, written by a thread of its own.
//!
//! Deciding threads format a record and hand it to a bounded queue; they never wait on the
//! disk. When the queue is full the record is dropped and counted
//! (`rampart_decision_log_dropped_total`). Records carry facts about the request, never
//! secrets: no header, token, claim or query string is written, and obligations are listed
//! by kind, name and rule without their values.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use rampart_engine::{Decision, ObligationOut};
use serde_json::{json, Map, Value as Json};

use crate::state::{now_ms, Door};

/// Records waiting to be written before new ones are dropped.
const QUEUE_RECORDS: usize = 16 * 1024;

/// A running decision-log writer.
pub struct DecisionLog {
    /// `None` once closed. Deciding threads only take the read lock.
    sender: RwLock<Option<SyncSender<String>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl DecisionLog {
    /// Opens (creating or appending to) the file and starts the writer thread.
    pub fn open(path: &Path) -> std::io::Result<DecisionLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let (sender, receiver) = sync_channel(QUEUE_RECORDS);
        let writer = std::thread::Builder::new()
            .name("rampart-decision-log".into())
            .spawn(move || write_records(receiver, file))?;
        Ok(DecisionLog {
            sender: RwLock::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Queues the record of one decision. False when it was dropped (queue full or closed).
    pub fn record(
        &self,
        id: &str,
        door: Door,
        request: &Json,
        decision: &Decision,
        elapsed: Duration,
    ) -> bool {
        let line = record_line(id, door, request, decision, elapsed);
        let Ok(guard) = self.sender.read() else {
            return false;
        };
        match guard.as_ref().map(|s| s.try_send(line)) {
            Some(Ok(())) => true,
            Some(Err(TrySendError::Full(_) | TrySendError::Disconnected(_))) | None => false,
        }
    }

    /// Stops accepting records, writes out the queue and waits for the writer to finish.
    pub fn close(&self) {
        if let Ok(mut sender) = self.sender.write() {
            sender.take();
        }
        let handle = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(handle) = handle {
            if handle.join().is_err() {
                eprintln!("rampart serve: the decision-log writer failed");
            }
        }
    }
}

/// The writer thread: writes each record as a line, flushing whenever the queue is empty.
fn write_records(receiver: Receiver<String>, file: File) {
    let mut out = BufWriter::new(file);
    let mut failed = false;
    while let Ok(first) = receiver.recv() {
        let mut line = Some(first);
        while let Some(text) = line {
            if !failed {
                if let Err(error) = writeln!(out, "{text}") {
                    eprintln!("rampart serve: cannot write the decision log: {error}");
                    failed = true;
                }
            }
            line = receiver.try_recv().ok();
        }
        if !failed {
            if let Err(error) = out.flush() {
                eprintln!("rampart serve: cannot write the decision log: {error}");
                failed = true;
            }
        }
    }
}

/// One record as a JSON line.
fn record_line(
    id: &str,
    door: Door,
    request: &Json,
    decision: &Decision,
    elapsed: Duration,
) -> String {
    let obligations: Vec<Json> = decision
        .obligations
        .iter()
        .map(obligation_summary)
        .collect();
    let record = json!({
        "id": id,
        "time": rampart_engine::time::format_timestamp(now_ms()),
        "door": door.label(),
        "request": request_facts(request),
        "decision": decision.decision,
        "rules": decision.rules,
        "reasons": decision.reasons,
        "errors": decision.errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
        "obligations": obligations,
        "controls": decision.controls,
        "latency_us": u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
    });
    record.to_string()
}

/// The facts of a request that are safe to keep: method, path without its query, host,
/// package, named principal/action/resource, source address and mTLS peer.
fn request_facts(request: &Json) -> Json {
    let mut facts = Map::new();
    let mut put = |key: &str, value: Option<&Json>| {
        if let Some(value) = value.filter(|v| !v.is_null()) {
            facts.insert(key.to_owned(), value.clone());
        }
    };
    let http = request.get("http");
    put("method", http.and_then(|h| h.get("method")));
    let path = http
        .and_then(|h| h.get("path"))
        .and_then(Json::as_str)
        .map(|p| Json::from(p.split(['?', '#']).next().unwrap_or_default()));
    put("path", path.as_ref());
    put("host", http.and_then(|h| h.get("host")));
    put("package", request.get("package"));
    put("principal", request.get("principal"));
    put("action", request.get("action"));
    put("resource", request.get("resource"));
    let context = request.get("context");
    put(
        "source_ip",
        context
            .and_then(|c| c.get("source"))
            .and_then(|s| s.get("ip")),
    );
    put(
        "tls_peer",
        context
            .and_then(|c| c.get("tls"))
            .and_then(|t| t.get("peer")),
    );
    Json::Object(facts)
}

/// An obligation without its value: kind, name or fields, and rule.
fn obligation_summary(obligation: &ObligationOut) -> Json {
    match obligation {
        ObligationOut::Mask { fields, rule } => {
            json!({"kind": "mask", "fields": fields, "rule": rule})
        }
        ObligationOut::RateLimit {
            limit, per_s, rule, ..
        } => json!({"kind": "rate_limit", "limit": limit, "per_s": per_s, "rule": rule}),
        ObligationOut::RequestHeader { name, rule, .. } => {
            json!({"kind": "request_header", "name": name, "rule": rule})
        }
        ObligationOut::ResponseHeader { name, rule, .. } => {
            json!({"kind": "response_header", "name": name, "rule": rule})
        }
        ObligationOut::RemoveHeader { name, rule } => {
            json!({"kind": "remove_header", "name": name, "rule": rule})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_request_facts_but_no_secrets() {
        let request = json!({
            "http": {"method": "GET", "path": "/v1/a?token=secret", "host": "api",
                     "headers": {"authorization": "Bearer secret", "cookie": "s=secret"}},
            "context": {"auth": {"method": "jwt", "subject": "alice"},
                        "source": {"ip": "10.0.0.1"}, "tls": {"mtls": true, "peer": "spiffe://a"}}
        });
        let mut decision = Decision::error("boom");
        decision.obligations.push(ObligationOut::RequestHeader {
            name: "x-user".into(),
            value: "secret".into(),
            rule: "r".into(),
        });
        let line = record_line("id1", Door::ExtAuthz, &request, &decision, Duration::ZERO);
        assert!(!line.contains("secret"), "{line}");
        let record: Json = serde_json::from_str(&line).unwrap_or_default();
        assert_eq!(record["id"], "id1");
        assert_eq!(record["door"], "ext_authz");
        assert_eq!(record["decision"], "deny");
        assert_eq!(record["request"]["path"], "/v1/a");
        assert_eq!(record["request"]["source_ip"], "10.0.0.1");
        assert_eq!(record["request"]["tls_peer"], "spiffe://a");
        assert_eq!(record["errors"][0], "boom");
        assert_eq!(record["obligations"][0]["name"], "x-user");
    }
}
