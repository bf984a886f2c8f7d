//! Expressions: pest gives a flat list of terms and operator tails; this module applies the
//! precedence of the spec (low → high: `or`, `and`, `not`, comparisons (non-chaining), `+ -`,
//! `*`, unary `-`, postfix) and checks the nesting depth of every node it builds, so a deep
//! input is an `E018` error instead of a stack overflow later.

use pest::iterators::Pair;

use super::grammar::Rule;
use super::lexical::{too_deep, MAX_DEPTH};

/// The most operands one `and`/`or` chain may have.
pub const MAX_CHAIN: usize = 1024;
use super::{literals, Builder};
use crate::ast::{BinOp, Expr, ExprKind, Ident, Literal, Span, StrLit, TagOp, UnOp};
use crate::diagnostics::Diagnostic;

/// An expression with the depth of its tree (a leaf has depth 1).
pub(super) struct Node {
    pub expr: Expr,
    pub depth: usize,
    /// Operands in the `and`/`or` chain this node heads (1 when it heads none).
    pub chain: usize,
}

impl Node {
    fn leaf(kind: ExprKind, span: Span) -> Node {
        Node {
            expr: Expr { kind, span },
            depth: 1,
            chain: 1,
        }
    }

    /// A node over children of the given depth; `E018` when it gets too deep.
    fn over(kind: ExprKind, span: Span, child_depth: usize) -> Result<Node, Diagnostic> {
        let depth = child_depth + 1;
        if depth > MAX_DEPTH {
            return Err(too_deep(span));
        }
        Ok(Node {
            expr: Expr { kind, span },
            depth,
            chain: 1,
        })
    }
}

/// One element of the flat operator/operand sequence of an `expr`.
enum Token {
    Not(Span),
    Neg(Span),
    Operand(Node),
    Binary(BinOp, Span),
    Has { attr: StrLit, quoted: bool },
    Is(Ident),
    Like(StrLit),
    Matches(StrLit),
}

