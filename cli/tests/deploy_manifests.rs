//! What `deploy/` ships, checked without a cluster: every YAML document parses and every
//! Kubernetes object has `apiVersion`, `kind` and `metadata.name`; the Deployment's probes
//! ask for paths the sidecar serves on the port its `--config` file listens on; the
//! Services, the PodDisruptionBudget, the NetworkPolicy, the ServiceMonitor and Istio's
//! AuthorizationPolicy select the Deployment's pods and name ports it has; the Istio
//! extension provider is the one the AuthorizationPolicy names, and reaches the sidecar's
//! gRPC listener; the ConfigMaps, written out as the kubelet mounts them, hold a policy
//! whose tests pass and a `serve.toml` with which `rampart serve` starts, answers its
//! probes and decides the walkthrough's requests of docs/deploy.md; every alert's runbook
//! is a section of docs/deploy.md; the Grafana dashboard uses only metrics the rules' unit
//! tests know.
//!
//! The manifests are read with `serde_norway` (the maintained fork of serde_yaml, its API
//! and licence unchanged; multi-document files through its `Deserializer`).

mod deploy_support;
mod serve_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use deploy_support::{
    deploy_dir, files_under, markdown_anchors, metric_names, metrics_known_to_rules_test, rules,
    yaml_documents,
};
use serde_norway::Value;
use serve_support::{repo, Scratch, Sidecar};

/// Files under deploy/ that are not Kubernetes objects, each read by its own tool.
const NOT_KUBERNETES: &[&str] = &[
    "prometheus/prometheus.yml",
    "prometheus/rampart.rules.yml",
    "prometheus/rampart.rules.test.yml",
];

const RUNBOOK_PREFIX: &str = "https://github.com/rampart-policy/rampart/blob/main/docs/deploy.md#";

/// Every Kubernetes object under deploy/, with the file it is in.
fn objects() -> Vec<(PathBuf, Value)> {
    let root = deploy_dir();
    let mut out = Vec::new();
    for path in files_under(&root, &[".yaml", ".yml"]) {
        let relative = path
            .strip_prefix(&root)
            .expect("under deploy/")
            .to_string_lossy()
            .replace('\\', "/");
        if NOT_KUBERNETES.contains(&relative.as_str()) {
            continue;
        }
        for document in yaml_documents(&path) {
            out.push((path.clone(), document));
        }
    }
    out
}

fn str_of<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value:?}"))
}

/// The one object of `kind` named `name`.
fn object(kind: &str, name: &str) -> Value {
    let found: Vec<Value> = objects()
        .into_iter()
        .map(|(_, o)| o)
        .filter(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .collect();
    assert_eq!(found.len(), 1, "one {kind} named {name}");
    found.into_iter().next().expect("one")
}

fn objects_of(kind: &str) -> Vec<Value> {
    objects()
        .into_iter()
        .map(|(_, o)| o)
        .filter(|o| o["kind"] == kind)
        .collect()
}

fn deployment() -> Value {
    object("Deployment", "orders")
}

fn container<'a>(deployment: &'a Value, name: &str) -> &'a Value {
    deployment["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .expect("containers")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container `{name}`"))
}

/// The port a probe or a Service names (a number or a container port's name), as a number.
fn resolve_port(deployment: &Value, port: &Value) -> u64 {
    if let Some(number) = port.as_u64() {
        return number;
    }
    let name = str_of(port, "a port");
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .expect("containers");
    let numbers: Vec<u64> = containers
        .iter()
        .flat_map(|c| c["ports"].as_sequence().cloned().unwrap_or_default())
        .filter(|p| p["name"] == name)
        .map(|p| p["containerPort"].as_u64().expect("a containerPort"))
        .collect();
    assert_eq!(numbers.len(), 1, "one container port named `{name}`");
    numbers[0]
}

/// The `labels` selector matches the Deployment's pods.
fn selects_pods(selector: &Value, deployment: &Value) -> bool {
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    let Some(wanted) = selector.as_mapping() else {
        return false;
    };
    !wanted.is_empty() && wanted.iter().all(|(key, value)| labels[key] == *value)
}

