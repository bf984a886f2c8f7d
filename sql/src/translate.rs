//! A plan's residual condition as a SQL `WHERE` clause.

use std::fmt::Write as _;

use rampart_engine::bundle::{FieldType, Ty, TypeId};
use rampart_engine::plan::{CmpOp, Cond, Plan};
use rampart_engine::{Engine, Value};

use crate::mapping::{field_at, type_of, AttrMap, Ident, Mapping, TypeMap};

/// The SQL dialect to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// PostgreSQL (12 and later): `$1` placeholders with explicit casts, arrays for sets.
    Postgres,
    /// SQLite (3.38 and later, JSON functions built in): `?1` placeholders, JSON arrays in
    /// text columns for sets.
    Sqlite,
}

impl std::str::FromStr for Dialect {
    type Err = String;

    /// `postgres` (or `postgresql`) and `sqlite`, as the CLI's `--dialect` takes them.
    fn from_str(name: &str) -> Result<Dialect, String> {
        match name {
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            "sqlite" => Ok(Dialect::Sqlite),
            other => Err(format!(
                "unknown SQL dialect `{other}` (expected `postgres` or `sqlite`)"
            )),
        }
    }
}

/// A bound parameter. Lists are arrays in PostgreSQL and one scalar parameter per item in
/// SQLite (which has no array type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Text(String),
    Int(i64),
    Bool(bool),
    /// PostgreSQL only: `text[]`.
    TextArray(Vec<String>),
    /// PostgreSQL only: `int8[]`.
    IntArray(Vec<i64>),
}

/// A translated condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// `SELECT r."id" FROM "docs" AS r WHERE …`: the ids of the allowed resources.
    pub sql: String,
    /// The condition alone; it names the resource's table `r`.
    pub where_clause: String,
    /// The parameters, in placeholder order (`$1`/`?1` first).
    pub params: Vec<Param>,
}

/// A condition the mapping cannot express. Never translated into a wider filter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("{construct}: {message}")]
#[diagnostic(code(rampart::sql::translate))]
pub struct TranslateError {
    construct: String,
    message: String,
}

impl TranslateError {
    fn new(construct: impl Into<String>, message: impl Into<String>) -> TranslateError {
        TranslateError {
            construct: construct.into(),
            message: message.into(),
        }
    }

    /// What could not be translated: `resource.meta.label`, `resource in Group::"g"`, …
    pub fn construct(&self) -> &str {
        &self.construct
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Translates a plan: `Always` is `WHERE TRUE`, `Never` is `WHERE FALSE`.
pub fn translate_plan(
    engine: &Engine,
    plan: &Plan,
    mapping: &Mapping,
    dialect: Dialect,
) -> Result<Query, TranslateError> {
    translate(
        engine,
        &plan.condition(),
        plan.resource_type,
        mapping,
        dialect,
    )
}

/// Translates a residual condition over resources of `resource_type`.
pub fn translate(
    engine: &Engine,
    cond: &Cond,
    resource_type: TypeId,
    mapping: &Mapping,
    dialect: Dialect,
) -> Result<Query, TranslateError> {
    // The translation relies on what the check establishes (an optional join-table set has
    // its presence column, parents of several types their type column, …): an unchecked
    // mapping could otherwise select more than the condition holds for.
    mapping
        .check(engine)
        .map_err(|e| TranslateError::new("the mapping", e.to_string()))?;
    let type_name = type_of(engine, resource_type).name.clone();
    let map = mapping.types.get(&type_name).ok_or_else(|| {
        TranslateError::new(
            format!("entity type `{type_name}`"),
            format!("not mapped (add `[types.{type_name}]`)"),
        )
    })?;
    let (Some(table), Some(id)) = (&map.table, &map.id) else {
        return Err(TranslateError::new(
            format!("entity type `{type_name}`"),
            format!(
                "`types.{type_name}.{}` is missing",
                if map.table.is_none() { "table" } else { "id" }
            ),
        ));
    };
    let mut writer = Writer {
        engine,
        mapping,
        resource_type,
        type_name,
        map,
        id: id.clone(),
        dialect,
        params: Vec::new(),
        aliases: 0,
    };
    let where_clause = writer.cond(cond)?;
    let sql = format!(
        "SELECT r.{} FROM {} AS r WHERE {where_clause}",
        id.quoted(),
        table.quoted()
    );
    Ok(Query {
        sql,
        where_clause,
        params: writer.params,
    })
}

/// How a scalar is stored, for the parameter types of lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int,
    Bool,
}

struct Writer<'a> {
    engine: &'a Engine,
    mapping: &'a Mapping,
    resource_type: TypeId,
    type_name: String,
    map: &'a TypeMap,
    id: Ident,
    dialect: Dialect,
    params: Vec<Param>,
    aliases: usize,
}

