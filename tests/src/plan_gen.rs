//! Random policy sets, entity data and rows within the fragment that query plans support,
//! for the differential tests of `Engine::plan` (in memory here, through SQL in
//! `rampart-sql`): for every principal and action, the documents the plan selects must be
//! exactly those `decide` allows.
//!
//! Generation is a function of a seed (SplitMix64), so a failing case is reproduced from
//! the seed the test prints.

use std::path::PathBuf;

use rampart_engine::Engine;
use rampart_lang::{compile, PolicySet, SourceFile};
use serde_json::{json, Value as Json};

/// The schema every generated policy set shares.
pub const SCHEMA: &str = r#"package gen

schema {
  entity User { dept: String, level: Int, tags: Set<String> } in [Group] tags String
  entity Group in [Group]
  entity Folder in [Folder]
  entity Doc {
    owner: User,
    status: Status,
    public: Bool,
    level?: Int,
    region?: String,
    tags: Set<String>,
    readers: Set<User>,
    meta?: { score: Int, label?: String },
  } in [Folder] tags String
  enum Status { draft, open, closed }
  action "read", "write", "share" on Doc for User
  context { level?: Int, tag?: String }
}
"#;

pub const ACTIONS: [&str; 3] = ["read", "write", "share"];
pub const STATUSES: [&str; 3] = ["draft", "open", "closed"];
const TAGS: [&str; 4] = ["a", "b", "c", "eu"];
const DEPTS: [&str; 3] = ["eng", "ops", "eu-west"];
const REGIONS: [&str; 4] = ["eng", "eu-west", "eu-north", "us"];

/// A small deterministic generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let i = self.below(items.len());
        &items[i]
    }
}

/// A document row: the resource data a database would hold.
#[derive(Debug, Clone, PartialEq)]
pub struct DocRow {
    pub id: String,
    pub owner: String,
    pub status: String,
    pub public: bool,
    pub level: Option<i64>,
    pub region: Option<String>,
    pub tags: Vec<String>,
    pub readers: Vec<String>,
    /// `meta.score`, `meta.label` when `meta` is present.
    pub meta: Option<(i64, Option<String>)>,
    /// The folders the document is directly in.
    pub folders: Vec<String>,
}

/// One generated case.
#[derive(Debug, Clone)]
pub struct Case {
    pub seed: u64,
    /// The whole policy file: [`SCHEMA`] and the rules.
    pub policy: String,
    pub users: Vec<String>,
    pub groups: Vec<String>,
    /// Folder id and its parent folders.
    pub folders: Vec<(String, Vec<String>)>,
    pub docs: Vec<DocRow>,
    /// Entity data for every entity, docs included.
    pub entities: Json,
    /// Contexts to plan and decide under (JSON objects).
    pub contexts: Vec<Json>,
}

