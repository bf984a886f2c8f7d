//! What `rampart serve` hands the sidecar for hot reload: a loader that builds the policy
//! again the way it was built at start (compile the folder or read the bundle, then load
//! the entities), and the files that loader reads.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rampart_lang::Diagnostic;
use rampart_sidecar::{Policy, PolicyLoader, Watched};

use crate::policy::{self, LoadFailure};

/// A loader for `path` (a policy folder or a bundle file) and the entities file given with
/// `--entities`, if any. Its error lists each problem on a line of its own.
pub fn policy_loader(path: PathBuf, entities: Option<PathBuf>) -> PolicyLoader {
    Arc::new(move || load_policy(&path, entities.as_deref()))
}

/// The files the loader reads: the `.rampart` files under the folder (or the bundle file)
/// and the entities file, watched even while it does not exist.
pub fn watched_paths(path: &Path, entities: Option<&Path>) -> Vec<Watched> {
    let mut watched = Vec::new();
    if path.is_file() {
        watched.push(Watched::File(path.to_path_buf()));
    } else {
        watched.push(Watched::Folder {
            root: path.to_path_buf(),
            extension: "rampart".to_owned(),
        });
    }
    match entities {
        Some(file) => watched.push(Watched::File(file.to_path_buf())),
        None if !path.is_file() => watched.push(Watched::File(path.join("entities.json"))),
        None => {}
    }
    watched
}

fn load_policy(path: &Path, entities: Option<&Path>) -> Result<Policy, String> {
    let engine = if path.is_file() {
        super::load_bundle(path).map_err(|e| e.to_string())?
    } else {
        match policy::load(path) {
            Ok(loaded) => loaded.engine,
            Err(LoadFailure::Cli(error)) => return Err(error.to_string()),
            Err(LoadFailure::Policy(compiled)) => return Err(error_lines(&compiled.diagnostics)),
        }
    };
    let entities = policy::load_entities(&engine, path, entities).map_err(|e| e.to_string())?;
    Ok(Policy { engine, entities })
}

/// The errors among `diagnostics`, one line each: `FILE:LINE:COL: error[CODE]: message`.
fn error_lines(diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let place = match (d.file(), d.primary_span()) {
                (Some(file), Some(span)) => {
                    let (line, column) = file.line_col(span.start);
                    format!("{}:{line}:{column}: ", file.name())
                }
                (Some(file), None) => format!("{}: ", file.name()),
                _ => String::new(),
            };
            format!("{place}error[{}]: {}", d.code(), d.message())
        })
        .collect();
    if lines.is_empty() {
        "the policies have errors".to_owned()
    } else {
        lines.join("\n")
    }
}
