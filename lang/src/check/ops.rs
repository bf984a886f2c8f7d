//! Operator typing: which operand types each operator accepts and what it yields.

use rampart_engine::bundle::{BinaryOp, Expr};

use super::expr::{ExprCx, Typed};
use super::fold::{self, FoldError};
use super::schema::{unknown_action, SchemaInfo};
use super::types::{comparable, Type};
use crate::ast::{self, BinOp, ExprKind, Literal, Span, UnOp};
use crate::diagnostics::Diagnostic;

type Hint = fn(&Type) -> Option<Type>;

fn same(t: &Type) -> Option<Type> {
    Some(t.clone())
}

fn set_of(t: &Type) -> Option<Type> {
    Some(Type::set_of(t.clone()))
}

fn elem_or_self(t: &Type) -> Option<Type> {
    Some(t.set_elem().cloned().unwrap_or_else(|| t.clone()))
}

fn ir_op(op: BinOp) -> Option<BinaryOp> {
    Some(match op {
        BinOp::Eq => BinaryOp::Eq,
        BinOp::Ne => BinaryOp::Ne,
        BinOp::Lt => BinaryOp::Lt,
        BinOp::Le => BinaryOp::Le,
        BinOp::Gt => BinaryOp::Gt,
        BinOp::Ge => BinaryOp::Ge,
        BinOp::In => BinaryOp::In,
        BinOp::Contains => BinaryOp::Contains,
        BinOp::ContainsAny => BinaryOp::ContainsAny,
        BinOp::ContainsAll => BinaryOp::ContainsAll,
        BinOp::HasScope => BinaryOp::HasScope,
        BinOp::Add => BinaryOp::Add,
        BinOp::Sub => BinaryOp::Sub,
        BinOp::Mul => BinaryOp::Mul,
        BinOp::And | BinOp::Or => return None,
    })
}