fn set(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// A condition on the resource (and, in places, on the principal or context).
fn resource_atom(rng: &mut Rng, case: &Case) -> String {
    let user = rng.pick(&case.users).clone();
    let folder = rng.pick(&case.folders).0.clone();
    let doc = rng.pick(&case.docs).id.clone();
    let status = *rng.pick(&STATUSES);
    let tag = *rng.pick(&TAGS);
    let n = rng.below(5);
    match rng.below(30) {
        27 => "resource is Doc".into(),
        28 => format!(
            "(if resource.public then resource.level > {n} else resource.status == {status})"
        ),
        29 => format!("(if principal.level > {n} then resource.public else not resource.public)"),
        0 => "resource.owner == principal".into(),
        1 => format!("resource.owner == User::{user:?}"),
        2 => format!("resource.status == {status}"),
        3 => format!("resource.status in [{status}, {}]", rng.pick(&STATUSES)),
        4 => "resource.public".into(),
        5 => "not resource.public".into(),
        6 => format!("resource.level > {n}"),
        7 => "resource.level <= principal.level".into(),
        8 => "resource.level >= context.level".into(),
        9 => "resource has level".into(),
        10 => format!("resource has level and resource.level < {n}"),
        11 => "resource.region == principal.dept".into(),
        12 => "resource.region like \"eu-*\"".into(),
        13 => format!("resource.tags contains {tag:?}"),
        14 => "resource.tags contains_any principal.tags".into(),
        15 => format!(
            "resource.tags contains_all [{tag:?}, {:?}]",
            rng.pick(&TAGS)
        ),
        16 => "context.tag in resource.tags".into(),
        17 => "principal in resource.readers".into(),
        18 => format!("resource in Folder::{folder:?}"),
        19 => format!("resource == Doc::{doc:?}"),
        20 => format!("resource has meta and resource.meta.score > {n}"),
        21 => format!("resource.meta.score >= {n}"),
        22 => "resource.meta has label".into(),
        23 => "resource.meta.label == \"x\"".into(),
        24 => format!("resource.status != {status}"),
        25 => format!("(resource.public or resource.status == {status})"),
        _ => "not (resource.level == 2)".into(),
    }
}

/// A condition that does not read the resource.
fn known_atom(rng: &mut Rng, case: &Case) -> String {
    let group = rng.pick(&case.groups).clone();
    let n = rng.below(5);
    match rng.below(8) {
        7 => format!("(if principal.level > {n} then context.level > {n} else true)"),
        0 => format!("principal in Group::{group:?}"),
        1 => format!("principal.level > {n}"),
        2 => format!("principal.dept == {:?}", rng.pick(&DEPTS)),
        3 => format!("context.level > {n}"),
        4 => "context has tag".into(),
        5 => format!("principal.tags contains {:?}", rng.pick(&TAGS)),
        _ => "true".into(),
    }
}

fn condition(rng: &mut Rng, case: &Case, max: usize) -> String {
    let count = rng.below(max).saturating_add(1);
    let atoms: Vec<String> = (0..count)
        .map(|_| {
            if rng.chance(65) {
                resource_atom(rng, case)
            } else {
                known_atom(rng, case)
            }
        })
        .collect();
    atoms.join(" and ")
}

fn actions(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => "*".into(),
        1 => format!("{:?}, {:?}", ACTIONS[0], ACTIONS[1]),
        _ => format!("{:?}", rng.pick(&ACTIONS)),
    }
}

fn rule(rng: &mut Rng, case: &Case, index: usize) -> String {
    let mut out = format!("@id(\"r{index}\")\n");
    let kind = rng.below(10);
    if kind < 6 {
        out.push_str(&format!("allow {} on Doc for User", actions(rng)));
    } else if kind < 9 {
        out.push_str(&format!("deny {} on Doc", actions(rng)));
    } else {
        out.push_str(&format!(
            "require {} for {} on Doc",
            condition(rng, case, 2),
            actions(rng)
        ));
    }
    if rng.chance(85) {
        out.push_str(&format!("\n  when {}", condition(rng, case, 3)));
    }
    if rng.chance(25) {
        out.push_str(&format!("\n  unless {}", condition(rng, case, 2)));
    }
    out.push('\n');
    out
}

