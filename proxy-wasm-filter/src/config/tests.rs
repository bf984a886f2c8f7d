//! Loading configurations: where the bundle comes from, and every way it can fail.

use super::*;
use crate::fake::gateway_policy;
use serde_json::json;

fn sources<'a>(plugin: Option<&'a str>, vm: Option<&'a str>) -> Sources<'a> {
    Sources {
        plugin: plugin.map(str::as_bytes),
        vm: vm.map(str::as_bytes),
        embedded: Ok(Embedded::default()),
    }
}

fn load_err(sources: &Sources<'_>) -> ConfigError {
    match load(sources) {
        Ok(_) => panic!("the configuration loaded"),
        Err(error) => error,
    }
}

#[test]
fn the_bundle_comes_from_the_plugin_then_the_vm_then_the_module() {
    let (bundle, entities) = gateway_policy();
    let revision = |policy: &Policy| policy.engine.bundle().revision.clone();
    let inline = format!(r#"{{"bundle": {bundle}, "entities": {entities}}}"#);
    let policy = load(&sources(Some(&inline), Some("{\"bundle\": 7}"))).unwrap();
    assert_eq!(policy.entities.len(), 4);
    let expected = revision(&policy);

    // As JSON text in a string, from the VM configuration.
    let as_text = json!({"bundle": bundle, "entities": entities}).to_string();
    let policy = load(&sources(None, Some(&as_text))).unwrap();
    assert_eq!(
        (revision(&policy), policy.entities.len()),
        (expected.clone(), 4)
    );

    // Embedded, with the plugin configuration choosing packages only.
    let embedded = Sources {
        plugin: Some(br#"{"package": "gateway", "route_packages": {"status-route": "status"}}"#),
        vm: None,
        embedded: Ok(Embedded {
            bundle: Some(bundle.clone()),
            entities: None,
        }),
    };
    let policy = load(&embedded).unwrap();
    assert_eq!(revision(&policy), expected);
    assert!(policy.entities.is_empty());
    assert_eq!(policy.package_for(Some("status-route")), Some("status"));
    assert_eq!(policy.package_for(Some("other")), Some("gateway"));
    assert_eq!(policy.package_for(None), Some("gateway"));
}

#[test]
fn without_a_bundle_anywhere_the_configuration_fails() {
    assert_eq!(load_err(&sources(None, None)), ConfigError::NoBundle);
    assert_eq!(
        load_err(&sources(Some("  "), Some(""))),
        ConfigError::NoBundle
    );
    assert_eq!(
        load_err(&sources(Some(r#"{"package": "x"}"#), None)).to_string(),
        "no bundle: give `bundle` in the plugin or VM configuration, or embed one with \
         `rampart build DIR --target proxy-wasm`"
    );
}

#[test]
fn bad_configurations_are_named_by_origin() {
    let error = load_err(&sources(Some("{not json"), None));
    assert!(
        matches!(
            &error,
            ConfigError::Invalid {
                origin: Origin::Plugin,
                ..
            }
        ),
        "{error:?}"
    );
    let error = load_err(&sources(None, Some(r#"{"bundel": {}}"#)));
    assert!(
        error
            .to_string()
            .starts_with("the VM configuration is not valid: unknown field `bundel`"),
        "{error}"
    );
    let error = load_err(&sources(None, Some(r#"{"package": "gateway"}"#)));
    assert!(
        error.to_string().contains("unknown field `package`"),
        "{error}"
    );

    let error = load_err(&sources(Some(r#"{"bundle": {"format": "nope"}}"#), None));
    assert!(
        matches!(
            &error,
            ConfigError::Bundle {
                origin: Origin::Plugin,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error
        .to_string()
        .starts_with("the bundle of the plugin configuration does not load: "));

    let (bundle, _) = gateway_policy();
    let bad_entities = format!(r#"{{"bundle": {bundle}, "entities": [{{"uid": 1}}]}}"#);
    let error = load_err(&sources(Some(&bad_entities), None));
    assert!(matches!(&error, ConfigError::Entities { .. }), "{error:?}");

    let unknown = format!(r#"{{"bundle": {bundle}, "route_packages": {{"r": "payments"}}}}"#);
    let policy = load(&sources(Some(&unknown), None)).unwrap();
    assert_eq!(
        policy.warnings,
        [
            "`route_packages` names package `payments`, which the bundle does not have: \
          the requests it decides are denied"
        ]
    );

    let corrupt = Sources {
        plugin: None,
        vm: None,
        embedded: Err("not a Rampart payload (bad magic number)".into()),
    };
    assert_eq!(
        load_err(&corrupt).to_string(),
        "the bundle embedded in the module is not valid: not a Rampart payload (bad magic number)"
    );
    let binary = Sources {
        plugin: Some(&[0xff, 0xfe]),
        vm: None,
        embedded: Ok(Embedded::default()),
    };
    assert_eq!(
        load_err(&binary).to_string(),
        "the plugin configuration is not valid: not UTF-8 text"
    );
}

#[test]
fn deep_documents_are_refused_before_parsing() {
    let deep = format!("{{\"bundle\": {}{}}}", "[".repeat(600), "]".repeat(600));
    let error = load_err(&sources(Some(&deep), None));
    assert!(
        error.to_string().contains("nesting too deep (601 levels"),
        "{error}"
    );
    assert_eq!(
        rampart_engine::json_depth(r#"{"a": "[[[{{", "b": [1, {"c": "\"]"}]}"#),
        3
    );
}
