//! Builds the wasm modules the CLI carries (`rampart build --target wasm|proxy-wasm`) and
//! passes their paths to the compiler as `RAMPART_ENGINE_WASM` and `RAMPART_FILTER_WASM`.
//!
//! The modules are built with their own target directory (`target/wasm-modules/`);
//! `RAMPART_WASM_ENGINE` and `RAMPART_PROXY_WASM_FILTER` name prebuilt modules instead.
//!
//! Every command but `rampart build --target wasm|proxy-wasm` works without them, so a
//! machine with only rustup's default toolchain (no wasm targets) still builds the CLI:
//! when a target is missing, or the build only checks code (clippy, rust-analyzer,
//! `RAMPART_SKIP_WASM_BUILD=1`), the binary is built without that module (cfg
//! `rampart_no_engine_wasm` / `rampart_no_filter_wasm`) and those two targets explain how
//! to get it. `RAMPART_REQUIRE_WASM=1` (CI) turns a missing target into an error.

use std::path::PathBuf;

use rampart_wasm_embed::build::{skip_reason, WasmPackageBuild};

fn main() {
    println!("cargo::rustc-check-cfg=cfg(rampart_no_engine_wasm)");
    println!("cargo::rustc-check-cfg=cfg(rampart_no_filter_wasm)");
    println!("cargo:rerun-if-env-changed=RAMPART_REQUIRE_WASM");
    let required = std::env::var_os("RAMPART_REQUIRE_WASM").is_some_and(|v| v == "1");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let workspace = manifest.parent().map(PathBuf::from).unwrap_or(manifest);
    let skip = if required { None } else { skip_reason() };
    let modules = [
        (
            WasmPackageBuild::rampart_wasm(workspace.clone()),
            "RAMPART_ENGINE_WASM",
            "rampart_no_engine_wasm",
        ),
        (
            WasmPackageBuild::rampart_proxy_wasm(workspace),
            "RAMPART_FILTER_WASM",
            "rampart_no_filter_wasm",
        ),
    ];
    for (build, env, missing_cfg) in modules {
        if let Some(reason) = skip {
            println!("cargo:rustc-cfg={missing_cfg}");
            println!("cargo:rustc-env={env}_MISSING={reason}");
            continue;
        }
        match build.run() {
            Ok(path) => println!("cargo:rustc-env={env}={}", path.display()),
            Err(error) if error.is_target_missing() && !required => {
                println!(
                    "cargo:warning=building rampart without `{}`: {error}",
                    build.package
                );
                println!("cargo:rustc-cfg={missing_cfg}");
                println!("cargo:rustc-env={env}_MISSING={error}");
            }
            Err(error) => {
                eprintln!("error: {error}");
                std::process::exit(1);
            }
        }
    }
}
