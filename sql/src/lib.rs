//! Query plans as SQL: a plan's residual [`Cond`](rampart_engine::plan::Cond) translated
//! into a `WHERE` clause over the tables a [`Mapping`] names, for PostgreSQL or SQLite.
//!
//! **The key decision: exact or nothing.** The SQL selects exactly the resources the
//! residual holds for, under the residual's *two-valued* semantics (an atom reading an
//! absent attribute is false, its negation true). Every atom is written NULL-safe, as
//! `(col IS NOT NULL AND col = $1)`, so SQL's third value never appears and `NOT` is
//! exact. A residual the mapping cannot express (an unmapped attribute, an IP attribute, a
//! set of booleans, a hierarchy whose parents are not mapped, …) is a [`TranslateError`]
//! naming the attribute or construct, never a wider filter. Values are always bound as
//! parameters ([`Query::params`]); identifiers come only from the mapping, are checked to be
//! plain identifiers and are written double-quoted.
//!
//! ```
//! use std::path::PathBuf;
//! use rampart_engine::Engine;
//! use rampart_lang::{compile, diagnostics::SourceFile, PolicySet};
//! use rampart_sql::{translate_plan, Dialect, Mapping, Param};
//!
//! let policy = r#"package docs
//! schema {
//!   entity User
//!   entity Doc { owner: User }
//!   action "read" on Doc for User
//! }
//! allow "read" on Doc for User when resource.owner == principal
//! "#;
//! let file = SourceFile::new(PathBuf::from("docs.rampart"), "docs.rampart", policy.into());
//! let compiled = compile(&PolicySet::from_files(PathBuf::from("."), vec![file]));
//! let engine = Engine::new(compiled.bundle.expect("compiles"))?;
//!
//! let mapping = Mapping::from_toml(
//!     "[types.Doc]\ntable = \"docs\"\nid = \"id\"\n[types.Doc.attributes]\nowner = \"owner_id\"\n",
//! )?;
//! mapping.check(&engine)?;
//!
//! let entities = engine.load_entities("[]")?;
//! let request = engine.parse_plan_request(
//!     r#"{"principal": {"type": "User", "id": "alice"}, "action": "read",
//!         "resource": {"type": "Doc"}, "context": {}}"#,
//! )?;
//! let plan = engine.plan(&request, &entities)?;
//! let query = translate_plan(&engine, &plan, &mapping, "postgres".parse()?)?;
//! assert_eq!(
//!     query.sql,
//!     r#"SELECT r."id" FROM "docs" AS r WHERE (r."owner_id" IS NOT NULL AND r."owner_id" = $1::text)"#
//! );
//! assert_eq!(query.params, [Param::Text("alice".into())]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The mapping
//!
//! ```toml
//! [types.Doc]
//! table = "docs"                      # or "schema.docs"
//! id = "id"                           # the id column (text)
//!
//! [types.Doc.attributes]
//! owner = "owner_id"                  # scalar or entity reference -> column ({ column = "owner_id" } too)
//! status = "status"                   # enum: the variant name, as text
//! level = "level"                     # optional attribute: NULL is absent
//! meta = { present = "meta_score" }   # optional record: present iff this column is non-NULL
//! "meta.score" = "meta_score"         # a record's fields, by dotted path
//! "meta.label" = "meta_label"
//! tags = { array = "tags" }           # a set in an array column
//! readers = { table = "doc_readers", key = "doc_id", value = "user_id" }  # a set as join-table rows
//!
//! [types.Doc.parents]                 # the hierarchy, for `resource in Folder::"f"`
//! table = "doc_parents"
//! child = "doc_id"
//! parent = "folder_id"
//! # parent_type = "parent_type"      # needed when the schema allows parents of several types
//!
//! [types.Folder]
//! table = "folders"
//! id = "id"
//! [types.Folder.parents]              # followed transitively
//! table = "folder_parents"
//! child = "folder_id"
//! parent = "parent_id"
//! ```
//!
//! * **Types** are keyed by the schema's entity type name. The resource types queried need
//!   `table` and `id` (and `attributes` for what their residuals read); a type the hierarchy
//!   only passes through (`Folder` above) needs just `parents`. Table names may be
//!   schema-qualified (`app.docs`); every name is a plain identifier (ASCII letters, digits,
//!   `_`, `$`, not starting with a digit, at most 63 bytes), written double-quoted, so it is
//!   case-sensitive in PostgreSQL.
//! * **Attributes** are keyed by their dotted path from the resource. A string is a column
//!   of the resource's table; `{ column = C }` is the same. NULL means absent.
//!   * Storage of values: `Bool` as boolean (SQLite 0/1), `Int` as int8 (SQLite integer),
//!     `String` as text, enums as the variant name (text), entity references as the id
//!     (text; the type is the one the schema declares), `Duration` as int8 milliseconds,
//!     `Timestamp` as int8 milliseconds since the Unix epoch (UTC), TLS versions as their
//!     literal (`tls1.2`, text; ordered bytewise, which is their order). `Ip` and `Decimal`
//!     attributes and attributes typed as any entity, maps or `Any` are not translated (an
//!     error).
//!   * **Sets**: `{ array = C }` is a PostgreSQL `text[]` (strings, enums, entities, TLS) or
//!     `int8[]` (ints, durations, timestamps) column, or in SQLite a text column holding a
//!     JSON array (`["a","b"]`, `[1,2]`); NULL is an absent set. `{ table = T, key = K,
//!     value = V }` is one row `(K = resource id, V = element)` per element; such a set is
//!     present (maybe empty) for every resource, so an optional set also needs
//!     `present = C`, a column of the resource's table that is non-NULL exactly when it is
//!     present. Sets of booleans are not translated.
//!   * **Records**: a required record needs no entry (it is present with the resource); an
//!     optional record is `{ present = C }`, present exactly when column `C` of the
//!     resource's table is non-NULL (usually the column of one of its required fields). An
//!     atom on `meta.score` holds only when `meta` is present *and* its column is non-NULL.
//! * **The hierarchy** (`resource in X::"x"`: the resource is `X::"x"` itself or one of
//!   its descendants): either `ancestors = { array = C }` on the resource type, an array
//!   column with every *transitive* ancestor as `Type::id` text (`Folder::f1`, no quotes), or
//!   `[types.T.parents]` for the resource's type and every type on a path from it up to `X`
//!   in the schema (`table`, `child`, `parent` and, when `T` may have parents of several
//!   types, `parent_type`: a column holding the parent's type name as the schema spells it).
//!   The parents tables are followed *down* from `X::"x"` with `WITH RECURSIVE` (`UNION`, so
//!   cycles terminate) in an uncorrelated `r."id" IN (…)` subquery that never yields NULL:
//!   the database evaluates it once per query, not once per row, and it stays two-valued.
//!   When `X` is not above the resource's type in the schema the atom is `FALSE`.
//!
//! [`Mapping::from_toml`] checks the shape and the identifiers; [`Mapping::check`] checks it
//! against an engine's schema (and [`translate`] checks it again, since it relies on what the
//! check establishes). Errors name the TOML key:
//! `types.Doc.attributes.level: no attribute `level` in entity type `Doc``.
//!
//! # The SQL
//!
//! [`translate`] (or [`translate_plan`]) gives a [`Query`]: `SELECT r."id" FROM "docs" AS r
//! WHERE …`, the condition alone (naming the resource's table `r`; its subqueries use the
//! aliases `j1`, `j2`, …, `d`, `g` and `e` inside themselves only), and the parameters.
//! [`Dialect`] parses from `postgres` and `sqlite`.
//! PostgreSQL placeholders are `$1::text`, `$2::int8`, `$3::boolean`, `$4::text[]`,
//! `$5::int8[]`; SQLite's are `?1`, `?2`, … with lists expanded to one parameter per item.
//! `Always` is `WHERE TRUE`, `Never` `WHERE FALSE`.
//!
//! | residual | PostgreSQL (SQLite where it differs) |
//! |---|---|
//! | `has a.b` | presence of each optional record on the way `AND "b" IS NOT NULL` |
//! | `a == v`, `<`, … | `(r."a" IS NOT NULL AND r."a" = $1::int8)`; an order on a type without one (strings, enums) is `FALSE`, a value of another type than the attribute's is `FALSE` |
//! | `a in [v, w]` | `r."a" = ANY($1::text[])` (`r."a" IN (?1, ?2)`) |
//! | `id in [...]` | `r."id" = ANY($1::text[])` |
//! | `tags contains v` / `contains_all` / `contains_any` | array: `@>` / `@>` / `&&` (`EXISTS (SELECT 1 FROM json_each(r."tags") …)`); join table: `EXISTS (SELECT 1 FROM "t" AS j1 WHERE j1."key" = r."id" AND j1."value" = …)`, one per value for `contains_all` |
//! | `a like "eu-*"` | `r."a" LIKE $1::text ESCAPE '!'` (`r."a" GLOB ?1`: SQLite's LIKE ignores ASCII case) |
//! | `resource in X::"x"` | `r."id" IN (WITH RECURSIVE d(ty, id) AS (…) SELECT d.id FROM d WHERE d.ty = 'Doc')`, or the ancestors array |
//!
//! Entity type names (of the hierarchy) are bound as parameters too, so the SQL text holds
//! no data at all. A value of another type than the attribute's (an entity of another type,
//! a variant of another enum) never equals it, as in the decision procedure: that atom is
//! `FALSE`. The mapping is checked against the schema, not against the database: a column
//! that does not exist is the database's error when the query runs.
//!
//! Tested by `tests/differential.rs`: generated policy sets planned and decided for every
//! principal, action and context, and random residuals, against real SQLite and
//! PostgreSQL 15 databases.

mod mapping;
#[cfg(test)]
mod tests;
mod translate;

pub use mapping::{AttrMap, Ident, Mapping, MappingError, Parents, TypeMap};
pub use translate::{translate, translate_plan, Dialect, Param, Query, TranslateError};
