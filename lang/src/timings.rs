//! Wall-clock time per compiler phase, for `RAMPART_TIMINGS=1 rampart build` (see
//! docs/cli.md): where a large build spends its time.

use std::time::{Duration, Instant};

/// The environment variable that asks commands to print their phase times to stderr.
pub const TIMINGS_ENV: &str = "RAMPART_TIMINGS";

/// Whether [`TIMINGS_ENV`] is set to something other than empty or `0`.
pub fn requested() -> bool {
    std::env::var_os(TIMINGS_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Phases in the order they ran, each with the time since the previous mark.
#[derive(Debug, Clone)]
pub struct Timings {
    phases: Vec<(&'static str, Duration)>,
    last: Instant,
}

impl Default for Timings {
    fn default() -> Self {
        Self::new()
    }
}

impl Timings {
    /// Starts the clock.
    pub fn new() -> Self {
        Self {
            phases: Vec::new(),
            last: Instant::now(),
        }
    }

    /// Ends the phase `name` now: it took the time since the previous mark (or the start).
    pub fn mark(&mut self, name: &'static str) {
        let now = Instant::now();
        self.phases.push((name, now.duration_since(self.last)));
        self.last = now;
    }

    /// Appends the phases of `other` (a nested stage's breakdown) and restarts the clock.
    pub fn extend(&mut self, other: &Timings) {
        self.phases.extend(other.phases.iter().copied());
        self.last = Instant::now();
    }

    /// The phases, in order.
    pub fn phases(&self) -> &[(&'static str, Duration)] {
        &self.phases
    }

    /// One line per phase (`  parse        123.4 ms`) and a total.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut total = Duration::ZERO;
        for (name, took) in &self.phases {
            total += *took;
            out.push_str(&format!("  {name:<12} {:>9.1} ms\n", millis(*took)));
        }
        out.push_str(&format!("  {:<12} {:>9.1} ms\n", "total", millis(total)));
        out
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_phases_in_order_and_renders_a_total() {
        let mut t = Timings::new();
        t.mark("parse");
        t.mark("check");
        let mut inner = Timings::new();
        inner.mark("lints");
        t.extend(&inner);
        let names: Vec<&str> = t.phases().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["parse", "check", "lints"]);
        let text = t.render();
        assert_eq!(text.lines().count(), 4);
        assert!(text
            .lines()
            .last()
            .is_some_and(|l| l.trim_start().starts_with("total")));
    }
}
