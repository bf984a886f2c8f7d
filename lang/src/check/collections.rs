//! Set and record literals; a record literal is a map where a `Map<T>` is expected, and
//! a partial record (a subset of the fields) in test data.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use rampart_engine::bundle::Expr;
use rampart_engine::Value;

use super::attrs::field_list;
use super::expr::{ExprCx, Place, Typed};
use super::fold;
use super::types::{join, FieldTy, RecordTy, Type};
use super::with_suggestion;
use crate::ast::{self, Span, StrLit};
use crate::diagnostics::Diagnostic;

impl ExprCx<'_> {
    pub(super) fn set(&mut self, items: &[ast::Expr], expected: Option<&Type>) -> Typed {
        let hint = expected.and_then(Type::set_elem).cloned();
        let mut elem: Option<Type> = None;
        let mut irs = Vec::with_capacity(items.len());
        for item in items {
            let item_hint = elem.clone().or_else(|| hint.clone());
            let typed = self.check(item, item_hint.as_ref());
            irs.push(typed.ir);
            elem = match elem {
                None => Some(typed.ty),
                Some(so_far) => match join(&so_far, &typed.ty) {
                    Some(t) => Some(t),
                    None => {
                        let want = self.describe(&so_far);
                        self.mismatch(
                            item.span,
                            &want,
                            &typed.ty,
                            Some("the elements of a set all have one type"),
                        );
                        Some(Type::Error)
                    }
                },
            };
        }
        let elem = elem.or(hint).unwrap_or(Type::Error);
        Typed::new(Type::set_of(elem), fold::set(irs))
    }

    pub(super) fn record(
        &mut self,
        e: &ast::Expr,
        fields: &[(StrLit, ast::Expr)],
        expected: Option<&Type>,
    ) -> Typed {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for (key, _) in fields {
            if let Some(first) = seen.get(key.value.as_str()) {
                let diag = Diagnostic::error("E010", format!("duplicate field `{}`", key.value))
                    .with_label(key.span, "declared again here")
                    .with_secondary(*first, "first declared here");
                self.report(diag);
            } else {
                seen.insert(&key.value, key.span);
            }
        }
        match expected {
            Some(Type::Map(elem)) => self.map_literal(e, fields, elem),
            Some(Type::Record(record)) if self.env.place == Place::TestData => {
                self.partial_record(fields, record)
            }
            _ => {
                let hint = match expected {
                    Some(Type::Record(r)) => Some(r.clone()),
                    _ => None,
                };
                let mut types = BTreeMap::new();
                let mut irs = Vec::new();
                for (key, value) in fields {
                    let field_hint = hint
                        .as_ref()
                        .and_then(|r| r.get(&key.value))
                        .map(|f| f.ty.clone());
                    let typed = self.check(value, field_hint.as_ref());
                    types.insert(key.value.clone(), FieldTy::new(typed.ty, false));
                    irs.push((self.symbols.intern(&key.value), typed.ir));
                }
                Typed::new(
                    Type::Record(Rc::new(RecordTy { fields: types })),
                    fold::record(irs),
                )
            }
        }
    }

    /// A record literal where a `Map<T>` is expected: constant string-keyed data.
    pub(super) fn map_literal(
        &mut self,
        e: &ast::Expr,
        fields: &[(StrLit, ast::Expr)],
        elem: &Type,
    ) -> Typed {
        let mut map = BTreeMap::new();
        let mut constant = true;
        for (key, value) in fields {
            let typed = self.check(value, Some(elem));
            let typed = self.expect(typed, elem, value.span);
            match typed.ir {
                Expr::Const(v) => {
                    map.insert(Arc::from(key.value.as_str()), v);
                }
                _ => constant = false,
            }
        }
        if !constant {
            let diag = Diagnostic::error("E006", "a map literal must be constant")
                .with_label(e.span, "uses values known only at request time")
                .with_help("compare single keys instead: `m[\"key\"] == value`");
            self.report(diag);
            return Typed::error();
        }
        Typed::value(Type::Map(Box::new(elem.clone())), Value::Map(Arc::new(map)))
    }

    /// A record literal in test data: a subset of the expected fields, each of its type.
    pub(super) fn partial_record(
        &mut self,
        fields: &[(StrLit, ast::Expr)],
        record: &Rc<RecordTy>,
    ) -> Typed {
        let mut irs = Vec::new();
        for (key, value) in fields {
            let Some(field) = record.get(&key.value) else {
                let base = Diagnostic::error("E005", format!("unknown field `{}`", key.value))
                    .with_label(key.span, "not declared in the schema");
                let all = format!("the fields are: {}", field_list(record));
                let diag = with_suggestion(
                    base,
                    &key.value,
                    record.fields.keys().map(String::as_str),
                    Some(all),
                );
                self.report(diag);
                continue;
            };
            let typed = self.check(value, Some(&field.ty));
            let typed = self.expect(typed, &field.ty, value.span);
            irs.push((self.symbols.intern(&key.value), typed.ir));
        }
        Typed::new(Type::Record(record.clone()), fold::record(irs))
    }
}
