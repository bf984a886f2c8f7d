//! Builds the wasm engine module the CLI carries (`rampart build --target wasm`) and
//! passes its path to the compiler as `RAMPART_ENGINE_WASM`.
//!
//! The module is built with its own target directory (`target/wasm-modules/`); set
//! `RAMPART_WASM_ENGINE` to a prebuilt `rampart_wasm.wasm` to skip that build.
//!
//! The same for the proxy-wasm filter module (`rampart-proxy-wasm`, `wasm32-wasip1`,
//! `rampart build --target proxy-wasm`): its path is passed as `RAMPART_FILTER_WASM`, and
//! `RAMPART_PROXY_WASM_FILTER` names a prebuilt `rampart_proxy_wasm.wasm` to skip its build.

use std::path::PathBuf;

use rampart_wasm_embed::build::WasmPackageBuild;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let workspace = manifest.parent().map(PathBuf::from).unwrap_or(manifest);
    match WasmPackageBuild::rampart_wasm(workspace.clone()).run() {
        Ok(path) => println!("cargo:rustc-env=RAMPART_ENGINE_WASM={}", path.display()),
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    }
    // The proxy-wasm filter (`rampart build --target proxy-wasm`), for wasm32-wasip1.
    match WasmPackageBuild::rampart_proxy_wasm(workspace).run() {
        Ok(path) => println!("cargo:rustc-env=RAMPART_FILTER_WASM={}", path.display()),
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    }
}
