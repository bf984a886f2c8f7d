//! Files, imports and schema blocks.

use pest::iterators::Pair;

use super::grammar::Rule;
use super::Builder;
use crate::ast::*;
use crate::diagnostics::Diagnostic;

impl Builder<'_> {
    /// The `package` line and the imports.
    pub(super) fn file_head(
        &self,
        pair: Pair<'_, Rule>,
    ) -> Result<(QualName, Vec<Import>), Diagnostic> {
        let mut package = None;
        let mut imports = Vec::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::package_decl => {
                    package = Some(self.qual_name(self.last(part, "a package name")?))
                }
                Rule::import_decl => imports.push(self.import(part)?),
                _ => return Err(self.internal(&part)),
            }
        }
        let package = package.ok_or_else(|| Diagnostic::error("E019", "missing `package` line"))?;
        Ok((package, imports))
    }

    /// One item of the file.
    pub(super) fn item(&self, part: Pair<'_, Rule>) -> Result<Item, Diagnostic> {
        match part.as_rule() {
            Rule::schema_block => Ok(Item::Schema(self.schema(part)?)),
            Rule::test_block => Ok(Item::Test(self.test(part)?)),
            Rule::annotated_item => self.annotated_item(part),
            _ => Err(self.internal(&part)),
        }
    }

    fn qual_name(&self, pair: Pair<'_, Rule>) -> QualName {
        let span = self.span(&pair);
        QualName {
            parts: pair.into_inner().map(|p| self.ident(p)).collect(),
            span,
        }
    }

    fn import(&self, pair: Pair<'_, Rule>) -> Result<Import, Diagnostic> {
        let span = self.span(&pair);
        let mut path = None;
        let mut alias = None;
        let mut params = Vec::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::qual_name => path = Some(self.qual_name(part)),
                Rule::ident => alias = Some(self.ident(part)),
                Rule::import_params => params = self.import_params(part)?,
                _ => {}
            }
        }
        let path = path.ok_or_else(|| self.missing(span, "a package name"))?;
        Ok(Import {
            path,
            alias,
            span,
            params,
        })
    }

    /// `with { name: value, ... }`
    fn import_params(&self, pair: Pair<'_, Rule>) -> Result<Vec<ImportParam>, Diagnostic> {
        let mut params = Vec::new();
        for part in pair.into_inner() {
            if part.as_rule() != Rule::import_param {
                continue;
            }
            let span = self.span(&part);
            let mut inner = part.into_inner();
            let name = self.ident(self.next(&mut inner, "a const name")?);
            let value = self.expr(self.next(&mut inner, "a value")?)?.expr;
            params.push(ImportParam { name, value, span });
        }
        Ok(params)
    }

    pub(super) fn missing(&self, span: Span, what: &str) -> Diagnostic {
        Diagnostic::error("E001", format!("expected {what}"))
            .with_label(span, format!("expected {what}"))
    }

    // -----------------------------------------------------------------------------------
    // Schema
    // -----------------------------------------------------------------------------------

    fn schema(&self, pair: Pair<'_, Rule>) -> Result<Schema, Diagnostic> {
        let span = self.span(&pair);
        let mut decls = Vec::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::kw_schema => {}
                Rule::entity_decl => decls.push(SchemaDecl::Entity(self.entity_decl(part)?)),
                Rule::enum_decl => decls.push(SchemaDecl::Enum(self.enum_decl(part))),
                Rule::type_decl => {
                    let span = self.span(&part);
                    let mut inner = part.into_inner();
                    let name = inner
                        .find(|p| p.as_rule() == Rule::ident)
                        .map(|p| self.ident(p))
                        .ok_or_else(|| self.missing(span, "a type name"))?;
                    let ty = inner
                        .find(|p| p.as_rule() == Rule::type_expr)
                        .ok_or_else(|| self.missing(span, "a type"))?;
                    let ty = self.type_expr(ty, 1)?;
                    decls.push(SchemaDecl::Type(TypeDecl { name, ty, span }));
                }
                Rule::action_decl => self.action_decl(part, &mut decls)?,
                Rule::context_decl => {
                    let span = self.span(&part);
                    let attrs = self.attr_block(self.last(part, "attributes")?, 1)?;
                    decls.push(SchemaDecl::Context(ContextDecl { attrs, span }));
                }
                _ => return Err(self.internal(&part)),
            }
        }
        Ok(Schema { decls, span })
    }

    fn entity_decl(&self, pair: Pair<'_, Rule>) -> Result<EntityDecl, Diagnostic> {
        let span = self.span(&pair);
        let mut name = None;
        let mut attrs = Vec::new();
        let mut parents = Vec::new();
        let mut tags = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::ident => name = Some(self.ident(part)),
                Rule::attr_block => attrs = self.attr_block(part, 1)?,
                Rule::type_names => parents = self.type_names(part),
                Rule::entity_tags => {
                    let ty = self.last(part, "a tag type")?;
                    tags = Some(self.type_expr(ty, 1)?);
                }
                _ => {}
            }
        }
        let name = name.ok_or_else(|| self.missing(span, "a type name"))?;
        Ok(EntityDecl {
            name,
            attrs,
            parents,
            tags,
            span,
        })
    }

    fn enum_decl(&self, pair: Pair<'_, Rule>) -> EnumDecl {
        let span = self.span(&pair);
        let mut idents = pair
            .into_inner()
            .filter(|p| p.as_rule() == Rule::ident)
            .map(|p| self.ident(p));
        let name = idents.next().unwrap_or(Ident {
            name: String::new(),
            span,
        });
        EnumDecl {
            name,
            variants: idents.collect(),
            span,
        }
    }

    /// An action declaration. Its `context { … }` clause must start on the line where the
    /// rest of the declaration ends; otherwise it is a separate `context` declaration.
    fn action_decl(
        &self,
        pair: Pair<'_, Rule>,
        decls: &mut Vec<SchemaDecl>,
    ) -> Result<(), Diagnostic> {
        let span = self.span(&pair);
        let mut decl = ActionDecl {
            names: Vec::new(),
            groups: Vec::new(),
            resources: Vec::new(),
            principals: Vec::new(),
            context: Vec::new(),
            span,
        };
        let mut after_on = false;
        let mut last_end = span.start as usize;
        let mut separate_context = None;
        for part in pair.into_inner() {
            let part_span = self.span(&part);
            let rule = part.as_rule();
            match rule {
                Rule::kw_on => after_on = true,
                Rule::kw_for => after_on = false,
                Rule::action_names => decl.names = self.strings(part)?,
                Rule::action_groups => decl.groups = self.strings(part)?,
                Rule::type_names if after_on => decl.resources = self.type_names(part),
                Rule::type_names => decl.principals = self.type_names(part),
                Rule::action_context => {
                    let attrs = self.attr_block(self.last(part, "attributes")?, 1)?;
                    if self.newline_between(last_end, part_span.start as usize) {
                        separate_context = Some(ContextDecl {
                            attrs,
                            span: part_span,
                        });
                        decl.span = Span {
                            start: span.start,
                            end: last_end as u32,
                        };
                    } else {
                        decl.context = attrs;
                    }
                }
                _ => {}
            }
            if rule != Rule::action_context {
                last_end = part_span.end as usize;
            }
        }
        decls.push(SchemaDecl::Action(decl));
        if let Some(context) = separate_context {
            decls.push(SchemaDecl::Context(context));
        }
        Ok(())
    }

    pub(super) fn type_names(&self, pair: Pair<'_, Rule>) -> Vec<Ident> {
        pair.into_inner()
            .filter(|p| p.as_rule() == Rule::ident)
            .map(|p| self.ident(p))
            .collect()
    }

    /// An `attr_block` at nesting `depth` (1 for the outermost).
    fn attr_block(&self, pair: Pair<'_, Rule>, depth: usize) -> Result<Vec<AttrDecl>, Diagnostic> {
        if depth > super::lexical::MAX_DEPTH {
            return Err(super::lexical::too_deep(self.span(&pair)));
        }
        let mut attrs = Vec::new();
        for attr in pair.into_inner() {
            let span = self.span(&attr);
            let mut name = None;
            let mut optional = false;
            let mut ty = None;
            for part in attr.into_inner() {
                match part.as_rule() {
                    Rule::ident_any => name = Some(self.ident(part)),
                    Rule::string => {
                        // Any string names an attribute, the empty one included (as in
                        // Cedar and JSON).
                        let quoted = self.string(part)?;
                        name = Some(Ident {
                            name: quoted.value,
                            span: quoted.span,
                        });
                    }
                    Rule::optional_mark => optional = true,
                    Rule::type_expr => ty = Some(self.type_expr(part, depth)?),
                    _ => return Err(self.internal(&part)),
                }
            }
            let name = name.ok_or_else(|| self.missing(span, "an attribute name"))?;
            let ty = ty.ok_or_else(|| self.missing(span, "a type"))?;
            attrs.push(AttrDecl {
                name,
                optional,
                ty,
                span,
            });
        }
        Ok(attrs)
    }

    /// A type at nesting `depth` (the depth of the attribute block it is in).
    fn type_expr(&self, pair: Pair<'_, Rule>, depth: usize) -> Result<TypeExpr, Diagnostic> {
        let span = self.span(&pair);
        if depth > super::lexical::MAX_DEPTH {
            return Err(super::lexical::too_deep(span));
        }
        let inner = self.last(pair, "a type")?;
        let kind = match inner.as_rule() {
            Rule::ident => TypeExprKind::Named(self.ident(inner)),
            Rule::attr_block => TypeExprKind::Record(self.attr_block(inner, depth + 1)?),
            Rule::set_type => TypeExprKind::Set(Box::new(
                self.type_expr(self.last(inner, "a type")?, depth + 1)?,
            )),
            Rule::map_type => TypeExprKind::Map(Box::new(
                self.type_expr(self.last(inner, "a type")?, depth + 1)?,
            )),
            _ => return Err(self.internal(&inner)),
        };
        Ok(TypeExpr { kind, span })
    }
}
