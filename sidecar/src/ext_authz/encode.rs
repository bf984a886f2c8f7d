//! The `CheckResponse` of a decision, written straight as protobuf bytes.
//!
//! Building the typed `CheckResponse` (a `HashMap` of `Value`s for the dynamic metadata,
//! a `String` per header name and value) and then encoding it with prost cost about twenty
//! allocations and two walks of the message per Check. Here the same message is written in
//! one pass into one buffer, borrowing every string from the decision; nested messages get
//! their length once written (the few bytes after them move when a length takes more than
//! one byte). [`super::check_response`] decodes these bytes back with prost, so the tests of
//! the typed answer check this writer, and there is one mapping of a decision to Envoy.
//!
//! Field numbers are those of `envoy.service.auth.v3` (`CheckResponse`, `OkHttpResponse`,
//! `DeniedHttpResponse`), `envoy.config.core.v3` (`HeaderValueOption`, `HeaderValue`),
//! `envoy.type.v3.HttpStatus`, `google.rpc.Status` and `google.protobuf` (`Struct`,
//! `Value`, `ListValue`). Fields at their default value are left out, as prost does.

use envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction;
use rampart_engine::ObligationOut;

use super::{GRPC_OK, GRPC_PERMISSION_DENIED, GRPC_RESOURCE_EXHAUSTED, GRPC_UNAUTHENTICATED};
use crate::enforce::{self, CHALLENGE, DECISION_ID_HEADER};
use crate::ratelimit::TOO_MANY_REQUESTS;
use crate::state::Decided;

/// The protobuf wire type of varints.
const VARINT: u8 = 0;
/// The protobuf wire type of strings, bytes and messages.
const LENGTH_DELIMITED: u8 = 2;

/// The bytes a response usually takes: most fit without growing.
pub const RESPONSE_CAPACITY: usize = 512;

/// Writes the `CheckResponse` of `decided` into `out` (see [`super::check_response`] for
/// the mapping). The values of the header obligations are read, not moved: the caller
/// empties them afterwards when the decision goes to the log.
pub fn write_check_response(out: &mut Vec<u8>, decided: &Decided, unauthenticated: bool) {
    let decision = &decided.decision;
    if decision.is_allow() {
        // status: OK (a `google.rpc.Status` with every field at its default).
        message(out, 1, |status| int(status, 1, i64::from(GRPC_OK)));
        // ok_response: the header obligations, in the decision's order.
        message(out, 3, |ok| {
            for obligation in &decision.obligations {
                match obligation {
                    ObligationOut::RequestHeader { name, value, .. } => {
                        header(
                            ok,
                            2,
                            name,
                            value,
                            HeaderAppendAction::OverwriteIfExistsOrAdd,
                        );
                    }
                    ObligationOut::ResponseHeader { name, value, .. } => {
                        header(ok, 6, name, value, HeaderAppendAction::AppendIfExistsOrAdd);
                    }
                    ObligationOut::RemoveHeader { name, .. } => string(ok, 5, name),
                    ObligationOut::Mask { .. } | ObligationOut::RateLimit { .. } => {}
                }
            }
        });
        dynamic_metadata(out, decided);
        return;
    }
    let limited = decided.rate_limited.as_ref();
    let grpc = match (limited, unauthenticated) {
        (Some(_), _) => GRPC_RESOURCE_EXHAUSTED,
        (None, true) => GRPC_UNAUTHENTICATED,
        (None, false) => GRPC_PERMISSION_DENIED,
    };
    let http = match limited {
        Some(_) => TOO_MANY_REQUESTS,
        None => enforce::deny_status(unauthenticated),
    };
    message(out, 1, |status| {
        int(status, 1, i64::from(grpc));
        string(status, 2, "denied by policy");
    });
    message(out, 2, |denied| {
        message(denied, 1, |status| int(status, 1, i64::from(http)));
        let append = HeaderAppendAction::OverwriteIfExistsOrAdd;
        header(denied, 2, "content-type", "application/json", append);
        header(denied, 2, DECISION_ID_HEADER, &decided.id, append);
        if let Some(limited) = limited {
            let seconds = limited.retry_after_s.to_string();
            header(denied, 2, "retry-after", &seconds, append);
        } else if unauthenticated {
            header(denied, 2, "www-authenticate", CHALLENGE, append);
        }
        string(denied, 3, &enforce::deny_body(decided));
    });
    dynamic_metadata(out, decided);
}

