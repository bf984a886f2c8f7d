//! The Prometheus rules of `deploy/prometheus/` against a real Prometheus (Debian's
//! `prometheus` package, installed by `scripts/services-setup.sh`):
//!
//! 1. `promtool check rules`, `promtool check config` and `promtool test rules` (the unit
//!    tests of every alert on synthetic series) pass;
//! 2. a real Prometheus on loopback scrapes a running `rampart serve examples/payments`
//!    every second with the rules loaded: it reports the sidecar's decisions with the
//!    values the test caused, `up == 1`, every rule loaded and evaluated without error;
//!    and every metric the rules name is one the sidecar exports, or one of the short
//!    list of metrics other parts of issue 12 are adding.
//!
//! Run with `cargo test -p rampart-cli --test fleet_prometheus -- --ignored`.

mod deploy_support;
mod e2e_support;
mod fleet_support;
mod serve_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use deploy_support::{deploy_dir, metric_names, rules, rules_path};
use fleet_support::prometheus::{promtool, Prometheus};
use serde_json::Value;
use serve_support::{payments, Scratch, Sidecar};

/// Metrics a sidecar exports only while it serves a remote bundle (`serve oci://…` or
/// `https://…`, tested in fleet_bundles.rs); a local folder is never fetched.
const REMOTE_BUNDLE_ONLY: &[&str] = &[
    "rampart_bundle_fetch_total",
    "rampart_bundle_last_success_timestamp_seconds",
    "rampart_bundle_last_fetch_timestamp_seconds",
];

/// How long Prometheus may take to scrape, evaluate and report.
const REPORT_TIMEOUT: Duration = Duration::from_secs(60);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
#[ignore = "needs promtool: sh scripts/services-setup.sh"]
fn promtool_checks_and_unit_tests_pass() {
    let dir = deploy_dir().join("prometheus");
    // Debian builds Prometheus without Kubernetes service discovery: the scrape config is
    // checked with its discovery replaced by a static target (deploy_manifests.rs checks
    // the discovery against the Deployment); everything else is checked as written.
    let config = std::fs::read_to_string(dir.join("prometheus.yml")).expect("read");
    let discovery = "    kubernetes_sd_configs:\n      - role: pod\n";
    assert!(config.contains(discovery), "prometheus.yml discovers pods");
    let static_config = config.replace(
        discovery,
        "    static_configs:\n      - targets: [\"127.0.0.1:8181\"]\n",
    );
    let scratch = Scratch::new("prometheus-config");
    std::fs::write(scratch.0.join("prometheus.yml"), static_config).expect("write");
    std::fs::copy(
        dir.join("rampart.rules.yml"),
        scratch.0.join("rampart.rules.yml"),
    )
    .expect("copy the rules");
    let config_check = promtool(&scratch.0, &["check", "config", "prometheus.yml"]);
    assert!(
        config_check.status.success(),
        "promtool check config prometheus.yml (static discovery) failed:\n{}{}",
        text(&config_check.stdout),
        text(&config_check.stderr)
    );
    for args in [
        &["check", "rules", "rampart.rules.yml"][..],
        &["test", "rules", "rampart.rules.test.yml"][..],
    ] {
        let output = promtool(&dir, args);
        assert!(
            output.status.success(),
            "promtool {} failed:\n{}{}",
            args.join(" "),
            text(&output.stdout),
            text(&output.stderr)
        );
    }
    // Every alert has a unit test that expects it to fire.
    let tests = std::fs::read_to_string(dir.join("rampart.rules.test.yml")).expect("read");
    for rule in rules().iter().filter(|r| r.alert) {
        assert!(
            tests.contains(&format!("alertname: {}\n", rule.name)),
            "alert {} has no promtool unit test",
            rule.name
        );
    }
}

/// The metric names of the Prometheus text exposition: every `# TYPE` line, and a
/// histogram's `_bucket`, `_sum` and `_count` series.
fn exported_names(exposition: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            names.insert(name.to_owned());
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        }
    }
    names
}

