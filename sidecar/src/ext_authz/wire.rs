//! A `CheckRequest` read straight from its protobuf bytes: the fields the Check door uses,
//! borrowed from the message ([`CheckView`]), without building the typed message (its
//! `String`s and `HashMap`s: about fifty allocations per Check).
//!
//! It accepts exactly the messages prost accepts: every field of the messages on the way
//! to the facts (`CheckRequest`, `AttributeContext`, `Peer`, `Address`, `SocketAddress`,
//! `Request`, `Timestamp`, `HttpRequest`, `HeaderMap`, `HeaderValue`, `TlsSession`) is
//! checked as prost checks it (wire type, length, UTF-8 of strings, varints), unknown
//! fields are skipped as prost skips them, and the sub-messages the door never reads
//! (`metadata_context`, `route_metadata_context`, a pipe or internal address) are decoded
//! with prost, only to be checked. Repeated singular fields merge as prost merges them:
//! the last value wins, maps keep the last value of a key, a oneof takes the last member.
//! `ext_authz/tests.rs` holds the two decoders together on valid and malformed messages.

use std::borrow::Cow;

use envoy_types::ext_authz::v3::pb::CheckRequest;
use envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier;
use envoy_types::pb::envoy::config::core::v3::{address, Address};
use envoy_types::pb::envoy::config::core::v3::{EnvoyInternalAddress, Metadata, Pipe};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::HttpRequest;

/// Why the bytes are not a `CheckRequest` (tonic answers the Check with `INTERNAL` and
/// this text, as it does for prost's decode errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to decode Protobuf message: {0}")]
pub struct WireError(String);

fn error(what: &str) -> WireError {
    WireError(what.to_owned())
}

/// The facts of a `CheckRequest` the Check door reads, borrowed from the message.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CheckView<'a> {
    /// `attributes` is present.
    pub attributes: bool,
    /// `attributes.source.address`, when it is a socket address: its text and port
    /// (`None` for a named port or none).
    pub source_address: Option<(&'a str, Option<u32>)>,
    /// `attributes.source.principal`.
    pub source_principal: &'a str,
    /// `attributes.request.time`: seconds and nanoseconds.
    pub time: Option<(i64, i32)>,
    /// `attributes.request.http`.
    pub http: Option<HttpView<'a>>,
    /// `attributes.context_extensions`, each key once (its last value).
    pub extensions: Vec<(&'a str, &'a str)>,
}

/// The HTTP attributes of a `CheckRequest`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct HttpView<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub host: &'a str,
    pub query: &'a str,
    /// `headers`, each name once (its last value).
    pub headers: Vec<(&'a str, &'a str)>,
    /// `header_map` (`encode_raw_headers: true`): each header's `raw_value` as UTF-8
    /// (lossily) when not empty, else its `value`; in order, repeats kept.
    pub header_map: Vec<(&'a str, Cow<'a, str>)>,
}

