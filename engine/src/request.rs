//! Requests: what is asked, read from the shared request JSON.
//!
//! Two shapes: parts (`principal`, `action`, `resource`) or raw HTTP (`http`: method, path,
//! host, headers), which the bundle's routes turn into action and resource. Both carry a
//! `context` typed by the schema (the builtin fields plus the action's own), and may name a
//! `package` to evaluate only that package and what it imports. The `http` part also fills
//! `context.request.{method, path, query, host, headers}` (path without its query string,
//! query without `?` and absent when the target has none, header names lower-cased).

mod facts;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map as JsonMap, Value as Json};

use crate::bundle::{ActionId, PackageId, Sym};
use crate::engine::Engine;
use crate::error::{DataError, NoRouteError, RequestError, SyntaxError, TooLargeError};
use crate::eval::EvalContext;
use crate::forms::{entity_parts, parse_uid_literal};
use crate::json::{json_excerpt, ReadError, Reader};
use crate::route::{query_string, strip_query, RouteError};
use crate::val::Val;
use crate::value::{EntityUid, Record, Value};

/// The largest request text [`Engine::parse_request`] reads.
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

/// A request, read and typed against an engine's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `None`: the principal comes from the bundle's `principal` mappings.
    pub principal: Option<EntityUid>,
    pub action: ActionId,
    pub resource: EntityUid,
    /// The full context record: given fields, defaults, and the `http` part.
    pub context: Arc<Record>,
    /// Evaluate only this package and its transitive imports.
    pub package: Option<PackageId>,
    /// The route a raw HTTP request matched (index into the bundle's routes).
    pub route: Option<u32>,
}

/// The `http` part of a request, borrowed from the request JSON or the gateway's facts
/// where it can be.
struct Http<'a> {
    /// Upper-cased.
    method: Cow<'a, str>,
    /// The canonical path ([`crate::gateway::path`]) with its query string, if any.
    path: Cow<'a, str>,
    /// The path as received, without its query string.
    raw_path: &'a str,
    host: Option<Cow<'a, str>>,
    headers: BTreeMap<Arc<str>, Value>,
}

/// The canonical form of a request target, or the error that denies the request.
fn canonical_target(target: &str) -> Result<crate::gateway::CanonicalTarget<'_>, RequestError> {
    crate::gateway::canonicalize(target).map_err(|e| {
        DataError::new(
            "http.path",
            format!("`{}`: {e}", crate::display::truncate(target, 80)),
        )
        .into()
    })
}

impl Engine {
    /// Reads a request from JSON text (at most [`MAX_REQUEST_BYTES`]).
    pub fn parse_request(&self, json: &str) -> Result<Request, RequestError> {
        if json.len() > MAX_REQUEST_BYTES {
            return Err(TooLargeError::new(json.len(), MAX_REQUEST_BYTES).into());
        }
        let value = crate::strict_json::from_str(json)
            .map_err(|e| SyntaxError::new("request", e.to_string()))?;
        self.request_from_value(&value)
    }

