//! `rampart build DIR [-o FILE] [--target bundle|wasm|proxy-wasm] [--sign KEY]`: compile a folder into a
//! bundle file the engine loads without the parser, or into one self-contained wasm module
//! (the engine module or the proxy-wasm filter the CLI carries, joined with the bundle and
//! the entities).

use std::path::Path;

use crate::args::{BuildArgs, BuildTarget};
use crate::exit::{CliError, FAILURE, OK};
use crate::policy::{self, LoadedPolicy};
use crate::wasm_module;
use rampart_lang::timings::{self, Timings};

pub fn run(args: BuildArgs) -> Result<u8, CliError> {
    let output = args.output.clone().unwrap_or_else(|| {
        std::path::PathBuf::from(match args.target {
            BuildTarget::Bundle => "bundle.json",
            BuildTarget::Wasm => "policy.wasm",
            BuildTarget::ProxyWasm => "filter.wasm",
        })
    });
    if args.target == BuildTarget::Bundle && args.entities.is_some() {
        return Err(CliError::Input(
            "`--entities` applies to modules only (`--target wasm` or `proxy-wasm`)".to_owned(),
        ));
    }
    if args.target != BuildTarget::Bundle && args.sign.is_some() {
        return Err(CliError::Input(
            "`--sign` applies to bundles only (`--target bundle`)".to_owned(),
        ));
    }
    // The key is read before compiling: a bad key fails fast and writes nothing.
    let key = match &args.sign {
        Some(path) => Some(super::bundle::read_signing_key(path)?),
        None => None,
    };
    let mut timings = Timings::new();
    let Some(loaded) = policy::load_reporting_timed(&args.dir, &mut timings)? else {
        return Ok(FAILURE);
    };
    let bundle = loaded.engine.bundle();
    let (bytes, what) = match args.target {
        BuildTarget::Bundle => {
            let bytes = bundle.to_json().into_bytes();
            timings.mark("serialize");
            (bytes, String::new())
        }
        BuildTarget::Wasm | BuildTarget::ProxyWasm => {
            let entities = entity_json(&loaded, args.entities.as_deref())?;
            let (module, kind) = if args.target == BuildTarget::ProxyWasm {
                let filter =
                    wasm_module::proxy_wasm_filter(&bundle.to_json(), entities.as_deref())?;
                (filter, "proxy-wasm filter")
            } else {
                let module = wasm_module::plain_abi_module(&bundle.to_json(), entities.as_deref())?;
                (module, "wasm module")
            };
            let what = format!(
                "{kind}, {} KiB, {}; ",
                module.len().div_ceil(1024),
                if entities.is_some() {
                    "with entities"
                } else {
                    "no entities"
                }
            );
            (module, what)
        }
    };
    std::fs::write(&output, &bytes).map_err(|source| CliError::Write {
        path: output.display().to_string(),
        source,
    })?;
    timings.mark("write");
    if let Some(key) = &key {
        let sig = super::bundle::write_signature(&output, &bytes, &bundle.revision, key)?;
        eprintln!(
            "signed {} (key {}, digest {})",
            sig.display(),
            key.public_key().id(),
            rampart_bundle::digest(&bytes)
        );
    }
    eprintln!(
        "wrote {} ({what}{} rules, {} obligations, {} routes, revision {})",
        output.display(),
        bundle.rules.len(),
        bundle.obligations.len(),
        bundle.routes.len(),
        bundle.revision
    );
    if timings::requested() {
        eprint!("timings ({}):\n{}", timings::TIMINGS_ENV, timings.render());
    }
    Ok(OK)
}

/// The entity JSON to embed: `explicit`, else the folder's `entities.json` when present;
/// checked against the bundle here, so that the module never starts with entities it
/// cannot load.
fn entity_json(loaded: &LoadedPolicy, explicit: Option<&Path>) -> Result<Option<String>, CliError> {
    let default = loaded.root.join("entities.json");
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None if loaded.root.is_dir() && default.is_file() => default,
        None => return Ok(None),
    };
    let text = crate::input::read(&path, crate::input::Input::Entities)?;
    loaded
        .engine
        .load_entities(&text)
        .map_err(|e| CliError::Input(format!("`{}`: {e}", path.display())))?;
    Ok(Some(text))
}
