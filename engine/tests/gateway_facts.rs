//! The typed gateway path, `Engine::request_from_http`, against the JSON path it replaces on
//! the sidecar's hot path: the request JSON of the same facts (`HttpFacts::to_request_json`,
//! plus `context.tls.cipher` and `context.auth`) read by `Engine::request_from_value` and
//! timed by `Engine::fill_time`. Both must give the same `Request` (so the same decision)
//! or the same error, for good facts and bad ones alike.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use proptest::prelude::*;
use rampart_engine::bundle::Ty;
use rampart_engine::gateway::{is_unauthenticated, HttpFacts, RequestFacts, TlsFacts};
use rampart_engine::{Engine, EntityStore, Request, TlsVersion};
use serde_json::{json, Map, Value as Json};
use std::sync::OnceLock;

/// One request's facts, owned, as a test generates them.
#[derive(Clone, Debug, Default)]
struct Case {
    method: String,
    path: String,
    host: Option<String>,
    headers: Vec<(String, String)>,
    source_ip: Option<String>,
    source_port: Option<u32>,
    tls_version: Option<String>,
    tls_cipher: Option<String>,
    mtls: bool,
    peer: Option<String>,
    auth: Option<Json>,
    package: Option<String>,
    time_ms: Option<i64>,
}

impl Case {
    fn facts(&self) -> RequestFacts<'_> {
        RequestFacts {
            method: &self.method,
            path: &self.path,
            host: self.host.as_deref(),
            source_ip: self.source_ip.as_deref(),
            source_port: self.source_port,
            tls: TlsFacts {
                version: self.tls_version.as_deref(),
                cipher: self.tls_cipher.as_deref(),
                mtls: self.mtls,
                peer: self.peer.as_deref(),
            },
            auth: self.auth.as_ref(),
            package: self.package.as_deref(),
            time_ms: self.time_ms,
        }
    }

    /// The request JSON of these facts, written out field by field as the sidecar's JSON
    /// path has them (`HttpFacts::to_request_json`, then `context.auth` appended by the
    /// authenticator).
    fn request_json(&self) -> Json {
        let mut http = Map::new();
        http.insert("method".into(), json!(self.method));
        http.insert("path".into(), json!(self.path));
        if let Some(host) = &self.host {
            http.insert("host".into(), json!(host));
        }
        let pairs = self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        http.insert(
            "headers".into(),
            Json::Object(rampart_engine::gateway::grouped_headers(pairs)),
        );
        let mut context = Map::new();
        if let Some(ip) = &self.source_ip {
            let mut source = Map::new();
            source.insert("ip".into(), json!(ip));
            if let Some(port) = self.source_port {
                source.insert("port".into(), json!(port));
            }
            context.insert("source".into(), Json::Object(source));
        }
        let mut tls = Map::new();
        if self.mtls || self.peer.is_some() {
            tls.insert("mtls".into(), json!(true));
        }
        if let Some(peer) = &self.peer {
            tls.insert("peer".into(), json!(peer));
        }
        if let Some(version) = &self.tls_version {
            tls.insert("version".into(), json!(version));
        }
        if let Some(cipher) = &self.tls_cipher {
            tls.insert("cipher".into(), json!(cipher));
        }
        if !tls.is_empty() {
            context.insert("tls".into(), Json::Object(tls));
        }
        if let Some(auth) = &self.auth {
            context.insert("auth".into(), auth.clone());
        }
        let mut request = Map::new();
        request.insert("http".into(), Json::Object(http));
        if !context.is_empty() {
            request.insert("context".into(), Json::Object(context));
        }
        if let Some(package) = &self.package {
            request.insert("package".into(), json!(package));
        }
        Json::Object(request)
    }

    /// The same facts as the sidecar's owned `HttpFacts`, when they fit it (a parsable
    /// source address, no cipher): its JSON must be [`Case::request_json`].
    fn http_facts(&self) -> Option<HttpFacts> {
        let source_ip = match &self.source_ip {
            Some(text) => Some(text.parse().ok()?),
            None => None,
        };
        if self.tls_cipher.is_some() || self.auth.is_some() {
            return None;
        }
        Some(HttpFacts {
            method: self.method.clone(),
            path: self.path.clone(),
            host: self.host.clone(),
            headers: self.headers.clone(),
            source_ip,
            source_port: self.source_port,
            tls_peer: self.peer.clone(),
            mtls: self.mtls,
            tls_version: self.tls_version.clone(),
            package: self.package.clone(),
        })
    }
}