/// `rampart serve`'s config file (the ConfigMap's `serve.toml`), parsed.
fn serve_toml() -> toml::Table {
    let config = object("ConfigMap", "rampart-config");
    let text = str_of(&config["data"]["serve.toml"], "serve.toml");
    text.parse().expect("serve.toml is TOML")
}

/// The port of a listener address of serve.toml (`grpc`, `http`).
fn listener_port(config: &toml::Table, key: &str) -> u64 {
    let addr = config[key].as_str().expect("an address");
    addr.rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("`{key} = {addr}` has no port"))
}

/// The GET routes of the sidecar's HTTP router (sidecar/src/http.rs).
fn sidecar_get_routes() -> BTreeSet<String> {
    let source = std::fs::read_to_string(repo().join("sidecar/src/http.rs")).expect("read");
    source
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix(".route(\"")?;
            let (path, handler) = rest.split_once('"')?;
            let handler = handler.trim_start_matches(',').trim();
            (handler.starts_with("get(") || handler.starts_with("any(")).then(|| path.to_owned())
        })
        .collect()
}

#[test]
fn every_document_parses_and_every_object_is_named() {
    let all = objects();
    assert!(all.len() >= 12, "the manifests: {}", all.len());
    for (path, object) in &all {
        for field in ["apiVersion", "kind"] {
            assert!(
                object[field].as_str().is_some_and(|s| !s.is_empty()),
                "`{}`: an object without `{field}`: {object:?}",
                path.display()
            );
        }
        assert!(
            object["metadata"]["name"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "`{}`: a {} without metadata.name",
            path.display(),
            str_of(&object["kind"], "kind")
        );
    }
    // No two objects of one kind share a name in a namespace.
    let mut seen = BTreeSet::new();
    for (_, object) in &all {
        let key = (
            object["kind"].as_str().map(str::to_owned),
            object["metadata"]["namespace"].as_str().map(str::to_owned),
            object["metadata"]["name"].as_str().map(str::to_owned),
        );
        assert!(seen.insert(key.clone()), "{key:?} twice");
    }
    let kinds: BTreeSet<&str> = all.iter().filter_map(|(_, o)| o["kind"].as_str()).collect();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "Deployment",
        "Service",
        "ConfigMap",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "IstioOperator",
        "AuthorizationPolicy",
        "ServiceMonitor",
    ] {
        assert!(kinds.contains(kind), "no {kind} under deploy/");
    }
    // The files that are not objects parse too.
    for file in NOT_KUBERNETES {
        assert!(
            !yaml_documents(&deploy_dir().join(file)).is_empty(),
            "{file}"
        );
    }
}

