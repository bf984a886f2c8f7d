//! The `rampart` Python module: the engine in-process, for services written in Python.
//!
//! **Key design decision:** requests cross the boundary as Python objects converted straight
//! into the engine's JSON value (no `json.dumps` and re-parse), are read by the same
//! `Engine::request_from_value` every door uses, and are decided with the GIL released, so
//! threads of one process decide in parallel. Every failure is a typed exception
//! (`rampart.PolicyError`, `RequestError`, `EntityError`, `PlanError`, all subclasses of
//! `rampart.RampartError`); nothing here panics on Python input.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use rampart_engine::plan::{PlanError as EnginePlanError, PlanOutcome};
use rampart_engine::{Decision as EngineDecision, Engine, EntityStore};
use serde_json::{Map, Value as Json};

create_exception!(
    rampart,
    RampartError,
    PyException,
    "Every error of the rampart module."
);
create_exception!(rampart, PolicyError, RampartError, "Policies that do not compile, or a bundle that does not load; `.diagnostics` lists what the compiler found.");
create_exception!(
    rampart,
    RequestError,
    RampartError,
    "A request that cannot be read against the policy's schema."
);
create_exception!(
    rampart,
    EntityError,
    RampartError,
    "Entity data that cannot be read against the policy's schema."
);
create_exception!(
    rampart,
    PlanError,
    RampartError,
    "A plan that cannot be made: a rule reads the resource in a way no plan can express."
);

/// How deep Python data may nest (the engine's own data limit is lower; this bounds the
/// conversion itself).
const MAX_DEPTH: usize = 128;

/// Python data read as JSON, within a size budget counted as the JSON text would be (string
/// and key bytes plus punctuation, scalars as a few bytes): a request passed as a `dict` is
/// held to the same 1 MiB as one passed as text, before the engine sees it.
struct Reader {
    budget: usize,
    limit: usize,
    what: &'static str,
}

impl Reader {
    fn new(what: &'static str, limit: usize) -> Self {
        Reader {
            budget: limit,
            limit,
            what,
        }
    }

    fn spend(&mut self, bytes: usize) -> PyResult<()> {
        match self.budget.checked_sub(bytes) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => Err(RequestError::new_err(format!(
                "{} is too large: more than {} bytes of data",
                self.what, self.limit
            ))),
        }
    }

    /// A Python value as JSON: `dict` (string keys), `list`/`tuple`, `str`, `int` (64-bit),
    /// `float` (finite), `bool`, `None`.
    fn read(&mut self, value: &Bound<'_, PyAny>, depth: usize) -> PyResult<Json> {
        if depth > MAX_DEPTH {
            return Err(RequestError::new_err(format!(
                "data nested deeper than {MAX_DEPTH} levels"
            )));
        }
        if value.is_none() {
            self.spend(4)?;
            return Ok(Json::Null);
        }
        if value.is_instance_of::<PyBool>() {
            self.spend(4)?;
            return Ok(Json::Bool(value.extract::<bool>()?));
        }
        if value.is_instance_of::<PyInt>() {
            self.spend(4)?;
            return value
                .extract::<i64>()
                .map(Json::from)
                .map_err(|_| RequestError::new_err("an integer out of the 64-bit range"));
        }
        if value.is_instance_of::<PyFloat>() {
            self.spend(4)?;
            let f = value.extract::<f64>()?;
            return serde_json::Number::from_f64(f)
                .map(Json::Number)
                .ok_or_else(|| RequestError::new_err("a number that is NaN or infinite"));
        }
        if let Ok(text) = value.cast::<PyString>() {
            let text = text.to_cow()?;
            self.spend(text.len() + 2)?;
            return Ok(Json::String(text.into_owned()));
        }
        if let Ok(dict) = value.cast::<PyDict>() {
            self.spend(2)?;
            let mut map = Map::new();
            for (key, item) in dict.iter() {
                let Ok(key) = key.cast::<PyString>() else {
                    return Err(RequestError::new_err(format!(
                        "object keys must be strings, found {}",
                        key.get_type().name()?
                    )));
                };
                let key = key.to_cow()?;
                self.spend(key.len() + 4)?;
                let item = self.read(&item, depth + 1)?;
                map.insert(key.into_owned(), item);
            }
            return Ok(Json::Object(map));
        }
        let items = if let Ok(list) = value.cast::<PyList>() {
            list.iter().collect::<Vec<_>>()
        } else if let Ok(tuple) = value.cast::<PyTuple>() {
            tuple.iter().collect::<Vec<_>>()
        } else {
            return Err(RequestError::new_err(format!(
                "cannot read a {} as JSON data",
                value.get_type().name()?
            )));
        };
        self.spend(2)?;
        let mut array = Vec::new();
        for item in &items {
            self.spend(1)?;
            array.push(self.read(item, depth + 1)?);
        }
        Ok(Json::Array(array))
    }
}

