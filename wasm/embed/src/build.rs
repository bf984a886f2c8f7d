//! In build scripts: building a workspace package for a wasm target, so that a native
//! crate (the CLI, a test crate) can carry the module it produces.
//!
//! [`WasmPackageBuild::run`] runs `cargo build -p PACKAGE --target TARGET --profile
//! PROFILE` with its own target directory (`target/wasm-modules/`, so the outer build's
//! lock is never waited on, and every build script that asks for the same module shares
//! one build), prints the `cargo:rerun-if-…` lines of its inputs, and returns the path of
//! the `.wasm` file. An environment variable names a prebuilt file to use instead.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A wasm module to build from a package of the workspace.
#[derive(Clone, Debug)]
pub struct WasmPackageBuild<'a> {
    /// The workspace root.
    pub workspace: PathBuf,
    /// The package to build (`rampart-wasm`).
    pub package: &'a str,
    /// The file cargo writes (`rampart_wasm.wasm`).
    pub artifact: &'a str,
    /// The target triple (`wasm32-unknown-unknown`).
    pub target: &'a str,
    /// The cargo profile (`wasm-release`).
    pub profile: &'a str,
    /// An environment variable that, when set, names a prebuilt module to use instead.
    pub override_env: &'a str,
    /// Files and folders (relative to the workspace) whose changes rebuild the module.
    pub inputs: &'a [&'a str],
}

/// Why the module could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildError {
    message: String,
    target_missing: bool,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BuildError {}

impl BuildError {
    fn new(message: impl Into<String>) -> Self {
        BuildError {
            message: message.into(),
            target_missing: false,
        }
    }

    /// Whether the build failed only because the target's standard library is not
    /// installed (`rustup target add` fixes it). A build script may then build without
    /// the module instead of failing (`cli/build.rs`).
    pub fn is_target_missing(&self) -> bool {
        self.target_missing
    }
}

/// Why a build script should not start the nested wasm build at all, if it should not:
/// `RAMPART_SKIP_WASM_BUILD=1`, or an outer build that only checks code (clippy, whose
/// driver cargo passes as `RUSTC_WORKSPACE_WRAPPER`, and rust-analyzer, which sets
/// `RA_RUSTC_WRAPPER`). An LTO build of the engine on every edit is what this avoids.
pub fn skip_reason() -> Option<&'static str> {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
    println!("cargo:rerun-if-env-changed=RAMPART_SKIP_WASM_BUILD");
    if set("RAMPART_SKIP_WASM_BUILD") {
        return Some("RAMPART_SKIP_WASM_BUILD is set");
    }
    let wrapper = |name: &str| {
        std::env::var_os(name)
            .map(|v| v.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    if wrapper("RUSTC_WORKSPACE_WRAPPER").contains("clippy-driver") {
        return Some("clippy only checks code");
    }
    if set("RA_RUSTC_WRAPPER") || wrapper("RUSTC_WRAPPER").contains("rust-analyzer") {
        return Some("rust-analyzer only checks code");
    }
    None
}

/// Variables the outer cargo sets for build scripts (or a user for the outer build) that
/// must not leak into the inner build: flags meant for the host target, the clippy
/// driver, another target directory or target.
const CLEARED_ENV: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
];

impl WasmPackageBuild<'static> {
    /// The plain-ABI engine module (`rampart-wasm`), as the CLI carries it: the
    /// `wasm-release` profile, overridden by `RAMPART_WASM_ENGINE`.
    pub fn rampart_wasm(workspace: PathBuf) -> Self {
        WasmPackageBuild {
            workspace,
            package: "rampart-wasm",
            artifact: "rampart_wasm.wasm",
            target: "wasm32-unknown-unknown",
            profile: "wasm-release",
            override_env: "RAMPART_WASM_ENGINE",
            inputs: &[
                "engine/src",
                "engine/Cargo.toml",
                "wasm/src",
                "wasm/Cargo.toml",
                "wasm/embed/src",
                "wasm/embed/Cargo.toml",
                "Cargo.toml",
                "Cargo.lock",
            ],
        }
    }
}