impl Builder<'_> {
    /// Builds an `expr` pair.
    pub(super) fn expr(&self, pair: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
        let end = self.base + pair.as_span().end();
        let end = Span::new(end, end);
        let mut tokens = Vec::new();
        for part in pair.into_inner() {
            if part.as_rule() == Rule::term {
                self.term_tokens(part, &mut tokens)?;
            } else {
                self.tail_tokens(part, &mut tokens)?;
            }
        }
        climb(tokens, end)
    }

    /// The tokens of a `binary_tail`, `has_tail`, `like_tail` or `matches_tail`.
    #[inline(never)]
    fn tail_tokens(&self, part: Pair<'_, Rule>, tokens: &mut Vec<Token>) -> Result<(), Diagnostic> {
        match part.as_rule() {
            Rule::binary_tail => {
                let mut inner = part.into_inner();
                let op = self.next(&mut inner, "an operator")?;
                tokens.push(Token::Binary(binary_op(op.as_rule()), self.span(&op)));
                let term = self.next(&mut inner, "an expression")?;
                self.term_tokens(term, tokens)?;
            }
            Rule::has_tail => {
                let attr_pair = self.last(part, "an attribute name")?;
                let quoted = attr_pair.as_rule() == Rule::string;
                let attr = if quoted {
                    self.string(attr_pair)?
                } else {
                    StrLit {
                        value: attr_pair.as_str().to_owned(),
                        span: self.span(&attr_pair),
                    }
                };
                tokens.push(Token::Has { attr, quoted });
            }
            Rule::is_tail => tokens.push(Token::Is(self.ident(self.last(part, "a type name")?))),
            Rule::like_tail => {
                tokens.push(Token::Like(self.string(self.last(part, "a pattern")?)?))
            }
            Rule::matches_tail => {
                tokens.push(Token::Matches(self.string(self.last(part, "a pattern")?)?))
            }
            _ => return Err(self.internal(&part)),
        }
        Ok(())
    }

    fn term_tokens(&self, pair: Pair<'_, Rule>, tokens: &mut Vec<Token>) -> Result<(), Diagnostic> {
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::op_not => tokens.push(Token::Not(self.span(&part))),
                Rule::op_neg => tokens.push(Token::Neg(self.span(&part))),
                Rule::postfix_expr => tokens.push(Token::Operand(self.postfix(part)?)),
                _ => return Err(self.internal(&part)),
            }
        }
        Ok(())
    }

    /// Builds a `postfix_expr` pair: a primary and its `.name`, `["key"]`, `.contains(x)`.
    pub(super) fn postfix(&self, pair: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
        let mut inner = pair.into_inner();
        let mut node = self.primary(self.next(&mut inner, "an expression")?)?;
        for op in inner {
            node = self.postfix_op(node, op)?;
        }
        Ok(node)
    }

    fn postfix_op(&self, node: Node, op: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
        let span = node.expr.span.to(self.span(&op));
        match op.as_rule() {
            Rule::attr_access => {
                let name = self.ident(self.last(op, "an attribute name")?);
                Node::over(ExprKind::Attr(Box::new(node.expr), name), span, node.depth)
            }
            Rule::index_access => {
                let key = self.string(self.last(op, "a string key")?)?;
                Node::over(ExprKind::Index(Box::new(node.expr), key), span, node.depth)
            }
            Rule::method_call => {
                let mut parts = op.into_inner();
                let method = self.next(&mut parts, "a method")?;
                let arg = self
                    .expr(self.last(self.next(&mut parts, "an expression")?, "an expression")?)?;
                let depth = node.depth.max(arg.depth);
                let (target, arg) = (Box::new(node.expr), Box::new(arg.expr));
                let kind = match method.as_str() {
                    "has_tag" => ExprKind::Tag(TagOp::Has, target, arg),
                    "get_tag" => ExprKind::Tag(TagOp::Get, target, arg),
                    "contains_any" => ExprKind::Binary(BinOp::ContainsAny, target, arg),
                    "contains_all" => ExprKind::Binary(BinOp::ContainsAll, target, arg),
                    _ => ExprKind::Binary(BinOp::Contains, target, arg),
                };
                Node::over(kind, span, depth)
            }
            _ => Err(self.internal(&op)),
        }
    }

    fn primary(&self, pair: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
        match pair.as_rule() {
            Rule::paren => self.paren(pair),
            Rule::if_expr => self.if_expr(pair),
            Rule::named => self.named(pair),
            Rule::set_lit => self.set(pair),
            Rule::record_lit => self.record(pair),
            _ => self.leaf(pair),
        }
    }

    fn if_expr(&self, pair: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
        let span = self.span(&pair);
        let parts: Vec<Pair<'_, Rule>> = pair
            .clone()
            .into_inner()
            .filter(|p| p.as_rule() == Rule::expr)
            .collect();
        let [cond, then, otherwise] =
            <[Pair<'_, Rule>; 3]>::try_from(parts).map_err(|_| self.internal(&pair))?;
        let (cond, then, otherwise) = (self.expr(cond)?, self.expr(then)?, self.expr(otherwise)?);
        let depth = cond.depth.max(then.depth).max(otherwise.depth);
        Node::over(
            ExprKind::If(
                Box::new(cond.expr),
                Box::new(then.expr),
                Box::new(otherwise.expr),
            ),
            span,
            depth,
        )
    }

    fn paren(&self, pair: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
        let span = self.span(&pair);
        let mut node = self.expr(self.last(pair, "an expression")?)?;
        node.expr.span = span;
        Ok(node)
    }

    /// A name (`principal`, `x`), an entity `Type::"id"` or a computed entity `Type::{e}`.
    fn named(&self, pair: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(self.next(&mut inner, "a name")?);
        match inner.next() {
            None => Ok(Node::leaf(ExprKind::Var(name), span)),
            Some(id) if id.as_rule() == Rule::string => Ok(Node::leaf(
                ExprKind::EntityRef {
                    ty: name,
                    id: self.string(id)?,
                },
                span,
            )),
            Some(id) => {
                let id = self.expr(self.last(id, "an expression")?)?;
                Node::over(
                    ExprKind::EntityCtor {
                        ty: name,
                        id: Box::new(id.expr),
                    },
                    span,
                    id.depth,
                )
            }
        }
    }

    fn set(&self, pair: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
        let span = self.span(&pair);
        let mut depth = 0;
        let mut items = Vec::new();
        for item in pair.into_inner() {
            let node = self.expr(item)?;
            depth = depth.max(node.depth);
            items.push(node.expr);
        }
        Node::over(ExprKind::Set(items), span, depth)
    }

    fn record(&self, pair: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
        let span = self.span(&pair);
        let mut depth = 0;
        let mut entries = Vec::new();
        for entry in pair.into_inner() {
            let mut parts = entry.into_inner();
            let key = self.record_key(self.next(&mut parts, "a field name")?)?;
            let value = self.expr(self.next(&mut parts, "an expression")?)?;
            depth = depth.max(value.depth);
            entries.push((key, value.expr));
        }
        Node::over(ExprKind::Record(entries), span, depth)
    }

    #[inline(never)]
    fn record_key(&self, pair: Pair<'_, Rule>) -> Result<StrLit, Diagnostic> {
        if pair.as_rule() == Rule::string {
            self.string(pair)
        } else {
            Ok(StrLit {
                value: pair.as_str().to_owned(),
                span: self.span(&pair),
            })
        }
    }

    /// Literals, names and entity references: the primaries without sub-expressions.
    #[inline(never)]
    fn leaf(&self, pair: Pair<'_, Rule>) -> Result<Node, Diagnostic> {
        let span = self.span(&pair);
        let text = pair.as_str();
        let lit = |l: Literal| Ok(Node::leaf(ExprKind::Lit(l), span));
        match pair.as_rule() {
            Rule::int => lit(Literal::Int(literals::int(text, span)?)),
            Rule::string => lit(Literal::String(self.string(pair)?.value)),
            Rule::bool_lit => lit(Literal::Bool(text == "true")),
            Rule::duration => lit(Literal::Duration(literals::duration(text, span)?)),
            Rule::decimal => lit(Literal::Decimal(literals::decimal(text, span)?)),
            Rule::timestamp => lit(Literal::Timestamp(literals::timestamp(text, span)?)),
            Rule::bad_timestamp => Err(literals::timestamp(text, span).err().unwrap_or_else(|| {
                literals::invalid(
                    span,
                    format!("invalid timestamp `{text}`"),
                    "not a valid timestamp",
                    "write an RFC 3339 timestamp: `2026-01-01T00:00:00Z`",
                )
            })),
            Rule::ipv4 | Rule::ipv6 => lit(Literal::Ip(literals::ip(text, span)?)),
            Rule::tls => lit(Literal::Tls(literals::tls(text, span)?)),
            Rule::bad_number => Err(literals::invalid(
                span,
                format!("invalid literal `{text}`"),
                "not a number, duration, IP address or timestamp",
                "durations use the units `ms`, `s`, `m`, `h` and `d` (`1h30m`); IP addresses look like `10.0.0.1`",
            )),
            _ => Err(self.internal(&pair)),
        }
    }
}

