//! The inputs of Kong's and APISIX's OPA plugins, read as the request JSON.
//!
//! Both plugins send the gateway's view of the request, not Rampart's request JSON:
//!
//! - Kong: `{"request": {"http": {"method", "host", "path", "querystring", "headers",
//!   "scheme", "port", "tls", …}}, "client_ip", "service", "route", "consumer"}`;
//! - APISIX: `{"type": "http", "request": {"method", "host", "path", "query", "headers",
//!   "scheme", "port"}, "var": {"remote_addr", "remote_port", …}, "route", "service",
//!   "consumer"}`.
//!
//! What maps onto the request JSON is read: the method, host and path, the query table
//! (which both plugins send decoded) percent-encoded back into the path's query string,
//! the headers (a repeated header's values joined with `, `), and the client's address as
//! `context.source`. The gateway's route, service and consumer objects are not read:
//! the policy decides from the request and its bearer token (`--jwks`), as at every door.
//! A value of the wrong type is an error (a 400), never skipped.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Map, Value as Json};

/// Everything but RFC 3986's unreserved characters is percent-encoded in the query.
const QUERY_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The OPA plugin whose input shape a request has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plugin {
    Kong,
    Apisix,
}

impl Plugin {
    /// The plugin that sent `input`, from its shape; `None` for the request JSON itself
    /// (which has no `request` field).
    pub fn of(input: &Json) -> Option<Plugin> {
        let request = input.as_object()?.get("request")?;
        Some(match request.get("http") {
            Some(_) => Plugin::Kong,
            None => Plugin::Apisix,
        })
    }

    /// The request JSON of a plugin's `input`.
    pub fn request_json(self, input: &Json) -> Result<Json, String> {
        let (http, http_path, query_key) = match self {
            Plugin::Kong => (
                input.pointer("/request/http"),
                "input.request.http",
                "querystring",
            ),
            Plugin::Apisix => (input.get("request"), "input.request", "query"),
        };
        let http = object(http, http_path)?;
        let mut out = Map::new();
        for key in ["method", "host"] {
            if let Some(value) = http.get(key).filter(|v| !v.is_null()) {
                out.insert(key.into(), value.clone());
            }
        }
        let path = match http.get("path") {
            Some(Json::String(path)) => path.clone(),
            None | Some(Json::Null) => String::from("/"),
            Some(_) => return Err(format!("`{http_path}.path` must be a string")),
        };
        let query = query_string(http.get(query_key), &format!("{http_path}.{query_key}"))?;
        out.insert(
            "path".into(),
            Json::String(match query {
                Some(query) => format!("{path}?{query}"),
                None => path,
            }),
        );
        if let Some(headers) = http.get("headers").filter(|v| !v.is_null()) {
            out.insert(
                "headers".into(),
                checked_headers(headers, &format!("{http_path}.headers"))?,
            );
        }
        let mut source = Map::new();
        match self {
            Plugin::Kong => {
                if let Some(ip) = input.get("client_ip").filter(|v| !v.is_null()) {
                    source.insert("ip".into(), ip.clone());
                }
            }
            Plugin::Apisix => {
                if let Some(ip) = input.pointer("/var/remote_addr").filter(|v| !v.is_null()) {
                    source.insert("ip".into(), ip.clone());
                }
                // nginx variables are strings: a port reads as the integer it spells.
                match input.pointer("/var/remote_port") {
                    None | Some(Json::Null) => {}
                    Some(Json::String(port)) => {
                        let port = port.parse::<u16>().map_err(|_| {
                            format!("`input.var.remote_port` must be a port, found `{port}`")
                        })?;
                        source.insert("port".into(), json!(port));
                    }
                    Some(port) => {
                        source.insert("port".into(), port.clone());
                    }
                }
            }
        }
        let mut request = Map::new();
        request.insert("http".into(), Json::Object(out));
        if !source.is_empty() {
            request.insert("context".into(), json!({ "source": source }));
        }
        Ok(Json::Object(request))
    }
}

fn object<'a>(value: Option<&'a Json>, path: &str) -> Result<&'a Map<String, Json>, String> {
    value
        .and_then(Json::as_object)
        .ok_or_else(|| format!("`{path}` must be an object"))
}

