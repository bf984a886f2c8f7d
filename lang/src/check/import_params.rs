//! Import parameters: `import std.zerotrust with { max_token_lifetime: 1h }`.
//!
//! **Key design decision:** a parameter is an override of a `const` of the imported
//! package, not a copy of its rules. A package is compiled once per policy set, so the
//! override replaces the const's value for the whole set: every rule of the package, and
//! every other package reading `alias.name`, sees the new value. The override takes part
//! in const ordering like the const's own value (it may name the importer's consts), and
//! must be a constant expression of the const's type. Two imports giving the same const
//! different values are an error (E024), since only one value can hold for the set.

use std::collections::HashMap;

use rampart_engine::bundle::{Expr, PackageId};
use rampart_engine::Value;

use super::consts::ConstTable;
use super::expr::{Env, ExprCx, Place};
use super::schema::SchemaInfo;
use super::symbols::Symbols;
use super::types::{conforms, join, Type};
use super::{with_suggestion, FileId, Loc, Program};
use crate::ast;
use crate::diagnostics::Diagnostic;
use crate::fmt::format_expr;

/// One `name: value` of a `with` clause, with the file (and so the package and import
/// names) its value is read in.
#[derive(Debug)]
pub struct Override<'p> {
    pub file: FileId,
    pub package: PackageId,
    pub param: &'p ast::ImportParam,
}

/// The overrides of every import of the program, by the index (in `index`) of the const
/// they set. E024 for a name that is not a const of the imported package, and for a name
/// given twice in one `with` clause.
pub fn collect<'p>(
    program: &'p Program,
    index: &HashMap<(PackageId, &str), usize>,
    diags: &mut Vec<Diagnostic>,
) -> HashMap<usize, Vec<Override<'p>>> {
    let mut out: HashMap<usize, Vec<Override<'p>>> = HashMap::new();
    for (file_id, file) in program.files.iter().enumerate() {
        for import in &file.ast.imports {
            // An unknown package is reported (E002) when imports are resolved.
            let Some(target) = program.packages.id(&import.path.dotted()) else {
                continue;
            };
            let package_name = import.path.dotted();
            let mut seen: HashMap<&str, &ast::ImportParam> = HashMap::new();
            for param in &import.params {
                let name = param.name.name.as_str();
                if let Some(first) = seen.get(name) {
                    let diag = Diagnostic::error(
                        "E024",
                        format!("invalid import parameter: `{name}` is given twice"),
                    )
                    .with_label(param.name.span, "given again here")
                    .with_secondary(first.name.span, "first given here")
                    .with_help("give each parameter once");
                    diags.push(program.in_file(file_id, diag));
                    continue;
                }
                seen.insert(name, param);
                match index.get(&(target, name)) {
                    Some(i) => out.entry(*i).or_default().push(Override {
                        file: file_id,
                        package: file.package,
                        param,
                    }),
                    None => {
                        let candidates: Vec<&str> = index
                            .keys()
                            .filter(|(p, _)| *p == target)
                            .map(|(_, n)| *n)
                            .collect();
                        diags.push(program.in_file(
                            file_id,
                            unknown_param(name, &package_name, param, candidates),
                        ));
                    }
                }
            }
        }
    }
    out
}

fn unknown_param(
    name: &str,
    package: &str,
    param: &ast::ImportParam,
    mut candidates: Vec<&str>,
) -> Diagnostic {
    candidates.sort_unstable();
    let diag = Diagnostic::error(
        "E024",
        format!("invalid import parameter: `{package}` has no const `{name}`"),
    )
    .with_label(param.name.span, "not a const of the imported package");
    let fallback = if candidates.is_empty() {
        format!("`{package}` declares no consts, so it takes no parameters")
    } else {
        format!("its parameters are its consts: {}", candidates.join(", "))
    };
    with_suggestion(diag, name, candidates.iter().copied(), Some(fallback))
}

/// What the const-folding pass shares with [`apply`].
pub struct Folding<'a> {
    pub program: &'a Program,
    pub schema: &'a SchemaInfo,
    pub table: &'a ConstTable,
    pub symbols: &'a mut Symbols,
    pub diags: &'a mut Vec<Diagnostic>,
}