/// `dynamic_metadata` (4): a `Struct` of `decision_id`, `decision`, `rules`, and the
/// `mask` fields of an allow (for a filter downstream that masks responses).
fn dynamic_metadata(out: &mut Vec<u8>, decided: &Decided) {
    let decision = &decided.decision;
    message(out, 4, |fields| {
        struct_field(fields, "decision_id", |value| {
            string_value(value, &decided.id);
        });
        let effect = if decision.is_allow() { "allow" } else { "deny" };
        struct_field(fields, "decision", |value| string_value(value, effect));
        struct_field(fields, "rules", |value| {
            list_value(value, decision.rules.iter().map(String::as_str));
        });
        let mut mask = decision
            .obligations
            .iter()
            .filter_map(|o| match o {
                ObligationOut::Mask { fields, .. } => Some(fields),
                _ => None,
            })
            .flatten()
            .map(String::as_str)
            .peekable();
        if mask.peek().is_some() {
            struct_field(fields, "mask", |value| list_value(value, mask));
        }
    });
}

/// One entry of `Struct.fields` (1, a map): `key` (1) and the `Value` (2) `write` writes.
fn struct_field(out: &mut Vec<u8>, key: &str, write: impl FnOnce(&mut Vec<u8>)) {
    message(out, 1, |entry| {
        string(entry, 1, key);
        message(entry, 2, write);
    });
}

/// The fields of a `Value` holding a string (`string_value`, 3).
fn string_value(value: &mut Vec<u8>, text: &str) {
    // A string value is written even when empty: the oneof says which kind it is.
    key(value, 3, LENGTH_DELIMITED);
    bytes(value, text.as_bytes());
}

/// The fields of a `Value` holding a list of strings (`list_value`, 6; `values`, 1).
fn list_value<'a>(value: &mut Vec<u8>, items: impl Iterator<Item = &'a str>) {
    message(value, 6, |list| {
        for item in items {
            message(list, 1, |value| string_value(value, item));
        }
    });
}

/// A `HeaderValueOption` as field `tag`: `header` (1: `key` 1, `value` 2) and
/// `append_action` (3).
fn header(out: &mut Vec<u8>, tag: u32, name: &str, value: &str, action: HeaderAppendAction) {
    message(out, tag, |option| {
        message(option, 1, |header| {
            string(header, 1, name);
            string(header, 2, value);
        });
        int(option, 3, action as i64);
    });
}

/// A nested message as field `tag`: `write` writes its fields after the key, then its
/// length goes in front of them.
fn message(out: &mut Vec<u8>, tag: u32, write: impl FnOnce(&mut Vec<u8>)) {
    key(out, tag, LENGTH_DELIMITED);
    let start = out.len();
    write(out);
    let len = out.len() - start;
    let mut prefix = [0u8; 10];
    let used = varint_into(&mut prefix, len as u64);
    out.splice(start..start, prefix[..used].iter().copied());
}

/// A string field, left out when empty.
fn string(out: &mut Vec<u8>, tag: u32, text: &str) {
    if !text.is_empty() {
        key(out, tag, LENGTH_DELIMITED);
        bytes(out, text.as_bytes());
    }
}

/// An `int32` or enum field, left out when 0. Negative values take ten bytes, as prost
/// writes them.
fn int(out: &mut Vec<u8>, tag: u32, value: i64) {
    if value != 0 {
        key(out, tag, VARINT);
        varint(out, value as u64);
    }
}

/// A length and the bytes.
fn bytes(out: &mut Vec<u8>, data: &[u8]) {
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

/// A field's key: its number and wire type.
fn key(out: &mut Vec<u8>, tag: u32, wire: u8) {
    varint(out, (u64::from(tag) << 3) | u64::from(wire));
}

fn varint(out: &mut Vec<u8>, value: u64) {
    let mut buffer = [0u8; 10];
    let used = varint_into(&mut buffer, value);
    out.extend_from_slice(&buffer[..used]);
}

/// Writes `value` as a varint at the start of `buffer`; returns the bytes used.
fn varint_into(buffer: &mut [u8; 10], mut value: u64) -> usize {
    let mut used = 0;
    for slot in buffer.iter_mut() {
        used += 1;
        if value < 0x80 {
            *slot = value as u8;
            break;
        }
        *slot = (value as u8 & 0x7f) | 0x80;
        value >>= 7;
    }
    used
}