/// The decoded query table as a query string: `k=v` pairs in the table's order, a `true`
/// value a bare key, an array one pair per item. `None` when there is no table or it is
/// empty.
fn query_string(table: Option<&Json>, path: &str) -> Result<Option<String>, String> {
    let table = match table {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::Array(items)) if items.is_empty() => return Ok(None),
        Some(Json::Object(table)) => table,
        Some(_) => return Err(format!("`{path}` must be an object")),
    };
    let mut pairs = Vec::new();
    for (key, value) in table {
        let key = utf8_percent_encode(key, QUERY_COMPONENT).to_string();
        let items = match value {
            Json::Array(items) => items.as_slice(),
            single => std::slice::from_ref(single),
        };
        for item in items {
            match item {
                Json::Bool(true) => pairs.push(key.clone()),
                Json::String(value) => pairs.push(format!(
                    "{key}={}",
                    utf8_percent_encode(value, QUERY_COMPONENT)
                )),
                _ => {
                    return Err(format!(
                        "`{path}` values must be strings, `true` or arrays of them"
                    ))
                }
            }
        }
    }
    Ok((!pairs.is_empty()).then(|| pairs.join("&")))
}

/// Headers whose repeated values come as arrays: passed on as the engine reads them (it
/// joins an array's values with `, ` and counts each against the header limit).
fn checked_headers(headers: &Json, path: &str) -> Result<Json, String> {
    let Json::Object(headers) = headers else {
        return Err(format!("`{path}` must be an object"));
    };
    let mut out = Map::new();
    for (name, value) in headers {
        let valid = match value {
            Json::String(_) => true,
            Json::Array(values) => values.iter().all(Json::is_string),
            _ => false,
        };
        if !valid {
            return Err(format!("`{path}` values must be strings or arrays of them"));
        }
        out.insert(name.clone(), value.clone());
    }
    Ok(Json::Object(out))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::Plugin;

    #[test]
    fn kong_input_maps_to_raw_http() {
        let input = json!({"request": {"http": {
            "host": "api.local", "port": "8000", "tls": {}, "method": "GET", "scheme": "http",
            "path": "/docs/d1",
            "querystring": {"q": "a b&c", "flag": true, "tag": ["x", "y"]},
            "headers": {"accept": "*/*", "x-multi": ["1", "2"]}}},
            "client_ip": "203.0.113.9", "consumer": {"username": "ann"}});
        assert_eq!(Plugin::of(&input), Some(Plugin::Kong));
        assert_eq!(
            Plugin::Kong.request_json(&input),
            Ok(json!({"http": {"method": "GET", "host": "api.local",
                               "path": "/docs/d1?q=a%20b%26c&flag&tag=x&tag=y",
                               "headers": {"accept": "*/*", "x-multi": ["1", "2"]}},
                      "context": {"source": {"ip": "203.0.113.9"}}}))
        );
    }

    #[test]
    fn apisix_input_maps_to_raw_http() {
        let input = json!({"type": "http",
            "request": {"scheme": "http", "path": "/docs/d1", "headers": {"host": "h"},
                        "query": {}, "port": 9080, "method": "GET", "host": "127.0.0.1"},
            "var": {"timestamp": 1, "server_addr": "127.0.0.1", "server_port": "9080",
                    "remote_port": "51234", "remote_addr": "198.51.100.4"}});
        assert_eq!(Plugin::of(&input), Some(Plugin::Apisix));
        assert_eq!(
            Plugin::Apisix.request_json(&input),
            Ok(
                json!({"http": {"method": "GET", "host": "127.0.0.1", "path": "/docs/d1",
                               "headers": {"host": "h"}},
                      "context": {"source": {"ip": "198.51.100.4", "port": 51234}}})
            )
        );
    }

    #[test]
    fn bad_plugin_values_are_errors_and_request_json_is_no_plugin() {
        assert_eq!(Plugin::of(&json!({"http": {"method": "GET"}})), None);
        for input in [
            json!({"request": {"http": "GET /"}}),
            json!({"request": {"http": {"path": 5}}}),
            json!({"request": {"http": {"querystring": {"a": 1}}}}),
            json!({"request": {"http": {"headers": {"a": [1]}}}}),
            json!({"request": {"path": "/", "headers": "x"}}),
            json!({"request": {"path": "/"}, "var": {"remote_port": "port"}}),
        ] {
            let plugin = Plugin::of(&input).unwrap_or(Plugin::Kong);
            assert!(plugin.request_json(&input).is_err(), "{input}");
        }
    }
}
