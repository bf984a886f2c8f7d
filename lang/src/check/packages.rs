//! Parsing the files of a policy set, grouping them into packages, resolving imports and
//! pulling in the stdlib packages that are imported (and only those).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use rampart_engine::bundle::PackageId;

use super::{duplicate, with_suggestion, Loc, Program, ProgramFile};
use crate::ast;
use crate::diagnostics::{Diagnostic, SourceFile};
use crate::sources::{stdlib_packages, PolicySet};

/// The packages of a program.
#[derive(Debug, Default)]
pub struct Packages {
    pub list: Vec<PackageInfo>,
    by_name: HashMap<String, PackageId>,
}

/// One package: its name and what it imports.
#[derive(Debug)]
pub struct PackageInfo {
    pub name: String,
    /// Direct imports, in first-import order, without itself.
    pub imports: Vec<PackageId>,
    /// Loaded from the embedded stdlib.
    pub from_stdlib: bool,
}

impl Packages {
    pub fn id(&self, name: &str) -> Option<PackageId> {
        self.by_name.get(name).copied()
    }

    pub fn name(&self, id: PackageId) -> &str {
        self.list.get(id as usize).map_or("", |p| p.name.as_str())
    }

    fn add(&mut self, name: &str, from_stdlib: bool) -> PackageId {
        if let Some(id) = self.id(name) {
            return id;
        }
        let id = PackageId::try_from(self.list.len()).unwrap_or(PackageId::MAX);
        self.list.push(PackageInfo {
            name: name.to_owned(),
            imports: Vec::new(),
            from_stdlib,
        });
        self.by_name.insert(name.to_owned(), id);
        id
    }
}

/// The display name of an embedded stdlib package's file.
pub fn stdlib_file_name(package: &str) -> String {
    format!("<stdlib>/{package}.rampart")
}

/// Parses every file of the set and the stdlib packages they import. `None` when a file
/// does not parse: the program is incomplete, and checking it would report errors that
/// are only echoes of the syntax error.
pub fn load(set: &PolicySet, diags: &mut Vec<Diagnostic>) -> Option<Program> {
    let mut program = Program {
        files: Vec::new(),
        packages: Packages::default(),
    };
    let mut parsed_all = true;
    for (source, parsed) in set.files.iter().zip(parse_all(&set.files)) {
        parsed_all &= add_parsed(&mut program, source.clone(), false, parsed, diags);
    }
    // Resolving imports may append stdlib files, whose imports are resolved in turn.
    let mut next = 0;
    while next < program.files.len() {
        parsed_all &= resolve_imports(&mut program, next, diags);
        next += 1;
    }
    parsed_all.then_some(program)
}

/// Below this many bytes of policy text, files are parsed on the calling thread.
const PARALLEL_PARSE_BYTES: usize = 256 * 1024;
/// At most this many parsing threads.
const MAX_PARSE_THREADS: usize = 8;
/// The parsing threads' stack: the main thread's usual size, since the parser recurses
/// (bounded by the nesting limit).
const PARSE_STACK_BYTES: usize = 8 * 1024 * 1024;

/// Parses `files`, in their order. Files are independent, so a large set is parsed on
/// several threads (each takes the next unparsed file); a thread that cannot be started
/// or does not finish leaves its files to the calling thread, so the result is always
/// the same as parsing one after another.
fn parse_all(files: &[SourceFile]) -> Vec<Result<ast::File, Diagnostic>> {
    let bytes: usize = files.iter().map(|f| f.text().len()).sum();
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(MAX_PARSE_THREADS)
        .min(files.len());
    let mut slots: Vec<Option<Result<ast::File, Diagnostic>>> = Vec::new();
    slots.resize_with(files.len(), || None);
    if threads > 1 && bytes >= PARALLEL_PARSE_BYTES {
        let next = AtomicUsize::new(0);
        let worker = || {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(file) = files.get(i) else {
                    return done;
                };
                done.push((i, crate::parser::parse(file)));
            }
        };
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .filter_map(|_| {
                    std::thread::Builder::new()
                        .stack_size(PARSE_STACK_BYTES)
                        .spawn_scoped(scope, worker)
                        .ok()
                })
                .collect();
            for handle in handles {
                for (i, parsed) in handle.join().unwrap_or_default() {
                    if let Some(slot) = slots.get_mut(i) {
                        *slot = Some(parsed);
                    }
                }
            }
        });
    }
    files
        .iter()
        .zip(slots)
        .map(|(file, slot)| slot.unwrap_or_else(|| crate::parser::parse(file)))
        .collect()
}