/// Routes in two packages; rules on every fact the typed path fills (TLS, source, auth,
/// headers, the request line, time), and header obligations computed from request data.
fn engine() -> Engine {
    let mut p = standard();
    p.route(
        Some("GET"),
        "/v1/accounts/{id}",
        "read",
        ctor("Account", param(0)),
    )
    .route(
        None,
        "/v1/accounts/{id}",
        "write",
        ctor("Account", param(0)),
    )
    .route(
        Some("GET"),
        "/files/{path*}",
        "read",
        ctor("Account", param(0)),
    )
    .route_in(
        "ops",
        Some("DELETE"),
        "/v1/accounts/{id}",
        "admin",
        ctor("Account", param(0)),
    );
    p.rule(
        R::allow("anon-read")
            .for_(&["Anonymous"])
            .actions(&["read"]),
    )
    .rule(
        R::allow("mtls-write")
            .for_(&["Anonymous"])
            .actions(&["write"])
            .when(ctx("tls.mtls"))
            .when(ctx("source.ip").is_in(ip("10.0.0.0/8"))),
    )
    .rule(
        R::allow("scoped-write")
            .for_(&["Anonymous"])
            .actions(&["write"])
            .when(ctx("auth.scopes").has_scope(s("accounts:write"))),
    )
    .rule(
        R::require(
            "tls-floor",
            ctx("tls")
                .has("version")
                .and(ctx("tls.version").ge(tls(TlsVersion::Tls12))),
        )
        .actions(&["write"]),
    )
    .rule(
        R::deny("weak-cipher")
            .when(ctx("tls").has("cipher"))
            .when(ctx("tls.cipher").matches("(?i)(NULL|RC4)")),
    )
    .rule(
        R::deny("tagged")
            .when(ctx("request.headers").has("x-tag"))
            .when(ctx("request.headers").index("x-tag").eq(s("block"))),
    )
    .rule(R::deny("late").when(now().gt(ts("2030-01-01T00:00:00Z"))))
    .rule(
        R::deny("old-token")
            .when(ctx("auth").has("issued_at"))
            .when(ctx("auth.issued_at").lt(ts("2001-01-01T00:00:00Z"))),
    )
    .rule(
        R::allow("ops-admin")
            .package("ops")
            .for_(&["Anonymous"])
            .actions(&["admin"])
            .when(ctx("tls.mtls")),
    );
    p.obligation(
        O::new(
            "echo-host",
            OK::RequestHeader("x-host".into(), ctx("request.host")),
        )
        .with(|r| r.actions(&["read"]).when(ctx("request").has("host"))),
    );
    p.obligation(
        O::new(
            "echo-port",
            OK::ResponseHeader("x-port".into(), ctx("source.port")),
        )
        .with(|r| r.actions(&["write"]).when(ctx("source").has("port"))),
    );
    p.engine()
}

/// The engine above with a narrower context: no `time`, and `source` without `port`
/// (facts the schema does not declare must fail alike on both paths).
fn narrow_engine() -> Engine {
    let mut p = standard();
    p.route(
        Some("GET"),
        "/v1/accounts/{id}",
        "read",
        ctor("Account", param(0)),
    );
    p.rule(R::allow("any").for_(&["Anonymous"]));
    let mut bundle = p.build();
    let time = p.sym("time");
    let port = p.sym("port");
    let source = p.sym("source");
    let context = &mut bundle.schema.context.fields;
    context.retain(|f| f.name != time);
    for field in context.iter_mut().filter(|f| f.name == source) {
        if let Ty::Record(record) = &mut field.ty {
            record.fields.retain(|f| f.name != port);
        }
    }
    Engine::new(bundle).expect("the narrow bundle loads")
}

