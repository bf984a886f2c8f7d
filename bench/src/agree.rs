//! The agreement check: before anything is timed, every engine decides every request of
//! the stream three ways (`answer`, the timed `decide`, and `decide_e2e` from the request
//! JSON text), and all must give the same answer without evaluation errors; the engines
//! that report their deciding rules (Rampart, both Cedar forms, regorus-routed) must name
//! the same rule ids. A disagreement is a bug in the generator, in an adapter or in an
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

/// Decides the whole stream with every engine, each through `answer`, `decide` and
/// `decide_e2e`; `Err` lists the requests on which they disagree (or on which one
/// reported an error), with each engine's answers.
pub fn check(
    workload: &Workload,
    deciders: &mut [Box<dyn Decider>],
) -> Result<Agreement, BenchError> {
    let mut allowed = 0;
    let mut bad = 0;
    let mut report = String::new();
    for (index, spec) in workload.requests.iter().enumerate() {
        let answers: Vec<(Answer, bool, bool)> = deciders
            .iter_mut()
            .map(|d| (d.answer(index), d.decide(index), d.decide_e2e(index)))
            .collect();
        let first = answers.first().is_some_and(|(a, _, _)| a.allow);
        let rules = answers.iter().find_map(|(a, _, _)| a.rules.as_ref());
        let agree = answers.iter().all(|(a, decided, e2e)| {
            a.allow == first
                && *decided == first
                && *e2e == first
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
            let verdict = |allow: bool| if allow { "allow" } else { "deny" };
            for (decider, (answer, decided, e2e)) in deciders.iter().zip(&answers) {
                let _ = write!(
                    report,
                    "  {:<14} {}",
                    decider.kind().name(),
                    verdict(answer.allow)
                );
                if let Some(rules) = &answer.rules {
                    let _ = write!(report, " by [{}]", rules.join(", "));
                }
                if *decided != answer.allow || *e2e != answer.allow {
                    let _ = write!(
                        report,
                        " (decide: {}, end to end: {})",
                        verdict(*decided),
                        verdict(*e2e)
                    );
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