impl ExprCx<'_> {
    pub(super) fn unary(&mut self, op: UnOp, x: &ast::Expr) -> Typed {
        match op {
            UnOp::Not => {
                let ir = self.condition(x);
                Typed::new(Type::Bool, fold::not(ir))
            }
            UnOp::Neg => {
                let typed = self.check(x, None);
                match typed.ty {
                    Type::Int | Type::Duration | Type::Decimal => {
                        let ty = typed.ty.clone();
                        match fold::neg(typed.ir) {
                            Ok(ir) => Typed::new(ty, ir),
                            Err(FoldError::Overflow) => self.overflow(x.span),
                        }
                    }
                    Type::Any | Type::Error => Typed::new(typed.ty, Expr::Neg(Box::new(typed.ir))),
                    other => {
                        self.mismatch(
                            x.span,
                            "Int, Decimal or Duration",
                            &other,
                            Some("`-` negates a number or a duration"),
                        );
                        Typed::error()
                    }
                }
            }
        }
    }

    pub(super) fn binary(&mut self, op: BinOp, l: &ast::Expr, r: &ast::Expr) -> Typed {
        let span = l.span.to(r.span);
        match op {
            BinOp::And | BinOp::Or => {
                // A chain `a and b and c …` is checked operand by operand (iteratively: it
                // may be thousands long) and lowered to a balanced tree, so its length never
                // becomes recursion depth in the checker or the engine. `and`/`or` are
                // associative under left-to-right short-circuit evaluation, errors included.
                // In an `and` chain, `principal is T` narrows `principal` for the operands
                // after it (the chain stops at the first false, so they only run for a `T`).
                let saved = self.narrowed.clone();
                let mut operands = Vec::new();
                for e in chain_operands(op, l, r) {
                    operands.push(self.condition(e));
                    if op == BinOp::And {
                        self.narrow_after(e);
                    }
                }
                self.narrowed = saved;
                Typed::new(Type::Bool, balanced(op, operands))
            }
            BinOp::Eq | BinOp::Ne => self.equality(op, l, r, span),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => self.ordering(op, l, r, span),
            BinOp::In => self.membership(l, r, span),
            BinOp::Contains => self.contains(l, r, span),
            BinOp::ContainsAny | BinOp::ContainsAll => self.set_relation(op, l, r, span),
            BinOp::HasScope => {
                let want = Type::set_of(Type::String);
                let lt = self.check(l, Some(&want));
                let lt = self.expect(lt, &want, l.span);
                let rt = self.check(r, Some(&Type::String));
                let rt = self.expect(rt, &Type::String, r.span);
                self.fold_binary(BinaryOp::HasScope, Type::Bool, lt.ir, rt.ir, span)
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul => self.arithmetic(op, l, r, span),
        }
    }

    /// Checks both operands; the one whose meaning needs a type hint goes second.
    fn pair(&mut self, l: &ast::Expr, r: &ast::Expr, r_hint: Hint, l_hint: Hint) -> (Typed, Typed) {
        if self.needs_hint(l) && !self.needs_hint(r) {
            let rt = self.check(r, None);
            let hint = l_hint(&rt.ty);
            let lt = self.check(l, hint.as_ref());
            (lt, rt)
        } else {
            let lt = self.check(l, None);
            let hint = r_hint(&lt.ty);
            let rt = self.check(r, hint.as_ref());
            (lt, rt)
        }
    }

    fn fold_binary(&mut self, op: BinaryOp, ty: Type, l: Expr, r: Expr, span: Span) -> Typed {
        match fold::binary(op, l, r) {
            Ok(ir) => Typed::new(ty, ir),
            Err(FoldError::Overflow) => self.overflow(span),
        }
    }

    fn overflow(&mut self, span: Span) -> Typed {
        let diag = Diagnostic::error("E013", "integer overflow in a constant expression")
            .with_label(span, "out of the 64-bit range")
            .with_help("Int values are 64-bit signed integers");
        self.report(diag);
        Typed::error()
    }

    fn equality(&mut self, op: BinOp, l: &ast::Expr, r: &ast::Expr, span: Span) -> Typed {
        self.check_action_names(l, r);
        let (lt, rt) = self.pair(l, r, same, same);
        if !comparable(&lt.ty, &rt.ty) {
            let want = self.describe(&lt.ty);
            let help = format!("`{}` compares two values of the same type", op.symbol());
            self.mismatch(r.span, &want, &rt.ty, Some(&help));
            return Typed::error();
        }
        let op = if op == BinOp::Eq {
            BinaryOp::Eq
        } else {
            BinaryOp::Ne
        };
        self.fold_binary(op, Type::Bool, lt.ir, rt.ir, span)
    }

    fn ordering(&mut self, op: BinOp, l: &ast::Expr, r: &ast::Expr, span: Span) -> Typed {
        let (lt, rt) = self.pair(l, r, same, same);
        let orderable = |t: &Type| {
            matches!(
                t,
                Type::Int
                    | Type::Decimal
                    | Type::Duration
                    | Type::Timestamp
                    | Type::Tls
                    | Type::Any
                    | Type::Error
            )
        };
        let help = format!(
            "`{}` compares Int, Decimal, Duration, Timestamp or TlsVersion values",
            op.symbol()
        );
        if !orderable(&lt.ty) {
            self.mismatch(
                l.span,
                "Int, Decimal, Duration, Timestamp or TlsVersion",
                &lt.ty,
                Some(&help),
            );
            return Typed::error();
        }
        if !orderable(&rt.ty) || !comparable(&lt.ty, &rt.ty) {
            let want = if lt.ty.is_open() {
                "Int, Decimal, Duration, Timestamp or TlsVersion".to_owned()
            } else {
                self.describe(&lt.ty)
            };
            self.mismatch(r.span, &want, &rt.ty, Some(&help));
            return Typed::error();
        }
        let Some(op) = ir_op(op) else {
            return Typed::error();
        };
        self.fold_binary(op, Type::Bool, lt.ir, rt.ir, span)
    }

    fn membership(&mut self, l: &ast::Expr, r: &ast::Expr, span: Span) -> Typed {
        self.check_action_names(l, r);
        let (lt, rt) = self.pair(l, r, set_of, elem_or_self);
        let ok = match (&lt.ty, &rt.ty) {
            (Type::Error, _) | (_, Type::Error) | (_, Type::Any) => true,
            (Type::Entity(child), Type::Entity(parent)) => {
                self.hierarchy(child, parent, &rt.ty, r.span)
            }
            (Type::Entity(child), Type::Set(elem)) => match &**elem {
                Type::Entity(parent) => self.hierarchy(child, parent, elem, r.span),
                Type::Error | Type::Any => true,
                _ => self.membership_mismatch(&lt.ty, &rt.ty, r.span),
            },
            (Type::Ip, Type::Ip) => true,
            (Type::Any, Type::Set(_) | Type::Ip | Type::Entity(_)) => true,
            (x, Type::Set(elem)) => {
                comparable(x, elem) || self.membership_mismatch(&lt.ty, &rt.ty, r.span)
            }
            _ => self.membership_mismatch(&lt.ty, &rt.ty, r.span),
        };
        if !ok {
            return Typed::error();
        }
        self.fold_binary(BinaryOp::In, Type::Bool, lt.ir, rt.ir, span)
    }

    fn membership_mismatch(&mut self, left: &Type, right: &Type, span: Span) -> bool {
        let want = match left {
            Type::Ip => "Ip or Set<Ip>".to_owned(),
            other => format!("Set<{}>", self.describe(other)),
        };
        self.mismatch(
            span,
            &want,
            right,
            Some("`x in S` tests membership in a set, an IP network or an entity's ancestors"),
        );
        false
    }

    /// `child in parent` on entities: possible only if the schema lets `parent` be an
    /// ancestor of `child` (or they are the same type).
    fn hierarchy(&mut self, child: &[u32], parent: &[u32], parent_ty: &Type, span: Span) -> bool {
        if child.is_empty() || parent.is_empty() {
            return true;
        }
        if child
            .iter()
            .any(|c| parent.iter().any(|p| self.schema.may_be_in(*c, *p)))
        {
            return true;
        }
        let child_name = self.describe(&Type::Entity(child.to_vec()));
        let parent_name = self.describe(parent_ty);
        let diag = never_in(self.schema, child, &child_name, &parent_name, span);
        self.report(diag);
        false
    }

    fn contains(&mut self, l: &ast::Expr, r: &ast::Expr, span: Span) -> Typed {
        let (lt, rt) = self.pair(l, r, elem_or_self, set_of);
        let ok = match &lt.ty {
            Type::Set(elem) => {
                comparable(elem, &rt.ty) || {
                    let want = self.describe(elem);
                    self.mismatch(
                        r.span,
                        &want,
                        &rt.ty,
                        Some("`S contains x` tests whether set `S` has element `x`"),
                    );
                    false
                }
            }
            Type::String => {
                matches!(rt.ty, Type::String | Type::Any | Type::Error) || {
                    self.mismatch(
                        r.span,
                        "String",
                        &rt.ty,
                        Some("`s contains \"x\"` tests for a substring"),
                    );
                    false
                }
            }
            Type::Any | Type::Error => true,
            other => {
                let other = other.clone();
                self.mismatch(l.span, "a set or String", &other, None);
                false
            }
        };
        if !ok {
            return Typed::error();
        }
        self.fold_binary(BinaryOp::Contains, Type::Bool, lt.ir, rt.ir, span)
    }

    fn set_relation(&mut self, op: BinOp, l: &ast::Expr, r: &ast::Expr, span: Span) -> Typed {
        let (lt, rt) = self.pair(l, r, same, same);
        let help = format!("`{}` relates two sets", op.symbol());
        if !matches!(lt.ty, Type::Set(_) | Type::Any | Type::Error) {
            self.mismatch(l.span, "a set", &lt.ty, Some(&help));
            return Typed::error();
        }
        let right_ok =
            matches!(rt.ty, Type::Set(_) | Type::Any | Type::Error) && comparable(&lt.ty, &rt.ty);
        if !right_ok {
            let want = if lt.ty.is_open() {
                "a set".to_owned()
            } else {
                self.describe(&lt.ty)
            };
            self.mismatch(r.span, &want, &rt.ty, Some(&help));
            return Typed::error();
        }
        let Some(op) = ir_op(op) else {
            return Typed::error();
        };
        self.fold_binary(op, Type::Bool, lt.ir, rt.ir, span)
    }

    fn arithmetic(&mut self, op: BinOp, l: &ast::Expr, r: &ast::Expr, span: Span) -> Typed {
        let (lt, rt) = self.pair(l, r, same, same);
        use Type as T;
        let result = match (op, &lt.ty, &rt.ty) {
            (_, T::Error, _) | (_, _, T::Error) => Some(T::Error),
            (_, T::Any, _) | (_, _, T::Any) => Some(T::Any),
            (_, T::Int, T::Int) => Some(T::Int),
            (BinOp::Add | BinOp::Sub, T::Decimal, T::Decimal) => Some(T::Decimal),
            (BinOp::Add | BinOp::Sub, T::Duration, T::Duration) => Some(T::Duration),
            (BinOp::Add | BinOp::Sub, T::Timestamp, T::Duration) => Some(T::Timestamp),
            (BinOp::Sub, T::Timestamp, T::Timestamp) => Some(T::Duration),
            (BinOp::Mul, T::Duration, T::Int) => Some(T::Duration),
            (BinOp::Mul, T::Int, T::Duration) => {
                // Multiplication commutes: the engine multiplies a duration by an int.
                return self.fold_binary(BinaryOp::Mul, T::Duration, rt.ir, lt.ir, span);
            }
            _ => None,
        };
        let Some(result) = result else {
            let help = match op {
                BinOp::Mul => "`*` multiplies Int by Int, or Duration by Int",
                _ => "`+` and `-` work on Int, Decimal, Duration, and Timestamp with Duration (Timestamp - Timestamp is a Duration)",
            };
            let left_ok = match op {
                BinOp::Mul => matches!(lt.ty, T::Int | T::Duration),
                _ => matches!(lt.ty, T::Int | T::Decimal | T::Duration | T::Timestamp),
            };
            if !left_ok {
                let want = if op == BinOp::Mul {
                    "Int or Duration"
                } else {
                    "Int, Decimal, Duration or Timestamp"
                };
                self.mismatch(l.span, want, &lt.ty, Some(help));
            } else {
                let want = match (op, &lt.ty) {
                    (BinOp::Mul, T::Int) => "Int or Duration",
                    (BinOp::Sub, T::Timestamp) => "Duration or Timestamp",
                    (_, T::Timestamp) | (BinOp::Add | BinOp::Sub, T::Duration) => "Duration",
                    (BinOp::Add | BinOp::Sub, T::Decimal) => "Decimal",
                    _ => "Int",
                };
                self.mismatch(r.span, want, &rt.ty, Some(help));
            }
            return Typed::error();
        };
        let Some(ir) = ir_op(op) else {
            return Typed::error();
        };
        self.fold_binary(ir, result, lt.ir, rt.ir, span)
    }

    /// `action == "x"` / `action in ["x", "y"]`: the names must be declared actions.
    fn check_action_names(&mut self, l: &ast::Expr, r: &ast::Expr) {
        let is_action = |e: &ast::Expr| matches!(&e.kind, ExprKind::Var(id) if id.name == "action");
        let other = if is_action(l) {
            r
        } else if is_action(r) {
            l
        } else {
            return;
        };
        let literals: Vec<&ast::Expr> = match &other.kind {
            ExprKind::Set(items) => items.iter().collect(),
            _ => vec![other],
        };
        for lit in literals {
            if let ExprKind::Lit(Literal::String(name)) = &lit.kind {
                if self.schema.action_id(name).is_none() {
                    let diag = unknown_action(self.schema, name, lit.span);
                    self.report(diag);
                }
            }
        }
    }
}

