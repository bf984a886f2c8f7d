//! Rule and obligation ids: `@id("…")`, else `{package}.{kind}-{8 hex of FNV-1a 64 of the
//! formatted item without annotations}` with `-2`, `-3`, … for repeats in a package; ids
//! are unique across the policy set (E009).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::obligations::ObligationItem;
use super::rules::RuleItem;
use super::session::Session;
use super::text;
use crate::ast::{self, Span};
use crate::check::{FileId, Loc};
use crate::controls::{self, Catalogs};
use crate::diagnostics::Diagnostic;

/// FNV-1a, 64 bits.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a64_extend(0xcbf2_9ce4_8422_2325, bytes)
}

/// FNV-1a over more bytes: `fnv1a64_extend(fnv1a64(a), b) == fnv1a64(a ++ b)`.
pub fn fnv1a64_extend(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// `{package}.{kind}-{first 8 hex digits of the hash of text}`.
pub fn generated_id(package: &str, kind: &str, text: &str) -> String {
    let hex = format!("{:016x}", fnv1a64(text.as_bytes()));
    format!("{package}.{kind}-{}", hex.get(..8).unwrap_or(&hex))
}

/// The annotations of a rule or obligation, sorted out.
#[derive(Debug, Default)]
pub(crate) struct Meta {
    /// `@id("x")` and the span of `"x"`.
    pub id: Option<(String, Span)>,
    /// `@control(...)` ids in order, deduplicated.
    pub controls: Vec<String>,
    /// Every other annotation.
    pub annotations: BTreeMap<String, Vec<String>>,
}

/// Sorts annotations into id, controls and the rest; E009 for a malformed `@id`, E022 for a
/// `@control` reference the builtin catalogs do not resolve (labelled on its string).
pub(crate) fn meta(
    session: &mut Session<'_>,
    file: FileId,
    annotations: &[ast::Annotation],
) -> Meta {
    let mut out = Meta::default();
    for a in annotations {
        match a.name.name.as_str() {
            "id" => {
                let value = match a.args.as_slice() {
                    [one] if is_valid_id(&one.value) => Some((one.value.clone(), one.span)),
                    _ => None,
                };
                match (value, &out.id) {
                    (Some(v), None) => out.id = Some(v),
                    (Some(_), Some(_)) => {
                        let diag = Diagnostic::error("E009", "more than one `@id`")
                            .with_label(a.span, "second `@id`")
                            .with_help("a rule has one id");
                        session.report(file, diag);
                    }
                    (None, _) => {
                        let diag = Diagnostic::error("E009", "invalid rule id")
                            .with_label(a.span, "`@id` takes one non-empty string without spaces")
                            .with_help("write `@id(\"pay-write\")`");
                        session.report(file, diag);
                    }
                }
            }
            "control" => {
                for arg in &a.args {
                    if let Err(err) = Catalogs::builtin().resolve(&arg.value) {
                        session.report(file, controls::diagnostic(&err, arg.span));
                    }
                    if !out.controls.contains(&arg.value) {
                        out.controls.push(arg.value.clone());
                    }
                }
            }
            other => {
                let values = out.annotations.entry(other.to_owned()).or_default();
                values.extend(a.args.iter().map(|s| s.value.clone()));
            }
        }
    }
    out
}

fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && !id.chars().any(char::is_whitespace)
}

/// Gives every rule and obligation its id and reports duplicates. Returns the rule ids.
pub(crate) fn assign(
    session: &mut Session<'_>,
    rules: &mut [RuleItem<'_>],
    obligations: &mut [ObligationItem<'_>],
) -> HashSet<String> {
    let mut repeats: HashMap<String, u32> = HashMap::new();
    let mut next_generated = |package: &str, kind: &str, text: &str| -> String {
        let base = generated_id(package, kind, text);
        let n = repeats.entry(base.clone()).or_insert(0);
        *n += 1;
        if *n == 1 {
            base
        } else {
            format!("{base}-{n}")
        }
    };
    for item in rules.iter_mut() {
        if item.rule.id.is_empty() {
            let package = session.program.packages.name(item.rule.package);
            item.rule.id = next_generated(
                package,
                item.ast.kind.keyword(),
                &text::rule_body_text(item.ast),
            );
        }
    }
    for item in obligations.iter_mut() {
        if item.obligation.id.is_empty() {
            let package = session.program.packages.name(item.obligation.package);
            item.obligation.id =
                next_generated(package, "obligation", &text::obligation_text(item.ast));
        }
    }
    let mut seen: HashMap<String, Loc> = HashMap::new();
    let claims = rules
        .iter()
        .map(|r| {
            (
                r.rule.id.clone(),
                Loc {
                    file: r.file,
                    span: r.id_span,
                },
            )
        })
        .chain(obligations.iter().map(|o| {
            (
                o.obligation.id.clone(),
                Loc {
                    file: o.file,
                    span: o.id_span,
                },
            )
        }));
    let claims: Vec<(String, Loc)> = claims.collect();
    for (id, here) in claims {
        match seen.get(&id) {
            Some(first) => {
                let diag = crate::check::duplicate(
                    session.program,
                    "E009",
                    format!("duplicate rule id `{id}`"),
                    here,
                    *first,
                );
                session
                    .diags
                    .push(diag.with_help_if_missing("give each rule its own `@id`"));
            }
            None => {
                seen.insert(id, here);
            }
        }
    }
    rules.iter().map(|r| r.rule.id.clone()).collect()
}

trait HelpIfMissing {
    fn with_help_if_missing(self, help: &str) -> Self;
}

impl HelpIfMissing for Diagnostic {
    fn with_help_if_missing(self, help: &str) -> Self {
        if self.help_text().is_some() {
            self
        } else {
            self.with_help(help.to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64_extend(fnv1a64(b"ab"), b"cd"), fnv1a64(b"abcd"));
    }

    #[test]
    fn generated_ids_have_package_kind_and_8_hex() {
        let id = generated_id("payments", "allow", "allow \"x\"");
        assert!(id.starts_with("payments.allow-"));
        assert_eq!(id.len(), "payments.allow-".len() + 8);
    }
}