/// JSON as Python objects.
fn to_py(py: Python<'_>, value: &Json) -> PyResult<Py<PyAny>> {
    Ok(match value {
        Json::Null => py.None(),
        Json::Bool(b) => b.into_py_any(py)?,
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_py_any(py)?,
            (None, Some(u)) => u.into_py_any(py)?,
            _ => n.as_f64().unwrap_or(f64::NAN).into_py_any(py)?,
        },
        Json::String(s) => s.into_py_any(py)?,
        Json::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_py_any(py)?
        }
        Json::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, to_py(py, item)?)?;
            }
            dict.into_py_any(py)?
        }
    })
}

/// Text (`str`/`bytes`) or data (`dict`/`list`) as JSON, at most `limit` bytes of it;
/// text is parsed strictly (a repeated key is an error), as every door does.
fn input_json(value: &Bound<'_, PyAny>, what: &'static str, limit: usize) -> PyResult<Json> {
    let text = if let Ok(text) = value.cast::<PyString>() {
        text.to_cow()?
    } else if let Ok(bytes) = value.cast::<PyBytes>() {
        let text = std::str::from_utf8(bytes.as_bytes())
            .map_err(|_| RequestError::new_err(format!("{what}: not UTF-8")))?;
        std::borrow::Cow::Borrowed(text)
    } else {
        return Reader::new(what, limit).read(value, 0);
    };
    if text.len() > limit {
        return Err(RequestError::new_err(format!(
            "{what} is too large: {} bytes, the limit is {limit} bytes",
            text.len()
        )));
    }
    rampart_engine::strict_json::from_str(&text)
        .map_err(|e| RequestError::new_err(format!("{what}: invalid JSON: {e}")))
}

/// Requests are read up to 1 MiB, as at every other door.
fn request_json(value: &Bound<'_, PyAny>) -> PyResult<Json> {
    input_json(value, "request", rampart_engine::MAX_REQUEST_BYTES)
}

/// Entity data is the application's own: bounded only by what the conversion can count.
fn entities_json(value: &Bound<'_, PyAny>) -> PyResult<Json> {
    let py = value.py();
    input_json(value, "entities", usize::MAX)
        .map_err(|e| EntityError::new_err(e.value(py).to_string()))
}

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// One problem the compiler found in policy text.
#[pyclass(frozen, get_all, module = "rampart")]
#[derive(Clone)]
struct Diagnostic {
    /// `E005`, `L001`, …
    code: String,
    /// `error` or `warning`.
    severity: String,
    message: String,
    /// The file, when the problem is in one.
    file: Option<String>,
    /// 1-based line and column of the primary label, when there is one.
    line: Option<u32>,
    column: Option<u32>,
    /// The diagnostic as `rampart check` prints it, without colour.
    rendered: String,
}

#[pymethods]
impl Diagnostic {
    fn __repr__(&self) -> String {
        let place = match (&self.file, self.line, self.column) {
            (Some(f), Some(l), Some(c)) => format!(" at {f}:{l}:{c}"),
            (Some(f), _, _) => format!(" in {f}"),
            _ => String::new(),
        };
        format!(
            "<Diagnostic {} {}{place}: {}>",
            self.code, self.severity, self.message
        )
    }
}

