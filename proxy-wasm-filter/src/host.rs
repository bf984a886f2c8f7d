//! The proxy-wasm side: a root context that loads the configuration once per plugin, and
//! an HTTP context per request that asks the [`Filter`] and carries out its verdict.

use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

use crate::config::{self, Sources};
use crate::embedded;
use crate::facts::RequestSource;
use crate::filter::{Filter, Verdict};
use crate::ids::DecisionIds;

/// The plugin's root context: holds the VM configuration (only readable at VM start) and
/// the filter its configuration made.
pub struct Root {
    vm_configuration: Option<Vec<u8>>,
    filter: Option<Rc<Filter>>,
}

impl Root {
    /// A root context before the VM started.
    pub fn new() -> Root {
        Root {
            vm_configuration: None,
            filter: None,
        }
    }
}

impl Default for Root {
    fn default() -> Root {
        Root::new()
    }
}

impl Context for Root {}

impl RootContext for Root {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        self.vm_configuration = self.get_vm_configuration();
        true
    }

    /// Loads the policy. A configuration that does not load is logged and the filter then
    /// denies every request; the plugin itself still starts, so that Envoy never runs the
    /// route without it (fail closed).
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let plugin = self.get_plugin_configuration();
        let sources = Sources {
            plugin: plugin.as_deref(),
            vm: self.vm_configuration.as_deref(),
            embedded: embedded::policy(),
        };
        let policy = config::load(&sources);
        match &policy {
            Ok(policy) => {
                for warning in &policy.warnings {
                    log(LogLevel::Warn, warning);
                }
                log(
                    LogLevel::Info,
                    &format!("ready, bundle revision {}", policy.engine.bundle().revision),
                );
            }
            Err(error) => log(LogLevel::Error, &format!("{error}; denying every request")),
        }
        let ids = DecisionIds::new(nanos_since_epoch(self.get_current_time()));
        self.filter = Some(Rc::new(Filter::new(policy, ids)));
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Stream {
            filter: self.filter.clone(),
            response_headers: Vec::new(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One request: decided on its headers.
struct Stream {
    filter: Option<Rc<Filter>>,
    /// `response_header` obligations, added when the response headers come.
    response_headers: Vec<(String, String)>,
}

impl Context for Stream {}

impl RequestSource for Stream {
    fn request_headers(&self) -> Vec<(String, Vec<u8>)> {
        self.get_http_request_headers_bytes()
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        // Not the SDK's `get_property`, which panics (traps the VM) on a host error: a
        // property the host cannot serialize is a property the request does not have.
        proxy_wasm::hostcalls::get_property(path.to_vec())
            .ok()
            .flatten()
    }
}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(filter) = self.filter.clone() else {
            // Never configured: deny without a decision.
            self.send_http_response(403, vec![], None);
            return Action::Pause;
        };
        let now_ms = millis_since_epoch(self.get_current_time());
        let decided = filter.decide(self, now_ms);
        let decision = &decided.decision;
        // Formatted only when Envoy logs `wasm` at debug: the hot path allocates no text.
        let debug = matches!(
            proxy_wasm::hostcalls::get_log_level(),
            Ok(LogLevel::Trace | LogLevel::Debug)
        );
        if debug {
            log(
                LogLevel::Debug,
                &format!(
                    "decision {} {} rules={:?} errors={:?}",
                    decided.id,
                    if decision.is_allow() { "allow" } else { "deny" },
                    decision.rules,
                    decision
                        .errors
                        .iter()
                        .map(|e| e.message.as_str())
                        .collect::<Vec<_>>(),
                ),
            );
        }
        match decided.verdict {
            Verdict::Continue(headers) => {
                if let Some(target) = &decided.canonical_target {
                    // Envoy forwards `:path` as received unless told otherwise: forward
                    // the canonical target the decision was taken on.
                    self.set_http_request_header(":path", Some(target));
                }
                for (name, value) in &headers.set_upstream {
                    self.set_http_request_header(name, Some(value));
                }
                for name in &headers.remove_upstream {
                    // As Envoy's ext_authz: the Host header (`:authority`) stays.
                    if !name.eq_ignore_ascii_case("host") {
                        self.set_http_request_header(name, None);
                    }
                }
                self.response_headers = headers.add_to_response;
                Action::Continue
            }
            Verdict::Deny(response) => {
                let headers: Vec<(&str, &str)> = response
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                self.send_http_response(
                    response.status.into(),
                    headers,
                    Some(response.body.as_bytes()),
                );
                Action::Pause
            }
        }
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        for (name, value) in std::mem::take(&mut self.response_headers) {
            self.add_http_response_header(&name, &value);
        }
        Action::Continue
    }
}

/// Logs through the host; a host that refuses the log line changes nothing.
fn log(level: LogLevel, message: &str) {
    let _ = proxy_wasm::hostcalls::log(level, message);
}

fn nanos_since_epoch(time: std::time::SystemTime) -> u64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}

fn millis_since_epoch(time: std::time::SystemTime) -> i64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}
