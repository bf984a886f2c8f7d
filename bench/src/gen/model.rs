//! The logical workload: schema, entities, rules and requests, independent of any policy
//! language. The emitters (`rampart`, `cedar`, `rego`) write the same model in each
//! language, so the three engines decide the same policy set.
//!
//! The conditions are deliberately the ones whose meaning coincides in all three languages
//! on the data the generator makes: every requested entity exists with all its attributes,
//! every request carries every context field, and entity ids are unique across types (Rego
//! keys its data by id alone). So no engine meets an evaluation error, and Cedar's
//! "an erroring policy is skipped" never differs from Rampart's "fail closed".

use std::collections::{HashMap, HashSet};

/// An entity type and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Uid {
    pub ty: String,
    pub id: String,
}

impl Uid {
    pub fn new(ty: impl Into<String>, id: impl Into<String>) -> Self {
        Uid {
            ty: ty.into(),
            id: id.into(),
        }
    }
}

/// The type of an entity attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrType {
    String,
    Bool,
    /// An entity of the named type.
    Entity(String),
}

/// The value of an entity attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    String(String),
    Bool(bool),
    Entity(Uid),
}

/// An entity type: its attributes and the types its parents may have.
#[derive(Debug, Clone)]
pub struct EntityType {
    pub name: String,
    pub attrs: Vec<(String, AttrType)>,
    pub parent_types: Vec<String>,
}

/// Actions applying to one set of resource and principal types.
#[derive(Debug, Clone)]
pub struct ActionGroup {
    pub names: Vec<String>,
    pub resource_types: Vec<String>,
    pub principal_types: Vec<String>,
}

/// The schema of a workload.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub entity_types: Vec<EntityType>,
    pub actions: Vec<ActionGroup>,
}

/// One entity of the data.
#[derive(Debug, Clone)]
pub struct Entity {
    pub uid: Uid,
    pub attrs: Vec<(String, AttrValue)>,
    pub parents: Vec<Uid>,
}

/// A primitive condition; a rule's `when` is their conjunction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// `principal in Group::"id"` (transitively).
    InGroup(String),
    /// `principal in resource.ATTR`, a Group-valued attribute.
    InResourceGroup(String),
    /// `resource.owner == principal`.
    Owner,
    /// `principal.dept == resource.dept`.
    SameDept,
    /// `principal.ATTR == resource.ATTR`, a String attribute both types have.
    SameAttr(String),
    /// `principal == Type::"id"`: one named principal (block lists).
    PrincipalIs(Uid),
    /// `resource.ATTR == "value"`.
    ResourceIs(String, String),
    /// `resource.ATTR`, a Bool attribute.
    ResourceFlag(String),
    /// `principal.ATTR`, a Bool attribute.
    PrincipalFlag(String),
    /// The token grants scope `ns:op`: exactly, or through the wildcard `ns:*`.
    HasScope(String),
    /// `context.auth.mfa`.
    Mfa,
    /// `context.tls.mtls`.
    Mtls,
    /// The source address lies in the CIDR network.
    IpIn(String),
    /// The TLS version is at least `1.MINOR`.
    TlsAtLeast(u8),
    Not(Box<Cond>),
}

impl Cond {
    /// `not (self)`.
    pub fn negated(self) -> Cond {
        Cond::Not(Box::new(self))
    }
}

/// What a rule does when it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
    /// Deny when the scope matches, `when` holds and the condition does not.
    Require(Cond),
}

/// One rule. `None` scopes mean "any".
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub effect: Effect,
    pub actions: Option<Vec<String>>,
    pub resource_type: Option<String>,
    pub principal_type: Option<String>,
    pub when: Vec<Cond>,
}

/// One request of the stream: the parts and every context field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSpec {
    pub principal: Uid,
    pub action: String,
    pub resource: Uid,
    /// OAuth scopes of the token.
    pub scopes: Vec<String>,
    pub mfa: bool,
    pub mtls: bool,
    /// Source IPv4 address, dotted.
    pub ip: String,
    /// TLS version `1.MINOR`.
    pub tls_minor: u8,
}

/// A whole logical workload.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub schema: Schema,
    pub entities: Vec<Entity>,
    pub rules: Vec<Rule>,
    pub requests: Vec<RequestSpec>,
}

impl Model {
    /// For every entity with parents, the ids of all its ancestors (transitively).
    pub fn ancestors(&self) -> HashMap<&str, Vec<&str>> {
        let parents: HashMap<&str, Vec<&str>> = self
            .entities
            .iter()
            .map(|e| {
                let ids = e.parents.iter().map(|p| p.id.as_str()).collect();
                (e.uid.id.as_str(), ids)
            })
            .collect();
        let mut out = HashMap::new();
        for entity in &self.entities {
            let mut seen: Vec<&str> = Vec::new();
            let mut stack: Vec<&str> = entity.parents.iter().map(|p| p.id.as_str()).collect();
            while let Some(id) = stack.pop() {
                if seen.contains(&id) {
                    continue;
                }
                seen.push(id);
                stack.extend(parents.get(id).into_iter().flatten().copied());
            }
            if !seen.is_empty() {
                seen.sort_unstable();
                out.insert(entity.uid.id.as_str(), seen);
            }
        }
        out
    }

    /// The names of the actions declared on a resource type.
    pub fn actions_on(&self, resource_type: &str) -> Vec<&str> {
        self.schema
            .actions
            .iter()
            .filter(|g| g.resource_types.iter().any(|t| t == resource_type))
            .flat_map(|g| g.names.iter().map(String::as_str))
            .collect()
    }

    /// Whether entity ids are unique across all types (the Rego data relies on it).
    pub fn ids_unique(&self) -> bool {
        let mut seen = HashSet::new();
        self.entities.iter().all(|e| seen.insert(e.uid.id.as_str()))
    }
}

/// The namespace of an `ns:op` scope: what its `ns:*` wildcard names.
pub fn scope_wildcard(scope: &str) -> String {
    let ns = scope.split(':').next().unwrap_or(scope);
    format!("{ns}:*")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(ty: &str, id: &str, parents: &[&str]) -> Entity {
        Entity {
            uid: Uid::new(ty, id),
            attrs: Vec::new(),
            parents: parents.iter().map(|p| Uid::new("Group", *p)).collect(),
        }
    }

    #[test]
    fn ancestors_are_transitive() {
        let model = Model {
            entities: vec![
                entity("Group", "root", &[]),
                entity("Group", "mid", &["root"]),
                entity("Group", "leaf", &["mid"]),
                entity("User", "u", &["leaf"]),
            ],
            ..Model::default()
        };
        let anc = model.ancestors();
        assert_eq!(anc["u"], vec!["leaf", "mid", "root"]);
        assert_eq!(anc["mid"], vec!["root"]);
        assert!(!anc.contains_key("root"));
        assert!(model.ids_unique());
    }

    #[test]
    fn wildcard_of_scope() {
        assert_eq!(scope_wildcard("api3:op7"), "api3:*");
    }
}