/// Polls `check` until it returns `Ok`, or fails with its last complaint and
/// Prometheus' log.
fn eventually(prometheus: &Prometheus, what: &str, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + REPORT_TIMEOUT;
    loop {
        match check() {
            Ok(()) => return,
            Err(complaint) if Instant::now() > deadline => panic!(
                "timed out waiting for {what}: {complaint}\nprometheus log:\n{}",
                prometheus.log_text()
            ),
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

#[test]
#[ignore = "needs prometheus: sh scripts/services-setup.sh"]
fn prometheus_scrapes_a_sidecar_and_evaluates_the_rules() {
    // Every feature whose metrics a rule reads is switched on, so that the sidecar exports
    // them all: a rate-limit store (one that is down: the fallback is counted), a decision
    // log shipped to an HTTP sink that refuses connections, and API keys.
    let scratch = Scratch::new("prometheus-features");
    let keys = scratch.0.join("api-keys.json");
    std::fs::write(&keys, r#"{"keys":[]}"#).expect("write the API keys");
    let store = format!("redis+unix://{}", scratch.0.join("no-redis.sock").display());
    let log = scratch.0.join("decisions.jsonl");
    let sidecar = Sidecar::start(
        &payments(),
        &[
            "--rate-limit-store",
            &store,
            "--decision-log",
            &log.to_string_lossy(),
            "--decision-log-sink",
            "http://127.0.0.1:9/rampart-logs",
            "--api-keys",
            &keys.to_string_lossy(),
        ],
    );
    let allowed = std::fs::read(payments().join("requests/pay-http.json")).expect("read");
    let denied = std::fs::read(payments().join("requests/no-route.json")).expect("read");
    for (body, effect, times) in [(&allowed, "allow", 3), (&denied, "deny", 5)] {
        for _ in 0..times {
            let reply = sidecar.http("POST", "/v1/decide", &[], body);
            assert_eq!(reply.status, 200, "{}", reply.text());
            assert_eq!(reply.json()["decision"], effect, "{}", reply.text());
        }
    }

    // Every metric the rules name is exported by the sidecar.
    let exposition = sidecar.http("GET", "/metrics", &[], b"").text();
    let exported = exported_names(&exposition);
    let all_rules = rules();
    let recorded: BTreeSet<String> = all_rules
        .iter()
        .filter(|r| !r.alert)
        .map(|r| r.name.clone())
        .collect();
    for rule in &all_rules {
        for name in metric_names(&rule.expr) {
            let known = exported.contains(&name)
                || recorded.contains(&name)
                || name == "up"
                || REMOTE_BUNDLE_ONLY.contains(&name.as_str());
            assert!(
                known,
                "rule {} uses `{name}`, which the sidecar does not export",
                rule.name
            );
        }
    }
    let prometheus = Prometheus::start("rampart", &[sidecar.http], &[rules_path()]);
    let instance = sidecar.http.to_string();

    eventually(&prometheus, "up == 1", || {
        let up = prometheus.query("up{job=\"rampart\"}");
        match up.as_slice() {
            [(labels, value)] if labels["instance"] == instance.as_str() && *value == 1.0 => Ok(()),
            other => Err(format!("up is {other:?}")),
        }
    });
    eventually(&prometheus, "the sidecar's decisions", || {
        let series = prometheus.query("rampart_decisions_total{door=\"decide\"}");
        let value = |effect: &str| {
            series
                .iter()
                .find(|(labels, _)| labels["effect"] == effect)
                .map(|(labels, value)| (labels["instance"].clone(), *value))
        };
        let want = |n: f64| Some((Value::from(instance.as_str()), n));
        if value("allow") == want(3.0) && value("deny") == want(5.0) {
            Ok(())
        } else {
            Err(format!(
                "rampart_decisions_total{{door=\"decide\"}} is {series:?}"
            ))
        }
    });
    // The doors that decided nothing are scraped too, at 0.
    let doors = prometheus.query("rampart_decisions_total{door=\"ext_authz\"}");
    assert_eq!(doors.len(), 2, "{doors:?}");
    assert!(doors.iter().all(|(_, v)| *v == 0.0), "{doors:?}");

    // Every rule is loaded and has been evaluated without error; the recording rules
    // computed from the scraped series exist.
    let expected: BTreeSet<(String, String)> = all_rules
        .iter()
        .map(|r| (r.group.clone(), r.name.clone()))
        .collect();
    eventually(&prometheus, "every rule evaluated", || {
        let data = prometheus.api("/api/v1/rules");
        let mut loaded = BTreeSet::new();
        for group in data["groups"].as_array().into_iter().flatten() {
            let group_name = group["name"].as_str().unwrap_or_default();
            for rule in group["rules"].as_array().into_iter().flatten() {
                let name = rule["name"].as_str().unwrap_or_default();
                if rule["health"] != "ok" {
                    return Err(format!(
                        "rule {name} has health {} ({})",
                        rule["health"], rule["lastError"]
                    ));
                }
                loaded.insert((group_name.to_owned(), name.to_owned()));
            }
        }
        if loaded == expected {
            Ok(())
        } else {
            Err(format!("loaded {loaded:?}, want {expected:?}"))
        }
    });
    eventually(&prometheus, "the recorded decision rates", || {
        let rates = prometheus.query("rampart:decisions:rate5m{door=\"decide\"}");
        if rates.len() == 2 {
            Ok(())
        } else {
            Err(format!("rampart:decisions:rate5m is {rates:?}"))
        }
    });
    // The store this sidecar was given is down, and that is the alert it raises (pending
    // until its `for` has passed); its log sink refuses connections, which may raise the
    // shipping alert. Nothing else: a local bundle is never stale.
    let alerts = prometheus.api("/api/v1/alerts");
    let raised: BTreeSet<&str> = alerts["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["labels"]["alertname"].as_str())
        .collect();
    assert!(
        raised.contains("RampartRateLimitStoreDown"),
        "alerts raised: {raised:?}"
    );
    for name in &raised {
        assert!(
            ["RampartRateLimitStoreDown", "RampartDecisionLogShipFailing"].contains(name),
            "unexpected alert {name}: {alerts}"
        );
    }
}