#[test]
fn the_sidecar_container_is_locked_down_and_probed_on_paths_it_serves() {
    let deployment = deployment();
    let pod = &deployment["spec"]["template"]["spec"];
    let rampart = container(&deployment, "rampart");
    let config = serve_toml();
    let http_port = listener_port(&config, "http");
    let routes = sidecar_get_routes();
    assert!(
        routes.contains("/healthz") && routes.contains("/metrics"),
        "{routes:?}"
    );

    for (probe, path) in [
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ] {
        let get = &rampart[probe]["httpGet"];
        let probe_path = str_of(&get["path"], probe);
        assert_eq!(probe_path, path, "{probe}");
        assert!(
            routes.contains(probe_path),
            "the sidecar serves no GET {probe_path}"
        );
        assert_eq!(
            resolve_port(&deployment, &get["port"]),
            http_port,
            "{probe} asks the port serve.toml's `http` listens on"
        );
    }

    // Non-root, read-only root file system, no privilege escalation, no capabilities.
    for c in pod["containers"].as_sequence().expect("containers") {
        let name = str_of(&c["name"], "a container name");
        let security = &c["securityContext"];
        assert_eq!(security["readOnlyRootFilesystem"], true, "{name}");
        assert_eq!(security["allowPrivilegeEscalation"], false, "{name}");
        assert_eq!(security["capabilities"]["drop"][0], "ALL", "{name}");
        assert!(
            security["runAsNonRoot"] == true || pod["securityContext"]["runAsNonRoot"] == true,
            "{name} runs as root"
        );
        assert!(
            c["resources"]["requests"]["cpu"].as_str().is_some()
                && c["resources"]["requests"]["memory"].as_str().is_some()
                && c["resources"]["limits"]["memory"].as_str().is_some(),
            "{name}: requests and a memory limit"
        );
    }
    assert_ne!(pod["securityContext"]["runAsUser"], 0);

    // Every mount names a volume, every ConfigMap volume a ConfigMap of the manifests, and
    // the config file's paths lie in those mounts (the root file system is read-only).
    let volumes = pod["volumes"].as_sequence().expect("volumes");
    let mounts = rampart["volumeMounts"].as_sequence().expect("mounts");
    for mount in mounts {
        let volume = volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap_or_else(|| panic!("no volume for {mount:?}"));
        if let Some(name) = volume["configMap"]["name"].as_str() {
            object("ConfigMap", name);
            assert_eq!(mount["readOnly"], true, "{mount:?}");
        }
    }
    let mount_paths: Vec<&str> = mounts
        .iter()
        .map(|m| str_of(&m["mountPath"], "a mountPath"))
        .collect();
    let args = rampart["args"].as_sequence().expect("args");
    let config_file = str_of(&args[2], "the config file");
    for path in [config_file]
        .into_iter()
        .chain(["policy", "decision_log"].map(|k| config[k].as_str().expect(k)))
    {
        assert!(
            mount_paths
                .iter()
                .any(|m| path.starts_with(&format!("{m}/")) || path == *m),
            "`{path}` is in no mounted volume"
        );
    }
    let log_mount = mounts
        .iter()
        .find(|m| {
            config["decision_log"]
                .as_str()
                .is_some_and(|p| p.starts_with(str_of(&m["mountPath"], "mountPath")))
        })
        .expect("the log's mount");
    assert_ne!(
        log_mount["readOnly"], true,
        "the decision log's volume is writable"
    );
}