impl<'a> CheckView<'a> {
    /// The value of a context extension.
    pub fn extension(&self, key: &str) -> Option<&'a str> {
        lookup(&self.extensions, key)
    }

    /// The view of a decoded `CheckRequest` (the typed path's own reading of it).
    pub fn of(check: &'a CheckRequest) -> CheckView<'a> {
        let Some(attributes) = &check.attributes else {
            return CheckView::default();
        };
        CheckView {
            attributes: true,
            source_address: attributes
                .source
                .as_ref()
                .and_then(|s| socket_address(s.address.as_ref())),
            source_principal: attributes
                .source
                .as_ref()
                .map_or("", |s| s.principal.as_str()),
            time: attributes
                .request
                .as_ref()
                .and_then(|r| r.time.as_ref())
                .map(|t| (t.seconds, t.nanos)),
            http: attributes
                .request
                .as_ref()
                .and_then(|r| r.http.as_ref())
                .map(HttpView::of),
            extensions: sorted_pairs(
                attributes
                    .context_extensions
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            ),
        }
    }

    /// Reads the bytes of a `CheckRequest` (see the module's documentation).
    pub fn parse(bytes: &'a [u8]) -> Result<CheckView<'a>, WireError> {
        let mut view = CheckView::default();
        let mut reader = Reader::new(bytes, 0)?;
        while let Some((tag, wire)) = reader.field()? {
            match tag {
                1 => {
                    let mut inner = reader.message(wire)?;
                    view.attributes = true;
                    view.read_attributes(&mut inner)?;
                }
                _ => reader.skip(tag, wire)?,
            }
        }
        view.extensions = dedup_last(std::mem::take(&mut view.extensions));
        if let Some(http) = &mut view.http {
            http.headers = dedup_last(std::mem::take(&mut http.headers));
        }
        Ok(view)
    }

    fn read_attributes(&mut self, reader: &mut Reader<'a>) -> Result<(), WireError> {
        while let Some((tag, wire)) = reader.field()? {
            match tag {
                1 => {
                    let mut peer = reader.message(wire)?;
                    self.read_peer(&mut peer, true)?;
                }
                2 => {
                    let mut peer = reader.message(wire)?;
                    self.read_peer(&mut peer, false)?;
                }
                4 => {
                    let mut request = reader.message(wire)?;
                    self.read_request(&mut request)?;
                }
                10 => {
                    let mut entry = reader.message(wire)?;
                    let pair = string_pair(&mut entry)?;
                    self.extensions.push(pair);
                }
                11 | 13 => {
                    let bytes = reader.bytes(wire)?;
                    check_decodes::<Metadata>(bytes, reader.depth)?;
                }
                12 => {
                    // TlsSession: `sni` (1), a string.
                    let mut session = reader.message(wire)?;
                    while let Some((tag, wire)) = session.field()? {
                        match tag {
                            1 => {
                                session.string(wire)?;
                            }
                            _ => session.skip(tag, wire)?,
                        }
                    }
                }
                _ => reader.skip(tag, wire)?,
            }
        }
        Ok(())
    }

    /// A `Peer`: the source's address and principal are kept, the destination's only
    /// checked.
    fn read_peer(&mut self, reader: &mut Reader<'a>, source: bool) -> Result<(), WireError> {
        while let Some((tag, wire)) = reader.field()? {
            match tag {
                1 => {
                    let mut address = reader.message(wire)?;
                    let mut current = if source {
                        self.source_address.take().map(Member::Socket)
                    } else {
                        None
                    };
                    read_address(&mut address, &mut current)?;
                    if source {
                        self.source_address = match current {
                            Some(Member::Socket(socket)) => Some(socket),
                            _ => None,
                        };
                    }
                }
                4 => {
                    let principal = reader.string(wire)?;
                    if source {
                        self.source_principal = principal;
                    }
                }
                2 | 5 => {
                    reader.string(wire)?;
                }
                3 => {
                    let mut entry = reader.message(wire)?;
                    string_pair(&mut entry)?;
                }
                _ => reader.skip(tag, wire)?,
            }
        }
        Ok(())
    }

    /// A `Request`: `time` (1) and `http` (2).
    fn read_request(&mut self, reader: &mut Reader<'a>) -> Result<(), WireError> {
        while let Some((tag, wire)) = reader.field()? {
            match tag {
                1 => {
                    let mut time = reader.message(wire)?;
                    let (mut seconds, mut nanos) = self.time.unwrap_or((0, 0));
                    while let Some((tag, wire)) = time.field()? {
                        match tag {
                            // int64 and int32: the varint's bits, as prost reads them.
                            1 => seconds = time.varint(wire)? as i64,
                            2 => nanos = time.varint(wire)? as i32,
                            _ => time.skip(tag, wire)?,
                        }
                    }
                    self.time = Some((seconds, nanos));
                }
                2 => {
                    let mut http = reader.message(wire)?;
                    self.http
                        .get_or_insert_with(HttpView::default)
                        .read(&mut http)?;
                }
                _ => reader.skip(tag, wire)?,
            }
        }
        Ok(())
    }
}

impl<'a> HttpView<'a> {
    /// The `:authority` header.
    pub fn authority(&self) -> Option<&'a str> {
        lookup(&self.headers, ":authority")
    }

    fn of(http: &'a HttpRequest) -> HttpView<'a> {
        HttpView {
            method: &http.method,
            path: &http.path,
            host: &http.host,
            query: &http.query,
            headers: sorted_pairs(http.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            header_map: http.header_map.as_ref().map_or_else(Vec::new, |map| {
                map.headers
                    .iter()
                    .map(|h| (h.key.as_str(), raw_value(&h.value, &h.raw_value)))
                    .collect()
            }),
        }
    }

    fn read(&mut self, reader: &mut Reader<'a>) -> Result<(), WireError> {
        while let Some((tag, wire)) = reader.field()? {
            match tag {
                2 => self.method = reader.string(wire)?,
                3 => {
                    let mut entry = reader.message(wire)?;
                    let pair = string_pair(&mut entry)?;
                    self.headers.push(pair);
                }
                4 => self.path = reader.string(wire)?,
                5 => self.host = reader.string(wire)?,
                7 => self.query = reader.string(wire)?,
                1 | 6 | 8 | 10 | 11 => {
                    reader.string(wire)?;
                }
                9 => {
                    reader.varint(wire)?;
                }
                12 => {
                    reader.bytes(wire)?;
                }
                13 => {
                    let mut map = reader.message(wire)?;
                    while let Some((tag, wire)) = map.field()? {
                        match tag {
                            1 => {
                                let mut header = map.message(wire)?;
                                self.header_map.push(read_header_value(&mut header)?);
                            }
                            _ => map.skip(tag, wire)?,
                        }
                    }
                }
                _ => reader.skip(tag, wire)?,
            }
        }
        Ok(())
    }
}

/// A `HeaderValue`: `key` (1), `value` (2), `raw_value` (3).
fn read_header_value<'a>(reader: &mut Reader<'a>) -> Result<(&'a str, Cow<'a, str>), WireError> {
    let (mut key, mut value, mut raw): (&str, &str, &[u8]) = ("", "", &[]);
    while let Some((tag, wire)) = reader.field()? {
        match tag {
            1 => key = reader.string(wire)?,
            2 => value = reader.string(wire)?,
            3 => raw = reader.bytes(wire)?,
            _ => reader.skip(tag, wire)?,
        }
    }
    Ok((key, raw_value(value, raw)))
}

/// `raw_value` as UTF-8 (lossily) when not empty, else `value`.
fn raw_value<'a>(value: &'a str, raw: &'a [u8]) -> Cow<'a, str> {
    if raw.is_empty() {
        Cow::Borrowed(value)
    } else {
        String::from_utf8_lossy(raw)
    }
}

/// The member an `Address` oneof holds.
enum Member<'a> {
    Socket((&'a str, Option<u32>)),
    Other,
}

/// An `Address`: a `socket_address` (1) merges into the one held, a `pipe` (2) or an
/// `envoy_internal_address` (3) replaces it (checked with prost).
fn read_address<'a>(
    reader: &mut Reader<'a>,
    current: &mut Option<Member<'a>>,
) -> Result<(), WireError> {
    while let Some((tag, wire)) = reader.field()? {
        match tag {
            1 => {
                let mut socket = reader.message(wire)?;
                let (mut text, mut port) = match current.take() {
                    Some(Member::Socket(held)) => held,
                    _ => ("", None),
                };
                while let Some((tag, wire)) = socket.field()? {
                    match tag {
                        2 => text = socket.string(wire)?,
                        // uint32: the varint's low bits, as prost reads them.
                        3 => port = Some(socket.varint(wire)? as u32),
                        4 => {
                            socket.string(wire)?;
                            port = None;
                        }
                        5 | 7 => {
                            socket.string(wire)?;
                        }
                        1 | 6 => {
                            socket.varint(wire)?;
                        }
                        _ => socket.skip(tag, wire)?,
                    }
                }
                *current = Some(Member::Socket((text, port)));
            }
            2 => {
                let bytes = reader.bytes(wire)?;
                check_decodes::<Pipe>(bytes, reader.depth)?;
                *current = Some(Member::Other);
            }
            3 => {
                let bytes = reader.bytes(wire)?;
                check_decodes::<EnvoyInternalAddress>(bytes, reader.depth)?;
                *current = Some(Member::Other);
            }
            _ => reader.skip(tag, wire)?,
        }
    }
    Ok(())
}

/// The socket address of an `Address`, as the typed path reads it.
fn socket_address(address: Option<&Address>) -> Option<(&str, Option<u32>)> {
    let Some(address::Address::SocketAddress(socket)) = address?.address.as_ref() else {
        return None;
    };
    let port = match socket.port_specifier {
        Some(PortSpecifier::PortValue(port)) => Some(port),
        _ => None,
    };
    Some((socket.address.as_str(), port))
}

/// A `map<string, string>` entry: `key` (1) and `value` (2), empty when absent.
fn string_pair<'a>(reader: &mut Reader<'a>) -> Result<(&'a str, &'a str), WireError> {
    let (mut key, mut value) = ("", "");
    while let Some((tag, wire)) = reader.field()? {
        match tag {
            1 => key = reader.string(wire)?,
            2 => value = reader.string(wire)?,
            _ => reader.skip(tag, wire)?,
        }
    }
    Ok((key, value))
}

