//! Compliance coverage: which controls of a framework the rules of a compiled policy set
//! enforce.
//!
//! The input is the compiled [`Bundle`] (every active rule and obligation, those of
//! imported stdlib packs included, with its `@control` references and where it was
//! written), the control [`Catalogs`] and the folder's [`Project`] (waivers). The output
//! is a [`Report`]: per framework, every control of the catalog in catalog order with its
//! [`State`] and the rules that map to it.
//!
//! A control's state:
//!
//! | state            | when                                                        |
//! |------------------|-------------------------------------------------------------|
//! | `not-applicable` | waived in `rampart.toml` (wins over rules, which are still listed) |
//! | `enforced`       | at least one rule maps to it and the control is `full`      |
//! | `partial`        | at least one rule maps to it and the control is `partial` or `none` |
//! | `manual`         | no rule, and the control is `none` (process only)           |
//! | `uncovered`      | no rule, and the control is `full` or `partial`             |
//!
//! Coverage = (enforced + partial + not-applicable) / (controls − manual) × 100, rounded
//! down to one decimal; 100 when every control is manual.

use std::cmp::Ordering;
use std::collections::HashMap;

use rampart_engine::bundle::RuleKind;
use rampart_engine::Bundle;
use serde::Serialize;

use crate::controls::{Automatable, Catalogs, Control, Framework};
use crate::project::Project;

/// A control's coverage state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Enforced,
    Partial,
    Manual,
    NotApplicable,
    Uncovered,
}

impl State {
    /// The name reports print (`not-applicable`).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Enforced => "enforced",
            State::Partial => "partial",
            State::Manual => "manual",
            State::NotApplicable => "not-applicable",
            State::Uncovered => "uncovered",
        }
    }
}

/// A rule or obligation that maps to a control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRef {
    pub id: String,
    /// `allow`, `deny`, `require` or `obligation`.
    pub kind: &'static str,
    /// As in diagnostics: relative to the policy folder, `<stdlib>/…` for stdlib packs.
    pub file: String,
    pub line: u32,
}

/// One control of a framework report.
#[derive(Debug, Clone, Serialize)]
pub struct ControlReport {
    /// The id as published (`4.2.1`).
    pub id: String,
    /// `framework-slug/published-id`.
    pub canonical: String,
    pub title: String,
    /// `full`, `partial` or `none`.
    pub automatable: &'static str,
    pub state: State,
    /// The rules that map to the control, policy files first, then stdlib packs.
    pub rules: Vec<RuleRef>,
    /// Set when the control is waived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver_reason: Option<String>,
}

/// Controls counted by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Every control of the catalog.
    pub controls: usize,
    pub enforced: usize,
    pub partial: usize,
    pub manual: usize,
    pub not_applicable: usize,
    pub uncovered: usize,
}

impl Summary {
    fn count(&mut self, state: State) {
        self.controls += 1;
        match state {
            State::Enforced => self.enforced += 1,
            State::Partial => self.partial += 1,
            State::Manual => self.manual += 1,
            State::NotApplicable => self.not_applicable += 1,
            State::Uncovered => self.uncovered += 1,
        }
    }

    /// Coverage in tenths of a percent, rounded down (`666` for 66.6 %); 1000 when every
    /// control is manual.
    pub fn coverage_tenths(&self) -> u32 {
        let covered = self.enforced + self.partial + self.not_applicable;
        let applicable = self.controls - self.manual;
        if applicable == 0 {
            return 1000;
        }
        u32::try_from(covered * 1000 / applicable).unwrap_or(1000)
    }
}

/// The report of one framework.
#[derive(Debug, Clone, Serialize)]
pub struct FrameworkReport {
    /// The canonical slug (`pci-dss-4.0`).
    pub framework: String,
    pub title: String,
    pub version: String,
    /// Where the catalog's ids come from.
    pub source: String,
    pub summary: Summary,
    /// Percent, one decimal, rounded down (see [`Summary::coverage_tenths`]).
    pub coverage: f64,
    pub controls: Vec<ControlReport>,
}

