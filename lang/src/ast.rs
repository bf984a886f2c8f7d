//! The syntax tree of one `.rampart` file, as written.
//!
//! The tree keeps the *shape the author wrote* only where the formatter needs it to print
//! a canonical form; everything else is normalised by the parser (for example `a.contains(b)`
//! and `a contains b` are the same [`BinOp::Contains`] node). Spans are byte offsets into
//! the file's text. Equality of trees ignores spans (see [`Span`]'s `PartialEq`), so
//! `parse(fmt(ast)) == ast` is meaningful.

use std::fmt;

/// A byte range in one source file. All spans compare equal: trees are compared by shape.
#[derive(Clone, Copy, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Self {
            start: clamp(start),
            end: clamp(end),
        }
    }
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
    pub fn len(self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

impl PartialEq for Span {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for Span {}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// A name as written, with its span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A string literal, unescaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
}

/// A dotted name: `std.pci_dss`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QualName {
    pub parts: Vec<Ident>,
    pub span: Span,
}

impl QualName {
    pub fn dotted(&self) -> String {
        let names: Vec<&str> = self.parts.iter().map(|p| p.name.as_str()).collect();
        names.join(".")
    }
}

/// One `// comment` line, kept so that `rampart fmt` does not lose it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// The text after `//`, without the line break.
    pub text: String,
    pub span: Span,
    /// When code precedes the comment on its line, the byte offset where that code ends.
    /// The formatter keeps such a comment at the end of the line of the import, item or
    /// schema declaration that ends there (instead of moving it above the next one).
    pub code_before: Option<u32>,
}

/// A parsed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    pub package: QualName,
    pub imports: Vec<Import>,
    pub items: Vec<Item>,
    /// Every comment of the file in source order. The formatter re-attaches each one to the
    /// item (or import) that follows it; a comment after the last item stays at the end.
    pub comments: Vec<Comment>,
    /// Where the author left blank lines, so that `rampart fmt` keeps the paragraphs.
    pub blank_lines: BlankLines,
}

/// The byte offsets of the code and comments that follow one or more blank lines, in
/// source order. Layout, like a [`Span`]: all values compare equal, so trees are compared
/// by shape.
#[derive(Clone, Debug, Default)]
pub struct BlankLines(pub Vec<u32>);

impl BlankLines {
    /// Whether the code or comment starting at byte `offset` follows a blank line.
    pub fn before(&self, offset: u32) -> bool {
        self.0.binary_search(&offset).is_ok()
    }

    /// Whether code or a comment that follows a blank line starts in `from..=to`.
    pub fn within(&self, from: u32, to: u32) -> bool {
        let first = self.0.partition_point(|&b| b < from);
        self.0.get(first).is_some_and(|&b| b <= to)
    }
}

impl PartialEq for BlankLines {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for BlankLines {}

/// `import std.pci_dss as pci`, optionally `with { name: value, ... }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    pub path: QualName,
    pub alias: Option<Ident>,
    pub span: Span,
    /// `with { max_token_lifetime: 1h }`: overrides of the imported package's consts, in
    /// the order written; empty without a `with` clause.
    pub params: Vec<ImportParam>,
}

/// One `name: value` of an import's `with` clause: the const `name` of the imported
/// package takes `value` (a constant expression) for the whole policy set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportParam {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