fn diagnostic(d: &rampart_lang::Diagnostic) -> Diagnostic {
    let file = d.file();
    let primary = d
        .labels()
        .iter()
        .find(|l| l.primary)
        .or_else(|| d.labels().first());
    let (line, column) = match (file, primary) {
        (Some(file), Some(label)) => {
            let (line, column) = file.line_col(label.span.start);
            (Some(line), Some(column))
        }
        _ => (None, None),
    };
    Diagnostic {
        code: d.code().to_owned(),
        severity: d.severity().as_str().to_owned(),
        message: d.message().to_owned(),
        file: file.map(|f| f.path().display().to_string()),
        line,
        column,
        rendered: d.render_plain(),
    }
}

/// Compiles a policy folder: the engine, or the `PolicyError` carrying the diagnostics.
fn compile_dir(dir: &std::path::Path) -> PyResult<(Engine, Vec<Diagnostic>)> {
    let set = rampart_lang::PolicySet::load(dir)
        .map_err(|e| PolicyError::new_err(format!("cannot read `{}`: {e}", dir.display())))?;
    let mut compiled = rampart_lang::compile(&set);
    let diagnostics: Vec<Diagnostic> = set
        .diagnostics
        .iter()
        .chain(&compiled.diagnostics)
        .map(diagnostic)
        .collect();
    let Some(bundle) = compiled.bundle.take() else {
        let errors = diagnostics.iter().filter(|d| d.severity == "error").count();
        let first = diagnostics
            .iter()
            .find(|d| d.severity == "error")
            .map(|d| format!(": {} {}", d.code, d.message))
            .unwrap_or_default();
        return Err(Python::attach(|py| {
            let error = PolicyError::new_err(format!(
                "`{}` does not compile ({errors} error{}){first}",
                dir.display(),
                if errors == 1 { "" } else { "s" }
            ));
            // The diagnostics ride on the exception; failing to attach them still raises.
            let _ = error.value(py).setattr("diagnostics", diagnostics);
            error
        }));
    };
    let engine = Engine::new(bundle).map_err(|e| PolicyError::new_err(e.to_string()))?;
    Ok((engine, diagnostics))
}

/// Parses and checks a policy folder: every diagnostic, errors and warnings, in order.
#[pyfunction]
fn check(dir: PathBuf) -> PyResult<Vec<Diagnostic>> {
    let set = rampart_lang::PolicySet::load(&dir)
        .map_err(|e| PolicyError::new_err(format!("cannot read `{}`: {e}", dir.display())))?;
    let compiled = rampart_lang::compile(&set);
    Ok(set
        .diagnostics
        .iter()
        .chain(&compiled.diagnostics)
        .map(diagnostic)
        .collect())
}

struct Loaded {
    engine: Engine,
    entities: EntityStore,
}

/// A compiled policy set and the entity data it decides against by default.
#[pyclass(frozen, module = "rampart")]
struct Policy {
    /// `None` once closed.
    inner: RwLock<Option<Arc<Loaded>>>,
    warnings: Vec<Diagnostic>,
}

/// Entity data read against one policy's schema.
#[pyclass(frozen, module = "rampart")]
struct Entities {
    /// The policy the data was read for (its schema's type and attribute numbers).
    owner: Arc<Loaded>,
    store: EntityStore,
}

#[pymethods]
impl Entities {
    /// Reads entity data (a JSON text, or a list of entity dicts) for `policy`.
    #[staticmethod]
    fn from_json(policy: &Policy, data: &Bound<'_, PyAny>) -> PyResult<Entities> {
        policy.entities(data)
    }

    fn __len__(&self) -> usize {
        self.store.len()
    }
}

/// The answer to one request.
#[pyclass(frozen, get_all, module = "rampart")]
struct Decision {
    /// Whether the request is allowed: the only field an enforcer needs.
    allowed: bool,
    /// `"allow"` or `"deny"`.
    decision: String,
    /// The rules that decided.
    rules: Vec<String>,
    reasons: Vec<String>,
    /// Obligations of an allow, as dicts (`{"kind": "mask", "fields": [...], "rule": ...}`).
    obligations: Py<PyAny>,
    controls: Vec<String>,
    /// Every error met while deciding, as dicts (`{"rule": ..., "message": ...}`).
    errors: Py<PyAny>,
}