/// The operands of the chain `l op r` of one associative operator, left to right.
pub(super) fn chain_operands<'e>(
    op: BinOp,
    l: &'e ast::Expr,
    r: &'e ast::Expr,
) -> Vec<&'e ast::Expr> {
    let mut out = Vec::new();
    let mut stack = vec![r, l];
    while let Some(e) = stack.pop() {
        match &e.kind {
            ast::ExprKind::Binary(o, a, b) if *o == op => {
                stack.push(b);
                stack.push(a);
            }
            _ => out.push(e),
        }
    }
    out
}

/// Joins operands with `and`/`or` into a tree of logarithmic depth, keeping their order.
fn balanced(op: BinOp, mut operands: Vec<Expr>) -> Expr {
    let join = |l: Expr, r: Expr| {
        if op == BinOp::And {
            fold::and(l, r)
        } else {
            fold::or(l, r)
        }
    };
    if operands.len() <= 1 {
        let neutral = Expr::Const(rampart_engine::Value::Bool(op == BinOp::And));
        return operands.pop().unwrap_or(neutral);
    }
    let right = operands.split_off(operands.len() / 2);
    join(balanced(op, operands), balanced(op, right))
}

/// E006: an entity of type `child` (named `child_name`) can never be in one of type
/// `parent_name`: the schema never lets the parent type be its ancestor. Used by the `in`
/// operator and by scope heads (`for User in Group::"g"`).
pub(crate) fn never_in(
    schema: &SchemaInfo,
    child: &[u32],
    child_name: &str,
    parent_name: &str,
    span: Span,
) -> Diagnostic {
    let parents: Vec<String> = child
        .iter()
        .filter_map(|c| schema.entity(*c))
        .flat_map(|e| {
            e.parents
                .iter()
                .filter_map(|p| schema.entity(*p))
                .map(|p| p.name.clone())
        })
        .collect();
    let help = if parents.is_empty() {
        format!(
            "`{child_name}` has no parent types; declare them with `entity {child_name} in [...]`"
        )
    } else {
        format!("`{child_name}` may only be in `{}`", parents.join("`, `"))
    };
    Diagnostic::error(
        "E006",
        format!("type mismatch: `{child_name}` can never be in `{parent_name}`"),
    )
    .with_label(
        span,
        format!("`{parent_name}` is not a parent type of `{child_name}`"),
    )
    .with_help(help)
}