impl Import {
    /// The name this import is referred to by: the alias, else the last segment.
    pub fn local_name(&self) -> &str {
        match &self.alias {
            Some(a) => &a.name,
            None => self
                .path
                .parts
                .last()
                .map(|p| p.name.as_str())
                .unwrap_or(""),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Schema(Schema),
    Const(Const),
    Route(Route),
    Principal(PrincipalMap),
    Rule(Rule),
    Obligation(Obligation),
    Test(Test),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Schema(x) => x.span,
            Item::Const(x) => x.span,
            Item::Route(x) => x.span,
            Item::Principal(x) => x.span,
            Item::Rule(x) => x.span,
            Item::Obligation(x) => x.span,
            Item::Test(x) => x.span,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------

/// `schema { ... }`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    pub decls: Vec<SchemaDecl>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemaDecl {
    Entity(EntityDecl),
    Enum(EnumDecl),
    Action(ActionDecl),
    Context(ContextDecl),
    Type(TypeDecl),
}

/// `type Address = { street: String, city?: String }`: a name for a type, used wherever a
/// type is written (the schema's types are the expanded ones).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeDecl {
    pub name: Ident,
    pub ty: TypeExpr,
    pub span: Span,
}

/// `entity User { roles: Set<String>, mfa?: Bool } in [Group]`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityDecl {
    pub name: Ident,
    /// Empty when written without braces.
    pub attrs: Vec<AttrDecl>,
    /// `in Group` or `in [Group, Org]`; empty when absent.
    pub parents: Vec<Ident>,
    /// `tags String`: the type of the entity's tags; `None` when it has none.
    pub tags: Option<TypeExpr>,
    pub span: Span,
}

/// `name: Type` or `name?: Type` (optional attribute).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrDecl {
    pub name: Ident,
    pub optional: bool,
    pub ty: TypeExpr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeExprKind {
    /// `Bool`, `Int`, `String`, `Ip`, `Duration`, `Timestamp`, `TlsVersion`, or the name of a
    /// declared entity type or enum.
    Named(Ident),
    /// `Set<T>`
    Set(Box<TypeExpr>),
    /// `Map<T>`: string keys chosen by the data (headers, claims).
    Map(Box<TypeExpr>),
    /// `{ a: Int, b?: String }`
    Record(Vec<AttrDecl>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeExpr {
    pub kind: TypeExprKind,
    pub span: Span,
}

/// `enum Class { public, internal, confidential }`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumDecl {
    pub name: Ident,
    pub variants: Vec<Ident>,
    pub span: Span,
}

/// `action "payments:read", "payments:write" on Account for User, Service context { amount: Int }`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionDecl {
    pub names: Vec<StrLit>,
    /// `in "group", …`: the action groups these actions belong to.
    pub groups: Vec<StrLit>,
    /// Empty: any resource type.
    pub resources: Vec<Ident>,
    /// Empty: any principal type.
    pub principals: Vec<Ident>,
    /// Context fields only these actions carry.
    pub context: Vec<AttrDecl>,
    pub span: Span,
}

/// `context { tenant: String }`: extends the builtin request context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextDecl {
    pub attrs: Vec<AttrDecl>,
    pub span: Span,
}

// ---------------------------------------------------------------------------------------
// Top-level declarations
// ---------------------------------------------------------------------------------------

/// `const internal_networks = [10.0.0.0/8, 192.168.0.0/16]`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Const {
    pub annotations: Vec<Annotation>,
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

/// `route GET "/v1/accounts/{id}" => "payments:read" on Account::{id}`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub annotations: Vec<Annotation>,
    /// `GET`, `POST`, … or `*` (any method), upper-case as written.
    pub method: Ident,
    pub path: StrLit,
    pub action: StrLit,
    /// The resource; `{name}` inside `Type::{name}` binds a path parameter.
    pub resource: Expr,
    pub span: Span,
}

/// `principal Service::{context.tls.peer} when context.tls.mtls`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrincipalMap {
    pub annotations: Vec<Annotation>,
    /// An entity expression: `Type::{expr}` or `Type::"id"`.
    pub entity: Expr,
    pub when: Option<Expr>,
    pub span: Span,
}

/// `@name("arg", ...)`; `@name` alone has no arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    pub name: Ident,
    pub args: Vec<StrLit>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleKind {
    Allow,
    Deny,
    Require,
}

impl RuleKind {
    pub fn keyword(self) -> &'static str {
        match self {
            RuleKind::Allow => "allow",
            RuleKind::Deny => "deny",
            RuleKind::Require => "require",
        }
    }
}

