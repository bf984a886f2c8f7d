//! What a `rampart.v1` message would cost, read from its bytes before it is decoded.
//!
//! Protobuf is compact: two bytes (`0a 00`) are an empty `DecideRequest` in a batch, or an
//! empty `Value` in a context list, and each becomes a decoded struct of tens to hundreds
//! of bytes, then a JSON tree, then an engine request. So a message is walked field by
//! field first, following the sub-messages of the `rampart.v1` request shapes (and
//! `google.protobuf.Struct`), and refused as soon as it holds more fields, or a batch more
//! requests, than its [`Limits`] allow: nothing is allocated for a message that is refused.
//! Bytes the walk cannot read are left to the decoder, which refuses them too.

/// The message shapes whose sub-messages the walk follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `DecideBatchRequest`: `requests` (1) are `DecideRequest`s.
    Batch,
    /// `DecideRequest`: `principal` (1) and `resource` (3) are `Entity`s, `http` (4) an
    /// `HttpRequest`, `context` (5) a `Struct`.
    Request,
    /// `PlanRequest`: `principal` (1) is an `Entity`, `context` (5) a `Struct`.
    Plan,
    /// `Entity`: strings only.
    Entity,
    /// `HttpRequest`: `headers` (4) are map entries.
    Http,
    /// A `map<string, string>` entry.
    HeaderEntry,
    /// `google.protobuf.Struct`: `fields` (1) are map entries.
    Struct,
    /// A `map<string, Value>` entry: `value` (2) is a `Value`.
    StructEntry,
    /// `google.protobuf.Value`: `struct_value` (5) and `list_value` (6).
    Value,
    /// `google.protobuf.ListValue`: `values` (1).
    List,
}

impl Shape {
    /// The shape of field `number` when it is a sub-message the walk follows.
    fn child(self, number: u32) -> Option<Shape> {
        match (self, number) {
            (Shape::Batch, 1) => Some(Shape::Request),
            (Shape::Request, 1 | 3) | (Shape::Plan, 1) => Some(Shape::Entity),
            (Shape::Request, 4) => Some(Shape::Http),
            (Shape::Request | Shape::Plan | Shape::Value, 5) => Some(Shape::Struct),
            (Shape::Http, 4) => Some(Shape::HeaderEntry),
            (Shape::Struct, 1) => Some(Shape::StructEntry),
            (Shape::StructEntry, 2) | (Shape::List, 1) => Some(Shape::Value),
            (Shape::Value, 6) => Some(Shape::List),
            _ => None,
        }
    }
}

/// What one message may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// The most bytes.
    pub max_bytes: usize,
    /// The most fields at any depth (a map entry, its key and its value are three).
    pub max_fields: usize,
    /// The most occurrences of field 1 at the top (the requests of a batch).
    pub max_items: usize,
}

/// Why a message is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exceeded {
    /// More bytes than `max_bytes` (how many there are).
    Bytes(usize),
    /// More fields than `max_fields`.
    Fields,
    /// More top-level items than `max_items`.
    Items,
}

/// Deeper than this, the decoder refuses the message anyway (prost's recursion limit).
const MAX_DEPTH: u32 = 100;

/// Checks `bytes`, a message of `shape`, against `limits` without decoding it.
pub(crate) fn check(shape: Shape, bytes: &[u8], limits: Limits) -> Result<(), Exceeded> {
    if bytes.len() > limits.max_bytes {
        return Err(Exceeded::Bytes(bytes.len()));
    }
    let mut walk = Walk {
        bytes,
        at: 0,
        fields: 0,
        items: 0,
        limits,
    };
    match walk.fields_of(Some(shape), bytes.len(), None, 0) {
        Err(Stop::Exceeded(exceeded)) => Err(exceeded),
        // Unreadable bytes are the decoder's to refuse; up to them, the limits held.
        Ok(()) | Err(Stop::Unreadable) => Ok(()),
    }
}

