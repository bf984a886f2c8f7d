//! `rampart import cedar POLICIES --schema S [--entities E] -o DIR`.
//!
//! Cedar is read with the `cedar-policy` crate: policies with `PolicySet::from_str` and
//! translated from their JSON EST (`Policy::to_json`), the schema (Cedar schema text or
//! JSON) through `SchemaFragment`'s JSON form. The Rampart text is formatted with
//! `rampart fmt`'s formatter, compiled in memory, and the entity data loaded against the
//! compiled schema by the engine; only when all of that succeeds is anything written.
//!
//! **All or nothing:** a construct without a Rampart form is an error naming the policy and
//! the construct; every such error is listed, and DIR is not written (exit 1). A folder half
//! translated would decide differently from the Cedar it came from without saying where.

mod entities;
mod expr;
mod names;
mod policy;
mod schema;
mod values;

use std::path::Path;
use std::str::FromStr;

use rampart_lang::{compile, format_source, PolicySet, SourceFile};

use crate::args::ImportCedarArgs;
use crate::exit::{CliError, FAILURE, OK};
use crate::input::{self, Input};
use crate::output;

use schema::CedarSchema;

/// The header of every file written.
const HEADER: &str = "// Imported from Cedar by `rampart import cedar` (docs/cedar.md).";

/// The one place where the semantics always differ, said once in the rules file.
const FAIL_CLOSED: &str = "\
// cedar: evaluation errors. Cedar skips a policy whose condition errors (a missing
// cedar: attribute, an overflow); Rampart fails closed: an error in a `deny` (a Cedar
// cedar: `forbid`) makes it apply and deny the request. An error in an `allow` (`permit`)
// cedar: makes it not apply, as in Cedar. Each `deny` whose condition can error says so.";

/// The stack of the thread that imports: cedar-policy parses, converts and drops
/// expressions recursively, so a policy of a few thousand conjuncts needs more than the main
/// thread's 8 MiB (in debug builds especially). Only touched pages are ever committed.
const STACK_BYTES: usize = 512 * 1024 * 1024;

/// How deeply brackets may nest in the Cedar text before it is refused unparsed (exit 2):
/// Rampart's own limit is 64, so nothing deeper could be translated anyway.
const MAX_BRACKET_DEPTH: usize = 256;

pub fn run(args: &ImportCedarArgs) -> Result<u8, CliError> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("import-cedar".to_owned())
            .stack_size(STACK_BYTES)
            .spawn_scoped(scope, || import(args))
            .map_err(|e| CliError::Input(format!("cannot start the import: {e}")))?
            .join()
            .map_err(|_| CliError::Input("the import failed unexpectedly".to_owned()))?
    })
}

