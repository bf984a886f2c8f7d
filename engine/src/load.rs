//! Reading a bundle file and checking a bundle before the engine trusts it.
//!
//! A bundle comes from `rampart-lang` or from a file that may have been edited, truncated or
//! built by another version, so [`check_bundle`] verifies every index the evaluator will
//! follow, compiles regexes and bounds expression depth. It also normalises what the
//! evaluator relies on (record types sorted by symbol, constant sets sorted), so the
//! engine never needs to re-check at decision time.

use serde::Deserialize;

use crate::bundle::{
    Bundle, Condition, Expr, ObligationKind, RecordType, Scope, Segment, Ty, ANONYMOUS_TYPE,
    BUNDLE_FORMAT, BUNDLE_VERSION,
};
use crate::error::{BundleJsonError, FormatError, InvalidBundleError, LoadError, VersionError};
use crate::program::RegexTable;
use crate::value::{Record, Value};

/// The deepest expression the engine evaluates (bounded recursion).
pub(crate) const MAX_EXPR_DEPTH: usize = 128;
/// The deepest JSON nesting a bundle file may have (two JSON levels per expression level,
/// plus the surrounding structure).
const MAX_BUNDLE_JSON_DEPTH: usize = 2 * MAX_EXPR_DEPTH + 24;
/// Compiled size limit of one regex.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl Bundle {
    /// The bundle file format: JSON with `format` and `version` first.
    pub fn to_json(&self) -> String {
        // Serialising plain data with string map keys cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a bundle file, refusing other formats and versions before reading the rest.
    pub fn from_json(text: &str) -> Result<Bundle, LoadError> {
        #[derive(Deserialize)]
        struct Header {
            format: Option<String>,
            version: Option<u32>,
        }
        let depth = json_depth(text);
        if depth > MAX_BUNDLE_JSON_DEPTH {
            return Err(BundleJsonError::new(format!(
                "nesting too deep ({depth} levels, the limit is {MAX_BUNDLE_JSON_DEPTH})"
            ))
            .into());
        }
        let header: Header =
            serde_json::from_str(text).map_err(|e| BundleJsonError::new(e.to_string()))?;
        check_header(
            header.format.as_deref().unwrap_or(""),
            header.version.unwrap_or(0),
        )?;
        let mut deserializer = serde_json::Deserializer::from_str(text);
        // The depth was bounded above, so serde's own limit (128) can be lifted safely.
        deserializer.disable_recursion_limit();
        let bundle = Bundle::deserialize(&mut deserializer)
            .and_then(|b| deserializer.end().map(|()| b))
            .map_err(|e| BundleJsonError::new(e.to_string()))?;
        Ok(bundle)
    }
}

/// The maximum nesting of `[` and `{` in JSON text (strings skipped): what callers bound
/// before they lift serde_json's recursion limit.
pub fn json_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth = depth.saturating_add(1);
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

pub(crate) fn check_header(format: &str, version: u32) -> Result<(), LoadError> {
    if format != BUNDLE_FORMAT {
        return Err(FormatError::new(format).into());
    }
    if version != BUNDLE_VERSION {
        return Err(VersionError::new(version).into());
    }
    Ok(())
}