/// Checks that `bytes` decode as `M` with prost, at the depth they were found at.
fn check_decodes<M: prost::Message + Default>(bytes: &[u8], depth: u32) -> Result<(), WireError> {
    if depth >= RECURSION_LIMIT {
        return Err(error("recursion limit reached"));
    }
    M::decode(bytes)
        .map(drop)
        .map_err(|e| WireError(e.to_string()))
}

/// The key's value in pairs with distinct keys.
fn lookup<'a>(pairs: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Pairs of a map, sorted by key (as [`dedup_last`] leaves them).
fn sorted_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(&'a str, &'a str)> {
    let mut pairs: Vec<_> = pairs.collect();
    pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    pairs
}

/// Map entries in the order they came, each key once with its last value (as a map keeps
/// them), sorted by key.
fn dedup_last<'a>(mut pairs: Vec<(&'a str, &'a str)>) -> Vec<(&'a str, &'a str)> {
    // Stable: equal keys stay in the order they came, so the last of each run wins.
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let mut out: Vec<(&str, &str)> = Vec::with_capacity(pairs.len());
    for (key, value) in pairs {
        match out.last_mut() {
            Some(last) if last.0 == key => last.1 = value,
            _ => out.push((key, value)),
        }
    }
    out
}

/// prost's recursion limit: a message nested deeper does not decode.
const RECURSION_LIMIT: u32 = 100;