#[pymethods]
impl Decision {
    fn __bool__(&self) -> bool {
        self.allowed
    }

    fn __repr__(&self) -> String {
        format!("<Decision {} rules={:?}>", self.decision, self.rules)
    }

    /// The decision JSON of every door, as a dict.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let dict = PyDict::new(py);
        dict.set_item("decision", &self.decision)?;
        dict.set_item("rules", &self.rules)?;
        dict.set_item("reasons", &self.reasons)?;
        dict.set_item("errors", self.errors.clone_ref(py))?;
        dict.set_item("obligations", self.obligations.clone_ref(py))?;
        dict.set_item("controls", &self.controls)?;
        dict.into_py_any(py)
    }
}

fn decision(py: Python<'_>, d: EngineDecision) -> PyResult<Decision> {
    // These types always serialise; a failure would read as empty lists.
    let obligations = to_py(
        py,
        &serde_json::to_value(&d.obligations).unwrap_or_default(),
    )?;
    let errors = to_py(py, &serde_json::to_value(&d.errors).unwrap_or_default())?;
    Ok(Decision {
        allowed: d.is_allow(),
        decision: if d.is_allow() { "allow" } else { "deny" }.to_owned(),
        rules: d.rules,
        reasons: d.reasons,
        obligations,
        controls: d.controls,
        errors,
    })
}

/// A query plan: which resources of a type the request may act on.
#[pyclass(frozen, get_all, module = "rampart")]
struct Plan {
    /// `"always"`, `"never"` or `"conditional"`.
    decision: String,
    resource_type: String,
    /// The residual condition in its JSON form (docs/plan.md), as dicts; `None` unless
    /// conditional.
    condition: Py<PyAny>,
    /// The condition in the policy language's syntax; `None` unless conditional.
    text: Option<String>,
    rules: Vec<String>,
    obligations: Vec<String>,
    controls: Vec<String>,
    /// The whole plan JSON, as a dict.
    json: Py<PyAny>,
}

#[pymethods]
impl Plan {
    fn __repr__(&self) -> String {
        match &self.text {
            Some(text) => format!("<Plan conditional on {}: {text}>", self.resource_type),
            None => format!("<Plan {} on {}>", self.decision, self.resource_type),
        }
    }

    fn to_dict(&self, py: Python<'_>) -> Py<PyAny> {
        self.json.clone_ref(py)
    }
}

impl Policy {
    fn loaded(&self) -> PyResult<Arc<Loaded>> {
        let guard = self
            .inner
            .read()
            .map_err(|_| RampartError::new_err("the policy's lock is poisoned"))?;
        guard
            .as_ref()
            .cloned()
            .ok_or_else(|| RampartError::new_err("the policy is closed"))
    }

    fn entities(&self, data: &Bound<'_, PyAny>) -> PyResult<Entities> {
        let loaded = self.loaded()?;
        let json = entities_json(data)?;
        let items = match json {
            Json::Array(items) => items,
            _ => {
                return Err(EntityError::new_err(
                    "entity data must be a list of entities",
                ))
            }
        };
        let store = data
            .py()
            .detach(|| loaded.engine.entities_from_values(&items))
            .map_err(|e| EntityError::new_err(e.to_string()))?;
        Ok(Entities {
            owner: loaded,
            store,
        })
    }

    /// The entity store to decide against: the given one (read for this policy), or the
    /// policy's own.
    fn store<'a>(loaded: &'a Loaded, entities: Option<&'a Entities>) -> PyResult<&'a EntityStore> {
        match entities {
            None => Ok(&loaded.entities),
            Some(e) if std::ptr::eq(Arc::as_ptr(&e.owner), loaded) => Ok(&e.store),
            Some(_) => Err(EntityError::new_err(
                "these entities were read for another policy (its schema numbers types differently)",
            )),
        }
    }
}

