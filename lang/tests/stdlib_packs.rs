//! Every stdlib pack's own `test` blocks, and the packs together.
//!
//! Imported stdlib tests are not run for users, so each pack is compiled here as a policy
//! set of its own (its file as a policy file, plus `stdlib/tests/harness.rampart`, which
//! declares the schema the tests use and allows every request) and its tests are run
//! through the engine as `rampart test` runs them.

mod common;

use std::path::{Path, PathBuf};

use common::{compile_files, errors, rendered};
use rampart_engine::Engine;
use rampart_lang::{compile, stdlib_packages, Compiled, PolicySet, SourceFile, TestCase};

fn stdlib_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../stdlib")
}

fn harness() -> SourceFile {
    let path = stdlib_dir().join("tests/harness.rampart");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    SourceFile::in_memory("tests/harness.rampart", &text)
}

/// Compiles one pack (by package name) with the harness.
fn compile_pack(package: &str, source: &str) -> Compiled {
    let file = format!("{}.rampart", package.trim_start_matches("std."));
    let files = vec![SourceFile::in_memory(&file, source), harness()];
    compile(&PolicySet::from_files(stdlib_dir(), files))
}

fn run(engine: &Engine, test: &TestCase) -> Result<(), String> {
    let entities = engine
        .entities_from_values(&test.inline_entities)
        .map_err(|e| format!("{}: entities: {e}", test.name))?;
    let request = engine
        .request_from_value(&test.request)
        .map_err(|e| format!("{}: request: {e}", test.name))?;
    let decision = engine.decide(&request, &entities);
    let mut got = decision.rules.clone();
    got.sort();
    let effect_ok = decision.is_allow() == test.expect_allow;
    let rules_ok = test.expect_rules.as_ref().is_none_or(|want| {
        let mut want = want.clone();
        want.sort();
        want == got
    });
    if effect_ok && rules_ok {
        Ok(())
    } else {
        Err(format!(
            "{}:{} {}: expected {} by {:?}, got {} by {got:?} (errors {:?})",
            test.file,
            test.line,
            test.name,
            if test.expect_allow { "allow" } else { "deny" },
            test.expect_rules,
            if decision.is_allow() { "allow" } else { "deny" },
            decision.errors
        ))
    }
}

#[test]
fn every_pack_passes_its_own_tests() {
    let mut failures = Vec::new();
    for (package, source) in stdlib_packages() {
        let compiled = compile_pack(package, source);
        assert!(
            errors(&compiled).is_empty(),
            "{package}:\n{}",
            rendered(&compiled)
        );
        let own: Vec<&TestCase> = compiled
            .tests
            .iter()
            .filter(|t| t.file != "tests/harness.rampart")
            .collect();
        assert!(own.len() >= 3, "{package} has only {} tests", own.len());
        let Some(bundle) = compiled.bundle.clone() else {
            panic!("{package}: no bundle")
        };
        let engine = Engine::new(bundle).unwrap_or_else(|e| panic!("{package}: {e}"));
        failures.extend(own.iter().filter_map(|t| run(&engine, t).err()));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_of_every_pack_has_an_id_controls_and_a_reason() {
    for (package, source) in stdlib_packages() {
        let file = rampart_lang::parse(&SourceFile::in_memory("p.rampart", source))
            .unwrap_or_else(|d| panic!("{package}: {d:?}"));
        for item in &file.items {
            let (annotations, reason) = match item {
                rampart_lang::ast::Item::Rule(r) => (&r.annotations, r.reason.is_some()),
                rampart_lang::ast::Item::Obligation(o) => (&o.annotations, true),
                _ => continue,
            };
            let id = annotations
                .iter()
                .find(|a| a.name.name == "id")
                .and_then(|a| a.args.first())
                .map(|s| s.value.clone())
                .unwrap_or_default();
            assert!(
                id.starts_with(&format!("{package}.")),
                "{package}: id `{id}`"
            );
            assert!(
                annotations
                    .iter()
                    .any(|a| a.name.name == "control" && !a.args.is_empty()),
                "{id} has no @control"
            );
            assert!(reason, "{id} has no reason");
        }
    }
}

/// All packs imported into one set: no duplicate rule ids, no conflicting schema, no
/// unknown control (E022).
#[test]
fn all_packs_import_together() {
    let imports: Vec<String> = stdlib_packages()
        .iter()
        .map(|(name, _)| format!("import {name}"))
        .collect();
    assert!(imports.len() >= 7, "{imports:?}");
    let src = format!(
        "package app\n{}\n\nschema {{\n  entity User\n  entity Doc\n  action \"read\" on Doc for User\n}}\n\n@id(\"read\")\n@allow_lint(\"L001\", \"test\")\nallow \"read\" on Doc for User\n",
        imports.join("\n")
    );
    let c = compile_files(&[("app.rampart", &src)]);
    assert!(errors(&c).is_empty(), "{}", rendered(&c));
    assert!(
        !c.diagnostics.iter().any(|d| d.code() == "E022"),
        "{}",
        rendered(&c)
    );
}

/// The whole `stdlib/` folder checks (as `rampart check stdlib/` does).
#[test]
fn the_stdlib_folder_checks() {
    let set = PolicySet::load(&stdlib_dir()).unwrap_or_else(|e| panic!("{e}"));
    let c = compile(&set);
    assert!(errors(&c).is_empty(), "{}", rendered(&c));
}

/// `service_networks` turns on mTLS for service-to-service calls.
#[test]
fn service_networks_parameter_requires_mtls_from_those_networks() {
    let src = "package app\nimport std.zerotrust with { service_networks: [10.0.0.0/8] }\n\nschema {\n  entity Service\n  entity Doc\n  action \"read\" on Doc for Service\n}\n\n@id(\"read\")\n@allow_lint(\"L001\", \"test\")\nallow \"read\" on Doc for Service\n";
    let c = compile_files(&[("app.rampart", src)]);
    let Some(bundle) = c.bundle.clone() else {
        panic!("{}", rendered(&c))
    };
    let engine = Engine::new(bundle).unwrap_or_else(|e| panic!("{e}"));
    let decide = |ip: &str, mtls: bool| {
        let request = serde_json::json!({
            "principal": {"type": "Service", "id": "billing"},
            "action": "read",
            "resource": {"type": "Doc", "id": "d1"},
            "context": {"auth": {"method": "jwt"}, "tls": {"version": "tls1.3", "mtls": mtls},
                        "source": {"ip": ip}}
        });
        let request = engine
            .request_from_value(&request)
            .unwrap_or_else(|e| panic!("{e}"));
        engine.decide(&request, &engine.empty_entities()).rules
    };
    assert_eq!(decide("10.1.2.3", false), ["std.zerotrust.service-mtls"]);
    assert_eq!(decide("10.1.2.3", true), ["read"]);
    assert_eq!(decide("203.0.113.9", false), ["read"]);
}
