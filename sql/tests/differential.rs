//! Query plans through SQL against the decision procedure: for generated policy sets, entity
//! data and documents (`rampart_tests::plan_gen`), every principal, action and context, the
//! ids the translated query returns from a real database are exactly the documents `decide`
//! allows. Each case is run under two mappings: sets and the hierarchy as tables
//! (`doc_readers`, `doc_parents`, `folder_parents`), and as arrays (`readers`, `ancestors`).
//!
//! SQLite runs in memory in the default test run. PostgreSQL 15 is started by the
//! `#[ignore]`d tests themselves (`cargo test -p rampart-sql -- --ignored`; CI's services
//! step): `initdb` and `pg_ctl` from `/usr/lib/postgresql/15/bin` (`PG_BIN` overrides), a
//! unix socket in a temporary directory, stopped when the test ends, failed or not.
//!
//! `RAMPART_SQL_CASES` sets the number of generated cases (default 300), `RAMPART_SQL_SEED`
//! the first seed.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use rampart_engine::plan::{Plan, PlanOutcome};
use rampart_engine::Engine;
use rampart_lang::{compile, PolicySet};
use rampart_sql::{translate_plan, Dialect, Mapping, Param, Query};
use rampart_tests::plan_gen::{engine_of, generate, Case, ACTIONS};
use serde_json::json;

/// Sets and the hierarchy as tables.
const TABLES: &str = r#"
[types.Doc]
table = "docs"
id = "id"
[types.Doc.attributes]
owner = "owner_id"
status = "status"
public = "public"
level = "level"
region = "region"
tags = { array = "tags" }
readers = { table = "doc_readers", key = "doc_id", value = "user_id" }
meta = { present = "meta_score" }
"meta.score" = "meta_score"
"meta.label" = "meta_label"
[types.Doc.parents]
table = "doc_parents"
child = "doc_id"
parent = "folder_id"
[types.Folder.parents]
table = "folder_parents"
child = "folder_id"
parent = "parent_id"
"#;

/// Sets and the hierarchy as arrays.
const ARRAYS: &str = r#"
[types.Doc]
table = "docs"
id = "id"
ancestors = { array = "ancestors" }
[types.Doc.attributes]
owner = { column = "owner_id" }
status = "status"
public = "public"
level = "level"
region = "region"
tags = { array = "tags" }
readers = { array = "readers" }
meta = { present = "meta_score" }
"meta.score" = "meta_score"
"meta.label" = "meta_label"
"#;

#[path = "differential/conditions.rs"]
mod conditions;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A database the test loads cases into and runs queries on.
trait Database {
    fn dialect(&self) -> Dialect;
    fn load(&mut self, case: &Case);
    fn ids(&mut self, query: &Query) -> BTreeSet<String>;
}

/// Every folder a document is in, transitively, as `Folder::id`.
fn ancestors(case: &Case, folders: &[String]) -> Vec<String> {
    let mut out = BTreeSet::new();
    let mut stack: Vec<String> = folders.to_vec();
    while let Some(f) = stack.pop() {
        if out.insert(f.clone()) {
            if let Some((_, parents)) = case.folders.iter().find(|(id, _)| *id == f) {
                stack.extend(parents.iter().cloned());
            }
        }
    }
    out.into_iter().map(|f| format!("Folder::{f}")).collect()
}

struct Sqlite(rusqlite::Connection);

