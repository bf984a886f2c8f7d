//! Reading what `deploy/` holds: every YAML document, the Prometheus rules and their unit
//! tests, and the metric names a PromQL expression uses. Shared by `deploy_manifests.rs`
//! and `fleet_prometheus.rs`.

#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_norway::Value;

/// The `deploy/` folder of the repository.
pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// Every file under `dir` whose name ends with one of `extensions`, sorted.
pub fn files_under(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list `{}`: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if extensions
                .iter()
                .any(|ext| path.to_string_lossy().ends_with(ext))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Every YAML document of a file (`---`-separated), parsed; a syntax error fails the test
/// with the file's name.
pub fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read `{}`: {e}", path.display()));
    serde_norway::Deserializer::from_str(&text)
        .map(|document| {
            Value::deserialize(document)
                .unwrap_or_else(|e| panic!("`{}` is not valid YAML: {e}", path.display()))
        })
        .filter(|document| !document.is_null())
        .collect()
}

/// The one YAML document of a file.
pub fn yaml_file(path: &Path) -> Value {
    let mut documents = yaml_documents(path);
    assert_eq!(documents.len(), 1, "`{}`: one document", path.display());
    documents.remove(0)
}

pub fn rules_path() -> PathBuf {
    deploy_dir().join("prometheus/rampart.rules.yml")
}

pub fn rules_test_path() -> PathBuf {
    deploy_dir().join("prometheus/rampart.rules.test.yml")
}

/// One rule of `rampart.rules.yml`.
#[derive(Debug, Clone)]
pub struct Rule {
    pub group: String,
    /// The alert's or the recording rule's name.
    pub name: String,
    pub alert: bool,
    pub expr: String,
    pub labels: Value,
    pub annotations: Value,
}

/// The rules of `rampart.rules.yml`, in file order.
pub fn rules() -> Vec<Rule> {
    let file = yaml_file(&rules_path());
    let mut out = Vec::new();
    for group in file["groups"].as_sequence().expect("`groups`") {
        let group_name = group["name"].as_str().expect("a group name");
        for rule in group["rules"].as_sequence().expect("`rules`") {
            let (name, alert) = match (rule["alert"].as_str(), rule["record"].as_str()) {
                (Some(name), None) => (name, true),
                (None, Some(name)) => (name, false),
                _ => panic!("a rule is an alert or a record: {rule:?}"),
            };
            out.push(Rule {
                group: group_name.to_owned(),
                name: name.to_owned(),
                alert,
                expr: rule["expr"].as_str().expect("an expr").to_owned(),
                labels: rule["labels"].clone(),
                annotations: rule["annotations"].clone(),
            });
        }
    }
    out
}

/// The metric names an expression selects: identifiers outside quoted strings that start
/// with `rampart_` or are `up`, and the names of recording rules (`rampart:…`). Label
/// names, functions and keywords are other identifiers and never match those shapes.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut token = String::new();
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    let mut flush = |token: &mut String, next: char| {
        let selector_follows = !matches!(next, '=' | '!' | '~');
        if token.starts_with("rampart_")
            || token.starts_with("rampart:")
            || (token == "up" && selector_follows)
        {
            names.insert(std::mem::take(token));
        }
        token.clear();
    };
    for c in expr.chars() {
        if let Some(q) = quote {
            if c == q && previous != '\\' {
                quote = None;
            }
        } else if c == '"' || c == '\'' || c == '`' {
            flush(&mut token, c);
            quote = Some(c);
        } else if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            token.push(c);
        } else if !c.is_whitespace() || !token.is_empty() {
            flush(&mut token, c);
        }
        previous = c;
    }
    flush(&mut token, ' ');
    names
}

/// The metric names the rules' unit tests feed (`input_series`), and the recording rules'
/// names: every metric the rules test knows.
pub fn metrics_known_to_rules_test() -> BTreeSet<String> {
    let tests = yaml_file(&rules_test_path());
    let mut known = BTreeSet::new();
    for test in tests["tests"].as_sequence().expect("`tests`") {
        for series in test["input_series"].as_sequence().expect("`input_series`") {
            let selector = series["series"].as_str().expect("a series");
            let name = selector.split('{').next().unwrap_or_default().trim();
            known.insert(name.to_owned());
        }
    }
    for rule in rules().iter().filter(|r| !r.alert) {
        known.insert(rule.name.clone());
    }
    known
}

/// GitHub's anchor for a Markdown heading: lower-cased, punctuation other than `-` and `_`
/// removed, spaces turned into `-`.
pub fn github_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of every heading of a Markdown file.
pub fn markdown_anchors(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read `{}`: {e}", path.display()));
    let mut in_code = false;
    let mut anchors = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            anchors.insert(github_anchor(line.trim_start_matches('#')));
        }
    }
    anchors
}