    /// Reads a request from parsed JSON.
    pub fn request_from_value(&self, json: &Json) -> Result<Request, RequestError> {
        let Some(object) = json.as_object() else {
            return Err(DataError::new(
                "request",
                format!("expected an object, found `{}`", json_excerpt(json)),
            )
            .into());
        };
        const KEYS: [&str; 6] = [
            "principal",
            "action",
            "resource",
            "context",
            "package",
            "http",
        ];
        if let Some(key) = object.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(DataError::new(
                "request",
                format!("unknown field `{}`", crate::display::truncate(key, 60)),
            )
            .into());
        }
        let field = |name: &str| object.get(name).filter(|v| !v.is_null());
        let package = match field("package") {
            None => None,
            Some(Json::String(name)) => Some(self.package_id(name).ok_or_else(|| {
                DataError::new(
                    "package",
                    format!("unknown package `{}`", crate::display::truncate(name, 60)),
                )
            })?),
            Some(other) => return Err(expected("package", "a package name", other)),
        };
        let principal = field("principal")
            .map(|p| Reader::new(self, "principal").entity(p, None))
            .transpose()
            .map_err(data_error)?;
        let (action, resource, route, http) = match field("http") {
            Some(http) => {
                for key in ["action", "resource"] {
                    if field(key).is_some() {
                        return Err(DataError::new(
                            key,
                            "cannot be given with `http`: the route decides it",
                        )
                        .into());
                    }
                }
                let http = read_http(http)?;
                let (action, resource, route) = self.route_request(&http, package)?;
                (action, resource, Some(route), Some(http))
            }
            None => {
                let action = self.read_action(field("action"))?;
                let resource = match field("resource") {
                    Some(json) => Reader::new(self, "resource")
                        .entity(json, None)
                        .map_err(data_error)?,
                    None => return Err(DataError::new("resource", "missing required field").into()),
                };
                (action, resource, None, None)
            }
        };
        let context_type = usize::try_from(action)
            .ok()
            .and_then(|a| self.context_types.get(a));
        let mut reader = Reader::new(self, "context");
        let context = match (field("context"), context_type) {
            (_, None) => Record::default(),
            (None, Some(ty)) => reader.record(None, ty).map_err(data_error)?,
            (Some(Json::Object(object)), Some(ty)) => {
                reader.record(Some(object), ty).map_err(data_error)?
            }
            (Some(other), Some(_)) => return Err(expected("context", "an object", other)),
        };
        let context = match http {
            Some(http) => self.fill_http_context(context, http, None),
            None => context,
        };
        Ok(Request {
            principal,
            action,
            resource,
            context: Arc::new(context),
            package,
            route,
        })
    }

    /// Sets `context.time` (the value of `now`) when the request does not carry one; used by
    /// doors that decide "now" (the CLI's `eval`, the sidecar). `epoch_ms`: milliseconds since
    /// the Unix epoch. Does nothing when the bundle's context has no `time` field.
    pub fn fill_time(&self, request: &mut Request, epoch_ms: i64) {
        let Some(time) = self.names.well_known.time else {
            return;
        };
        let declared = usize::try_from(request.action)
            .ok()
            .and_then(|a| self.context_types.get(a))
            .is_some_and(|ty| ty.fields.iter().any(|f| f.name == time));
        if declared && request.context.get(time).is_none() {
            let mut fields = request.context.fields.clone();
            fields.push((time, Value::Timestamp(epoch_ms)));
            request.context = Arc::new(Record::new(fields));
        }
    }

    fn read_action(&self, json: Option<&Json>) -> Result<ActionId, RequestError> {
        let Some(json) = json else {
            return Err(DataError::new("action", "missing required field").into());
        };
        let name = match json {
            Json::String(text) if text.starts_with("Action::") => {
                parse_uid_literal(text).map(|(_, id)| id)
            }
            Json::String(text) => Some(text.clone()),
            Json::Object(_) => entity_parts(json)
                .filter(|(ty, _)| ty == "Action")
                .map(|(_, id)| id),
            _ => None,
        };
        let Some(name) = name else {
            return Err(expected("action", "an action name", json));
        };
        self.action_id(&name).ok_or_else(|| {
            DataError::new(
                "action",
                format!("unknown action `{}`", crate::display::truncate(&name, 60)),
            )
            .into()
        })
    }

    /// Finds the route of a raw HTTP request and builds its resource.
    fn route_request(
        &self,
        http: &Http<'_>,
        package: Option<PackageId>,
    ) -> Result<(ActionId, EntityUid, u32), RequestError> {
        let path = strip_query(&http.path);
        let routes = &self.bundle.routes;
        let selected = |route: &crate::bundle::Route| self.package_selected(package, route.package);
        let found = self
            .router
            .route(routes, &http.method, &http.path, &selected)
            .map_err(|e| match e {
                RouteError::NoMatch => {
                    RequestError::from(NoRouteError::new(http.method.as_ref(), path))
                }
                RouteError::BadEncoding { param } => DataError::new(
                    format!("http.path parameter `{param}`"),
                    "invalid percent-encoding",
                )
                .into(),
            })?;
        let Some(route) = usize::try_from(found.route)
            .ok()
            .and_then(|r| routes.get(r))
        else {
            return Err(NoRouteError::new(http.method.as_ref(), path).into());
        };
        let Some(resource) = self
            .route_resources
            .get(usize::try_from(found.route).unwrap_or(usize::MAX))
        else {
            return Err(NoRouteError::new(http.method.as_ref(), path).into());
        };
        let no_entities = crate::entities::EntityStore::default();
        let cx = EvalContext::for_route(self, &no_entities, route.action, &found.params);
        match cx.eval(*resource).map(Val::into_owned) {
            Ok(Value::Entity(uid)) => Ok((route.action, uid, found.route)),
            Ok(other) => Err(DataError::new(
                "http.path",
                format!(
                    "route `{}` gave a {}, not an entity",
                    route.template,
                    other.kind()
                ),
            )
            .into()),
            Err(e) => Err(DataError::new(
                "http.path",
                format!("route `{}`: {}", route.template, e.message(self)),
            )
            .into()),
        }
    }

    /// Puts the `http` part into `context.request`, when the schema has those fields, and
    /// `extra` (a field the caller adds, such as `time`) into the context.
    fn fill_http_context(
        &self,
        context: Record,
        http: Http<'_>,
        extra: Option<(Sym, Value)>,
    ) -> Record {
        let known = self.names.well_known;
        let with_extra = |context: Record| match extra.clone() {
            Some(field) => {
                let mut fields = context.fields;
                fields.push(field);
                Record::new(fields)
            }
            None => context,
        };
        let Some(request_sym) = known.request else {
            return with_extra(context);
        };
        let Some(Value::Record(existing)) = context.get(request_sym) else {
            return with_extra(context);
        };
        let mut fields = existing.fields.clone();
        // `Some(value)` sets the field, `None` removes it.
        let mut set = |sym: Option<Sym>, value: Option<Value>| {
            if let Some(sym) = sym {
                fields.retain(|(s, _)| *s != sym);
                fields.extend(value.map(|v| (sym, v)));
            }
        };
        set(known.method, Some(Value::string(&http.method)));
        set(known.path, Some(Value::string(strip_query(&http.path))));
        set(known.raw_path, Some(Value::string(http.raw_path)));
        // The query belongs to the same request target as the path: a target without one
        // leaves no `query` behind, even when the context gave one.
        set(known.query, query_string(&http.path).map(Value::string));
        if let Some(host) = &http.host {
            set(known.host, Some(Value::string(host)));
        }
        set(known.headers, Some(Value::Map(Arc::new(http.headers))));
        let mut outer = context.fields;
        outer.retain(|(s, _)| *s != request_sym);
        outer.push((request_sym, Value::Record(Arc::new(Record::new(fields)))));
        outer.extend(extra);
        Record::new(outer)
    }
}

