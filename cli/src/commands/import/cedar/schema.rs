//! A Cedar schema, read from its JSON form, and the Rampart `schema { … }` block it becomes.
//!
//! Entity types keep their names without the namespace; common types (type aliases) are
//! written inline where they are used; each action with an `appliesTo` becomes an `action`
//! declaration with its principal and resource types and its context. Actions without one
//! (pure action groups) are not declared: no request can name them in Cedar, and rules name
//! their members instead.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::names::{self, Namespace};

/// How deep common types may refer to each other before the schema is refused (Cedar
/// forbids cycles; this only bounds a malformed file).
const MAX_TYPE_DEPTH: usize = 32;

/// The fields of Rampart's builtin request context, which an action cannot declare again.
const BUILTIN_CONTEXT: &[&str] = &["auth", "tls", "source", "request", "time"];

/// The parts of a Cedar schema the translation needs.
#[derive(Debug, Default)]
pub struct CedarSchema {
    pub ns: Namespace,
    /// Entity types by their Rampart name, in the schema's order.
    pub entity_types: Vec<EntityType>,
    /// Actions by name, in the schema's order.
    pub actions: Vec<Action>,
    common_types: BTreeMap<String, Value>,
    /// The names of context fields (at any depth) that some action declares optional.
    optional_context: BTreeSet<String>,
}

#[derive(Debug)]
pub struct EntityType {
    pub name: String,
    pub parents: Vec<String>,
    /// The Rampart attribute list (`{ a: T, b?: U }`), empty when there are none.
    pub attrs: String,
    /// The ids of an enumerated entity type (`entity Color enum ["red", "blue"]`).
    pub ids: Option<Vec<String>>,
    /// The Rampart type of the entity's tags (`tags String`), when it declares them.
    pub tags: Option<String>,
}

#[derive(Debug)]
pub struct Action {
    pub name: String,
    /// The groups this action is directly a member of.
    pub member_of: Vec<String>,
    /// Principal types, resource types and context; `None` when the schema gives no
    /// `appliesTo` (then no request can name the action).
    pub applies_to: Option<AppliesTo>,
}

#[derive(Debug)]
pub struct AppliesTo {
    pub principals: Vec<String>,
    pub resources: Vec<String>,
    /// The Rampart field list of the context, empty when there are no fields.
    pub context: String,
}

impl CedarSchema {
    /// Reads the JSON form of a Cedar schema (one namespace at most). Errors name the
    /// construct that cannot be translated.
    pub fn from_json(json: &Value) -> Result<CedarSchema, Vec<String>> {
        let Some(namespaces) = json.as_object() else {
            return Err(vec![
                "the schema is not a JSON object of namespaces".to_owned()
            ]);
        };
        if namespaces.len() > 1 {
            let list: Vec<String> = namespaces
                .keys()
                .map(|k| {
                    if k.is_empty() {
                        "the empty namespace".to_owned()
                    } else {
                        format!("`{k}`")
                    }
                })
                .collect();
            return Err(vec![format!(
                "the schema declares several namespaces ({}): Rampart has one namespace of \
                 types per policy set; import them one at a time",
                list.join(", ")
            )]);
        }
        let mut schema = CedarSchema::default();
        let Some((ns_name, body)) = namespaces.iter().next() else {
            return Ok(schema);
        };
        schema.ns = Namespace::new(ns_name);
        let empty = Map::new();
        let section = |key: &str| body.get(key).and_then(Value::as_object).unwrap_or(&empty);
        for (name, ty) in section("commonTypes") {
            schema.common_types.insert(name.clone(), ty.clone());
        }
        let mut errors = Vec::new();
        for (name, decl) in section("entityTypes") {
            match schema.entity_type(name, decl) {
                Ok(ty) => schema.entity_types.push(ty),
                Err(e) => errors.push(e),
            }
        }
        for (name, decl) in section("actions") {
            match schema.action(name, decl) {
                Ok(action) => schema.actions.push(action),
                Err(e) => errors.push(e),
            }
            if let Some(ctx) = decl.get("appliesTo").and_then(|a| a.get("context")) {
                let mut optional = BTreeSet::new();
                schema.collect_optional(ctx, &mut optional, 0);
                schema.optional_context.extend(optional);
            }
        }
        if errors.is_empty() {
            Ok(schema)
        } else {
            Err(errors)
        }
    }

