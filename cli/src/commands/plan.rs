//! `rampart plan DIR --request FILE`: which resources of a type the request's principal may
//! act on, as a query plan (docs/plan.md). Prints the plan JSON: `decision` (`always`,
//! `never` or `conditional`), the residual `condition` and its policy-language `text`, and
//! the rules, obligations and controls that can apply.
//!
//! Exit 0 when some resources may be allowed (`always` or `conditional`), 1 for `never` or
//! when a condition cannot be planned (the error names the rule and the construct).

use std::time::{SystemTime, UNIX_EPOCH};

use rampart_engine::plan::PlanOutcome;

use crate::args::PlanArgs;
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
    let out = plan.to_json(engine);
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
