//! Shared helpers of the workspace integration tests: finding the corpus, compiling a
//! policy folder into an engine, and reading entity files.

pub mod plan_gen;

use std::path::{Path, PathBuf};

use rampart_engine::{Engine, EntityStore};
use rampart_lang::{compile, PolicySet};

/// The `tests/` folder of the workspace.
pub fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace root.
pub fn workspace_dir() -> PathBuf {
    tests_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(tests_dir)
}

/// Sub-folders of `dir`, sorted by name.
pub fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Compiles a policy folder; `Err` carries the rendered diagnostics.
pub fn engine_for(dir: &Path) -> Result<Engine, String> {
    let set = PolicySet::load(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let compiled = compile(&set);
    let Some(bundle) = compiled.bundle else {
        let text: String = compiled
            .diagnostics
            .iter()
            .map(|d| d.render_plain())
            .collect();
        return Err(format!("{} does not compile:\n{text}", dir.display()));
    };
    Engine::new(bundle).map_err(|e| format!("{}: {e}", dir.display()))
}

/// The folder's `entities.json`, or an empty store.
pub fn entities_for(engine: &Engine, dir: &Path) -> Result<EntityStore, String> {
    let path = dir.join("entities.json");
    if !path.is_file() {
        return Ok(engine.empty_entities());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    engine
        .load_entities(&text)
        .map_err(|e| format!("{}: {e}", path.display()))
}
