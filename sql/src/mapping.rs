//! The mapping from a schema's entity types to tables, read from TOML.
//!
//! The TOML is walked by hand (not through serde derives) so that every error names the
//! exact key it is about: `types.Doc.attributes.level: no attribute `level` in entity type
//! `Doc``.

use std::collections::BTreeMap;

use rampart_engine::bundle::{FieldType, RecordType, Ty, TypeId};
use rampart_engine::Engine;
use toml::{Table, Value as Toml};

/// A checked SQL identifier (a column, or a table with an optional schema: `app.docs`),
/// written double-quoted in the SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident(Vec<String>);

impl Ident {
    /// Parses `name` or, when `qualified`, `schema.name`. Each part is an ASCII letter or
    /// `_` followed by letters, digits, `_` or `$`, at most 63 bytes (PostgreSQL's limit).
    fn parse(text: &str, qualified: bool) -> Result<Ident, String> {
        let parts: Vec<&str> = text.split('.').collect();
        if parts.len() > if qualified { 2 } else { 1 } {
            return Err(format!(
                "`{text}` is not a {}",
                if qualified {
                    "table name (`table` or `schema.table`)"
                } else {
                    "column name"
                }
            ));
        }
        for part in &parts {
            let mut chars = part.chars();
            let ok = part.len() <= 63
                && chars
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
            if !ok {
                return Err(format!(
                    "`{text}` is not a plain SQL identifier (ASCII letters, digits, `_`, `$`; \
                     not starting with a digit; at most 63 bytes)"
                ));
            }
        }
        Ok(Ident(parts.into_iter().map(str::to_string).collect()))
    }

    /// The identifier double-quoted: `"app"."docs"`.
    pub fn quoted(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|p| format!("\"{p}\"")).collect();
        parts.join(".")
    }
}

/// How one attribute (by dotted path) is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrMap {
    /// A scalar or entity reference in a column of the resource's table (an entity
    /// reference is stored as its id; its type is the schema's). NULL is absent.
    Column(Ident),
    /// A set in an array column: PostgreSQL `text[]`/`int8[]`, SQLite a JSON array in a
    /// text column. NULL is absent.
    Array(Ident),
    /// A set as the rows of a join table: `value` for each row whose `key` is the
    /// resource's id. `present`, for an optional set, is a column of the resource's table
    /// that is non-NULL exactly when the set is present.
    JoinTable {
        table: Ident,
        key: Ident,
        value: Ident,
        present: Option<Ident>,
    },
    /// A record attribute: present exactly when this column is non-NULL. Only needed for
    /// optional records (a required record is present when the resource is); its fields are
    /// mapped by their own dotted paths.
    Record { present: Ident },
}

/// Where the parents of an entity type are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parents {
    pub table: Ident,
    pub child: Ident,
    pub parent: Ident,
    /// The column holding the parent's type name; required when the schema allows parents
    /// of more than one type.
    pub parent_type: Option<Ident>,
}

/// The mapping of one entity type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMap {
    /// Required for a type that is queried; a type the hierarchy only passes through needs
    /// just `parents`.
    pub table: Option<Ident>,
    pub id: Option<Ident>,
    /// By dotted attribute path (`meta.score`).
    pub attributes: BTreeMap<String, AttrMap>,
    pub parents: Option<Parents>,
    /// A column holding every transitive ancestor as `Type::id` text (an array column).
    pub ancestors: Option<Ident>,
}

/// Entity types to tables. See the crate documentation for the TOML form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mapping {
    pub types: BTreeMap<String, TypeMap>,
}

/// A mapping that cannot be read or does not fit the schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("{}{message}", if key.is_empty() { String::new() } else { format!("{key}: ") })]
#[diagnostic(code(rampart::sql::mapping))]
pub struct MappingError {
    key: String,
    message: String,
}

impl MappingError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> MappingError {
        MappingError {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The TOML key the error is about (`types.Doc.attributes.level`); empty for a TOML
    /// syntax error.
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A TOML key part, quoted when it is not bare (`"meta.score"`).
fn key_part(part: &str) -> String {
    if !part.is_empty()
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        part.to_string()
    } else {
        format!("{part:?}")
    }
}

fn join_key(key: &str, name: &str) -> String {
    if key.is_empty() {
        key_part(name)
    } else {
        format!("{key}.{}", key_part(name))
    }
}

fn string<'a>(value: &'a Toml, key: &str) -> Result<&'a str, MappingError> {
    value
        .as_str()
        .ok_or_else(|| MappingError::new(key, format!("expected a string, found {}", kind(value))))
}

fn kind(value: &Toml) -> &'static str {
    match value {
        Toml::String(_) => "a string",
        Toml::Integer(_) => "an integer",
        Toml::Float(_) => "a float",
        Toml::Boolean(_) => "a boolean",
        Toml::Datetime(_) => "a datetime",
        Toml::Array(_) => "an array",
        Toml::Table(_) => "a table",
    }
}

