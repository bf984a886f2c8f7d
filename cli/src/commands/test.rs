//! `rampart test DIR…`: run the `test` blocks of policy folders through the engine.
//!
//! Each test's request goes through the same JSON path as `rampart eval`; its entities come
//! from its `entities` files and inline `entity` lines, or the folder's `entities.json`.

use std::path::Path;
use std::time::Instant;

use rampart_engine::{Decision, Engine};
use rampart_lang::TestCase;

use crate::args::{TestArgs, TestFormat};
use crate::exit::{CliError, FAILURE, OK};
use crate::output::{out, outln};
use crate::policy;

/// The outcome of one test.
struct Outcome {
    suite: String,
    name: String,
    file: String,
    line: u32,
    failure: Option<String>,
    seconds: f64,
}

pub fn run(args: TestArgs) -> Result<u8, CliError> {
    let mut outcomes = Vec::new();
    let mut broken = Vec::new();
    for dir in &args.dirs {
        let Some(loaded) = policy::load_reporting(dir)? else {
            broken.push(dir.display().to_string());
            continue;
        };
        let suite = dir.display().to_string();
        for test in &loaded.compiled.tests {
            let started = Instant::now();
            let failure = run_one(&loaded.engine, &loaded.root, test).err();
            outcomes.push(Outcome {
                suite: suite.clone(),
                name: test.name.clone(),
                file: test.file.clone(),
                line: test.line,
                failure,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
    }
    let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
    let passed = outcomes.len() - failed;
    match args.format {
        TestFormat::Human => {
            for o in &outcomes {
                match &o.failure {
                    None => outln!("PASS {}:{} {}", o.file, o.line, o.name),
                    Some(why) => outln!(
                        "FAIL {}:{} {}\n     {}",
                        o.file,
                        o.line,
                        o.name,
                        why.replace('\n', "\n     ")
                    ),
                }
            }
            outln!("{passed} passed, {failed} failed");
        }
        TestFormat::Junit => out!("{}", junit(&outcomes)),
        TestFormat::Json => outln!("{}", json_report(&outcomes, &broken)),
    }
    Ok(if failed > 0 || !broken.is_empty() {
        FAILURE
    } else {
        OK
    })
}

/// Decides the test's request; `Err` says how the decision differs from the expectation.
fn run_one(engine: &Engine, root: &Path, test: &TestCase) -> Result<(), String> {
    let mut items = Vec::new();
    for file in &test.entity_files {
        items.extend(policy::read_entity_items(file).map_err(|e| e.to_string())?);
    }
    items.extend(test.inline_entities.iter().cloned());
    let entities = if test.entity_files.is_empty() && test.inline_entities.is_empty() {
        policy::load_entities(engine, root, None).map_err(|e| e.to_string())?
    } else {
        engine
            .entities_from_values(&items)
            .map_err(|e| format!("entities: {e}"))?
    };
    // A request that does not fit the schema (or that no route matches) is decided like
    // `rampart eval` decides it: deny, with the error listed.
    let decision = match engine.request_from_value(&test.request) {
        Ok(request) => engine.decide(&request, &entities),
        Err(e) => Decision::error(e.to_string()),
    };
    check_expectation(test, &decision)
}

fn check_expectation(test: &TestCase, decision: &Decision) -> Result<(), String> {
    let effect_ok = decision.is_allow() == test.expect_allow;
    let rules_ok = match &test.expect_rules {
        None => true,
        Some(expected) => {
            let mut want = expected.clone();
            let mut got = decision.rules.clone();
            want.sort();
            got.sort();
            want == got
        }
    };
    if effect_ok && rules_ok {
        return Ok(());
    }
    let effect = |allow: bool| if allow { "allow" } else { "deny" };
    let mut why = format!("expected {}", effect(test.expect_allow));
    if let Some(rules) = &test.expect_rules {
        why.push_str(&format!(" by {rules:?}"));
    }
    why.push_str(&format!(
        ", got {} by {:?}",
        effect(decision.is_allow()),
        decision.rules
    ));
    if !decision.reasons.is_empty() {
        why.push_str(&format!("\nreasons: {}", decision.reasons.join("; ")));
    }
    for error in &decision.errors {
        let rule = error.rule.as_deref().unwrap_or("request");
        why.push_str(&format!("\nerror in {rule}: {}", error.message));
    }
    Err(why)
}

/// The JSON report of `rampart test --format json`: every test with its outcome, the
/// folders that did not compile (their diagnostics went to standard error), and counts.
fn json_report(outcomes: &[Outcome], broken: &[String]) -> serde_json::Value {
    let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
    let tests: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| {
            serde_json::json!({
                "suite": o.suite,
                "name": o.name,
                "file": o.file,
                "line": o.line,
                "outcome": if o.failure.is_some() { "failed" } else { "passed" },
                "message": o.failure,
                "seconds": o.seconds,
            })
        })
        .collect();
    serde_json::json!({
        "tests": tests,
        "not_compiled": broken,
        "summary": {
            "total": outcomes.len(),
            "passed": outcomes.len() - failed,
            "failed": failed,
        },
    })
}

/// A JUnit XML report: one `<testsuite>` per policy folder.
fn junit(outcomes: &[Outcome]) -> String {
    let mut suites: Vec<&str> = outcomes.iter().map(|o| o.suite.as_str()).collect();
    suites.dedup();
    let failures = outcomes.iter().filter(|o| o.failure.is_some()).count();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites name=\"rampart\" tests=\"{}\" failures=\"{failures}\">\n",
        outcomes.len()
    ));
    for suite in suites {
        let cases: Vec<&Outcome> = outcomes.iter().filter(|o| o.suite == suite).collect();
        let failed = cases.iter().filter(|o| o.failure.is_some()).count();
        xml.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\">\n",
            escape(suite),
            cases.len()
        ));
        for case in cases {
            xml.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\" time=\"{:.6}\"",
                escape(&case.name),
                escape(&case.file),
                escape(&case.file),
                case.line,
                case.seconds
            ));
            match &case.failure {
                None => xml.push_str("/>\n"),
                Some(why) => {
                    let first = why.lines().next().unwrap_or("");
                    xml.push_str(&format!(
                        ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                        escape(first),
                        escape(why)
                    ));
                }
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// Escapes text for XML attributes and content.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}