fn import(args: &ImportCedarArgs) -> Result<u8, CliError> {
    let policy_text = input::read(&args.policies, Input::Cedar)?;
    let schema_text = input::read(&args.schema, Input::Cedar)?;
    let entity_items = match &args.entities {
        Some(path) => Some(crate::policy::read_entity_items(path)?),
        None => None,
    };
    check_out_dir(&args.out)?;
    for (path, text) in [(&args.policies, &policy_text), (&args.schema, &schema_text)] {
        if bracket_depth(text) > MAX_BRACKET_DEPTH {
            return Err(CliError::Input(format!(
                "`{}` nests brackets more than {MAX_BRACKET_DEPTH} deep: refused unparsed",
                path.display()
            )));
        }
    }

    let policies = cedar_policy::PolicySet::from_str(&policy_text).map_err(|errors| {
        CliError::Input(format!(
            "`{}` is not valid Cedar: {}",
            args.policies.display(),
            errors
                .iter()
                .map(|e| located(e, &policy_text))
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })?;
    let schema_json = schema_json(&args.schema, &schema_text)?;

    let mut failures: Vec<String> = Vec::new();
    let schema = match CedarSchema::from_json(&schema_json) {
        Ok(schema) => Some(schema),
        Err(errors) => {
            failures.extend(errors.into_iter().map(|e| format!("schema: {e}")));
            None
        }
    };
    let mut rules: Vec<String> = Vec::new();
    let mut count = 0usize;
    if let Some(schema) = &schema {
        for item in ordered(&policies) {
            count += 1;
            match item {
                Item::Template(id) => failures.push(format!(
                    "policy `{id}`: templates are not supported yet (a policy with `?principal` or `?resource`)"
                )),
                Item::Policy(p) => {
                    let id = p
                        .annotation("id")
                        .map_or_else(|| p.id().to_string(), str::to_owned);
                    let translated = p
                        .to_json()
                        .map_err(|e| e.to_string())
                        .and_then(|est| policy::translate(&est, &id, schema));
                    match translated {
                        Ok(rule) => rules.push(rule),
                        Err(construct) => failures.push(format!("policy `{id}`: {construct}")),
                    }
                }
            }
        }
    }
    let converted = match (&schema, entity_items) {
        (Some(schema), Some(items)) => match entities::convert(items, schema) {
            Ok(c) => Some(c),
            Err(errors) => {
                failures.extend(errors.into_iter().map(|e| format!("entities: {e}")));
                None
            }
        },
        _ => None,
    };
    let Some(schema) = schema else {
        return Ok(report_failures(&failures));
    };
    if !failures.is_empty() {
        return Ok(report_failures(&failures));
    }

    let package = schema.ns.package();
    let schema_file = format!(
        "package {package}\n\n{HEADER}\n// The schema of `{}`.\n\n{}",
        file_name(&args.schema),
        schema.to_rampart()
    );
    let mut policies_file = format!(
        "package {package}\n\n{HEADER}\n// The policies of `{}`, in their order.\n//\n{FAIL_CLOSED}\n",
        file_name(&args.policies)
    );
    for rule in &rules {
        policies_file.push('\n');
        policies_file.push_str(rule);
    }
    let files = [
        ("schema.rampart", schema_file),
        ("policies.rampart", policies_file),
    ];
    let mut sources = Vec::new();
    for (name, text) in files {
        let path = args.out.join(name);
        match format_source(&SourceFile::new(&path, path.display().to_string(), text)) {
            Ok(formatted) => sources.push(SourceFile::new(
                &path,
                path.display().to_string(),
                formatted,
            )),
            Err(diag) => {
                output::print_human(&[diag]);
                eprintln!(
                    "error: the Rampart translation does not parse (above): it is beyond a limit of the language; nothing was written"
                );
                return Ok(FAILURE);
            }
        }
    }

    let set = PolicySet::from_files(args.out.clone(), sources.clone());
    let compiled = compile(&set);
    if compiled.has_errors() {
        output::print_human(&compiled.diagnostics);
        eprintln!(
            "error: the Rampart translation does not compile (above): Rampart checks types as Cedar's validator does, and this Cedar does not pass; nothing was written"
        );
        return Ok(FAILURE);
    }
    let mut entities_json = None;
    if let (Some(converted), Some(bundle)) = (&converted, compiled.bundle.clone()) {
        let engine = rampart_engine::Engine::new(bundle)
            .map_err(|e| CliError::Input(format!("cannot load the compiled bundle: {e}")))?;
        if let Err(e) = engine.entities_from_values(&converted.items) {
            eprintln!(
                "error: entities: `{}` does not load against the imported schema: {e}; nothing was written",
                args.entities.as_deref().map(file_name).unwrap_or_default()
            );
            return Ok(FAILURE);
        }
        let text = serde_json::to_string_pretty(&converted.items)
            .map_err(|e| CliError::Input(e.to_string()))?;
        entities_json = Some(text + "\n");
    }

    write_all(&args.out, &sources, entities_json.as_deref())?;
    let warnings = compiled.diagnostics.len();
    if warnings > 0 {
        output::print_human(&compiled.diagnostics);
    }
    let mut summary = format!(
        "imported {count} polic{} into `{}`: schema.rampart, policies.rampart",
        if count == 1 { "y" } else { "ies" },
        args.out.display()
    );
    if let Some(converted) = &converted {
        summary.push_str(&format!(
            ", entities.json ({} entities",
            converted.items.len()
        ));
        if converted.dropped_actions > 0 {
            summary.push_str(&format!(
                "; {} `Action` entities dropped: Rampart's actions are declared in the schema",
                converted.dropped_actions
            ));
        }
        summary.push(')');
    }
    if warnings > 0 {
        summary.push_str(&format!(
            "; {warnings} warning{} (above)",
            if warnings == 1 { "" } else { "s" }
        ));
    }
    eprintln!("{summary}");
    Ok(OK)
}

/// Prints every construct that could not be translated; exit 1.
fn report_failures(failures: &[String]) -> u8 {
    for failure in failures {
        eprintln!("error: {failure}");
    }
    eprintln!(
        "error: {} construct{} cannot be translated; nothing was written",
        failures.len(),
        if failures.len() == 1 { "" } else { "s" }
    );
    FAILURE
}

/// A policy or a template, in the order of the Cedar file.
enum Item<'a> {
    Policy(&'a cedar_policy::Policy),
    Template(String),
}

/// The policies and templates of the set in file order: `PolicySet::from_str` names them
/// `policy0`, `policy1`, … in that order.
fn ordered(set: &cedar_policy::PolicySet) -> Vec<Item<'_>> {
    let index = |id: &str| -> u64 {
        id.strip_prefix("policy")
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX)
    };
    let mut items: Vec<(u64, Item<'_>)> = set
        .policies()
        .map(|p| (index(p.id().as_ref()), Item::Policy(p)))
        .chain(
            set.templates()
                .map(|t| (index(t.id().as_ref()), Item::Template(t.id().to_string()))),
        )
        .collect();
    items.sort_by_key(|(i, _)| *i);
    items.into_iter().map(|(_, item)| item).collect()
}

/// The schema's JSON form: read as JSON when the file ends in `.json`, else as Cedar
/// schema text; validated by cedar-policy either way.
fn schema_json(path: &Path, text: &str) -> Result<serde_json::Value, CliError> {
    let invalid = |e: String| {
        CliError::Input(format!(
            "`{}` is not a valid Cedar schema: {e}",
            path.display()
        ))
    };
    // The whole schema is built first: it checks what a fragment leaves open (that every
    // type named exists, that action groups are declared).
    let fragment = if path.extension().is_some_and(|e| e == "json") {
        cedar_policy::Schema::from_json_str(text).map_err(|e| invalid(e.to_string()))?;
        cedar_policy::SchemaFragment::from_json_str(text).map_err(|e| invalid(e.to_string()))?
    } else {
        let _checked = cedar_policy::Schema::from_cedarschema_str(text)
            .map_err(|e| invalid(located(&e, text)))?;
        cedar_policy::SchemaFragment::from_cedarschema_str(text)
            .map_err(|e| invalid(located(&e, text)))?
            .0
    };
    fragment.to_json_value().map_err(|e| invalid(e.to_string()))
}

/// The deepest nesting of `(`, `[` and `{` outside strings and comments.
fn bracket_depth(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => {
                depth += 1;
                max = max.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// A Cedar error's message, with the line and column of its first label.
fn located(error: &dyn miette::Diagnostic, text: &str) -> String {
    let at = error
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| label.offset());
    match at.and_then(|offset| text.get(..offset)) {
        Some(before) => {
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("{error} (line {line}, column {column})")
        }
        None => error.to_string(),
    }
}

/// Refuses an output folder that exists and is not empty (exit 2): the import never mixes
/// its files with others.
fn check_out_dir(dir: &Path) -> Result<(), CliError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(CliError::Input(format!(
                    "`{}` is not empty: give a new or empty folder",
                    dir.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(CliError::Read {
            path: dir.display().to_string(),
            source,
        }),
    }
}

fn write_all(dir: &Path, sources: &[SourceFile], entities: Option<&str>) -> Result<(), CliError> {
    let failed = |path: &Path, source| CliError::Write {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| failed(dir, e))?;
    for source in sources {
        std::fs::write(source.path(), source.text()).map_err(|e| failed(source.path(), e))?;
    }
    if let Some(text) = entities {
        let path = dir.join("entities.json");
        std::fs::write(&path, text).map_err(|e| failed(&path, e))?;
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