/// Applies precedence to the flat token list of one `expr`.
#[inline(never)]
fn climb(tokens: Vec<Token>, end: Span) -> Result<Node, Diagnostic> {
    let mut climb = Climb {
        tokens: tokens.into_iter().peekable(),
        end,
    };
    let node = climb.or()?;
    match climb.tokens.next() {
        None => Ok(node),
        Some(token) => Err(climb.unexpected(&token)),
    }
}

fn binary_op(rule: Rule) -> BinOp {
    match rule {
        Rule::op_or => BinOp::Or,
        Rule::op_and => BinOp::And,
        Rule::op_eq => BinOp::Eq,
        Rule::op_ne => BinOp::Ne,
        Rule::op_lt => BinOp::Lt,
        Rule::op_le => BinOp::Le,
        Rule::op_gt => BinOp::Gt,
        Rule::op_ge => BinOp::Ge,
        Rule::op_in => BinOp::In,
        Rule::op_contains => BinOp::Contains,
        Rule::op_contains_any => BinOp::ContainsAny,
        Rule::op_contains_all => BinOp::ContainsAll,
        Rule::op_has_scope => BinOp::HasScope,
        Rule::op_add => BinOp::Add,
        Rule::op_sub => BinOp::Sub,
        _ => BinOp::Mul,
    }
}