/// `allow`, `deny` or `require` with its scope and conditions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub annotations: Vec<Annotation>,
    pub kind: RuleKind,
    /// The condition of a `require` (`require C for SCOPE`); `None` for allow/deny.
    pub require: Option<Expr>,
    pub scope: Scope,
    pub when: Option<Expr>,
    pub unless: Option<Expr>,
    pub reason: Option<StrLit>,
    pub span: Span,
}

/// Which requests a rule is about. `None` parts were not written and mean "any".
///
/// Written forms:
/// - allow/deny: `ACTIONS [on TARGET] [for TARGET]` (ACTIONS always written, so `actions`
///   is `Some`);
/// - require: `for *` (actions `Some(Any)`), `for ACTIONS [on TARGET] [for TARGET]`, or
///   `for TARGET` (principals only: `actions` and `resources` are `None`);
/// - obligation: any of `on ACTIONS`, `on TARGET`, `for TARGET`, in that order.
///
/// A TARGET is `TYPES`, `TYPES in Type::"id"` (types and a [`ScopeHead`] with
/// [`HeadOp::In`]) or `Type::"id", …` (a head with [`HeadOp::Eq`]; the type list is then
/// the entities' types, in order, without repeats, spanned as written in the entities).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Scope {
    pub actions: Option<ScopeList<StrLit>>,
    pub resources: Option<ScopeList<Ident>>,
    pub principals: Option<ScopeList<Ident>>,
    /// `on Doc in Folder::"f"`, `on Doc::"d"`.
    pub resource_head: Option<ScopeHead>,
    /// `for User in Group::"g"`, `for * in Group::"g"`, `for User::"alice"`.
    pub principal_head: Option<ScopeHead>,
    pub span: Span,
}

/// The entities a scope names (Cedar's `principal == E`, `principal in E`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeHead {
    pub op: HeadOp,
    /// One entity for `in`; one or more for `==`.
    pub entities: Vec<EntityLit>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadOp {
    /// `Type::"id"`: that entity.
    Eq,
    /// `TYPES in Type::"id"`: that entity or a descendant of it.
    In,
}

/// An entity written as a literal, `Type::"id"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityLit {
    pub ty: Ident,
    pub id: StrLit,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScopeList<T> {
    /// `*`
    Any,
    /// `"a"`, `"a", "b"`, `["a", "b"]` (brackets are not kept).
    List(Vec<T>),
}

