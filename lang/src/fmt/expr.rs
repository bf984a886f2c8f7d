//! Expressions and literals, with the fewest parentheses that re-parse to the same tree:
//! on one line, or as a [`Doc`] that breaks where it does not fit.

use super::doc::{bracketed, text, Doc};
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
    expr_doc(e, 0).flat()
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
        ExprKind::Has { .. } | ExprKind::Is(..) | ExprKind::Like(..) | ExprKind::Matches(..) => {
            prec::COMPARE
        }
        ExprKind::Attr(..) | ExprKind::Index(..) | ExprKind::Tag(..) => prec::POSTFIX,
        // Its `else` branch would take whatever follows: parenthesised in any operand slot.
        ExprKind::If(..) => prec::OR - 1,
        ExprKind::Lit(Literal::Int(n) | Literal::Duration(n) | Literal::Decimal(n)) if *n < 0 => {
            prec::NEG
        }
        // `5.x`, `1.5.x`, `10.0.0.1.x` and `tls1.2.x` would read as one malformed literal:
        // these literals need parentheses before a postfix operator, like a negation.
        ExprKind::Lit(
            Literal::Int(_)
            | Literal::Decimal(_)
            | Literal::Ip(_)
            | Literal::Timestamp(_)
            | Literal::Tls(_),
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

/// The layout of `e` for a slot that needs at least binding strength `min`: sets and
/// records break one element per line, `and`/`or` chains one operand per line.
pub(super) fn expr_doc(e: &Expr, min: u8) -> Doc {
    if strength(e) >= min {
        return plain_doc(e);
    }
    // `s.contains(x)` reads better than `(s contains x)` where a tighter form is needed.
    if let ExprKind::Binary(op, left, right) = &e.kind {
        if is_method(*op) && min <= prec::POSTFIX && strength(left) >= prec::POSTFIX {
            return Doc::Concat(vec![
                plain_doc(left),
                text(format!(".{}(", op.symbol())),
                expr_doc(right, 0),
                text(")"),
            ]);
        }
    }
    parenthesized(plain_doc(e))
}

fn parenthesized(inner: Doc) -> Doc {
    Doc::Concat(vec![text("("), Doc::Nest(2, vec![inner]), text(")")])
}

fn plain_doc(e: &Expr) -> Doc {
    match &e.kind {
        ExprKind::Lit(lit) => text(format_literal(lit)),
        ExprKind::Var(name) => text(name.name.clone()),
        ExprKind::Attr(target, name) => Doc::Concat(vec![
            expr_doc(target, prec::POSTFIX),
            text(format!(".{}", name.name)),
        ]),
        ExprKind::Index(target, key) => Doc::Concat(vec![
            expr_doc(target, prec::POSTFIX),
            text(format!("[{}]", quote(&key.value))),
        ]),
        ExprKind::Has { expr, attr, quoted } => {
            let name = if *quoted || !is_identifier(&attr.value) {
                quote(&attr.value)
            } else {
                attr.value.clone()
            };
            Doc::Concat(vec![
                expr_doc(expr, prec::ADD),
                text(format!(" has {name}")),
            ])
        }
        ExprKind::If(c, a, b) => Doc::Concat(vec![
            text("if "),
            expr_doc(c, 0),
            text(" then "),
            expr_doc(a, 0),
            text(" else "),
            expr_doc(b, 0),
        ]),
        ExprKind::Tag(op, target, key) => Doc::Concat(vec![
            expr_doc(target, prec::POSTFIX),
            text(format!(".{}(", op.method())),
            expr_doc(key, 0),
            text(")"),
        ]),
        ExprKind::Is(expr, ty) => Doc::Concat(vec![
            expr_doc(expr, prec::ADD),
            text(format!(" is {}", ty.name)),
        ]),
        ExprKind::EntityRef { ty, id } => text(format!("{}::{}", ty.name, quote(&id.value))),
        ExprKind::EntityCtor { ty, id } => Doc::Concat(vec![
            text(format!("{}::{{", ty.name)),
            expr_doc(id, 0),
            text("}"),
        ]),
        ExprKind::Set(items) => bracketed(
            "[",
            items.iter().map(|i| expr_doc(i, 0)).collect(),
            "]",
            false,
        ),
        ExprKind::Record(entries) => {
            let entries = entries
                .iter()
                .map(|(key, value)| {
                    Doc::Concat(vec![
                        text(format!("{}: ", record_key(&key.value))),
                        expr_doc(value, 0),
                    ])
                })
                .collect();
            bracketed("{", entries, "}", true)
        }
        ExprKind::Unary(UnOp::Not, operand) => {
            Doc::Concat(vec![text("not "), expr_doc(operand, prec::NOT)])
        }
        ExprKind::Unary(UnOp::Neg, operand) => {
            Doc::Concat(vec![text("-"), expr_doc(operand, prec::NEG)])
        }
        ExprKind::Binary(op, left, right) => binary_doc(e, *op, left, right),
        ExprKind::Like(target, pattern) | ExprKind::Matches(target, pattern) => {
            let keyword = if matches!(e.kind, ExprKind::Like(..)) {
                "like"
            } else {
                "matches"
            };
            Doc::Concat(vec![
                expr_doc(target, prec::ADD),
                text(format!(" {keyword} {}", quote(&pattern.value))),
            ])
        }
    }
}

/// A binary operation. A left-nested chain of one operator is laid out iteratively
/// (`and`/`or` chains may be thousands of operands long); an `and`/`or` chain that does
/// not fit puts each operand on a line of its own, and the `and` chains inside a broken
/// `or` chain get parentheses so that the lines read unambiguously.
fn binary_doc(e: &Expr, op: BinOp, left: &Expr, right: &Expr) -> Doc {
    let (left_min, right_min) = match op.precedence() {
        3 => (prec::ADD, prec::ADD),
        _ => {
            let p = strength(e);
            (p, p + 1)
        }
    };
    let mut rights = vec![right];
    let mut first = left;
    while let ExprKind::Binary(o, l, r) = &first.kind {
        if *o != op || strength(first) < left_min || op.precedence() == 3 {
            break;
        }
        rights.push(r);
        first = l;
    }
    let breaks = matches!(op, BinOp::And | BinOp::Or);
    let operand = |x: &Expr, min: u8| {
        let doc = expr_doc(x, min);
        if op == BinOp::Or && matches!(x.kind, ExprKind::Binary(BinOp::And, ..)) {
            Doc::Concat(vec![
                Doc::IfBroken("("),
                Doc::Nest(2, vec![doc]),
                Doc::IfBroken(")"),
            ])
        } else {
            doc
        }
    };
    let mut parts = vec![operand(first, left_min)];
    for x in rights.iter().rev() {
        if breaks {
            parts.push(Doc::Line);
            parts.push(text(format!("{} ", op.symbol())));
        } else {
            parts.push(text(format!(" {} ", op.symbol())));
        }
        parts.push(operand(x, right_min));
    }
    if breaks {
        Doc::Group(parts)
    } else {
        Doc::Concat(parts)
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
/// Whether `s` is written bare where a name may be quoted (an attribute, a record key):
/// ASCII letters, digits and `_`, not starting with a digit.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A string literal with escapes: `"a\"b"`. Characters that do not show (bidirectional
/// controls, zero-width and other format characters, control characters, noncharacters:
/// [`is_invisible`](crate::invisible::is_invisible)) are written as `\u{…}`, so what a
/// reviewer reads is what the string holds.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if crate::invisible::is_invisible(c) => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
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
        Literal::Decimal(n) => rampart_engine::decimal::format_decimal(*n),
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
