//! `const` declarations: collected per package, ordered by their dependencies, checked for
//! cycles (E014) and folded to values before any rule is checked.

use std::collections::{HashMap, VecDeque};

use rampart_engine::bundle::{Expr, PackageId};
use rampart_engine::Value;

use super::builtins::VARIABLES;
use super::expr::{Env, ExprCx, Place};
use super::import_params;
use super::schema::SchemaInfo;
use super::symbols::Symbols;
use super::types::Type;
use super::visit::for_each_expr;
use super::{duplicate, FileId, Loc, Program};
use crate::ast::{self, ExprKind};
use crate::diagnostics::Diagnostic;

/// Every const of the program, by package and name.
#[derive(Debug, Default)]
pub struct ConstTable {
    by_package: HashMap<PackageId, HashMap<String, ConstEntry>>,
}

/// One const: where it is declared and its value (`None` when it has an error).
#[derive(Debug)]
pub struct ConstEntry {
    pub loc: Loc,
    pub value: Option<(Type, Value)>,
}

impl ConstTable {
    pub fn get(&self, package: PackageId, name: &str) -> Option<&ConstEntry> {
        self.by_package.get(&package)?.get(name)
    }

    /// Names of the consts of a package (unordered).
    pub fn names(&self, package: PackageId) -> impl Iterator<Item = &str> {
        self.by_package
            .get(&package)
            .into_iter()
            .flat_map(|m| m.keys().map(String::as_str))
    }

    fn insert(&mut self, package: PackageId, name: &str, entry: ConstEntry) {
        self.by_package
            .entry(package)
            .or_default()
            .insert(name.to_owned(), entry);
    }

    fn set_value(&mut self, package: PackageId, name: &str, value: Option<(Type, Value)>) {
        let entry = self
            .by_package
            .get_mut(&package)
            .and_then(|m| m.get_mut(name));
        if let Some(entry) = entry {
            entry.value = value;
        }
    }
}

struct Decl<'p> {
    package: PackageId,
    file: FileId,
    ast: &'p ast::Const,
}

/// Collects, orders and folds every const.
pub fn evaluate(
    program: &Program,
    schema: &SchemaInfo,
    symbols: &mut Symbols,
    diags: &mut Vec<Diagnostic>,
) -> ConstTable {
    let mut table = ConstTable::default();
    let mut decls: Vec<Decl<'_>> = Vec::new();
    let mut index: HashMap<(PackageId, &str), usize> = HashMap::new();
    for (file_id, file) in program.files.iter().enumerate() {
        for item in &file.ast.items {
            let ast::Item::Const(c) = item else { continue };
            let here = Loc {
                file: file_id,
                span: c.name.span,
            };
            if VARIABLES.contains(&c.name.name.as_str()) {
                let diag =
                    Diagnostic::error("E010", format!("`{}` is a builtin name", c.name.name))
                        .with_label(c.name.span, "cannot be declared as a const")
                        .with_help("choose another name");
                diags.push(program.in_file(file_id, diag));
                continue;
            }
            let key = (file.package, c.name.name.as_str());
            if let Some(first) = index.get(&key).and_then(|i| decls.get(*i)) {
                let first = Loc {
                    file: first.file,
                    span: first.ast.name.span,
                };
                diags.push(duplicate(
                    program,
                    "E010",
                    format!("duplicate const `{}`", c.name.name),
                    here,
                    first,
                ));
                continue;
            }
            index.insert(key, decls.len());
            decls.push(Decl {
                package: file.package,
                file: file_id,
                ast: c,
            });
            let entry = ConstEntry {
                loc: here,
                value: None,
            };
            table.insert(file.package, &c.name.name, entry);
        }
    }
    let overrides = import_params::collect(program, &index, diags);
    let deps: Vec<Vec<usize>> = decls
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut deps = dependencies(program, d.file, d.package, &d.ast.value, &index);
            for over in overrides.get(&i).into_iter().flatten() {
                let more =
                    dependencies(program, over.file, over.package, &over.param.value, &index);
                deps.extend(
                    more.into_iter()
                        .filter(|m| !deps.contains(m))
                        .collect::<Vec<_>>(),
                );
            }
            deps
        })
        .collect();
    let order = topological_order(&deps);
    report_cycles(program, &decls, &deps, &order, diags);
    for i in order {
        let Some(decl) = decls.get(i) else { continue };
        let env = Env::constant(Place::Const);
        let typed = {
            let mut cx = ExprCx::new(program, schema, &table, decl.file, symbols, diags, &env);
            cx.check(&decl.ast.value, None)
        };
        let value = match (typed.ty, typed.ir) {
            (Type::Error, _) => None,
            (ty, Expr::Const(v)) => Some((ty, v)),
            _ => {
                let diag = Diagnostic::error(
                    "E014",
                    format!(
                        "const `{}` is not a constant expression",
                        decl.ast.name.name
                    ),
                )
                .with_label(decl.ast.value.span, "needs request or entity data")
                .with_help("entity hierarchy and attribute reads are only known at request time");
                diags.push(program.in_file(decl.file, diag));
                None
            }
        };
        let value = match overrides.get(&i) {
            Some(list) => {
                let mut folding = import_params::Folding {
                    program,
                    schema,
                    table: &table,
                    symbols,
                    diags,
                };
                import_params::apply(&mut folding, &decl.ast.name.name, value, list)
            }
            None => value,
        };
        table.set_value(decl.package, &decl.ast.name.name, value);
    }
    table
}

