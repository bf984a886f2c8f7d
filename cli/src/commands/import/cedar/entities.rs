//! Cedar entity data as Rampart entity data.
//!
//! Rampart reads Cedar's entity JSON format (docs/language.md, "Entity data"), so the data
//! stays as it is (entity tags included) except for three things: the namespace is stripped
//! from entity types, `Action` entities are dropped (Rampart's actions are names declared in
//! the schema, and their groups were expanded into the rules), and an entity of an
//! enumerated type that is not one of its ids is refused.

use serde_json::{Map, Value};

use super::names::Namespace;
use super::schema::CedarSchema;

/// Entity data for Rampart, and how many `Action` entities were dropped.
pub struct Converted {
    pub items: Vec<Value>,
    pub dropped_actions: usize,
}

/// Converts the items of a Cedar entity file. Errors name the entity.
pub fn convert(items: Vec<Value>, schema: &CedarSchema) -> Result<Converted, Vec<String>> {
    let ns = &schema.ns;
    let mut out = Vec::with_capacity(items.len());
    let mut dropped_actions = 0;
    let mut errors = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let Value::Object(mut entity) = item else {
            errors.push(format!("entity #{index}: not a JSON object"));
            continue;
        };
        let uid_type = entity
            .get("uid")
            .and_then(|u| u.get("__entity").unwrap_or(u).get("type"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if ns.is_action_type(&uid_type) {
            dropped_actions += 1;
            continue;
        }
        let name = entity
            .get("uid")
            .map(|u| u.to_string())
            .unwrap_or_else(|| format!("#{index}"));
        let id = entity
            .get("uid")
            .and_then(|u| u.get("__entity").unwrap_or(u).get("id"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let enum_ids = ns.strip(&uid_type).ok().and_then(|t| schema.enum_ids(t));
        if enum_ids.is_some_and(|ids| !ids.iter().any(|i| i == id)) {
            errors.push(format!(
                "entity {name}: not one of the entities of its enumerated entity type"
            ));
            continue;
        }
        for key in ["uid", "parents", "attrs", "tags"] {
            if let Some(v) = entity.get_mut(key) {
                let bare = matches!(key, "uid" | "parents");
                if let Err(e) = strip_types(v, ns, bare) {
                    errors.push(format!("entity {name}: {e}"));
                }
            }
        }
        out.push(Value::Object(entity));
    }
    if errors.is_empty() {
        Ok(Converted {
            items: out,
            dropped_actions,
        })
    } else {
        Err(errors)
    }
}

/// Strips the namespace from every entity reference inside `v`: `__entity` objects
/// anywhere, and `{"type", "id"}` objects where an entity is expected (`uid`, `parents`:
/// `bare` is true) or that have exactly those two string fields.
fn strip_types(v: &mut Value, ns: &Namespace, bare: bool) -> Result<(), String> {
    match v {
        Value::Array(items) => {
            for item in items {
                strip_types(item, ns, bare)?;
            }
            Ok(())
        }
        Value::Object(obj) => {
            if let Some(inner) = obj.get_mut("__entity") {
                return strip_uid(inner, ns);
            }
            if is_uid(obj) && (bare || obj.len() == 2) {
                return strip_uid_map(obj, ns);
            }
            for item in obj.values_mut() {
                strip_types(item, ns, false)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn is_uid(obj: &Map<String, Value>) -> bool {
    obj.get("type").is_some_and(Value::is_string) && obj.get("id").is_some_and(Value::is_string)
}

fn strip_uid(v: &mut Value, ns: &Namespace) -> Result<(), String> {
    match v {
        Value::Object(obj) => strip_uid_map(obj, ns),
        _ => Ok(()),
    }
}

fn strip_uid_map(obj: &mut Map<String, Value>, ns: &Namespace) -> Result<(), String> {
    if let Some(Value::String(ty)) = obj.get_mut("type") {
        let local = ns.strip(ty)?.to_owned();
        *ty = local;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn namespaces_are_stripped_and_actions_dropped() {
        let mut schema = CedarSchema::default();
        schema.ns = Namespace::new("App");
        let items = vec![
            json!({"uid": {"type": "App::Action", "id": "view"}, "attrs": {}, "parents": []}),
            json!({"uid": {"type": "App::User", "id": "a"},
                   "attrs": {"boss": {"__entity": {"type": "App::User", "id": "b"}},
                             "home": {"type": "App::Team", "id": "t"}},
                   "parents": [{"type": "App::Team", "id": "t"}]}),
        ];
        let converted = convert(items, &schema).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(converted.dropped_actions, 1);
        assert_eq!(
            converted.items,
            vec![json!({"uid": {"type": "User", "id": "a"},
                        "attrs": {"boss": {"__entity": {"type": "User", "id": "b"}},
                                  "home": {"type": "Team", "id": "t"}},
                        "parents": [{"type": "Team", "id": "t"}]})]
        );
        let other = vec![json!({"uid": {"type": "Other::User", "id": "a"}})];
        assert!(convert(other, &schema).is_err());
    }
}
