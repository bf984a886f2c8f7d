//! Records the writer adds to the chain about the log itself: a clean stop, records that
//! were not written (a gap), and a previous run that ended without closing the log (a
//! crash, with the line it cut off).
//!
//! They are sealed like decision records, so they cannot be removed or edited without
//! breaking the chain, and `rampart log verify` reports every gap and crash. An event
//! record has `"event"` as its first field; a decision record never has one.

use serde_json::{Map, Value as Json};

use super::record::TimeText;

/// Why records were not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapReason {
    /// The writer's queue was full: decisions came faster than the writer wrote them.
    QueueFull = 0,
    /// The writer could not write (a full disk, an I/O error) and the queue filled up.
    WriteError = 1,
}

impl GapReason {
    pub const ALL: [GapReason; 2] = [GapReason::QueueFull, GapReason::WriteError];

    /// `queue_full` or `write_error`: the `reason` of a gap record and the label of
    /// `rampart_decision_log_dropped_total`.
    pub fn label(self) -> &'static str {
        match self {
            GapReason::QueueFull => "queue_full",
            GapReason::WriteError => "write_error",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    fn from_label(label: &str) -> Option<GapReason> {
        GapReason::ALL.into_iter().find(|r| r.label() == label)
    }
}

/// The bytes a crash left at the end of the log, without a newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Torn {
    pub bytes: u64,
    /// SHA-256 of those bytes, lowercase hex: the torn line is covered by the chain too.
    pub sha256: String,
}

/// A record about the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The sidecar closed the log: every decision it answered before is above.
    Stop,
    /// `lost` records were dropped (for `reason`) since the last gap record.
    Gap {
        reason: GapReason,
        lost: u64,
        /// The last write error, for `write_error`.
        error: Option<String>,
    },
    /// The previous run ended without closing the log (it was killed, crashed, or the
    /// machine went down): decisions it answered after its last record may be missing.
    /// `torn` is the cut-off line it left, when it left one.
    Crash { torn: Option<Torn> },
}

impl Event {
    /// Writes the record body (a JSON object without its closing brace) at `time_ms`.
    pub fn write(&self, out: &mut Vec<u8>, time_ms: i64, time: &mut TimeText) {
        let name = match self {
            Event::Stop => "stop",
            Event::Gap { .. } => "gap",
            Event::Crash { .. } => "crash",
        };
        out.extend_from_slice(b"{\"event\":");
        write_json(out, name);
        out.extend_from_slice(b",\"time\":");
        write_json(out, time.of(time_ms));
        match self {
            Event::Stop => {}
            Event::Gap {
                reason,
                lost,
                error,
            } => {
                out.extend_from_slice(b",\"reason\":");
                write_json(out, reason.label());
                out.extend_from_slice(b",\"lost\":");
                write_json(out, lost);
                if let Some(error) = error {
                    out.extend_from_slice(b",\"error\":");
                    write_json(out, error);
                }
            }
            Event::Crash { torn } => {
                if let Some(torn) = torn {
                    out.extend_from_slice(b",\"torn_bytes\":");
                    write_json(out, &torn.bytes);
                    out.extend_from_slice(b",\"torn_sha256\":");
                    write_json(out, &torn.sha256);
                }
            }
        }
    }

    /// The event a record states: `None` for a decision record, an error for an `event`
    /// field that is not one the writer writes.
    pub fn read(record: &Map<String, Json>) -> Option<Result<Event, String>> {
        let name = record.get("event")?;
        Some(match name.as_str() {
            Some("stop") => Ok(Event::Stop),
            Some("gap") => {
                let reason = record
                    .get("reason")
                    .and_then(Json::as_str)
                    .and_then(GapReason::from_label);
                let lost = record.get("lost").and_then(Json::as_u64);
                match (reason, lost) {
                    (Some(reason), Some(lost)) => Ok(Event::Gap {
                        reason,
                        lost,
                        error: record
                            .get("error")
                            .and_then(Json::as_str)
                            .map(str::to_owned),
                    }),
                    _ => Err("a gap record without a known `reason` and a `lost` count".into()),
                }
            }
            Some("crash") => {
                let bytes = record.get("torn_bytes").and_then(Json::as_u64);
                let sha256 = record.get("torn_sha256").and_then(Json::as_str);
                match (bytes, sha256) {
                    (None, None) => Ok(Event::Crash { torn: None }),
                    (Some(bytes), Some(sha256)) => Ok(Event::Crash {
                        torn: Some(Torn {
                            bytes,
                            sha256: sha256.to_owned(),
                        }),
                    }),
                    _ => Err("a crash record with half of its torn-line fields".into()),
                }
            }
            _ => Err(format!("an unknown event `{name}`")),
        })
    }
}

/// SHA-256 of `bytes` in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write as _;
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(event: &Event) -> Event {
        let mut out = Vec::new();
        event.write(&mut out, 0, &mut TimeText::default());
        out.push(b'}');
        let record: Map<String, Json> =
            serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{e}"));
        assert!(out.starts_with(b"{\"event\":"));
        Event::read(&record)
            .unwrap_or_else(|| panic!("no event"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn events_read_back_as_written() {
        let events = [
            Event::Stop,
            Event::Gap {
                reason: GapReason::WriteError,
                lost: 7,
                error: Some("No space left on device (os error 28)".into()),
            },
            Event::Gap {
                reason: GapReason::QueueFull,
                lost: 1,
                error: None,
            },
            Event::Crash { torn: None },
            Event::Crash {
                torn: Some(Torn {
                    bytes: 12,
                    sha256: sha256_hex(b"{\"id\":\"cut"),
                }),
            },
        ];
        for event in &events {
            assert_eq!(&round_trip(event), event);
        }
        let odd: Map<String, Json> =
            serde_json::from_str(r#"{"event":"gap","reason":"cosmic_ray","lost":1}"#)
                .unwrap_or_default();
        assert!(matches!(Event::read(&odd), Some(Err(_))));
        let decision: Map<String, Json> = serde_json::from_str(r#"{"id":"x"}"#).unwrap_or_default();
        assert!(Event::read(&decision).is_none());
    }
}
