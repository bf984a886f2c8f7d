//! The `report` command end to end, through the binary: `report --quick --workload small
//! --json FILE` writes every field of the issue for every measured engine, and targets
//! computed from the run's own numbers. Runs in debug builds in well under a minute.

use std::process::Command;

use rampart_bench::report::render::ENGINE_FIELDS;
use serde_json::Value as Json;

fn run_report(workload: &str) -> (String, Json) {
    let dir = std::env::temp_dir().join(format!("rampart-bench-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let path = dir.join("report.json");
    let output = Command::new(env!("CARGO_BIN_EXE_rampart-bench"))
        .args(["report", "--quick", "--workload", workload, "--json"])
        .arg(&path)
        .output()
        .expect("the report runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&path).expect("the JSON report was written");
    let _ = std::fs::remove_dir_all(&dir);
    (
        stdout,
        serde_json::from_str(&text).expect("the report is JSON"),
    )
}

fn number(value: &Json, field: &str) -> f64 {
    match value.get(field).and_then(Json::as_f64) {
        Some(x) => x,
        None => panic!("`{field}` is not a number in {value}"),
    }
}

#[test]
fn the_quick_report_has_every_field_and_targets_from_its_own_numbers() {
    let (stdout, report) = run_report("small");
    assert_eq!(report["quick"], Json::Bool(true));
    let workload = &report["workloads"][0];
    assert_eq!(workload["name"], "small");
    let engines = workload["engines"].as_object().expect("engines by name");
    for name in ["rampart", "cedar", "regorus", "floor"] {
        let engine = &engines[name];
        for field in ENGINE_FIELDS {
            assert!(engine.get(field).is_some(), "{name} has no `{field}`");
        }
        for field in [
            "median_ns",
            "p99_ns",
            "cpu_median_ns",
            "e2e_median_ns",
            "e2e_cpu_median_ns",
            "decisions_per_s",
        ] {
            assert!(number(engine, field) > 0.0, "{name}: {field} in {engine}");
        }
        assert!(number(engine, "p99_ns") >= number(engine, "median_ns"));
        let rounds = engine["decide_rounds"]["rounds"]
            .as_array()
            .expect("rounds");
        assert_eq!(
            rounds.len() as u64,
            workload["rounds"].as_u64().unwrap_or(0)
        );
        let best = number(&engine["decide_rounds"], "best_cpu_median_ns");
        assert!(best <= number(engine, "cpu_median_ns"), "{name}");
        if name == "floor" {
            // The floor's table holds this stream's answers only: no memory figure.
            assert!(engine["rss_mib"].is_null() && engine["live_heap_bytes"].is_null());
        } else {
            assert!(number(engine, "rss_mib") > 0.0, "{name}");
            assert!(number(engine, "live_heap_bytes") > 0.0, "{name}");
        }
    }
    // Cedar and regorus allocate on every decision, Rampart's `decide_into` never.
    assert!(number(&engines["cedar"], "allocs_per_decision") > 1.0);
    assert!(number(&engines["regorus"], "allocs_per_decision") > 1.0);
    assert_eq!(number(&engines["rampart"], "allocs_per_decision"), 0.0);

    let targets = report["targets"].as_array().expect("a targets array");
    let target = |name: &str| match targets.iter().find(|t| t["name"] == name) {
        Some(t) => t.clone(),
        None => panic!("no target `{name}` in {targets:?}"),
    };
    for t in targets {
        assert!(t["wanted"].is_string() && t["met"].is_boolean(), "{t}");
        assert!(t["measured"].is_null() || t["measured"].is_number(), "{t}");
        if t["measured"].is_null() {
            assert_eq!(t["met"], false, "{t}");
        }
    }
    let allocations = target("small allocations per decision");
    assert_eq!(allocations["measured"].as_f64(), Some(0.0));
    assert_eq!(allocations["met"], true);
    // Workloads this run did not measure are not measured, not met.
    let scale = target("scale-100k / scale-1k median");
    assert!(scale["measured"].is_null() && scale["met"] == false);
    let floor = target("gateway rampart / floor");
    assert!(floor["measured"].is_null());
    // The text report prints the same table.
    assert!(stdout.contains("== targets"), "{stdout}");
    assert!(
        stdout.contains("small allocations per decision"),
        "{stdout}"
    );
}
