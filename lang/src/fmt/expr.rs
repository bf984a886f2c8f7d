//! Expressions and literals on one line, with the fewest parentheses that re-parse to the
//! same tree.

use crate::ast::{BinOp, Expr, ExprKind, Literal, UnOp};

/// Binding strength of printed forms; a sub-expression weaker than its slot needs parens.
pub(super) mod prec {
    pub const OR: u8 = 1;
    pub const AND: u8 = 2;
    pub const NOT: u8 = 3;
    pub const COMPARE: u8 = 4;
    pub const ADD: u8 = 5;
    pub const MUL: u8 = 6;
    pub const NEG: u8 = 7;
    pub const POSTFIX: u8 = 8;
    pub const PRIMARY: u8 = 9;
}

/// Formats an expression on one line, canonically (used for explain texts and rule ids).
pub fn format_expr(e: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, e, 0);
    out
}

/// Formats `e` for a slot that needs at least binding strength `min`.
pub(super) fn expr_at(e: &Expr, min: u8) -> String {
    let mut out = String::new();
    write_expr(&mut out, e, min);
    out
}

fn strength(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Binary(op, _, _) => match op.precedence() {
            1 => prec::OR,
            2 => prec::AND,
            3 => prec::COMPARE,
            4 => prec::ADD,
            _ => prec::MUL,
        },
        ExprKind::Unary(UnOp::Not, _) => prec::NOT,
        ExprKind::Unary(UnOp::Neg, _) => prec::NEG,
        ExprKind::Has { .. } | ExprKind::Like(..) | ExprKind::Matches(..) => prec::COMPARE,
        ExprKind::Attr(..) | ExprKind::Index(..) => prec::POSTFIX,
        ExprKind::Lit(Literal::Int(n) | Literal::Duration(n)) if *n < 0 => prec::NEG,
        // `5.x`, `10.0.0.1.x` and `tls1.2.x` would read as one malformed literal: these
        // literals need parentheses before a postfix operator, like a negation.
        ExprKind::Lit(
            Literal::Int(_) | Literal::Ip(_) | Literal::Timestamp(_) | Literal::Tls(_),
        ) => prec::NEG,
        _ => prec::PRIMARY,
    }
}

fn is_method(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::Contains | BinOp::ContainsAny | BinOp::ContainsAll
    )
}

fn write_expr(out: &mut String, e: &Expr, min: u8) {
    if strength(e) >= min {
        write_plain(out, e);
        return;
    }
    // `s.contains(x)` reads better than `(s contains x)` where a tighter form is needed.
    if let ExprKind::Binary(op, left, right) = &e.kind {
        if is_method(*op) && min <= prec::POSTFIX && strength(left) >= prec::POSTFIX {
            write_plain(out, left);
            out.push('.');
            out.push_str(op.symbol());
            out.push('(');
            write_expr(out, right, 0);
            out.push(')');
            return;
        }
    }
    out.push('(');
    write_plain(out, e);
    out.push(')');
}

fn write_plain(out: &mut String, e: &Expr) {
    match &e.kind {
        ExprKind::Lit(lit) => out.push_str(&format_literal(lit)),
        ExprKind::Var(name) => out.push_str(&name.name),
        ExprKind::Attr(target, name) => {
            write_expr(out, target, prec::POSTFIX);
            out.push('.');
            out.push_str(&name.name);
        }
        ExprKind::Index(target, key) => {
            write_expr(out, target, prec::POSTFIX);
            out.push('[');
            out.push_str(&quote(&key.value));
            out.push(']');
        }
        ExprKind::Has { expr, attr, quoted } => {
            write_expr(out, expr, prec::ADD);
            out.push_str(" has ");
            if *quoted || !is_identifier(&attr.value) {
                out.push_str(&quote(&attr.value));
            } else {
                out.push_str(&attr.value);
            }
        }
        ExprKind::EntityRef { ty, id } => {
            out.push_str(&ty.name);
            out.push_str("::");
            out.push_str(&quote(&id.value));
        }
        ExprKind::EntityCtor { ty, id } => {
            out.push_str(&ty.name);
            out.push_str("::{");
            write_expr(out, id, 0);
            out.push('}');
        }
        ExprKind::Set(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, item, 0);
            }
            out.push(']');
        }
        ExprKind::Record(entries) => {
            if entries.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{ ");
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&record_key(&key.value));
                out.push_str(": ");
                write_expr(out, value, 0);
            }
            out.push_str(" }");
        }
        ExprKind::Unary(UnOp::Not, operand) => {
            out.push_str("not ");
            write_expr(out, operand, prec::NOT);
        }
        ExprKind::Unary(UnOp::Neg, operand) => {
            out.push('-');
            write_expr(out, operand, prec::NEG);
        }
        ExprKind::Binary(op, left, right) => {
            let (left_min, right_min) = match op.precedence() {
                3 => (prec::ADD, prec::ADD),
                _ => {
                    let p = strength(e);
                    (p, p + 1)
                }
            };
            // A left-nested chain of one operator is printed iteratively: `and`/`or` chains
            // may be thousands of operands long.
            let mut rights = vec![right.as_ref()];
            let mut first = left.as_ref();
            while let ExprKind::Binary(o, l, r) = &first.kind {
                if o != op || strength(first) < left_min || op.precedence() == 3 {
                    break;
                }
                rights.push(r);
                first = l;
            }
            write_expr(out, first, left_min);
            for operand in rights.iter().rev() {
                out.push(' ');
                out.push_str(op.symbol());
                out.push(' ');
                write_expr(out, operand, right_min);
            }
        }
        ExprKind::Like(target, pattern) | ExprKind::Matches(target, pattern) => {
            write_expr(out, target, prec::ADD);
            out.push_str(if matches!(e.kind, ExprKind::Like(..)) {
                " like "
            } else {
                " matches "
            });
            out.push_str(&quote(&pattern.value));
        }
    }
}

/// A record key: bare when it is an identifier, quoted otherwise.
pub(super) fn record_key(key: &str) -> String {
    if is_identifier(key) {
        key.to_owned()
    } else {
        quote(key)
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A string literal with escapes: `"a\"b"`.
pub(super) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A literal in canonical form.
pub(super) fn format_literal(lit: &Literal) -> String {
    match lit {
        Literal::Bool(b) => b.to_string(),
        Literal::Int(n) => n.to_string(),
        Literal::String(s) => quote(s),
        Literal::Ip(net) => {
            if net.prefix_len() == net.max_prefix_len() {
                net.addr().to_string()
            } else {
                net.to_string()
            }
        }
        Literal::Duration(ms) => format_duration(*ms),
        Literal::Timestamp(ms) => format_timestamp(*ms),
        Literal::Tls(v) => v.literal().to_owned(),
    }
}

pub use rampart_engine::time::{format_duration, format_timestamp};

/// The operands of a left-nested `and` chain (`a and b and c` → `[a, b, c]`).
pub(super) fn and_chain(e: &Expr) -> Vec<&Expr> {
    let mut operands = Vec::new();
    let mut current = e;
    while let ExprKind::Binary(BinOp::And, left, right) = &current.kind {
        operands.push(right.as_ref());
        current = left;
    }
    operands.push(current);
    operands.reverse();
    operands
}
