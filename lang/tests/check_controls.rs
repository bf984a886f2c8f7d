//! Compliance controls: the builtin catalogs, `@control` references (E022) and the project
//! file `rampart.toml` (E022, E023).

mod common;

use std::collections::HashMap;

use common::{compile_src, errors, ok, rendered, single_error, with_schema, write_dir};
use rampart_lang::controls::{Automatable, Catalogs, ControlError};
use rampart_lang::project::Project;
use rampart_lang::{ast, compile, parse, stdlib_packages, PolicySet, SourceFile};
use regex::Regex;

/// The frameworks of the shared contract, with the number of controls each catalog holds.
const FRAMEWORKS: &[(&str, usize)] = &[
    ("gdpr", 13),
    ("hipaa", 15),
    ("iso27001-2022", 21),
    ("nist-800-204", 8),
    ("nist-800-204a", 14),
    ("nist-800-204b", 7),
    ("nist-800-207", 7),
    ("owasp-api-2023", 10),
    ("pci-dss-4.0", 40),
    ("soc2", 14),
];

#[test]
fn every_builtin_catalog_loads() {
    let catalogs = Catalogs::builtin();
    assert!(catalogs.errors().is_empty(), "{:?}", catalogs.errors());
    let found: Vec<(&str, usize)> = catalogs
        .frameworks()
        .iter()
        .map(|f| (f.slug.as_str(), f.controls.len()))
        .collect();
    assert_eq!(found, FRAMEWORKS);
    for f in catalogs.frameworks() {
        assert!(!f.title.is_empty() && !f.version.is_empty(), "{}", f.slug);
        assert!(f.source.starts_with("https://"), "{}", f.slug);
        for c in &f.controls {
            assert!(!c.title.trim().is_empty(), "{}/{}", f.slug, c.id);
        }
    }
}

#[test]
fn ids_have_the_published_format() {
    let formats: HashMap<&str, &str> = HashMap::from([
        ("owasp-api-2023", r"^API([1-9]|10)$"),
        ("pci-dss-4.0", r"^\d+(\.\d+)+$"),
        ("hipaa", r"^164\.\d{3}(\([a-zA-Z0-9]+\))+$"),
        ("gdpr", r"^Art\. \d+(\(\d+\)(\([a-z]\))?)?$"),
        ("soc2", r"^(CC[1-9]|C1)\.\d+$"),
        ("iso27001-2022", r"^A\.[5-8]\.\d+$"),
        ("nist-800-207", r"^ZT-[1-7]$"),
        ("nist-800-204", r"^MS-SS-\d+$"),
        ("nist-800-204a", r"^SM-DR\d+$"),
        ("nist-800-204b", r"^(SAUN|EAUN|SAUZ|EUAZ|APE)-SR-\d+$"),
    ]);
    for f in Catalogs::builtin().frameworks() {
        let Some(pattern) = formats.get(f.slug.as_str()) else {
            panic!("no id format for `{}`", f.slug)
        };
        let re = Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        for c in &f.controls {
            assert!(
                re.is_match(&c.id),
                "`{}/{}` does not match {pattern}",
                f.slug,
                c.id
            );
        }
    }
}

#[test]
fn names_and_aliases_are_unambiguous() {
    let key = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let mut framework_names: HashMap<String, &str> = HashMap::new();
    for f in Catalogs::builtin().frameworks() {
        for name in std::iter::once(&f.slug).chain(&f.aliases) {
            let prev = framework_names.insert(key(name), &f.slug);
            assert!(prev.is_none(), "framework name `{name}` is used twice");
        }
        let mut names: HashMap<String, &str> = HashMap::new();
        for c in &f.controls {
            for name in std::iter::once(&c.id).chain(&c.aliases) {
                let prev = names.insert(key(name), &c.id);
                assert!(prev.is_none(), "`{}/{name}` names two controls", f.slug);
            }
        }
    }
}

