//! Mapping errors (each names its key), SQL text snapshots, translation errors, and a
//! property: random TOML-ish mappings never panic, read, checked or used.

use std::path::PathBuf;
use std::sync::OnceLock;

use proptest::prelude::*;
use rampart_engine::plan::{CmpOp, Cond};
use rampart_engine::{Engine, EntityUid, Value};
use rampart_lang::diagnostics::SourceFile;
use rampart_lang::{compile, PolicySet};

use crate::{translate, Dialect, Mapping};

const POLICY: &str = r#"package u

schema {
  entity User in [Group]
  entity Group in [Group]
  entity Folder in [Folder]
  entity Tag
  entity Doc {
    owner: User,
    status: Status,
    level?: Int,
    region?: String,
    tags: Set<String>,
    readers?: Set<User>,
    flags: Set<Bool>,
    addr?: Ip,
    meta?: { score: Int, label?: String },
  } in [Folder, Group]
  enum Status { draft, open }
  action "read" on Doc for User
}
"#;

/// A mapping that fits [`POLICY`]; tests add lines to it.
const GOOD: &str = r#"
[types.Doc]
table = "docs"
id = "id"
[types.Doc.attributes]
owner = "owner_id"
status = "status"
level = "level"
tags = { array = "tags" }
readers = { table = "doc_readers", key = "doc_id", value = "user_id", present = "readers_present" }
meta = { present = "meta_score" }
"meta.score" = "meta_score"
"meta.label" = "meta_label"
[types.Doc.parents]
table = "doc_parents"
child = "doc_id"
parent = "parent_id"
parent_type = "parent_type"
[types.Folder.parents]
table = "folder_parents"
child = "folder_id"
parent = "parent_id"
"#;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let file = SourceFile::new(PathBuf::from("u.rampart"), "u.rampart", POLICY.into());
        let compiled = compile(&PolicySet::from_files(PathBuf::from("."), vec![file]));
        Engine::new(compiled.bundle.expect("the test policy compiles")).expect("engine")
    })
}

fn doc() -> u32 {
    engine().entity_type_id("Doc").expect("Doc")
}

fn uid(ty: &str, id: &str) -> EntityUid {
    EntityUid {
        ty: engine().entity_type_id(ty).expect("type"),
        id: id.into(),
    }
}

fn path(text: &str) -> Vec<String> {
    text.split('.').map(str::to_string).collect()
}