/// Parses one file and adds it to its package; `false` when it does not parse.
fn add_file(
    program: &mut Program,
    source: SourceFile,
    from_stdlib: bool,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    let parsed = crate::parser::parse(&source);
    add_parsed(program, source, from_stdlib, parsed, diags)
}

/// Adds a parsed file to its package; `false` when it did not parse.
fn add_parsed(
    program: &mut Program,
    source: SourceFile,
    from_stdlib: bool,
    parsed: Result<ast::File, Diagnostic>,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    match parsed {
        Ok(ast) => {
            let package = program.packages.add(&ast.package.dotted(), from_stdlib);
            program.files.push(ProgramFile {
                source,
                ast,
                package,
                from_stdlib,
                aliases: HashMap::new(),
            });
            true
        }
        Err(diag) => {
            diags.push(missing_package_line(&source, diag));
            false
        }
    }
}

/// Resolves the imports of one file; `false` when an imported stdlib file does not parse.
fn resolve_imports(program: &mut Program, file_id: usize, diags: &mut Vec<Diagnostic>) -> bool {
    let Some(file) = program.files.get(file_id) else {
        return true;
    };
    let imports = file.ast.imports.clone();
    let own_package = file.package;
    let mut parsed_all = true;
    let mut alias_locs: HashMap<String, Loc> = HashMap::new();
    for import in &imports {
        let name = import.path.dotted();
        let target = match program.packages.id(&name) {
            Some(id) => id,
            None => match stdlib_packages().iter().find(|(n, _)| *n == name) {
                Some((pkg, text)) => {
                    let source = SourceFile::in_memory(&stdlib_file_name(pkg), text);
                    parsed_all &= add_file(program, source, true, diags);
                    check_stdlib_package_line(program, pkg, diags);
                    match program.packages.id(&name) {
                        Some(id) => id,
                        None => continue,
                    }
                }
                None => {
                    diags.push(unknown_package(program, file_id, import, &name));
                    continue;
                }
            },
        };
        let local = import.local_name().to_owned();
        let here = Loc {
            file: file_id,
            span: import.alias.as_ref().map_or(import.path.span, |a| a.span),
        };
        if let Some(first) = alias_locs.get(&local) {
            diags.push(duplicate(
                program,
                "E010",
                format!("duplicate import name `{local}`"),
                here,
                *first,
            ));
            continue;
        }
        alias_locs.insert(local.clone(), here);
        if let Some(file) = program.files.get_mut(file_id) {
            file.aliases.insert(local, target);
        }
        if target != own_package {
            if let Some(pkg) = program.packages.list.get_mut(own_package as usize) {
                if !pkg.imports.contains(&target) {
                    pkg.imports.push(target);
                }
            }
        }
    }
    parsed_all
}

fn unknown_package(
    program: &Program,
    file_id: usize,
    import: &crate::ast::Import,
    name: &str,
) -> Diagnostic {
    let diag = Diagnostic::error("E002", format!("unknown package `{name}`")).with_label(
        import.path.span,
        "no such package in the policy folder or the stdlib",
    );
    let mut candidates: Vec<&str> = program
        .packages
        .list
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    candidates.extend(stdlib_packages().iter().map(|(n, _)| *n));
    let fallback = if name.starts_with("std.") {
        let names: Vec<&str> = stdlib_packages().iter().map(|(n, _)| *n).collect();
        Some(format!("the stdlib has: {}", names.join(", ")))
    } else {
        Some(
            "an import names a package declared by a file of the policy folder, or `std.*`"
                .to_owned(),
        )
    };
    program.in_file(file_id, with_suggestion(diag, name, candidates, fallback))
}