fn table<'a>(value: &'a Toml, key: &str) -> Result<&'a Table, MappingError> {
    value
        .as_table()
        .ok_or_else(|| MappingError::new(key, format!("expected a table, found {}", kind(value))))
}

/// Reads the keys of `table`, refusing any not in `allowed`.
struct Fields<'a> {
    table: &'a Table,
    key: String,
}

impl<'a> Fields<'a> {
    fn new(table: &'a Table, key: &str, allowed: &[&str]) -> Result<Fields<'a>, MappingError> {
        for name in table.keys() {
            if !allowed.contains(&name.as_str()) {
                return Err(MappingError::new(
                    join_key(key, name),
                    format!("unknown key (expected one of {})", allowed.join(", ")),
                ));
            }
        }
        Ok(Fields {
            table,
            key: key.to_string(),
        })
    }

    fn sub(&self, name: &str) -> String {
        join_key(&self.key, name)
    }

    fn ident(&self, name: &str, qualified: bool) -> Result<Option<Ident>, MappingError> {
        let Some(value) = self.table.get(name) else {
            return Ok(None);
        };
        let key = self.sub(name);
        let text = string(value, &key)?;
        Ident::parse(text, qualified)
            .map(Some)
            .map_err(|m| MappingError::new(key, m))
    }

    fn required(&self, name: &str, qualified: bool) -> Result<Ident, MappingError> {
        self.ident(name, qualified)?
            .ok_or_else(|| MappingError::new(self.sub(name), "missing"))
    }
}

impl Mapping {
    /// Reads a mapping from TOML. Checks its shape and identifiers, not the schema (see
    /// [`Mapping::check`]).
    pub fn from_toml(text: &str) -> Result<Mapping, MappingError> {
        let root: Table = toml::from_str(text).map_err(|e| {
            MappingError::new("", format!("not valid TOML: {}", e.message().trim_end()))
        })?;
        let root_fields = Fields::new(&root, "", &["types"])?;
        let mut mapping = Mapping::default();
        let Some(types) = root_fields.table.get("types") else {
            return Ok(mapping);
        };
        for (name, value) in table(types, "types")? {
            let key = format!("types.{}", key_part(name));
            mapping
                .types
                .insert(name.clone(), TypeMap::from_toml(table(value, &key)?, &key)?);
        }
        Ok(mapping)
    }

    /// Checks the mapping against an engine's schema: every type, attribute path and
    /// storage kind exists and fits.
    pub fn check(&self, engine: &Engine) -> Result<(), MappingError> {
        let schema = &engine.bundle().schema;
        for (name, map) in &self.types {
            let key = format!("types.{}", key_part(name));
            let Some(ty) = engine.entity_type_id(name) else {
                return Err(MappingError::new(
                    key,
                    format!("no entity type `{name}` in the schema"),
                ));
            };
            let entity = type_of(engine, ty);
            for (path, attr) in &map.attributes {
                let key = format!("{key}.attributes.{}", key_part(path));
                let parts: Vec<String> = path.split('.').map(str::to_string).collect();
                let field = field_at(engine, &entity.attrs, &parts).ok_or_else(|| {
                    MappingError::new(
                        &key,
                        format!("no attribute `{path}` in entity type `{name}`"),
                    )
                })?;
                check_attr(attr, field, &key)?;
            }
            if let Some(parents) = &map.parents {
                let key = format!("{key}.parents");
                match entity.parents.len() {
                    0 => {
                        return Err(MappingError::new(
                            key,
                            format!("entity type `{name}` has no parents in the schema"),
                        ))
                    }
                    1 => {}
                    _ if parents.parent_type.is_none() => {
                        let names: Vec<&str> = entity
                            .parents
                            .iter()
                            .map(|p| type_of(engine, *p).name.as_str())
                            .collect();
                        return Err(MappingError::new(
                            format!("{key}.parent_type"),
                            format!(
                                "entity type `{name}` may have parents of types {}: name the \
                                 column that holds the parent's type",
                                names.join(", ")
                            ),
                        ));
                    }
                    _ => {}
                }
            }
            if map.ancestors.is_some() && entity.parents.is_empty() {
                return Err(MappingError::new(
                    format!("{key}.ancestors"),
                    format!("entity type `{name}` has no parents in the schema"),
                ));
            }
        }
        let _ = schema;
        Ok(())
    }
}

fn check_attr(attr: &AttrMap, field: &FieldType, key: &str) -> Result<(), MappingError> {
    let fits = match (attr, &field.ty) {
        (AttrMap::Record { .. }, Ty::Record(_)) => true,
        (AttrMap::Record { .. }, _) => false,
        (_, Ty::Record(_)) => {
            return Err(MappingError::new(
                key,
                "a record attribute is mapped as `{ present = COLUMN }` (its fields by their \
                 dotted paths)",
            ))
        }
        (AttrMap::Array(_) | AttrMap::JoinTable { .. }, Ty::Set(_)) => true,
        (AttrMap::Column(_), Ty::Set(_)) => {
            return Err(MappingError::new(
                key,
                "a set attribute is mapped as `{ array = COLUMN }` or `{ table = T, key = K, \
                 value = V }`",
            ))
        }
        (AttrMap::Column(_), _) => true,
        _ => false,
    };
    if !fits {
        return Err(MappingError::new(
            key,
            "this kind of mapping fits only a set (array, table) or a record (present)",
        ));
    }
    if let AttrMap::JoinTable { present: None, .. } = attr {
        if field.optional {
            return Err(MappingError::new(
                format!("{key}.present"),
                "the set is optional: name a column of the resource's table that is non-NULL \
                 exactly when the set is present",
            ));
        }
    }
    Ok(())
}

pub(crate) fn type_of(engine: &Engine, ty: TypeId) -> &rampart_engine::bundle::EntityType {
    let types = &engine.bundle().schema.entity_types;
    usize::try_from(ty)
        .ok()
        .and_then(|i| types.get(i))
        .unwrap_or(&types[0])
}

/// The field at `path` in a record type (through nested records).
pub(crate) fn field_at<'a>(
    engine: &Engine,
    record: &'a RecordType,
    path: &[String],
) -> Option<&'a FieldType> {
    let symbols = &engine.bundle().symbols;
    let (first, rest) = path.split_first()?;
    let field = record.fields.iter().find(|f| {
        usize::try_from(f.name)
            .ok()
            .and_then(|i| symbols.get(i))
            .is_some_and(|s| s == first)
    })?;
    if rest.is_empty() {
        return Some(field);
    }
    match &field.ty {
        Ty::Record(inner) => field_at(engine, inner, rest),
        _ => None,
    }
}

