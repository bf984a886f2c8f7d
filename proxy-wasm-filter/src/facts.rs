//! From what the host knows about a request to [`HttpFacts`]: the request headers
//! (`:method`, `:path`, `:authority` and the rest) and a few host properties.
//!
//! | fact | read from |
//! |---|---|
//! | method, path (with the query), host | `:method`, `:path`, `:authority` (else `host`) |
//! | headers | every other request header (names lower-cased, repeats joined, by the engine's mapping) |
//! | source address | property `source.address` (`IP:PORT`) |
//! | TLS peer | property `connection.uri_san_peer_certificate`, else `dns_san_…`, else `subject_…` |
//! | mTLS | property `connection.mtls`, or a peer identity |
//! | TLS version | property `connection.tls_version` (`TLSv1.3`) |
//! | route | property `xds.route_name` (selects the package, see `config`) |

use std::net::{IpAddr, SocketAddr};

use rampart_engine::gateway::HttpFacts;

/// What the filter reads from its host about the request being decided: Envoy through
/// proxy-wasm in the module, a table in the tests.
pub trait RequestSource {
    /// The request headers, pseudo-headers included, in arrival order. Values are bytes:
    /// HTTP/1 allows values that are not UTF-8.
    fn request_headers(&self) -> Vec<(String, Vec<u8>)>;

    /// A host property such as `["source", "address"]`; `None` when the host has none.
    fn property(&self, path: &[&str]) -> Option<Vec<u8>>;
}

/// Property paths the filter reads.
pub mod property {
    pub const SOURCE_ADDRESS: [&str; 2] = ["source", "address"];
    pub const URI_SAN_PEER: [&str; 2] = ["connection", "uri_san_peer_certificate"];
    pub const DNS_SAN_PEER: [&str; 2] = ["connection", "dns_san_peer_certificate"];
    pub const SUBJECT_PEER: [&str; 2] = ["connection", "subject_peer_certificate"];
    pub const MTLS: [&str; 2] = ["connection", "mtls"];
    pub const TLS_VERSION: [&str; 2] = ["connection", "tls_version"];
    pub const ROUTE_NAME: [&str; 2] = ["xds", "route_name"];
}

/// Reads the facts of the current request. The package is left for the caller to choose.
pub fn read_facts(source: &impl RequestSource) -> HttpFacts {
    let headers: Vec<(String, String)> = source
        .request_headers()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let pseudo = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let method = pseudo(":method").unwrap_or_default();
    let path = pseudo(":path").unwrap_or_default();
    let host = pseudo(":authority")
        .filter(|h| !h.is_empty())
        .or_else(|| pseudo("host"));

    let text = |path: &[&str]| property_text(source.property(path));
    let (source_ip, source_port) = match text(&property::SOURCE_ADDRESS).as_deref() {
        Some(address) => parse_address(address),
        None => (None, None),
    };
    let tls_peer = text(&property::URI_SAN_PEER)
        .or_else(|| text(&property::DNS_SAN_PEER))
        .or_else(|| text(&property::SUBJECT_PEER));
    let mtls = property_bool(source.property(&property::MTLS)) || tls_peer.is_some();
    // A plain connection has no TLS version (Envoy answers nothing, or an empty string).
    let tls_version = text(&property::TLS_VERSION);

    HttpFacts {
        method,
        path,
        host,
        headers,
        source_ip,
        source_port,
        tls_peer,
        mtls,
        tls_version,
        package: None,
    }
}

/// The name of the route the request matched, when the host has one.
pub fn route_name(source: &impl RequestSource) -> Option<String> {
    property_text(source.property(&property::ROUTE_NAME))
}

