//! Loading a policy set: the `.rampart` files of a folder, and the embedded stdlib.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::ast::Span;
use crate::diagnostics::{Diagnostic, SourceFile};
use crate::input::{self, ReadError};
use crate::project::{Project, PROJECT_FILE};

/// Largest policy file accepted (4 MiB); a larger one is an `E017` diagnostic.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

include!(concat!(env!("OUT_DIR"), "/stdlib.rs"));

/// The stdlib packages embedded in the binary: `(package name, source)`, sorted by file.
pub fn stdlib_packages() -> &'static [(&'static str, &'static str)] {
    STDLIB
}

/// The files of one policy set, sorted by path.
#[derive(Debug, Default)]
pub struct PolicySet {
    /// The policy folder; file names in diagnostics are relative to it.
    pub root: PathBuf,
    pub files: Vec<SourceFile>,
    /// Problems met while reading (`E017`: not UTF-8 or too large; `E023`: a
    /// `rampart.toml` that does not parse); such files are not in `files`.
    pub diagnostics: Vec<Diagnostic>,
    /// The folder's `rampart.toml`, when it has one that parses.
    pub project: Option<Project>,
}

impl PolicySet {
    /// Reads every `*.rampart` file under `dir`, recursively, sorted by path, skipping
    /// `target/` and hidden folders. `dir` may also be a single `.rampart` file.
    pub fn load(dir: &Path) -> Result<PolicySet, io::Error> {
        let meta = fs::metadata(dir)?;
        let (root, paths) = if meta.is_file() {
            if !is_policy_file(dir) {
                let msg = format!("`{}` is not a `.rampart` file or a folder", dir.display());
                return Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
            }
            let root = dir.parent().map(Path::to_path_buf).unwrap_or_default();
            (root, vec![dir.to_path_buf()])
        } else {
            let mut paths = Vec::new();
            collect(dir, &mut paths)?;
            paths.sort();
            (dir.to_path_buf(), paths)
        };
        let mut set = PolicySet {
            root,
            files: Vec::new(),
            diagnostics: Vec::new(),
            project: None,
        };
        for path in paths {
            set.read_file(&path)?;
        }
        if meta.is_dir() {
            set.read_project()?;
        }
        Ok(set)
    }

    /// A set made of files already in memory.
    pub fn from_files(root: PathBuf, files: Vec<SourceFile>) -> PolicySet {
        PolicySet {
            root,
            files,
            diagnostics: Vec::new(),
            project: None,
        }
    }

    /// Reads `rampart.toml` at the root, when there is one.
    fn read_project(&mut self) -> io::Result<()> {
        let path = self.root.join(PROJECT_FILE);
        let bytes = match input::read_file(&path, MAX_FILE_BYTES) {
            Ok(bytes) => bytes,
            Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(ReadError::NotAFile) => return Ok(()),
            Err(ReadError::TooLarge { .. }) => {
                self.diagnostics.push(too_large(&path, PROJECT_FILE));
                return Ok(());
            }
            Err(ReadError::Io(e)) => return Err(e),
            Err(e @ ReadError::NotUtf8 { .. }) => {
                return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
            }
        };
        let text = match String::from_utf8(without_bom(bytes)) {
            Ok(text) => text,
            Err(_) => {
                let file = SourceFile::new(&path, PROJECT_FILE, String::new());
                let diag =
                    Diagnostic::error("E017", format!("file `{PROJECT_FILE}` is not valid UTF-8"))
                        .with_help("the project file is UTF-8 text")
                        .in_file(&file);
                self.diagnostics.push(diag);
                return Ok(());
            }
        };
        match Project::parse(SourceFile::new(&path, PROJECT_FILE, text)) {
            Ok(project) => self.project = Some(project),
            Err(diag) => self.diagnostics.push(diag),
        }
        Ok(())
    }

    fn read_file(&mut self, path: &Path) -> io::Result<()> {
        let name = display_name(&self.root, path);
        let bytes = match input::read_file(path, MAX_FILE_BYTES) {
            Ok(bytes) => bytes,
            Err(ReadError::TooLarge { .. }) => {
                self.diagnostics.push(too_large(path, &name));
                return Ok(());
            }
            Err(ReadError::NotAFile) => {
                let msg = format!("`{}` is not a regular file", path.display());
                return Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
            }
            Err(ReadError::Io(e)) => return Err(e),
            Err(e @ ReadError::NotUtf8 { .. }) => {
                return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
            }
        };
        match String::from_utf8(without_bom(bytes)) {
            Ok(text) => self.files.push(SourceFile::new(path, name, text)),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
                let file = SourceFile::new(path, name.clone(), lossy);
                let diag = Diagnostic::error("E017", format!("file `{name}` is not valid UTF-8"))
                    .with_label(Span::new(at, at + 1), "this byte is not UTF-8")
                    .with_help("policy files are UTF-8 text; re-save the file as UTF-8")
                    .in_file(&file);
                self.diagnostics.push(diag);
            }
        }
        Ok(())
    }
}

/// The bytes of a file without its leading UTF-8 byte order mark, if it has one: editors
/// hide it, so positions count from after it.
fn without_bom(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.starts_with("\u{feff}".as_bytes()) {
        bytes.drain(..3);
    }
    bytes
}

fn too_large(path: &Path, name: &str) -> Diagnostic {
    let file = SourceFile::new(path, name, String::new());
    Diagnostic::error(
        "E017",
        format!(
            "file `{name}` is too large (the limit is {})",
            input::size(MAX_FILE_BYTES)
        ),
    )
    .with_help("split the policies into several files")
    .in_file(&file)
}

fn is_policy_file(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "rampart")
}

/// Collects policy files under `dir`. Hidden entries and `target/` are skipped; symbolic
/// links to folders are not followed (no cycles).
fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if name != "target" {
                collect(&path, out)?;
            }
        } else if is_policy_file(&path) && (kind.is_file() || path.is_file()) {
            out.push(path);
        }
    }
    Ok(())
}

/// The path relative to the root, with `/` separators.
fn display_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.to_string_lossy().replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_relative_with_slashes() {
        let root = Path::new("/p");
        assert_eq!(
            display_name(root, Path::new("/p/a/b.rampart")),
            "a/b.rampart"
        );
        assert_eq!(
            display_name(root, Path::new("/q/c.rampart")),
            "/q/c.rampart"
        );
    }
}
