//! The agreement check: before anything is timed, every engine decides every request of
//! the stream, and all must give the same answer without evaluation errors, and the
//! engines that report their deciding rules (Rampart, both Cedar forms, regorus-routed)
//! must name the same rule ids. A disagreement is a bug in the generator or in an
//! engine, and fails the run loudly.

use std::fmt::Write as _;

use crate::engines::{Answer, Decider};
use crate::error::BenchError;
use crate::gen::{rampart::request_json, Workload};

/// How many disagreements a failure message shows in full.
const SHOWN: usize = 5;

/// The stream's decisions, when all engines agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agreement {
    pub requests: usize,
    /// Requests every engine allowed.
    pub allowed: usize,
}

impl Agreement {
    /// The share of allowed requests, in percent.
    pub fn allow_percent(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        100.0 * self.allowed as f64 / self.requests as f64
    }
}

/// Decides the whole stream with every engine; `Err` lists the requests on which they
/// disagree (or on which one reported an error), with each engine's answer.
pub fn check(
    workload: &Workload,
    deciders: &mut [Box<dyn Decider>],
) -> Result<Agreement, BenchError> {
    let mut allowed = 0;
    let mut bad = 0;
    let mut report = String::new();
    for (index, spec) in workload.requests.iter().enumerate() {
        let answers: Vec<Answer> = deciders.iter_mut().map(|d| d.answer(index)).collect();
        let first = answers.first().is_some_and(|a| a.allow);
        let rules = answers.iter().find_map(|a| a.rules.as_ref());
        let agree = answers.iter().all(|a| {
            a.allow == first
                && a.errors.is_empty()
                && (a.rules.is_none() || a.rules.as_ref() == rules)
        });
        if agree {
            allowed += usize::from(first);
            continue;
        }
        bad += 1;
        if bad <= SHOWN {
            let _ = writeln!(report, "request {index}: {}", request_json(spec));
            for (decider, answer) in deciders.iter().zip(&answers) {
                let verdict = if answer.allow { "allow" } else { "deny" };
                let _ = write!(report, "  {:<14} {verdict}", decider.kind().name());
                if let Some(rules) = &answer.rules {
                    let _ = write!(report, " by [{}]", rules.join(", "));
                }
                if !answer.errors.is_empty() {
                    let _ = write!(report, " (errors: {})", answer.errors.join("; "));
                }
                report.push('\n');
            }
        }
    }
    if bad > 0 {
        return Err(BenchError::new(format!(
            "workload `{}`: the engines disagree on {bad} of {} requests\n{report}",
            workload.name,
            workload.requests.len()
        )));
    }
    Ok(Agreement {
        requests: workload.requests.len(),
        allowed,
    })
}
