//! Helpers shared by the checker's integration tests.
#![allow(dead_code, reason = "each test file uses a different subset")]

use std::path::{Path, PathBuf};

use rampart_lang::{compile, Compiled, Diagnostic, PolicySet, SourceFile};

/// Compiles one in-memory file.
pub fn compile_src(src: &str) -> Compiled {
    compile_files(&[("policy.rampart", src)])
}

/// Compiles several in-memory files.
pub fn compile_files(files: &[(&str, &str)]) -> Compiled {
    let files = files
        .iter()
        .map(|(name, text)| SourceFile::in_memory(name, text))
        .collect();
    compile(&PolicySet::from_files(PathBuf::new(), files))
}

/// Every diagnostic rendered, for assertion messages.
pub fn rendered(c: &Compiled) -> String {
    c.diagnostics.iter().map(Diagnostic::render_plain).collect()
}

/// The errors of a compile.
pub fn errors(c: &Compiled) -> Vec<&Diagnostic> {
    c.diagnostics.iter().filter(|d| d.is_error()).collect()
}

/// Asserts the source compiles without errors and returns the result.
pub fn ok(src: &str) -> Compiled {
    let c = compile_src(src);
    assert!(
        errors(&c).is_empty(),
        "unexpected errors:\n{}",
        rendered(&c)
    );
    assert!(c.bundle.is_some());
    c
}

/// Asserts the source has exactly one error, with `code`, and returns it.
pub fn single_error(src: &str, code: &str) -> Diagnostic {
    let c = compile_src(src);
    let errs = errors(&c);
    assert_eq!(errs.len(), 1, "expected one {code}, got:\n{}", rendered(&c));
    let Some(d) = errs.first() else {
        unreachable!()
    };
    assert_eq!(d.code(), code, "{}", rendered(&c));
    assert!(c.bundle.is_none());
    (*d).clone()
}

/// The error codes of a compile, in order.
pub fn error_codes(src: &str) -> Vec<String> {
    errors(&compile_src(src))
        .iter()
        .map(|d| d.code().to_owned())
        .collect()
}

/// A fresh folder under the test target directory holding `files`.
pub fn write_dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("rampart-lang-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let full = dir.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{}: {e}", parent.display()));
        }
        std::fs::write(&full, text).unwrap_or_else(|e| panic!("{}: {e}", full.display()));
    }
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// A schema most checker tests share.
pub const SCHEMA: &str = r#"package payments

schema {
  entity User    { roles: Set<String>, mfa: Bool, department: String, nick?: String } in [Group]
  entity Group
  entity Service { spiffe_id: String }
  entity Account { owner: User, classification: Class, encrypted_at_rest: Bool, tags: Set<String> }
  enum Class { public, internal, confidential, pci, phi }
  action "payments:read", "payments:write" on Account for User, Service
  action "health:read"
}
"#;

/// `SCHEMA` followed by `rest`.
pub fn with_schema(rest: &str) -> String {
    format!("{SCHEMA}\n{rest}\n")
}

/// `SCHEMA` with `imports` after its package line, followed by `rest`.
pub fn with_imports(imports: &str, rest: &str) -> String {
    let body = SCHEMA.trim_start_matches("package payments\n");
    format!("package payments\n{imports}\n{body}\n{rest}\n")
}
