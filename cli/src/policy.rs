//! Loading and compiling a policy folder: shared by every command that needs a bundle.

use std::path::{Path, PathBuf};

use rampart_engine::{Engine, EntityStore};
use rampart_lang::timings::Timings;
use rampart_lang::{compile_timed, Compiled, PolicySet};

use crate::exit::CliError;

/// A policy folder compiled without errors, with its engine ready.
pub struct LoadedPolicy {
    pub root: PathBuf,
    /// The diagnostics and tests; the bundle has moved into `engine` (`Engine::bundle`).
    pub compiled: Compiled,
    pub engine: Engine,
}

/// Why a folder could not be turned into an engine.
pub enum LoadFailure {
    /// I/O or input problem: exit 2.
    Cli(CliError),
    /// The policies have errors (already carried in `Compiled::diagnostics`): exit 1.
    Policy(Box<Compiled>),
}

/// Reads the folder and compiles it.
pub fn compile_dir(dir: &Path) -> Result<(PolicySet, Compiled), CliError> {
    compile_dir_timed(dir, &mut Timings::new())
}

/// [`compile_dir`], marking `read` and the compiler's phases in `timings`.
fn compile_dir_timed(dir: &Path, timings: &mut Timings) -> Result<(PolicySet, Compiled), CliError> {
    let set = PolicySet::load(dir).map_err(|source| CliError::Read {
        path: dir.display().to_string(),
        source,
    })?;
    if set.files.is_empty() && set.diagnostics.is_empty() {
        return Err(CliError::Input(format!(
            "no `.rampart` files in `{}`",
            dir.display()
        )));
    }
    timings.mark("read");
    let compiled = compile_timed(&set, timings);
    Ok((set, compiled))
}

/// Compiles the folder and loads its bundle into an engine.
pub fn load(dir: &Path) -> Result<LoadedPolicy, LoadFailure> {
    load_timed(dir, &mut Timings::new())
}

/// [`load`], marking `read`, the compiler's phases and `engine` in `timings`.
fn load_timed(dir: &Path, timings: &mut Timings) -> Result<LoadedPolicy, LoadFailure> {
    let (set, mut compiled) = compile_dir_timed(dir, timings).map_err(LoadFailure::Cli)?;
    // The engine keeps the bundle (`Engine::bundle`): moved, not copied.
    let Some(bundle) = compiled.bundle.take() else {
        return Err(LoadFailure::Policy(Box::new(compiled)));
    };
    let engine = Engine::new(bundle).map_err(|e| {
        LoadFailure::Cli(CliError::Input(format!(
            "cannot load the compiled bundle: {e}"
        )))
    })?;
    timings.mark("engine");
    Ok(LoadedPolicy {
        root: set.root.clone(),
        compiled,
        engine,
    })
}

/// The entity JSON items of a file (a JSON array of Cedar-format entities).
pub fn read_entity_items(path: &Path) -> Result<Vec<serde_json::Value>, CliError> {
    let text = crate::input::read(path, crate::input::Input::Entities)?;
    match rampart_engine::strict_json::from_str(&text) {
        Ok(serde_json::Value::Array(items)) => Ok(items),
        Ok(_) => Err(CliError::Input(format!(
            "`{}`: expected a JSON array of entities",
            path.display()
        ))),
        Err(e) => Err(CliError::Input(format!(
            "`{}`: invalid JSON: {e}",
            path.display()
        ))),
    }
}

/// Builds the entity store from files: `explicit` when given, else `entities.json` in the
/// policy folder when it exists, else an empty store.
pub fn load_entities(
    engine: &Engine,
    root: &Path,
    explicit: Option<&Path>,
) -> Result<EntityStore, CliError> {
    let default = root.join("entities.json");
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None if root.is_dir() && default.is_file() => default,
        None => return Ok(engine.empty_entities()),
    };
    let items = read_entity_items(&path)?;
    engine
        .entities_from_values(&items)
        .map_err(|e| CliError::Input(format!("`{}`: {e}", path.display())))
}

/// [`load`] for commands: policy errors are printed and give `Ok(None)` (the command then
/// exits 1); warnings of a good folder are printed too.
pub fn load_reporting(dir: &Path) -> Result<Option<LoadedPolicy>, CliError> {
    load_reporting_timed(dir, &mut Timings::new())
}

/// [`load_reporting`], marking each phase in `timings` (`rampart build` prints them when
/// `RAMPART_TIMINGS` is set).
pub fn load_reporting_timed(
    dir: &Path,
    timings: &mut Timings,
) -> Result<Option<LoadedPolicy>, CliError> {
    match load_timed(dir, timings) {
        Ok(loaded) => {
            crate::output::print_human(&loaded.compiled.diagnostics);
            Ok(Some(loaded))
        }
        Err(LoadFailure::Cli(e)) => Err(e),
        Err(LoadFailure::Policy(compiled)) => {
            crate::output::print_human(&compiled.diagnostics);
            Ok(None)
        }
    }
}
