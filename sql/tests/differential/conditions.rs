//! Random residual conditions straight into the translation, against `Cond::eval`: what the
//! planner's generator never builds is covered here. A richer schema (timestamps,
//! durations, TLS versions, enums, optional records two deep, an optional set in a join
//! table, parents of two types, hierarchy cycles), rows with the characters `LIKE` and
//! `GLOB` treat specially and with mixed case, values of the wrong type, empty lists and
//! ordering on unordered types. For every random condition, the ids the query returns are
//! exactly the rows the condition holds for.

use std::collections::{BTreeMap, BTreeSet};

use rampart_engine::plan::{CmpOp, Cond, ResourceView};
use rampart_engine::{EntityUid, TlsVersion, Value};
use rampart_sql::{translate, Mapping};
use rampart_tests::plan_gen::Rng;

use super::{engine_of, env_number, Postgres, Sqlite};

const POLICY: &str = r#"package t

schema {
  entity User
  entity Group in [Group]
  entity Folder in [Folder, Group]
  entity Item {
    name: String,
    n?: Int,
    at?: Timestamp,
    wait?: Duration,
    tls?: TlsVersion,
    flag?: Bool,
    kind?: Kind,
    owner?: User,
    labels?: Set<String>,
    nums: Set<Int>,
    kinds: Set<Kind>,
    members?: Set<User>,
    info?: { a: Int, b?: String, inner?: { c?: String } },
    spec: { d?: Int },
  } in [Folder, Group]
  enum Kind { x, y, z }
  enum Other { x }
  action "read" on Item for User
}
"#;

const MAPPING: &str = r#"
[types.Item]
table = "items"
id = "id"
[types.Item.attributes]
name = "name"
n = "n"
at = "at"
wait = "wait"
tls = "tls"
flag = "flag"
kind = "kind"
owner = "owner"
labels = { array = "labels" }
nums = { array = "nums" }
kinds = { array = "kinds" }
members = { table = "item_members", key = "item_id", value = "user_id", present = "members_present" }
info = { present = "info_a" }
"info.a" = "info_a"
"info.b" = "info_b"
"info.inner" = { present = "inner_present" }
"info.inner.c" = "inner_c"
"spec.d" = "spec_d"
[types.Item.parents]
table = "item_parents"
child = "item_id"
parent = "parent_id"
parent_type = "parent_type"
[types.Folder.parents]
table = "folder_parents"
child = "folder_id"
parent = "parent_id"
parent_type = "parent_type"
[types.Group.parents]
table = "group_parents"
child = "group_id"
parent = "parent_id"
"#;

const STRINGS: [&str; 18] = [
    "", "a", "A", "ab", "a%", "%", "_", "a_b", "!", "*", "?", "[", "]", "[a]", "a*b", "é", "'",
    "\\",
];
const PIECES: [&str; 12] = ["", "a", "A", "%", "_", "!", "*", "?", "[", "b", "'", "\\"];
const TIMES: [i64; 4] = [-1000, 0, 1000, 86_400_000];
const TLS: [TlsVersion; 4] = [
    TlsVersion::Tls10,
    TlsVersion::Tls11,
    TlsVersion::Tls12,
    TlsVersion::Tls13,
];
const USERS: [&str; 4] = ["u0", "u1", "u2", "u3"];

/// One row: its attributes by dotted path (records present as `true`), its ancestors.
struct Row {
    id: String,
    attrs: BTreeMap<String, Value>,
    ancestors: BTreeSet<(u32, String)>,
    item_type: u32,
    /// Parents as (type name, id).
    parents: Vec<(&'static str, String)>,
}

impl ResourceView for Row {
    fn id(&self) -> &str {
        &self.id
    }

    fn attr(&self, path: &[String]) -> Option<&Value> {
        self.attrs.get(&path.join("."))
    }