/// Precedence climbing over the flat token list, one function per level.
struct Climb<I: Iterator<Item = Token>> {
    tokens: std::iter::Peekable<I>,
    /// Where the expression ends (for "expected an expression" at the end).
    end: Span,
}

impl<I: Iterator<Item = Token>> Climb<I> {
    fn peek_binary(&mut self, ops: &[BinOp]) -> Option<BinOp> {
        match self.tokens.peek() {
            Some(Token::Binary(op, _)) if ops.contains(op) => Some(*op),
            _ => None,
        }
    }

    fn binary(op: BinOp, left: Node, right: Node) -> Result<Node, Diagnostic> {
        let span = left.expr.span.to(right.expr.span);
        // A chain `a and b and c …` (or `or`) is one level of nesting however long it is:
        // the compiler balances it, so its length does not become evaluation depth.
        let chained = matches!(op, BinOp::And | BinOp::Or)
            && matches!(&left.expr.kind, ExprKind::Binary(o, ..) if *o == op);
        if chained && left.chain >= MAX_CHAIN {
            return Err(Diagnostic::error(
                "E018",
                format!(
                    "too many operands chained with `{}` (more than {MAX_CHAIN})",
                    op.symbol()
                ),
            )
            .with_label(span, "this chain is too long")
            .with_help("split the condition into separate rules or consts"));
        }
        let depth = if chained {
            left.depth.saturating_sub(1).max(right.depth)
        } else {
            left.depth.max(right.depth)
        };
        let chain = match (chained, op) {
            (true, _) => left.chain + 1,
            (false, BinOp::And | BinOp::Or) => 2,
            _ => 1,
        };
        let mut node = Node::over(
            ExprKind::Binary(op, Box::new(left.expr), Box::new(right.expr)),
            span,
            depth,
        )?;
        node.chain = chain;
        Ok(node)
    }

    fn left_assoc(
        &mut self,
        ops: &[BinOp],
        next: fn(&mut Self) -> Result<Node, Diagnostic>,
    ) -> Result<Node, Diagnostic> {
        let mut left = next(self)?;
        while let Some(op) = self.peek_binary(ops) {
            self.tokens.next();
            let right = next(self)?;
            left = Self::binary(op, left, right)?;
        }
        Ok(left)
    }

    fn or(&mut self) -> Result<Node, Diagnostic> {
        self.left_assoc(&[BinOp::Or], Self::and)
    }

    fn and(&mut self) -> Result<Node, Diagnostic> {
        self.left_assoc(&[BinOp::And], Self::not)
    }

    fn not(&mut self) -> Result<Node, Diagnostic> {
        let mut nots = Vec::new();
        while let Some(Token::Not(span)) = self.tokens.peek() {
            nots.push(*span);
            self.tokens.next();
        }
        let mut node = self.comparison()?;
        for span in nots.into_iter().rev() {
            let span = span.to(node.expr.span);
            node = Node::over(
                ExprKind::Unary(UnOp::Not, Box::new(node.expr)),
                span,
                node.depth,
            )?;
        }
        Ok(node)
    }

