//! Turning a raw HTTP method and path into a route of the bundle.
//!
//! The [`Router`] is a trie over path segments. Matching strips the query string and the
//! fragment, then walks the trie preferring, at every segment, a literal over a `{param}`
//! over a `{rest*}`, backtracking when a preferred branch leads nowhere. At the node where
//! the path ends, a route for the request's method beats a `*` route; among equals the
//! first in bundle order wins. Routes of packages the request did not select are skipped.

use std::collections::HashMap;
use std::sync::Arc;

use crate::bundle::{Route, Segment};

/// The route table of a bundle.
#[derive(Debug, Default)]
pub(crate) struct Router {
    root: Node,
}

#[derive(Debug, Default)]
struct Node {
    literals: HashMap<String, Node>,
    param: Option<Box<Node>>,
    /// Routes whose last segment is `{rest*}` hanging here.
    rest: Vec<u32>,
    /// Routes that end exactly here.
    end: Vec<u32>,
}

/// A route that matched, with its path parameters decoded (in the route's `params` order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteMatch {
    pub route: u32,
    pub params: Vec<Arc<str>>,
}

/// Why a path could not be routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RouteError {
    NoMatch,
    /// A parameter's `%XX` escapes are malformed or not UTF-8.
    BadEncoding {
        param: String,
    },
}

impl Router {
    pub(crate) fn build(routes: &[Route]) -> Self {
        let mut root = Node::default();
        for (index, route) in routes.iter().enumerate() {
            let Ok(index) = u32::try_from(index) else {
                break;
            };
            let mut node = &mut root;
            let mut ends_in_rest = false;
            for segment in &route.segments {
                match segment {
                    Segment::Literal(text) => node = node.literals.entry(text.clone()).or_default(),
                    Segment::Param(_) => node = node.param.get_or_insert_with(Box::default),
                    Segment::Rest(_) => {
                        ends_in_rest = true;
                        break;
                    }
                }
            }
            if ends_in_rest {
                node.rest.push(index);
            } else {
                node.end.push(index);
            }
        }
        Self { root }
    }

    /// Finds the route for `method` and `raw_path` among the routes `selected` accepts.
    pub(crate) fn route(
        &self,
        routes: &[Route],
        method: &str,
        raw_path: &str,
        selected: &dyn Fn(&Route) -> bool,
    ) -> Result<RouteMatch, RouteError> {
        let path = strip_query(raw_path);
        let segments = split_path(path);
        let search = Search {
            routes,
            method,
            selected,
        };
        let route = search
            .find(&self.root, &segments)
            .ok_or(RouteError::NoMatch)?;
        let template = usize::try_from(route)
            .ok()
            .and_then(|i| routes.get(i))
            .ok_or(RouteError::NoMatch)?;
        let params = bind_params(template, &segments)?;
        Ok(RouteMatch { route, params })
    }
}

struct Search<'a> {
    routes: &'a [Route],
    method: &'a str,
    selected: &'a dyn Fn(&Route) -> bool,
}

impl Search<'_> {
    /// Depth-first search in precedence order; recursion depth is bounded by the trie's
    /// depth (the longest route template), not by the request path.
    fn find(&self, node: &Node, segments: &[&str]) -> Option<u32> {
        let Some((first, rest)) = segments.split_first() else {
            return self.pick(&node.end);
        };
        if let Some(found) = node
            .literals
            .get(*first)
            .and_then(|child| self.find(child, rest))
        {
            return Some(found);
        }
        if !first.is_empty() {
            if let Some(found) = node
                .param
                .as_deref()
                .and_then(|child| self.find(child, rest))
            {
                return Some(found);
            }
        }
        if segments.iter().any(|s| !s.is_empty()) {
            return self.pick(&node.rest);
        }
        None
    }

    /// The first selected route for the method, else the first selected `*` route.
    fn pick(&self, candidates: &[u32]) -> Option<u32> {
        let route = |i: &u32| usize::try_from(*i).ok().and_then(|i| self.routes.get(i));
        let usable = |i: &&u32| route(i).is_some_and(|r| (self.selected)(r));
        let method_matches = |i: &&u32| {
            route(i).is_some_and(|r| {
                r.method
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(self.method))
            })
        };
        let any_method = |i: &&u32| route(i).is_some_and(|r| r.method.is_none());
        candidates
            .iter()
            .filter(usable)
            .find(method_matches)
            .or_else(|| candidates.iter().filter(usable).find(any_method))
            .copied()
    }
}

/// The path without `?query` and `#fragment`.
pub(crate) fn strip_query(path: &str) -> &str {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    path.get(..end).unwrap_or(path)
}

/// The query string of a request target, without `?` and without a `#fragment`; `None` when
/// the target has no `?` before any `#` (`/a?` has the empty query `""`).
pub(crate) fn query_string(path: &str) -> Option<&str> {
    let start = path.find(['?', '#'])?;
    let rest = path.get(start..)?.strip_prefix('?')?;
    let end = rest.find('#').unwrap_or(rest.len());
    rest.get(..end)
}

/// Path segments: `/v1/a/` → `["v1", "a", ""]`; `/` and `` → `[]`.
fn split_path(path: &str) -> Vec<&str> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    }
}

fn bind_params(route: &Route, segments: &[&str]) -> Result<Vec<Arc<str>>, RouteError> {
    let mut params: Vec<Arc<str>> = vec![Arc::from(""); route.params.len()];
    for (position, segment) in route.segments.iter().enumerate() {
        let (index, raw) = match segment {
            Segment::Literal(_) => continue,
            Segment::Param(index) => (
                index,
                segments
                    .get(position)
                    .copied()
                    .unwrap_or_default()
                    .to_string(),
            ),
            Segment::Rest(index) => (
                index,
                segments.get(position..).unwrap_or_default().join("/"),
            ),
        };
        let slot = usize::try_from(*index).ok().and_then(|i| params.get_mut(i));
        let name = usize::try_from(*index)
            .ok()
            .and_then(|i| route.params.get(i));
        let decoded = percent_decode(&raw).ok_or_else(|| RouteError::BadEncoding {
            param: name.cloned().unwrap_or_default(),
        })?;
        if let Some(slot) = slot {
            *slot = Arc::from(decoded);
        }
    }
    Ok(params)
}

/// Decodes `%XX` escapes; `None` for a malformed escape or bytes that are not UTF-8.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_string());
    }
    let mut bytes = Vec::with_capacity(text.len());
    let mut input = text.bytes();
    while let Some(byte) = input.next() {
        if byte == b'%' {
            let high = hex_value(input.next()?)?;
            let low = hex_value(input.next()?)?;
            bytes.push(high.checked_mul(16)?.checked_add(low)?);
        } else {
            bytes.push(byte);
        }
    }
    String::from_utf8(bytes).ok()
}

fn hex_value(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("a%20b%2Fc").as_deref(), Some("a b/c"));
        assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn strips_query_and_splits() {
        assert_eq!(strip_query("/a/b?x=1#f"), "/a/b");
        assert_eq!(split_path("/"), Vec::<&str>::new());
        assert_eq!(query_string("/a/b?x=1&y=2#f"), Some("x=1&y=2"));
        assert_eq!(query_string("/a?"), Some(""));
        assert_eq!(query_string("/a/b"), None);
        assert_eq!(query_string("/a#f?x=1"), None);
        assert_eq!(query_string("?a=%20"), Some("a=%20"));
        assert_eq!(split_path("/v1/a/"), vec!["v1", "a", ""]);
    }
}
