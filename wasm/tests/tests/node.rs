//! The Node host of `examples/wasm-node/` (only Node's built-in WebAssembly) decides a
//! sample of the conformance requests exactly as the native engine does.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rampart_wasm_tests::{conformance_dirs, conformance_requests, workspace_dir, Policy};

fn decide_script() -> PathBuf {
    workspace_dir().join("examples/wasm-node/decide.mjs")
}

fn scratch_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wasm-node");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `node decide.mjs MODULE ARGS…` with `stdin`; returns (exit code, stdout, stderr).
fn node(module: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new("node")
        .arg(decide_script())
        .arg(module)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `node` (Node.js 18 or newer is needed): {e}"));
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).unwrap();
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// Node runs every request of every third case folder (wasmtime runs them all): each
/// folder is one more Node process compiling the 1 MB module.
const SAMPLE_EVERY: usize = 3;

#[test]
fn node_decides_a_sample_of_the_conformance_requests_as_natively() {
    let scratch = scratch_dir();
    let mut failures = Vec::new();
    let mut requests = 0;
    for dir in conformance_dirs().into_iter().step_by(SAMPLE_EVERY) {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let policy = Policy::load(&dir).unwrap();
        let module = scratch.join(format!("{name}.wasm"));
        std::fs::write(&module, policy.joined_module().unwrap()).unwrap();
        let cases = conformance_requests(&dir).unwrap();
        let lines: String = cases
            .iter()
            .map(|(_, request)| format!("{request}\n"))
            .collect();
        let (_, stdout, stderr) = node(&module, &["--lines"], &lines);
        let decisions: Vec<&str> = stdout.lines().collect();
        assert_eq!(
            decisions.len(),
            cases.len(),
            "{name}: node printed {stdout}\n{stderr}"
        );
        for ((case, request), got) in cases.iter().zip(decisions) {
            requests += 1;
            let want = policy.native_decision(request);
            if got != want {
                failures.push(format!(
                    "{name} / {case}:\n  node:   {got}\n  native: {want}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(requests >= 40, "only {requests} requests in the sample");
}

#[test]
fn the_node_example_reports_info_entities_and_exit_codes() {
    let dir = workspace_dir().join("examples/payments");
    let policy = Policy::load(&dir).unwrap();
    let module = scratch_dir().join("payments.wasm");
    std::fs::write(&module, policy.joined_module().unwrap()).unwrap();

    let (code, stdout, _) = node(&module, &["--info"], "");
    assert_eq!(code, 0);
    let info: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(info["abi_version"], 1);
    assert_eq!(info["entities"], policy.entities.len());

    // A request file: the decision JSON, exit 0 on allow and 1 on deny.
    for file in ["pay-http.json", "old-tls.json"] {
        let path = dir.join("requests").join(file);
        let request = std::fs::read_to_string(&path).unwrap();
        let want = policy.native_decision(&request);
        let (code, stdout, stderr) = node(&module, &[path.to_str().unwrap()], "");
        assert_eq!(stdout.trim(), want, "{file}: {stderr}");
        let allowed = want.starts_with("{\"decision\":\"allow\"");
        assert_eq!(code, if allowed { 0 } else { 1 }, "{file}");
    }

    // --entities replaces the embedded entities: with none, the owner check fails.
    let empty = scratch_dir().join("no-entities.json");
    std::fs::write(&empty, "[]").unwrap();
    let request = std::fs::read_to_string(dir.join("requests/pay-http.json")).unwrap();
    // One line, for --lines.
    let request = serde_json::from_str::<serde_json::Value>(&request)
        .unwrap()
        .to_string();
    let (_, stdout, _) = node(
        &module,
        &["--entities", empty.to_str().unwrap(), "--lines"],
        &request,
    );
    let no_entities = policy
        .engine
        .decide_json(&request, &policy.engine.empty_entities())
        .to_json();
    assert_eq!(stdout.trim(), no_entities);
}

/// Writes what the npm package's tests (`bindings/js/test/`) compare with: for each
/// conformance folder and `examples/payments`, the bundle JSON (as `rampart build` writes
/// it), the entities, and for each request the native decision, explanation and plan JSON.
/// Run by `scripts/ci.sh` (and `bindings/js/scripts/fixtures.sh`) with
/// `RAMPART_JS_FIXTURES=DIR`; ignored otherwise.
#[test]
#[ignore = "writes the npm package's test fixtures; run with RAMPART_JS_FIXTURES=DIR"]
fn write_js_fixtures() {
    let out = PathBuf::from(
        std::env::var_os("RAMPART_JS_FIXTURES").expect("RAMPART_JS_FIXTURES names a folder"),
    );
    let mut dirs = conformance_dirs();
    dirs.push(workspace_dir().join("examples/payments"));
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let policy = Policy::load(&dir).unwrap();
        let mut requests = if dir.join("cases.json").is_file() {
            rampart_wasm_tests::conformance_requests(&dir).unwrap()
        } else {
            Vec::new()
        };
        for sub in ["requests", "plans"] {
            let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
            files.sort();
            for file in files
                .iter()
                .filter(|f| f.extension().is_some_and(|e| e == "json"))
            {
                let text = std::fs::read_to_string(file).unwrap();
                let compact = serde_json::from_str::<serde_json::Value>(&text)
                    .unwrap()
                    .to_string();
                let stem = file.file_stem().unwrap().to_string_lossy();
                requests.push((format!("{sub}/{stem}"), compact));
            }
        }
        let cases: Vec<serde_json::Value> = requests
            .iter()
            .map(|(case, request)| {
                let plan_request = rampart_wasm_tests::as_plan_request(request);
                serde_json::json!({
                    "name": case,
                    "request": request,
                    "decision": policy.native_decision(request),
                    "explanation": policy.native_explanation(request),
                    "plan_request": plan_request,
                    "plan": policy.native_plan(&plan_request),
                })
            })
            .collect();
        let folder = out.join(&name);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("bundle.json"), policy.engine.bundle().to_json()).unwrap();
        if let Some(json) = &policy.entity_json {
            std::fs::write(folder.join("entities.json"), json).unwrap();
        }
        std::fs::write(
            folder.join("cases.json"),
            serde_json::to_string_pretty(&cases).unwrap(),
        )
        .unwrap();
    }
    eprintln!("wrote the npm package's fixtures to {}", out.display());
}