#[test]
fn contract_names_resolve() {
    let c = Catalogs::builtin();
    for (reference, canonical) in [
        ("owasp-api-2023/API1", "owasp-api-2023/API1"),
        ("owasp/API1:2023", "owasp-api-2023/API1"),
        ("owasp-api/api10", "owasp-api-2023/API10"),
        ("pci-dss/4.2.1", "pci-dss-4.0/4.2.1"),
        ("pci-dss-4.0.1/10.2.1.1", "pci-dss-4.0/10.2.1.1"),
        ("hipaa-security/164.312(e)(1)", "hipaa/164.312(e)(1)"),
        ("hipaa/164.308(a)(5)(ii)(d)", "hipaa/164.308(a)(5)(ii)(D)"),
        ("gdpr/art32", "gdpr/Art. 32"),
        ("gdpr/art5(1)(f)", "gdpr/Art. 5(1)(f)"),
        ("gdpr/Art.32(1)(a)", "gdpr/Art. 32(1)(a)"),
        ("gdpr/art-32.1.a", "gdpr/Art. 32(1)(a)"),
        ("soc2/cc6.1", "soc2/CC6.1"),
        ("iso27001/8.24", "iso27001-2022/A.8.24"),
        ("iso27001-2022/A.5.15", "iso27001-2022/A.5.15"),
        ("nist-sp800-207/tenet-2", "nist-800-207/ZT-2"),
        ("nist-800-204/MS-SS-13", "nist-800-204/MS-SS-13"),
        ("nist-800-204a/SM-DR22", "nist-800-204a/SM-DR22"),
        ("nist-800-204b/EUAZ-SR-3", "nist-800-204b/EUAZ-SR-3"),
    ] {
        let resolved = c
            .resolve(reference)
            .unwrap_or_else(|e| panic!("{reference}: {e}"));
        assert_eq!(resolved.canonical(), canonical, "{reference}");
    }
}

#[test]
fn automatable_follows_what_a_rule_can_enforce() {
    let c = Catalogs::builtin();
    let level = |r: &str| c.resolve(r).map(|r| r.control.automatable).ok();
    assert_eq!(level("pci-dss-4.0/8.3.1"), Some(Automatable::Full));
    assert_eq!(level("pci-dss-4.0/7.3.3"), Some(Automatable::Full));
    assert_eq!(level("nist-800-207/ZT-2"), Some(Automatable::Full));
    assert_eq!(level("pci-dss-4.0/4.2.1"), Some(Automatable::Partial));
    assert_eq!(level("pci-dss-4.0/12.3.3"), Some(Automatable::None));
    assert_eq!(level("soc2/CC7.4"), Some(Automatable::None));
}

#[test]
fn lookalike_ids_are_rejected_with_a_suggestion() {
    let c = Catalogs::builtin();
    // Prowler's check numbers are not PCI ids.
    let err = c.resolve("pci-dss-4.0/10.2.1.1.1").unwrap_err();
    assert!(
        matches!(err, ControlError::UnknownControl { .. }),
        "{err:?}"
    );
    assert_eq!(err.suggestion(), Some("10.2.1.1"));
    // The misspelling of EUAZ-SR-3 that circulates in a blog post.
    let err = c.resolve("nist-800-204b/EAUZ-SR-3").unwrap_err();
    assert_eq!(err.suggestion(), Some("EUAZ-SR-3"));
    let err = c.resolve("pci-dss-4/8.3.1").unwrap_err();
    assert!(
        matches!(err, ControlError::UnknownFramework { .. }),
        "{err:?}"
    );
}

#[test]
fn every_stdlib_control_resolves() {
    let catalogs = Catalogs::builtin();
    let mut checked = 0usize;
    for (package, text) in stdlib_packages() {
        let file = SourceFile::in_memory(&format!("<stdlib>/{package}.rampart"), text);
        let Ok(ast) = parse(&file) else {
            // A stdlib file that does not parse is another test's failure.
            continue;
        };
        for item in &ast.items {
            let annotations = match item {
                ast::Item::Rule(r) => &r.annotations,
                ast::Item::Obligation(o) => &o.annotations,
                _ => continue,
            };
            for a in annotations.iter().filter(|a| a.name.name == "control") {
                for arg in &a.args {
                    checked += 1;
                    if let Err(e) = catalogs.resolve(&arg.value) {
                        panic!("{package}: @control(\"{}\"): {e}", arg.value);
                    }
                }
            }
        }
    }
    assert!(checked > 0, "the stdlib has no `@control` at all");
}

/// The source text a span covers.
fn text_at(src: &str, span: ast::Span) -> Option<&str> {
    src.get(span.start as usize..span.end as usize)
}

const RULE: &str = "deny * on Account when not resource.encrypted_at_rest";

#[test]
fn e022_unknown_framework_in_control() {
    let src = with_schema(&format!("@control(\"pcidss4/8.3.1\")\n{RULE}"));
    let d = single_error(&src, "E022");
    assert_eq!(d.message(), "unknown compliance framework `pcidss4`");
    assert_eq!(d.help_text(), Some("did you mean `pcidss`?"));
    let span = d.primary_span().unwrap_or_else(|| panic!("no label"));
    assert_eq!(text_at(&src, span), Some("\"pcidss4/8.3.1\""));
    assert_eq!(d.file().map(SourceFile::name), Some("policy.rampart"));
}

#[test]
fn e022_unknown_control_in_control() {
    let src = with_schema(&format!(
        "@control(\"pci-dss-4.0/4.2.1\", \"pci-dss-4.0/8.3.10\")\n{RULE}"
    ));
    let d = single_error(&src, "E022");
    assert_eq!(d.message(), "`8.3.10` is not a control of `pci-dss-4.0`");
    assert_eq!(d.help_text(), Some("did you mean `8.3.1`?"));
    let span = d.primary_span().unwrap_or_else(|| panic!("no label"));
    assert_eq!(text_at(&src, span), Some("\"pci-dss-4.0/8.3.10\""));
}

