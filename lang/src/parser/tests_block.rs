//! `test "name" { request … entities … entity … expect … }` blocks.

use pest::iterators::Pair;

use super::grammar::Rule;
use super::Builder;
use crate::ast::{Expect, Expr, Test, TestEntities, TestRequest};
use crate::diagnostics::Diagnostic;

impl Builder<'_> {
    pub(super) fn test(&self, pair: Pair<'_, Rule>) -> Result<Test, Diagnostic> {
        let span = self.span(&pair);
        let mut name = None;
        let mut request = None;
        let mut entities = Vec::new();
        let mut expect = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::kw_test => {}
                Rule::string => name = Some(self.string(part)?),
                Rule::test_request => request = Some(self.test_request(part)?),
                Rule::entities_file => {
                    entities.push(TestEntities::File(self.string(self.last(part, "a path")?)?))
                }
                Rule::inline_entity => entities.push(self.inline_entity(part)?),
                Rule::expect_clause => expect = Some(self.expect(part)?),
                _ => return Err(self.internal(&part)),
            }
        }
        match (name, request, expect) {
            (Some(name), Some(request), Some(expect)) => Ok(Test {
                name,
                request,
                entities,
                expect,
                span,
            }),
            _ => Err(Diagnostic::error("E001", "incomplete test")
                .with_label(span, "expected a name, a request and an expectation")),
        }
    }

    fn test_request(&self, pair: Pair<'_, Rule>) -> Result<TestRequest, Diagnostic> {
        let form = self.last(pair, "a request")?;
        let span = self.span(&form);
        let http = form.as_rule() == Rule::http_request;
        let mut method = None;
        let mut path = None;
        let mut action = None;
        let mut resource = None;
        let mut principal = None;
        let mut headers = None;
        let mut context = None;
        for part in form.into_inner() {
            match part.as_rule() {
                Rule::http_method => method = Some(self.ident(part)),
                Rule::string if http => path = Some(self.string(part)?),
                Rule::string => action = Some(self.string(part)?),
                Rule::postfix_expr => resource = Some(self.postfix(part)?.expr),
                Rule::test_principal => principal = Some(self.clause_postfix(part)?),
                Rule::test_headers => headers = Some(self.clause_postfix(part)?),
                Rule::test_context => context = Some(self.clause_postfix(part)?),
                _ => {}
            }
        }
        let incomplete = || {
            Diagnostic::error("E001", "incomplete request").with_label(span, "incomplete request")
        };
        if http {
            let (method, path) = method.zip(path).ok_or_else(incomplete)?;
            Ok(TestRequest::Http {
                method,
                path,
                principal,
                headers,
                context,
                span,
            })
        } else {
            let (action, resource) = action.zip(resource).ok_or_else(incomplete)?;
            Ok(TestRequest::Parts {
                principal,
                action,
                resource,
                context,
                span,
            })
        }
    }

    /// The `postfix_expr` of a `keyword postfix_expr` clause.
    fn clause_postfix(&self, pair: Pair<'_, Rule>) -> Result<Expr, Diagnostic> {
        Ok(self.postfix(self.last(pair, "an expression")?)?.expr)
    }

    fn inline_entity(&self, pair: Pair<'_, Rule>) -> Result<TestEntities, Diagnostic> {
        let span = self.span(&pair);
        let mut uid = None;
        let mut attrs = None;
        let mut parents = Vec::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::postfix_expr => uid = Some(self.postfix(part)?.expr),
                Rule::entity_attrs => attrs = Some(self.clause_postfix(part)?),
                Rule::entity_parents => {
                    for parent in part
                        .into_inner()
                        .filter(|p| p.as_rule() == Rule::postfix_expr)
                    {
                        parents.push(self.postfix(parent)?.expr);
                    }
                }
                _ => {}
            }
        }
        let uid = uid.ok_or_else(|| {
            Diagnostic::error("E001", "expected an entity").with_label(span, "expected an entity")
        })?;
        Ok(TestEntities::Inline {
            uid,
            attrs,
            parents,
            span,
        })
    }

    fn expect(&self, pair: Pair<'_, Rule>) -> Result<Expect, Diagnostic> {
        let span = self.span(&pair);
        let mut allow = false;
        let mut rules = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::kw_allow => allow = true,
                Rule::expect_rules => rules = Some(self.strings(part)?),
                _ => {}
            }
        }
        Ok(Expect { allow, rules, span })
    }
}
