//! `rampart plan DIR --request FILE`: which resources of a type the request's principal may
//! act on, as a query plan (docs/plan.md). Prints the plan JSON: `decision` (`always`,
//! `never` or `conditional`), the residual `condition` and its policy-language `text`, and
//! the rules, obligations and controls that can apply.
//!
//! With `--sql MAPPING [--dialect postgres|sqlite]` the JSON also holds `sql`: the query
//! selecting the allowed resources' ids, its `WHERE` condition alone, and the parameters
//! to bind (values are never written into the SQL text). A mapping that cannot express the
//! plan is an error naming the attribute or construct, never a wider query.
//!
//! Exit 0 when some resources may be allowed (`always` or `conditional`), 1 for `never` or
//! when a condition cannot be planned (the error names the rule and the construct).

use std::time::{SystemTime, UNIX_EPOCH};

use rampart_engine::plan::PlanOutcome;

use serde_json::{json, Value as Json};

use crate::args::{PlanArgs, SqlDialect};
use crate::exit::{CliError, FAILURE, OK};
use crate::output::outln;
use crate::policy;

pub fn run(args: PlanArgs) -> Result<u8, CliError> {
    let Some(loaded) = policy::load_reporting(&args.dir)? else {
        return Ok(FAILURE);
    };
    let engine = &loaded.engine;
    let entities = policy::load_entities(engine, &loaded.root, args.entities.as_deref())?;
    let text = crate::input::read(&args.request, crate::input::Input::Request)?;
    let mut request = engine
        .parse_plan_request(&text)
        .map_err(|e| CliError::Input(format!("`{}`: {e}", args.request.display())))?;
    engine.fill_plan_time(&mut request, now_ms());
    let plan = match engine.plan(&request, &entities) {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(FAILURE);
        }
    };
    let mut out = plan.to_json(engine);
    if let Some(path) = &args.sql {
        let text = crate::input::read(path, crate::input::Input::Mapping)?;
        let input =
            |e: &dyn std::fmt::Display| CliError::Input(format!("`{}`: {e}", path.display()));
        let mapping = rampart_sql::Mapping::from_toml(&text).map_err(|e| input(&e))?;
        mapping.check(engine).map_err(|e| input(&e))?;
        let dialect = match args.dialect {
            SqlDialect::Postgres => rampart_sql::Dialect::Postgres,
            SqlDialect::Sqlite => rampart_sql::Dialect::Sqlite,
        };
        let query = match rampart_sql::translate_plan(engine, &plan, &mapping, dialect) {
            Ok(query) => query,
            Err(error) => {
                eprintln!("error: the plan cannot be written as SQL: {error}");
                return Ok(FAILURE);
            }
        };
        if let Some(object) = out.as_object_mut() {
            object.insert("sql".into(), sql_json(&query, args.dialect));
        }
    }
    outln!(
        "{}",
        serde_json::to_string_pretty(&out).map_err(|e| CliError::Input(e.to_string()))?
    );
    Ok(if plan.outcome == PlanOutcome::Never {
        FAILURE
    } else {
        OK
    })
}

/// The current time in milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// The query, its condition and its parameters as JSON (arrays for PostgreSQL's list
/// parameters).
fn sql_json(query: &rampart_sql::Query, dialect: SqlDialect) -> Json {
    use rampart_sql::Param;
    let params: Vec<Json> = query
        .params
        .iter()
        .map(|param| match param {
            Param::Text(text) => json!(text),
            Param::Int(n) => json!(n),
            Param::Bool(b) => json!(b),
            Param::TextArray(items) => json!(items),
            Param::IntArray(items) => json!(items),
        })
        .collect();
    json!({
        "dialect": match dialect {
            SqlDialect::Postgres => "postgres",
            SqlDialect::Sqlite => "sqlite",
        },
        "query": query.sql,
        "where": query.where_clause,
        "params": params,
    })
}
