//! Invariants on every policy file in the repository (examples, stdlib, corpus, ui/ok):
//! formatting is idempotent and re-parses to the same syntax tree, and a formatted file
//! keeps every comment.

use std::path::{Path, PathBuf};

use rampart_lang::{format_file, parse, SourceFile};
use rampart_tests::{tests_dir, workspace_dir};

fn rampart_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rampart_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rampart") {
            out.push(path);
        }
    }
}

#[test]
fn fmt_is_idempotent_and_preserves_the_tree_on_every_fixture() {
    let root = workspace_dir();
    let mut files = Vec::new();
    for dir in [
        root.join("examples"),
        root.join("stdlib"),
        tests_dir().join("conformance"),
        tests_dir().join("ui/ok"),
    ] {
        rampart_files(&dir, &mut files);
    }
    files.sort();
    assert!(!files.is_empty(), "no fixtures found");
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        let Ok(text) = std::fs::read_to_string(path) else {
            failures.push(format!("{name}: unreadable"));
            continue;
        };
        let original = match parse(&SourceFile::new(path, &name, text.clone())) {
            Ok(ast) => ast,
            Err(d) => {
                failures.push(format!("{name}: does not parse:\n{}", d.render_plain()));
                continue;
            }
        };
        let once = format_file(&original);
        let reparsed = match parse(&SourceFile::new(path, &name, once.clone())) {
            Ok(ast) => ast,
            Err(d) => {
                failures.push(format!(
                    "{name}: formatted text does not parse:\n{}\n{once}",
                    d.render_plain()
                ));
                continue;
            }
        };
        if reparsed.items != original.items
            || reparsed.imports != original.imports
            || reparsed.package != original.package
        {
            failures.push(format!("{name}: formatting changed the syntax tree"));
        }
        let comments = |ast: &rampart_lang::ast::File| -> Vec<String> {
            ast.comments
                .iter()
                .map(|c| c.text.trim().to_owned())
                .collect()
        };
        if comments(&reparsed) != comments(&original) {
            failures.push(format!("{name}: formatting lost or reordered comments"));
        }
        let twice = format_file(&reparsed);
        if twice != once {
            failures.push(format!("{name}: formatting is not idempotent"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture failures:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