impl WasmPackageBuild<'static> {
    /// The proxy-wasm filter module (`rampart-proxy-wasm`, ABI 0.2.1, `wasm32-wasip1`), as
    /// the CLI carries it: the `wasm-release` profile, overridden by
    /// `RAMPART_PROXY_WASM_FILTER`.
    pub fn rampart_proxy_wasm(workspace: PathBuf) -> Self {
        WasmPackageBuild {
            workspace,
            package: "rampart-proxy-wasm",
            artifact: "rampart_proxy_wasm.wasm",
            target: "wasm32-wasip1",
            profile: "wasm-release",
            override_env: "RAMPART_PROXY_WASM_FILTER",
            inputs: &[
                "engine/src",
                "engine/Cargo.toml",
                "proxy-wasm-filter/src",
                "proxy-wasm-filter/Cargo.toml",
                "wasm/embed/src",
                "wasm/embed/Cargo.toml",
                "Cargo.toml",
                "Cargo.lock",
            ],
        }
    }
}

impl WasmPackageBuild<'_> {
    /// The directory the inner build uses.
    pub fn target_dir(&self) -> PathBuf {
        match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => PathBuf::from(dir).join("wasm-modules"),
            None => self.workspace.join("target").join("wasm-modules"),
        }
    }

    /// Builds the module (or takes the override) and returns its path. Prints the
    /// `cargo:rerun-if-…` lines, so call it from a build script only.
    pub fn run(&self) -> Result<PathBuf, BuildError> {
        println!("cargo:rerun-if-env-changed={}", self.override_env);
        if let Some(path) = std::env::var_os(self.override_env).filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", path.display());
            if !path.is_file() {
                return Err(BuildError::new(format!(
                    "{} names `{}`, which is not a file",
                    self.override_env,
                    path.display()
                )));
            }
            return Ok(path);
        }
        for input in self.inputs {
            println!(
                "cargo:rerun-if-changed={}",
                self.workspace.join(input).display()
            );
        }
        self.check_target_installed()?;
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let target_dir = self.target_dir();
        let mut command = Command::new(cargo);
        command
            .current_dir(&self.workspace)
            .args(["build", "--locked", "-p", self.package, "--target"])
            .arg(self.target)
            .args(["--profile", self.profile, "--target-dir"])
            .arg(&target_dir);
        for name in CLEARED_ENV {
            command.env_remove(name);
        }
        let output = command.output().map_err(|e| {
            BuildError::new(format!("cannot run cargo to build `{}`: {e}", self.package))
        })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(BuildError::new(format!(
                "building `{}` for {} failed (set {} to a prebuilt module to skip this build):\n{}",
                self.package,
                self.target,
                self.override_env,
                tail.join("\n")
            )));
        }
        let artifact = target_dir
            .join(self.target)
            .join(self.profile)
            .join(self.artifact);
        if !artifact.is_file() {
            return Err(BuildError::new(format!(
                "cargo built `{}` but `{}` is missing",
                self.package,
                artifact.display()
            )));
        }
        Ok(artifact)
    }

    /// Fails with the command to run when the target's standard library is not installed.
    fn check_target_installed(&self) -> Result<(), BuildError> {
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
        let Ok(output) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
            // No rustc to ask: let cargo report what is wrong.
            return Ok(());
        };
        let sysroot = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        let lib = Path::new(&sysroot)
            .join("lib")
            .join("rustlib")
            .join(self.target);
        if output.status.success() && !sysroot.is_empty() && !lib.is_dir() {
            let mut error = BuildError::new(format!(
                "the Rust target `{target}` is not installed; run `rustup target add {target}` \
                 (or set {env} to a prebuilt module)",
                target = self.target,
                env = self.override_env
            ));
            error.target_missing = true;
            return Err(error);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(target: &'static str, override_env: &'static str) -> WasmPackageBuild<'static> {
        WasmPackageBuild {
            workspace: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            package: "none",
            artifact: "none.wasm",
            target,
            profile: "wasm-release",
            override_env,
            inputs: &[],
        }
    }

    #[test]
    fn a_missing_target_fails_with_the_command_that_installs_it() {
        let error = spec("wasm99-unknown-nothing", "RAMPART_TEST_UNSET_OVERRIDE")
            .run()
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("rustup target add wasm99-unknown-nothing"),
            "{error}"
        );
        assert!(error.contains("RAMPART_TEST_UNSET_OVERRIDE"), "{error}");
        let error = spec("wasm99-unknown-nothing", "RAMPART_TEST_UNSET_OVERRIDE")
            .run()
            .unwrap_err();
        assert!(error.is_target_missing());
    }

    #[test]
    fn an_override_naming_no_file_is_an_error() {
        // Cargo runs tests with CARGO_MANIFEST_DIR set to a folder.
        let error = spec("wasm32-unknown-unknown", "CARGO_MANIFEST_DIR")
            .run()
            .unwrap_err()
            .to_string();
        assert!(error.contains("which is not a file"), "{error}");
    }
}
