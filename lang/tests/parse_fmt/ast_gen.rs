//! proptest strategies for syntax trees in the canonical shapes the parser produces (no
//! spans, no redundant forms), for the `parse(format_file(ast)) == ast` property.

use proptest::prelude::*;
use rampart_engine::TlsVersion;
use rampart_lang::ast::*;

/// The language's keywords (never generated as names).
pub use rampart_lang::KEYWORDS;

fn ident_of(name: String) -> Ident {
    Ident {
        name,
        span: Span::default(),
    }
}

fn str_of(value: String) -> StrLit {
    StrLit {
        value,
        span: Span::default(),
    }
}

fn expr_of(kind: ExprKind) -> Expr {
    Expr {
        kind,
        span: Span::default(),
    }
}

/// A lowercase name that is not a keyword (variables, consts, packages, enum variants).
pub fn name() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,7}",
        Just("now".to_owned()),
        // Hex-looking names next to `::` and `:` exercise the IPv6 rules.
        "[a-f]{1,4}",
    ]
    .prop_filter("keyword", |s| !KEYWORDS.contains(&s.as_str()))
}

/// Any identifier, keywords included (attribute names, record keys, annotation names).
pub fn any_ident() -> impl Strategy<Value = String> + Clone {
    prop_oneof![3 => "[a-zA-Z_][a-zA-Z0-9_]{0,7}", 1 => proptest::sample::select(KEYWORDS).prop_map(str::to_owned)]
}

/// A type name: capitalised, sometimes made only of hex letters (`Face`, `Dead`).
pub fn type_name() -> impl Strategy<Value = Ident> + Clone {
    prop_oneof![
        "[A-Z][a-zA-Z0-9]{0,6}",
        "[A-F][a-f]{1,3}",
        Just("Set".to_owned())
    ]
    .prop_map(ident_of)
}

/// Arbitrary text, with the characters that need escapes well represented.
pub fn text() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        "[a-z:/*. -]{0,12}",
        proptest::collection::vec(
            prop_oneof![
                Just('"'),
                Just('\\'),
                Just('\n'),
                Just('\t'),
                Just('\r'),
                Just('\u{7}'),
                Just('é'),
                Just('/'),
                any::<char>()
            ],
            0..6
        )
        .prop_map(|cs| cs.into_iter().collect()),
    ]
}

fn ip() -> impl Strategy<Value = ipnet::IpNet> + Clone {
    prop_oneof![
        (any::<[u8; 4]>(), 0u8..=32)
            .prop_map(|(a, p)| ipnet::IpNet::new(std::net::Ipv4Addr::from(a).into(), p)),
        (any::<u128>(), 0u8..=128)
            .prop_map(|(a, p)| ipnet::IpNet::new(std::net::Ipv6Addr::from(a).into(), p)),
        (any::<u16>(), 0u8..=128).prop_map(|(a, p)| ipnet::IpNet::new(
            std::net::Ipv6Addr::from(u128::from(a)).into(),
            p
        )),
        (any::<u32>()).prop_map(|a| ipnet::IpNet::new(
            std::net::Ipv6Addr::from(0xffff_0000_0000u128 | u128::from(a)).into(),
            128
        )),
    ]
    .prop_filter_map("prefix", Result::ok)
}