/// The conjunction of `parts`, each once.
fn and(mut parts: Vec<String>) -> String {
    let mut seen = std::collections::HashSet::new();
    parts.retain(|p| seen.insert(p.clone()));
    match parts.len() {
        0 => "TRUE".into(),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => format!("({})", parts.join(" AND ")),
    }
}

fn attr_name(path: &[String]) -> String {
    format!("resource.{}", path.join("."))
}

/// The parameter for `value` read as an attribute of type `ty`: `None` when the value is
/// of another type (so it is never equal to, or an element of, the attribute).
fn scalar_param(ty: &Ty, value: &Value, path: &[String]) -> Result<Option<Param>, TranslateError> {
    Ok(match (ty, value) {
        (Ty::Bool, Value::Bool(b)) => Some(Param::Bool(*b)),
        (Ty::Int, Value::Int(n))
        | (Ty::Duration, Value::Duration(n))
        | (Ty::Timestamp, Value::Timestamp(n)) => Some(Param::Int(*n)),
        (Ty::String, Value::String(s)) => Some(Param::Text(s.to_string())),
        (Ty::Tls, Value::Tls(v)) => Some(Param::Text(v.literal().to_string())),
        (Ty::Enum(_), Value::Enum(..)) | (Ty::Entity(_), Value::Entity(_)) => {
            // Resolved by the caller, which has the schema.
            None
        }
        (Ty::Ip, _) => {
            return Err(TranslateError::new(
                attr_name(path),
                "IP attributes cannot be translated to SQL",
            ))
        }
        (Ty::Decimal, _) => {
            return Err(TranslateError::new(
                attr_name(path),
                "Decimal attributes cannot be translated to SQL yet",
            ))
        }
        (Ty::AnyEntity | Ty::Any | Ty::Map(_) | Ty::Set(_) | Ty::Record(_), _) => {
            return Err(TranslateError::new(
                attr_name(path),
                "attributes of this type cannot be compared in SQL",
            ))
        }
        _ => None,
    })
}

fn kind_of(ty: &Ty) -> Option<Kind> {
    match ty {
        Ty::Bool => Some(Kind::Bool),
        Ty::Int | Ty::Duration | Ty::Timestamp => Some(Kind::Int),
        Ty::String | Ty::Tls | Ty::Enum(_) | Ty::Entity(_) => Some(Kind::Text),
        _ => None,
    }
}

