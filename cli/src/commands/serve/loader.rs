//! What `rampart serve` hands the sidecar for hot reload: a loader that builds the policy
//! again the way it was built at start (compile the folder or read the bundle, then load
//! the entities), and the files that loader reads.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rampart_engine::{Engine, EntityStore};
use rampart_lang::Diagnostic;
use rampart_sidecar::files::{self, MAX_DATA_FILE_BYTES};
use rampart_sidecar::remote::BundleSlot;
use rampart_sidecar::{Policy, PolicyLoader, Watched};

use crate::policy::{self, LoadFailure};

/// Where the bundle comes from.
pub enum PolicySource {
    /// A policy folder or a bundle file.
    Path(PathBuf),
    /// A remote bundle: the verified bytes its poller keeps in the slot.
    Remote(BundleSlot),
}

/// Where the entities come from.
pub enum EntitySource {
    /// The `--entities` file, or `entities.json` in a policy folder.
    File(Option<PathBuf>),
    /// Remote entity data: the verified bytes its poller keeps in the slot.
    Remote(BundleSlot),
}

/// A loader for `policy` and `entities`. Its error lists each problem on a line of its
/// own. `entities_loaded` says whether the start read an entities file: once one has been
/// read, a reload that finds it missing fails rather than serving without entities.
pub fn policy_loader(
    policy: PolicySource,
    entities: EntitySource,
    entities_loaded: bool,
) -> PolicyLoader {
    let seen = AtomicBool::new(entities_loaded);
    Arc::new(move || load_policy(&policy, &entities, &seen))
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

fn load_policy(
    policy: &PolicySource,
    entities: &EntitySource,
    seen: &AtomicBool,
) -> Result<Policy, String> {
    let engine = match policy {
        PolicySource::Remote(slot) => super::remote::engine_of(slot)?,
        PolicySource::Path(path) if path.is_file() => {
            super::load_bundle(path).map_err(|e| e.to_string())?
        }
        PolicySource::Path(path) => match policy::load(path) {
            Ok(loaded) => loaded.engine,
            Err(LoadFailure::Cli(error)) => return Err(error.to_string()),
            Err(LoadFailure::Policy(compiled)) => return Err(error_lines(&compiled.diagnostics)),
        },
    };
    let required = seen.load(Ordering::SeqCst);
    let (entities, from_file) = entities_of(&engine, policy, entities, required)?;
    if from_file {
        seen.store(true, Ordering::SeqCst);
    }
    Ok(Policy { engine, entities })
}

/// The entities of `entities` for `engine` (see [`load_entities`]); a remote bundle has no
/// folder, so no default entities file.
pub fn entities_of(
    engine: &Engine,
    policy: &PolicySource,
    entities: &EntitySource,
    required: bool,
) -> Result<(EntityStore, bool), String> {
    match (entities, policy) {
        (EntitySource::Remote(slot), _) => {
            let current = super::remote::current(slot);
            let text = std::str::from_utf8(&current.bytes)
                .map_err(|_| "the remote entities are not UTF-8".to_owned())?;
            Ok((
                entities_from_text(engine, text, "the remote entities")?,
                true,
            ))
        }
        (EntitySource::File(file), PolicySource::Path(path)) => {
            load_entities(engine, path, file.as_deref(), required)
        }
        (EntitySource::File(file), PolicySource::Remote(_)) => {
            load_entities(engine, Path::new(""), file.as_deref(), required)
        }
    }
}

/// The entities `rampart serve` decides with: the `--entities` file (`explicit`), else
/// `entities.json` in the policy folder. Also says whether a file was read. Without
/// `--entities`, a folder with no `entities.json` has no entities, unless `required` (one
/// was read before): then its absence is an error, since deleting the data a deny depends
/// on must not lift the deny. A file that is empty, not a regular file, larger than
/// 256 MiB or not a JSON array of entities the schema accepts is an error.
pub fn load_entities(
    engine: &Engine,
    root: &Path,
    explicit: Option<&Path>,
    required: bool,
) -> Result<(EntityStore, bool), String> {
    let default = root.join("entities.json");
    let (path, optional) = match explicit {
        Some(path) => (path, false),
        None if root.is_dir() => (default.as_path(), !required),
        None => return Ok((engine.empty_entities(), false)),
    };
    let shown = path.display();
    let text = match files::read_text(path, MAX_DATA_FILE_BYTES) {
        Ok(text) => text,
        Err(error) if error.is_missing() && optional => {
            return Ok((engine.empty_entities(), false))
        }
        Err(error) if error.is_missing() && explicit.is_none() => {
            return Err(format!(
                "the entities file `{shown}` is missing; it was loaded before, so the old \
                 entities keep serving (write `[]` to serve without entities)"
            ))
        }
        Err(error) => return Err(error.to_string()),
    };
    Ok((
        entities_from_text(engine, &text, &format!("`{shown}`"))?,
        true,
    ))
}

/// Entities from the text of an entities file (`shown` names it in errors).
pub fn entities_from_text(engine: &Engine, text: &str, shown: &str) -> Result<EntityStore, String> {
    if text.trim().is_empty() {
        return Err(format!(
            "the entities file {shown} is empty; it must be a JSON array of entities (`[]` \
             for none)"
        ));
    }
    let items = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(items)) => items,
        Ok(_) => return Err(format!("{shown}: expected a JSON array of entities")),
        Err(e) => return Err(format!("{shown}: invalid JSON: {e}")),
    };
    engine
        .entities_from_values(&items)
        .map_err(|e| format!("{shown}: {e}"))
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