    fn is_in(&self, entity: &EntityUid) -> bool {
        (entity.ty == self.item_type && *entity.id == *self.id)
            || self.ancestors.contains(&(entity.ty, entity.id.to_string()))
    }
}

struct Types {
    user: u32,
    group: u32,
    folder: u32,
    item: u32,
    kind: u32,
    other: u32,
}

/// The entities above the items: groups and folders with their parents.
pub(super) struct World {
    rows: Vec<Row>,
    /// (child type, child id, parent type, parent id)
    edges: Vec<(&'static str, String, &'static str, String)>,
}

fn pick<T: Clone>(rng: &mut Rng, items: &[T]) -> T {
    rng.pick(items).clone()
}

fn world(rng: &mut Rng, t: &Types) -> World {
    let groups: Vec<String> = (0..3).map(|i| format!("g{i}")).collect();
    let folders: Vec<String> = (0..4).map(|i| format!("f{i}")).collect();
    let mut edges = Vec::new();
    for g in &groups {
        for p in &groups {
            if rng.chance(25) {
                edges.push(("Group", g.clone(), "Group", p.clone()));
            }
        }
    }
    for f in &folders {
        for p in &folders {
            if rng.chance(25) {
                edges.push(("Folder", f.clone(), "Folder", p.clone()));
            }
        }
        for p in &groups {
            if rng.chance(20) {
                edges.push(("Folder", f.clone(), "Group", p.clone()));
            }
        }
    }
    let mut rows = Vec::new();
    for i in 0..16 {
        let mut attrs = BTreeMap::new();
        let mut put = |path: &str, value: Value| {
            attrs.insert(path.to_string(), value);
        };
        put("name", Value::string(pick(rng, &STRINGS)));
        if rng.chance(60) {
            put(
                "n",
                Value::Int(i64::try_from(rng.below(5)).unwrap_or(0) - 1),
            );
        }
        if rng.chance(60) {
            put("at", Value::Timestamp(pick(rng, &TIMES)));
        }
        if rng.chance(60) {
            put("wait", Value::Duration(pick(rng, &TIMES).abs()));
        }
        if rng.chance(60) {
            put("tls", Value::Tls(pick(rng, &TLS)));
        }
        if rng.chance(60) {
            put("flag", Value::Bool(rng.chance(50)));
        }
        if rng.chance(60) {
            put(
                "kind",
                Value::Enum(t.kind, u32::try_from(rng.below(3)).unwrap_or(0)),
            );
        }
        if rng.chance(60) {
            put("owner", user(t, pick(rng, &USERS)));
        }
        if rng.chance(60) {
            let items = STRINGS
                .iter()
                .filter(|_| rng.chance(15))
                .map(|s| Value::string(s))
                .collect();
            put("labels", Value::set(items));
        }
        let nums = (-1..3).filter(|_| rng.chance(40)).map(Value::Int).collect();
        put("nums", Value::set(nums));
        let kinds = (0..3)
            .filter(|_| rng.chance(40))
            .map(|v| Value::Enum(t.kind, v))
            .collect();
        put("kinds", Value::set(kinds));
        if rng.chance(60) {
            let members = USERS
                .iter()
                .filter(|_| rng.chance(40))
                .map(|u| user(t, u))
                .collect();
            put("members", Value::set(members));
        }
        if rng.chance(60) {
            put("info", Value::Bool(true));
            put(
                "info.a",
                Value::Int(i64::try_from(rng.below(3)).unwrap_or(0)),
            );
            if rng.chance(50) {
                put("info.b", Value::string(pick(rng, &STRINGS)));
            }
            if rng.chance(60) {
                put("info.inner", Value::Bool(true));
                if rng.chance(60) {
                    put("info.inner.c", Value::string(pick(rng, &STRINGS)));
                }
            }
        }
        put("spec", Value::Bool(true));
        if rng.chance(50) {
            put(
                "spec.d",
                Value::Int(i64::try_from(rng.below(3)).unwrap_or(0)),
            );
        }
        let mut parents = Vec::new();
        for f in &folders {
            if rng.chance(20) {
                parents.push(("Folder", f.clone()));
            }
        }
        for g in &groups {
            if rng.chance(15) {
                parents.push(("Group", g.clone()));
            }
        }
        rows.push(Row {
            id: format!("i{i}"),
            attrs,
            ancestors: BTreeSet::new(),
            item_type: t.item,
            parents,
        });
    }
    // Ancestors, transitively (cycles included).
    let type_id = |name: &str| if name == "Group" { t.group } else { t.folder };
    for row in &mut rows {
        let mut stack: Vec<(&str, String)> = row.parents.clone();
        while let Some((ty, id)) = stack.pop() {
            if row.ancestors.insert((type_id(ty), id.clone())) {
                for (cty, cid, pty, pid) in &edges {
                    if *cty == ty && *cid == id {
                        stack.push((pty, pid.clone()));
                    }
                }
            }
        }
    }
    World { rows, edges }
}

fn user(t: &Types, id: &str) -> Value {
    Value::Entity(EntityUid {
        ty: t.user,
        id: id.into(),
    })
}

/// A value for an attribute of this kind, sometimes of another kind.
fn value(rng: &mut Rng, t: &Types, kind: &str) -> Value {
    let kind = if rng.chance(12) {
        pick(
            rng,
            &[
                "string", "int", "time", "wait", "tls", "bool", "enum", "other", "user", "group",
            ],
        )
    } else {
        kind
    };
    match kind {
        "string" => Value::string(pick(rng, &STRINGS)),
        "int" => Value::Int(i64::try_from(rng.below(5)).unwrap_or(0) - 1),
        "time" => Value::Timestamp(pick(rng, &TIMES)),
        "wait" => Value::Duration(pick(rng, &TIMES).abs()),
        "tls" => Value::Tls(pick(rng, &TLS)),
        "bool" => Value::Bool(rng.chance(50)),
        "enum" => Value::Enum(t.kind, u32::try_from(rng.below(3)).unwrap_or(0)),
        "other" => Value::Enum(t.other, 0),
        "group" => Value::Entity(EntityUid {
            ty: t.group,
            id: "u1".into(),
        }),
        _ => user(t, pick(rng, &USERS)),
    }
}

const SCALARS: [(&str, &str); 11] = [
    ("name", "string"),
    ("n", "int"),
    ("at", "time"),
    ("wait", "wait"),
    ("tls", "tls"),
    ("flag", "bool"),
    ("kind", "enum"),
    ("owner", "user"),
    ("info.a", "int"),
    ("info.b", "string"),
    ("info.inner.c", "string"),
];
const SETS: [(&str, &str); 4] = [
    ("labels", "string"),
    ("nums", "int"),
    ("kinds", "enum"),
    ("members", "user"),
];
const RECORDS: [&str; 3] = ["info", "info.inner", "spec"];

fn path(text: &str) -> Vec<String> {
    text.split('.').map(str::to_string).collect()
}

fn values(rng: &mut Rng, t: &Types, kind: &str) -> Vec<Value> {
    (0..rng.below(4)).map(|_| value(rng, t, kind)).collect()
}

fn atom(rng: &mut Rng, t: &Types) -> Cond {
    let (scalar, kind) = pick(rng, &SCALARS);
    let (set, element) = pick(rng, &SETS);
    match rng.below(11) {
        0 => {
            let all: Vec<&str> = SCALARS
                .iter()
                .map(|s| s.0)
                .chain(SETS.iter().map(|s| s.0))
                .chain(RECORDS)
                .chain(["spec.d"])
                .collect();
            Cond::Has(path(pick(rng, &all)))
        }
        1 | 2 => Cond::Compare {
            op: pick(
                rng,
                &[CmpOp::Eq, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge],
            ),
            path: path(scalar),
            value: value(rng, t, kind),
        },
        3 => Cond::OneOf {
            path: path(scalar),
            values: values(rng, t, kind),
        },
        4 => Cond::IdIn(
            (0..rng.below(4))
                .map(|_| format!("i{}", rng.below(18)))
                .collect(),
        ),
        5 => {
            let (ty, id) = match rng.below(4) {
                0 => (t.group, format!("g{}", rng.below(3))),
                1 => (t.item, format!("i{}", rng.below(16))),
                2 if rng.chance(30) => (t.user, "u0".to_string()),
                _ => (t.folder, format!("f{}", rng.below(4))),
            };
            Cond::InEntity(EntityUid { ty, id: id.into() })
        }
        6 => Cond::Contains {
            path: path(set),
            value: value(rng, t, element),
        },
        7 => Cond::ContainsAny {
            path: path(set),
            values: values(rng, t, element),
        },
        8 => Cond::ContainsAll {
            path: path(set),
            values: values(rng, t, element),
        },
        9 => Cond::Like {
            path: path(pick(rng, &["name", "info.b", "info.inner.c", "n"])),
            pieces: (0..rng.below(4))
                .map(|_| pick(rng, &PIECES).to_string())
                .collect(),
        },
        _ => Cond::Const(rng.chance(50)),
    }
}

fn condition(rng: &mut Rng, t: &Types, depth: u32) -> Cond {
    if depth == 0 || rng.chance(40) {
        return atom(rng, t);
    }
    match rng.below(3) {
        0 => Cond::Not(Box::new(condition(rng, t, depth - 1))),
        1 => Cond::And(
            (0..rng.below(4))
                .map(|_| condition(rng, t, depth - 1))
                .collect(),
        ),
        _ => Cond::Or(
            (0..rng.below(4))
                .map(|_| condition(rng, t, depth - 1))
                .collect(),
        ),
    }
}

fn text_of(row: &Row, path: &str) -> Option<String> {
    match row.attrs.get(path)? {
        Value::String(s) => Some(s.to_string()),
        Value::Tls(v) => Some(v.literal().to_string()),
        Value::Enum(_, v) => Some(["x", "y", "z"][usize::try_from(*v).unwrap_or(0)].to_string()),
        Value::Entity(uid) => Some(uid.id.to_string()),
        _ => None,
    }
}

fn int_of(row: &Row, path: &str) -> Option<i64> {
    match row.attrs.get(path)? {
        Value::Int(n) | Value::Timestamp(n) | Value::Duration(n) => Some(*n),
        _ => None,
    }
}

fn texts_of(row: &Row, path: &str) -> Option<Vec<String>> {
    match row.attrs.get(path)? {
        Value::Set(items) => Some(
            items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.to_string(),
                    Value::Enum(_, v) => ["x", "y", "z"][usize::try_from(*v).unwrap_or(0)].into(),
                    Value::Entity(uid) => uid.id.to_string(),
                    other => panic!("{other:?}"),
                })
                .collect(),
        ),
        _ => None,
    }
}