/// The error of reading and checking `toml`.
fn error_of(toml: &str) -> String {
    match Mapping::from_toml(toml).and_then(|m| m.check(engine()).map(|()| m)) {
        Ok(_) => panic!("accepted:\n{toml}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_good_mapping_is_accepted() {
    let mapping = Mapping::from_toml(GOOD).expect("reads");
    mapping.check(engine()).expect("fits");
}

#[test]
fn mapping_errors_name_their_key() {
    let cases: &[(&str, &str)] = &[
        ("[types.Doc\n", "not valid TOML"),
        ("[typez]\n", "typez: unknown key (expected one of types)"),
        (
            "[types.Nope]\ntable = \"t\"\nid = \"id\"\n",
            "types.Nope: no entity type `Nope` in the schema",
        ),
        (
            "[types.Doc]\ntabel = \"docs\"\n",
            "types.Doc.tabel: unknown key (expected one of table, id, attributes, parents, ancestors)",
        ),
        (
            "[types.Doc]\ntable = \"docs; drop table x\"\n",
            "types.Doc.table: `docs; drop table x` is not a plain SQL identifier",
        ),
        (
            "[types.Doc]\ntable = \"a.b.c\"\n",
            "types.Doc.table: `a.b.c` is not a table name",
        ),
        (
            "[types.Doc]\nid = \"x.id\"\n",
            "types.Doc.id: `x.id` is not a column name",
        ),
        (
            "[types.Doc]\nid = 3\n",
            "types.Doc.id: expected a string, found an integer",
        ),
        (
            "[types.Doc.attributes]\nlvl = \"level\"\n",
            "types.Doc.attributes.lvl: no attribute `lvl` in entity type `Doc`",
        ),
        (
            "[types.Doc.attributes]\n\"meta.scor\" = \"x\"\n",
            "types.Doc.attributes.\"meta.scor\": no attribute `meta.scor` in entity type `Doc`",
        ),
        (
            "[types.Doc.attributes]\n\"meta..score\" = \"x\"\n",
            "types.Doc.attributes.\"meta..score\": not an attribute path",
        ),
        (
            "[types.Doc.attributes]\nlevel = 3\n",
            "types.Doc.attributes.level: expected a column name or a table, found an integer",
        ),
        (
            "[types.Doc.attributes]\ntags = \"tags\"\n",
            "types.Doc.attributes.tags: a set attribute is mapped as",
        ),
        (
            "[types.Doc.attributes]\nmeta = \"meta\"\n",
            "types.Doc.attributes.meta: a record attribute is mapped as",
        ),
        (
            "[types.Doc.attributes]\nlevel = { array = \"level\" }\n",
            "types.Doc.attributes.level: this kind of mapping fits only a set",
        ),
        (
            "[types.Doc.attributes]\ntags = { array = \"tags\", column = \"tags\" }\n",
            "types.Doc.attributes.tags: give one of `column`, `array`, `table`, not column and array",
        ),
        (
            "[types.Doc.attributes]\ntags = { array = \"tags\", present = \"p\" }\n",
            "types.Doc.attributes.tags.present: not allowed with `array`",
        ),
        (
            "[types.Doc.attributes]\ntags = { array = \"tags\", colour = \"p\" }\n",
            "types.Doc.attributes.tags.colour: unknown key",
        ),
        (
            "[types.Doc.attributes]\nreaders = { table = \"r\", value = \"user_id\", present = \"p\" }\n",
            "types.Doc.attributes.readers.key: missing",
        ),
        (
            "[types.Doc.attributes]\nreaders = { table = \"r\", key = \"doc_id\", value = \"user_id\" }\n",
            "types.Doc.attributes.readers.present: the set is optional",
        ),
        (
            "[types.Tag.parents]\ntable = \"p\"\nchild = \"c\"\nparent = \"p\"\n",
            "types.Tag.parents: entity type `Tag` has no parents in the schema",
        ),
        (
            "[types.Doc.parents]\ntable = \"p\"\nchild = \"c\"\nparent = \"p\"\n",
            "types.Doc.parents.parent_type: entity type `Doc` may have parents of types Folder, Group",
        ),
        (
            "[types.Doc.parents]\ntable = \"p\"\nchild = \"c\"\n",
            "types.Doc.parents.parent: missing",
        ),
        (
            "[types.Tag]\nancestors = { array = \"a\" }\n",
            "types.Tag.ancestors: entity type `Tag` has no parents in the schema",
        ),
    ];
    for (toml, expected) in cases {
        let error = error_of(toml);
        assert!(
            error.starts_with(expected),
            "for\n{toml}\nexpected `{expected}…`, got `{error}`"
        );
    }
}

fn sql(cond: &Cond) -> String {
    let mapping = Mapping::from_toml(GOOD).expect("reads");
    let mut out = String::new();
    for dialect in [Dialect::Postgres, Dialect::Sqlite] {
        let query = translate(engine(), cond, doc(), &mapping, dialect).expect("translates");
        out.push_str(&format!(
            "{dialect:?}:\n{}\n{:?}\n",
            query.sql, query.params
        ));
    }
    out
}

#[test]
fn snapshots() {
    let user = |id: &str| Value::Entity(uid("User", id));
    let status_enum = engine()
        .bundle()
        .schema
        .enums
        .iter()
        .position(|e| e.name == "Status")
        .and_then(|i| u32::try_from(i).ok())
        .expect("Status");
    let status = |v: u32| Value::Enum(status_enum, v);
    let cases: Vec<(&str, Cond)> = vec![
        ("always", Cond::Const(true)),
        ("never", Cond::Const(false)),
        (
            "owner_is_principal",
            Cond::Compare {
                op: CmpOp::Eq,
                path: path("owner"),
                value: user("alice"),
            },
        ),
        (
            "owner_of_another_type_is_false",
            Cond::Compare {
                op: CmpOp::Eq,
                path: path("owner"),
                value: Value::Entity(uid("Group", "alice")),
            },
        ),
        (
            "status_in_and_not_level",
            Cond::And(vec![
                Cond::OneOf {
                    path: path("status"),
                    values: vec![status(0), status(1)],
                },
                Cond::Not(Box::new(Cond::Compare {
                    op: CmpOp::Gt,
                    path: path("level"),
                    value: Value::Int(2),
                })),
            ]),
        ),
        (
            "nested_optional_record",
            Cond::Or(vec![
                Cond::Has(path("meta.label")),
                Cond::Compare {
                    op: CmpOp::Ge,
                    path: path("meta.score"),
                    value: Value::Int(3),
                },
            ]),
        ),
        (
            "sets",
            Cond::And(vec![
                Cond::ContainsAll {
                    path: path("tags"),
                    values: vec![Value::string("a"), Value::string("b")],
                },
                Cond::ContainsAny {
                    path: path("tags"),
                    values: vec![Value::string("c"), Value::string("d")],
                },
                Cond::Contains {
                    path: path("readers"),
                    value: user("bob"),
                },
            ]),
        ),
        (
            "like_with_special_characters",
            Cond::Like {
                path: path("meta.label"),
                pieces: vec!["50%_off!".into(), "[*?]".into()],
            },
        ),
        ("id_in", Cond::IdIn(vec!["d1".into(), "d2".into()])),
        ("in_folder", Cond::InEntity(uid("Folder", "f1"))),
        ("in_itself", Cond::InEntity(uid("Doc", "d1"))),
    ];
    for (name, cond) in cases {
        insta::assert_snapshot!(name, sql(&cond));
    }
}

#[test]
fn ancestors_array_snapshot() {
    let mapping = Mapping::from_toml(
        "[types.Doc]\ntable = \"docs\"\nid = \"id\"\nancestors = { array = \"ancestors\" }\n",
    )
    .expect("reads");
    mapping.check(engine()).expect("fits");
    let mut out = String::new();
    for dialect in [Dialect::Postgres, Dialect::Sqlite] {
        let query = translate(
            engine(),
            &Cond::InEntity(uid("Group", "g1")),
            doc(),
            &mapping,
            dialect,
        )
        .expect("translates");
        out.push_str(&format!(
            "{dialect:?}:\n{}\n{:?}\n",
            query.sql, query.params
        ));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn what_the_mapping_cannot_express_is_an_error() {
    let mapping = Mapping::from_toml(GOOD).expect("reads");
    let no_meta = Mapping::from_toml(
        "[types.Doc]\ntable = \"docs\"\nid = \"id\"\n[types.Doc.attributes]\n\"meta.score\" = \"s\"\n",
    )
    .expect("reads");
    let empty = Mapping::default();
    // Read but not checked: `translate` checks it.
    let unchecked = Mapping::from_toml(
        "[types.Doc]\ntable = \"docs\"\nid = \"id\"\n[types.Doc.attributes]\n\
         readers = { table = \"r\", key = \"doc_id\", value = \"user_id\" }\n",
    )
    .expect("reads");
    let no_table =
        Mapping::from_toml("[types.Doc.attributes]\nlevel = \"level\"\n").expect("reads");
    let cases: Vec<(&Mapping, Cond, &str)> = vec![
        (
            &mapping,
            Cond::Has(path("region")),
            "resource.region: the attribute is not mapped (add `types.Doc.attributes.region`)",
        ),
        (
            &mapping,
            Cond::Compare {
                op: CmpOp::Eq,
                path: path("addr"),
                value: Value::Bool(true),
            },
            "resource.addr: the attribute is not mapped",
        ),
        (
            &no_meta,
            Cond::Compare {
                op: CmpOp::Eq,
                path: path("meta.score"),
                value: Value::Int(1),
            },
            "resource.meta: the record is optional and has no presence column",
        ),
        (
            &mapping,
            Cond::Contains {
                path: path("flags"),
                value: Value::Bool(true),
            },
            "resource.flags: only sets of strings, numbers, enums and entities",
        ),
        (
            &mapping,
            Cond::InEntity(uid("Group", "g")),
            "resource in Group::\"g\": the hierarchy goes through `Group`, whose parents are not mapped",
        ),
        (
            &mapping,
            Cond::Compare {
                op: CmpOp::Eq,
                path: path("tags"),
                value: Value::Int(1),
            },
            "resource.tags: `==` needs an attribute mapped to a column",
        ),
        (
            &unchecked,
            Cond::ContainsAll {
                path: path("readers"),
                values: vec![],
            },
            "the mapping: types.Doc.attributes.readers.present: the set is optional",
        ),
        (
            &no_table,
            Cond::Const(true),
            "entity type `Doc`: `types.Doc.table` is missing",
        ),
        (
            &empty,
            Cond::Const(true),
            "entity type `Doc`: not mapped (add `[types.Doc]`)",
        ),
    ];
    for (mapping, cond, expected) in cases {
        for dialect in [Dialect::Postgres, Dialect::Sqlite] {
            let error = translate(engine(), &cond, doc(), mapping, dialect)
                .expect_err("refused")
                .to_string();
            assert!(
                error.starts_with(expected),
                "{cond:?}: expected `{expected}…`, got `{error}`"
            );
        }
    }
    // An IP attribute, once mapped, is refused by its type.
    let ip = Mapping::from_toml(
        "[types.Doc]\ntable = \"docs\"\nid = \"id\"\n[types.Doc.attributes]\naddr = \"addr\"\n",
    )
    .expect("reads");
    let error = translate(
        engine(),
        &Cond::Has(path("addr")),
        doc(),
        &ip,
        Dialect::Postgres,
    )
    .expect("`has` on an IP column is fine");
    assert!(error.sql.contains("\"addr\" IS NOT NULL"));
    let net = Value::Ip("10.0.0.0/8".parse().expect("net"));
    let error = translate(
        engine(),
        &Cond::Compare {
            op: CmpOp::Eq,
            path: path("addr"),
            value: net,
        },
        doc(),
        &ip,
        Dialect::Postgres,
    )
    .expect_err("refused")
    .to_string();
    assert_eq!(
        error,
        "resource.addr: IP attributes cannot be translated to SQL"
    );
}

/// Lines a random mapping is made of: good and bad keys, values and sections.
fn line() -> impl Strategy<Value = String> {
    let sections = prop_oneof![
        Just("[types.Doc]"),
        Just("[types.Doc.attributes]"),
        Just("[types.Doc.parents]"),
        Just("[types.Folder.parents]"),
        Just("[types.Tag]"),
        Just("[types.Nope]"),
        Just("[types]"),
        Just("[types.Doc.attributes.meta]"),
    ]
    .prop_map(str::to_string);
    let keys = prop_oneof![
        Just("table"),
        Just("id"),
        Just("child"),
        Just("parent"),
        Just("parent_type"),
        Just("ancestors"),
        Just("owner"),
        Just("level"),
        Just("tags"),
        Just("readers"),
        Just("meta"),
        Just("\"meta.score\""),
        Just("\"meta.label\""),
        Just("flags"),
        Just("addr"),
        Just("present"),
        Just("array"),
        Just("column"),
        Just("key"),
        Just("value"),
        Just("\"\""),
        Just("\"a..b\""),
    ];
    let values = prop_oneof![
        "[a-z_]{1,8}".prop_map(|s| format!("{s:?}")),
        Just("\"a.b\"".to_string()),
        Just("\"a b\"".to_string()),
        Just("\"1x\"".to_string()),
        Just("\"\"".to_string()),
        Just("3".to_string()),
        Just("true".to_string()),
        Just("[\"x\"]".to_string()),
        Just("{ array = \"tags\" }".to_string()),
        Just("{ present = \"p\" }".to_string()),
        Just("{ column = \"c\" }".to_string()),
        Just("{ table = \"t\", key = \"k\", value = \"v\" }".to_string()),
        Just("{ table = \"t\", key = \"k\", value = \"v\", present = \"p\" }".to_string()),
        Just("{ array = \"a\", table = \"t\" }".to_string()),
        Just("{}".to_string()),
    ];
    prop_oneof![
        1 => sections,
        4 => (keys, values).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => "\\PC{0,12}",
    ]
}

fn conds() -> Vec<Cond> {
    vec![
        Cond::Has(path("meta.label")),
        Cond::Compare {
            op: CmpOp::Lt,
            path: path("level"),
            value: Value::Int(1),
        },
        Cond::ContainsAny {
            path: path("readers"),
            values: vec![Value::Entity(uid("User", "u"))],
        },
        Cond::InEntity(uid("Folder", "f")),
        Cond::InEntity(uid("Group", "g")),
        Cond::Like {
            path: path("region"),
            pieces: vec!["a".into(), String::new()],
        },
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_mappings_never_panic(lines in prop::collection::vec(line(), 0..14)) {
        let text = lines.join("\n");
        if let Ok(mapping) = Mapping::from_toml(&text) {
            let _ = mapping.check(engine());
            for cond in conds() {
                for dialect in [Dialect::Postgres, Dialect::Sqlite] {
                    let _ = translate(engine(), &cond, doc(), &mapping, dialect);
                }
            }
        }
    }

    #[test]
    fn any_text_never_panics(text in "\\PC{0,200}") {
        let _ = Mapping::from_toml(&text);
    }
}

#[test]
fn dialects_parse_by_name() {
    assert_eq!("postgres".parse(), Ok(Dialect::Postgres));
    assert_eq!("postgresql".parse(), Ok(Dialect::Postgres));
    assert_eq!("sqlite".parse(), Ok(Dialect::Sqlite));
    assert_eq!(
        "mysql".parse::<Dialect>(),
        Err("unknown SQL dialect `mysql` (expected `postgres` or `sqlite`)".to_string())
    );
}
