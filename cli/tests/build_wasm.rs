//! `rampart build --target wasm`: one self-contained module from the engine module the
//! binary carries; the decisions through it are tested in `wasm/tests` (wasmtime, Node).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use rampart_wasm_embed::join::inspect;

fn rampart() -> Command {
    Command::cargo_bin("rampart").unwrap_or_else(|e| panic!("rampart binary: {e}"))
}

fn payments() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .join("examples/payments")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("build-wasm-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

#[test]
fn build_target_wasm_writes_a_module_without_imports() {
    let out = scratch("module").join("payments.wasm");
    rampart()
        .args([
            "build",
            payments().to_str().unwrap(),
            "--target",
            "wasm",
            "-o",
        ])
        .arg(&out)
        .assert()
        .success()
        .stderr(
            predicate::str::contains("wasm module").and(predicate::str::contains("with entities")),
        );
    let module = std::fs::read(&out).unwrap();
    assert!(module.starts_with(b"\0asm"));
    let info = inspect(&module).unwrap();
    assert!(info.imports.is_empty(), "{:?}", info.imports);
    for export in [
        "memory",
        "rampart_abi_version",
        "rampart_alloc",
        "rampart_free",
        "rampart_decide",
    ] {
        assert!(
            info.exports.iter().any(|e| e == export),
            "no export `{export}`"
        );
    }
    // The payload holds the bundle: the module is larger than the bundle file alone.
    let bundle = scratch("bundle").join("bundle.json");
    rampart()
        .args(["build", payments().to_str().unwrap(), "-o"])
        .arg(&bundle)
        .assert()
        .success();
    assert!(module.len() > std::fs::metadata(&bundle).unwrap().len() as usize);
}

#[test]
fn build_target_wasm_checks_the_entities_it_embeds() {
    let dir = scratch("entities");
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"[{"uid": "Nope::\"x\"", "attrs": {}, "parents": []}]"#,
    )
    .unwrap();
    rampart()
        .args([
            "build",
            payments().to_str().unwrap(),
            "--target",
            "wasm",
            "-o",
        ])
        .arg(dir.join("out.wasm"))
        .arg("--entities")
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.json"));
    assert!(!dir.join("out.wasm").exists());
    // --entities means nothing to a bundle file.
    rampart()
        .args(["build", payments().to_str().unwrap(), "-o"])
        .arg(dir.join("bundle.json"))
        .arg("--entities")
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--entities"));
}
