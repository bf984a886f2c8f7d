//! A test-only builder for bundles, so tests can write policies by hand until the compiler
//! produces them: names instead of ids, expressions as a small tree with operator methods,
//! conjunct texts rendered automatically.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![allow(
    clippy::arithmetic_side_effects,
    clippy::should_implement_trait,
    clippy::wrong_self_convention
)]

use std::collections::BTreeMap;
use std::sync::Arc;

use rampart_engine::bundle::*;
use rampart_engine::{Decision, Engine, EntityStore, TlsVersion, Value};

pub mod gateway;
pub mod tenants;

/// An expression with names; [`Builder::expr`] resolves it to a bundle [`Expr`].
#[derive(Clone, Debug)]
pub enum E {
    Lit(Value),
    /// `Type::"id"`
    Uid(String, String),
    /// An enum variant: (enum, variant).
    Variant(String, String),
    Principal,
    Action,
    Resource,
    Context,
    Now,
    Param(u32),
    Attr(Box<E>, String),
    Index(Box<E>, String),
    Has(Box<E>, String),
    Ctor(String, Box<E>),
    Set(Vec<E>),
    Record(Vec<(String, E)>),
    Not(Box<E>),
    Neg(Box<E>),
    And(Box<E>, Box<E>),
    Or(Box<E>, Box<E>),
    Bin(BinaryOp, Box<E>, Box<E>),
    Like(Box<E>, String),
    Matches(Box<E>, String),
    HasTag(Box<E>, Box<E>),
    GetTag(Box<E>, Box<E>),
}