/// Checks and normalises a bundle; returns its regexes compiled, numbered by pattern.
pub(crate) fn check_bundle(bundle: &mut Bundle) -> Result<RegexTable, LoadError> {
    check_header(&bundle.format, bundle.version)?;
    let mut checker = Checker {
        symbols: bundle.symbols.len(),
        types: bundle.schema.entity_types.len(),
        enums: bundle.schema.enums.len(),
        actions: bundle.schema.actions.len(),
        packages: bundle.packages.len(),
        regexes: RegexTable::default(),
        at: String::from("schema"),
    };
    match bundle.schema.entity_types.first() {
        Some(t) if t.name == ANONYMOUS_TYPE => {}
        _ => return Err(checker.error(format!("entity type 0 must be `{ANONYMOUS_TYPE}`"))),
    }
    checker.unique_names(bundle)?;
    checker.schema(bundle)?;
    for (i, package) in bundle.packages.iter().enumerate() {
        checker.at = format!("packages[{i}]");
        for import in &package.imports {
            checker.index(*import, checker.packages, "package")?;
        }
    }
    for rule in &mut bundle.rules {
        checker.at = format!("rule `{}`", rule.id);
        checker.index(rule.package, checker.packages, "package")?;
        checker.scope(&rule.scope)?;
        let needs_require = rule.kind == crate::bundle::RuleKind::Require;
        if needs_require != rule.require.is_some() {
            return Err(
                checker.error("only `require` rules, and all of them, carry a required condition")
            );
        }
        checker.condition(&mut rule.when)?;
        for condition in rule.unless.iter_mut().chain(rule.require.iter_mut()) {
            checker.condition(condition)?;
        }
    }
    for obligation in &mut bundle.obligations {
        checker.at = format!("obligation `{}`", obligation.id);
        checker.index(obligation.package, checker.packages, "package")?;
        checker.scope(&obligation.scope)?;
        checker.condition(&mut obligation.when)?;
        if let Some(unless) = &mut obligation.unless {
            checker.condition(unless)?;
        }
        match &mut obligation.kind {
            ObligationKind::RateLimit { per_ms, key, .. } => {
                if *per_ms <= 0 || per_ms.checked_rem(1000) != Some(0) {
                    return Err(checker
                        .error("a rate-limit period must be a positive whole number of seconds"));
                }
                checker.expr(key, 0, None)?;
            }
            ObligationKind::RequestHeader { value, name }
            | ObligationKind::ResponseHeader { value, name } => {
                if !crate::gateway::is_header_name(name) {
                    return Err(checker.error(format!(
                        "`{}` is not an HTTP header name",
                        crate::display::truncate(name, 60)
                    )));
                }
                checker.expr(value, 0, None)?;
            }
            ObligationKind::RemoveHeader { name } => {
                if !crate::gateway::is_header_name(name) {
                    return Err(checker.error(format!(
                        "`{}` is not an HTTP header name",
                        crate::display::truncate(name, 60)
                    )));
                }
            }
            ObligationKind::Mask { .. } => {}
        }
    }
    for route in &mut bundle.routes {
        checker.at = format!("route `{}`", route.template);
        checker.index(route.action, checker.actions, "action")?;
        checker.index(route.package, checker.packages, "package")?;
        let last = route.segments.len().saturating_sub(1);
        for (i, segment) in route.segments.iter().enumerate() {
            match segment {
                Segment::Literal(_) => {}
                Segment::Param(p) => checker.index(*p, route.params.len(), "path parameter")?,
                Segment::Rest(p) => {
                    checker.index(*p, route.params.len(), "path parameter")?;
                    if i != last {
                        return Err(checker.error("a `{name*}` segment must come last"));
                    }
                }
            }
        }
        checker.expr(&mut route.resource, 0, Some(route.params.len()))?;
    }
    for (i, mapping) in bundle.principals.iter_mut().enumerate() {
        checker.at = format!("principal mapping {i}");
        checker.index(mapping.entity_type, checker.types, "entity type")?;
        checker.index(mapping.package, checker.packages, "package")?;
        checker.expr(&mut mapping.id, 0, None)?;
        checker.condition(&mut mapping.when)?;
    }
    Ok(checker.regexes)
}

struct Checker {
    symbols: usize,
    types: usize,
    enums: usize,
    actions: usize,
    packages: usize,
    regexes: RegexTable,
    /// What is being checked, for messages.
    at: String,
}

impl Checker {
    fn error(&self, message: impl Into<String>) -> LoadError {
        InvalidBundleError::new(self.at.clone(), message).into()
    }