/// Both paths for one case: the same request or the same error; and the same decision.
fn assert_same(engine: &Engine, entities: &EntityStore, case: &Case) {
    let json = case.request_json();
    if let Some(facts) = case.http_facts() {
        assert_eq!(
            facts.to_request_json(),
            json,
            "HttpFacts differs for {case:?}"
        );
    }
    let by_json: Result<Request, String> = engine
        .request_from_value(&json)
        .map(|mut request| {
            if let Some(ms) = case.time_ms {
                engine.fill_time(&mut request, ms);
            }
            request
        })
        .map_err(|e| e.to_string());
    let headers = case.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let typed = engine
        .request_from_http(&case.facts(), headers)
        .map_err(|e| e.to_string());
    assert_eq!(typed, by_json, "for {case:?}");
    assert_eq!(
        case.facts().is_unauthenticated(),
        is_unauthenticated(&json),
        "for {case:?}"
    );
    if let (Ok(typed), Ok(by_json)) = (&typed, &by_json) {
        assert_eq!(
            engine.decide(typed, entities),
            engine.decide(by_json, entities),
            "for {case:?}"
        );
    }
}

fn base() -> Case {
    Case {
        method: "GET".into(),
        path: "/v1/accounts/a1?view=full".into(),
        host: Some("api.local".into()),
        headers: vec![
            (":authority".into(), "api.local".into()),
            ("X-Tag".into(), "a".into()),
            ("x-tag".into(), "b".into()),
            ("authorization".into(), "Bearer t".into()),
        ],
        source_ip: Some("10.1.2.3".into()),
        source_port: Some(4242),
        tls_version: Some("TLSv1.3".into()),
        tls_cipher: Some("TLS_AES_128_GCM_SHA256".into()),
        mtls: false,
        peer: Some("spiffe://corp/svc".into()),
        auth: Some(
            json!({"method": "jwt", "subject": "alice", "scopes": ["accounts:write"],
                          "issued_at": 1_700_000_000, "claims": {"sub": "alice", "n": [1, 2]}}),
        ),
        package: None,
        time_ms: Some(1_767_225_600_000),
    }
}

#[test]
fn good_facts_read_alike_and_decide_alike() {
    let engine = engine();
    let entities = entities(&engine);
    let mut cases = vec![base(), Case::default()];
    cases.push(Case {
        method: "put".into(),
        ..base()
    });
    cases.push(Case {
        method: "DELETE".into(),
        package: Some("ops".into()),
        ..base()
    });
    cases.push(Case {
        auth: None,
        peer: None,
        tls_cipher: Some("RC4-MD5".into()),
        ..base()
    });
    cases.push(Case {
        source_ip: Some("::1".into()),
        source_port: None,
        time_ms: None,
        host: None,
        headers: vec![("x-tag".into(), "block".into())],
        ..base()
    });
    for case in &cases {
        assert_same(&engine, &entities, case);
    }
    // The typed path really decides: the base case is a write-capable mTLS caller.
    let case = Case {
        method: "POST".into(),
        ..base()
    };
    let request = engine
        .request_from_http(&case.facts(), [("X-Tag", "ok")])
        .expect("reads");
    let decision = engine.decide(&request, &entities);
    assert!(decision.is_allow(), "{decision:?}");
    assert_eq!(decision.rules, vec!["mtls-write", "scoped-write"]);
}

#[test]
fn bad_facts_are_the_same_errors() {
    let engine = engine();
    let entities = entities(&engine);
    let bad = [
        Case {
            tls_version: Some("SSLv3".into()),
            ..base()
        },
        Case {
            source_ip: Some("not-an-ip".into()),
            ..base()
        },
        Case {
            source_ip: Some("not-an-ip".into()),
            tls_version: Some("bogus".into()),
            ..base()
        },
        Case {
            package: Some("nope".into()),
            ..base()
        },
        Case {
            path: "/nowhere".into(),
            ..base()
        },
        Case {
            path: "/v1/accounts/%zz".into(),
            ..base()
        },
        Case {
            auth: Some(json!({"method": "magic"})),
            ..base()
        },
        Case {
            auth: Some(json!({"method": "jwt", "issued_at": "yesterday", "x": 1})),
            ..base()
        },
        Case {
            auth: Some(json!("jwt")),
            ..base()
        },
    ];
    let mut messages = Vec::new();
    for case in &bad {
        assert_same(&engine, &entities, case);
        let headers = case.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let error = engine
            .request_from_http(&case.facts(), headers)
            .expect_err("bad facts are refused");
        messages.push(error.to_string());
    }
    assert!(
        messages[0].contains("context.tls.version"),
        "{}",
        messages[0]
    );
    assert!(messages[1].contains("context.source.ip"), "{}", messages[1]);
    assert!(messages[2].contains("context.source.ip"), "{}", messages[2]);
    assert!(
        messages[3].contains("unknown package `nope`"),
        "{}",
        messages[3]
    );

    // Facts the schema does not declare.
    let narrow = narrow_engine();
    let narrow_entities = common::entities(&narrow);
    assert_same(&narrow, &narrow_entities, &base());
    assert_same(
        &narrow,
        &narrow_entities,
        &Case {
            source_port: None,
            ..base()
        },
    );
}

