//! `rampart eval DIR --request FILE`: decide one request and print the decision JSON.
//!
//! The request gets `context.time` (the current time) when it carries none, as the sidecar
//! does, so policies using `now` behave as in production. Exit 0 on allow, 1 on deny.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::args::EvalArgs;
use crate::exit::{CliError, FAILURE, OK};
use crate::output::outln;
use crate::policy;

pub fn run(args: EvalArgs) -> Result<u8, CliError> {
    let Some(loaded) = policy::load_reporting(&args.dir)? else {
        return Ok(FAILURE);
    };
    let entities = policy::load_entities(&loaded.engine, &loaded.root, args.entities.as_deref())?;
    let text = crate::input::read(&args.request, crate::input::Input::Request)?;
    let request = rampart_engine::strict_json::from_str(&text)
        .map_err(|e| CliError::Input(format!("`{}`: invalid JSON: {e}", args.request.display())))?;

    let parsed = loaded.engine.request_from_value(&request).map(|mut req| {
        loaded.engine.fill_time(&mut req, now_ms());
        req
    });
    let (decision, explanation) = match parsed {
        Ok(req) if args.explain => {
            let (d, e) = loaded.engine.explain(&req, &entities);
            (d, Some(e))
        }
        Ok(req) => (loaded.engine.decide(&req, &entities), None),
        Err(e) => (rampart_engine::Decision::error(e.to_string()), None),
    };

    let out = match &explanation {
        Some(explanation) => {
            let out = rampart_engine::explained_json(&decision, explanation);
            if let Some(value) = out.get("explain") {
                eprint!("{}", explain_text(value));
            }
            out
        }
        None => serde_json::to_value(&decision).map_err(|e| CliError::Input(e.to_string()))?,
    };
    outln!(
        "{}",
        serde_json::to_string_pretty(&out).map_err(|e| CliError::Input(e.to_string()))?
    );
    Ok(if decision.is_allow() { OK } else { FAILURE })
}

/// The current time in milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// The explanation for people: one line per rule the index selected.
fn explain_text(explanation: &serde_json::Value) -> String {
    let field =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
    let mut out = String::new();
    out.push_str(&format!(
        "request: principal {} · action {} · resource {}\n",
        field(explanation, "principal"),
        field(explanation, "action"),
        field(explanation, "resource")
    ));
    if let Some(route) = explanation.get("route").and_then(|r| r.as_str()) {
        out.push_str(&format!("route: {route}\n"));
    }
    let rules = explanation
        .get("rules")
        .and_then(|r| r.as_array())
        .cloned()
        .unwrap_or_default();
    if rules.is_empty() {
        out.push_str("no rule was selected for this request\n");
    }
    let width = |key: &str| {
        rules
            .iter()
            .map(|r| field(r, key).chars().count())
            .max()
            .unwrap_or(0)
    };
    let (outcome_w, kind_w, id_w) = (width("outcome"), width("kind"), width("id"));
    for rule in &rules {
        out.push_str(&format!(
            "  {:<outcome_w$}  {:<kind_w$}  {:<id_w$}  {}\n",
            field(rule, "outcome"),
            field(rule, "kind"),
            field(rule, "id"),
            field(rule, "detail")
        ));
    }
    out
}