    /// Names the engine looks up (symbols, types, enums, actions, packages) must be unique,
    /// or a lookup could find a different id than the one the compiler used.
    fn unique_names(&mut self, bundle: &Bundle) -> Result<(), LoadError> {
        let schema = &bundle.schema;
        let tables: [(&str, &str, Vec<&str>); 5] = [
            (
                "symbols",
                "symbol",
                bundle.symbols.iter().map(String::as_str).collect(),
            ),
            (
                "schema",
                "entity type",
                schema
                    .entity_types
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect(),
            ),
            (
                "schema",
                "enum",
                schema.enums.iter().map(|e| e.name.as_str()).collect(),
            ),
            (
                "schema",
                "action",
                schema.actions.iter().map(|a| a.name.as_str()).collect(),
            ),
            (
                "packages",
                "package",
                bundle.packages.iter().map(|p| p.name.as_str()).collect(),
            ),
        ];
        for (at, what, mut names) in tables {
            names.sort_unstable();
            if let Some(pair) = names.windows(2).find(|w| matches!(w, [a, b] if a == b)) {
                self.at = at.to_string();
                let name = pair.first().copied().unwrap_or_default();
                return Err(self.error(format!("{what} `{name}` appears twice")));
            }
        }
        Ok(())
    }

    fn index(&self, index: u32, len: usize, what: &str) -> Result<(), LoadError> {
        match usize::try_from(index) {
            Ok(i) if i < len => Ok(()),
            _ => Err(self.error(format!("{what} index {index} is out of range"))),
        }
    }

    fn schema(&mut self, bundle: &mut Bundle) -> Result<(), LoadError> {
        let schema = &mut bundle.schema;
        self.at = String::from("schema.context");
        self.record_type(&mut schema.context, 0)?;
        for entity_type in &mut schema.entity_types {
            self.at = format!("entity type `{}`", entity_type.name);
            self.record_type(&mut entity_type.attrs, 0)?;
            for parent in &entity_type.parents {
                self.index(*parent, self.types, "entity type")?;
            }
            if let Some(tags) = &mut entity_type.tags {
                self.ty(tags, 0)?;
            }
        }
        for action in &mut schema.actions {
            self.at = format!("action `{}`", action.name);
            for ty in action
                .resources
                .iter()
                .chain(action.principals.iter())
                .flatten()
            {
                self.index(*ty, self.types, "entity type")?;
            }
            self.record_type(&mut action.context, 0)?;
        }
        Ok(())
    }

    fn record_type(&mut self, record: &mut RecordType, depth: usize) -> Result<(), LoadError> {
        record.fields.sort_by_key(|f| f.name);
        if record
            .fields
            .windows(2)
            .any(|w| matches!(w, [a, b] if a.name == b.name))
        {
            return Err(self.error("a record type names a field twice"));
        }
        for field in &mut record.fields {
            self.index(field.name, self.symbols, "symbol")?;
            self.ty(&mut field.ty, depth)?;
            if let Some(default) = &mut field.default {
                normalize_value(default);
            }
        }
        Ok(())
    }

    fn ty(&mut self, ty: &mut Ty, depth: usize) -> Result<(), LoadError> {
        if depth > MAX_EXPR_DEPTH {
            return Err(self.error("type nesting is too deep"));
        }
        let deeper = depth.saturating_add(1);
        match ty {
            Ty::Enum(e) => self.index(*e, self.enums, "enum"),
            Ty::Entity(t) => self.index(*t, self.types, "entity type"),
            Ty::Set(inner) | Ty::Map(inner) => self.ty(inner, deeper),
            Ty::Record(record) => self.record_type(record, deeper),
            Ty::Bool
            | Ty::Int
            | Ty::String
            | Ty::Ip
            | Ty::Duration
            | Ty::Timestamp
            | Ty::Decimal
            | Ty::Tls => Ok(()),
            Ty::AnyEntity | Ty::Any => Ok(()),
        }
    }

    fn scope(&self, scope: &Scope) -> Result<(), LoadError> {
        for action in scope.actions.iter().flatten() {
            self.index(*action, self.actions, "action")?;
        }
        for ty in scope
            .resources
            .iter()
            .chain(scope.principals.iter())
            .flatten()
        {
            self.index(*ty, self.types, "entity type")?;
        }
        for head in [&scope.resource_head, &scope.principal_head]
            .into_iter()
            .flatten()
        {
            if head.entities.is_empty() {
                return Err(
                    InvalidBundleError::new("bundle", "a scope head names no entity").into(),
                );
            }
            for uid in &head.entities {
                self.index(uid.ty, self.types, "entity type")?;
            }
        }
        Ok(())
    }