#[test]
fn services_and_selectors_match_the_pods_and_their_ports() {
    let deployment = deployment();
    let config = serve_toml();
    let grpc_port = listener_port(&config, "grpc");
    let http_port = listener_port(&config, "http");
    let selector = &deployment["spec"]["selector"]["matchLabels"];
    assert!(
        selects_pods(selector, &deployment),
        "the Deployment selects its pods"
    );

    let mut targets = BTreeMap::new();
    for service in objects_of("Service") {
        assert!(
            selects_pods(&service["spec"]["selector"], &deployment),
            "Service {:?} selects the pods",
            service["metadata"]["name"]
        );
        for port in service["spec"]["ports"].as_sequence().expect("ports") {
            let target = resolve_port(&deployment, &port["targetPort"]);
            let name = format!(
                "{}/{}",
                str_of(&service["metadata"]["name"], "a name"),
                str_of(&port["name"], "a port name")
            );
            targets.insert(name, (port["port"].as_u64().expect("a port"), target));
        }
    }
    assert_eq!(targets["rampart/grpc-ext-authz"], (9191, grpc_port));
    assert_eq!(targets["rampart/http-metrics"], (8181, http_port));
    assert_eq!(targets["orders/http"].1, 8080);

    let pdb = object("PodDisruptionBudget", "orders");
    assert!(selects_pods(
        &pdb["spec"]["selector"]["matchLabels"],
        &deployment
    ));
    let replicas = deployment["spec"]["replicas"].as_u64().expect("replicas");
    let min_available = pdb["spec"]["minAvailable"].as_u64().expect("minAvailable");
    assert!(
        (1..replicas).contains(&min_available),
        "a drain can proceed and leaves pods serving"
    );

    let network = object("NetworkPolicy", "orders");
    assert!(selects_pods(
        &network["spec"]["podSelector"]["matchLabels"],
        &deployment
    ));
    let allowed: BTreeSet<u64> = network["spec"]["ingress"]
        .as_sequence()
        .expect("ingress")
        .iter()
        .flat_map(|rule| rule["ports"].as_sequence().cloned().unwrap_or_default())
        .map(|p| p["port"].as_u64().expect("a port number"))
        .collect();
    assert_eq!(allowed, BTreeSet::from([8080, grpc_port, http_port]));

    let monitor = object("ServiceMonitor", "rampart");
    let service = object("Service", "rampart");
    assert!(monitor["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .expect("a selector")
        .iter()
        .all(|(k, v)| service["metadata"]["labels"][k] == *v));
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(
        targets[&format!("rampart/{}", str_of(&endpoint["port"], "port"))].1,
        http_port
    );
    assert_eq!(endpoint["path"], "/metrics");

    // The plain Prometheus scrape config keeps the sidecar's HTTP port by its name.
    let scrape = &deploy_support::yaml_file(&deploy_dir().join("prometheus/prometheus.yml"));
    let job = &scrape["scrape_configs"][0];
    assert_eq!(job["job_name"], "rampart", "the job the alert rules expect");
    assert_eq!(job["kubernetes_sd_configs"][0]["role"], "pod");
    let keep = &job["relabel_configs"][0];
    assert_eq!(
        keep["source_labels"][0],
        "__meta_kubernetes_pod_container_port_name"
    );
    assert_eq!(keep["action"], "keep");
    let kept = str_of(&keep["regex"], "regex");
    assert_eq!(resolve_port(&deployment, &Value::from(kept)), http_port);
}

#[test]
fn istio_routes_the_checks_of_the_application_port_to_rampart() {
    let deployment = deployment();
    let operator = object("IstioOperator", "rampart-ext-authz");
    let providers = operator["spec"]["meshConfig"]["extensionProviders"]
        .as_sequence()
        .expect("extensionProviders");
    let policy = object("AuthorizationPolicy", "orders-ext-authz");
    assert_eq!(policy["spec"]["action"], "CUSTOM");
    let provider_name = str_of(&policy["spec"]["provider"]["name"], "provider.name");
    let provider = providers
        .iter()
        .find(|p| p["name"] == provider_name)
        .unwrap_or_else(|| panic!("no extension provider named `{provider_name}`"));
    let grpc = &provider["envoyExtAuthzGrpc"];
    assert_eq!(grpc["failOpen"], false, "fail closed");

    // The provider's service is the `rampart` Service, whose port reaches the sidecar's
    // gRPC listener.
    let service = object("Service", "rampart");
    let host = format!(
        "{}.{}.svc.cluster.local",
        str_of(&service["metadata"]["name"], "name"),
        str_of(&service["metadata"]["namespace"], "namespace")
    );
    assert_eq!(grpc["service"], host.as_str());
    let port = service["spec"]["ports"]
        .as_sequence()
        .expect("ports")
        .iter()
        .find(|p| p["port"] == grpc["port"])
        .expect("the provider's port is a port of the Service");
    assert_eq!(port["appProtocol"], "grpc");
    assert_eq!(
        resolve_port(&deployment, &port["targetPort"]),
        listener_port(&serve_toml(), "grpc")
    );

    // The policy covers the application's pods, on the application's port only: the
    // checks (9191) and scrapes (8181) reaching the same pods are not checked again.
    assert_eq!(
        policy["metadata"]["namespace"],
        deployment["metadata"]["namespace"]
    );
    assert!(selects_pods(
        &policy["spec"]["selector"]["matchLabels"],
        &deployment
    ));
    let ports: Vec<&Value> = policy["spec"]["rules"]
        .as_sequence()
        .expect("rules")
        .iter()
        .flat_map(|rule| rule["to"].as_sequence().into_iter().flatten())
        .flat_map(|to| to["operation"]["ports"].as_sequence().into_iter().flatten())
        .collect();
    let app_port = resolve_port(&deployment, &Value::from("http")).to_string();
    assert_eq!(ports, vec![&Value::from(app_port)]);
}

/// Writes a ConfigMap's data as the kubelet mounts it: the files in a hidden, timestamped
/// folder, `..data` linking to it, and each name a link through `..data`.
fn mount_config_map(name: &str, dir: &Path) {
    let config_map = object("ConfigMap", name);
    let stamped = dir.join("..2026_01_01_00_00_00.000000001");
    std::fs::create_dir_all(&stamped).expect("create the mount");
    for (key, value) in config_map["data"].as_mapping().expect("data") {
        let key = str_of(key, "a key");
        std::fs::write(stamped.join(key), str_of(value, key)).expect("write");
        std::os::unix::fs::symlink(format!("..data/{key}"), dir.join(key)).expect("link");
    }
    std::os::unix::fs::symlink("..2026_01_01_00_00_00.000000001", dir.join("..data"))
        .expect("link ..data");
}

#[test]
fn the_config_maps_serve_the_walkthrough_of_docs_deploy() {
    let deployment = deployment();
    let rampart = container(&deployment, "rampart");
    let root = Scratch::new("deploy-pod");
    let under_root = |path: &str| root.0.join(path.trim_start_matches('/'));

    // The pod's volumes, under a scratch root.
    let volumes = deployment["spec"]["template"]["spec"]["volumes"]
        .as_sequence()
        .expect("volumes");
    for mount in rampart["volumeMounts"].as_sequence().expect("mounts") {
        let dir = under_root(str_of(&mount["mountPath"], "mountPath"));
        std::fs::create_dir_all(&dir).expect("create a mount");
        let volume = volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .expect("a volume");
        if let Some(name) = volume["configMap"]["name"].as_str() {
            mount_config_map(name, &dir);
        }
    }

    // The container's args, with absolute paths moved under the root; and so the config
    // file's paths.
    let args: Vec<String> = rampart["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .map(|a| str_of(a, "an arg").to_owned())
        .collect();
    assert_eq!(args[0], "serve");
    let mut config = serve_toml();
    let mut text = String::new();
    for (key, value) in config.iter_mut() {
        if let Some(path) = value.as_str().filter(|p| p.starts_with('/')) {
            *value = toml::Value::String(under_root(path).display().to_string());
        }
        // Strings and numbers only (JSON's string escapes are TOML's).
        let written = match value {
            toml::Value::String(s) => serde_json::Value::from(s.as_str()).to_string(),
            toml::Value::Integer(n) => n.to_string(),
            other => panic!("serve.toml: `{key}` is {other:?}"),
        };
        text.push_str(&format!("{key} = {written}\n"));
    }
    let config_path = under_root(args.get(2).expect("--config FILE"));
    std::fs::write(&config_path, text).expect("write");
    let policy = PathBuf::from(config["policy"].as_str().expect("policy"));

    // The policy's own tests pass.
    let tested = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .arg("test")
        .arg(&policy)
        .output()
        .expect("run rampart test");
    assert!(
        tested.status.success(),
        "rampart test on the ConfigMap's policy:\n{}{}",
        String::from_utf8_lossy(&tested.stdout),
        String::from_utf8_lossy(&tested.stderr)
    );

    // rampart serve starts with the container's args (the listeners moved to loopback
    // ephemeral ports: flags on the command line win over the file).
    let mut extra: Vec<String> = args[1..].to_vec();
    extra[1] = config_path.display().to_string();
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let sidecar = Sidecar::start(&policy, &extra);
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let path = str_of(&rampart[probe]["httpGet"]["path"], probe);
        let reply = sidecar.http("GET", path, &[], b"");
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.text());
    }
    assert!(sidecar
        .http("GET", "/metrics", &[], b"")
        .text()
        .contains("rampart_bundle_info"));

    // The requests of docs/deploy.md, as Istio's ext_authz request maps them (the
    // caller's SPIFFE id as the mTLS peer).
    let spiffe = |sa: &str| format!("spiffe://cluster.local/ns/shop/sa/{sa}");
    for (method, path, caller, effect) in [
        ("GET", "/orders/42", Some("frontend"), "allow"),
        ("GET", "/orders/42", Some("default"), "deny"),
        ("GET", "/orders/42", None, "deny"),
        ("POST", "/orders", Some("frontend"), "deny"),
        ("POST", "/orders", Some("checkout"), "allow"),
        ("DELETE", "/orders/42", Some("checkout"), "deny"),
    ] {
        let tls = match caller {
            Some(sa) => serde_json::json!({"mtls": true, "peer": spiffe(sa)}),
            None => serde_json::json!({"mtls": false}),
        };
        let request = serde_json::json!({
            "http": {"method": method, "path": path, "host": "orders.shop:8080", "headers": {}},
            "context": {"tls": tls}
        });
        let reply = sidecar.http("POST", "/v1/decide", &[], request.to_string().as_bytes());
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(
            reply.json()["decision"],
            effect,
            "{method} {path} by {caller:?}: {}",
            reply.text()
        );
    }
    // The decision log is written to its volume.
    let log = PathBuf::from(config["decision_log"].as_str().expect("decision_log"));
    let mut sidecar = sidecar;
    assert!(sidecar.terminate().success(), "a clean stop");
    let written = std::fs::read_to_string(&log).unwrap_or_default();
    let decisions = written
        .lines()
        .filter(|line| line.contains("\"decision\":"))
        .count();
    assert_eq!(decisions, 6, "the log has the decisions: {written}");
}

