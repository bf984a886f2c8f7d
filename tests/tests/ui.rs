//! Golden diagnostics: `tests/ui/err/*.rampart` must fail to compile and
//! `tests/ui/ok/*.rampart` must compile; the rendered diagnostics of each file are compared
//! with the `.stderr` file beside it (an `ok` file without warnings has none). A folder
//! there is one policy set, loaded like `rampart check DIR` loads it (its `rampart.toml`
//! included), with its expected output in `FOLDER.stderr` beside the folder.
//!
//! Run with `RAMPART_BLESS=1` to write the expected files from the current output. A
//! `.stderr` file without its `.rampart` file is stale and fails the run.

use std::path::{Path, PathBuf};

use rampart_lang::{compile, PolicySet, SourceFile};
use rampart_tests::tests_dir;

#[test]
fn ui_err() {
    run_folder("err", true);
}

#[test]
fn ui_ok() {
    run_folder("ok", false);
}

fn run_folder(kind: &str, expect_errors: bool) {
    let dir = tests_dir().join("ui").join(kind);
    let bless = std::env::var_os("RAMPART_BLESS").is_some();
    let mut failures = Vec::new();
    let mut count = 0usize;
    let mut cases = files_with_ext(&dir, "rampart");
    cases.extend(rampart_tests::subdirs(&dir));
    cases.sort();
    for path in cases {
        count += 1;
        let name = format!("{kind}/{}", file_name(&path));
        let rendered = match render(&path, &name) {
            Ok((rendered, has_errors)) => {
                if has_errors != expect_errors {
                    let want = if expect_errors { "errors" } else { "no errors" };
                    failures.push(format!("{name}: expected {want}, got:\n{rendered}"));
                }
                rendered
            }
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let expected_path = expected_file(&path);
        if bless {
            let result = if rendered.is_empty() {
                std::fs::remove_file(&expected_path).or_else(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })
            } else {
                std::fs::write(&expected_path, &rendered)
            };
            if let Err(e) = result {
                failures.push(format!("{name}: cannot bless: {e}"));
            }
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != rendered {
            failures.push(format!(
                "{name}: rendered diagnostics differ from {} (rerun with RAMPART_BLESS=1 to accept)\n--- expected\n{expected}\n--- got\n{rendered}",
                file_name(&expected_path)
            ));
        }
    }
    for stale in files_with_ext(&dir, "stderr") {
        if !stale.with_extension("rampart").is_file() && !stale.with_extension("").is_dir() {
            failures.push(format!(
                "{kind}/{}: stale expected output without its .rampart file",
                file_name(&stale)
            ));
        }
    }
    assert!(count > 0, "no .rampart files in {}", dir.display());
    assert!(
        failures.is_empty(),
        "{} ui failures:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// `case.stderr` beside a file or folder case (`x.rampart` → `x.stderr`, `x/` → `x.stderr`).
fn expected_file(case: &Path) -> PathBuf {
    if case.is_dir() {
        let mut name = case.as_os_str().to_owned();
        name.push(".stderr");
        PathBuf::from(name)
    } else {
        case.with_extension("stderr")
    }
}

/// Compiles one file, or one folder, as a policy set and renders its diagnostics without
/// colour. Files of a folder are named `KIND/FOLDER/FILE` in the output.
fn render(path: &Path, name: &str) -> Result<(String, bool), String> {
    let set = if path.is_dir() {
        let mut set = PolicySet::load(path).map_err(|e| format!("{name}: {e}"))?;
        set.files = set
            .files
            .iter()
            .map(|f| {
                SourceFile::new(
                    f.path(),
                    format!("{name}/{}", f.name()),
                    f.text().to_owned(),
                )
            })
            .collect();
        set
    } else {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
        let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        PolicySet::from_files(root, vec![SourceFile::new(path, name, text)])
    };
    let compiled = compile(&set);
    let has_errors = compiled.diagnostics.iter().any(|d| d.is_error());
    let rendered: String = compiled
        .diagnostics
        .iter()
        .map(|d| d.render_plain())
        .collect();
    Ok((rendered, has_errors))
}

fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == ext))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
