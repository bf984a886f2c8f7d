//! Loading a policy folder.

mod common;

use common::write_dir;
use rampart_lang::PolicySet;

#[test]
fn loads_rampart_files_recursively_sorted_skipping_hidden_and_target() {
    let dir = write_dir(
        "load-tree",
        &[
            ("b.rampart", "package b\n"),
            ("a/z.rampart", "package a\n"),
            ("a.rampart", "package a\n"),
            (".hidden/x.rampart", "package h\n"),
            ("target/y.rampart", "package t\n"),
            ("notes.txt", "not policy"),
        ],
    );
    let set = PolicySet::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = set.files.iter().map(|f| f.name()).collect();
    assert_eq!(names, vec!["a/z.rampart", "a.rampart", "b.rampart"]);
    assert_eq!(set.root, dir);
    assert!(set.diagnostics.is_empty());
}

#[test]
fn a_single_file_is_a_policy_set() {
    let dir = write_dir("load-single", &[("one.rampart", "package one\n")]);
    let set = PolicySet::load(&dir.join("one.rampart")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.files.len(), 1);
    assert_eq!(set.root, dir);
    assert!(PolicySet::load(&dir.join("missing")).is_err());
}

#[test]
fn e017_non_utf8_and_too_large_files_are_diagnostics() {
    let dir = write_dir("load-bad", &[("ok.rampart", "package ok\n")]);
    std::fs::write(dir.join("bad.rampart"), b"package x\n\xff\xfe")
        .unwrap_or_else(|e| panic!("{e}"));
    let big = "// padding\n".repeat(400_000);
    std::fs::write(dir.join("big.rampart"), big).unwrap_or_else(|e| panic!("{e}"));
    let set = PolicySet::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = set.files.iter().map(|f| f.name()).collect();
    assert_eq!(names, vec!["ok.rampart"]);
    let messages: Vec<(&str, &str)> = set
        .diagnostics
        .iter()
        .map(|d| (d.code(), d.message()))
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages.iter().all(|(c, _)| *c == "E017"));
    assert!(messages.iter().any(|(_, m)| m.contains("not valid UTF-8")));
    assert!(messages.iter().any(|(_, m)| m.contains("too large")));
    let compiled = rampart_lang::compile(&set);
    assert!(compiled.bundle.is_none());
    assert_eq!(
        compiled
            .diagnostics
            .iter()
            .filter(|d| d.code() == "E017")
            .count(),
        2
    );
}