/// Indexes of the consts an expression of `file` (in `package`) refers to: `name` in its
/// package, `alias.name`.
fn dependencies(
    program: &Program,
    file: FileId,
    package: PackageId,
    value: &ast::Expr,
    index: &HashMap<(PackageId, &str), usize>,
) -> Vec<usize> {
    let aliases = program.file(file).map(|f| &f.aliases);
    let mut out = Vec::new();
    for_each_expr(value, |e| {
        let found = match &e.kind {
            ExprKind::Var(id) => index.get(&(package, id.name.as_str())),
            ExprKind::Attr(base, name) => match &base.kind {
                ExprKind::Var(alias) if !index.contains_key(&(package, alias.name.as_str())) => {
                    aliases
                        .and_then(|a| a.get(&alias.name))
                        .and_then(|pkg| index.get(&(*pkg, name.name.as_str())))
                }
                _ => None,
            },
            _ => None,
        };
        if let Some(i) = found {
            if !out.contains(i) {
                out.push(*i);
            }
        }
    });
    out
}

/// Kahn's algorithm; consts on or behind a cycle are left out.
fn topological_order(deps: &[Vec<usize>]) -> Vec<usize> {
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); deps.len()];
    for (i, ds) in deps.iter().enumerate() {
        for d in ds {
            if let Some(u) = users.get_mut(*d) {
                u.push(i);
            }
        }
    }
    let mut ready: VecDeque<usize> = waiting
        .iter()
        .enumerate()
        .filter(|(_, n)| **n == 0)
        .map(|(i, _)| i)
        .collect();
    let mut order = Vec::new();
    while let Some(i) = ready.pop_front() {
        order.push(i);
        for u in users.get(i).into_iter().flatten() {
            if let Some(n) = waiting.get_mut(*u) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    ready.push_back(*u);
                }
            }
        }
    }
    order
}

/// E014 once per cycle, at the first const of the cycle in declaration order.
fn report_cycles(
    program: &Program,
    decls: &[Decl<'_>],
    deps: &[Vec<usize>],
    order: &[usize],
    diags: &mut Vec<Diagnostic>,
) {
    let mut reported = vec![false; decls.len()];
    for start in 0..decls.len() {
        if order.contains(&start) || reported.get(start).copied().unwrap_or(true) {
            continue;
        }
        let Some(cycle) = cycle_through(deps, start) else {
            continue;
        };
        for i in &cycle {
            if let Some(r) = reported.get_mut(*i) {
                *r = true;
            }
        }
        let names: Vec<&str> = cycle
            .iter()
            .chain(cycle.first())
            .filter_map(|i| decls.get(*i))
            .map(|d| d.ast.name.name.as_str())
            .collect();
        let Some(decl) = decls.get(start) else {
            continue;
        };
        let message = if cycle.len() == 1 {
            format!("const `{}` refers to itself", decl.ast.name.name)
        } else {
            format!(
                "const `{}` is part of a dependency cycle",
                decl.ast.name.name
            )
        };
        let diag = Diagnostic::error("E014", message)
            .with_label(decl.ast.name.span, "its value depends on itself")
            .with_help(format!("cycle: {}", names.join(" → ")));
        diags.push(program.in_file(decl.file, diag));
    }
}

/// A path `start → … → start`, if there is one (breadth-first, shortest).
fn cycle_through(deps: &[Vec<usize>], start: usize) -> Option<Vec<usize>> {
    let mut came_from: HashMap<usize, usize> = HashMap::new();
    let mut queue: VecDeque<usize> = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for next in deps.get(node).into_iter().flatten() {
            if *next == start {
                let mut path = vec![node];
                let mut cur = node;
                while cur != start {
                    cur = *came_from.get(&cur)?;
                    path.push(cur);
                }
                path.reverse();
                return Some(path);
            }
            if !came_from.contains_key(next) {
                came_from.insert(*next, node);
                queue.push_back(*next);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_dependencies_and_leaves_cycles_out() {
        // 0 uses 1; 1 uses nothing; 2 and 3 use each other.
        let deps = vec![vec![1], vec![], vec![3], vec![2]];
        assert_eq!(topological_order(&deps), vec![1, 0]);
        assert_eq!(cycle_through(&deps, 2), Some(vec![2, 3]));
        assert_eq!(cycle_through(&deps, 0), None);
        assert_eq!(cycle_through(&[vec![0]], 0), Some(vec![0]));
    }
}