#[test]
fn every_alert_is_labelled_annotated_and_has_a_runbook_section() {
    let anchors = markdown_anchors(&repo().join("docs/deploy.md"));
    let mut seen = BTreeSet::new();
    let all = rules();
    assert!(all.iter().filter(|r| r.alert).count() >= 15);
    for rule in all.iter().filter(|r| r.alert) {
        let name = &rule.name;
        let severity = rule.labels["severity"].as_str();
        assert!(
            matches!(severity, Some("warning" | "critical")),
            "{name}: severity {severity:?}"
        );
        for key in ["summary", "description", "runbook_url"] {
            assert!(
                rule.annotations[key].as_str().is_some_and(|s| s.len() > 10),
                "{name}: no {key}"
            );
        }
        let url = str_of(&rule.annotations["runbook_url"], "runbook_url");
        let anchor = url
            .strip_prefix(RUNBOOK_PREFIX)
            .unwrap_or_else(|| panic!("{name}: the runbook is not in docs/deploy.md: {url}"));
        assert_eq!(anchor, name.to_lowercase(), "{name}: its own section");
        assert!(
            anchors.contains(anchor),
            "docs/deploy.md has no section #{anchor}"
        );
        assert!(seen.insert(anchor.to_owned()), "{name}: a runbook shared");
    }
}

