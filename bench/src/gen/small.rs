//! The `small` workload: a TinyTodo/gdrive-sized document app. Eleven rules, fifty
//! entities: owners, reader and editor groups on each document, a three-level team
//! hierarchy, admins, locked documents, blocked users, MFA for destructive actions.

use super::model::{
    ActionGroup, AttrType, AttrValue, Cond, Effect, Entity, EntityType, Model, RequestSpec, Rule,
    Schema, Uid,
};
use super::prng::SplitMix64;

const DOC_ACTIONS: [&str; 4] = ["read", "write", "delete", "share"];
/// Groups: `(id, parent)`. `org` → teams → sub-teams is the three-level hierarchy.
const GROUPS: [(&str, Option<&str>); 7] = [
    ("org", None),
    ("eng", Some("org")),
    ("sales", Some("org")),
    ("ops", Some("org")),
    ("eng-web", Some("eng")),
    ("eng-infra", Some("eng")),
    ("admins", None),
];
const USERS: usize = 12;
/// Rules of the workload.
pub const RULES: usize = 11;
/// Entities of the workload: groups, users, documents and the app.
pub const ENTITIES: usize = GROUPS.len() + USERS + DOCS + 1;
const DOCS: usize = 30;

/// Builds the model with `requests` requests from `seed`.
pub fn model(seed: u64, requests: usize) -> Model {
    let mut rng = SplitMix64::new(seed);
    let entities = entities(&mut rng);
    let mut model = Model {
        schema: schema(),
        entities,
        rules: rules(),
        requests: Vec::new(),
    };
    model.requests = (0..requests).map(|_| request(&mut rng)).collect();
    model
}

fn schema() -> Schema {
    let s = |name: &str, ty: AttrType| (name.to_string(), ty);
    Schema {
        entity_types: vec![
            EntityType {
                name: "Group".into(),
                attrs: Vec::new(),
                parent_types: vec!["Group".into()],
            },
            EntityType {
                name: "User".into(),
                attrs: vec![s("dept", AttrType::String), s("blocked", AttrType::Bool)],
                parent_types: vec!["Group".into()],
            },
            EntityType {
                name: "Doc".into(),
                attrs: vec![
                    s("owner", AttrType::Entity("User".into())),
                    s("readers", AttrType::Entity("Group".into())),
                    s("editors", AttrType::Entity("Group".into())),
                    s("public", AttrType::Bool),
                    s("locked", AttrType::Bool),
                ],
                parent_types: Vec::new(),
            },
            EntityType {
                name: "App".into(),
                attrs: Vec::new(),
                parent_types: Vec::new(),
            },
        ],
        actions: vec![
            ActionGroup {
                names: DOC_ACTIONS.iter().map(|a| a.to_string()).collect(),
                resource_types: vec!["Doc".into()],
                principal_types: vec!["User".into()],
            },
            ActionGroup {
                names: vec!["create".into()],
                resource_types: vec!["App".into()],
                principal_types: vec!["User".into()],
            },
        ],
    }
}

fn entities(rng: &mut SplitMix64) -> Vec<Entity> {
    let mut out: Vec<Entity> = GROUPS
        .iter()
        .map(|(id, parent)| Entity {
            uid: Uid::new("Group", *id),
            attrs: Vec::new(),
            parents: parent.iter().map(|p| Uid::new("Group", *p)).collect(),
        })
        .collect();
    // Members of teams and sub-teams; `u0` is also an admin; `u11` is blocked.
    let member_groups = ["eng", "sales", "ops", "eng-web", "eng-infra"];
    for i in 0..USERS {
        let mut parents = vec![Uid::new("Group", member_groups[i % member_groups.len()])];
        if i == 0 {
            parents.push(Uid::new("Group", "admins"));
        }
        out.push(Entity {
            uid: Uid::new("User", format!("u{i}")),
            attrs: vec![
                ("dept".into(), AttrValue::String(format!("d{}", i % 3))),
                ("blocked".into(), AttrValue::Bool(i == USERS - 1)),
            ],
            parents,
        });
    }
    let group_ids: Vec<&str> = GROUPS.iter().map(|(id, _)| *id).collect();
    for i in 0..DOCS {
        let owner = format!("u{}", rng.below(USERS));
        let readers = rng.pick(&group_ids).copied().unwrap_or("org");
        let editors = rng.pick(&group_ids).copied().unwrap_or("org");
        out.push(Entity {
            uid: Uid::new("Doc", format!("doc{i}")),
            attrs: vec![
                ("owner".into(), AttrValue::Entity(Uid::new("User", owner))),
                (
                    "readers".into(),
                    AttrValue::Entity(Uid::new("Group", readers)),
                ),
                (
                    "editors".into(),
                    AttrValue::Entity(Uid::new("Group", editors)),
                ),
                ("public".into(), AttrValue::Bool(rng.chance(20))),
                ("locked".into(), AttrValue::Bool(rng.chance(15))),
            ],
            parents: Vec::new(),
        });
    }
    out.push(Entity {
        uid: Uid::new("App", "todo"),
        attrs: Vec::new(),
        parents: Vec::new(),
    });
    out
}

