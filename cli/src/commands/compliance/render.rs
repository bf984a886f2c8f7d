//! The report as text for people (`--format human`) and as Markdown tables for pull
//! requests and audit evidence (`--format markdown`).

use std::fmt::Write;
use std::io::IsTerminal;

use rampart_lang::compliance::{ControlReport, FrameworkReport, Report, State, Summary};

/// Colour on a terminal, never when `NO_COLOR` is set.
pub fn use_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// The ANSI colour of a state.
fn colour_of(state: State) -> &'static str {
    match state {
        State::Enforced => "32",
        State::Partial => "33",
        State::Manual => "2",
        State::NotApplicable => "36",
        State::Uncovered => "31",
    }
}

fn paint(text: &str, code: &str, colour: bool) -> String {
    if colour {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// `3 enforced, 1 partial, 0 not-applicable, 2 uncovered, 4 manual (10 controls)`.
fn counts(s: &Summary) -> String {
    format!(
        "{} enforced, {} partial, {} not-applicable, {} uncovered, {} manual ({} controls)",
        s.enforced, s.partial, s.not_applicable, s.uncovered, s.manual, s.controls
    )
}

/// The human report: per framework a heading, the coverage line and one block per control.
pub fn human(report: &Report, colour: bool) -> String {
    let mut out = String::new();
    for (i, f) in report.frameworks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let heading = format!("{} — {} (version {})", f.framework, f.title, f.version);
        let _ = writeln!(out, "{}", paint(&heading, "1", colour));
        let _ = writeln!(out, "coverage {:.1}%: {}", f.coverage, counts(&f.summary));
        let id_width = f.controls.iter().map(|c| c.id.chars().count()).max();
        let id_width = id_width.unwrap_or(0);
        for c in &f.controls {
            human_control(&mut out, c, id_width, colour);
        }
    }
    out
}

fn human_control(out: &mut String, c: &ControlReport, id_width: usize, colour: bool) {
    let state = format!("{:<14}", c.state.as_str());
    let _ = writeln!(
        out,
        "  {}  {:<id_width$}  {}",
        paint(&state, colour_of(c.state), colour),
        c.id,
        c.title
    );
    let indent = " ".repeat(2 + 14 + 2);
    if let Some(reason) = &c.waiver_reason {
        let _ = writeln!(out, "{indent}waived: {reason}");
    }
    for r in &c.rules {
        let _ = writeln!(out, "{indent}{} {}  {}:{}", r.kind, r.id, r.file, r.line);
    }
}

/// The Markdown report: per framework a heading, the coverage line and a table.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    for (i, f) in report.frameworks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        markdown_framework(&mut out, f);
    }
    out
}

fn markdown_framework(out: &mut String, f: &FrameworkReport) {
    let _ = writeln!(
        out,
        "## {} (`{}`, version {})\n",
        cell(&f.title),
        f.framework,
        cell(&f.version)
    );
    let _ = writeln!(
        out,
        "**Coverage {:.1}%**: {}\n",
        f.coverage,
        counts(&f.summary)
    );
    out.push_str("| Control | Title | Automatable | State | Rules |\n");
    out.push_str("|---|---|---|---|---|\n");
    for c in &f.controls {
        let mut rules: Vec<String> = c
            .rules
            .iter()
            .map(|r| format!("`{}` ({}:{})", cell(&r.id), cell(&r.file), r.line))
            .collect();
        if let Some(reason) = &c.waiver_reason {
            rules.insert(0, format!("waived: {}", cell(reason)));
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            cell(&c.id),
            cell(&c.title),
            c.automatable,
            c.state.as_str(),
            rules.join("<br>")
        );
    }
}

/// Text made safe for one Markdown table cell: no pipes or line breaks, no HTML.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_escape_pipes_breaks_and_html() {
        assert_eq!(cell("a|b\nc <x>"), "a\\|b c &lt;x&gt;");
    }

    #[test]
    fn paint_only_when_asked() {
        assert_eq!(paint("x", "31", false), "x");
        assert_eq!(paint("x", "31", true), "\x1b[31mx\x1b[0m");
    }
}