/// Generates one case: 3–8 rules over 4 users, 3 groups, 3 folders and 12 documents.
pub fn generate(seed: u64) -> Case {
    let mut rng = Rng::new(seed);
    let users: Vec<String> = (0..4).map(|i| format!("u{i}")).collect();
    let groups: Vec<String> = (0..3).map(|i| format!("g{i}")).collect();
    let folders: Vec<(String, Vec<String>)> = vec![
        ("f0".into(), vec![]),
        ("f1".into(), vec!["f0".into()]),
        (
            "f2".into(),
            if rng.chance(50) {
                vec!["f1".into()]
            } else {
                vec![]
            },
        ),
    ];
    let mut entities = Vec::new();
    // Groups: g1 in g0; g2 alone.
    for (i, g) in groups.iter().enumerate() {
        let parents: Vec<Json> = if i == 1 {
            vec![json!({"type": "Group", "id": "g0"})]
        } else {
            vec![]
        };
        entities.push(json!({"uid": {"type": "Group", "id": g}, "attrs": {}, "parents": parents}));
    }
    for u in &users {
        let group = rng.pick(&groups).clone();
        let tags: Vec<&str> = TAGS.iter().copied().filter(|_| rng.chance(40)).collect();
        let parents: Vec<Json> = if rng.chance(75) {
            vec![json!({"type": "Group", "id": group})]
        } else {
            vec![]
        };
        entities.push(json!({
            "uid": {"type": "User", "id": u},
            "attrs": {"dept": rng.pick(&DEPTS), "level": rng.below(5), "tags": tags},
            "parents": parents,
        }));
    }
    for (f, parents) in &folders {
        let parents: Vec<Json> = parents
            .iter()
            .map(|p| json!({"type": "Folder", "id": p}))
            .collect();
        entities.push(json!({"uid": {"type": "Folder", "id": f}, "attrs": {}, "parents": parents}));
    }
    let mut docs = Vec::new();
    for i in 0..12 {
        let doc = DocRow {
            id: format!("d{i}"),
            owner: rng.pick(&users).clone(),
            status: (*rng.pick(&STATUSES)).to_string(),
            public: rng.chance(40),
            level: rng
                .chance(70)
                .then(|| i64::try_from(rng.below(5)).unwrap_or(0)),
            region: rng.chance(70).then(|| (*rng.pick(&REGIONS)).to_string()),
            tags: TAGS
                .iter()
                .filter(|_| rng.chance(35))
                .map(|t| (*t).to_string())
                .collect(),
            readers: users.iter().filter(|_| rng.chance(25)).cloned().collect(),
            meta: rng.chance(60).then(|| {
                (
                    i64::try_from(rng.below(5)).unwrap_or(0),
                    rng.chance(50)
                        .then(|| if rng.chance(50) { "x" } else { "y" }.to_string()),
                )
            }),
            folders: folders
                .iter()
                .filter(|_| rng.chance(30))
                .map(|(f, _)| f.clone())
                .collect(),
        };
        let mut attrs = json!({
            "owner": {"type": "User", "id": doc.owner},
            "status": doc.status,
            "public": doc.public,
            "tags": doc.tags,
            "readers": doc.readers.iter().map(|r| json!({"type": "User", "id": r})).collect::<Vec<_>>(),
        });
        if let Some(object) = attrs.as_object_mut() {
            if let Some(level) = doc.level {
                object.insert("level".into(), json!(level));
            }
            if let Some(region) = &doc.region {
                object.insert("region".into(), json!(region));
            }
            if let Some((score, label)) = &doc.meta {
                let mut meta = json!({"score": score});
                if let (Some(label), Some(m)) = (label, meta.as_object_mut()) {
                    m.insert("label".into(), json!(label));
                }
                object.insert("meta".into(), meta);
            }
        }
        let parents: Vec<Json> = doc
            .folders
            .iter()
            .map(|f| json!({"type": "Folder", "id": f}))
            .collect();
        entities.push(
            json!({"uid": {"type": "Doc", "id": doc.id}, "attrs": attrs, "parents": parents}),
        );
        docs.push(doc);
    }
    let mut case = Case {
        seed,
        policy: String::new(),
        users,
        groups,
        folders,
        docs,
        entities: Json::Array(entities),
        contexts: Vec::new(),
    };
    let mut policy = String::from(SCHEMA);
    let rules = rng.below(6).saturating_add(3);
    for i in 0..rules {
        policy.push('\n');
        policy.push_str(&rule(&mut rng, &case, i));
    }
    case.policy = policy;
    case.contexts = vec![
        json!({}),
        json!({"level": rng.below(5), "tag": rng.pick(&TAGS)}),
    ];
    case
}

/// The readers and tags of a row as a policy literal, for messages.
pub fn describe(doc: &DocRow) -> String {
    format!(
        "{} owner={} readers={} tags={}",
        doc.id,
        doc.owner,
        set(&doc.readers),
        set(&doc.tags)
    )
}

/// Compiles one policy file held in memory into an engine; panics with the rendered
/// diagnostics (and `seed`, to reproduce) when it does not compile.
pub fn engine_of(policy: &str, seed: u64) -> Engine {
    let file = SourceFile::new(
        PathBuf::from("gen.rampart"),
        "gen.rampart",
        policy.to_string(),
    );
    let compiled = compile(&PolicySet::from_files(PathBuf::from("."), vec![file]));
    let Some(bundle) = compiled.bundle else {
        let text: String = compiled
            .diagnostics
            .iter()
            .map(|d| d.render_plain())
            .collect();
        panic!("seed {seed}: the policy does not compile:\n{text}\n{policy}");
    };
    Engine::new(bundle).unwrap_or_else(|e| panic!("seed {seed}: {e}"))
}