impl TypeMap {
    fn from_toml(t: &Table, key: &str) -> Result<TypeMap, MappingError> {
        let fields = Fields::new(
            t,
            key,
            &["table", "id", "attributes", "parents", "ancestors"],
        )?;
        let mut attributes = BTreeMap::new();
        if let Some(attrs) = t.get("attributes") {
            let akey = fields.sub("attributes");
            for (path, value) in table(attrs, &akey)? {
                let key = format!("{akey}.{}", key_part(path));
                if path.split('.').any(str::is_empty) {
                    return Err(MappingError::new(key, "not an attribute path"));
                }
                attributes.insert(path.clone(), AttrMap::from_toml(value, &key)?);
            }
        }
        let parents = match t.get("parents") {
            None => None,
            Some(value) => {
                let key = fields.sub("parents");
                let p = Fields::new(
                    table(value, &key)?,
                    &key,
                    &["table", "child", "parent", "parent_type"],
                )?;
                Some(Parents {
                    table: p.required("table", true)?,
                    child: p.required("child", false)?,
                    parent: p.required("parent", false)?,
                    parent_type: p.ident("parent_type", false)?,
                })
            }
        };
        let ancestors = match t.get("ancestors") {
            None => None,
            Some(value) => {
                let key = fields.sub("ancestors");
                let a = Fields::new(table(value, &key)?, &key, &["array"])?;
                Some(a.required("array", false)?)
            }
        };
        Ok(TypeMap {
            table: fields.ident("table", true)?,
            id: fields.ident("id", false)?,
            attributes,
            parents,
            ancestors,
        })
    }
}

impl AttrMap {
    fn from_toml(value: &Toml, key: &str) -> Result<AttrMap, MappingError> {
        if let Toml::String(column) = value {
            return Ident::parse(column, false)
                .map(AttrMap::Column)
                .map_err(|m| MappingError::new(key, m));
        }
        let t = value.as_table().ok_or_else(|| {
            MappingError::new(
                key,
                format!("expected a column name or a table, found {}", kind(value)),
            )
        })?;
        let f = Fields::new(
            t,
            key,
            &["column", "array", "table", "key", "value", "present"],
        )?;
        let kinds: Vec<&str> = ["column", "array", "table"]
            .into_iter()
            .filter(|k| t.contains_key(*k))
            .collect();
        match kinds.as_slice() {
            ["column"] => {
                only(t, key, &["column"])?;
                Ok(AttrMap::Column(f.required("column", false)?))
            }
            ["array"] => {
                only(t, key, &["array"])?;
                Ok(AttrMap::Array(f.required("array", false)?))
            }
            ["table"] => Ok(AttrMap::JoinTable {
                table: f.required("table", true)?,
                key: f.required("key", false)?,
                value: f.required("value", false)?,
                present: f.ident("present", false)?,
            }),
            [] => {
                only(t, key, &["present"])?;
                Ok(AttrMap::Record {
                    present: f.required("present", false)?,
                })
            }
            _ => Err(MappingError::new(
                key,
                format!(
                    "give one of `column`, `array`, `table`, not {}",
                    kinds.join(" and ")
                ),
            )),
        }
    }
}

fn only(t: &Table, key: &str, allowed: &[&str]) -> Result<(), MappingError> {
    for name in t.keys() {
        if !allowed.contains(&name.as_str()) {
            return Err(MappingError::new(
                format!("{key}.{}", key_part(name)),
                format!("not allowed with `{}`", allowed.join("`, `")),
            ));
        }
    }
    Ok(())
}
