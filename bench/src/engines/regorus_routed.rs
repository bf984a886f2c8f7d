//! regorus with the routed Rego of [`crate::gen::rego_routed`]: a package per action, and
//! the host evaluating only the `allow` rule of the request's action.
//!
//! At load, the adapter lists the loaded packages (`Engine::get_packages`) and maps each
//! action package back to its action, so it routes on what it loaded, not on the
//! generator's model. Per decision (the timed path): `set_input`, read `input.action`,
//! look its rule path up in a hash map (the shared package's `allow` for an action no
//! package names), and `eval_rule` that path. regorus evaluates the rule lazily with the
//! rules it reads: the action's package and the shared one.

use std::collections::HashMap;
use std::time::Instant;

use regorus::{Engine, Value};

use super::{wrap, Answer, Decider, EngineKind, LoadTimes};
use crate::error::BenchError;
use crate::gen::rego::input_json;
use crate::gen::rego_routed::{action_of, ACTIONS_PREFIX, GLOBAL_ALLOW};
use crate::gen::Workload;

/// The routing table: each action's package path (`data.rampart.actions.<action>`).
struct Routes {
    packages: HashMap<String, String>,
}

impl Routes {
    fn new(engine: &Engine) -> Result<Routes, String> {
        let prefix = format!("data.{ACTIONS_PREFIX}");
        let mut packages = HashMap::new();
        for package in engine.get_packages().map_err(|e| e.to_string())? {
            let Some(name) = package.strip_prefix(&prefix) else {
                continue;
            };
            let action = action_of(name).ok_or_else(|| format!("`{package}` names no action"))?;
            packages.insert(action, package);
        }
        Ok(Routes { packages })
    }

    /// The package of `action`, `None` when no package names it.
    fn package(&self, action: &str) -> Option<&str> {
        self.packages.get(action).map(String::as_str)
    }

    /// The `allow` rule to evaluate for an input: inside the timed region.
    fn allow_rule(&self, input: &Value) -> String {
        let action = match &input["action"] {
            Value::String(action) => self.package(action),
            _ => None,
        };
        match action {
            Some(package) => format!("{package}.allow"),
            None => GLOBAL_ALLOW.to_string(),
        }
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
        let routes = Routes::new(&engine).map_err(fail)?;
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

    /// The number of action packages routed to.
    pub fn routes(&self) -> usize {
        self.routes.packages.len()
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

    /// End to end: reads request `index`'s JSON text as the input, routes and decides (a
    /// text that does not parse is denied).
    pub fn decide_e2e(&mut self, index: usize) -> bool {
        let Some(text) = self.texts.get(wrap(index, self.texts.len())) else {
            return false;
        };
        match Value::from_json_str(text) {
            Ok(input) => self.eval_input(input).unwrap_or(false),
            Err(_) => false,
        }
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
    /// package and the shared one for an allow, the forbids for a deny. Not timed.
    fn deciding_rules(&mut self, index: usize, allow: bool) -> Result<Vec<String>, String> {
        let input = self
            .inputs
            .get(wrap(index, self.inputs.len()))
            .ok_or("no such request")?;
        let set = if allow { "permit" } else { "forbid" };
        let mut packages = vec!["data.rampart.global".to_string()];
        if let Value::String(action) = &input["action"] {
            if let Some(package) = self.routes.package(action) {
                packages.push(package.to_string());
            }
        }
        let mut rules = Vec::new();
        for package in packages {
            let path = format!("{package}.{set}");
            // A package without rules of that kind has no such rule.
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