    fn entity_type(&self, name: &str, decl: &Value) -> Result<EntityType, String> {
        let rampart = self.type_name(name)?;
        let ids = match decl.get("enum") {
            None | Some(Value::Null) => None,
            Some(Value::Array(ids)) => Some(
                ids.iter()
                    .map(|id| id.as_str().map(str::to_owned))
                    .collect::<Option<Vec<String>>>()
                    .ok_or_else(|| format!("entity type `{name}`: an `enum` id is not a string"))?,
            ),
            Some(_) => return Err(format!("entity type `{name}`: `enum` is not a list of ids")),
        };
        let tags = match decl.get("tags") {
            None | Some(Value::Null) => None,
            Some(ty) => Some(
                self.rampart_type(ty, 0)
                    .map_err(|e| format!("entity type `{name}`: tags: {e}"))?,
            ),
        };
        let mut parents = Vec::new();
        for parent in decl
            .get("memberOfTypes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let parent = parent.as_str().ok_or_else(|| {
                format!("entity type `{name}`: a `memberOfTypes` entry is not a name")
            })?;
            parents.push(self.type_name(parent)?);
        }
        let attrs = match decl.get("shape") {
            None | Some(Value::Null) => String::new(),
            Some(shape) => {
                let record = self
                    .resolve(shape, 0)
                    .map_err(|e| format!("entity type `{name}`: {e}"))?;
                self.record_fields(record, 0)
                    .map_err(|e| format!("entity type `{name}`: {e}"))?
            }
        };
        Ok(EntityType {
            name: rampart,
            parents,
            attrs,
            ids,
            tags,
        })
    }

    fn action(&self, name: &str, decl: &Value) -> Result<Action, String> {
        let mut member_of = Vec::new();
        for group in decl
            .get("memberOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(ty) = group.get("type").and_then(Value::as_str) {
                if !self.ns.is_action_type(ty) {
                    return Err(format!(
                        "action `{name}`: it is a member of an action of type `{ty}`, which is not this namespace's `Action`"
                    ));
                }
            }
            let id = group
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("action `{name}`: a `memberOf` entry has no `id`"))?;
            member_of.push(id.to_owned());
        }
        let applies_to = match decl.get("appliesTo") {
            None | Some(Value::Null) => None,
            Some(applies) => Some(self.applies_to(name, applies)?),
        };
        Ok(Action {
            name: name.to_owned(),
            member_of,
            applies_to,
        })
    }

    fn applies_to(&self, action: &str, applies: &Value) -> Result<AppliesTo, String> {
        let types = |key: &str| -> Result<Vec<String>, String> {
            let mut out = Vec::new();
            for ty in applies
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let ty = ty
                    .as_str()
                    .ok_or_else(|| format!("action `{action}`: a `{key}` entry is not a name"))?;
                out.push(self.type_name(ty)?);
            }
            Ok(out)
        };
        let principals = types("principalTypes")?;
        let resources = types("resourceTypes")?;
        let context = match applies.get("context") {
            None | Some(Value::Null) => String::new(),
            Some(ctx) => {
                let record = self
                    .resolve(ctx, 0)
                    .map_err(|e| format!("action `{action}`: context: {e}"))?;
                let fields = record.get("attributes").and_then(Value::as_object);
                for name in fields.into_iter().flat_map(|f| f.keys()) {
                    if BUILTIN_CONTEXT.contains(&name.as_str()) {
                        return Err(format!(
                            "action `{action}`: context field `{name}` is a builtin field of Rampart's request context (`auth`, `tls`, `source`, `request`, `time`)"
                        ));
                    }
                }
                self.record_fields(record, 0)
                    .map_err(|e| format!("action `{action}`: context: {e}"))?
            }
        };
        Ok(AppliesTo {
            principals,
            resources,
            context,
        })
    }

    /// The Rampart name of a Cedar entity type (namespace stripped, checked).
    /// An entity literal, `Type::"id"`; refused when the type is enumerated and `id` is not
    /// one of its ids (Cedar's validator refuses it too).
    pub fn entity_literal(&self, cedar_type: &str, id: &str) -> Result<String, String> {
        let ty = self.type_name(cedar_type)?;
        let literal = format!("{ty}::{}", names::string_literal(id));
        match self.enum_ids(&ty) {
            Some(ids) if !ids.iter().any(|i| i == id) => Err(format!(
                "`{literal}`: not one of the entities of the enumerated entity type `{ty}`"
            )),
            _ => Ok(literal),
        }
    }

    /// The ids of an enumerated entity type, by its Rampart name.
    pub fn enum_ids(&self, rampart_type: &str) -> Option<&[String]> {
        self.entity_types
            .iter()
            .find(|t| t.name == rampart_type)
            .and_then(|t| t.ids.as_deref())
    }

    pub fn type_name(&self, cedar: &str) -> Result<String, String> {
        self.ns
            .strip(cedar)
            .and_then(|n| names::entity_type_name(cedar, n))
    }

    /// Follows common-type references until a type that is not one.
    fn resolve<'a>(&'a self, ty: &'a Value, depth: usize) -> Result<&'a Value, String> {
        if depth > MAX_TYPE_DEPTH {
            return Err("common types refer to each other too deeply".to_owned());
        }
        let kind = ty.get("type").and_then(Value::as_str).unwrap_or_default();
        let alias = match kind {
            "EntityOrCommon" => ty.get("name").and_then(Value::as_str),
            "String" | "Long" | "Boolean" | "Bool" | "Set" | "Record" | "Entity" | "Extension" => {
                None
            }
            other => Some(other),
        };
        if let Some(alias) = alias {
            let local = self.ns.strip(alias).unwrap_or(alias);
            if let Some(target) = self.common_types.get(local) {
                return self.resolve(target, depth + 1);
            }
        }
        Ok(ty)
    }

    /// The Rampart type of a Cedar type.
    fn rampart_type(&self, ty: &Value, depth: usize) -> Result<String, String> {
        if depth > MAX_TYPE_DEPTH {
            return Err("types nest too deeply".to_owned());
        }
        let ty = self.resolve(ty, 0)?;
        let kind = ty.get("type").and_then(Value::as_str).unwrap_or_default();
        let name = ty.get("name").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "String" => Ok("String".to_owned()),
            "Long" => Ok("Int".to_owned()),
            "Boolean" | "Bool" => Ok("Bool".to_owned()),
            "Set" => {
                let element = ty
                    .get("element")
                    .ok_or_else(|| "a `Set` type without `element`".to_owned())?;
                Ok(format!("Set<{}>", self.rampart_type(element, depth + 1)?))
            }
            "Record" => Ok(format!("{{ {} }}", self.record_fields(ty, depth + 1)?)),
            "Entity" => self.type_name(name),
            "Extension" => extension_type(name),
            "EntityOrCommon" => {
                let local = name.strip_prefix("__cedar::").unwrap_or(name);
                match local {
                    "String" => Ok("String".to_owned()),
                    "Long" => Ok("Int".to_owned()),
                    "Bool" | "Boolean" => Ok("Bool".to_owned()),
                    "ipaddr" | "decimal" | "datetime" | "duration" => extension_type(local),
                    _ => self.type_name(name),
                }
            }
            other => Err(format!("unknown Cedar type `{other}`")),
        }
    }

    /// The Rampart field list (`a: T, b?: U`) of a Cedar record type.
    fn record_fields(&self, record: &Value, depth: usize) -> Result<String, String> {
        if record.get("type").and_then(Value::as_str) != Some("Record") {
            return Err("a shape or context that is not a record".to_owned());
        }
        if record
            .get("additionalAttributes")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            return Err("records with `additionalAttributes` are not supported".to_owned());
        }
        let mut fields = Vec::new();
        let empty = Map::new();
        let attributes = record
            .get("attributes")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for (attr, ty) in attributes {
            let required = ty.get("required").and_then(Value::as_bool).unwrap_or(true);
            let mark = if required { "" } else { "?" };
            let rampart = self
                .rampart_type(ty, depth)
                .map_err(|e| format!("attribute `{attr}`: {e}"))?;
            // A name that is not an identifier (or is a keyword) is quoted: `"Role-A": Bool`.
            let name =
                if names::is_identifier(attr) && !rampart_lang::KEYWORDS.contains(&attr.as_str()) {
                    attr.clone()
                } else {
                    names::string_literal(attr)
                };
            fields.push(format!("{name}{mark}: {rampart}"));
        }
        Ok(fields.join(", "))
    }

    /// Adds the names of the optional fields of record type `ty`, at any depth.
    fn collect_optional(&self, ty: &Value, out: &mut BTreeSet<String>, depth: usize) {
        let Ok(ty) = self.resolve(ty, 0) else {
            return;
        };
        if depth > MAX_TYPE_DEPTH {
            return;
        }
        let Some(attributes) = ty.get("attributes").and_then(Value::as_object) else {
            return;
        };
        for (name, attr) in attributes {
            if attr.get("required").and_then(Value::as_bool) == Some(false) {
                out.insert(name.clone());
            }
            self.collect_optional(attr, out, depth + 1);
        }
    }

    /// Whether a context field of this name may be absent (some action declares a field of
    /// that name optional, at some depth): reading it can then fail.
    pub fn context_field_may_be_absent(&self, name: &str) -> bool {
        self.optional_context.contains(name)
    }

    /// The action declared under `name`.
    pub fn action_named(&self, name: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// The actions a request may name that are `group` or in it, transitively, in schema
    /// order. Empty when none has an `appliesTo`.
    pub fn expand_group(&self, group: &str) -> Vec<String> {
        let mut members = BTreeSet::from([group.to_owned()]);
        loop {
            let before = members.len();
            for action in &self.actions {
                if action.member_of.iter().any(|g| members.contains(g)) {
                    members.insert(action.name.clone());
                }
            }
            if members.len() == before {
                break;
            }
        }
        self.actions
            .iter()
            .filter(|a| members.contains(&a.name) && self.is_requestable(&a.name))
            .map(|a| a.name.clone())
            .collect()
    }

    /// The Rampart `schema { … }` block.
    pub fn to_rampart(&self) -> String {
        let mut out = String::from("schema {\n");
        for ty in &self.entity_types {
            if let Some(ids) = &ty.ids {
                let ids: Vec<String> = ids.iter().map(|id| names::string_literal(id)).collect();
                out.push_str(&format!(
                    "  // cedar: an enumerated entity type, whose only entities are {}; the import\n  \
                     // cedar: checked the policies and entity data, Rampart does not check requests\n",
                    ids.join(", ")
                ));
            }
            out.push_str("  entity ");
            out.push_str(&ty.name);
            if !ty.attrs.is_empty() {
                out.push_str(&format!(" {{ {} }}", ty.attrs));
            }
            if !ty.parents.is_empty() {
                out.push_str(&format!(" in [{}]", ty.parents.join(", ")));
            }
            if let Some(tags) = &ty.tags {
                out.push_str(&format!(" tags {tags}"));
            }
            out.push('\n');
        }
        let unnamed: Vec<String> = self
            .actions
            .iter()
            .filter(|a| !self.is_requestable(&a.name))
            .map(|a| format!("`{}`", a.name.escape_debug()))
            .collect();
        if !unnamed.is_empty() {
            out.push_str(&format!(
                "  // cedar: not declared, as no request can name them (no `appliesTo` types): {}; rules list the actions in them\n",
                unnamed.join(", ")
            ));
        }
        for action in &self.actions {
            let Some(applies) = &action.applies_to else {
                continue;
            };
            if !self.is_requestable(&action.name) {
                continue;
            }
            out.push_str(&format!(
                "  action {} on {} for {}",
                names::string_literal(&action.name),
                applies.resources.join(", "),
                applies.principals.join(", ")
            ));
            if !applies.context.is_empty() {
                out.push_str(&format!(" context {{ {} }}", applies.context));
            }
            out.push('\n');
        }
        out.push_str("}\n");
        out
    }

    /// Whether a request can name this action (it is declared with types).
    pub fn is_requestable(&self, name: &str) -> bool {
        self.action_named(name)
            .and_then(|a| a.applies_to.as_ref())
            .is_some_and(|a| !a.principals.is_empty() && !a.resources.is_empty())
    }
}

fn extension_type(name: &str) -> Result<String, String> {
    match name {
        "ipaddr" => Ok("Ip".to_owned()),
        "datetime" => Ok("Timestamp".to_owned()),
        "duration" => Ok("Duration".to_owned()),
        "decimal" => Ok("Decimal".to_owned()),
        other => Err(format!("unknown extension type `{other}`")),
    }
}