fn rules() -> Vec<Rule> {
    let names = |xs: &[&str]| Some(xs.iter().map(|x| x.to_string()).collect::<Vec<_>>());
    let rule = |id: &str, effect: Effect, actions: Option<Vec<String>>, on: Option<&str>| Rule {
        id: id.into(),
        effect,
        actions,
        resource_type: on.map(str::to_string),
        principal_type: Some("User".into()),
        when: Vec::new(),
    };
    let with = |mut r: Rule, when: Vec<Cond>| {
        r.when = when;
        r
    };
    let doc = Some("Doc");
    vec![
        with(
            rule("owner", Effect::Allow, names(&DOC_ACTIONS), doc),
            vec![Cond::Owner],
        ),
        with(
            rule("readers", Effect::Allow, names(&["read"]), doc),
            vec![Cond::InResourceGroup("readers".into())],
        ),
        with(
            rule("editors", Effect::Allow, names(&["read", "write"]), doc),
            vec![Cond::InResourceGroup("editors".into())],
        ),
        with(
            rule("public-read", Effect::Allow, names(&["read"]), doc),
            vec![Cond::ResourceFlag("public".into())],
        ),
        with(
            rule("admins", Effect::Allow, names(&DOC_ACTIONS), doc),
            vec![Cond::InGroup("admins".into())],
        ),
        with(
            rule("create", Effect::Allow, names(&["create"]), Some("App")),
            vec![Cond::InGroup("org".into())],
        ),
        with(
            rule("editor-share", Effect::Allow, names(&["share"]), doc),
            vec![
                Cond::InResourceGroup("editors".into()),
                Cond::HasScope("docs:share".into()),
            ],
        ),
        with(
            rule("locked", Effect::Deny, names(&["write", "delete"]), doc),
            vec![Cond::ResourceFlag("locked".into())],
        ),
        with(
            rule("blocked", Effect::Deny, None, None),
            vec![Cond::PrincipalFlag("blocked".into())],
        ),
        Rule {
            principal_type: None,
            ..rule(
                "mfa",
                Effect::Require(Cond::Mfa),
                names(&["delete", "share"]),
                None,
            )
        },
        Rule {
            principal_type: None,
            ..rule("tls", Effect::Require(Cond::TlsAtLeast(2)), None, None)
        },
    ]
}

fn request(rng: &mut SplitMix64) -> RequestSpec {
    let principal = Uid::new("User", format!("u{}", rng.below(USERS)));
    let create = rng.chance(10);
    let (action, resource) = if create {
        ("create", Uid::new("App", "todo"))
    } else {
        let action = rng.pick(&DOC_ACTIONS).copied().unwrap_or("read");
        (action, Uid::new("Doc", format!("doc{}", rng.below(DOCS))))
    };
    let scopes = ["docs:share", "docs:*", "docs:read"]
        .into_iter()
        .filter(|_| rng.chance(30))
        .map(str::to_string)
        .collect();
    let tls_minor = match rng.below(20) {
        0 => 1,
        1..=3 => 2,
        _ => 3,
    };
    RequestSpec {
        principal,
        action: action.to_string(),
        resource,
        scopes,
        mfa: rng.chance(50),
        mtls: false,
        ip: format!("10.0.{}.{}", rng.below(256), rng.below(256)),
        tls_minor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_the_issue() {
        let model = model(1, 100);
        assert_eq!(model.entities.len(), 50);
        assert_eq!(model.entities.len(), ENTITIES);
        assert_eq!(model.rules.len(), RULES);
        assert_eq!(model.requests.len(), 100);
        assert!(model.ids_unique());
    }
}