pub fn principal() -> E {
    E::Principal
}
pub fn resource() -> E {
    E::Resource
}
pub fn context() -> E {
    E::Context
}
pub fn action() -> E {
    E::Action
}
pub fn now() -> E {
    E::Now
}
pub fn param(i: u32) -> E {
    E::Param(i)
}
pub fn s(text: &str) -> E {
    E::Lit(Value::string(text))
}
pub fn int(n: i64) -> E {
    E::Lit(Value::Int(n))
}
pub fn b(v: bool) -> E {
    E::Lit(Value::Bool(v))
}
pub fn ip(text: &str) -> E {
    let net = if text.contains('/') {
        text.parse().unwrap()
    } else {
        ipnet::IpNet::from(text.parse::<std::net::IpAddr>().unwrap())
    };
    E::Lit(Value::Ip(net))
}
pub fn dur(text: &str) -> E {
    E::Lit(Value::Duration(
        rampart_engine::time::parse_duration(text).unwrap(),
    ))
}
pub fn ts(text: &str) -> E {
    E::Lit(Value::Timestamp(
        rampart_engine::time::parse_timestamp(text).unwrap(),
    ))
}
pub fn tls(v: TlsVersion) -> E {
    E::Lit(Value::Tls(v))
}
pub fn uid(ty: &str, id: &str) -> E {
    E::Uid(ty.into(), id.into())
}
pub fn variant(enum_name: &str, name: &str) -> E {
    E::Variant(enum_name.into(), name.into())
}
pub fn set(items: Vec<E>) -> E {
    E::Set(items)
}
pub fn record(fields: Vec<(&str, E)>) -> E {
    E::Record(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}
pub fn ctor(ty: &str, id: E) -> E {
    E::Ctor(ty.into(), Box::new(id))
}
/// `context.a.b.c` from "a.b.c".
pub fn ctx(path: &str) -> E {
    path.split('.').fold(E::Context, |e, name| e.dot(name))
}

impl E {
    pub fn dot(self, name: &str) -> E {
        E::Attr(Box::new(self), name.into())
    }
    pub fn index(self, key: &str) -> E {
        E::Index(Box::new(self), key.into())
    }
    pub fn has(self, name: &str) -> E {
        E::Has(Box::new(self), name.into())
    }
    pub fn not(self) -> E {
        E::Not(Box::new(self))
    }
    pub fn neg(self) -> E {
        E::Neg(Box::new(self))
    }
    pub fn and(self, other: E) -> E {
        E::And(Box::new(self), Box::new(other))
    }
    pub fn or(self, other: E) -> E {
        E::Or(Box::new(self), Box::new(other))
    }
    pub fn bin(self, op: BinaryOp, other: E) -> E {
        E::Bin(op, Box::new(self), Box::new(other))
    }
    pub fn eq(self, o: E) -> E {
        self.bin(BinaryOp::Eq, o)
    }
    pub fn ne(self, o: E) -> E {
        self.bin(BinaryOp::Ne, o)
    }
    pub fn lt(self, o: E) -> E {
        self.bin(BinaryOp::Lt, o)
    }
    pub fn le(self, o: E) -> E {
        self.bin(BinaryOp::Le, o)
    }
    pub fn gt(self, o: E) -> E {
        self.bin(BinaryOp::Gt, o)
    }
    pub fn ge(self, o: E) -> E {
        self.bin(BinaryOp::Ge, o)
    }
    pub fn is_in(self, o: E) -> E {
        self.bin(BinaryOp::In, o)
    }
    pub fn contains(self, o: E) -> E {
        self.bin(BinaryOp::Contains, o)
    }
    pub fn contains_any(self, o: E) -> E {
        self.bin(BinaryOp::ContainsAny, o)
    }
    pub fn contains_all(self, o: E) -> E {
        self.bin(BinaryOp::ContainsAll, o)
    }
    pub fn has_scope(self, o: E) -> E {
        self.bin(BinaryOp::HasScope, o)
    }
    pub fn add(self, o: E) -> E {
        self.bin(BinaryOp::Add, o)
    }
    pub fn sub(self, o: E) -> E {
        self.bin(BinaryOp::Sub, o)
    }
    pub fn mul(self, o: E) -> E {
        self.bin(BinaryOp::Mul, o)
    }
    pub fn like(self, pattern: &str) -> E {
        E::Like(Box::new(self), pattern.into())
    }
    pub fn matches(self, regex: &str) -> E {
        E::Matches(Box::new(self), regex.into())
    }
    pub fn has_tag(self, key: E) -> E {
        E::HasTag(Box::new(self), Box::new(key))
    }
    pub fn get_tag(self, key: E) -> E {
        E::GetTag(Box::new(self), Box::new(key))
    }

    /// Source-like text, for conjunct texts.
    pub fn text(&self) -> String {
        match self {
            E::Lit(v) => match v {
                Value::String(s) => format!("{s:?}"),
                Value::Int(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Tls(t) => t.literal().to_string(),
                Value::Duration(ms) => rampart_engine::time::format_duration(*ms),
                Value::Timestamp(ms) => rampart_engine::time::format_timestamp(*ms),
                Value::Ip(n) => n.to_string(),
                other => format!("{other:?}"),
            },
            E::Uid(t, i) => format!("{t}::{i:?}"),
            E::Variant(_, v) => v.clone(),
            E::Principal => "principal".into(),
            E::Action => "action".into(),
            E::Resource => "resource".into(),
            E::Context => "context".into(),
            E::Now => "now".into(),
            E::Param(i) => format!("param{i}"),
            E::Attr(e, n) => format!("{}.{n}", e.text()),
            E::Index(e, k) => format!("{}[{k:?}]", e.text()),
            E::Has(e, n) => format!("{} has {n}", e.text()),
            E::Ctor(t, e) => format!("{t}::{{{}}}", e.text()),
            E::Set(items) => format!(
                "[{}]",
                items.iter().map(E::text).collect::<Vec<_>>().join(", ")
            ),
            E::Record(fields) => {
                format!(
                    "{{{}}}",
                    fields
                        .iter()
                        .map(|(k, v)| format!("{k}: {}", v.text()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
            E::Not(e) => format!("not {}", e.text()),
            E::Neg(e) => format!("-{}", e.text()),
            E::And(a, c) => format!("({} and {})", a.text(), c.text()),
            E::Or(a, c) => format!("({} or {})", a.text(), c.text()),
            E::Bin(op, a, c) => {
                let op = match op {
                    BinaryOp::Eq => "==",
                    BinaryOp::Ne => "!=",
                    BinaryOp::Lt => "<",
                    BinaryOp::Le => "<=",
                    BinaryOp::Gt => ">",
                    BinaryOp::Ge => ">=",
                    BinaryOp::In => "in",
                    BinaryOp::Contains => "contains",
                    BinaryOp::ContainsAny => "contains_any",
                    BinaryOp::ContainsAll => "contains_all",
                    BinaryOp::HasScope => "has_scope",
                    BinaryOp::Add => "+",
                    BinaryOp::Sub => "-",
                    BinaryOp::Mul => "*",
                };
                format!("{} {op} {}", a.text(), c.text())
            }
            E::Like(e, p) => format!("{} like {p:?}", e.text()),
            E::Matches(e, p) => format!("{} matches {p:?}", e.text()),
            E::HasTag(e, k) => format!("{}.has_tag({})", e.text(), k.text()),
            E::GetTag(e, k) => format!("{}.get_tag({})", e.text(), k.text()),
        }
    }
}

/// A rule under construction.
#[derive(Clone, Debug)]
pub struct R {
    pub kind: RuleKind,
    pub id: String,
    pub package: String,
    pub actions: Option<Vec<String>>,
    pub on: Option<Vec<String>>,
    pub for_: Option<Vec<String>>,
    /// Scope heads: `(op, [(type, id)])` for the principal and the resource.
    pub principal_head: Option<(HeadOp, Vec<(String, String)>)>,
    pub resource_head: Option<(HeadOp, Vec<(String, String)>)>,
    pub when: Vec<E>,
    pub unless: Option<Vec<E>>,
    pub require: Option<Vec<E>>,
    pub reason: Option<String>,
    pub controls: Vec<String>,
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(t, i)| (t.to_string(), i.to_string()))
        .collect()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

impl R {
    fn new(kind: RuleKind, id: &str) -> R {
        R {
            kind,
            id: id.into(),
            package: "main".into(),
            actions: None,
            on: None,
            for_: None,
            principal_head: None,
            resource_head: None,
            when: Vec::new(),
            unless: None,
            require: None,
            reason: None,
            controls: Vec::new(),
        }
    }
    pub fn allow(id: &str) -> R {
        R::new(RuleKind::Allow, id)
    }
    pub fn deny(id: &str) -> R {
        R::new(RuleKind::Deny, id)
    }
    pub fn require(id: &str, condition: E) -> R {
        R {
            require: Some(vec![condition]),
            ..R::new(RuleKind::Require, id)
        }
    }
    pub fn actions(mut self, list: &[&str]) -> R {
        self.actions = Some(names(list));
        self
    }
    pub fn on(mut self, list: &[&str]) -> R {
        self.on = Some(names(list));
        self
    }
    pub fn for_(mut self, list: &[&str]) -> R {
        self.for_ = Some(names(list));
        self
    }
    /// `for … in T::"id"` (`HeadOp::In`) or `for T::"id", …` (`HeadOp::Eq`).
    pub fn principal_head(mut self, op: HeadOp, entities: &[(&str, &str)]) -> R {
        self.principal_head = Some((op, pairs(entities)));
        self
    }
    /// `on … in T::"id"` or `on T::"id", …`.
    pub fn resource_head(mut self, op: HeadOp, entities: &[(&str, &str)]) -> R {
        self.resource_head = Some((op, pairs(entities)));
        self
    }
    /// Adds a conjunct to `when`.
    pub fn when(mut self, e: E) -> R {
        self.when.push(e);
        self
    }
    pub fn unless(mut self, e: E) -> R {
        self.unless.get_or_insert_with(Vec::new).push(e);
        self
    }
    pub fn reason(mut self, text: &str) -> R {
        self.reason = Some(text.into());
        self
    }
    pub fn control(mut self, id: &str) -> R {
        self.controls.push(id.into());
        self
    }
    pub fn package(mut self, name: &str) -> R {
        self.package = name.into();
        self
    }
}

/// An obligation under construction (scope and conditions reuse [`R`]'s fields).
#[derive(Clone, Debug)]
pub struct O {
    pub scope: R,
    pub kind: OK,
}

/// Obligation kinds with expressions by name.
#[derive(Clone, Debug)]
pub enum OK {
    Mask(Vec<String>),
    RateLimit(u64, i64, E),
    RequestHeader(String, E),
    ResponseHeader(String, E),
    RemoveHeader(String),
}

impl O {
    pub fn new(id: &str, kind: OK) -> O {
        O {
            scope: R::new(RuleKind::Deny, id),
            kind,
        }
    }
    pub fn with(mut self, f: impl FnOnce(R) -> R) -> O {
        self.scope = f(self.scope);
        self
    }
}

pub struct Builder {
    pub bundle: Bundle,
    pub auth_method: EnumId,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// An empty policy set with package `main`, `Anonymous`, `AuthMethod` and the builtin
    /// context.
    pub fn new() -> Builder {
        let mut builder = Builder {
            bundle: Bundle {
                format: BUNDLE_FORMAT.into(),
                version: BUNDLE_VERSION,
                revision: "test".into(),
                symbols: Vec::new(),
                schema: Schema {
                    entity_types: vec![EntityType {
                        name: ANONYMOUS_TYPE.into(),
                        attrs: RecordType::default(),
                        parents: vec![],
                        tags: None,
                    }],
                    enums: Vec::new(),
                    actions: Vec::new(),
                    context: RecordType::default(),
                },
                packages: vec![Package {
                    name: "main".into(),
                    imports: vec![],
                }],
                rules: Vec::new(),
                obligations: Vec::new(),
                routes: Vec::new(),
                principals: Vec::new(),
            },
            auth_method: 0,
        };
        builder.auth_method = builder.enum_type(
            "AuthMethod",
            &["none", "api_key", "jwt", "oauth2", "oidc", "mtls"],
        );
        let am = builder.auth_method;
        let str_set = Ty::Set(Box::new(Ty::String));
        let auth = builder.record_type(&[
            ("method", Ty::Enum(am), false, Some(Value::Enum(am, 0))),
            ("issuer", Ty::String, true, None),
            ("subject", Ty::String, true, None),
            ("audience", str_set.clone(), true, None),
            ("scopes", str_set, false, Some(Value::set(vec![]))),
            ("issued_at", Ty::Timestamp, true, None),
            ("expires_at", Ty::Timestamp, true, None),
            ("mfa", Ty::Bool, false, Some(Value::Bool(false))),
            (
                "claims",
                Ty::Map(Box::new(Ty::Any)),
                false,
                Some(Value::Map(Arc::new(BTreeMap::new()))),
            ),
        ]);
        let tls = builder.record_type(&[
            ("version", Ty::Tls, true, None),
            ("cipher", Ty::String, true, None),
            ("mtls", Ty::Bool, false, Some(Value::Bool(false))),
            ("peer", Ty::String, true, None),
        ]);
        let source =
            builder.record_type(&[("ip", Ty::Ip, true, None), ("port", Ty::Int, true, None)]);
        let request = builder.record_type(&[
            ("method", Ty::String, true, None),
            ("path", Ty::String, true, None),
            ("query", Ty::String, true, None),
            ("host", Ty::String, true, None),
            (
                "headers",
                Ty::Map(Box::new(Ty::String)),
                false,
                Some(Value::Map(Arc::new(BTreeMap::new()))),
            ),
        ]);
        for (name, ty) in [
            ("auth", auth),
            ("tls", tls),
            ("source", source),
            ("request", request),
        ] {
            builder.context_field(name, Ty::Record(Box::new(ty)), false);
        }
        builder.context_field("time", Ty::Timestamp, true);
        builder
    }

    pub fn sym(&mut self, name: &str) -> Sym {
        if let Some(i) = self.bundle.symbols.iter().position(|s| s == name) {
            return i as Sym;
        }
        self.bundle.symbols.push(name.into());
        (self.bundle.symbols.len() - 1) as Sym
    }

    /// A record type from `(name, type, optional, default)`.
    pub fn record_type(&mut self, fields: &[(&str, Ty, bool, Option<Value>)]) -> RecordType {
        let mut out: Vec<FieldType> = fields
            .iter()
            .map(|(n, ty, optional, default)| FieldType {
                name: self.sym(n),
                ty: ty.clone(),
                optional: *optional,
                default: default.clone(),
            })
            .collect();
        out.sort_by_key(|f| f.name);
        RecordType { fields: out }
    }

    pub fn context_field(&mut self, name: &str, ty: Ty, optional: bool) {
        let field = FieldType {
            name: self.sym(name),
            ty,
            optional,
            default: None,
        };
        self.bundle.schema.context.fields.push(field);
        self.bundle.schema.context.fields.sort_by_key(|f| f.name);
    }

    pub fn type_id(&self, name: &str) -> TypeId {
        self.bundle
            .schema
            .entity_types
            .iter()
            .position(|t| t.name == name)
            .unwrap_or_else(|| panic!("no type {name}")) as TypeId
    }

    pub fn enum_id(&self, name: &str) -> EnumId {
        self.bundle
            .schema
            .enums
            .iter()
            .position(|t| t.name == name)
            .unwrap_or_else(|| panic!("no enum {name}")) as EnumId
    }

    pub fn action_id(&self, name: &str) -> ActionId {
        self.bundle
            .schema
            .actions
            .iter()
            .position(|a| a.name == name)
            .unwrap_or_else(|| panic!("no action {name}")) as ActionId
    }

    pub fn package_id(&mut self, name: &str) -> PackageId {
        if let Some(i) = self.bundle.packages.iter().position(|p| p.name == name) {
            return i as PackageId;
        }
        self.bundle.packages.push(Package {
            name: name.into(),
            imports: vec![],
        });
        (self.bundle.packages.len() - 1) as PackageId
    }

    /// Declares an entity type with attributes `(name, type, optional)`; parents by name
    /// (they may be declared later with [`Builder::parents`]).
    pub fn entity_type(&mut self, name: &str, attrs: &[(&str, Ty, bool)]) -> TypeId {
        let fields: Vec<(&str, Ty, bool, Option<Value>)> = attrs
            .iter()
            .map(|(n, t, o)| (*n, t.clone(), *o, None))
            .collect();
        let attrs = self.record_type(&fields);
        self.bundle.schema.entity_types.push(EntityType {
            name: name.into(),
            attrs,
            parents: vec![],
            tags: None,
        });
        (self.bundle.schema.entity_types.len() - 1) as TypeId
    }

    pub fn parents(&mut self, child: &str, parents: &[&str]) {
        let ids: Vec<TypeId> = parents.iter().map(|p| self.type_id(p)).collect();
        let child = self.type_id(child) as usize;
        self.bundle.schema.entity_types[child].parents = ids;
    }

    /// Declares the type of the tags of entity type `name`.
    pub fn tags(&mut self, name: &str, ty: Ty) {
        let id = self.type_id(name) as usize;
        self.bundle.schema.entity_types[id].tags = Some(ty);
    }

    pub fn enum_type(&mut self, name: &str, variants: &[&str]) -> EnumId {
        self.bundle.schema.enums.push(EnumType {
            name: name.into(),
            variants: names(variants),
        });
        (self.bundle.schema.enums.len() - 1) as EnumId
    }

    pub fn action(&mut self, name: &str) -> ActionId {
        self.bundle.schema.actions.push(ActionType {
            name: name.into(),
            resources: None,
            principals: None,
            context: RecordType::default(),
        });
        (self.bundle.schema.actions.len() - 1) as ActionId
    }

    pub fn action_context(&mut self, action: &str, name: &str, ty: Ty, optional: bool) {
        let sym = self.sym(name);
        let a = self.action_id(action) as usize;
        let fields = &mut self.bundle.schema.actions[a].context.fields;
        fields.push(FieldType {
            name: sym,
            ty,
            optional,
            default: None,
        });
        fields.sort_by_key(|f| f.name);
    }

    pub fn import(&mut self, package: &str, imports: &[&str]) {
        let ids: Vec<PackageId> = imports.iter().map(|p| self.package_id(p)).collect();
        let p = self.package_id(package) as usize;
        self.bundle.packages[p].imports = ids;
    }

    pub fn expr(&mut self, e: &E) -> Expr {
        let mut go = |e: &E| Box::new(self.expr(e));
        match e {
            E::Lit(v) => Expr::Const(v.clone()),
            E::Uid(t, i) => {
                let ty = self.type_id(t);
                Expr::Const(Value::Entity(rampart_engine::EntityUid {
                    ty,
                    id: Arc::from(i.as_str()),
                }))
            }
            E::Variant(en, v) => {
                let id = self.enum_id(en);
                let index = self.bundle.schema.enums[id as usize]
                    .variants
                    .iter()
                    .position(|x| x == v)
                    .unwrap() as u32;
                Expr::Const(Value::Enum(id, index))
            }
            E::Principal => Expr::Principal,
            E::Action => Expr::Action,
            E::Resource => Expr::Resource,
            E::Context => Expr::Context,
            E::Now => Expr::Now,
            E::Param(i) => Expr::Param(*i),
            E::Attr(inner, n) => {
                let inner = go(inner);
                Expr::Attr(inner, self.sym(n))
            }
            E::Index(inner, k) => Expr::Index(go(inner), k.clone()),
            E::Has(inner, n) => Expr::Has(go(inner), n.clone()),
            E::Ctor(t, inner) => {
                let inner = go(inner);
                Expr::EntityCtor(self.type_id(t), inner)
            }
            E::Set(items) => Expr::Set(items.iter().map(|i| self.expr(i)).collect()),
            E::Record(fields) => {
                let mut out: Vec<(Sym, Expr)> = fields
                    .iter()
                    .map(|(k, v)| (self.sym(k), self.expr(v)))
                    .collect();
                out.sort_by_key(|(s, _)| *s);
                Expr::Record(out)
            }
            E::Not(inner) => Expr::Not(go(inner)),
            E::Neg(inner) => Expr::Neg(go(inner)),
            E::And(a, c) => {
                let a = go(a);
                Expr::And(a, Box::new(self.expr(c)))
            }
            E::Or(a, c) => {
                let a = go(a);
                Expr::Or(a, Box::new(self.expr(c)))
            }
            E::Bin(op, a, c) => {
                let a = go(a);
                Expr::Binary(*op, a, Box::new(self.expr(c)))
            }
            E::Like(inner, pattern) => Expr::Like(go(inner), glob(pattern)),
            E::Matches(inner, pattern) => Expr::Matches(go(inner), pattern.clone()),
            E::HasTag(inner, key) => Expr::HasTag(go(inner), go(key)),
            E::GetTag(inner, key) => Expr::GetTag(go(inner), go(key)),
        }
    }

    pub fn condition(&mut self, conjuncts: &[E]) -> Condition {
        Condition {
            conjuncts: conjuncts
                .iter()
                .map(|e| Conjunct {
                    expr: self.expr(e),
                    text: e.text(),
                })
                .collect(),
        }
    }

    fn scope(&mut self, r: &R) -> Scope {
        Scope {
            actions: r
                .actions
                .as_ref()
                .map(|l| l.iter().map(|a| self.action_id(a)).collect()),
            resources: r
                .on
                .as_ref()
                .map(|l| l.iter().map(|t| self.type_id(t)).collect()),
            principals: r
                .for_
                .as_ref()
                .map(|l| l.iter().map(|t| self.type_id(t)).collect()),
            resource_head: r.resource_head.as_ref().map(|h| self.head(h)),
            principal_head: r.principal_head.as_ref().map(|h| self.head(h)),
        }
    }

    fn head(&mut self, (op, entities): &(HeadOp, Vec<(String, String)>)) -> Head {
        Head {
            op: *op,
            entities: entities
                .iter()
                .map(|(t, i)| rampart_engine::EntityUid {
                    ty: self.type_id(t),
                    id: Arc::from(i.as_str()),
                })
                .collect(),
        }
    }

    pub fn rule(&mut self, r: R) -> &mut Self {
        let rule = Rule {
            id: r.id.clone(),
            kind: r.kind,
            package: self.package_id(&r.package),
            scope: self.scope(&r),
            when: self.condition(&r.when),
            unless: r.unless.as_ref().map(|u| self.condition(u)),
            require: r.require.as_ref().map(|c| self.condition(c)),
            reason: r.reason.clone(),
            controls: r.controls.clone(),
            annotations: BTreeMap::new(),
            source: None,
        };
        self.bundle.rules.push(rule);
        self
    }

    pub fn obligation(&mut self, o: O) -> &mut Self {
        let r = &o.scope;
        let kind = match &o.kind {
            OK::Mask(fields) => ObligationKind::Mask {
                fields: fields.clone(),
            },
            OK::RateLimit(limit, per_ms, key) => ObligationKind::RateLimit {
                limit: *limit,
                per_ms: *per_ms,
                key: self.expr(key),
            },
            OK::RequestHeader(name, value) => ObligationKind::RequestHeader {
                name: name.clone(),
                value: self.expr(value),
            },
            OK::ResponseHeader(name, value) => ObligationKind::ResponseHeader {
                name: name.clone(),
                value: self.expr(value),
            },
            OK::RemoveHeader(name) => ObligationKind::RemoveHeader { name: name.clone() },
        };
        let obligation = Obligation {
            id: r.id.clone(),
            package: self.package_id(&r.package),
            scope: self.scope(r),
            when: self.condition(&r.when),
            unless: r.unless.as_ref().map(|u| self.condition(u)),
            kind,
            controls: r.controls.clone(),
            annotations: BTreeMap::new(),
            source: None,
        };
        self.bundle.obligations.push(obligation);
        self
    }

    /// `route METHOD "TEMPLATE" => "ACTION" on RESOURCE` (params `{name}`, `{name*}`, in
    /// order of appearance: `param(0)`, `param(1)`, …).
    pub fn route(
        &mut self,
        method: Option<&str>,
        template: &str,
        action: &str,
        resource: E,
    ) -> &mut Self {
        self.route_in("main", method, template, action, resource)
    }

    pub fn route_in(
        &mut self,
        package: &str,
        method: Option<&str>,
        template: &str,
        action: &str,
        resource: E,
    ) -> &mut Self {
        let mut params = Vec::new();
        let mut segments = Vec::new();
        for part in template
            .trim_start_matches('/')
            .split('/')
            .filter(|p| !p.is_empty())
        {
            if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                let index = params.len() as u32;
                if let Some(rest) = name.strip_suffix('*') {
                    params.push(rest.to_string());
                    segments.push(Segment::Rest(index));
                } else {
                    params.push(name.to_string());
                    segments.push(Segment::Param(index));
                }
            } else {
                segments.push(Segment::Literal(part.to_string()));
            }
        }
        let route = Route {
            method: method.map(str::to_string),
            segments,
            action: self.action_id(action),
            resource: self.expr(&resource),
            params,
            package: self.package_id(package),
            template: template.into(),
        };
        self.bundle.routes.push(route);
        self
    }

    pub fn principal_mapping(&mut self, ty: &str, id: E, when: &[E]) -> &mut Self {
        let mapping = PrincipalMapping {
            entity_type: self.type_id(ty),
            id: self.expr(&id),
            when: self.condition(when),
            package: 0,
        };
        self.bundle.principals.push(mapping);
        self
    }

    pub fn build(&self) -> Bundle {
        self.bundle.clone()
    }

    pub fn engine(&self) -> Engine {
        Engine::new(self.build()).expect("test bundle loads")
    }
}

/// Splits a `like` pattern at unescaped `*`.
pub fn glob(pattern: &str) -> Glob {
    let mut pieces = vec![String::new()];
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    pieces.last_mut().unwrap().push(n);
                }
            }
            '*' => pieces.push(String::new()),
            c => pieces.last_mut().unwrap().push(c),
        }
    }
    Glob { pieces }
}

/// The schema most tests use: `User { roles, mfa, department, nick? } in [Group]`,
/// `Group in [Group]`, `Service { spiffe_id }`, `Account { owner, classification,
/// encrypted }`, `enum Class`, actions `read`, `write`, `admin`.
pub fn standard() -> Builder {
    let mut b = Builder::new();
    let class = b.enum_type(
        "Class",
        &["public", "internal", "confidential", "pci", "phi"],
    );
    b.entity_type("Group", &[]);
    b.entity_type(
        "User",
        &[
            ("roles", Ty::Set(Box::new(Ty::String)), false),
            ("mfa", Ty::Bool, false),
            ("department", Ty::String, false),
            ("nick", Ty::String, true),
        ],
    );
    b.entity_type("Service", &[("spiffe_id", Ty::String, false)]);
    let user = b.type_id("User");
    b.entity_type(
        "Account",
        &[
            ("owner", Ty::Entity(user), false),
            ("classification", Ty::Enum(class), false),
            ("encrypted", Ty::Bool, false),
        ],
    );
    b.parents("User", &["Group"]);
    b.parents("Group", &["Group"]);
    for a in ["read", "write", "admin"] {
        b.action(a);
    }
    b
}

/// Standard entity data: alice (mfa, in finance ⊂ staff), bob (no mfa), account a1 owned
/// by alice (pci, encrypted), a2 owned by bob (public, not encrypted).
pub const ENTITIES: &str = r#"[
  {"uid": {"type": "Group", "id": "staff"}},
  {"uid": {"type": "Group", "id": "finance"}, "parents": [{"type": "Group", "id": "staff"}]},
  {"uid": "User::\"alice\"", "attrs": {"roles": ["admin", "dev"], "mfa": true, "department": "eng"},
   "parents": ["Group::\"finance\""]},
  {"uid": {"__entity": {"type": "User", "id": "bob"}}, "attrs": {"roles": [], "mfa": false, "department": "ops", "nick": "b"}},
  {"uid": {"type": "Account", "id": "a1"}, "attrs": {"owner": "User::\"alice\"", "classification": "pci", "encrypted": true}},
  {"uid": {"type": "Account", "id": "a2"}, "attrs": {"owner": {"type": "User", "id": "bob"}, "classification": "public", "encrypted": false}}
]"#;

pub fn entities(engine: &Engine) -> EntityStore {
    engine
        .load_entities(ENTITIES)
        .expect("standard entities load")
}

/// Decides a JSON request.
pub fn decide(engine: &Engine, entities: &EntityStore, request: serde_json::Value) -> Decision {
    engine.decide_json(&request.to_string(), entities)
}

/// A request by alice to `action` on Account a1 with a context.
pub fn req(action: &str, context: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"principal": "User::\"alice\"", "action": action, "resource": "Account::\"a1\"", "context": context})
}
