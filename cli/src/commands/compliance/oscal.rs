//! `--format oscal`: the report as an OSCAL 1.1.2 component definition, for GRC tools.
//!
//! One component (`Rampart policy set <dir>`, type `software`) with one
//! control implementation per framework that has a covered control; an implemented
//! requirement per enforced, partial or not-applicable control, naming its rules in
//! `rule-id` props and its state in a `coverage-state` prop (namespace [`NS`]).
//!
//! The output is reproducible: every UUID is derived from the content (SHA-256, formatted
//! as a version-5-style UUID), the version is the policy revision, and `last-modified` is
//! `SOURCE_DATE_EPOCH` when set, else the newest modification time of the policy files.

use std::time::{SystemTime, UNIX_EPOCH};

use rampart_engine::Bundle;
use rampart_lang::compliance::{ControlReport, FrameworkReport, Report, State};
use rampart_lang::PolicySet;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The namespace of Rampart's OSCAL props.
pub const NS: &str = "https://rampart.dev/ns/oscal";

/// The OSCAL version the document follows.
pub const OSCAL_VERSION: &str = "1.1.2";

/// What the component definition describes.
pub struct Subject {
    /// The policy folder's name.
    pub name: String,
    /// The bundle revision (content hash of the sources).
    pub revision: String,
    /// RFC 3339, UTC.
    pub last_modified: String,
}

impl Subject {
    /// The subject of a compiled policy folder.
    pub fn of(set: &PolicySet, bundle: &Bundle) -> Subject {
        let seconds = source_date_epoch().unwrap_or_else(|| newest_mtime(set));
        Subject {
            name: super::dir_name(&set.root),
            revision: bundle.revision.clone(),
            last_modified: rfc3339(seconds),
        }
    }
}

fn source_date_epoch() -> Option<u64> {
    std::env::var("SOURCE_DATE_EPOCH").ok()?.trim().parse().ok()
}

/// The newest modification time of the policy files and `rampart.toml`, in seconds.
fn newest_mtime(set: &PolicySet) -> u64 {
    let project = set.project.as_ref().map(|p| p.source.path());
    set.files
        .iter()
        .map(|f| f.path())
        .chain(project)
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .filter_map(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .max()
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        })
}

/// `YYYY-MM-DDTHH:MM:SSZ` of seconds since the Unix epoch.
pub fn rfc3339(seconds: u64) -> String {
    let days = i64::try_from(seconds / 86_400).unwrap_or(0);
    let rest = seconds % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// A UUID derived from `parts`: the first 16 bytes of their SHA-256, with the version
/// nibble 5 and the RFC 4122 variant bits.
pub fn content_uuid(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"rampart-oscal");
    for p in parts {
        hasher.update([0u8]);
        hasher.update(p.as_bytes());
    }
    let digest = hasher.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The component definition of the report.
pub fn component_definition(report: &Report, subject: &Subject) -> Value {
    let component_uuid = content_uuid(&["component", &subject.name, &subject.revision]);
    let implementations: Vec<Value> = report
        .frameworks
        .iter()
        .filter_map(|f| control_implementation(f, &component_uuid))
        .collect();
    let mut component = json!({
        "uuid": component_uuid,
        "type": "software",
        "title": format!("Rampart policy set {}", subject.name),
        "description": format!(
            "The request-time rules of the Rampart policy set `{}` (stdlib packs it imports \
             included) and the controls they implement.",
            subject.name
        ),
        "props": [prop("policy-revision", &subject.revision)],
    });
    if !implementations.is_empty() {
        component["control-implementations"] = Value::Array(implementations);
    }
    let slugs: Vec<&str> = report
        .frameworks
        .iter()
        .map(|f| f.framework.as_str())
        .collect();
    let mut doc_parts = vec!["component-definition", &subject.name, &subject.revision];
    doc_parts.extend(slugs);
    json!({
        "component-definition": {
            "uuid": content_uuid(&doc_parts),
            "metadata": {
                "title": format!("Rampart policy set {}: control implementations", subject.name),
                "last-modified": subject.last_modified,
                "version": subject.revision,
                "oscal-version": OSCAL_VERSION,
            },
            "components": [component],
        }
    })
}

fn prop(name: &str, value: &str) -> Value {
    json!({ "name": name, "ns": NS, "value": value })
}

/// `None` when no control of the framework is covered (OSCAL asks for at least one
/// implemented requirement).
fn control_implementation(f: &FrameworkReport, component_uuid: &str) -> Option<Value> {
    let uuid = content_uuid(&["control-implementation", component_uuid, &f.framework]);
    let requirements: Vec<Value> = f
        .controls
        .iter()
        .filter(|c| {
            matches!(
                c.state,
                State::Enforced | State::Partial | State::NotApplicable
            )
        })
        .map(|c| implemented_requirement(c, &uuid))
        .collect();
    if requirements.is_empty() {
        return None;
    }
    Some(json!({
        "uuid": uuid,
        "source": f.source,
        "description": format!(
            "{} (version {}): the controls the policy set enforces, partly enforces or \
             marks not applicable; coverage {:.1}%.",
            f.title, f.version, f.coverage
        ),
        "implemented-requirements": requirements,
    }))
}

fn implemented_requirement(c: &ControlReport, parent: &str) -> Value {
    let rules: Vec<String> = c
        .rules
        .iter()
        .map(|r| format!("`{}` ({}:{})", r.id, r.file, r.line))
        .collect();
    let description = match (c.state, &c.waiver_reason) {
        (State::NotApplicable, reason) => format!(
            "Not applicable: {}",
            reason.as_deref().unwrap_or("waived in rampart.toml")
        ),
        (State::Enforced, _) => format!("Enforced at request time by {}.", rules.join(", ")),
        _ => format!(
            "Partly enforced at request time by {}; the rest of the control is process.",
            rules.join(", ")
        ),
    };
    let mut props: Vec<Value> = c.rules.iter().map(|r| prop("rule-id", &r.id)).collect();
    props.push(prop("coverage-state", c.state.as_str()));
    let mut parts = vec![parent, c.id.as_str(), c.state.as_str()];
    parts.extend(c.rules.iter().map(|r| r.id.as_str()));
    parts.push(c.waiver_reason.as_deref().unwrap_or(""));
    json!({
        "uuid": content_uuid(&parts),
        "control-id": c.id,
        "description": description,
        "props": props,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn uuids_are_stable_version_5_style() {
        let a = content_uuid(&["x", "y"]);
        assert_eq!(a, content_uuid(&["x", "y"]));
        assert_ne!(a, content_uuid(&["xy"]));
        let bytes = a.as_bytes();
        assert_eq!(a.len(), 36);
        assert_eq!(bytes[14], b'5');
        assert!(matches!(bytes[19], b'8' | b'9' | b'a' | b'b'));
    }
}