/// A `@control` reference of a rule that no catalog resolves (normally rejected by the
/// compiler with `E022` before a report is made).
#[derive(Debug, Clone)]
pub struct Unresolved {
    pub rule: RuleRef,
    pub reference: String,
}

/// The coverage report of a policy set.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub frameworks: Vec<FrameworkReport>,
    #[serde(skip)]
    pub unresolved: Vec<Unresolved>,
}

/// The frameworks a report covers when none are asked for: those `rampart.toml` declares,
/// else every framework at least one rule references (by slug). Unknown names are skipped
/// (the compiler reports them as `E022`).
pub fn default_frameworks<'c>(
    bundle: &Bundle,
    catalogs: &'c Catalogs,
    project: Option<&Project>,
) -> Vec<&'c Framework> {
    let mut out: Vec<&Framework> = Vec::new();
    let declared = project.map(|p| p.compliance.frameworks.as_slice());
    for named in declared.unwrap_or_default() {
        if let Some(f) = catalogs.framework(&named.name) {
            push_unique(&mut out, f);
        }
    }
    if !out.is_empty() {
        return out;
    }
    for f in catalogs.frameworks() {
        let referenced = rule_controls(bundle).any(|(_, reference)| {
            catalogs
                .resolve(reference)
                .is_ok_and(|r| r.framework.slug == f.slug)
        });
        if referenced {
            push_unique(&mut out, f);
        }
    }
    out
}

fn push_unique<'c>(out: &mut Vec<&'c Framework>, f: &'c Framework) {
    if !out.iter().any(|g| g.slug == f.slug) {
        out.push(f);
    }
}

/// Every (rule, control reference) pair of the bundle: rules, then obligations.
fn rule_controls(bundle: &Bundle) -> impl Iterator<Item = (RuleRef, &str)> + '_ {
    let rules = bundle.rules.iter().flat_map(|r| {
        let kind = match r.kind {
            RuleKind::Allow => "allow",
            RuleKind::Deny => "deny",
            RuleKind::Require => "require",
        };
        let rule = rule_ref(&r.id, kind, r.source.as_ref());
        r.controls.iter().map(move |c| (rule.clone(), c.as_str()))
    });
    let obligations = bundle.obligations.iter().flat_map(|o| {
        let rule = rule_ref(&o.id, "obligation", o.source.as_ref());
        o.controls.iter().map(move |c| (rule.clone(), c.as_str()))
    });
    rules.chain(obligations)
}

fn rule_ref(
    id: &str,
    kind: &'static str,
    source: Option<&rampart_engine::bundle::SourceLoc>,
) -> RuleRef {
    RuleRef {
        id: id.to_owned(),
        kind,
        file: source.map(|s| s.file.clone()).unwrap_or_default(),
        line: source.map_or(0, |s| s.line),
    }
}

/// Policy files first (by path), then stdlib packs; then line and id.
fn rule_order(a: &RuleRef, b: &RuleRef) -> Ordering {
    let stdlib = |r: &RuleRef| r.file.starts_with("<stdlib>");
    stdlib(a)
        .cmp(&stdlib(b))
        .then_with(|| a.file.cmp(&b.file))
        .then_with(|| a.line.cmp(&b.line))
        .then_with(|| a.id.cmp(&b.id))
}

/// Builds the report of `frameworks` (in the order given) for the rules of `bundle`.
pub fn report(
    bundle: &Bundle,
    catalogs: &Catalogs,
    project: Option<&Project>,
    frameworks: &[&Framework],
) -> Report {
    let mut by_control: HashMap<String, Vec<RuleRef>> = HashMap::new();
    let mut unresolved = Vec::new();
    for (rule, reference) in rule_controls(bundle) {
        match catalogs.resolve(reference) {
            Ok(r) => {
                let rules = by_control.entry(r.canonical()).or_default();
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }
            Err(_) => unresolved.push(Unresolved {
                rule,
                reference: reference.to_owned(),
            }),
        }
    }
    let mut waivers: HashMap<String, String> = HashMap::new();
    for w in project.map_or(&[][..], |p| p.compliance.waivers.as_slice()) {
        if let Ok(r) = catalogs.resolve(&w.control) {
            waivers
                .entry(r.canonical())
                .or_insert_with(|| w.reason.clone());
        }
    }
    let frameworks = frameworks
        .iter()
        .map(|f| framework_report(f, &mut by_control, &waivers))
        .collect();
    Report {
        frameworks,
        unresolved,
    }
}

