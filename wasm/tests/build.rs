//! Builds the engine module (`rampart-wasm`, the same build and file as the CLI's) and
//! passes its path to the tests as `RAMPART_ENGINE_WASM`.

use std::path::PathBuf;

use rampart_wasm_embed::build::WasmPackageBuild;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let workspace = manifest
        .parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .unwrap_or(manifest);
    match WasmPackageBuild::rampart_wasm(workspace).run() {
        Ok(path) => println!("cargo:rustc-env=RAMPART_ENGINE_WASM={}", path.display()),
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    }
}