/// `obligation KIND ... [scope] [when C] [unless C]`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Obligation {
    pub annotations: Vec<Annotation>,
    pub kind: ObligationKind,
    pub scope: Scope,
    pub when: Option<Expr>,
    pub unless: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObligationKind {
    /// `mask ["card.pan", "card.cvv"]`
    Mask { fields: Vec<StrLit> },
    /// `rate_limit 100 per 1m [by EXPR]`; `by` defaults to `principal`.
    RateLimit {
        limit: u64,
        limit_span: Span,
        per: Expr,
        by: Option<Expr>,
    },
    /// `request_header "x-user" = EXPR`: set a header on the upstream request.
    RequestHeader { name: StrLit, value: Expr },
    /// `response_header "cache-control" = EXPR`: add a header to the response.
    ResponseHeader { name: StrLit, value: Expr },
    /// `remove_header "authorization"`: strip a header from the upstream request.
    RemoveHeader { name: StrLit },
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

/// `test "name" { request ... entities ... expect ... }`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Test {
    pub name: StrLit,
    pub request: TestRequest,
    pub entities: Vec<TestEntities>,
    pub expect: Expect,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TestRequest {
    /// `request [principal P] action "a" resource R [context {…}]`
    Parts {
        principal: Option<Expr>,
        action: StrLit,
        resource: Expr,
        context: Option<Expr>,
        span: Span,
    },
    /// `request GET "/v1/accounts/a1" [principal P] [headers {…}] [context {…}]`
    Http {
        method: Ident,
        path: StrLit,
        principal: Option<Expr>,
        headers: Option<Expr>,
        context: Option<Expr>,
        span: Span,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TestEntities {
    /// `entities "testdata/accounts.json"`, relative to the file's folder.
    File(StrLit),
    /// `entity User::"alice" { mfa: true } in [Group::"finance"]`
    Inline {
        uid: Expr,
        attrs: Option<Expr>,
        parents: Vec<Expr>,
        span: Span,
    },
}

/// `expect allow [by ["id", ...]]`, `expect deny [by [...]]`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expect {
    pub allow: bool,
    pub rules: Option<Vec<StrLit>>,
    pub span: Span,
}

// ---------------------------------------------------------------------------------------
// Expressions
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprKind {
    Lit(Literal),
    /// A bare name: `principal`, `resource`, `action`, `context`, `now`, an enum variant, a
    /// const, an import alias (then always under [`ExprKind::Attr`]), or a route parameter.
    Var(Ident),
    /// `e.name`
    Attr(Box<Expr>, Ident),
    /// `e["key"]`
    Index(Box<Expr>, StrLit),
    /// `e has name` or `e has "name"` (the attribute is kept as a string literal either way;
    /// `quoted` tells the formatter which form to print).
    Has {
        expr: Box<Expr>,
        attr: StrLit,
        quoted: bool,
    },
    /// `Type::"id"`
    EntityRef {
        ty: Ident,
        id: StrLit,
    },
    /// `Type::{expr}`: an entity whose id is computed (a String).
    EntityCtor {
        ty: Ident,
        id: Box<Expr>,
    },
    /// `[a, b, c]`
    Set(Vec<Expr>),
    /// `{ key: value, "x-key": value }`
    Record(Vec<(StrLit, Expr)>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `if c then a else b`
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `e is Type`: whether the entity `e` is of the entity type `Type`.
    Is(Box<Expr>, Ident),
    /// `e.has_tag(k)` or `e.get_tag(k)`: a tag of the entity `e`, named by the string `k`.
    Tag(TagOp, Box<Expr>, Box<Expr>),
    /// `e like "glob*"`
    Like(Box<Expr>, StrLit),
    /// `e matches "regex"`
    Matches(Box<Expr>, StrLit),
}

/// The tag methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TagOp {
    /// `e.has_tag(k)`: whether the entity has the tag.
    Has,
    /// `e.get_tag(k)`: the tag's value.
    Get,
}

impl TagOp {
    /// The method's name: `has_tag`, `get_tag`.
    pub fn method(self) -> &'static str {
        match self {
            TagOp::Has => "has_tag",
            TagOp::Get => "get_tag",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    Not,
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Contains,
    ContainsAny,
    ContainsAll,
    HasScope,
    Add,
    Sub,
    Mul,
}

impl BinOp {
    /// The operator as written in source.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::Contains => "contains",
            BinOp::ContainsAny => "contains_any",
            BinOp::ContainsAll => "contains_all",
            BinOp::HasScope => "has_scope",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
        }
    }

    /// Binding strength; higher binds tighter. Comparisons (level 3) do not chain.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq
            | BinOp::Ne
            | BinOp::Lt
            | BinOp::Le
            | BinOp::Gt
            | BinOp::Ge
            | BinOp::In
            | BinOp::Contains
            | BinOp::ContainsAny
            | BinOp::ContainsAll
            | BinOp::HasScope => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul => 5,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Literal {
    Bool(bool),
    Int(i64),
    String(String),
    /// `10.0.0.1`, `10.0.0.0/8`, `2001:db8::/32`: an address is a /32 or /128 network.
    Ip(ipnet::IpNet),
    /// `15m`, `1h30m`, `90d`, `500ms`: milliseconds.
    Duration(i64),
    /// `2026-01-01T00:00:00Z`: milliseconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// `12.5`, `0.0001`: ten-thousandths (see `rampart_engine::decimal`).
    Decimal(i64),
    /// `tls1.0` … `tls1.3`
    Tls(rampart_engine::TlsVersion),
}
