//! Signed bundles across a fleet, against a real OCI registry (Debian's `docker-registry`)
//! and a plain HTTPS server in the harness: three sidecars follow a pushed revision within
//! the poll interval and a second, refuse a tampered or foreign-signed one and keep
//! serving, start from the cache with the registry down, refuse to start with neither,
//! keep the last good bundle when one does not load, and bound what an HTTPS server sends.

mod e2e_support;
mod fleet_support;
mod serve_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use e2e_support::{run_bounded, wait_until};
use fleet_support::bundle_server::{Answer, BundleServer};
use fleet_support::registry::Registry;
use serde_json::Value;
use serve_support::{http_request, Scratch, Sidecar};

const SCHEMA: &str = r#"package fleet

schema {
  entity User
  entity Doc
  action "read" on Doc for User
}
"#;

const REQUEST: &str = r#"{"principal":{"type":"User","id":"alice"},"action":"read","resource":{"type":"Doc","id":"d1"}}"#;

fn rampart(args: &[&str]) -> Output {
    run_bounded(
        "rampart",
        Command::new(env!("CARGO_BIN_EXE_rampart")).args(args),
    )
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "rampart failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `rampart bundle keygen --out DIR/NAME`: the private and public key paths.
fn keygen(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let prefix = dir.join(name);
    ok(rampart(&[
        "bundle",
        "keygen",
        "--out",
        prefix.to_str().unwrap(),
    ]));
    (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.pub")),
    )
}

/// A policy folder whose one rule `effect`s the request with id `id`, built (and signed
/// with `key`) into DIR/NAME.json; returns the bundle path and its revision.
fn build(dir: &Path, name: &str, effect: &str, key: Option<&Path>) -> (PathBuf, String) {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("policy.rampart"),
        format!("{SCHEMA}\n@id(\"{name}\")\n{effect} \"read\" on Doc for User reason \"{name}\"\n"),
    )
    .unwrap();
    let out = dir.join(format!("{name}.json"));
    let mut args = vec![
        "build".to_owned(),
        folder.display().to_string(),
        "-o".to_owned(),
        out.display().to_string(),
    ];
    if let Some(key) = key {
        args.extend(["--sign".to_owned(), key.display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(rampart(&args));
    let bundle: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    (out, bundle["revision"].as_str().unwrap().to_owned())
}

fn push(file: &Path, url: &str) -> String {
    ok(rampart(&["push", file.to_str().unwrap(), url]))
        .trim()
        .to_owned()
}

fn status(sidecar: &Sidecar) -> Value {
    let reply = sidecar.http("GET", "/v1/status", &[], b"");
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

fn serving(sidecar: &Sidecar) -> String {
    status(sidecar)["bundle"]["revision"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The value of the sample `name` (with its labels, as written) in `/metrics`.
fn metric(sidecar: &Sidecar, name: &str) -> f64 {
    let text = sidecar.http("GET", "/metrics", &[], b"").text();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no `{name}` in /metrics:\n{text}"))
}

/// The rule that decided the request.
fn decided_by(sidecar: &Sidecar) -> String {
    let reply = sidecar.http("POST", "/v1/decide", &[], REQUEST.as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()["rules"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn start(url: &str, public: &Path, cache: &Path, extra: &[&str]) -> Sidecar {
    let mut args = vec![
        "--verify-key",
        public.to_str().unwrap(),
        "--poll-interval",
        "1s",
        "--bundle-cache",
        cache.to_str().unwrap(),
        "--no-watch",
    ];
    args.extend_from_slice(extra);
    Sidecar::start(Path::new(url), &args)
}

/// Copies `bundle` and its .sig to DIR/NAME.json(.sig), changing one byte of the bundle
/// after it was signed.
fn tampered(bundle: &Path, dir: &Path, name: &str) -> PathBuf {
    let mut bytes = std::fs::read(bundle).unwrap();
    let at = bytes.len() / 2;
    bytes[at] = if bytes[at] == b' ' { b'\t' } else { b' ' };
    let out = dir.join(format!("{name}.json"));
    std::fs::write(&out, bytes).unwrap();
    std::fs::copy(sig(bundle), sig(&out)).unwrap();
    out
}

fn sig(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.sig", path.display()))
}

#[test]
#[ignore = "needs docker-registry: sh scripts/services-setup.sh"]
fn three_sidecars_follow_a_push_refuse_tampering_and_restart_from_the_cache() {
    let dir = Scratch::new("fleet-bundles");
    let mut registry = Registry::start(&dir.0);
    let (key, public) = keygen(&dir.0, "release");
    let (a, rev_a) = build(&dir.0, "a-allows", "allow", Some(&key));
    let (b, rev_b) = build(&dir.0, "b-denies", "deny", Some(&key));
    let url = registry.url("policies/api:prod");
    let digest_a = push(&a, &url);
    assert!(digest_a.starts_with("sha256:"), "{digest_a}");

    // The artifact is what ORAS pushes: an image manifest with our artifactType, the
    // empty config and one titled layer per file.
    let manifest = registry.manifest("policies/api", "prod");
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        manifest["artifactType"],
        "application/vnd.rampart.bundle.v1"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(manifest["config"]["size"], 2);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.rampart.bundle.v1+json"
    );
    assert_eq!(
        layers[0]["annotations"]["org.opencontainers.image.title"],
        "bundle.json"
    );
    assert_eq!(layers[0]["size"], std::fs::metadata(&a).unwrap().len());
    assert_eq!(
        layers[1]["mediaType"],
        "application/vnd.rampart.bundle.signature.v1+jws"
    );
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.revision"],
        rev_a.as_str()
    );

    let caches: Vec<PathBuf> = (0..3).map(|i| dir.0.join(format!("cache{i}"))).collect();
    let mut sidecars: Vec<Sidecar> = caches
        .iter()
        .map(|cache| start(&url, &public, cache, &[]))
        .collect();
    for sidecar in &sidecars {
        assert_eq!(serving(sidecar), rev_a);
        assert_eq!(decided_by(sidecar), "a-allows");
        let s = status(sidecar);
        assert_eq!(s["bundle"]["source"], url.as_str());
        assert_eq!(s["bundle"]["from_cache"], false);
        assert!(s["bundle"]["key_id"]
            .as_str()
            .is_some_and(|k| !k.is_empty()));
    }

    // Push B: every replica serves it within the poll interval and a second.
    push(&b, &url);
    let pushed = Instant::now();
    wait_until("all three serve B", Duration::from_secs(10), || {
        sidecars.iter().all(|s| serving(s) == rev_b)
    });
    let converged = pushed.elapsed();
    println!("three sidecars served revision B {converged:?} after the push (poll interval 1s)");
    assert!(
        converged <= Duration::from_secs(2),
        "took {converged:?}, more than the poll interval and a second"
    );
    for sidecar in &sidecars {
        assert_eq!(decided_by(sidecar), "b-denies");
        assert!(metric(sidecar, "rampart_bundle_fetch_total{result=\"updated\"}") >= 1.0);
        let b_digest = status(sidecar)["bundle"]["digest"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            metric(
                sidecar,
                &format!("rampart_bundle_info{{revision=\"{rev_b}\",digest=\"{b_digest}\"}}")
            ),
            1.0
        );
    }

    // A tampered B' (a byte changed after signing), then C signed by another key: both
    // refused by every replica, which keep serving B and say why.
    let b_tampered = tampered(&b, &dir.0, "b-tampered");
    push(&b_tampered, &url);
    wait_until(
        "all three refuse the tampered bundle",
        Duration::from_secs(10),
        || {
            sidecars.iter().all(|s| {
                metric(s, "rampart_bundle_fetch_total{result=\"refused\"}") >= 1.0
                    && status(s)["bundle"]["last_error"]
                        .as_str()
                        .is_some_and(|e| e.contains("digest"))
            })
        },
    );
    let (other_key, _) = keygen(&dir.0, "intruder");
    let (c, _) = build(&dir.0, "c-allows", "allow", Some(&other_key));
    push(&c, &url);
    wait_until(
        "all three refuse the foreign signature",
        Duration::from_secs(10),
        || {
            sidecars.iter().all(|s| {
                metric(s, "rampart_bundle_fetch_total{result=\"refused\"}") >= 2.0
                    && status(s)["bundle"]["last_error"]
                        .as_str()
                        .is_some_and(|e| e.contains("not among the verification keys"))
            })
        },
    );
    for sidecar in &sidecars {
        assert_eq!(serving(sidecar), rev_b);
        assert_eq!(decided_by(sidecar), "b-denies");
    }
    // A refused version is not downloaded again: the next polls are one HEAD each.
    let refused = metric(
        &sidecars[0],
        "rampart_bundle_fetch_total{result=\"refused\"}",
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        metric(
            &sidecars[0],
            "rampart_bundle_fetch_total{result=\"refused\"}"
        ),
        refused
    );
    assert!(status(&sidecars[0])["bundle"]["last_error"].is_string());

    // Restart one replica with the registry stopped: it serves B from its cache.
    registry.stop();
    sidecars[0].terminate();
    let restarted = start(&url, &public, &caches[0], &[]);
    assert_eq!(serving(&restarted), rev_b);
    assert_eq!(decided_by(&restarted), "b-denies");
    let s = status(&restarted);
    assert_eq!(s["bundle"]["from_cache"], true);
    assert!(s["bundle"]["last_error"].is_string(), "{s}");
    sidecars[0] = restarted;
}

#[test]
#[ignore = "needs docker-registry: sh scripts/services-setup.sh"]
fn registry_down_at_start_or_later_and_a_bundle_that_does_not_load() {
    let dir = Scratch::new("fleet-bundles-down");
    let mut registry = Registry::start(&dir.0);
    let (key, public) = keygen(&dir.0, "release");
    let (a, rev_a) = build(&dir.0, "a-allows", "allow", Some(&key));
    let url = registry.url("policies/api:prod");

    // Nothing pushed yet, no cache: the sidecar exits with an error (exit code 2).
    let out = rampart(&[
        "serve",
        &url,
        "--verify-key",
        public.to_str().unwrap(),
        "--grpc",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot serve"), "{stderr}");

    // Unsigned is refused, even at start; --insecure-unsigned serves it (with a warning).
    let (unsigned, _) = build(&dir.0, "unsigned", "allow", None);
    let unsigned_url = registry.url("policies/unsigned:v1");
    ok(rampart(&[
        "push",
        unsigned.to_str().unwrap(),
        &unsigned_url,
        "--unsigned",
    ]));
    let out = rampart(&[
        "serve",
        &unsigned_url,
        "--verify-key",
        public.to_str().unwrap(),
        "--grpc",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no signature"));
    let insecure = Sidecar::start(Path::new(&unsigned_url), &["--insecure-unsigned"]);
    assert_eq!(decided_by(&insecure), "unsigned");
    drop(insecure);

    push(&a, &url);
    let sidecar = start(&url, &public, &dir.0.join("cache"), &[]);
    assert_eq!(serving(&sidecar), rev_a);

    // A bundle with a valid signature that does not load: A keeps serving.
    let broken = dir.0.join("broken.json");
    std::fs::write(
        &broken,
        br#"{"format":"rampart-bundle","version":999999,"revision":"broken"}"#,
    )
    .unwrap();
    ok(rampart(&[
        "bundle",
        "sign",
        broken.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]));
    push(&broken, &url);
    wait_until(
        "the broken bundle is reported",
        Duration::from_secs(10),
        || {
            status(&sidecar)["bundle"]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("does not load"))
        },
    );
    assert_eq!(serving(&sidecar), rev_a);
    assert_eq!(decided_by(&sidecar), "a-allows");
    assert!(metric(&sidecar, "rampart_bundle_fetch_total{result=\"error\"}") >= 1.0);
    // The cache still holds A.
    let cached: Value =
        serde_json::from_slice(&std::fs::read(dir.0.join("cache/bundle.json")).unwrap()).unwrap();
    assert_eq!(cached["revision"], rev_a.as_str());

    // The registry goes away: A keeps serving, the status and metrics say so.
    registry.stop();
    let errors = metric(&sidecar, "rampart_bundle_fetch_total{result=\"error\"}");
    wait_until("a failed fetch is counted", Duration::from_secs(10), || {
        metric(&sidecar, "rampart_bundle_fetch_total{result=\"error\"}") > errors
    });
    let s = status(&sidecar);
    assert!(s["bundle"]["last_error"].as_str().is_some(), "{s}");
    assert!(s["bundle"]["last_fetch_at"].as_u64() > s["bundle"]["fetched_at"].as_u64());
    assert_eq!(decided_by(&sidecar), "a-allows");
    let ready = http_request(sidecar.http, "GET", "/readyz", &[], b"");
    assert_eq!(ready.status, 200);

    // Back up: the next poll clears the error (the tag still names the broken bundle,
    // which is not fetched again and stays reported).
    registry.resume();
    let successes = metric(&sidecar, "rampart_bundle_last_success_timestamp_seconds");
    wait_until("a poll succeeds again", Duration::from_secs(10), || {
        metric(&sidecar, "rampart_bundle_last_success_timestamp_seconds") > successes
    });
}

/// No service needed: the HTTPS server is the harness's own.
#[test]
fn https_bundles_use_etags_and_are_cut_at_the_limits() {
    let dir = Scratch::new("fleet-bundles-https");
    let server = BundleServer::start(&dir.0);
    let (key, public) = keygen(&dir.0, "release");
    let (a, rev_a) = build(&dir.0, "a-allows", "allow", Some(&key));
    let (b, rev_b) = build(&dir.0, "b-denies", "deny", Some(&key));
    let file = |path: &Path, etag: &str| Answer::File {
        body: std::fs::read(path).unwrap(),
        etag: format!("\"{etag}\""),
    };
    server.set("/bundle.json", file(&a, "a"));
    server.set("/bundle.json.sig", file(&sig(&a), "a-sig"));
    let ca = server.ca.display().to_string();
    let sidecar = start(
        &server.url("/bundle.json"),
        &public,
        &dir.0.join("cache"),
        &["--outbound-ca", &ca],
    );
    assert_eq!(serving(&sidecar), rev_a);
    // Unchanged: each poll is one conditional GET answered 304.
    wait_until("two polls answered 304", Duration::from_secs(10), || {
        server.count("/bundle.json", 304) >= 2
    });
    assert!(
        metric(
            &sidecar,
            "rampart_bundle_fetch_total{result=\"not_modified\"}"
        ) >= 2.0
    );
    assert_eq!(server.count("/bundle.json", 200), 1);
    assert_eq!(server.count("/bundle.json.sig", 200), 1);

    server.set("/bundle.json.sig", file(&sig(&b), "b-sig"));
    server.set("/bundle.json", file(&b, "b"));
    wait_until("B serves", Duration::from_secs(10), || {
        serving(&sidecar) == rev_b
    });
    assert_eq!(decided_by(&sidecar), "b-denies");

    // Without --outbound-ca the server's certificate is not trusted.
    let out = serve_once(&server.url("/bundle.json"), &public, &[]);
    assert_eq!(out.status.code(), Some(2));

    // An endless body, a huge Content-Length, a slow server: cut at the limit or timed out.
    server.set("/endless", Answer::Endless);
    server.set("/huge", Answer::HugeLength(1 << 40));
    server.set(
        "/slow",
        Answer::Slow(Duration::from_secs(8), std::fs::read(&a).unwrap()),
    );
    for (path, extra, expected) in [
        (
            "/endless",
            vec!["--max-bundle-bytes", "1M"],
            "larger than the limit",
        ),
        ("/huge", vec![], "Content-Length"),
        ("/slow", vec!["--fetch-timeout", "1s"], "timed out"),
    ] {
        let started = Instant::now();
        let mut args = vec!["--outbound-ca", ca.as_str()];
        args.extend(extra);
        let out = serve_once(&server.url(path), &public, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{path}: {stderr}");
        assert!(stderr.contains(expected), "{path}: {stderr}");
        println!("{path}: refused after {:?}", started.elapsed());
        assert!(started.elapsed() < Duration::from_secs(7), "{path}");
    }
}

fn serve_once(url: &str, public: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "serve",
        url,
        "--verify-key",
        public.to_str().unwrap(),
        "--grpc",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    rampart(&args)
}

/// A policy whose deny depends on entity data: members of `Group::"suspended"` may not read.
const GROUPS: &str = r#"package groups

schema {
  entity Group
  entity User in [Group]
  entity Doc
  action "read" on Doc for User
}

@id("readers")
allow "read" on Doc for User

@id("suspended")
deny "read" on Doc for User when principal in Group::"suspended"
"#;

/// Entity data with `alice` in `Group::"suspended"` or not, signed with `revision`.
fn signed_entities(dir: &Path, name: &str, suspended: bool, key: &Path) -> PathBuf {
    let parents = if suspended {
        r#"[{"type": "Group", "id": "suspended"}]"#
    } else {
        "[]"
    };
    let path = dir.join(format!("{name}.json"));
    std::fs::write(
        &path,
        format!(
            r#"[{{"uid": {{"type": "Group", "id": "suspended"}}, "attrs": {{}}, "parents": []}},
{{"uid": {{"type": "User", "id": "alice"}}, "attrs": {{}}, "parents": {parents}}}]"#
        ),
    )
    .unwrap();
    ok(rampart(&[
        "bundle",
        "sign",
        path.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--revision",
        name,
    ]));
    path
}

#[test]
#[ignore = "needs docker-registry: sh scripts/services-setup.sh"]
fn entity_data_travels_as_its_own_signed_artifact_polled_on_its_own() {
    let dir = Scratch::new("fleet-entities");
    let registry = Registry::start(&dir.0);
    let (key, public) = keygen(&dir.0, "release");
    let policy = dir.0.join("groups");
    std::fs::create_dir_all(&policy).unwrap();
    std::fs::write(policy.join("policy.rampart"), GROUPS).unwrap();
    let url = registry.url("policies/entities:prod");
    let e1 = signed_entities(&dir.0, "e1", true, &key);
    ok(rampart(&["push", e1.to_str().unwrap(), &url, "--entities"]));
    let manifest = registry.manifest("policies/entities", "prod");
    assert_eq!(
        manifest["artifactType"],
        "application/vnd.rampart.entities.v1"
    );
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.rampart.entities.v1+json"
    );

    let sidecar = Sidecar::start(
        &policy,
        &[
            "--entities",
            &url,
            "--verify-key",
            public.to_str().unwrap(),
            "--poll-interval",
            "1s",
            "--no-watch",
        ],
    );
    assert_eq!(decided_by(&sidecar), "suspended");
    assert_eq!(status(&sidecar)["entities"]["revision"], "e1");
    assert_eq!(status(&sidecar)["entities"]["source"], url.as_str());

    let e2 = signed_entities(&dir.0, "e2", false, &key);
    ok(rampart(&["push", e2.to_str().unwrap(), &url, "--entities"]));
    wait_until("the new entities serve", Duration::from_secs(10), || {
        decided_by(&sidecar) == "readers"
    });
    assert_eq!(status(&sidecar)["entities"]["revision"], "e2");

    // Tampered entities (alice suspended again, with e2's signature): refused, e2 stays.
    let tampered = dir.0.join("e3.json");
    std::fs::copy(&e1, &tampered).unwrap();
    std::fs::copy(sig(&e2), sig(&tampered)).unwrap();
    ok(rampart(&[
        "push",
        tampered.to_str().unwrap(),
        &url,
        "--entities",
    ]));
    wait_until(
        "the tampered entities are refused",
        Duration::from_secs(10),
        || {
            status(&sidecar)["entities"]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("refused"))
        },
    );
    assert_eq!(decided_by(&sidecar), "readers");
    // The bundle is local: its source is the folder, its digest that of its JSON.
    let s = status(&sidecar);
    assert_eq!(s["bundle"]["source"], policy.display().to_string().as_str());
    assert!(s["bundle"]["digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
}
