//! `rampart check --format sarif`: diagnostics as a SARIF 2.1.0 log, the format GitHub code
//! scanning (`github/codeql-action/upload-sarif`) and other static-analysis viewers read.
//!
//! One run whose driver lists a rule for every code that can appear (every `E0xx` of the
//! compiler's documentation and every lint), with the text `rampart explain` prints. Each
//! result points at its file relative to the working directory (`%SRCROOT%`, forward
//! slashes) with a 1-based region whose columns count characters (`columnKind`
//! `unicodeCodePoints`; the end column is the one after the last character, as SARIF
//! defines it), and carries a fingerprint of its code, file and message so a viewer keeps
//! recognising a finding while the lines around it move.

use std::path::{Component, Path};

use rampart_lang::check::docs::ERROR_DOCS;
use rampart_lang::diagnostics::DOCS_URL;
use rampart_lang::lints::{code_docs, LINTS};
use rampart_lang::{Diagnostic, Severity};
use serde_json::{json, Value};

/// The schema URL a SARIF 2.1.0 log names.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The key of [`fingerprint`] in `partialFingerprints`.
const FINGERPRINT_KEY: &str = "rampartFindingHash/v1";

/// One reporting rule of the driver.
struct Rule {
    code: String,
    name: String,
    title: String,
    description: String,
    level: &'static str,
    lint: bool,
}

/// The SARIF log of `diags`.
pub fn report(diags: &[Diagnostic]) -> Value {
    let mut rules = known_rules();
    let cwd = std::env::current_dir().ok();
    let mut results = Vec::with_capacity(diags.len());
    for diag in diags {
        let index = match rules.iter().position(|r| r.code == diag.code()) {
            Some(i) => i,
            None => {
                rules.push(undocumented_rule(diag));
                rules.len() - 1
            }
        };
        results.push(result(diag, index, cwd.as_deref()));
    }
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "rampart",
                    "informationUri": "https://rampart.dev",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": rules.iter().map(rule_json).collect::<Vec<_>>(),
                }
            },
            "invocations": [{ "executionSuccessful": true }],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

/// A rule for every documented error code and every lint, errors first, in code order.
fn known_rules() -> Vec<Rule> {
    let errors = ERROR_DOCS.iter().map(|(code, text)| {
        let (title, rest) = text.split_once("\n\n").unwrap_or((text, ""));
        Rule {
            code: (*code).to_owned(),
            name: kebab(title),
            title: capitalise(title),
            description: rest.trim().to_owned(),
            level: "error",
            lint: false,
        }
    });
    let lints = LINTS.iter().map(|lint| {
        let meta = lint.meta();
        Rule {
            code: meta.code.to_owned(),
            name: meta.name.to_owned(),
            title: capitalise(meta.summary),
            description: first_paragraph(meta.docs),
            level: level(meta.severity),
            lint: true,
        }
    });
    errors.chain(lints).collect()
}

/// A rule for a code the documentation does not list (a newer code): its id and level.
fn undocumented_rule(diag: &Diagnostic) -> Rule {
    Rule {
        code: diag.code().to_owned(),
        name: diag.code().to_ascii_lowercase(),
        title: diag.code().to_owned(),
        description: String::new(),
        level: level(diag.severity()),
        lint: diag.code().starts_with('L'),
    }
}

fn rule_json(rule: &Rule) -> Value {
    let help = code_docs(&rule.code).unwrap_or_else(|| rule.title.clone());
    let full = if rule.description.is_empty() {
        rule.title.clone()
    } else {
        rule.description.clone()
    };
    let severity = security_severity(&rule.code);
    let tags: &[&str] = match (rule.lint, severity) {
        (true, Some(_)) => &["security", "lint"],
        (true, None) => &["maintainability", "lint"],
        (false, _) => &["correctness"],
    };
    let mut properties = json!({ "tags": tags });
    if let Some(severity) = severity {
        properties["security-severity"] = json!(severity);
    }
    json!({
        "id": rule.code,
        "name": rule.name,
        "shortDescription": { "text": rule.title },
        "fullDescription": { "text": full },
        "help": { "text": help },
        "helpUri": format!("{DOCS_URL}/{}", rule.code),
        "defaultConfiguration": { "level": rule.level },
        "properties": properties,
    })
}