fn literal() -> impl Strategy<Value = Literal> + Clone {
    prop_oneof![
        any::<bool>().prop_map(Literal::Bool),
        (0..=i64::MAX).prop_map(Literal::Int),
        text().prop_map(Literal::String),
        ip().prop_map(Literal::Ip),
        prop_oneof![0..=i64::MAX, 0..100_000_000i64].prop_map(Literal::Duration),
        prop_oneof![0..=i64::MAX, 0..1_000_000i64].prop_map(Literal::Decimal),
        // 0000-01-01T00:00:00Z ..= 9999-12-31T23:59:59.999Z
        prop_oneof![
            -62_167_219_200_000..=253_402_300_799_999i64,
            (0..4_000_000_000i64).prop_map(|s| s * 1000)
        ]
        .prop_map(Literal::Timestamp),
        proptest::sample::select(vec![
            TlsVersion::Tls10,
            TlsVersion::Tls11,
            TlsVersion::Tls12,
            TlsVersion::Tls13
        ])
        .prop_map(Literal::Tls),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> + Clone {
    prop_oneof![
        literal().prop_map(|l| expr_of(ExprKind::Lit(l))),
        name().prop_map(|n| expr_of(ExprKind::Var(ident_of(n)))),
        proptest::sample::select(vec!["principal", "resource", "action", "context"])
            .prop_map(|n| expr_of(ExprKind::Var(ident_of(n.to_owned())))),
        (type_name(), text())
            .prop_map(|(ty, id)| expr_of(ExprKind::EntityRef { ty, id: str_of(id) })),
    ]
}

fn bin_op() -> impl Strategy<Value = BinOp> + Clone {
    proptest::sample::select(vec![
        BinOp::Or,
        BinOp::And,
        BinOp::Eq,
        BinOp::Ne,
        BinOp::Lt,
        BinOp::Le,
        BinOp::Gt,
        BinOp::Ge,
        BinOp::In,
        BinOp::Contains,
        BinOp::ContainsAny,
        BinOp::ContainsAll,
        BinOp::HasScope,
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
    ])
}

/// Expressions of bounded depth (well under the limit of 64).
pub fn expr() -> impl Strategy<Value = Expr> + Clone {
    leaf().prop_recursive(5, 48, 4, |inner| {
        let boxed = inner.clone().prop_map(Box::new);
        prop_oneof![
            (bin_op(), boxed.clone(), boxed.clone())
                .prop_map(|(op, l, r)| expr_of(ExprKind::Binary(op, l, r))),
            (
                proptest::sample::select(vec![UnOp::Not, UnOp::Neg]),
                boxed.clone()
            )
                .prop_map(|(op, e)| expr_of(ExprKind::Unary(op, e))),
            (boxed.clone(), any_ident()).prop_map(|(e, n)| expr_of(ExprKind::Attr(e, ident_of(n)))),
            (boxed.clone(), text()).prop_map(|(e, k)| expr_of(ExprKind::Index(e, str_of(k)))),
            (boxed.clone(), any_ident()).prop_map(|(e, n)| expr_of(ExprKind::Has {
                expr: e,
                attr: str_of(n),
                quoted: false
            })),
            (boxed.clone(), text()).prop_map(|(e, n)| expr_of(ExprKind::Has {
                expr: e,
                attr: str_of(n),
                quoted: true
            })),
            (boxed.clone(), type_name()).prop_map(|(e, ty)| expr_of(ExprKind::Is(e, ty))),
            (
                proptest::sample::select(vec![TagOp::Has, TagOp::Get]),
                boxed.clone(),
                boxed.clone()
            )
                .prop_map(|(op, e, k)| expr_of(ExprKind::Tag(op, e, k))),
            (boxed.clone(), boxed.clone(), boxed.clone())
                .prop_map(|(c, a, b)| expr_of(ExprKind::If(c, a, b))),
            (boxed.clone(), text()).prop_map(|(e, p)| expr_of(ExprKind::Like(e, str_of(p)))),
            (boxed.clone(), text()).prop_map(|(e, p)| expr_of(ExprKind::Matches(e, str_of(p)))),
            (type_name(), boxed).prop_map(|(ty, id)| expr_of(ExprKind::EntityCtor { ty, id })),
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| expr_of(ExprKind::Set(items))),
            proptest::collection::vec(
                (prop_oneof![any_ident(), text()].prop_map(str_of), inner),
                0..4
            )
            .prop_map(|entries| expr_of(ExprKind::Record(entries))),
        ]
    })
}

fn strings(max: usize) -> impl Strategy<Value = Vec<StrLit>> + Clone {
    proptest::collection::vec(text().prop_map(str_of), 1..=max)
}

fn types(max: usize) -> impl Strategy<Value = Vec<Ident>> + Clone {
    proptest::collection::vec(type_name(), 1..=max)
}

fn type_scope() -> impl Strategy<Value = ScopeList<Ident>> + Clone {
    prop_oneof![Just(ScopeList::Any), types(3).prop_map(ScopeList::List)]
}

/// What follows `on` or `for`: types, with an entity head sometimes.
type Target = (ScopeList<Ident>, Option<ScopeHead>);

fn entity_lit() -> impl Strategy<Value = EntityLit> + Clone {
    (type_name(), text()).prop_map(|(ty, id)| EntityLit {
        ty,
        id: str_of(id),
        span: Span::default(),
    })
}

fn head_of(op: HeadOp, entities: Vec<EntityLit>) -> ScopeHead {
    ScopeHead {
        op,
        entities,
        span: Span::default(),
    }
}

/// `TYPES in E`, or `E, …` (whose types, without repeats, are the type list).
fn head_target(
    types: impl Strategy<Value = ScopeList<Ident>> + Clone,
) -> impl Strategy<Value = Target> + Clone {
    prop_oneof![
        (types, entity_lit()).prop_map(|(t, e)| (t, Some(head_of(HeadOp::In, vec![e])))),
        proptest::collection::vec(entity_lit(), 1..3).prop_map(|entities| {
            let mut names: Vec<Ident> = Vec::new();
            for e in &entities {
                if !names.iter().any(|n| n.name == e.ty.name) {
                    names.push(e.ty.clone());
                }
            }
            (ScopeList::List(names), Some(head_of(HeadOp::Eq, entities)))
        }),
    ]
}

/// Boxed: its value trees are large, and a file holds many (a debug test thread's stack
/// is 2 MiB).
fn target() -> BoxedStrategy<Target> {
    prop_oneof![
        3 => type_scope().prop_map(|t| (t, None)),
        1 => head_target(type_scope()),
    ]
    .boxed()
}

fn action_scope() -> impl Strategy<Value = ScopeList<StrLit>> + Clone {
    prop_oneof![Just(ScopeList::Any), strings(3).prop_map(ScopeList::List)]
}

fn scope_of(
    actions: Option<ScopeList<StrLit>>,
    resources: Option<Target>,
    principals: Option<Target>,
) -> Scope {
    let (resources, resource_head) = resources.map_or((None, None), |(t, h)| (Some(t), h));
    let (principals, principal_head) = principals.map_or((None, None), |(t, h)| (Some(t), h));
    Scope {
        actions,
        resources,
        principals,
        resource_head,
        principal_head,
        span: Span::default(),
    }
}

fn annotations() -> impl Strategy<Value = Vec<Annotation>> + Clone {
    proptest::collection::vec(
        (
            any_ident(),
            proptest::collection::vec(text().prop_map(str_of), 0..3),
        )
            .prop_map(|(n, args)| Annotation {
                name: ident_of(n),
                args,
                span: Span::default(),
            }),
        0..3,
    )
}

fn rule() -> impl Strategy<Value = Rule> + Clone {
    let allow_deny_scope = (
        action_scope(),
        proptest::option::of(target()),
        proptest::option::of(target()),
    )
        .prop_map(|(a, r, p)| scope_of(Some(a), r, p));
    // `require C for TYPES`, `for TYPES in E`, `for * in E`, `for E, …`.
    let principals_only = prop_oneof![
        types(3).prop_map(|p| (ScopeList::List(p), None)),
        head_target(type_scope()),
    ]
    .boxed();
    let require_scope = prop_oneof![
        allow_deny_scope.clone(),
        principals_only.prop_map(|p| scope_of(None, None, Some(p))),
    ];
    let kind_scope = prop_oneof![
        (Just(RuleKind::Allow), Just(None), allow_deny_scope.clone()),
        (Just(RuleKind::Deny), Just(None), allow_deny_scope),
        (
            Just(RuleKind::Require),
            expr().prop_map(Some),
            require_scope
        ),
    ];
    (
        annotations(),
        kind_scope,
        proptest::option::of(expr()),
        proptest::option::of(expr()),
        proptest::option::of(text().prop_map(str_of)),
    )
        .prop_map(
            |(annotations, (kind, require, scope), when, unless, reason)| Rule {
                annotations,
                kind,
                require,
                scope,
                when,
                unless,
                reason,
                span: Span::default(),
            },
        )
}

fn obligation() -> impl Strategy<Value = Obligation> + Clone {
    let kind = prop_oneof![
        proptest::collection::vec(text().prop_map(str_of), 0..3)
            .prop_map(|fields| ObligationKind::Mask { fields }),
        (any::<u64>(), expr(), proptest::option::of(expr())).prop_map(|(limit, per, by)| {
            ObligationKind::RateLimit {
                limit,
                limit_span: Span::default(),
                per,
                by,
            }
        }),
        (text(), expr()).prop_map(|(n, value)| ObligationKind::RequestHeader {
            name: str_of(n),
            value
        }),
        (text(), expr()).prop_map(|(n, value)| ObligationKind::ResponseHeader {
            name: str_of(n),
            value
        }),
        text().prop_map(|n| ObligationKind::RemoveHeader { name: str_of(n) }),
    ];
    let scope = (
        proptest::option::of(strings(3).prop_map(ScopeList::List)),
        proptest::option::of(target()),
        proptest::option::of(target()),
    )
        .prop_map(|(a, r, p)| scope_of(a, r, p));
    (
        annotations(),
        kind,
        scope,
        proptest::option::of(expr()),
        proptest::option::of(expr()),
    )
        .prop_map(|(annotations, kind, scope, when, unless)| Obligation {
            annotations,
            kind,
            scope,
            when,
            unless,
            span: Span::default(),
        })
}

fn type_expr() -> impl Strategy<Value = TypeExpr> + Clone {
    let leaf = type_name().prop_map(|n| TypeExpr {
        kind: TypeExprKind::Named(n),
        span: Span::default(),
    });
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| TypeExpr {
                kind: TypeExprKind::Set(Box::new(t)),
                span: Span::default()
            }),
            inner.clone().prop_map(|t| TypeExpr {
                kind: TypeExprKind::Map(Box::new(t)),
                span: Span::default()
            }),
            attrs_of(inner).prop_map(|a| TypeExpr {
                kind: TypeExprKind::Record(a),
                span: Span::default()
            }),
        ]
    })
}