/// The value of a const given overrides: each override is checked (constant, of the
/// const's type) and all must agree; the const keeps its declared type. `default` is the
/// const's own value (`None` when it has an error).
pub fn apply(
    folding: &mut Folding<'_>,
    name: &str,
    default: Option<(Type, Value)>,
    overrides: &[Override<'_>],
) -> Option<(Type, Value)> {
    let declared = default.as_ref().map(|(ty, _)| ty.clone());
    let mut chosen: Option<(Type, Value, &Override<'_>)> = None;
    let mut failed = false;
    for over in overrides {
        let Some((ty, value)) = override_value(folding, name, declared.as_ref(), over) else {
            failed = true;
            continue;
        };
        match &chosen {
            None => chosen = Some((ty, value, over)),
            Some((_, first_value, first)) if *first_value != value => {
                let diag = conflict(folding.program, name, first, over);
                folding.diags.push(diag);
                failed = true;
            }
            Some(_) => {}
        }
    }
    if failed {
        return None;
    }
    // The const keeps its declared type, made precise where the default left it open
    // (an empty set default `[]` takes the element type of the override).
    match (chosen, declared) {
        (Some((ty, value, _)), Some(declared)) => {
            Some((join(&declared, &ty).unwrap_or(declared), value))
        }
        (Some((ty, value, _)), None) => Some((ty, value)),
        (None, _) => default,
    }
}

/// One override, checked: `None` (with a diagnostic) when it is not a constant of the
/// declared type.
fn override_value(
    folding: &mut Folding<'_>,
    name: &str,
    declared: Option<&Type>,
    over: &Override<'_>,
) -> Option<(Type, Value)> {
    let env = Env::constant(Place::ImportParam);
    let value_expr = &over.param.value;
    let (typed, declared_text, found_text) = {
        let mut cx = ExprCx::new(
            folding.program,
            folding.schema,
            folding.table,
            over.file,
            folding.symbols,
            folding.diags,
            &env,
        );
        let hint = declared.filter(|_| cx.needs_hint(value_expr));
        let typed = cx.check(value_expr, hint);
        let declared_text = declared.map(|t| cx.describe(t)).unwrap_or_default();
        let found_text = cx.describe(&typed.ty);
        (typed, declared_text, found_text)
    };
    let value = match (&typed.ty, typed.ir) {
        (Type::Error, _) => return None,
        (_, Expr::Const(v)) => v,
        _ => {
            let diag = Diagnostic::error(
                "E024",
                format!("invalid import parameter: `{name}` is not given a constant value"),
            )
            .with_label(value_expr.span, "needs request or entity data")
            .with_help("a parameter is a literal or an expression over literals and consts");
            folding.diags.push(folding.program.in_file(over.file, diag));
            return None;
        }
    };
    if let Some(declared) = declared {
        if !conforms(&typed.ty, declared) {
            let diag = Diagnostic::error(
                "E024",
                format!(
                    "invalid import parameter: `{name}` is {declared_text}, found {found_text}"
                ),
            )
            .with_label(value_expr.span, format!("this is {found_text}"))
            .with_help(format!(
                "the value must have the type of the const's default value ({declared_text})"
            ));
            folding.diags.push(folding.program.in_file(over.file, diag));
            return None;
        }
    }
    Some((typed.ty, value))
}

/// Two imports give one const different values.
fn conflict(
    program: &Program,
    name: &str,
    first: &Override<'_>,
    second: &Override<'_>,
) -> Diagnostic {
    let first_text = format_expr(&first.param.value);
    let second_text = format_expr(&second.param.value);
    let diag = Diagnostic::error(
        "E024",
        format!(
            "invalid import parameter: conflicting values for `{name}`: `{first_text}` and `{second_text}`"
        ),
    )
    .with_label(second.param.value.span, format!("`{name}` is set to `{second_text}` here"));
    let first_loc = Loc {
        file: first.file,
        span: first.param.value.span,
    };
    let diag = if first.file == second.file {
        diag.with_secondary(first_loc.span, format!("and to `{first_text}` here"))
    } else {
        let (file, line) = program.line_of(first_loc);
        diag.with_help(format!(
            "`{file}` at line {line} sets it to `{first_text}`; a package is compiled once per policy set, so every import must agree"
        ))
    };
    program.in_file(second.file, diag)
}