    fn condition(&mut self, condition: &mut Condition) -> Result<(), LoadError> {
        for conjunct in &mut condition.conjuncts {
            self.expr(&mut conjunct.expr, 0, None)?;
        }
        Ok(())
    }

    /// Checks one expression; `params` is the number of path parameters in scope (routes).
    fn expr(
        &mut self,
        expr: &mut Expr,
        depth: usize,
        params: Option<usize>,
    ) -> Result<(), LoadError> {
        if depth > MAX_EXPR_DEPTH {
            return Err(self.error(format!("expression nesting deeper than {MAX_EXPR_DEPTH}")));
        }
        let deeper = depth.saturating_add(1);
        match expr {
            Expr::Const(value) => normalize_value(value),
            Expr::Principal | Expr::Action | Expr::Resource | Expr::Context | Expr::Now => {}
            Expr::Param(p) => match params {
                Some(count) => self.index(*p, count, "path parameter")?,
                None => return Err(self.error("a path parameter outside a route")),
            },
            Expr::Attr(inner, sym) => {
                self.index(*sym, self.symbols, "symbol")?;
                self.expr(inner, deeper, params)?;
            }
            Expr::Index(inner, _)
            | Expr::Has(inner, _)
            | Expr::Not(inner)
            | Expr::Neg(inner)
            | Expr::TimePart(inner, _) => {
                self.expr(inner, deeper, params)?;
            }
            Expr::If(c, a, b) => {
                for branch in [c, a, b] {
                    self.expr(branch, deeper, params)?;
                }
            }
            Expr::Is(inner, ty) | Expr::EntityCtor(ty, inner) => {
                self.index(*ty, self.types, "entity type")?;
                self.expr(inner, deeper, params)?;
            }
            Expr::Set(items) => {
                for item in items {
                    self.expr(item, deeper, params)?;
                }
            }
            Expr::Record(fields) => {
                fields.sort_by_key(|(sym, _)| *sym);
                for (sym, item) in fields {
                    self.index(*sym, self.symbols, "symbol")?;
                    self.expr(item, deeper, params)?;
                }
            }
            Expr::And(a, b)
            | Expr::Or(a, b)
            | Expr::Binary(_, a, b)
            | Expr::HasTag(a, b)
            | Expr::GetTag(a, b) => {
                self.expr(a, deeper, params)?;
                self.expr(b, deeper, params)?;
            }
            Expr::Like(inner, glob) => {
                if glob.pieces.is_empty() {
                    return Err(self.error("a `like` pattern without pieces"));
                }
                self.expr(inner, deeper, params)?;
            }
            Expr::Matches(inner, pattern) => {
                if !self.regexes.ids.contains_key(pattern.as_str()) {
                    let regex = regex::RegexBuilder::new(pattern)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .build()
                        .map_err(|e| self.error(format!("invalid regex `{pattern}`: {e}")))?;
                    let id = u32::try_from(self.regexes.compiled.len())
                        .map_err(|_| self.error("too many regexes"))?;
                    self.regexes.compiled.push(regex);
                    self.regexes.ids.insert(pattern.clone(), id);
                }
                self.expr(inner, deeper, params)?;
            }
        }
        Ok(())
    }
}

/// Restores the invariants of values read from a file: sets sorted and deduplicated,
/// record fields sorted by symbol.
fn normalize_value(value: &mut Value) {
    match value {
        Value::Set(items) => {
            let mut owned: Vec<Value> = items.to_vec();
            owned.iter_mut().for_each(normalize_value);
            *value = Value::set(owned);
        }
        Value::Record(record) => {
            let mut fields = record.fields.clone();
            fields.iter_mut().for_each(|(_, v)| normalize_value(v));
            *record = std::sync::Arc::new(Record::new(fields));
        }
        Value::Map(map) => {
            let mut owned = (**map).clone();
            owned.values_mut().for_each(normalize_value);
            *map = std::sync::Arc::new(owned);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_depth_skips_strings() {
        assert_eq!(json_depth(r#"{"a": [1, {"b": "[[[{"}]}"#), 3);
        assert_eq!(json_depth(r#""\"[""#), 0);
        assert_eq!(json_depth("]]]"), 0);
    }
}
