//! The file watcher: polls the size and modification time of the files a policy is loaded
//! from, and reloads once a change has settled.
//!
//! A change has settled when the files looked the same, contents included, at every check
//! for the settle period (and at two checks at least): a file written slowly, in pieces,
//! is not loaded half-way as long as its writer pauses for less than the settle period.
//! Contents are hashed only while a change is settling, so an idle sidecar reads no file.

use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::reload_in_task;
use super::Trigger;
use crate::files;
use crate::state::State;

/// The most files a watched folder may hold; more are not watched.
const MAX_WATCHED_FILES: usize = 10_000;

/// Files larger than this are compared by size and modification time only.
const MAX_HASHED_BYTES: u64 = 16 << 20;

/// The most bytes one look at the files hashes; files past it are compared by size and
/// modification time only.
const MAX_HASHED_TOTAL: u64 = 64 << 20;

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

/// A change seen and not loaded yet.
struct Pending {
    /// The files as last seen, contents hashed.
    files: Vec<FileStamp>,
    /// When they were first seen so.
    since: Instant,
    /// At how many checks in a row they looked so.
    checks: u32,
    /// How many reloads had started when they were first seen so.
    runs: u64,
}

/// Checks the watched paths every `interval` and reloads once a change has settled (see
/// the module documentation). A change that another trigger reloaded after it settled is
/// not loaded again, and one that fails to load is not retried until the files change
/// again.
pub async fn watch_files(
    state: Arc<State>,
    watched: Vec<Watched>,
    mut loaded: Vec<FileStamp>,
    interval: Duration,
    settle: Duration,
) {
    let Some(reloader) = state.reloader() else {
        return;
    };
    let watched = Arc::new(watched);
    let look = |watched: &Arc<Vec<Watched>>, contents: Contents| {
        let watched = Arc::clone(watched);
        tokio::task::spawn_blocking(move || fingerprint_with(&watched, contents))
    };
    let mut pending: Option<Pending> = None;
    loop {
        tokio::time::sleep(interval).await;
        if state.is_shutting_down() {
            break;
        }
        let Some(mut change) = pending.take() else {
            let Ok(now) = look(&watched, Contents::Skip).await else {
                break;
            };
            if now != loaded {
                let Ok(files) = look(&watched, Contents::Hash).await else {
                    break;
                };
                pending = Some(Pending {
                    files,
                    since: Instant::now(),
                    checks: 1,
                    runs: reloader.runs(),
                });
            }
            continue;
        };
        let Ok(files) = look(&watched, Contents::Hash).await else {
            break;
        };
        if files != change.files {
            // Still being written: the settle period starts again.
            pending = Some(Pending {
                files,
                since: Instant::now(),
                checks: 1,
                runs: reloader.runs(),
            });
            continue;
        }
        change.checks = change.checks.saturating_add(1);
        if change.checks < 2 || change.since.elapsed() < settle {
            pending = Some(change);
            continue;
        }
        loaded = without_contents(change.files);
        // A reload that started after the files took this shape has read them.
        if reloader.runs() == change.runs {
            reload_in_task(&state, Trigger::FileChange).await;
        }
    }
}

/// Whether a fingerprint hashes file contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contents {
    Skip,
    Hash,
}

/// What is known of one watched file: size, modification time and (when asked for) a hash
/// of the contents; `None` when missing.
pub type FileStamp = (PathBuf, Option<(u64, Option<SystemTime>, Option<u64>)>);

/// The stamps of every watched file, in a stable order, without contents.
pub fn fingerprint(watched: &[Watched]) -> Vec<FileStamp> {
    fingerprint_with(watched, Contents::Skip)
}

/// The stamps of every watched file, in a stable order.
pub fn fingerprint_with(watched: &[Watched], contents: Contents) -> Vec<FileStamp> {
    let mut stamps = Vec::new();
    let mut budget = match contents {
        Contents::Hash => Some(MAX_HASHED_TOTAL),
        Contents::Skip => None,
    };
    for item in watched {
        match item {
            Watched::File(path) => stamps.push(stamp(path, &mut budget)),
            Watched::Folder { root, extension } => {
                let mut files = Vec::new();
                collect(root, extension, &mut files);
                files.sort();
                stamps.extend(files.iter().map(|f| stamp(f, &mut budget)));
            }
        }
    }
    stamps
}

fn without_contents(stamps: Vec<FileStamp>) -> Vec<FileStamp> {
    stamps
        .into_iter()
        .map(|(path, seen)| (path, seen.map(|(len, modified, _)| (len, modified, None))))
        .collect()
}

/// The stamp of one file, its contents hashed when it fits in `budget` (what is left of
/// the bytes one look may hash; `None`: contents are not looked at).
fn stamp(path: &Path, budget: &mut Option<u64>) -> FileStamp {
    let meta = std::fs::metadata(path).ok();
    let seen = meta.map(|m| {
        let fits = budget
            .as_mut()
            .filter(|left| m.len() <= MAX_HASHED_BYTES && m.len() <= **left);
        let hash = if let Some(left) = fits {
            *left = left.saturating_sub(m.len());
            // Never blocks: a FIFO or a device is not read (and the reload refuses it).
            files::read_bytes(path, MAX_HASHED_BYTES).ok().map(|bytes| {
                let mut hasher = DefaultHasher::new();
                hasher.write(&bytes);
                hasher.finish()
            })
        } else {
            None
        };
        (m.len(), m.modified().ok(), hash)
    });
    (path.to_path_buf(), seen)
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
        let hashed = fingerprint_with(&watched, Contents::Hash);
        assert_ne!(hashed, before);
        assert_eq!(without_contents(hashed), before);
        write(dir.join("decisions.jsonl"), "{}\n");
        std::fs::create_dir_all(dir.join(".git")).unwrap_or_else(|e| panic!("{e}"));
        write(dir.join(".git").join("x.rampart"), "ignored");
        assert_eq!(fingerprint(&watched), before);

        write(sub.join("b.rampart"), "package b");
        let added = fingerprint(&watched);
        assert_ne!(added, before);
        write(dir.join("entities.json"), "[]");
        let with_entities = fingerprint(&watched);
        // An empty file is stamped alike with and without contents once they are dropped.
        write(sub.join("empty.rampart"), "");
        assert_eq!(
            without_contents(fingerprint_with(&watched, Contents::Hash)),
            fingerprint(&watched)
        );
        assert!(fingerprint(&watched)
            .iter()
            .all(|(_, s)| s.is_some_and(|s| s.2.is_none())));
        std::fs::remove_file(sub.join("empty.rampart")).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(with_entities, added);
        write(sub.join("b.rampart"), "package b // longer");
        assert_ne!(fingerprint(&watched), with_entities);

        // Same size, modification time put back: only the contents tell.
        let path = sub.join("b.rampart");
        let modified = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .unwrap_or_else(|e| panic!("{e}"));
        let (stamps, hashed) = (
            fingerprint(&watched),
            fingerprint_with(&watched, Contents::Hash),
        );
        write(path.clone(), "package c // longer");
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(modified))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fingerprint(&watched), stamps);
        assert_ne!(fingerprint_with(&watched, Contents::Hash), hashed);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