/// The protobuf wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LENGTH_DELIMITED: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const FIXED32: u8 = 5;

/// Reads the fields of one message.
struct Reader<'a> {
    bytes: &'a [u8],
    /// How deep the message is nested (0: the `CheckRequest`).
    depth: u32,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], depth: u32) -> Result<Reader<'a>, WireError> {
        if depth > RECURSION_LIMIT {
            return Err(error("recursion limit reached"));
        }
        Ok(Reader { bytes, depth })
    }

    /// The next field's number and wire type; `None` at the end of the message.
    fn field(&mut self) -> Result<Option<(u32, u8)>, WireError> {
        if self.bytes.is_empty() {
            return Ok(None);
        }
        let key = self.raw_varint()?;
        if key > u64::from(u32::MAX) {
            return Err(WireError(format!("invalid key value: {key}")));
        }
        let wire = (key & 0x07) as u8;
        if wire > FIXED32 {
            return Err(WireError(format!("invalid wire type value: {wire}")));
        }
        let tag = (key >> 3) as u32;
        if tag == 0 {
            return Err(error("invalid tag value: 0"));
        }
        Ok(Some((tag, wire)))
    }

    fn raw_varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for (index, byte) in self.bytes.iter().take(10).enumerate() {
            // The tenth byte may only carry the top bit of a u64.
            if index == 9 && *byte > 1 {
                return Err(error("invalid varint"));
            }
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                self.bytes = self.bytes.get(index + 1..).unwrap_or_default();
                return Ok(value);
            }
        }
        Err(error("invalid varint"))
    }

    fn expect(&self, wire: u8, wanted: u8) -> Result<(), WireError> {
        if wire == wanted {
            Ok(())
        } else {
            Err(WireError(format!(
                "invalid wire type: {wire} (expected {wanted})"
            )))
        }
    }

    fn varint(&mut self, wire: u8) -> Result<u64, WireError> {
        self.expect(wire, VARINT)?;
        self.raw_varint()
    }

    fn bytes(&mut self, wire: u8) -> Result<&'a [u8], WireError> {
        self.expect(wire, LENGTH_DELIMITED)?;
        let len = self.raw_varint()?;
        let len = usize::try_from(len).map_err(|_| error("buffer underflow"))?;
        if len > self.bytes.len() {
            return Err(error("buffer underflow"));
        }
        let (value, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(value)
    }

    fn string(&mut self, wire: u8) -> Result<&'a str, WireError> {
        let bytes = self.bytes(wire)?;
        std::str::from_utf8(bytes)
            .map_err(|_| error("invalid string value: data is not UTF-8 encoded"))
    }

    fn message(&mut self, wire: u8) -> Result<Reader<'a>, WireError> {
        let bytes = self.bytes(wire)?;
        Reader::new(bytes, self.depth.saturating_add(1))
    }

    /// Skips a field this reader does not read, as prost skips an unknown field.
    fn skip(&mut self, tag: u32, wire: u8) -> Result<(), WireError> {
        self.skip_field(wire, tag, 0)
    }

    /// [`Reader::skip`] of field `tag` (needed to close a group), `nesting` groups deep.
    fn skip_field(&mut self, wire: u8, tag: u32, nesting: u32) -> Result<(), WireError> {
        match wire {
            VARINT => {
                self.raw_varint()?;
            }
            FIXED64 => self.advance(8)?,
            FIXED32 => self.advance(4)?,
            LENGTH_DELIMITED => {
                self.bytes(wire)?;
            }
            // Groups (deprecated; never sent by Envoy): skipped to their end, as prost does.
            START_GROUP => self.skip_group(tag, nesting)?,
            _ => return Err(error("unexpected end group tag")),
        }
        Ok(())
    }

    /// Skips a group up to its end, which must close the same field.
    fn skip_group(&mut self, tag: u32, nesting: u32) -> Result<(), WireError> {
        if self.depth.saturating_add(nesting) >= RECURSION_LIMIT {
            return Err(error("recursion limit reached"));
        }
        loop {
            let Some((inner, wire)) = self.field()? else {
                return Err(error("buffer underflow"));
            };
            if wire == END_GROUP {
                return if inner == tag {
                    Ok(())
                } else {
                    Err(error("unexpected end group tag"))
                };
            }
            self.skip_field(wire, inner, nesting.saturating_add(1))?;
        }
    }

    fn advance(&mut self, n: usize) -> Result<(), WireError> {
        self.bytes = self
            .bytes
            .get(n..)
            .ok_or_else(|| error("buffer underflow"))?;
        Ok(())
    }
}