/// The CVSS-like score (0.0–10.0) GitHub code scanning turns into an alert's security
/// severity (9.0+ critical, 7.0+ high, 4.0+ medium, else low), for the lints about security;
/// `None` for lints about dead or unmapped policy text.
fn security_severity(code: &str) -> Option<&'static str> {
    Some(match code {
        "L001" => "8.0",          // anyone who reaches the API is let in
        "L003" => "7.5",          // a credential in policy text, bundles and logs
        "L007" => "7.0",          // classified data over plaintext or old TLS
        "L002" | "L005" => "6.0", // least privilege broken by wildcards
        "L008" => "5.0",          // leaked tokens keep working
        _ => return None,
    })
}

fn result(diag: &Diagnostic, rule_index: usize, cwd: Option<&Path>) -> Value {
    let mut text = diag.message().to_owned();
    if let Some(help) = diag.help_text() {
        text.push_str("\nhelp: ");
        text.push_str(help);
    }
    let uri = artifact_uri(diag, cwd);
    let mut result = json!({
        "ruleId": diag.code(),
        "ruleIndex": rule_index,
        "level": level(diag.severity()),
        "message": { "text": text },
        "partialFingerprints": {
            FINGERPRINT_KEY: fingerprint(diag.code(), uri.as_deref().unwrap_or(""), diag.message()),
        },
    });
    if let Some(location) = location(diag, uri) {
        result["locations"] = json!([location]);
    }
    result
}

/// The physical location of the diagnostic's primary label, when it points into a file
/// on disk (not into a stdlib package).
fn location(diag: &Diagnostic, uri: Option<String>) -> Option<Value> {
    let uri = uri?;
    let mut physical = json!({
        "artifactLocation": { "uri": uri, "uriBaseId": "%SRCROOT%" },
    });
    if let (Some(file), Some(span)) = (diag.file(), diag.primary_span()) {
        let (start_line, start_column) = file.line_col(span.start);
        let (end_line, end_column) = file.line_col(span.end.max(span.start));
        physical["region"] = json!({
            "startLine": start_line,
            "startColumn": start_column,
            "endLine": end_line,
            "endColumn": end_column,
        });
    }
    Some(json!({ "physicalLocation": physical }))
}

/// The file's path relative to `cwd` with forward slashes, or `None` for files that are
/// not on disk (stdlib packages).
fn artifact_uri(diag: &Diagnostic, cwd: Option<&Path>) -> Option<String> {
    let file = diag.file()?;
    if file.name().starts_with("<stdlib>") {
        return None;
    }
    let path = file.path();
    let relative = match cwd {
        Some(cwd) if path.is_absolute() => path.strip_prefix(cwd).unwrap_or(path),
        _ => path,
    };
    let parts: Vec<String> = relative
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(uri_escape(&part.to_string_lossy())),
            Component::ParentDir => Some("..".to_owned()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
        })
        .collect();
    let joined = parts.join("/");
    Some(if relative.is_absolute() {
        format!("file:///{joined}")
    } else {
        joined
    })
}

/// Percent-encodes what a URI path segment cannot hold as is.
fn uri_escape(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                out.push(char::from(byte));
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A stable hash of a finding (FNV-1a, 64 bits, hex): the same code, file and message give
/// the same value on every machine and release.
fn fingerprint(code: &str, file: &str, message: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [code, file, message] {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// `unknown attribute` → `unknown-attribute`.
fn kebab(title: &str) -> String {
    let words: Vec<String> = title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    words.join("-")
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The first paragraph of a lint's doc comment after its `What it does` heading.
fn first_paragraph(docs: &str) -> String {
    let lines: Vec<&str> = docs
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .skip_while(|l| l.starts_with('#') || l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    lines.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_and_distinguish_findings() {
        assert_eq!(
            fingerprint("L001", "a.rampart", "m"),
            fingerprint("L001", "a.rampart", "m")
        );
        assert_ne!(
            fingerprint("L001", "a.rampart", "m"),
            fingerprint("L001", "b.rampart", "m")
        );
        assert_ne!(
            fingerprint("L001", "ab", "c"),
            fingerprint("L001", "a", "bc")
        );
        assert_eq!(fingerprint("", "", "").len(), 16);
    }

    #[test]
    fn rules_cover_every_error_and_lint_code_once() {
        let rules = known_rules();
        for (code, _) in ERROR_DOCS {
            assert_eq!(
                rules.iter().filter(|r| r.code == *code).count(),
                1,
                "{code}"
            );
        }
        for lint in LINTS {
            let rule = rules.iter().find(|r| r.code == lint.meta().code);
            assert!(rule.is_some_and(|r| r.level == "warning" && !r.description.is_empty()));
        }
        assert_eq!(
            kebab("duplicate or invalid rule id"),
            "duplicate-or-invalid-rule-id"
        );
        assert_eq!(uri_escape("my policies"), "my%20policies");
    }
}