fn ints_of(row: &Row, path: &str) -> Vec<i64> {
    match row.attrs.get(path) {
        Some(Value::Set(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::Int(n) => Some(*n),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A database the random worlds are loaded into.
pub(super) trait WorldDb {
    fn load_world(&mut self, world: &World);
    fn run(&mut self, query: &rampart_sql::Query) -> BTreeSet<String>;
    fn dialect(&self) -> rampart_sql::Dialect;
}

const TABLES: &str = "items, item_members, item_parents, folder_parents, group_parents";

impl WorldDb for Sqlite {
    fn load_world(&mut self, world: &World) {
        let db = &mut self.0;
        for table in TABLES.split(", ") {
            db.execute_batch(&format!("DROP TABLE IF EXISTS {table};"))
                .expect("drop");
        }
        db.execute_batch(
            "CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT NOT NULL, n INTEGER, at INTEGER,
               wait INTEGER, tls TEXT, flag BOOLEAN, kind TEXT, owner TEXT, labels TEXT,
               nums TEXT NOT NULL, kinds TEXT NOT NULL, members_present INTEGER, info_a INTEGER,
               info_b TEXT, inner_present INTEGER, inner_c TEXT, spec_d INTEGER);
             CREATE TABLE item_members (item_id TEXT NOT NULL, user_id TEXT NOT NULL);
             CREATE TABLE item_parents (item_id TEXT, parent_id TEXT, parent_type TEXT);
             CREATE TABLE folder_parents (folder_id TEXT, parent_id TEXT, parent_type TEXT);
             CREATE TABLE group_parents (group_id TEXT, parent_id TEXT);",
        )
        .expect("create");
        let tx = db.transaction().expect("transaction");
        for row in &world.rows {
            let json = |items: Option<Vec<String>>| {
                items.map(|i| serde_json::to_string(&i).expect("json"))
            };
            tx.execute(
                "INSERT INTO items VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,
                   ?14, ?15, ?16, ?17, ?18)",
                rusqlite::params![
                    row.id,
                    text_of(row, "name"),
                    int_of(row, "n"),
                    int_of(row, "at"),
                    int_of(row, "wait"),
                    text_of(row, "tls"),
                    row.attrs.get("flag").map(|v| *v == Value::Bool(true)),
                    text_of(row, "kind"),
                    text_of(row, "owner"),
                    json(texts_of(row, "labels")),
                    serde_json::to_string(&ints_of(row, "nums")).expect("json"),
                    json(texts_of(row, "kinds")),
                    row.attrs.get("members").map(|_| 1),
                    int_of(row, "info.a"),
                    text_of(row, "info.b"),
                    row.attrs.get("info.inner").map(|_| 1),
                    text_of(row, "info.inner.c"),
                    int_of(row, "spec.d"),
                ],
            )
            .expect("insert item");
            for m in texts_of(row, "members").unwrap_or_default() {
                tx.execute("INSERT INTO item_members VALUES (?1, ?2)", [&row.id, &m])
                    .expect("member");
            }
            for (ty, id) in &row.parents {
                tx.execute(
                    "INSERT INTO item_parents VALUES (?1, ?2, ?3)",
                    [row.id.as_str(), id.as_str(), ty],
                )
                .expect("parent");
            }
        }
        for (cty, cid, pty, pid) in &world.edges {
            if *cty == "Folder" {
                tx.execute(
                    "INSERT INTO folder_parents VALUES (?1, ?2, ?3)",
                    [cid.as_str(), pid.as_str(), pty],
                )
                .expect("folder parent");
            } else {
                tx.execute("INSERT INTO group_parents VALUES (?1, ?2)", [cid, pid])
                    .expect("group parent");
            }
        }
        tx.commit().expect("commit");
    }

    fn run(&mut self, query: &rampart_sql::Query) -> BTreeSet<String> {
        super::Database::ids(self, query)
    }

    fn dialect(&self) -> rampart_sql::Dialect {
        rampart_sql::Dialect::Sqlite
    }
}

impl WorldDb for Postgres {
    fn load_world(&mut self, world: &World) {
        let mut tx = self.0.transaction().expect("transaction");
        tx.batch_execute(&format!(
            "DROP TABLE IF EXISTS {TABLES};
             CREATE TABLE items (id text PRIMARY KEY, name text NOT NULL, n int8, at int8,
               wait int8, tls text, flag boolean, kind text, owner text, labels text[],
               nums int8[] NOT NULL, kinds text[] NOT NULL, members_present int8, info_a int8,
               info_b text, inner_present int8, inner_c text, spec_d int8);
             CREATE TABLE item_members (item_id text NOT NULL, user_id text NOT NULL);
             CREATE TABLE item_parents (item_id text, parent_id text, parent_type text);
             CREATE TABLE folder_parents (folder_id text, parent_id text, parent_type text);
             CREATE TABLE group_parents (group_id text, parent_id text);"
        ))
        .expect("create");
        for row in &world.rows {
            tx.execute(
                "INSERT INTO items VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                   $14, $15, $16, $17, $18)",
                &[
                    &row.id,
                    &text_of(row, "name"),
                    &int_of(row, "n"),
                    &int_of(row, "at"),
                    &int_of(row, "wait"),
                    &text_of(row, "tls"),
                    &row.attrs.get("flag").map(|v| *v == Value::Bool(true)),
                    &text_of(row, "kind"),
                    &text_of(row, "owner"),
                    &texts_of(row, "labels"),
                    &ints_of(row, "nums"),
                    &texts_of(row, "kinds"),
                    &row.attrs.get("members").map(|_| 1i64),
                    &int_of(row, "info.a"),
                    &text_of(row, "info.b"),
                    &row.attrs.get("info.inner").map(|_| 1i64),
                    &text_of(row, "info.inner.c"),
                    &int_of(row, "spec.d"),
                ],
            )
            .expect("insert item");
            for m in texts_of(row, "members").unwrap_or_default() {
                tx.execute("INSERT INTO item_members VALUES ($1, $2)", &[&row.id, &m])
                    .expect("member");
            }
            for (ty, id) in &row.parents {
                tx.execute(
                    "INSERT INTO item_parents VALUES ($1, $2, $3)",
                    &[&row.id, id, ty],
                )
                .expect("parent");
            }
        }
        for (cty, cid, pty, pid) in &world.edges {
            if *cty == "Folder" {
                tx.execute(
                    "INSERT INTO folder_parents VALUES ($1, $2, $3)",
                    &[cid, pid, pty],
                )
                .expect("folder parent");
            } else {
                tx.execute("INSERT INTO group_parents VALUES ($1, $2)", &[cid, pid])
                    .expect("group parent");
            }
        }
        tx.commit().expect("commit");
    }

    fn run(&mut self, query: &rampart_sql::Query) -> BTreeSet<String> {
        super::Database::ids(self, query)
    }

    fn dialect(&self) -> rampart_sql::Dialect {
        rampart_sql::Dialect::Postgres
    }
}

/// `(worlds, conditions, conditions that selected some rows but not all)` checked.
pub(super) fn check_conditions(db: &mut dyn WorldDb) -> (u64, u64, u64) {
    let engine = engine_of(POLICY, 0);
    let mapping = Mapping::from_toml(MAPPING).expect("mapping reads");
    mapping.check(&engine).expect("mapping fits");
    let schema = &engine.bundle().schema;
    let enum_id = |name: &str| {
        u32::try_from(
            schema
                .enums
                .iter()
                .position(|e| e.name == name)
                .expect("enum"),
        )
        .expect("id")
    };
    let ty = |name: &str| engine.entity_type_id(name).expect("type");
    let t = Types {
        user: ty("User"),
        group: ty("Group"),
        folder: ty("Folder"),
        item: ty("Item"),
        kind: enum_id("Kind"),
        other: enum_id("Other"),
    };
    let worlds = env_number("RAMPART_SQL_CASES", 300) / 3;
    let first = env_number("RAMPART_SQL_SEED", 1);
    let (mut checked, mut split) = (0u64, 0u64);
    for seed in first..first + worlds {
        let mut rng = Rng::new(seed);
        let world = world(&mut rng, &t);
        db.load_world(&world);
        for _ in 0..40 {
            let cond = condition(&mut rng, &t, 3);
            let expected: BTreeSet<String> = world
                .rows
                .iter()
                .filter(|row| cond.eval(*row))
                .map(|row| row.id.clone())
                .collect();
            let query = translate(&engine, &cond, t.item, &mapping, db.dialect())
                .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{cond:?}"));
            let got = db.run(&query);
            checked += 1;
            if !expected.is_empty() && expected.len() < world.rows.len() {
                split += 1;
            }
            assert_eq!(
                got,
                expected,
                "seed {seed}: {}\n{cond:?}\nsql: {}\nparams: {:?}",
                cond.to_text(schema, &engine.bundle().symbols),
                query.sql,
                query.params
            );
        }
    }
    assert!(
        split > checked / 3,
        "most conditions select some rows and not others ({split} of {checked})"
    );
    (worlds, checked, split)
}
