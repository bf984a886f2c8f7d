//! What the fuzz targets share: the fixed policy they decide with (the payments example,
//! compiled once from `examples/payments`), its entities, the test-only JWT keys, the checks
//! every decision must pass, and the seed generators (`seeds`). The targets read the
//! repository's files at run time: run them from a checkout.
//!
//! The targets assert invariants, not only the absence of panics: a request that cannot be
//! read is a deny listing the error, an allow lists no error but those of allow rules (which
//! then did not apply), and every way of deciding
//! the same request (owned, into a buffer, explained, after a bundle JSON round-trip,
//! through the wasm runtime, through each sidecar door) gives the same decision.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rampart_engine::bundle::RuleKind;
use rampart_engine::{Bundle, Decision, Effect, Engine, EntityStore};
use rampart_lang::{PolicySet, SourceFile};

pub mod seeds;

/// The payments example's entities.
pub const PAYMENTS_ENTITIES: &str = include_str!("../../examples/payments/entities.json");

/// The JWKS of the test-only keys (`cli/tests/fixtures/jwt`).
pub const FIXTURE_JWKS: &str = include_str!("../../cli/tests/fixtures/jwt/jwks.json");

/// The largest input the text targets read: larger inputs only slow the search down (the
/// limits on size are tested by the crates' own tests).
pub const MAX_INPUT_BYTES: usize = 64 << 10;

/// The repository's root (for seeds).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Compiles policy files given as `(name, text)` with the front end the CLI uses.
pub fn compile_files(files: &[(&str, &str)]) -> rampart_lang::Compiled {
    let files = files
        .iter()
        .map(|(name, text)| SourceFile::new(*name, *name, (*text).to_owned()))
        .collect();
    rampart_lang::compile(&PolicySet::from_files(PathBuf::from("."), files))
}

/// The payments bundle, compiled once.
pub fn payments_bundle() -> &'static Bundle {
    static BUNDLE: OnceLock<Bundle> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        // From the folder: its `test` blocks name entity files relative to it.
        let dir = repo_root().join("examples/payments");
        let set = match PolicySet::load(&dir) {
            Ok(set) => set,
            Err(error) => panic!("cannot read `{}`: {error}", dir.display()),
        };
        let compiled = rampart_lang::compile(&set);
        match compiled.bundle {
            Some(bundle) => bundle,
            None => {
                let messages: Vec<&str> =
                    compiled.diagnostics.iter().map(|d| d.message()).collect();
                panic!("the payments example does not compile: {messages:?}")
            }
        }
    })
}

/// A fresh engine and entity store of the payments example.
pub fn new_payments() -> (Engine, EntityStore) {
    let engine = match Engine::new(payments_bundle().clone()) {
        Ok(engine) => engine,
        Err(error) => panic!("the payments bundle does not load: {error}"),
    };
    let entities = match engine.load_entities(PAYMENTS_ENTITIES) {
        Ok(entities) => entities,
        Err(error) => panic!("the payments entities do not load: {error}"),
    };
    (engine, entities)
}

/// The payments engine and entities, loaded once.
pub fn payments() -> &'static (Engine, EntityStore) {
    static PAYMENTS: OnceLock<(Engine, EntityStore)> = OnceLock::new();
    PAYMENTS.get_or_init(new_payments)
}

/// The payments engine loaded again from its bundle's JSON (the bundle → JSON → engine
/// round-trip), with the same entities.
pub fn payments_round_trip() -> &'static (Engine, EntityStore) {
    static ROUND_TRIP: OnceLock<(Engine, EntityStore)> = OnceLock::new();
    ROUND_TRIP.get_or_init(|| {
        let json = match serde_json::to_string(payments_bundle()) {
            Ok(json) => json,
            Err(error) => panic!("the payments bundle does not serialize: {error}"),
        };
        let engine = match Engine::from_bundle_json(&json) {
            Ok(engine) => engine,
            Err(error) => panic!("the payments bundle JSON does not load: {error}"),
        };
        let entities = match engine.load_entities(PAYMENTS_ENTITIES) {
            Ok(entities) => entities,
            Err(error) => panic!("the payments entities do not load again: {error}"),
        };
        (engine, entities)
    })
}

/// Requests every engine is asked after loading fuzzed data: the payments example's
/// requests (raw HTTP and principal/action/resource).
pub const PROBE_REQUESTS: [&str; 4] = [
    include_str!("../../examples/payments/requests/pay-http.json"),
    include_str!("../../examples/payments/requests/pay-owner.json"),
    include_str!("../../examples/payments/requests/partner-read-http.json"),
    include_str!("../../examples/payments/requests/old-tls.json"),
];

/// The invariants of any decision of an engine loaded from `bundle`: fail closed (an allow
/// has a deciding rule, and the only errors it may list are of allow rules, which then did
/// not apply; an error of a deny, a require, an obligation or the request is a deny) and
/// obligations only on an allow.
pub fn assert_well_formed(decision: &Decision, bundle: &Bundle, what: &str) {
    if decision.decision == Effect::Allow {
        assert!(
            !decision.rules.is_empty(),
            "{what}: an allow without a deciding rule: {decision:?}"
        );
        for error in &decision.errors {
            let of_allow_rule = error.rule.as_ref().is_some_and(|id| {
                bundle
                    .rules
                    .iter()
                    .any(|r| &r.id == id && r.kind == RuleKind::Allow)
            });
            assert!(
                of_allow_rule,
                "{what}: an allow despite an error outside allow rules: {decision:?}"
            );
        }
    } else {
        assert!(
            decision.obligations.is_empty(),
            "{what}: a deny that carries obligations: {decision:?}"
        );
    }
}

/// `read` failed: the one-call form must be a deny that lists an error and names no rule.
pub fn assert_input_error(decision: &Decision, what: &str) {
    assert_eq!(
        decision.decision,
        Effect::Deny,
        "{what}: unreadable input was allowed: {decision:?}"
    );
    assert!(
        !decision.errors.is_empty(),
        "{what}: a deny for unreadable input lists no error: {decision:?}"
    );
    assert!(
        decision.rules.is_empty(),
        "{what}: a deny for unreadable input names rules: {decision:?}"
    );
}

/// Input bytes as text no longer than [`MAX_INPUT_BYTES`].
pub fn text(data: &[u8]) -> Option<&str> {
    if data.len() > MAX_INPUT_BYTES {
        return None;
    }
    std::str::from_utf8(data).ok()
}

/// The current time in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}