fn framework_report(
    framework: &Framework,
    by_control: &mut HashMap<String, Vec<RuleRef>>,
    waivers: &HashMap<String, String>,
) -> FrameworkReport {
    let mut summary = Summary::default();
    let controls: Vec<ControlReport> = framework
        .controls
        .iter()
        .map(|control| {
            let canonical = format!("{}/{}", framework.slug, control.id);
            let mut rules = by_control.get(&canonical).cloned().unwrap_or_default();
            rules.sort_by(rule_order);
            let waiver_reason = waivers.get(&canonical).cloned();
            let state = state_of(control, !rules.is_empty(), waiver_reason.is_some());
            summary.count(state);
            ControlReport {
                id: control.id.clone(),
                canonical,
                title: control.title.clone(),
                automatable: control.automatable.as_str(),
                state,
                rules,
                waiver_reason,
            }
        })
        .collect();
    FrameworkReport {
        framework: framework.slug.clone(),
        title: framework.title.clone(),
        version: framework.version.clone(),
        source: framework.source.clone(),
        summary,
        coverage: f64::from(summary.coverage_tenths()) / 10.0,
        controls,
    }
}

/// The state of a control from its automatability, whether rules map to it and whether
/// it is waived.
pub fn state_of(control: &Control, has_rules: bool, waived: bool) -> State {
    match (waived, has_rules, control.automatable) {
        (true, _, _) => State::NotApplicable,
        (false, true, Automatable::Full) => State::Enforced,
        (false, true, _) => State::Partial,
        (false, false, Automatable::None) => State::Manual,
        (false, false, _) => State::Uncovered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(enforced: usize, partial: usize, manual: usize, na: usize, unc: usize) -> Summary {
        Summary {
            controls: enforced + partial + manual + na + unc,
            enforced,
            partial,
            manual,
            not_applicable: na,
            uncovered: unc,
        }
    }

    #[test]
    fn coverage_rounds_down_to_one_decimal_and_ignores_manual_controls() {
        assert_eq!(summary(1, 1, 5, 0, 1).coverage_tenths(), 666);
        assert_eq!(summary(0, 0, 3, 0, 0).coverage_tenths(), 1000);
        assert_eq!(summary(1, 0, 0, 1, 0).coverage_tenths(), 1000);
        assert_eq!(summary(0, 0, 0, 0, 4).coverage_tenths(), 0);
        assert_eq!(summary(1, 0, 0, 0, 2).coverage_tenths(), 333);
    }

    #[test]
    fn states_follow_rules_waivers_and_automatability() {
        let control = |automatable| Control {
            id: "X".into(),
            title: "x".into(),
            automatable,
            aliases: Vec::new(),
        };
        let full = control(Automatable::Full);
        let partial = control(Automatable::Partial);
        let none = control(Automatable::None);
        assert_eq!(state_of(&full, true, false), State::Enforced);
        assert_eq!(state_of(&partial, true, false), State::Partial);
        assert_eq!(state_of(&none, true, false), State::Partial);
        assert_eq!(state_of(&none, false, false), State::Manual);
        assert_eq!(state_of(&full, false, false), State::Uncovered);
        assert_eq!(state_of(&partial, false, false), State::Uncovered);
        assert_eq!(state_of(&full, true, true), State::NotApplicable);
        assert_eq!(state_of(&none, false, true), State::NotApplicable);
    }
}