fn attrs_of(
    ty: impl Strategy<Value = TypeExpr> + Clone,
) -> impl Strategy<Value = Vec<AttrDecl>> + Clone {
    proptest::collection::vec(
        (any_ident(), any::<bool>(), ty).prop_map(|(n, optional, ty)| AttrDecl {
            name: ident_of(n),
            optional,
            ty,
            span: Span::default(),
        }),
        0..4,
    )
}

fn schema_decl() -> impl Strategy<Value = SchemaDecl> + Clone {
    let names = proptest::collection::vec(type_name(), 0..3);
    prop_oneof![
        (
            type_name(),
            attrs_of(type_expr()),
            names.clone(),
            proptest::option::of(type_expr())
        )
            .prop_map(|(name, attrs, parents, tags)| {
                SchemaDecl::Entity(EntityDecl {
                    name,
                    attrs,
                    parents,
                    tags,
                    span: Span::default(),
                })
            }),
        (
            type_name(),
            proptest::collection::vec(name().prop_map(ident_of), 0..4)
        )
            .prop_map(|(name, variants)| SchemaDecl::Enum(EnumDecl {
                name,
                variants,
                span: Span::default()
            })),
        (
            strings(3),
            proptest::collection::vec(text().prop_map(str_of), 0..=2),
            names.clone(),
            names,
            attrs_of(type_expr())
        )
            .prop_map(|(names, groups, resources, principals, context)| {
                SchemaDecl::Action(ActionDecl {
                    names,
                    groups,
                    resources,
                    principals,
                    context,
                    span: Span::default(),
                })
            }),
        (type_name(), type_expr()).prop_map(|(name, ty)| SchemaDecl::Type(TypeDecl {
            name,
            ty,
            span: Span::default()
        })),
        attrs_of(type_expr()).prop_map(|attrs| SchemaDecl::Context(ContextDecl {
            attrs,
            span: Span::default()
        })),
    ]
}