#[pymethods]
impl Policy {
    /// Compiles a policy folder (and its `entities.json`, when there is one).
    #[staticmethod]
    #[pyo3(signature = (dir, entities = None))]
    fn load(py: Python<'_>, dir: PathBuf, entities: Option<&Bound<'_, PyAny>>) -> PyResult<Policy> {
        let (engine, diagnostics) = py.detach(|| compile_dir(&dir))?;
        let policy = Policy {
            inner: RwLock::new(Some(Arc::new(Loaded {
                engine,
                entities: EntityStore::default(),
            }))),
            warnings: diagnostics,
        };
        let data = match entities {
            Some(data) => Some(entities_json(data)?),
            None => match std::fs::read_to_string(dir.join("entities.json")) {
                Ok(text) => Some(
                    rampart_engine::strict_json::from_str(&text)
                        .map_err(|e| EntityError::new_err(format!("entities.json: {e}")))?,
                ),
                Err(_) => None,
            },
        };
        if let Some(data) = data {
            policy.replace_entities(py, data)?;
        }
        Ok(policy)
    }

    /// Loads a bundle written by `rampart build` (bytes or text), with optional entity data.
    #[staticmethod]
    #[pyo3(signature = (bundle, entities = None))]
    fn from_bundle(
        py: Python<'_>,
        bundle: &Bound<'_, PyAny>,
        entities: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Policy> {
        let text = if let Ok(bytes) = bundle.cast::<PyBytes>() {
            String::from_utf8(bytes.as_bytes().to_vec())
                .map_err(|_| PolicyError::new_err("the bundle is not UTF-8"))?
        } else {
            bundle
                .extract::<String>()
                .map_err(|_| PolicyError::new_err("a bundle is bytes or text"))?
        };
        let engine = py
            .detach(|| Engine::from_bundle_json(&text))
            .map_err(|e| PolicyError::new_err(e.to_string()))?;
        let policy = Policy {
            inner: RwLock::new(Some(Arc::new(Loaded {
                engine,
                entities: EntityStore::default(),
            }))),
            warnings: Vec::new(),
        };
        if let Some(data) = entities {
            policy.replace_entities(py, entities_json(data)?)?;
        }
        Ok(policy)
    }

    /// The compiler's warnings (lints) of a policy loaded from a folder.
    #[getter]
    fn warnings(&self) -> Vec<Diagnostic> {
        self.warnings.clone()
    }

    /// Reads entity data for this policy, to pass to `decide(..., entities=...)`.
    fn load_entities(&self, data: &Bound<'_, PyAny>) -> PyResult<Entities> {
        self.entities(data)
    }

    /// Decides one request (a dict or a JSON text). `context.time` is the current time when
    /// the request carries none, as at the sidecar (`fill_time=False`: `now` is then unknown,
    /// and a rule reading it fails closed). Raises `RequestError` for a request that cannot
    /// be read.
    #[pyo3(signature = (request, entities = None, *, fill_time = true))]
    fn decide(
        &self,
        py: Python<'_>,
        request: &Bound<'_, PyAny>,
        entities: Option<&Entities>,
        fill_time: bool,
    ) -> PyResult<Decision> {
        let loaded = self.loaded()?;
        let store = Self::store(&loaded, entities)?;
        let json = request_json(request)?;
        let engine = &loaded.engine;
        let decided = py.detach(|| {
            let mut request = engine.request_from_value(&json)?;
            if fill_time {
                engine.fill_time(&mut request, now_ms());
            }
            Ok::<_, rampart_engine::RequestError>(engine.decide(&request, store))
        });
        match decided {
            Ok(d) => decision(py, d),
            Err(e) => Err(RequestError::new_err(e.to_string())),
        }
    }

    /// Decides a request and says why: `(decision, explanation)`, the explanation a dict
    /// (every rule the index selected, whether it applied and which condition decided).
    #[pyo3(signature = (request, entities = None, *, fill_time = true))]
    fn explain(
        &self,
        py: Python<'_>,
        request: &Bound<'_, PyAny>,
        entities: Option<&Entities>,
        fill_time: bool,
    ) -> PyResult<(Decision, Py<PyAny>)> {
        let loaded = self.loaded()?;
        let store = Self::store(&loaded, entities)?;
        let json = request_json(request)?;
        let engine = &loaded.engine;
        let explained = py.detach(|| {
            let mut request = engine.request_from_value(&json)?;
            if fill_time {
                engine.fill_time(&mut request, now_ms());
            }
            let (d, e) = engine.explain(&request, store);
            Ok::<_, rampart_engine::RequestError>((d, serde_json::to_value(&e).unwrap_or_default()))
        });
        match explained {
            Ok((d, e)) => Ok((decision(py, d)?, to_py(py, &e)?)),
            Err(e) => Err(RequestError::new_err(e.to_string())),
        }
    }

    /// A query plan (docs/plan.md): `request["resource"]` names only a type.
    #[pyo3(signature = (request, entities = None, *, fill_time = true))]
    fn plan(
        &self,
        py: Python<'_>,
        request: &Bound<'_, PyAny>,
        entities: Option<&Entities>,
        fill_time: bool,
    ) -> PyResult<Plan> {
        let loaded = self.loaded()?;
        let store = Self::store(&loaded, entities)?;
        let json = request_json(request)?;
        let engine = &loaded.engine;
        let planned = py.detach(|| {
            let mut request = engine
                .plan_request_from_value(&json)
                .map_err(|e| RequestError::new_err(e.to_string()))?;
            if fill_time {
                engine.fill_plan_time(&mut request, now_ms());
            }
            let plan = engine.plan(&request, store).map_err(|e| match e {
                EnginePlanError::Request(e) => RequestError::new_err(e.to_string()),
                other => PlanError::new_err(other.to_string()),
            })?;
            Ok::<_, PyErr>((plan.to_json(engine), plan))
        })?;
        let (json, plan) = planned;
        let field = |name: &str| json.get(name).and_then(Json::as_str).map(str::to_owned);
        Ok(Plan {
            decision: field("decision").unwrap_or_default(),
            resource_type: field("resource_type").unwrap_or_default(),
            condition: match json.get("condition") {
                Some(c) => to_py(py, c)?,
                None => py.None(),
            },
            text: if matches!(plan.outcome, PlanOutcome::Conditional(_)) {
                field("text")
            } else {
                None
            },
            rules: plan.rules,
            obligations: plan.obligations,
            controls: plan.controls,
            json: to_py(py, &json)?,
        })
    }

    /// Releases the engine; later calls raise `RampartError`. Calls already running finish.
    fn close(&self) -> PyResult<()> {
        let mut guard = self
            .inner
            .write()
            .map_err(|_| RampartError::new_err("the policy's lock is poisoned"))?;
        *guard = None;
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        _kind: &Bound<'_, PyAny>,
        _value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        self.close()?;
        Ok(false)
    }
}

impl Policy {
    /// Replaces the policy's own entity data (while it is being built, before it is shared).
    fn replace_entities(&self, py: Python<'_>, data: Json) -> PyResult<()> {
        let Json::Array(items) = data else {
            return Err(EntityError::new_err(
                "entity data must be a list of entities",
            ));
        };
        let store = {
            let loaded = self.loaded()?;
            py.detach(|| loaded.engine.entities_from_values(&items))
                .map_err(|e| EntityError::new_err(e.to_string()))?
        };
        let mut guard = self
            .inner
            .write()
            .map_err(|_| RampartError::new_err("the policy's lock is poisoned"))?;
        let Some(current) = guard.take() else {
            return Err(RampartError::new_err("the policy is closed"));
        };
        match Arc::try_unwrap(current) {
            Ok(loaded) => {
                *guard = Some(Arc::new(Loaded {
                    engine: loaded.engine,
                    entities: store,
                }));
                Ok(())
            }
            Err(shared) => {
                *guard = Some(shared);
                Err(RampartError::new_err(
                    "entities can be set only while loading",
                ))
            }
        }
    }
}

#[pymodule]
fn _rampart(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Policy>()?;
    m.add_class::<Entities>()?;
    m.add_class::<Decision>()?;
    m.add_class::<Plan>()?;
    m.add_class::<Diagnostic>()?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add("RampartError", py.get_type::<RampartError>())?;
    m.add("PolicyError", py.get_type::<PolicyError>())?;
    m.add("RequestError", py.get_type::<RequestError>())?;
    m.add("EntityError", py.get_type::<EntityError>())?;
    m.add("PlanError", py.get_type::<PlanError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