/// The stdlib file registered as `package` must declare that package.
fn check_stdlib_package_line(program: &Program, package: &str, diags: &mut Vec<Diagnostic>) {
    let Some(file) = program.files.last() else {
        return;
    };
    if !file.from_stdlib || file.source.name() != stdlib_file_name(package) {
        return;
    }
    let declared = file.ast.package.dotted();
    if declared != package {
        let diag = Diagnostic::error(
            "E019",
            format!("package mismatch: expected `{package}`, found `{declared}`"),
        )
        .with_label(file.ast.package.span, "declared here")
        .with_help(format!(
            "the stdlib file of `{package}` must start with `package {package}`"
        ));
        diags.push(diag.in_file(&file.source));
    }
}

/// A syntax error at the very start of a file that does not begin with `package` is
/// reported as a missing package line (E019).
fn missing_package_line(source: &SourceFile, diag: Diagnostic) -> Diagnostic {
    if diag.code() != "E001" || first_word(source.text()) == Some("package") {
        return diag;
    }
    let at = first_token_offset(source.text());
    Diagnostic::error("E019", "missing `package` line")
        .with_label(
            crate::ast::Span::new(at, at),
            "expected `package NAME` here",
        )
        .with_help("every file starts with `package NAME`, for example `package payments`")
        .in_file(source)
}

/// Byte offset of the first character that is not whitespace or part of a `//` comment.
fn first_token_offset(text: &str) -> usize {
    let mut rest = text;
    loop {
        let trimmed = rest.trim_start();
        if let Some(comment) = trimmed.strip_prefix("//") {
            rest = comment.split_once('\n').map_or("", |(_, after)| after);
        } else {
            return text.len() - trimmed.len();
        }
    }
}

fn first_word(text: &str) -> Option<&str> {
    let rest = text.get(first_token_offset(text)..)?;
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    rest.get(..end).filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_on_threads_gives_what_parsing_in_turn_gives() {
        let rules: String = (0..1500)
            .map(|i| format!("@id(\"r{i}\")\nallow \"a{i}\" when principal.ok\n\n"))
            .collect();
        let mut files: Vec<SourceFile> = (0..6)
            .map(|n| {
                SourceFile::in_memory(
                    &format!("f{n}.rampart"),
                    &format!("package p{n}\n\n{rules}"),
                )
            })
            .collect();
        files.push(SourceFile::in_memory("bad.rampart", "package bad\nallow ("));
        let bytes: usize = files.iter().map(|f| f.text().len()).sum();
        assert!(bytes >= PARALLEL_PARSE_BYTES, "{bytes}");
        let parsed = parse_all(&files);
        assert_eq!(parsed.len(), files.len());
        for (file, got) in files.iter().zip(&parsed) {
            match (crate::parser::parse(file), got) {
                (Ok(want), Ok(got)) => {
                    assert_eq!(&want, got);
                }
                (Err(want), Err(got)) => assert_eq!(want.render_plain(), got.render_plain()),
                _ => panic!("`{}` parsed differently on a thread", file.name()),
            }
        }
        assert!(parsed.last().is_some_and(Result::is_err));
    }

    #[test]
    fn finds_the_first_word_after_comments() {
        assert_eq!(first_word("// hi\n  // there\n package x"), Some("package"));
        assert_eq!(first_word("schema {}"), Some("schema"));
        assert_eq!(first_word("// only a comment"), None);
        assert_eq!(first_token_offset("  x"), 2);
    }
}
