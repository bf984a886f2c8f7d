//! The file watcher: polls the size and modification time of the files a policy is loaded
//! from, and reloads once a change has settled.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::reload_in_task;
use super::Trigger;
use crate::state::State;

/// The most files a watched folder may hold; more are not watched.
const MAX_WATCHED_FILES: usize = 10_000;

/// A path whose changes trigger a reload. A change is a file that appears, disappears, or
/// changes size or modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watched {
    /// One file (it may not exist yet).
    File(PathBuf),
    /// The files with this extension under a folder, recursively; hidden entries and
    /// folders named `target` are skipped, symbolic links to folders not followed.
    Folder { root: PathBuf, extension: String },
}

/// Checks the watched paths every `interval` and reloads once a change has settled: the
/// files looked the same at two checks in a row (so a file half-written by an editor is
/// not loaded). A change that another trigger reloaded meanwhile is not loaded again, and
/// one that fails to load is not retried until the files change again.
pub async fn watch_files(
    state: Arc<State>,
    watched: Vec<Watched>,
    mut loaded: Vec<FileStamp>,
    interval: Duration,
) {
    let Some(reloader) = state.reloader() else {
        return;
    };
    let watched = Arc::new(watched);
    let look = |watched: &Arc<Vec<Watched>>| {
        let watched = Arc::clone(watched);
        tokio::task::spawn_blocking(move || fingerprint(&watched))
    };
    // A change seen once, and how many reloads had started when it was seen.
    let mut pending: Option<(Vec<FileStamp>, u64)> = None;
    loop {
        tokio::time::sleep(interval).await;
        if state.is_shutting_down() {
            break;
        }
        let Ok(now) = look(&watched).await else {
            break;
        };
        if now == loaded {
            pending = None;
            continue;
        }
        match pending.take() {
            Some((seen, runs)) if seen == now => {
                loaded = now;
                // A reload that started after the change was seen has read these files.
                if reloader.runs() == runs {
                    reload_in_task(&state, Trigger::FileChange).await;
                }
            }
            _ => pending = Some((now, reloader.runs())),
        }
    }
}

/// What is known of one watched file: size and modification time, `None` when missing.
pub type FileStamp = (PathBuf, Option<(u64, Option<SystemTime>)>);

/// The stamps of every watched file, in a stable order.
pub fn fingerprint(watched: &[Watched]) -> Vec<FileStamp> {
    let mut stamps = Vec::new();
    for item in watched {
        match item {
            Watched::File(path) => stamps.push(stamp(path)),
            Watched::Folder { root, extension } => {
                let mut files = Vec::new();
                collect(root, extension, &mut files);
                files.sort();
                stamps.extend(files.iter().map(|f| stamp(f)));
            }
        }
    }
    stamps
}

fn stamp(path: &Path) -> FileStamp {
    let meta = std::fs::metadata(path).ok();
    (
        path.to_path_buf(),
        meta.map(|m| (m.len(), m.modified().ok())),
    )
}

/// The files with `extension` under `dir`, recursively (bounded by [`MAX_WATCHED_FILES`]).
fn collect(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if out.len() >= MAX_WATCHED_FILES {
            return;
        }
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if name != "target" {
                collect(&path, extension, out);
            }
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_fingerprint_changes_with_its_policy_files_only() {
        let dir = std::env::temp_dir().join(format!("rampart-reload-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let sub = dir.join("sub");
        std::fs::create_dir_all(&sub).unwrap_or_else(|e| panic!("{e}"));
        let write = |path: PathBuf, text: &str| {
            std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
        };
        write(dir.join("a.rampart"), "package a");
        let watched = vec![
            Watched::Folder {
                root: dir.clone(),
                extension: "rampart".into(),
            },
            Watched::File(dir.join("entities.json")),
        ];
        let before = fingerprint(&watched);
        write(dir.join("decisions.jsonl"), "{}\n");
        std::fs::create_dir_all(dir.join(".git")).unwrap_or_else(|e| panic!("{e}"));
        write(dir.join(".git").join("x.rampart"), "ignored");
        assert_eq!(fingerprint(&watched), before);

        write(sub.join("b.rampart"), "package b");
        let added = fingerprint(&watched);
        assert_ne!(added, before);
        write(dir.join("entities.json"), "[]");
        let with_entities = fingerprint(&watched);
        assert_ne!(with_entities, added);
        write(sub.join("b.rampart"), "package b // longer");
        assert_ne!(fingerprint(&watched), with_entities);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