impl Database for Sqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn load(&mut self, case: &Case) {
        let db = &mut self.0;
        db.execute_batch(
            "DROP TABLE IF EXISTS docs; DROP TABLE IF EXISTS doc_readers;
             DROP TABLE IF EXISTS doc_parents; DROP TABLE IF EXISTS folder_parents;
             CREATE TABLE docs (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, status TEXT NOT NULL,
               public BOOLEAN NOT NULL, level INTEGER, region TEXT, tags TEXT NOT NULL,
               readers TEXT NOT NULL, ancestors TEXT NOT NULL, meta_score INTEGER, meta_label TEXT);
             CREATE TABLE doc_readers (doc_id TEXT NOT NULL, user_id TEXT NOT NULL);
             CREATE TABLE doc_parents (doc_id TEXT NOT NULL, folder_id TEXT NOT NULL);
             CREATE TABLE folder_parents (folder_id TEXT NOT NULL, parent_id TEXT NOT NULL);",
        )
        .expect("create tables");
        let tx = db.transaction().expect("transaction");
        for doc in &case.docs {
            let json = |items: &[String]| serde_json::to_string(items).expect("json");
            tx.execute(
                "INSERT INTO docs VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                rusqlite::params![
                    doc.id,
                    doc.owner,
                    doc.status,
                    doc.public,
                    doc.level,
                    doc.region,
                    json(&doc.tags),
                    json(&doc.readers),
                    json(&ancestors(case, &doc.folders)),
                    doc.meta.as_ref().map(|m| m.0),
                    doc.meta.as_ref().and_then(|m| m.1.clone()),
                ],
            )
            .expect("insert doc");
            for r in &doc.readers {
                tx.execute("INSERT INTO doc_readers VALUES (?1, ?2)", [&doc.id, r])
                    .expect("insert reader");
            }
            for f in &doc.folders {
                tx.execute("INSERT INTO doc_parents VALUES (?1, ?2)", [&doc.id, f])
                    .expect("insert parent");
            }
        }
        for (f, parents) in &case.folders {
            for p in parents {
                tx.execute("INSERT INTO folder_parents VALUES (?1, ?2)", [f, p])
                    .expect("insert folder parent");
            }
        }
        tx.commit().expect("commit");
    }

    fn ids(&mut self, query: &Query) -> BTreeSet<String> {
        let params: Vec<rusqlite::types::Value> = query
            .params
            .iter()
            .map(|p| match p {
                Param::Text(s) => rusqlite::types::Value::Text(s.clone()),
                Param::Int(n) => rusqlite::types::Value::Integer(*n),
                Param::Bool(b) => rusqlite::types::Value::Integer(i64::from(*b)),
                other => panic!("no arrays in SQLite: {other:?}"),
            })
            .collect();
        let mut statement = self
            .0
            .prepare_cached(&query.sql)
            .unwrap_or_else(|e| panic!("{e}: {}", query.sql));
        let rows = statement
            .query_map(rusqlite::params_from_iter(params), |row| row.get(0))
            .unwrap_or_else(|e| panic!("{e}: {}", query.sql));
        rows.map(|r| r.expect("row")).collect()
    }
}

/// A PostgreSQL server of its own in a temporary directory, stopped on drop.
struct PgServer {
    dir: PathBuf,
    bin: PathBuf,
    root: bool,
}