#[test]
fn e022_malformed_reference_and_obligations_are_checked() {
    let src = with_schema("@control(\"API1\")\nobligation mask [\"tags\"] on Account");
    let d = single_error(&src, "E022");
    assert_eq!(
        d.message(),
        "control reference `API1` is not of the form `framework/id`"
    );
}

#[test]
fn control_references_keep_their_spelling() {
    let src = with_schema(&format!("@id(\"r\") @control(\"OWASP/api1:2023\")\n{RULE}"));
    let compiled = ok(&src);
    let controls = compiled
        .bundle
        .and_then(|b| b.rules.first().map(|r| r.controls.clone()));
    assert_eq!(controls, Some(vec!["OWASP/api1:2023".to_owned()]));
}

fn with_project(toml: &str) -> rampart_lang::Compiled {
    let policy = SourceFile::in_memory("policy.rampart", &with_schema(RULE));
    let mut set = PolicySet::from_files(Default::default(), vec![policy]);
    let project = Project::parse(SourceFile::in_memory("rampart.toml", toml))
        .unwrap_or_else(|d| panic!("{}", d.render_plain()));
    set.project = Some(project);
    compile(&set)
}

#[test]
fn project_with_unknown_framework_is_e022() {
    let c = with_project("[compliance]\nframeworks = [\"pci-dss\", \"hipa\"]\n");
    let errs = errors(&c);
    assert_eq!(errs.len(), 1, "{}", rendered(&c));
    let d = errs[0];
    assert_eq!(d.code(), "E022");
    assert_eq!(d.message(), "unknown compliance framework `hipa`");
    assert_eq!(d.help_text(), Some("did you mean `hipaa`?"));
    assert_eq!(d.file().map(SourceFile::name), Some("rampart.toml"));
    assert!(c.bundle.is_none());
}

#[test]
fn project_waivers_need_a_known_control_and_a_reason() {
    let c = with_project(
        "[compliance]\nframeworks = [\"pci-dss-4.0\"]\n\n\
         [[compliance.waiver]]\ncontrol = \"pci-dss-4.0/3.5.1\"\n\n\
         [[compliance.waiver]]\ncontrol = \"pci-dss-4.0/99.1\"\nreason = \"no such control\"\n",
    );
    let codes: Vec<(&str, String)> = errors(&c)
        .iter()
        .map(|d| (d.code(), d.message().to_owned()))
        .collect();
    assert_eq!(
        codes,
        vec![
            (
                "E023",
                "the waiver of `pci-dss-4.0/3.5.1` gives no reason".to_owned()
            ),
            (
                "E022",
                "`99.1` is not a control of `pci-dss-4.0`".to_owned()
            ),
        ],
        "{}",
        rendered(&c)
    );
}

#[test]
fn a_valid_project_compiles() {
    let c = with_project(
        "[compliance]\nframeworks = [\"pci-dss\", \"owasp-api-2023\"]\n\n\
         [[compliance.waiver]]\ncontrol = \"pci-dss/3.5.1\"\nreason = \"no PAN is stored\"\n",
    );
    assert!(errors(&c).is_empty(), "{}", rendered(&c));
}

#[test]
fn rampart_toml_in_the_policy_folder_is_checked() {
    let dir = write_dir(
        "controls-project",
        &[
            ("policy.rampart", &with_schema(RULE)),
            (
                "rampart.toml",
                "[compliance]\nframeworks = [\"soc3\"]\n\n[[compliance.waiver]]\ncontrol = \"soc2/CC6.4\"\n",
            ),
        ],
    );
    let set = PolicySet::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let c = compile(&set);
    let codes: Vec<&str> = errors(&c).iter().map(|d| d.code()).collect();
    assert_eq!(codes, ["E022", "E023"], "{}", rendered(&c));

    let dir = write_dir(
        "controls-project-bad-key",
        &[
            ("policy.rampart", &with_schema(RULE)),
            ("rampart.toml", "[compliance]\nframework = [\"soc2\"]\n"),
        ],
    );
    let set = PolicySet::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let c = compile(&set);
    let codes: Vec<&str> = errors(&c).iter().map(|d| d.code()).collect();
    assert_eq!(codes, ["E023"], "{}", rendered(&c));
}

#[test]
fn references_in_the_source_compile_clean() {
    let c = compile_src(&with_schema(&format!(
        "@control(\"gdpr/Art. 25(2)\", \"iso27001/A.5.15\", \"nist-800-207/tenet-6\")\n{RULE}"
    )));
    assert!(errors(&c).is_empty(), "{}", rendered(&c));
}