/// A string property: its bytes as text; `None` when absent or empty.
fn property_text(bytes: Option<Vec<u8>>) -> Option<String> {
    let bytes = bytes.filter(|b| !b.is_empty())?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// A boolean property: Envoy sends one byte (0 or 1); text `true` is read too.
fn property_bool(bytes: Option<Vec<u8>>) -> bool {
    match bytes.as_deref() {
        Some([byte]) => *byte != 0 && *byte != b'0',
        Some(text) => text.eq_ignore_ascii_case(b"true"),
        None => false,
    }
}

/// `127.0.0.1:41258`, `[::1]:41258` or a bare IP; anything else (a pipe) has no address.
fn parse_address(text: &str) -> (Option<IpAddr>, Option<u32>) {
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return (Some(socket.ip()), Some(u32::from(socket.port())));
    }
    (text.parse::<IpAddr>().ok(), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{request, FakeRequest};
    use serde_json::json;

    #[test]
    fn an_mtls_request_maps_like_the_sidecar_maps_envoys_check_request() {
        let fake = request(
            &[
                (":authority", b"api.local:10443"),
                (":path", b"/v1/orders/42?expand=true"),
                (":method", b"POST"),
                (":scheme", b"https"),
                ("authorization", b"Bearer x"),
                ("content-type", b"application/json"),
                ("x-tag", b"a"),
                ("x-tag", b"b"),
            ],
            &[
                ("source.address", b"127.0.0.1:52248"),
                (
                    "connection.uri_san_peer_certificate",
                    b"spiffe://test/ns/default/sa/client1",
                ),
                ("connection.mtls", &[1]),
                ("connection.tls_version", b"TLSv1.3"),
            ],
        );
        let mut facts = read_facts(&fake);
        facts.package = Some("items-api".into());
        assert_eq!(
            facts.to_request_json(),
            json!({
                "http": {
                    "method": "POST",
                    "path": "/v1/orders/42?expand=true",
                    "host": "api.local:10443",
                    "headers": {"authorization": "Bearer x", "content-type": "application/json",
                                "x-tag": ["a", "b"]}
                },
                "context": {
                    "source": {"ip": "127.0.0.1", "port": 52248},
                    "tls": {"mtls": true, "peer": "spiffe://test/ns/default/sa/client1",
                            "version": "TLSv1.3"}
                },
                "package": "items-api"
            })
        );
    }

    #[test]
    fn a_plain_request_has_no_tls_and_reads_ipv6_sources() {
        let fake = request(
            &[(":method", b"GET"), (":path", b"/status"), ("host", b"h")],
            &[
                ("source.address", b"[::1]:9"),
                ("connection.mtls", &[0]),
                ("connection.tls_version", b""),
            ],
        );
        assert_eq!(
            read_facts(&fake).to_request_json(),
            json!({
                "http": {"method": "GET", "path": "/status", "host": "h", "headers": {"host": "h"}},
                "context": {"source": {"ip": "::1", "port": 9}}
            })
        );
    }

    #[test]
    fn a_peer_without_uri_san_falls_back_to_dns_san_then_subject() {
        let fake = request(
            &[],
            &[
                ("connection.subject_peer_certificate", b"CN=billing"),
                ("connection.mtls", b"true"),
            ],
        );
        let facts = read_facts(&fake);
        assert_eq!(facts.tls_peer.as_deref(), Some("CN=billing"));
        assert!(facts.mtls);
        let fake = request(
            &[],
            &[
                ("connection.dns_san_peer_certificate", b"billing.corp"),
                ("connection.subject_peer_certificate", b"CN=billing"),
            ],
        );
        assert_eq!(read_facts(&fake).tls_peer.as_deref(), Some("billing.corp"));
    }

    #[test]
    fn bytes_that_are_not_utf8_and_odd_addresses_do_not_stop_the_mapping() {
        let fake = request(
            &[
                (":method", b"GET"),
                (":path", b"/"),
                ("x-raw", &[0x66, 0xff]),
            ],
            &[("source.address", b"/var/run/envoy.sock")],
        );
        let facts = read_facts(&fake);
        assert_eq!(facts.headers[2].1, "f\u{fffd}");
        assert_eq!((facts.source_ip, facts.source_port), (None, None));
        assert!(!facts.mtls);
        assert_eq!(parse_address("10.0.0.1"), ("10.0.0.1".parse().ok(), None));
    }

    #[test]
    fn the_route_name_is_read_when_there_is_one() {
        let fake = request(&[], &[("xds.route_name", b"status")]);
        assert_eq!(route_name(&fake).as_deref(), Some("status"));
        assert_eq!(route_name(&FakeRequest::default()), None);
    }
}