impl PgServer {
    fn start(name: &str) -> PgServer {
        let bin = PathBuf::from(
            std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into()),
        );
        assert!(
            bin.join("initdb").exists(),
            "PostgreSQL 15 is not installed ({}/initdb; scripts/services-setup.sh installs it)",
            bin.display()
        );
        let dir = std::env::temp_dir().join(format!("rampart-sql-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let server = PgServer { dir, bin, root };
        if root {
            server.run(Command::new("chown").arg("postgres").arg(&server.dir));
        }
        let data = server.dir.join("data");
        server.run(server.pg("initdb").arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "rampart",
            "--no-sync",
        ]));
        server.run(
            server
                .pg("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-o")
                .arg(format!(
                    "-k {} -c listen_addresses='' -c fsync=off",
                    server.dir.display()
                ))
                .arg("-l")
                .arg(server.dir.join("pg.log"))
                .args(["-w", "start"]),
        );
        server
    }

    fn pg(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if self.root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn run(&self, command: &mut Command) {
        let out = command.output().expect("run a PostgreSQL tool");
        assert!(
            out.status.success(),
            "{command:?}: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.join("pg.log")).unwrap_or_default()
        );
    }

    fn connect(&self) -> postgres::Client {
        postgres::Client::connect(
            &format!("host={} user=rampart dbname=postgres", self.dir.display()),
            postgres::NoTls,
        )
        .expect("connect to PostgreSQL")
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Postgres(postgres::Client);

fn pg_params(params: &[Param]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    params
        .iter()
        .map(|p| -> Box<dyn postgres::types::ToSql + Sync> {
            match p {
                Param::Text(s) => Box::new(s.clone()),
                Param::Int(n) => Box::new(*n),
                Param::Bool(b) => Box::new(*b),
                Param::TextArray(v) => Box::new(v.clone()),
                Param::IntArray(v) => Box::new(v.clone()),
            }
        })
        .collect()
}

impl Database for Postgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn load(&mut self, case: &Case) {
        let db = &mut self.0;
        let mut tx = db.transaction().expect("transaction");
        tx.batch_execute(
            "DROP TABLE IF EXISTS docs, doc_readers, doc_parents, folder_parents;
             CREATE TABLE docs (id text PRIMARY KEY, owner_id text NOT NULL, status text NOT NULL,
               public boolean NOT NULL, level int8, region text, tags text[] NOT NULL,
               readers text[] NOT NULL, ancestors text[] NOT NULL, meta_score int8, meta_label text);
             CREATE TABLE doc_readers (doc_id text NOT NULL, user_id text NOT NULL);
             CREATE TABLE doc_parents (doc_id text NOT NULL, folder_id text NOT NULL);
             CREATE TABLE folder_parents (folder_id text NOT NULL, parent_id text NOT NULL);",
        )
        .expect("create tables");
        for doc in &case.docs {
            tx.execute(
                "INSERT INTO docs VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &[
                    &doc.id,
                    &doc.owner,
                    &doc.status,
                    &doc.public,
                    &doc.level,
                    &doc.region,
                    &doc.tags,
                    &doc.readers,
                    &ancestors(case, &doc.folders),
                    &doc.meta.as_ref().map(|m| m.0),
                    &doc.meta.as_ref().and_then(|m| m.1.clone()),
                ],
            )
            .expect("insert doc");
            for r in &doc.readers {
                tx.execute("INSERT INTO doc_readers VALUES ($1, $2)", &[&doc.id, r])
                    .expect("insert reader");
            }
            for f in &doc.folders {
                tx.execute("INSERT INTO doc_parents VALUES ($1, $2)", &[&doc.id, f])
                    .expect("insert parent");
            }
        }
        for (f, parents) in &case.folders {
            for p in parents {
                tx.execute("INSERT INTO folder_parents VALUES ($1, $2)", &[f, p])
                    .expect("insert folder parent");
            }
        }
        tx.commit().expect("commit");
    }

    fn ids(&mut self, query: &Query) -> BTreeSet<String> {
        let params = pg_params(&query.params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            params.iter().map(|p| p.as_ref()).collect();
        self.0
            .query(&query.sql, &refs)
            .unwrap_or_else(|e| panic!("{e:?}: {}", query.sql))
            .iter()
            .map(|row| row.get(0))
            .collect()
    }
}

#[derive(Default)]
struct Counts {
    cases: u64,
    queries: u64,
    conditional: u64,
    documents: u64,
}

/// Every case, user, action and context under both mappings: the query's ids == `decide`.
fn check_against(db: &mut dyn Database) -> Counts {
    let cases = env_number("RAMPART_SQL_CASES", 300);
    let first = env_number("RAMPART_SQL_SEED", 1);
    let mut counts = Counts::default();
    for seed in first..first + cases {
        let case = generate(seed);
        let engine = engine_of(&case.policy, seed);
        let entities = engine
            .load_entities(&case.entities.to_string())
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let mappings: Vec<(&str, Mapping)> = [("tables", TABLES), ("arrays", ARRAYS)]
            .into_iter()
            .map(|(name, text)| {
                let mapping = Mapping::from_toml(text).expect("mapping reads");
                mapping.check(&engine).expect("mapping fits");
                (name, mapping)
            })
            .collect();
        db.load(&case);
        counts.cases += 1;
        for user in &case.users {
            for action in ACTIONS {
                for context in &case.contexts {
                    let request = json!({
                        "principal": {"type": "User", "id": user},
                        "action": action,
                        "resource": {"type": "Doc"},
                        "context": context,
                    });
                    let plan_request = engine
                        .parse_plan_request(&request.to_string())
                        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
                    let plan: Plan = engine
                        .plan(&plan_request, &entities)
                        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
                    if matches!(plan.outcome, PlanOutcome::Conditional(_)) {
                        counts.conditional += 1;
                    }
                    let mut allowed = BTreeSet::new();
                    for doc in &case.docs {
                        let mut full = request.clone();
                        full["resource"] = json!({"type": "Doc", "id": doc.id});
                        if engine.decide_json(&full.to_string(), &entities).is_allow() {
                            allowed.insert(doc.id.clone());
                        }
                        counts.documents += 1;
                    }
                    for (name, mapping) in &mappings {
                        let query = translate_plan(&engine, &plan, mapping, db.dialect())
                            .unwrap_or_else(|e| {
                                panic!("seed {seed}: {name}: {e}\n{}", plan.to_json(&engine))
                            });
                        let selected = db.ids(&query);
                        counts.queries += 1;
                        assert_eq!(
                            selected,
                            allowed,
                            "seed {seed}: {name} mapping, user {user}, action {action}, \
                             context {context}\nplan: {}\nsql: {}\nparams: {:?}\n{}",
                            plan.to_json(&engine),
                            query.sql,
                            query.params,
                            case.policy,
                        );
                    }
                }
            }
        }
    }
    assert!(
        counts.conditional > counts.queries / 20,
        "the generator must reach conditional plans"
    );
    counts
}

fn report(what: &str, counts: &Counts, start: Instant) {
    eprintln!(
        "{what}: {} cases, {} queries ({} plans conditional), {} documents decided, {:.1} s",
        counts.cases,
        counts.queries,
        counts.conditional,
        counts.documents,
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn sqlite_selects_exactly_the_allowed_documents() {
    let start = Instant::now();
    let mut db = Sqlite(rusqlite::Connection::open_in_memory().expect("open SQLite"));
    let counts = check_against(&mut db);
    report("SQLite", &counts, start);
}

#[test]
fn sqlite_random_conditions_select_exactly_what_they_hold_for() {
    let start = Instant::now();
    let mut db = Sqlite(rusqlite::Connection::open_in_memory().expect("open SQLite"));
    let (worlds, checked, split) = conditions::check_conditions(&mut db);
    eprintln!(
        "SQLite: {worlds} worlds, {checked} random conditions ({split} selecting some rows, not all), {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

#[test]
#[ignore = "starts PostgreSQL 15 (CI's services step)"]
fn postgres_random_conditions_select_exactly_what_they_hold_for() {
    let start = Instant::now();
    let server = PgServer::start("conditions");
    let mut db = Postgres(server.connect());
    let (worlds, checked, split) = conditions::check_conditions(&mut db);
    eprintln!(
        "PostgreSQL: {worlds} worlds, {checked} random conditions ({split} selecting some rows, not all), {:.1} s",
        start.elapsed().as_secs_f64()
    );
    drop(db);
    drop(server);
}

#[test]
#[ignore = "starts PostgreSQL 15 (CI's services step)"]
fn postgres_selects_exactly_the_allowed_documents() {
    let start = Instant::now();
    let server = PgServer::start("differential");
    let mut db = Postgres(server.connect());
    let counts = check_against(&mut db);
    report("PostgreSQL", &counts, start);
    drop(db);
    drop(server);
}

/// `resource.owner == principal` is an index scan on the owner column.
#[test]
#[ignore = "starts PostgreSQL 15 (CI's services step)"]
fn postgres_uses_the_owner_index() {
    let server = PgServer::start("explain");
    let mut client = server.connect();
    client
        .batch_execute(
            "CREATE TABLE docs (id text PRIMARY KEY, owner_id text NOT NULL, status text NOT NULL,
               public boolean NOT NULL);
             INSERT INTO docs SELECT 'd' || n, 'u' || (n % 1000), 'open', n % 2 = 0
               FROM generate_series(1, 100000) AS n;
             CREATE INDEX docs_owner ON docs (owner_id);
             ANALYZE docs;",
        )
        .expect("load rows");
    let policy = format!(
        "{}\n@id(\"own\")\nallow \"read\" on Doc for User when resource.owner == principal\n",
        rampart_tests::plan_gen::SCHEMA
    );
    let engine = engine_of(&policy, 0);
    let entities = engine
        .load_entities(r#"[{"uid": {"type": "User", "id": "u7"}, "attrs": {"dept": "eng", "level": 1, "tags": []}, "parents": []}]"#)
        .expect("entities");
    let request = engine
        .parse_plan_request(
            &json!({"principal": {"type": "User", "id": "u7"}, "action": "read",
                    "resource": {"type": "Doc"}, "context": {}})
            .to_string(),
        )
        .expect("request");
    let plan = engine.plan(&request, &entities).expect("plan");
    let mapping = Mapping::from_toml(
        "[types.Doc]\ntable = \"docs\"\nid = \"id\"\n[types.Doc.attributes]\nowner = \"owner_id\"\n",
    )
    .expect("mapping");
    mapping.check(&engine).expect("mapping fits");
    let query = translate_plan(&engine, &plan, &mapping, Dialect::Postgres).expect("translate");
    let params = pg_params(&query.params);
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
        params.iter().map(|p| p.as_ref()).collect();
    let explain: Vec<String> = client
        .query(&format!("EXPLAIN {}", query.sql), &refs)
        .expect("explain")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let text = explain.join("\n");
    eprintln!("{}\n{text}", query.sql);
    assert!(
        text.contains("docs_owner"),
        "the owner index is used:\n{}\n{text}",
        query.sql
    );
    let ids = Postgres(client).ids(&query);
    assert_eq!(ids.len(), 100, "u7 owns 100 of the 100,000 documents");
    drop(server);
}

// ---------------------------------------------------------------------------------------
// The payments example (docs/plan.md's worked example): its plan requests, its mapping and
// its table script (examples/payments/plans/).
// ---------------------------------------------------------------------------------------

fn payments_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/payments")
}

fn payments_engine() -> (Engine, rampart_engine::EntityStore) {
    let dir = payments_dir();
    let set = PolicySet::load(&dir).expect("read examples/payments");
    let bundle = compile(&set).bundle.expect("examples/payments compiles");
    let engine = Engine::new(bundle).expect("engine");
    let entities = engine
        .load_entities(&std::fs::read_to_string(dir.join("entities.json")).expect("entities"))
        .expect("entities load");
    (engine, entities)
}

/// Every plan request of the example, for every user of its entities: the request JSON.
fn payments_plan_requests() -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(payments_dir().join("plans"))
        .expect("plans")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for file in files {
        let request: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
        for user in ["alice", "bob", "carol", "dave"] {
            let mut request = request.clone();
            request["principal"] = json!({"type": "User", "id": user});
            request["context"]["auth"]["subject"] = json!(user);
            out.push(request);
        }
    }
    out
}

fn payments_mapping(engine: &Engine) -> Mapping {
    let text = std::fs::read_to_string(payments_dir().join("plans/mapping.toml")).expect("mapping");
    let mapping = Mapping::from_toml(&text).expect("mapping reads");
    mapping.check(engine).expect("the mapping fits the schema");
    mapping
}

/// The ids `decide` allows among the example's four accounts.
fn payments_allowed(
    engine: &Engine,
    entities: &rampart_engine::EntityStore,
    request: &serde_json::Value,
) -> BTreeSet<String> {
    ["a1", "a2", "a3", "a4"]
        .into_iter()
        .filter(|id| {
            let mut full = request.clone();
            full["resource"] = json!({"type": "Account", "id": id});
            engine.decide_json(&full.to_string(), entities).is_allow()
        })
        .map(str::to_string)
        .collect()
}

fn payments_table() -> String {
    std::fs::read_to_string(payments_dir().join("plans/accounts.sql")).expect("accounts.sql")
}

#[test]
fn sqlite_payments_example_selects_what_decide_allows() {
    let (engine, entities) = payments_engine();
    let mapping = payments_mapping(&engine);
    let mut db = Sqlite(rusqlite::Connection::open_in_memory().expect("sqlite"));
    db.0.execute_batch(&payments_table())
        .expect("accounts.sql runs on SQLite");
    let mut conditional = 0;
    for request in payments_plan_requests() {
        let plan_request = engine
            .parse_plan_request(&request.to_string())
            .expect("request");
        let plan = engine.plan(&plan_request, &entities).expect("plan");
        conditional += usize::from(matches!(plan.outcome, PlanOutcome::Conditional(_)));
        let query = translate_plan(&engine, &plan, &mapping, Dialect::Sqlite).expect("translate");
        assert_eq!(
            db.ids(&query),
            payments_allowed(&engine, &entities, &request),
            "{request}\n{}",
            query.sql
        );
    }
    assert!(conditional > 0);
}

#[test]
#[ignore = "starts PostgreSQL 15 (CI's services step)"]
fn postgres_payments_example_uses_the_owner_index() {
    let (engine, entities) = payments_engine();
    let mapping = payments_mapping(&engine);
    let server = PgServer::start("payments");
    let mut client = server.connect();
    client
        .batch_execute(&payments_table())
        .expect("accounts.sql runs on PostgreSQL");
    // The four accounts agree with decide.
    let mut db = Postgres(server.connect());
    for request in payments_plan_requests() {
        let plan_request = engine
            .parse_plan_request(&request.to_string())
            .expect("request");
        let plan = engine.plan(&plan_request, &entities).expect("plan");
        let query = translate_plan(&engine, &plan, &mapping, Dialect::Postgres).expect("translate");
        assert_eq!(
            db.ids(&query),
            payments_allowed(&engine, &entities, &request),
            "{request}"
        );
    }
    // With 100,000 more accounts (of 5,000 other owners), alice's accounts are found through
    // the index on owner_id.
    client
        .batch_execute(
            "INSERT INTO accounts SELECT 'x' || n, 'u' || (n % 5000), 'internal', n % 3 = 0
               FROM generate_series(1, 100000) AS n;
             ANALYZE accounts;",
        )
        .expect("more accounts");
    let request =
        std::fs::read_to_string(payments_dir().join("plans/alice-read.json")).expect("read");
    let plan_request = engine.parse_plan_request(&request).expect("request");
    let plan = engine.plan(&plan_request, &entities).expect("plan");
    let query = translate_plan(&engine, &plan, &mapping, Dialect::Postgres).expect("translate");
    let params = pg_params(&query.params);
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
        params.iter().map(|p| p.as_ref()).collect();
    let explain: Vec<String> = client
        .query(&format!("EXPLAIN {}", query.sql), &refs)
        .expect("explain")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let text = explain.join("\n");
    eprintln!("{}\n{text}", query.sql);
    assert!(
        text.contains("Index") && text.contains("accounts_owner_idx"),
        "the owner index is used:\n{}\n{text}",
        query.sql
    );
    assert_eq!(
        db.ids(&query),
        BTreeSet::from(["a1".to_string()]),
        "alice reads a1 (a3 holds unencrypted cardholder data)"
    );
    drop(db);
    drop(server);
}