enum Stop {
    Exceeded(Exceeded),
    Unreadable,
}

struct Walk<'a> {
    bytes: &'a [u8],
    at: usize,
    fields: usize,
    items: usize,
    limits: Limits,
}

impl Walk<'_> {
    /// Walks fields up to `end` (or to the end-group tag of `group`), counting them.
    fn fields_of(
        &mut self,
        shape: Option<Shape>,
        end: usize,
        group: Option<u32>,
        depth: u32,
    ) -> Result<(), Stop> {
        if depth > MAX_DEPTH {
            return Err(Stop::Unreadable);
        }
        while self.at < end {
            let key = self.varint()?;
            let number = u32::try_from(key >> 3).map_err(|_| Stop::Unreadable)?;
            let wire_type = key & 7;
            if wire_type == 4 {
                // An end-group tag closes the group being walked, and nothing else.
                return if group == Some(number) {
                    Ok(())
                } else {
                    Err(Stop::Unreadable)
                };
            }
            self.fields += 1;
            if self.fields > self.limits.max_fields {
                return Err(Stop::Exceeded(Exceeded::Fields));
            }
            if depth == 0 && number == 1 {
                self.items += 1;
                if self.items > self.limits.max_items {
                    return Err(Stop::Exceeded(Exceeded::Items));
                }
            }
            match wire_type {
                0 => {
                    self.varint()?;
                }
                1 => self.skip(8)?,
                5 => self.skip(4)?,
                2 => {
                    let len = usize::try_from(self.varint()?).map_err(|_| Stop::Unreadable)?;
                    let start = self.at;
                    self.skip(len)?;
                    if let Some(child) = shape.and_then(|s| s.child(number)) {
                        let after = self.at;
                        self.at = start;
                        self.fields_of(Some(child), after, None, depth + 1)?;
                        self.at = after;
                    }
                }
                3 => self.fields_of(None, end, Some(number), depth + 1)?,
                _ => return Err(Stop::Unreadable),
            }
        }
        if group.is_some() || self.at != end {
            return Err(Stop::Unreadable);
        }
        Ok(())
    }

    fn varint(&mut self) -> Result<u64, Stop> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes.get(self.at).ok_or(Stop::Unreadable)?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Stop::Unreadable)
    }

    fn skip(&mut self, len: usize) -> Result<(), Stop> {
        let after = self.at.checked_add(len).ok_or(Stop::Unreadable)?;
        if after > self.bytes.len() {
            return Err(Stop::Unreadable);
        }
        self.at = after;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::{check, Exceeded, Limits, Shape};
    use crate::proto::rampart::v1::{
        DecideBatchRequest, DecideRequest, Entity, HttpRequest, PlanRequest,
    };

    const LIMITS: Limits = Limits {
        max_bytes: 1 << 20,
        max_fields: 1000,
        max_items: 4,
    };

    fn request(headers: usize) -> DecideRequest {
        DecideRequest {
            principal: Some(Entity {
                r#type: "User".into(),
                id: "alice".into(),
            }),
            http: Some(HttpRequest {
                method: "GET".into(),
                path: "/".into(),
                host: String::new(),
                headers: (0..headers)
                    .map(|i| (format!("h{i}"), "v".into()))
                    .collect(),
            }),
            ..DecideRequest::default()
        }
    }

    #[test]
    fn items_are_counted_before_anything_is_decoded() {
        let four = DecideBatchRequest {
            requests: vec![request(1); 4],
        };
        assert_eq!(check(Shape::Batch, &four.encode_to_vec(), LIMITS), Ok(()));
        let mut five = four.encode_to_vec();
        five.extend([0x0a, 0x00]);
        assert_eq!(check(Shape::Batch, &five, LIMITS), Err(Exceeded::Items));
        assert_eq!(
            check(Shape::Batch, &[0x0a, 0x00].repeat(1000), LIMITS),
            Err(Exceeded::Items)
        );
    }

    #[test]
    fn fields_are_counted_at_every_depth() {
        // Each header is an entry, a key and a value; principal is 3, http 3 more.
        let fits = request(331).encode_to_vec();
        assert_eq!(check(Shape::Request, &fits, LIMITS), Ok(()));
        let over = request(332).encode_to_vec();
        assert_eq!(check(Shape::Request, &over, LIMITS), Err(Exceeded::Fields));
        // Empty values in a context list: field 5 (Struct) → entry → Value → list → values.
        let mut list = Vec::new();
        for _ in 0..2000 {
            list.extend([0x0a, 0x00]);
        }
        let value = [&[0x32_u8][..], &varint(list.len()), &list].concat();
        let entry = [&[0x12_u8][..], &varint(value.len()), &value].concat();
        let context = [&[0x0a_u8][..], &varint(entry.len()), &entry].concat();
        let message = [&[0x2a_u8][..], &varint(context.len()), &context].concat();
        assert!(DecideRequest::decode(message.as_slice()).is_ok());
        assert_eq!(
            check(Shape::Request, &message, LIMITS),
            Err(Exceeded::Fields)
        );
        // Unknown fields and groups count too.
        let groups = [0x4b_u8, 0x4c].repeat(1001);
        assert!(DecideRequest::decode(groups.as_slice()).is_ok());
        assert_eq!(
            check(Shape::Request, &groups, LIMITS),
            Err(Exceeded::Fields)
        );
    }

    #[test]
    fn a_plan_request_is_counted_like_a_decide_request() {
        // Empty values in a context list, as for `Decide`: field 5 is the Struct.
        let mut list = Vec::new();
        for _ in 0..2000 {
            list.extend([0x0a, 0x00]);
        }
        let value = [&[0x32_u8][..], &varint(list.len()), &list].concat();
        let entry = [&[0x12_u8][..], &varint(value.len()), &value].concat();
        let context = [&[0x0a_u8][..], &varint(entry.len()), &entry].concat();
        let message = [&[0x2a_u8][..], &varint(context.len()), &context].concat();
        assert!(PlanRequest::decode(message.as_slice()).is_ok());
        assert_eq!(check(Shape::Plan, &message, LIMITS), Err(Exceeded::Fields));
        // The principal is an entity: its strings count.
        let plan = PlanRequest {
            principal: Some(Entity {
                r#type: "User".into(),
                id: "alice".into(),
            }),
            resource_type: "Account".into(),
            ..PlanRequest::default()
        };
        // principal, its type and id, resource_type: four fields.
        let bytes = plan.encode_to_vec();
        assert_eq!(check(Shape::Plan, &bytes, fields_at_most(4)), Ok(()));
        assert_eq!(
            check(Shape::Plan, &bytes, fields_at_most(3)),
            Err(Exceeded::Fields)
        );
    }

    #[test]
    fn bytes_are_bounded_and_unreadable_messages_are_left_to_the_decoder() {
        let big = vec![0; (1 << 20) + 1];
        assert_eq!(
            check(Shape::Batch, &big, LIMITS),
            Err(Exceeded::Bytes((1 << 20) + 1))
        );
        for bytes in [&[0x0a, 0x7f, 0x01][..], &[0xff; 11], &[0x4c], &[0x4b]] {
            assert_eq!(check(Shape::Request, bytes, LIMITS), Ok(()));
            assert!(DecideRequest::decode(bytes).is_err(), "{bytes:?}");
        }
    }

    fn fields_at_most(max_fields: usize) -> Limits {
        Limits {
            max_fields,
            ..LIMITS
        }
    }

    fn varint(mut n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while n >= 0x80 {
            out.push(u8::try_from(n & 0x7f).unwrap_or(0) | 0x80);
            n >>= 7;
        }
        out.push(u8::try_from(n).unwrap_or(0));
        out
    }
}