fn pick<T: Clone + std::fmt::Debug + 'static>(items: Vec<T>) -> impl Strategy<Value = T> {
    proptest::sample::select(items)
}

fn maybe(items: &[&'static str]) -> impl Strategy<Value = Option<String>> {
    let items: Vec<Option<String>> = std::iter::once(None)
        .chain(items.iter().map(|s| Some((*s).to_owned())))
        .collect();
    pick(items)
}

fn case_strategy() -> impl Strategy<Value = Case> {
    let method = pick(vec!["GET", "get", "Post", "DELETE", "PATCH", ""]);
    let path = pick(vec![
        "/v1/accounts/a1",
        "/v1/accounts/a2?x=1&y=2",
        "/v1/accounts/a%201",
        "/v1/accounts/%zz",
        "/files/a/b/c?",
        "/",
        "/v1/accounts/",
        "/v1/accounts/a1#frag",
    ]);
    let header_name = pick(vec![
        "x-tag",
        "X-Tag",
        ":path",
        "authorization",
        "Content-Type",
        "x-ümlaut",
        "",
    ]);
    let header_value = pick(vec!["a", "block", "", "Bearer t", "v, w"]);
    let headers = proptest::collection::vec((header_name, header_value), 0..6);
    let source = (
        maybe(&[
            "10.0.0.1",
            "192.168.1.9",
            "::1",
            "not-an-ip",
            "10.0.0.0/8",
            "300.1.1.1",
            "",
        ]),
        proptest::option::of(0u32..70_000),
    );
    let tls = (
        maybe(&["TLSv1.3", "1.2", "tls1.0", "TLSv1.1", "SSLv3", "bogus", ""]),
        maybe(&["TLS_AES_128_GCM_SHA256", "RC4-MD5", ""]),
        any::<bool>(),
        maybe(&["spiffe://corp/a", ""]),
    );
    let auth = pick(vec![
        None,
        Some(json!({"method": "jwt", "scopes": ["accounts:write"]})),
        Some(json!({"method": "oidc", "scopes": "accounts:write other", "mfa": true})),
        Some(json!({"method": "none"})),
        Some(
            json!({"method": "jwt", "issued_at": 900_000_000, "expires_at": "2030-01-01T00:00:00Z"}),
        ),
        Some(json!({"method": "jwt", "claims": {"a": {"b": [true, "x", 3]}}})),
        Some(json!({"method": "bogus"})),
        Some(json!({"method": "jwt", "unknown": 1})),
        Some(json!({"method": "jwt", "mfa": "yes"})),
        Some(json!(null)),
        Some(json!([1])),
    ]);
    let package = maybe(&["main", "ops", "nope"]);
    let time = proptest::option::of(pick(vec![0i64, 1_767_225_600_000, 1_900_000_000_000]));
    (
        (method, path, maybe(&["api.local", ""]), headers),
        (source, tls),
        (auth, package, time),
    )
        .prop_map(
            |(
                (method, path, host, headers),
                ((ip, port), (version, cipher, mtls, peer)),
                (auth, package, time_ms),
            )| Case {
                method: method.to_owned(),
                path: path.to_owned(),
                host,
                headers: headers
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                source_ip: ip,
                source_port: port,
                tls_version: version,
                tls_cipher: cipher,
                mtls,
                peer,
                auth,
                package,
                time_ms,
            },
        )
}

/// The two engines and their entities, built once for all generated cases.
fn engines() -> &'static [(Engine, EntityStore); 2] {
    static ENGINES: OnceLock<[(Engine, EntityStore); 2]> = OnceLock::new();
    ENGINES.get_or_init(|| {
        [engine(), narrow_engine()].map(|engine| {
            let entities = common::entities(&engine);
            (engine, entities)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_facts_read_alike(case in case_strategy()) {
        for (engine, entities) in engines() {
            assert_same(engine, entities, &case);
        }
    }
}