fn read_http(json: &Json) -> Result<Http<'_>, RequestError> {
    let Some(object) = json.as_object() else {
        return Err(expected("http", "an object", json));
    };
    if let Some(key) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "method" | "path" | "host" | "headers"))
    {
        return Err(DataError::new(
            "http",
            format!("unknown field `{}`", crate::display::truncate(key, 60)),
        )
        .into());
    }
    let text = |name: &str, required: bool| -> Result<Option<&str>, RequestError> {
        match object.get(name) {
            Some(Json::String(text)) => Ok(Some(text.as_str())),
            None | Some(Json::Null) if !required => Ok(None),
            None | Some(Json::Null) => {
                Err(DataError::new(format!("http.{name}"), "missing required field").into())
            }
            Some(other) => Err(expected(&format!("http.{name}"), "a string", other)),
        }
    };
    let method = upper_case(text("method", true)?.unwrap_or_default());
    let canonical = canonical_target(text("path", true)?.unwrap_or_default())?;
    let host = text("host", false)?.map(Cow::Borrowed);
    let headers = match object.get("headers") {
        None | Some(Json::Null) => BTreeMap::new(),
        Some(Json::Object(headers)) => read_headers(headers)?,
        Some(other) => return Err(expected("http.headers", "an object", other)),
    };
    Ok(Http {
        method,
        path: canonical.target,
        raw_path: canonical.raw_path,
        host,
        headers,
    })
}

/// The `http.headers` object: a value is a string or an array of strings, each one header
/// field. They are joined by [`crate::gateway::join_headers`], as a gateway's header pairs
/// are (names lower-cased, repeated names joined with `, `, the same limits).
fn read_headers(
    headers: &JsonMap<String, Json>,
) -> Result<BTreeMap<Arc<str>, Value>, RequestError> {
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let not_text = |found: &Json| {
            expected(
                &format!("http.headers[\"{}\"]", crate::display::truncate(name, 40)),
                "a string",
                found,
            )
        };
        match value {
            Json::String(text) => pairs.push((name, text)),
            Json::Array(items) => {
                for item in items {
                    pairs.push((name, item.as_str().ok_or_else(|| not_text(value))?));
                }
            }
            other => return Err(not_text(other)),
        }
    }
    facts::header_map(pairs)
}

/// `text` in ASCII upper case, borrowed when it already is.
fn upper_case(text: &str) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_lowercase()) {
        Cow::Owned(text.to_ascii_uppercase())
    } else {
        Cow::Borrowed(text)
    }
}

fn expected(path: &str, what: &str, found: &Json) -> RequestError {
    DataError::new(
        path,
        format!("expected {what}, found `{}`", json_excerpt(found)),
    )
    .into()
}

fn data_error(e: ReadError) -> RequestError {
    DataError::new(e.path, e.message).into()
}
