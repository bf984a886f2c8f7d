//! The regorus adapter: `add_policy` the module, `add_data` the entities, then per
//! decision `set_input` + `eval_rule("data.bench.allow")`, the documented way to ask
//! regorus for one rule's value. End to end, the input's JSON text ([`request_text`]) is
//! handed to `set_input_json` before the same `eval_rule`.

use std::time::Instant;

use regorus::{Engine, Value};

use super::{wrap, Answer, Decider, EngineKind, LoadTimes};
use crate::error::BenchError;
use crate::gen::rego::{input_json, ALLOW_RULE};
use crate::gen::{RequestSpec, Workload};

/// A request as the JSON text of Rego's `input`.
pub fn request_text(spec: &RequestSpec) -> String {
    input_json(spec).to_string()
}

/// regorus with a workload loaded.
pub struct RegorusDecider {
    engine: Engine,
    inputs: Vec<Value>,
    /// The inputs as JSON text, for the end-to-end mode.
    texts: Vec<String>,
    times: LoadTimes,
}

impl RegorusDecider {
    /// Adds the policy (timed as compile) and the data (timed as load), and converts the
    /// requests to input values.
    pub fn load(workload: &Workload) -> Result<Self, BenchError> {
        let mut engine = Engine::new();
        let started = Instant::now();
        for (name, text) in &workload.rego_modules {
            engine
                .add_policy(name.clone(), text.clone())
                .map_err(|e| BenchError::new(format!("regorus: cannot add `{name}`: {e}")))?;
        }
        let compiled = started.elapsed();
        let loading = Instant::now();
        let data = Value::from_json_str(&workload.rego_data_json)
            .map_err(|e| BenchError::new(format!("regorus: cannot read the data: {e}")))?;
        engine
            .add_data(data)
            .map_err(|e| BenchError::new(format!("regorus: cannot add the data: {e}")))?;
        let times = LoadTimes {
            compile: compiled,
            load: loading.elapsed(),
        };
        let texts: Vec<String> = workload.requests.iter().map(request_text).collect();
        let inputs = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                Value::from_json_str(text)
                    .map_err(|e| BenchError::new(format!("regorus: cannot read request {i}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RegorusDecider {
            engine,
            inputs,
            texts,
            times,
        })
    }

    /// Evaluates `allow` for prepared input `index` (modulo the stream length).
    pub fn eval(&mut self, index: usize) -> Result<bool, String> {
        let input = self
            .inputs
            .get(wrap(index, self.inputs.len()))
            .ok_or("no such request")?;
        self.engine.set_input(input.clone());
        eval_allow(&mut self.engine)
    }

    /// Evaluates `allow` for the input text `index`: `set_input_json` + `eval_rule`.
    pub fn eval_text(&mut self, index: usize) -> Result<bool, String> {
        let text = self
            .texts
            .get(wrap(index, self.texts.len()))
            .ok_or("no such request")?;
        self.engine
            .set_input_json(text)
            .map_err(|e| e.to_string())?;
        eval_allow(&mut self.engine)
    }
}

/// `eval_rule` of the allow rule, on the input already set.
fn eval_allow(engine: &mut Engine) -> Result<bool, String> {
    match engine.eval_rule(ALLOW_RULE.to_string()) {
        Ok(Value::Bool(allow)) => Ok(allow),
        Ok(other) => Err(format!("`allow` is not a boolean: {other}")),
        Err(e) => Err(e.to_string()),
    }
}

impl Decider for RegorusDecider {
    fn kind(&self) -> EngineKind {
        EngineKind::Regorus
    }

    fn len(&self) -> usize {
        self.inputs.len()
    }

    fn decide(&mut self, index: usize) -> bool {
        self.eval(index).unwrap_or(false)
    }

    fn decide_e2e(&mut self, index: usize) -> bool {
        self.eval_text(index).unwrap_or(false)
    }

    fn answer(&mut self, index: usize) -> Answer {
        match self.eval(index) {
            Ok(allow) => Answer {
                allow,
                errors: Vec::new(),
                rules: None,
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