impl Writer<'_> {
    /// A value as a parameter of an attribute of type `ty` (see [`scalar_param`]).
    fn value_param(
        &self,
        ty: &Ty,
        value: &Value,
        path: &[String],
    ) -> Result<Option<Param>, TranslateError> {
        let schema = &self.engine.bundle().schema;
        Ok(match (ty, value) {
            (Ty::Enum(e), Value::Enum(id, variant)) if e == id => usize::try_from(*id)
                .ok()
                .and_then(|i| schema.enums.get(i))
                .and_then(|en| {
                    usize::try_from(*variant)
                        .ok()
                        .and_then(|v| en.variants.get(v))
                })
                .map(|name| Param::Text(name.clone())),
            (Ty::Entity(t), Value::Entity(uid)) if *t == uid.ty => {
                Some(Param::Text(uid.id.to_string()))
            }
            _ => scalar_param(ty, value, path)?,
        })
    }

    fn placeholder(&mut self, param: Param) -> String {
        let cast = match &param {
            Param::Text(_) => "text",
            Param::Int(_) => "int8",
            Param::Bool(_) => "boolean",
            Param::TextArray(_) => "text[]",
            Param::IntArray(_) => "int8[]",
        };
        self.params.push(param);
        let n = self.params.len();
        match self.dialect {
            Dialect::Postgres => format!("${n}::{cast}"),
            Dialect::Sqlite => format!("?{n}"),
        }
    }

    /// `expr` is one of `params` (all of one kind, at least one): `= ANY($1::text[])` in
    /// PostgreSQL, `IN (?1, ?2)` in SQLite.
    fn one_of(&mut self, expr: &str, mut params: Vec<Param>) -> String {
        params.dedup();
        if params.len() == 1 {
            let p = self.placeholder(params.remove(0));
            return format!("{expr} = {p}");
        }
        match self.dialect {
            Dialect::Postgres => {
                let texts: Option<Vec<String>> = params
                    .iter()
                    .map(|p| match p {
                        Param::Text(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                let ints: Option<Vec<i64>> = params
                    .iter()
                    .map(|p| match p {
                        Param::Int(n) => Some(*n),
                        _ => None,
                    })
                    .collect();
                if let Some(texts) = texts {
                    let p = self.placeholder(Param::TextArray(texts));
                    format!("{expr} = ANY({p})")
                } else if let Some(ints) = ints {
                    let p = self.placeholder(Param::IntArray(ints));
                    format!("{expr} = ANY({p})")
                } else {
                    let parts: Vec<String> = params
                        .into_iter()
                        .map(|p| format!("{expr} = {}", self.placeholder(p)))
                        .collect();
                    format!("({})", parts.join(" OR "))
                }
            }
            Dialect::Sqlite => {
                let parts: Vec<String> = params.into_iter().map(|p| self.placeholder(p)).collect();
                format!("{expr} IN ({})", parts.join(", "))
            }
        }
    }

    fn alias(&mut self) -> String {
        self.aliases = self.aliases.saturating_add(1);
        format!("j{}", self.aliases)
    }

    fn column(&self, ident: &Ident) -> String {
        format!("r.{}", ident.quoted())
    }

    fn cond(&mut self, cond: &Cond) -> Result<String, TranslateError> {
        Ok(match cond {
            Cond::Const(true) => "TRUE".into(),
            Cond::Const(false) => "FALSE".into(),
            Cond::And(items) | Cond::Or(items) if items.is_empty() => {
                if matches!(cond, Cond::And(_)) {
                    "TRUE"
                } else {
                    "FALSE"
                }
                .into()
            }
            Cond::And(items) | Cond::Or(items) => {
                let joiner = if matches!(cond, Cond::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                let parts = items
                    .iter()
                    .map(|c| self.cond(c))
                    .collect::<Result<Vec<_>, _>>()?;
                format!("({})", parts.join(joiner))
            }
            Cond::Not(inner) => format!("NOT {}", self.wrapped(inner)?),
            Cond::Has(path) => self.has(path)?,
            Cond::Compare { op, path, value } => self.compare(*op, path, value)?,
            Cond::OneOf { path, values } => self.one_of_values(path, values)?,
            Cond::IdIn(ids) => {
                if ids.is_empty() {
                    return Ok("FALSE".into());
                }
                let id = self.column(&self.id);
                let params = ids.iter().map(|i| Param::Text(i.clone())).collect();
                let test = self.one_of(&id, params);
                format!("({id} IS NOT NULL AND {test})")
            }
            Cond::InEntity(uid) => self.in_entity(uid)?,
            Cond::Contains { path, value } => {
                self.contains(path, std::slice::from_ref(value), true)?
            }
            Cond::ContainsAll { path, values } => self.contains(path, values, true)?,
            Cond::ContainsAny { path, values } => self.contains(path, values, false)?,
            Cond::Like { path, pieces } => self.like(path, pieces)?,
        })
    }

    /// A condition in parentheses unless it already is one atom that needs none.
    fn wrapped(&mut self, cond: &Cond) -> Result<String, TranslateError> {
        let text = self.cond(cond)?;
        Ok(
            if text.starts_with('(') && text.ends_with(')') || text == "TRUE" || text == "FALSE" {
                text
            } else {
                format!("({text})")
            },
        )
    }

    /// The schema field at `path` of the resource type.
    fn field(&self, path: &[String]) -> Result<&FieldType, TranslateError> {
        field_at(
            self.engine,
            &type_of(self.engine, self.resource_type).attrs,
            path,
        )
        .ok_or_else(|| {
            TranslateError::new(
                attr_name(path),
                format!("no such attribute in entity type `{}`", self.type_name),
            )
        })
    }

    fn mapped(&self, path: &[String]) -> Result<&AttrMap, TranslateError> {
        let key = path.join(".");
        self.map.attributes.get(&key).ok_or_else(|| {
            let quoted = if path.len() > 1 {
                format!("{key:?}")
            } else {
                key.clone()
            };
            TranslateError::new(
                attr_name(path),
                format!(
                    "the attribute is not mapped (add `types.{}.attributes.{quoted}`)",
                    self.type_name
                ),
            )
        })
    }

    /// The conditions under which every optional record on the way to `path` (not `path`
    /// itself) is present.
    fn prefix_presence(&self, path: &[String]) -> Result<Vec<String>, TranslateError> {
        let mut out = Vec::new();
        for end in 1..path.len() {
            let prefix = &path[..end];
            if let Some(test) = self.record_presence(prefix)? {
                out.push(test);
            }
        }
        Ok(out)
    }

    /// `None` when a record at `path` is required (present with its parent).
    fn record_presence(&self, path: &[String]) -> Result<Option<String>, TranslateError> {
        let field = self.field(path)?;
        match self.map.attributes.get(&path.join(".")) {
            Some(AttrMap::Record { present }) => {
                Ok(Some(format!("{} IS NOT NULL", self.column(present))))
            }
            _ if !field.optional => Ok(None),
            _ => Err(TranslateError::new(
                attr_name(path),
                format!(
                    "the record is optional and has no presence column (add \
                     `types.{}.attributes.{} = {{ present = COLUMN }}`)",
                    self.type_name,
                    if path.len() > 1 {
                        format!("{:?}", path.join("."))
                    } else {
                        path.join(".")
                    }
                ),
            )),
        }
    }

    fn has(&mut self, path: &[String]) -> Result<String, TranslateError> {
        let field = self.field(path)?;
        let mut parts = self.prefix_presence(path)?;
        if let Ty::Record(_) = field.ty {
            if let Some(test) = self.record_presence(path)? {
                parts.push(test);
            }
            return Ok(and(parts));
        }
        match self.mapped(path)? {
            AttrMap::Column(col) | AttrMap::Array(col) => {
                parts.push(format!("{} IS NOT NULL", self.column(col)));
            }
            AttrMap::JoinTable { present, .. } => {
                if let Some(col) = present {
                    parts.push(format!("{} IS NOT NULL", self.column(col)));
                }
            }
            AttrMap::Record { .. } => {}
        }
        Ok(and(parts))
    }

    /// The column of a scalar attribute and the conditions of its presence.
    fn scalar(&self, path: &[String], what: &str) -> Result<(String, Vec<String>), TranslateError> {
        let mut parts = self.prefix_presence(path)?;
        match self.mapped(path)? {
            AttrMap::Column(col) => {
                let col = self.column(col);
                parts.push(format!("{col} IS NOT NULL"));
                Ok((col, parts))
            }
            _ => Err(TranslateError::new(
                attr_name(path),
                format!("{what} needs an attribute mapped to a column"),
            )),
        }
    }

    fn compare(
        &mut self,
        op: CmpOp,
        path: &[String],
        value: &Value,
    ) -> Result<String, TranslateError> {
        let ty = self.field(path)?.ty.clone();
        let (col, mut parts) = self.scalar(path, &format!("`{}`", op.symbol()))?;
        let Some(param) = self.value_param(&ty, value, path)? else {
            return Ok("FALSE".into());
        };
        let sql_op = match op {
            CmpOp::Eq => "=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        };
        let ordered = matches!(ty, Ty::Int | Ty::Duration | Ty::Timestamp | Ty::Tls);
        if op != CmpOp::Eq && !ordered {
            return Ok("FALSE".into());
        }
        // TLS versions are text (`tls1.2`), ordered bytewise.
        let col = if ty == Ty::Tls && op != CmpOp::Eq && self.dialect == Dialect::Postgres {
            format!("{col} COLLATE \"C\"")
        } else {
            col
        };
        let p = self.placeholder(param);
        parts.push(format!("{col} {sql_op} {p}"));
        Ok(and(parts))
    }

    fn one_of_values(
        &mut self,
        path: &[String],
        values: &[Value],
    ) -> Result<String, TranslateError> {
        let ty = self.field(path)?.ty.clone();
        let (col, mut parts) = self.scalar(path, "`in`")?;
        let mut params = Vec::new();
        for value in values {
            if let Some(p) = self.value_param(&ty, value, path)? {
                if !params.contains(&p) {
                    params.push(p);
                }
            }
        }
        if params.is_empty() {
            return Ok("FALSE".into());
        }
        parts.push(self.one_of(&col, params));
        Ok(and(parts))
    }

    /// `contains_all` (`all`) or `contains_any` of `values` on a set attribute.
    fn contains(
        &mut self,
        path: &[String],
        values: &[Value],
        all: bool,
    ) -> Result<String, TranslateError> {
        let field = self.field(path)?;
        let Ty::Set(element) = &field.ty else {
            return Ok("FALSE".into());
        };
        let element = (**element).clone();
        if kind_of(&element).is_none_or(|k| k == Kind::Bool) {
            return Err(TranslateError::new(
                attr_name(path),
                "only sets of strings, numbers, enums and entities can be translated to SQL",
            ));
        }
        let mut params: Vec<Param> = Vec::new();
        for value in values {
            match self.value_param(&element, value, path)? {
                Some(p) if !params.contains(&p) => params.push(p),
                Some(_) => {}
                None if all => return Ok("FALSE".into()),
                None => {}
            }
        }
        if params.is_empty() && !all {
            return Ok("FALSE".into());
        }
        let mut parts = self.prefix_presence(path)?;
        let storage = self.mapped(path)?.clone();
        match &storage {
            AttrMap::Array(col) => {
                let col = self.column(col);
                parts.push(format!("{col} IS NOT NULL"));
                if !params.is_empty() {
                    parts.push(self.array_test(&col, params, all));
                }
            }
            AttrMap::JoinTable {
                table,
                key,
                value,
                present,
            } => {
                if let Some(p) = present {
                    parts.push(format!("{} IS NOT NULL", self.column(p)));
                }
                let id = self.column(&self.id);
                let exists = |writer: &mut Self, params: Vec<Param>| {
                    let j = writer.alias();
                    let test = writer.one_of(&format!("{j}.{}", value.quoted()), params);
                    format!(
                        "EXISTS (SELECT 1 FROM {} AS {j} WHERE {j}.{} = {id} AND {test})",
                        table.quoted(),
                        key.quoted()
                    )
                };
                if all {
                    for p in params {
                        parts.push(exists(self, vec![p]));
                    }
                } else {
                    parts.push(exists(self, params));
                }
            }
            _ => {
                return Err(TranslateError::new(
                    attr_name(path),
                    "a set needs an array column or a join table",
                ))
            }
        }
        Ok(and(parts))
    }

    /// The array column `col` (known non-NULL) holds all (or any) of `params`.
    fn array_test(&mut self, col: &str, params: Vec<Param>, all: bool) -> String {
        match self.dialect {
            Dialect::Postgres => {
                let array = if params.iter().all(|p| matches!(p, Param::Int(_))) {
                    Param::IntArray(
                        params
                            .iter()
                            .filter_map(|p| match p {
                                Param::Int(n) => Some(*n),
                                _ => None,
                            })
                            .collect(),
                    )
                } else {
                    Param::TextArray(
                        params
                            .iter()
                            .filter_map(|p| match p {
                                Param::Text(s) => Some(s.clone()),
                                _ => None,
                            })
                            .collect(),
                    )
                };
                let p = self.placeholder(array);
                format!("{col} {} {p}", if all { "@>" } else { "&&" })
            }
            Dialect::Sqlite => {
                let exists = |writer: &mut Self, params: Vec<Param>| {
                    let j = writer.alias();
                    let test = writer.one_of(&format!("{j}.value"), params);
                    format!("EXISTS (SELECT 1 FROM json_each({col}) AS {j} WHERE {test})")
                };
                if all {
                    let parts: Vec<String> =
                        params.into_iter().map(|p| exists(self, vec![p])).collect();
                    and(parts)
                } else {
                    exists(self, params)
                }
            }
        }
    }

    fn like(&mut self, path: &[String], pieces: &[String]) -> Result<String, TranslateError> {
        let ty = self.field(path)?.ty.clone();
        if ty != Ty::String {
            return Ok("FALSE".into());
        }
        let (col, mut parts) = self.scalar(path, "`like`")?;
        match self.dialect {
            Dialect::Postgres => {
                // LIKE, with `!` as the escape character (no backslash, whatever
                // `standard_conforming_strings` says).
                let escaped: Vec<String> = pieces
                    .iter()
                    .map(|piece| {
                        let mut out = String::new();
                        for c in piece.chars() {
                            if matches!(c, '!' | '%' | '_') {
                                out.push('!');
                            }
                            out.push(c);
                        }
                        out
                    })
                    .collect();
                let p = self.placeholder(Param::Text(escaped.join("%")));
                parts.push(format!("{col} LIKE {p} ESCAPE '!'"));
            }
            Dialect::Sqlite => {
                // GLOB, which is case-sensitive (SQLite's LIKE is not, for ASCII); its
                // special characters are escaped as one-character classes.
                let escaped: Vec<String> = pieces
                    .iter()
                    .map(|piece| {
                        let mut out = String::new();
                        for c in piece.chars() {
                            match c {
                                '*' => out.push_str("[*]"),
                                '?' => out.push_str("[?]"),
                                '[' => out.push_str("[[]"),
                                c => out.push(c),
                            }
                        }
                        out
                    })
                    .collect();
                let p = self.placeholder(Param::Text(escaped.join("*")));
                parts.push(format!("{col} GLOB {p}"));
            }
        }
        Ok(and(parts))
    }

    /// `resource in X::"x"`: the resource is that entity, or one of its ancestors (through
    /// the `ancestors` array, or the parents tables followed transitively) is.
    fn in_entity(&mut self, uid: &rampart_engine::EntityUid) -> Result<String, TranslateError> {
        let target_type = type_of(self.engine, uid.ty).name.clone();
        let construct = format!("resource in {}", self.engine.uid_to_string(uid));
        let id = self.column(&self.id);
        let mut alternatives = Vec::new();
        if let Some(col) = self.map.ancestors.clone() {
            if uid.ty == self.resource_type {
                let p = self.placeholder(Param::Text(uid.id.to_string()));
                alternatives.push(format!("{id} = {p}"));
            }
            let col = self.column(&col);
            let tag = format!("{target_type}::{}", uid.id);
            let test = self.array_test(&col, vec![Param::Text(tag)], true);
            alternatives.push(format!("({col} IS NOT NULL AND {test})"));
            return Ok(format!(
                "({id} IS NOT NULL AND ({}))",
                alternatives.join(" OR ")
            ));
        }
        // The types on some path from the resource's type up to the target's.
        let schema = &self.engine.bundle().schema;
        let count = schema.entity_types.len();
        let reach = |from: usize| -> Vec<bool> {
            let mut seen = vec![false; count];
            let mut stack = vec![from];
            while let Some(t) = stack.pop() {
                if seen[t] {
                    continue;
                }
                seen[t] = true;
                for p in &schema.entity_types[t].parents {
                    if let Ok(p) = usize::try_from(*p) {
                        if p < count {
                            stack.push(p);
                        }
                    }
                }
            }
            seen
        };
        let (Ok(resource), Ok(target)) =
            (usize::try_from(self.resource_type), usize::try_from(uid.ty))
        else {
            return Ok("FALSE".into());
        };
        let from_resource = reach(resource);
        if !from_resource.get(target).copied().unwrap_or(false) {
            return Ok("FALSE".into());
        }
        let on_path: Vec<usize> = (0..count)
            .filter(|&t| from_resource[t] && reach(t)[target])
            .collect();
        // Only the entity itself: no parents on the way.
        let has_edges = on_path.iter().any(|&child| {
            schema.entity_types[child]
                .parents
                .iter()
                .filter_map(|p| usize::try_from(*p).ok())
                .any(|p| on_path.contains(&p))
        });
        if !has_edges {
            if uid.ty != self.resource_type {
                return Ok("FALSE".into());
            }
            let p = self.placeholder(Param::Text(uid.id.to_string()));
            return Ok(format!("({id} IS NOT NULL AND {id} = {p})"));
        }
        let seed_type = self.placeholder(Param::Text(target_type));
        let seed_id = self.placeholder(Param::Text(uid.id.to_string()));
        // Parent edges between types on the path, one SELECT per child type.
        let mut edges = Vec::new();
        for &child in &on_path {
            let child_type = &schema.entity_types[child];
            let parent_types: Vec<usize> = child_type
                .parents
                .iter()
                .filter_map(|p| usize::try_from(*p).ok())
                .filter(|p| on_path.contains(p))
                .collect();
            if parent_types.is_empty() {
                continue;
            }
            let child_name = child_type.name.clone();
            let Some(parents) = self
                .mapping
                .types
                .get(&child_name)
                .and_then(|m| m.parents.clone())
            else {
                return Err(TranslateError::new(
                    construct,
                    format!(
                        "the hierarchy goes through `{child_name}`, whose parents are not \
                         mapped (add `[types.{child_name}.parents]`)"
                    ),
                ));
            };
            let dialect = self.dialect;
            let text = |s: String| match dialect {
                Dialect::Postgres => format!("CAST({s} AS text)"),
                Dialect::Sqlite => s,
            };
            let child_tag = self.placeholder(Param::Text(child_name.clone()));
            let parent_type = match &parents.parent_type {
                Some(col) => text(format!("e.{}", col.quoted())),
                None => {
                    // One parent type in the schema (`Mapping::check`, run above, says so).
                    let [only] = child_type.parents.as_slice() else {
                        return Err(TranslateError::new(
                            construct,
                            format!("`types.{child_name}.parents.parent_type` is missing"),
                        ));
                    };
                    let only = type_of(self.engine, *only).name.clone();
                    self.placeholder(Param::Text(only))
                }
            };
            edges.push(format!(
                "SELECT {child_tag} AS cty, {} AS cid, {parent_type} AS pty, {} AS pid FROM {} AS e",
                text(format!("e.{}", parents.child.quoted())),
                text(format!("e.{}", parents.parent.quoted())),
                parents.table.quoted()
            ));
        }
        let resource_tag = self.placeholder(Param::Text(self.type_name.clone()));
        let mut sql = String::new();
        let _ = write!(
            sql,
            "({id} IS NOT NULL AND {id} IN (WITH RECURSIVE d(ty, id) AS (SELECT {seed_type}, {seed_id} \
             UNION SELECT g.cty, g.cid FROM d JOIN ({}) AS g ON g.pty = d.ty AND g.pid = d.id) \
             SELECT d.id FROM d WHERE d.ty = {resource_tag} AND d.id IS NOT NULL))",
            edges.join(" UNION ALL ")
        );
        Ok(sql)
    }
}