fn method() -> impl Strategy<Value = Ident> + Clone {
    proptest::sample::select(vec![
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
    ])
    .prop_map(|m| ident_of(m.to_owned()))
}

fn test_block() -> impl Strategy<Value = Test> + Clone {
    let opt = || proptest::option::of(expr());
    let request = prop_oneof![
        (opt(), text(), expr(), opt()).prop_map(|(principal, action, resource, context)| {
            TestRequest::Parts {
                principal,
                action: str_of(action),
                resource,
                context,
                span: Span::default(),
            }
        }),
        (method(), text(), opt(), opt(), opt()).prop_map(
            |(method, path, principal, headers, context)| TestRequest::Http {
                method,
                path: str_of(path),
                principal,
                headers,
                context,
                span: Span::default(),
            }
        ),
    ];
    let source = prop_oneof![
        text().prop_map(|p| TestEntities::File(str_of(p))),
        (
            expr(),
            proptest::option::of(expr()),
            proptest::collection::vec(expr(), 0..3)
        )
            .prop_map(|(uid, attrs, parents)| TestEntities::Inline {
                uid,
                attrs,
                parents,
                span: Span::default()
            }),
    ];
    let expect = (
        any::<bool>(),
        proptest::option::of(proptest::collection::vec(text().prop_map(str_of), 0..3)),
    )
        .prop_map(|(allow, rules)| Expect {
            allow,
            rules,
            span: Span::default(),
        });
    (
        text(),
        request,
        proptest::collection::vec(source, 0..3),
        expect,
    )
        .prop_map(|(name, request, entities, expect)| Test {
            name: str_of(name),
            request,
            entities,
            expect,
            span: Span::default(),
        })
}