    fn comparison(&mut self) -> Result<Node, Diagnostic> {
        let left = self.additive()?;
        let node = match self.tokens.peek() {
            Some(Token::Binary(op, _)) if op.precedence() == 3 => {
                let op = *op;
                self.tokens.next();
                let right = self.additive()?;
                Self::binary(op, left, right)?
            }
            Some(Token::Has { .. } | Token::Is(_) | Token::Like(_) | Token::Matches(_)) => {
                let Some(token) = self.tokens.next() else {
                    return Ok(left);
                };
                let target = Box::new(left.expr);
                let (kind, span) = match token {
                    Token::Has { attr, quoted } => {
                        let span = target.span.to(attr.span);
                        (
                            ExprKind::Has {
                                expr: target,
                                attr,
                                quoted,
                            },
                            span,
                        )
                    }
                    Token::Is(ty) => {
                        let span = target.span.to(ty.span);
                        (ExprKind::Is(target, ty), span)
                    }
                    Token::Like(pattern) => {
                        let span = target.span.to(pattern.span);
                        (ExprKind::Like(target, pattern), span)
                    }
                    Token::Matches(pattern) => {
                        let span = target.span.to(pattern.span);
                        (ExprKind::Matches(target, pattern), span)
                    }
                    other => return Err(self.unexpected(&other)),
                };
                Node::over(kind, span, left.depth)?
            }
            _ => return Ok(left),
        };
        match self.tokens.peek() {
            Some(Token::Binary(op, span)) if op.precedence() == 3 => Err(chained(*span)),
            Some(
                token @ (Token::Has { .. } | Token::Is(_) | Token::Like(_) | Token::Matches(_)),
            ) => Err(chained(token_span(token))),
            _ => Ok(node),
        }
    }

    fn additive(&mut self) -> Result<Node, Diagnostic> {
        self.left_assoc(&[BinOp::Add, BinOp::Sub], Self::multiplicative)
    }

    fn multiplicative(&mut self) -> Result<Node, Diagnostic> {
        self.left_assoc(&[BinOp::Mul], Self::negation)
    }

    fn negation(&mut self) -> Result<Node, Diagnostic> {
        let mut negs = Vec::new();
        loop {
            match self.tokens.next() {
                Some(Token::Neg(span)) => negs.push(span),
                Some(Token::Operand(mut node)) => {
                    for span in negs.into_iter().rev() {
                        let span = span.to(node.expr.span);
                        node = Node::over(
                            ExprKind::Unary(UnOp::Neg, Box::new(node.expr)),
                            span,
                            node.depth,
                        )?;
                    }
                    return Ok(node);
                }
                Some(token) => return Err(self.unexpected(&token)),
                None => {
                    return Err(Diagnostic::error("E001", "expected an expression")
                        .with_label(self.end, "expected an expression"))
                }
            }
        }
    }

    fn unexpected(&self, token: &Token) -> Diagnostic {
        let span = token_span(token);
        match token {
            Token::Not(_) => Diagnostic::error("E001", "`not` is not allowed here")
                .with_label(span, "`not` binds looser than comparisons and arithmetic")
                .with_help("put the negated expression in parentheses: `(not x)`"),
            _ => Diagnostic::error("E001", "unexpected operator")
                .with_label(span, "expected an expression"),
        }
    }
}

fn chained(span: Span) -> Diagnostic {
    Diagnostic::error("E001", "comparison operators do not chain")
        .with_label(span, "a second comparison")
        .with_help("add parentheses to say which comparison comes first: `(a == b) == c`")
}

fn token_span(token: &Token) -> Span {
    match token {
        Token::Not(s) | Token::Neg(s) | Token::Binary(_, s) => *s,
        Token::Operand(n) => n.expr.span,
        Token::Has { attr, .. } => attr.span,
        Token::Is(ty) => ty.span,
        Token::Like(p) | Token::Matches(p) => p.span,
    }
}