#[test]
fn the_dashboard_uses_only_metrics_the_rules_tests_know() {
    let path = deploy_dir().join("grafana/rampart.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
    let known = metrics_known_to_rules_test();
    let mut exprs = Vec::new();
    let mut ids = BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        assert!(
            ids.insert(panel["id"].as_u64().expect("an id")),
            "panel ids are unique"
        );
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{}", panel["title"]);
        for target in targets {
            exprs.push(target["expr"].as_str().expect("an expr").to_owned());
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .expect("templating")
    {
        if variable["type"] == "query" {
            exprs.push(variable["query"].as_str().expect("a query").to_owned());
        }
    }
    let mut used = BTreeSet::new();
    for expr in &exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "`{expr}` names no metric");
        for name in names {
            assert!(
                known.contains(&name),
                "the dashboard's `{expr}` uses `{name}`, which no rules test feeds"
            );
            used.insert(name);
        }
    }
    for wanted in [
        "rampart_decisions_total",
        "rampart_decision_duration_seconds_bucket",
        "rampart_jwt_invalid_total",
        "rampart_rate_limited_total",
        "rampart_bundle_info",
        "rampart_decision_log_queued",
    ] {
        assert!(used.contains(wanted), "the dashboard shows no {wanted}");
    }
}

#[test]
fn metric_names_are_read_from_promql() {
    let names = metric_names(
        "sum by (job) (rate(rampart_decisions_total{effect=\"deny\",x=\"rampart_no\"}[5m])) \
         / on (job) rampart:deny:rate5m > 0 unless up{job=\"rampart\"} == 0",
    );
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(
        names,
        ["rampart:deny:rate5m", "rampart_decisions_total", "up"]
    );
}