fn item() -> impl Strategy<Value = Item> + Clone {
    prop_oneof![
        1 => proptest::collection::vec(schema_decl(), 0..5).prop_map(|decls| Item::Schema(Schema { decls, span: Span::default() })),
        1 => (annotations(), name(), expr())
            .prop_map(|(annotations, n, value)| Item::Const(Const { annotations, name: ident_of(n), value, span: Span::default() })),
        1 => (annotations(), prop_oneof![method(), Just(ident_of("*".to_owned()))], text(), text(), expr()).prop_map(
            |(annotations, method, path, action, resource)| {
                Item::Route(Route { annotations, method, path: str_of(path), action: str_of(action), resource, span: Span::default() })
            }
        ),
        1 => (annotations(), expr(), proptest::option::of(expr()))
            .prop_map(|(annotations, entity, when)| Item::Principal(PrincipalMap { annotations, entity, when, span: Span::default() })),
        3 => rule().prop_map(Item::Rule),
        2 => obligation().prop_map(Item::Obligation),
        1 => test_block().prop_map(Item::Test),
    ]
}

fn qual_name() -> impl Strategy<Value = QualName> + Clone {
    proptest::collection::vec(name().prop_map(ident_of), 1..3).prop_map(|parts| QualName {
        parts,
        span: Span::default(),
    })
}

/// Whole files without comments.
pub fn file() -> impl Strategy<Value = File> + Clone {
    let param = (name().prop_map(ident_of), expr()).prop_map(|(name, value)| ImportParam {
        name,
        value,
        span: Span::default(),
    });
    let import = (
        qual_name(),
        proptest::option::of(name().prop_map(ident_of)),
        proptest::collection::vec(param, 0..3),
    )
        .prop_map(|(path, alias, params)| Import {
            path,
            alias,
            span: Span::default(),
            params,
        });
    (
        qual_name(),
        proptest::collection::vec(import, 0..3),
        proptest::collection::vec(item(), 0..6),
    )
        .prop_map(|(package, imports, items)| File {
            package,
            imports,
            items,
            comments: Vec::new(),
            blank_lines: BlankLines::default(),
        })
}
