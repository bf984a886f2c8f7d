//! regorus with the routed Rego of [`crate::gen::rego_routed`]: rules of their own per
//! action, and the host evaluating only the `allow_<route>` rule of the request's action.
//!
//! At load, the adapter evaluates the policy's `routes` rule (the routed actions) once and
//! maps each action to its `allow_<route>` rule path, so it routes on what it loaded.
//! Per decision (the timed path): `set_input`, read `input.action`, look its rule path up
//! in a hash map (`allow_global` for an action no rule names), and `eval_rule` that path.
//! regorus evaluates the rule lazily with the rules it reads: the action's and the global
//! ones.

use std::collections::HashMap;
use std::time::Instant;

use regorus::{Engine, Value};

use super::{wrap, Answer, Decider, EngineKind, LoadTimes};
use crate::error::BenchError;
use crate::gen::rego::input_json;
use crate::gen::rego_routed::{
    allow_rule, route_of, GLOBAL_ALLOW, GLOBAL_ROUTE, PACKAGE, ROUTES_RULE,
};
use crate::gen::Workload;

/// The routing table: each routed action's `allow_<route>` rule path.
struct Routes {
    rules: HashMap<String, String>,
}

impl Routes {
    /// Reads the policy's `routes` (a set of action names).
    fn new(engine: &mut Engine) -> Result<Routes, String> {
        let routes = engine
            .eval_rule(ROUTES_RULE.to_string())
            .map_err(|e| format!("cannot read `{ROUTES_RULE}`: {e}"))?;
        let Value::Set(actions) = routes else {
            return Err(format!("`{ROUTES_RULE}` is not a set: {routes}"));
        };
        let mut rules = HashMap::with_capacity(actions.len());
        for action in actions.iter() {
            let Value::String(action) = action else {
                return Err(format!("`{ROUTES_RULE}` holds {action}"));
            };
            rules.insert(action.to_string(), allow_rule(action));
        }
        Ok(Routes { rules })
    }

    /// The `allow` rule to evaluate for an input: inside the timed region.
    fn allow_rule(&self, input: &Value) -> String {
        let rule = match &input["action"] {
            Value::String(action) => self.rules.get(action.as_ref()),
            _ => None,
        };
        rule.map_or_else(|| GLOBAL_ALLOW.to_string(), String::clone)
    }
}

/// regorus with the routed workload loaded.
pub struct RegorusRoutedDecider {
    engine: Engine,
    routes: Routes,
    inputs: Vec<Value>,
    /// Each request's input JSON text, for the end-to-end path.
    texts: Vec<String>,
    times: LoadTimes,
}

impl RegorusRoutedDecider {
    /// Adds the routed modules and builds the routes (timed as compile), adds the data
    /// (timed as load), and reads the requests.
    pub fn load(workload: &Workload) -> Result<Self, BenchError> {
        let fail = |what: String| BenchError::new(format!("regorus-routed: {what}"));
        let mut engine = Engine::new();
        let started = Instant::now();
        for (name, text) in &workload.rego_routed_modules {
            engine
                .add_policy(name.clone(), text.clone())
                .map_err(|e| fail(format!("cannot add `{name}`: {e}")))?;
        }
        let routes = Routes::new(&mut engine).map_err(fail)?;
        let compiled = started.elapsed();
        let loading = Instant::now();
        let data = Value::from_json_str(&workload.rego_data_json)
            .map_err(|e| fail(format!("cannot read the data: {e}")))?;
        engine
            .add_data(data)
            .map_err(|e| fail(format!("cannot add the data: {e}")))?;
        let times = LoadTimes {
            compile: compiled,
            load: loading.elapsed(),
        };
        let texts: Vec<String> = workload
            .requests
            .iter()
            .map(|spec| input_json(spec).to_string())
            .collect();
        let inputs = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                Value::from_json_str(text)
                    .map_err(|e| fail(format!("cannot read request {i}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RegorusRoutedDecider {
            engine,
            routes,
            inputs,
            texts,
            times,
        })
    }

    /// The number of routed actions.
    pub fn routes(&self) -> usize {
        self.routes.rules.len()
    }

    /// Evaluates `allow` for prepared input `index` (modulo the stream length).
    pub fn eval(&mut self, index: usize) -> Result<bool, String> {
        let input = self
            .inputs
            .get(wrap(index, self.inputs.len()))
            .ok_or("no such request")?
            .clone();
        self.eval_input(input)
    }

    /// `set_input`, route, `eval_rule`.
    fn eval_input(&mut self, input: Value) -> Result<bool, String> {
        let rule = self.routes.allow_rule(&input);
        self.engine.set_input(input);
        match self.engine.eval_rule(rule) {
            Ok(Value::Bool(allow)) => Ok(allow),
            Ok(other) => Err(format!("`allow` is not a boolean: {other}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The deciding rule ids of the last input (sorted): the permits of the request's
    /// action and the global ones for an allow, the forbids for a deny. Not timed.
    fn deciding_rules(&mut self, index: usize, allow: bool) -> Result<Vec<String>, String> {
        let input = self
            .inputs
            .get(wrap(index, self.inputs.len()))
            .ok_or("no such request")?;
        let set = if allow { "permit" } else { "forbid" };
        let mut routes = vec![GLOBAL_ROUTE.to_string()];
        if let Value::String(action) = &input["action"] {
            if self.routes.rules.contains_key(action.as_ref()) {
                routes.push(route_of(action));
            }
        }
        let mut rules = Vec::new();
        for route in routes {
            let path = format!("data.{PACKAGE}.{set}_{route}");
            // A route without rules of that kind has no such rule.
            let Ok(value) = self.engine.eval_rule(path) else {
                continue;
            };
            match value {
                Value::Undefined => {}
                Value::Set(ids) => {
                    for id in ids.iter() {
                        match id {
                            Value::String(id) => rules.push(id.to_string()),
                            other => return Err(format!("`{set}` holds {other}")),
                        }
                    }
                }
                other => return Err(format!("`{set}` is not a set: {other}")),
            }
        }
        rules.sort();
        Ok(rules)
    }
}

impl Decider for RegorusRoutedDecider {
    fn kind(&self) -> EngineKind {
        EngineKind::RegorusRouted
    }

    /// End to end: reads request `index`'s JSON text as the input, routes and decides (a
    /// text that does not parse is denied).
    fn decide_e2e(&mut self, index: usize) -> bool {
        let Some(text) = self.texts.get(wrap(index, self.texts.len())) else {
            return false;
        };
        match Value::from_json_str(text) {
            Ok(input) => self.eval_input(input).unwrap_or(false),
            Err(_) => false,
        }
    }

    fn len(&self) -> usize {
        self.inputs.len()
    }

    fn decide(&mut self, index: usize) -> bool {
        self.eval(index).unwrap_or(false)
    }

    fn answer(&mut self, index: usize) -> Answer {
        let decided = self
            .eval(index)
            .and_then(|allow| Ok((allow, self.deciding_rules(index, allow)?)));
        match decided {
            Ok((allow, rules)) => Answer {
                allow,
                errors: Vec::new(),
                rules: Some(rules),
            },
            Err(error) => Answer {
                allow: false,
                errors: vec![error],
                rules: None,
            },
        }
    }

    fn load_times(&self) -> LoadTimes {
        self.times
    }
}
