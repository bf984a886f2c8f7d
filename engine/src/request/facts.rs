//! Requests from a gateway's typed HTTP facts ([`RequestFacts`]), read straight into a
//! [`Request`] without a JSON tree.
//!
//! The steps are those of [`Engine::request_from_value`] on the facts' request JSON, in the
//! same order (package, route, context), and the context is read by the same [`Reader`]
//! over [`Fact`]s instead of JSON values: a fact of the type the schema wants is converted
//! directly, and any other goes through the JSON reader as the JSON it stands for, so the
//! values and the error messages are the same.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map as JsonMap, Value as Json};

use super::{data_error, upper_case, Http, Request};
use crate::bundle::Ty;
use crate::engine::Engine;
use crate::error::{DataError, RequestError};
use crate::forms::parse_ip;
use crate::gateway::RequestFacts;
use crate::json::{FieldInput, ReadError, Reader};
use crate::value::{Record, TlsVersion, Value};

impl Engine {
    /// Reads a raw-HTTP request from a gateway's typed facts and its headers (name and
    /// value pairs in arrival order; names are lower-cased, pseudo-headers such as `:path`
    /// left out, repeated names joined with `, `), and sets `context.time` from
    /// [`RequestFacts::time_ms`].
    ///
    /// The result (or error) is the one [`Engine::request_from_value`] and
    /// [`Engine::fill_time`] give for the same facts as request JSON (see
    /// [`RequestFacts`]), without building that JSON.
    pub fn request_from_http<'h>(
        &self,
        facts: &RequestFacts<'_>,
        headers: impl IntoIterator<Item = (&'h str, &'h str)>,
    ) -> Result<Request, RequestError> {
        let package = match facts.package {
            None => None,
            Some(name) => Some(self.package_id(name).ok_or_else(|| {
                DataError::new(
                    "package",
                    format!("unknown package `{}`", crate::display::truncate(name, 60)),
                )
            })?),
        };
        let canonical = super::canonical_target(facts.path)?;
        let http = Http {
            method: upper_case(facts.method),
            path: canonical.target,
            raw_path: canonical.raw_path,
            host: facts.host.map(Cow::Borrowed),
            headers: header_map(headers)?,
        };
        let (action, resource, route) = self.route_request(&http, package)?;
        let context_type = usize::try_from(action)
            .ok()
            .and_then(|a| self.context_types.get(a));
        let Some(context_type) = context_type else {
            let context = self.fill_http_context(Record::default(), http, None);
            return Ok(Request {
                principal: None,
                action,
                resource,
                context: Arc::new(context),
                package,
                route: Some(route),
            });
        };
        let context = read_context(self, facts, context_type).map_err(data_error)?;
        let time = facts.time_ms.and_then(|ms| {
            let time = self.names.well_known.time?;
            let declared = context_type.fields.iter().any(|f| f.name == time);
            (declared && context.get(time).is_none()).then_some((time, Value::Timestamp(ms)))
        });
        Ok(Request {
            principal: None,
            action,
            resource,
            context: Arc::new(self.fill_http_context(context, http, time)),
            package,
            route: Some(route),
        })
    }
}

/// Reads `context.source`, `context.tls` and `context.auth` from the facts, in the order
/// the facts' request JSON holds them.
fn read_context(
    engine: &Engine,
    facts: &RequestFacts<'_>,
    ty: &crate::bundle::RecordType,
) -> Result<Record, ReadError> {
    let source_fields = [
        facts.source_ip.map(|ip| ("ip", Fact::Str(ip))),
        facts
            .source_port
            .filter(|_| facts.source_ip.is_some())
            .map(|port| ("port", Fact::Int(i64::from(port)))),
    ];
    let tls = &facts.tls;
    let tls_fields = [
        (tls.mtls || tls.peer.is_some()).then_some(("mtls", Fact::Bool(true))),
        tls.peer.map(|peer| ("peer", Fact::Str(peer))),
        tls.version.map(|version| ("version", Fact::Str(version))),
        tls.cipher.map(|cipher| ("cipher", Fact::Str(cipher))),
    ];
    let source = Fields(&source_fields);
    let tls = Fields(&tls_fields);
    let entries = [
        (!source.is_empty()).then_some(("source", Fact::Record(source))),
        (!tls.is_empty()).then_some(("tls", Fact::Record(tls))),
        facts.auth.map(|auth| ("auth", Fact::Json(auth))),
    ];
    Reader::new(engine, "context").record_of(entries.into_iter().flatten(), ty)
}

/// The request headers as the policy sees them ([`crate::gateway::join_headers`]), or the
/// error that denies a request with too many.
pub(super) fn header_map<'h>(
    pairs: impl IntoIterator<Item = (&'h str, &'h str)>,
) -> Result<BTreeMap<Arc<str>, Value>, RequestError> {
    let joined = crate::gateway::join_headers(pairs)
        .map_err(|e| RequestError::from(DataError::new("http.headers", e.to_string())))?;
    Ok(joined
        .into_iter()
        .map(|(name, value)| (Arc::from(name.as_ref()), Value::string(&value)))
        .collect())
}

/// The present fields of a fact record, in order.
#[derive(Clone, Copy)]
struct Fields<'f, 'a>(&'f [Option<(&'static str, Fact<'f, 'a>)>]);

impl<'f, 'a> Fields<'f, 'a> {
    fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    fn iter(&self) -> impl Iterator<Item = (&'static str, Fact<'f, 'a>)> + 'f {
        self.0.iter().flatten().copied()
    }
}

/// One fact of a request as the context reader reads it: what the JSON value of the same
/// fact would be.
#[derive(Clone, Copy)]
enum Fact<'f, 'a> {
    Str(&'a str),
    Int(i64),
    Bool(bool),
    Record(Fields<'f, 'a>),
    Json(&'a Json),
}

impl Fact<'_, '_> {
    /// The JSON value this fact stands for.
    fn to_json(self) -> Json {
        match self {
            Fact::Str(text) => Json::from(text),
            Fact::Int(n) => Json::from(n),
            Fact::Bool(b) => Json::Bool(b),
            Fact::Record(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(name, fact)| (name.to_owned(), fact.to_json()))
                    .collect::<JsonMap<String, Json>>(),
            ),
            Fact::Json(json) => json.clone(),
        }
    }
}

impl FieldInput for Fact<'_, '_> {
    fn is_null(&self) -> bool {
        matches!(self, Fact::Json(json) if json.is_null())
    }

    fn read(&self, reader: &mut Reader<'_>, ty: &Ty) -> Result<Value, ReadError> {
        let direct = match (*self, ty) {
            (Fact::Str(text), Ty::String) => Some(Value::string(text)),
            (Fact::Str(text), Ty::Ip) => parse_ip(text).map(Value::Ip),
            (Fact::Str(text), Ty::Tls) => TlsVersion::parse(text).map(Value::Tls),
            (Fact::Int(n), Ty::Int) => Some(Value::Int(n)),
            (Fact::Bool(b), Ty::Bool) => Some(Value::Bool(b)),
            (Fact::Record(fields), Ty::Record(record)) => {
                return reader
                    .nested(|r| r.record_of(fields.iter(), record))
                    .map(|r| Value::Record(Arc::new(r)));
            }
            (Fact::Json(json), _) => return reader.value(json, ty),
            _ => None,
        };
        match direct {
            Some(value) => Ok(value),
            // Not of the wanted type: the JSON reader says why, exactly as for JSON input.
            None => reader.value(&self.to_json(), ty),
        }
    }
}
