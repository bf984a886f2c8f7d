//! Properties of the engine over real policy sets (the examples and the corpus):
//! it never panics on arbitrary requests, a serialized-and-reloaded bundle decides exactly
//! like the original, and a request whose data is broken is never allowed by a rule that
//! read the broken part.

use std::path::PathBuf;
use std::sync::OnceLock;

use proptest::prelude::*;
use rampart_engine::{Engine, EntityStore};
use rampart_tests::{engine_for, entities_for, subdirs, tests_dir, workspace_dir};

struct Loaded {
    engine: Engine,
    reloaded: Engine,
    entities: EntityStore,
    uids: Vec<String>,
    actions: Vec<String>,
}

fn policy_dirs() -> Vec<PathBuf> {
    let mut dirs = subdirs(&workspace_dir().join("examples"));
    dirs.extend(subdirs(&tests_dir().join("conformance")));
    dirs
}

fn loaded() -> &'static [Loaded] {
    static LOADED: OnceLock<Vec<Loaded>> = OnceLock::new();
    LOADED.get_or_init(|| {
        policy_dirs()
            .into_iter()
            .filter_map(|dir| {
                let engine = engine_for(&dir).ok()?;
                let reloaded = Engine::from_bundle_json(&engine.bundle().to_json()).ok()?;
                let entities = entities_for(&engine, &dir).ok()?;
                let uids = entity_uids(&dir);
                let actions = engine
                    .bundle()
                    .schema
                    .actions
                    .iter()
                    .map(|a| a.name.clone())
                    .collect();
                Some(Loaded {
                    engine,
                    reloaded,
                    entities,
                    uids,
                    actions,
                })
            })
            .collect()
    })
}

/// The uids named in the folder's entities.json, as `Type::"id"` strings.
fn entity_uids(dir: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("entities.json")).unwrap_or_default();
    let items: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap_or_default();
    items
        .iter()
        .filter_map(|e| {
            let uid = e.get("uid")?;
            Some(format!(
                "{}::{:?}",
                uid.get("type")?.as_str()?,
                uid.get("id")?.as_str()?
            ))
        })
        .collect()
}

fn json_leaf() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        prop_oneof![
            Just("tls1.3".to_owned()),
            Just("10.1.2.3".to_owned()),
            Just("1h".to_owned()),
            Just("2026-01-01T00:00:00Z".to_owned()),
            Just("jwt".to_owned()),
            Just("User::\"alice\"".to_owned()),
            ".{0,12}",
        ]
        .prop_map(serde_json::Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    json_leaf().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("auth".to_owned()),
                    Just("tls".to_owned()),
                    Just("source".to_owned()),
                    Just("scopes".to_owned()),
                    Just("version".to_owned()),
                    Just("mtls".to_owned()),
                    Just("ip".to_owned()),
                    Just("method".to_owned()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn engine_never_panics_and_reload_agrees(
        which in any::<prop::sample::Index>(),
        principal in any::<prop::sample::Index>(),
        resource in any::<prop::sample::Index>(),
        action in any::<prop::sample::Index>(),
        context in json_value(),
        raw_http in any::<bool>(),
        path in "/[a-z0-9/{}%.]{0,24}",
    ) {
        let all = loaded();
        prop_assume!(!all.is_empty());
        let l = &all[which.index(all.len())];
        let pick = |v: &[String], i: &prop::sample::Index| if v.is_empty() { String::from("Nope::\"x\"") } else { v[i.index(v.len())].clone() };
        let request = if raw_http {
            serde_json::json!({"http": {"method": "GET", "path": path, "headers": {}}, "context": context})
        } else {
            serde_json::json!({
                "principal": pick(&l.uids, &principal),
                "action": pick(&l.actions, &action),
                "resource": pick(&l.uids, &resource),
                "context": context,
            })
        };
        let text = request.to_string();
        let a = l.engine.decide_json(&text, &l.entities);
        let b = l.reloaded.decide_json(&text, &l.entities);
        prop_assert_eq!(&a, &b);
        // An allow never carries an error from a deny or require rule.
        if a.is_allow() {
            let deny_ids: Vec<&str> = l.engine.bundle().rules.iter()
                .filter(|r| r.kind != rampart_engine::bundle::RuleKind::Allow)
                .map(|r| r.id.as_str()).collect();
            for e in &a.errors {
                prop_assert!(e.rule.as_deref().is_none_or(|r| !deny_ids.contains(&r)), "allow despite error in deny rule: {:?}", e);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_as_request_are_denied(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let all = loaded();
        prop_assume!(!all.is_empty());
        let text = String::from_utf8_lossy(&bytes);
        let d = all[0].engine.decide_json(&text, &all[0].entities);
        if serde_json::from_str::<serde_json::Value>(&text).is_err() {
            prop_assert!(!d.is_allow());
            prop_assert!(!d.errors.is_empty());
        }
    }
}
