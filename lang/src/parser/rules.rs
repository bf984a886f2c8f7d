//! Annotated items: consts, routes, principal mappings, rules and obligations.

use pest::iterators::Pair;

use super::grammar::Rule;
use super::Builder;
use crate::ast::*;
use crate::diagnostics::Diagnostic;

impl Builder<'_> {
    pub(super) fn annotated_item(&self, pair: Pair<'_, Rule>) -> Result<Item, Diagnostic> {
        let mut annotations = Vec::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::annotation => annotations.push(self.annotation(part)?),
                Rule::const_decl => return self.const_decl(part, annotations).map(Item::Const),
                Rule::route_decl => return self.route(part, annotations).map(Item::Route),
                Rule::principal_decl => {
                    return self.principal_map(part, annotations).map(Item::Principal)
                }
                Rule::allow_rule | Rule::deny_rule | Rule::require_rule => {
                    return self.rule(part, annotations).map(Item::Rule)
                }
                Rule::obligation => {
                    return self.obligation(part, annotations).map(Item::Obligation)
                }
                _ => return Err(self.internal(&part)),
            }
        }
        Err(Diagnostic::error(
            "E001",
            "expected an item after the annotations",
        ))
    }

    fn annotation(&self, pair: Pair<'_, Rule>) -> Result<Annotation, Diagnostic> {
        let span = self.span(&pair);
        let mut name = Ident {
            name: String::new(),
            span,
        };
        let mut args = Vec::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::annotation_name => name = self.ident(self.last(part, "a name")?),
                Rule::string_list => args = self.strings(part)?,
                _ => return Err(self.internal(&part)),
            }
        }
        Ok(Annotation { name, args, span })
    }

    fn const_decl(
        &self,
        pair: Pair<'_, Rule>,
        annotations: Vec<Annotation>,
    ) -> Result<Const, Diagnostic> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        self.next(&mut inner, "`const`")?;
        let name = self.ident(self.next(&mut inner, "a name")?);
        let value = self.expr(self.next(&mut inner, "an expression")?)?.expr;
        Ok(Const {
            annotations,
            name,
            value,
            span,
        })
    }

    fn route(
        &self,
        pair: Pair<'_, Rule>,
        annotations: Vec<Annotation>,
    ) -> Result<Route, Diagnostic> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        self.next(&mut inner, "`route`")?;
        let method = self.ident(self.next(&mut inner, "a method")?);
        let path = self.string(self.next(&mut inner, "a path")?)?;
        let action = self.string(self.next(&mut inner, "an action")?)?;
        self.next(&mut inner, "`on`")?;
        let resource = self.postfix(self.next(&mut inner, "a resource")?)?.expr;
        Ok(Route {
            annotations,
            method,
            path,
            action,
            resource,
            span,
        })
    }

    fn principal_map(
        &self,
        pair: Pair<'_, Rule>,
        annotations: Vec<Annotation>,
    ) -> Result<PrincipalMap, Diagnostic> {
        let span = self.span(&pair);
        let mut entity = None;
        let mut when = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::postfix_expr => entity = Some(self.postfix(part)?.expr),
                Rule::when_clause => when = Some(self.clause_expr(part)?),
                _ => {}
            }
        }
        let entity = entity.ok_or_else(|| self.missing(span, "an entity"))?;
        Ok(PrincipalMap {
            annotations,
            entity,
            when,
            span,
        })
    }

    fn clause_expr(&self, pair: Pair<'_, Rule>) -> Result<Expr, Diagnostic> {
        Ok(self.expr(self.last(pair, "an expression")?)?.expr)
    }

    fn rule(
        &self,
        pair: Pair<'_, Rule>,
        annotations: Vec<Annotation>,
    ) -> Result<crate::ast::Rule, Diagnostic> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::allow_rule => RuleKind::Allow,
            Rule::deny_rule => RuleKind::Deny,
            _ => RuleKind::Require,
        };
        let mut rule = crate::ast::Rule {
            annotations,
            kind,
            require: None,
            scope: Scope::default(),
            when: None,
            unless: None,
            reason: None,
            span,
        };
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::expr => rule.require = Some(self.expr(part)?.expr),
                Rule::rule_scope => rule.scope = self.rule_scope(part)?,
                Rule::principal_only => {
                    let scope_span = self.span(&part);
                    let (principals, principal_head) = self.target(part)?;
                    rule.scope = Scope {
                        principals: Some(principals),
                        principal_head,
                        span: scope_span,
                        ..Scope::default()
                    };
                }
                Rule::when_clause => {
                    rule.when = Some(join(rule.when, self.clause_expr(part)?, BinOp::And));
                }
                Rule::unless_clause => {
                    rule.unless = Some(join(rule.unless, self.clause_expr(part)?, BinOp::Or));
                }
                Rule::reason_clause => {
                    rule.reason = Some(self.string(self.last(part, "a reason")?)?)
                }
                _ => {}
            }
        }
        Ok(rule)
    }

    fn rule_scope(&self, pair: Pair<'_, Rule>) -> Result<Scope, Diagnostic> {
        let mut scope = Scope {
            span: self.span(&pair),
            ..Scope::default()
        };
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::action_list => {
                    let list = if part
                        .clone()
                        .into_inner()
                        .any(|p| p.as_rule() == Rule::any_star)
                    {
                        ScopeList::Any
                    } else {
                        ScopeList::List(self.strings(part)?)
                    };
                    scope.actions = Some(list);
                }
                Rule::on_types => {
                    let (types, head) = self.target(part)?;
                    scope.resources = Some(types);
                    scope.resource_head = head;
                }
                Rule::for_types => {
                    let (types, head) = self.target(part)?;
                    scope.principals = Some(types);
                    scope.principal_head = head;
                }
                _ => return Err(self.internal(&part)),
            }
        }
        Ok(scope)
    }

    /// The types and entities of `on …`, `for …` or a require's principals: `TYPES`,
    /// `TYPES in Type::"id"` or `Type::"id", …` (whose types are the entities').
    fn target(
        &self,
        pair: Pair<'_, Rule>,
    ) -> Result<(ScopeList<Ident>, Option<ScopeHead>), Diagnostic> {
        let span = self.span(&pair);
        let mut types = None;
        let mut head = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::kw_on | Rule::kw_for => {}
                Rule::type_list => types = Some(self.type_list(part)),
                Rule::head_in => {
                    let span = self.span(&part);
                    let entity = self.entity_lit(self.last(part, "an entity")?)?;
                    head = Some(ScopeHead {
                        op: HeadOp::In,
                        entities: vec![entity],
                        span,
                    });
                }
                Rule::entity_list => {
                    let span = self.span(&part);
                    let entities = part
                        .into_inner()
                        .map(|p| self.entity_lit(p))
                        .collect::<Result<Vec<_>, _>>()?;
                    let mut names: Vec<Ident> = Vec::new();
                    for entity in &entities {
                        if !names.iter().any(|n| n.name == entity.ty.name) {
                            names.push(entity.ty.clone());
                        }
                    }
                    types = Some(ScopeList::List(names));
                    head = Some(ScopeHead {
                        op: HeadOp::Eq,
                        entities,
                        span,
                    });
                }
                _ => return Err(self.internal(&part)),
            }
        }
        match types {
            Some(types) => Ok((types, head)),
            None => Err(self.missing(span, "types")),
        }
    }

    /// `Type::"id"` in a scope.
    fn entity_lit(&self, pair: Pair<'_, Rule>) -> Result<EntityLit, Diagnostic> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let ty = self.ident(self.next(&mut inner, "an entity type")?);
        let id = self.string(self.next(&mut inner, "an entity id")?)?;
        Ok(EntityLit { ty, id, span })
    }

    fn type_list(&self, pair: Pair<'_, Rule>) -> ScopeList<Ident> {
        if pair
            .clone()
            .into_inner()
            .any(|p| p.as_rule() == Rule::any_star)
        {
            ScopeList::Any
        } else {
            ScopeList::List(self.type_names(pair))
        }
    }

    fn obligation(
        &self,
        pair: Pair<'_, Rule>,
        annotations: Vec<Annotation>,
    ) -> Result<Obligation, Diagnostic> {
        let span = self.span(&pair);
        let mut kind = None;
        let mut scope = Scope::default();
        let mut when = None;
        let mut unless = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::kw_obligation => {}
                Rule::obligation_scope => scope = self.obligation_scope(part)?,
                Rule::when_clause => when = Some(join(when, self.clause_expr(part)?, BinOp::And)),
                Rule::unless_clause => {
                    unless = Some(join(unless, self.clause_expr(part)?, BinOp::Or));
                }
                _ => kind = Some(self.obligation_kind(part)?),
            }
        }
        let kind = kind.ok_or_else(|| self.missing(span, "an obligation kind"))?;
        Ok(Obligation {
            annotations,
            kind,
            scope,
            when,
            unless,
            span,
        })
    }

    fn obligation_kind(&self, pair: Pair<'_, Rule>) -> Result<ObligationKind, Diagnostic> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut inner = pair.into_inner();
        self.next(&mut inner, "an obligation kind")?;
        match rule {
            Rule::mask_kind => {
                let fields = match inner.next() {
                    Some(list) => self.strings(list)?,
                    None => Vec::new(),
                };
                Ok(ObligationKind::Mask { fields })
            }
            Rule::rate_limit_kind => {
                let limit_pair = self.next(&mut inner, "a limit")?;
                let limit_span = self.span(&limit_pair);
                let limit = limit_pair.as_str().parse::<u64>().map_err(|_| {
                    super::literals::invalid(
                        limit_span,
                        format!("rate limit `{}` is out of range", limit_pair.as_str()),
                        "too large",
                        "a rate limit is at most 18446744073709551615",
                    )
                })?;
                self.next(&mut inner, "`per`")?;
                let per = self.expr(self.next(&mut inner, "a period")?)?.expr;
                let by = match inner.nth(1) {
                    Some(by) => Some(self.expr(by)?.expr),
                    None => None,
                };
                Ok(ObligationKind::RateLimit {
                    limit,
                    limit_span,
                    per,
                    by,
                })
            }
            Rule::request_header_kind | Rule::response_header_kind => {
                let name = self.string(self.next(&mut inner, "a header name")?)?;
                let value = self.expr(self.next(&mut inner, "a value")?)?.expr;
                Ok(if rule == Rule::request_header_kind {
                    ObligationKind::RequestHeader { name, value }
                } else {
                    ObligationKind::ResponseHeader { name, value }
                })
            }
            Rule::remove_header_kind => Ok(ObligationKind::RemoveHeader {
                name: self.string(self.next(&mut inner, "a header name")?)?,
            }),
            _ => Err(self.missing(span, "an obligation kind")),
        }
    }

    fn obligation_scope(&self, pair: Pair<'_, Rule>) -> Result<Scope, Diagnostic> {
        let mut scope = Scope {
            span: self.span(&pair),
            ..Scope::default()
        };
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::obligation_actions => {
                    scope.actions = Some(ScopeList::List(self.strings(part)?))
                }
                Rule::on_types => {
                    let (types, head) = self.target(part)?;
                    scope.resources = Some(types);
                    scope.resource_head = head;
                }
                Rule::for_types => {
                    let (types, head) = self.target(part)?;
                    scope.principals = Some(types);
                    scope.principal_head = head;
                }
                _ => return Err(self.internal(&part)),
            }
        }
        Ok(scope)
    }
}

/// Several `when` clauses are one condition joined with `and`; several `unless` clauses,
/// with `or` (any of them refuses). The formatter writes the joined condition as one clause.
fn join(earlier: Option<Expr>, next: Expr, op: BinOp) -> Expr {
    match earlier {
        None => next,
        Some(earlier) => Expr {
            span: earlier.span.to(next.span),
            kind: ExprKind::Binary(op, Box::new(earlier), Box::new(next)),
        },
    }
}
