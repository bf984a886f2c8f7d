//! Diagnostics: every problem `rampart-lang` reports, with a stable code, a labelled span, a
//! help line and a docs URL, rendered by miette.
//!
//! Codes are never reused. `E0xx` are errors of the language (syntax, names, types);
//! `L0xx` are lints (see [`crate::lints`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{LabeledSpan, NamedSource, SourceCode};

use crate::ast::Span;

mod render;

pub use render::{LONG_LINE_BYTES, MAX_LABEL_LINES, WINDOW_BYTES};

/// Base of every diagnostic's documentation URL.
pub const DOCS_URL: &str = "https://rampart.dev/docs/diagnostics";

/// One policy source file, shared by every diagnostic pointing into it.
///
/// Cloning is cheap (one `Arc`), which keeps [`Diagnostic`] small.
#[derive(Clone, Debug)]
pub struct SourceFile {
    inner: Arc<SourceInner>,
}

#[derive(Debug)]
struct SourceInner {
    path: PathBuf,
    source: NamedSource<String>,
    /// Byte offset of the start of every line, for [`SourceFile::line_col`].
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// `name` is what diagnostics print (usually the path relative to the policy folder).
    pub fn new(path: impl Into<PathBuf>, name: impl Into<String>, text: String) -> Self {
        let name: String = name.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let inner = SourceInner {
            path: path.into(),
            source: NamedSource::new(name, text),
            line_starts,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// A file that exists only in memory (tests, stdin, the stdlib).
    pub fn in_memory(name: &str, text: &str) -> Self {
        Self::new(PathBuf::from(name), name, text.to_owned())
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }
    pub fn name(&self) -> &str {
        self.inner.source.name()
    }
    pub fn text(&self) -> &str {
        self.inner.source.inner()
    }

    /// 1-based line and column (in characters) of a byte offset. Lines are found by binary
    /// search over line starts computed once, so compiling many rules stays linear.
    pub fn line_col(&self, offset: u32) -> (u32, u32) {
        let text = self.text();
        let offset = (offset as usize).min(text.len());
        let starts = &self.inner.line_starts;
        let line = starts.partition_point(|&start| start <= offset).max(1);
        let start = starts.get(line - 1).copied().unwrap_or(0);
        let col = text.get(start..offset).map_or(0, |l| l.chars().count()) + 1;
        (
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(col).unwrap_or(u32::MAX),
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A labelled part of the source.
#[derive(Clone, Debug)]
pub struct Label {
    pub span: Span,
    pub text: String,
    pub primary: bool,
}

/// One problem found in policy text.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    code: &'static str,
    severity: Severity,
    message: String,
    labels: Vec<Label>,
    help: Option<String>,
    file: Option<SourceFile>,
}

impl Diagnostic {
    /// An error with a stable code (`E0xx`) and a one-line lowercase message.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            help: None,
            file: None,
        }
    }

    /// A warning (lints).
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    /// The primary label: where the problem is.
    pub fn with_label(mut self, span: Span, text: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            text: text.into(),
            primary: true,
        });
        self
    }

    /// A secondary label: related places (the first declaration of a duplicate, …).
    pub fn with_secondary(mut self, span: Span, text: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            text: text.into(),
            primary: false,
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Attaches the file the spans point into.
    pub fn in_file(mut self, file: &SourceFile) -> Self {
        self.file = Some(file.clone());
        self
    }

    pub fn code(&self) -> &'static str {
        self.code
    }
    pub fn severity(&self) -> Severity {
        self.severity
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn help_text(&self) -> Option<&str> {
        self.help.as_deref()
    }
    pub fn labels(&self) -> &[Label] {
        &self.labels
    }
    pub fn file(&self) -> Option<&SourceFile> {
        self.file.as_ref()
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
    pub fn url(&self) -> String {
        format!("{DOCS_URL}/{}", self.code)
    }

    /// The primary span, if any.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels
            .iter()
            .find(|l| l.primary)
            .or(self.labels.first())
            .map(|l| l.span)
    }

    /// The machine-readable form used by `rampart check --format json`.
    pub fn to_json(&self) -> serde_json::Value {
        let (line, column) = match (&self.file, self.primary_span()) {
            (Some(f), Some(s)) => {
                let (l, c) = f.line_col(s.start);
                (Some(l), Some(c))
            }
            _ => (None, None),
        };
        serde_json::json!({
            "code": self.code,
            "severity": self.severity.as_str(),
            "message": self.message,
            "file": self.file.as_ref().map(|f| f.name().to_owned()),
            "line": line,
            "column": column,
            "span": self.primary_span().map(|s| serde_json::json!({"start": s.start, "end": s.end})),
            "labels": self.labels.iter().map(|l| serde_json::json!({
                "start": l.span.start, "end": l.span.end, "text": l.text, "primary": l.primary,
            })).collect::<Vec<_>>(),
            "help": self.help,
            "url": self.url(),
        })
    }

    /// Renders like the CLI does, without colours: for golden files and plain terminals.
    pub fn render_plain(&self) -> String {
        let handler =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .with_width(100)
                .with_links(false);
        self.render_with(&handler)
    }

    /// Renders with `handler` (its context lines left at miette's default of one). Never
    /// panics, whatever the spans: a very long line is shown as a window around its labels
    /// (see [`LONG_LINE_BYTES`]), and if miette still fails the diagnostic is rendered as
    /// plain text. Costs what is printed, not the size of the file.
    pub fn render_with(&self, handler: &miette::GraphicalReportHandler) -> String {
        render::render(self, handler)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn url<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.url()))
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.file
            .as_ref()
            .map(|f| &f.inner.source as &dyn SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.file.as_ref()?;
        let len = self.file.as_ref().map_or(0, |f| f.text().len());
        Some(Box::new(self.labels.iter().map(move |l| {
            let start = (l.span.start as usize).min(len);
            let end = (l.span.end as usize).clamp(start, len);
            let text = if l.text.is_empty() {
                None
            } else {
                Some(l.text.clone())
            };
            if l.primary {
                LabeledSpan::new_primary_with_span(text, start..end)
            } else {
                LabeledSpan::new_with_span(text, start..end)
            }
        })))
    }
}

/// Names longer than this get no "did you mean" suggestion.
pub const MAX_SUGGESTED_NAME_CHARS: usize = 64;

/// Cells of edit-distance tables that suggestions may fill per compile: past it, no more
/// suggestions are made. Without it, many unknown names each compared with many candidates
/// stall the checker (20,000 unknown names against 1,000 consts took minutes).
pub const SUGGESTION_BUDGET: u64 = 20_000_000;

thread_local! {
    static SUGGESTION_WORK: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Starts a new suggestion budget ([`SUGGESTION_BUDGET`]): once per compile.
pub(crate) fn reset_suggestion_budget() {
    SUGGESTION_WORK.with(|w| w.set(0));
}

/// "did you mean" support: the candidate closest to `name`, if close enough (edit distance
/// at most 2, or at most a third of the name's length for long names). Names longer than
/// [`MAX_SUGGESTED_NAME_CHARS`] and candidates whose length alone puts them too far are
/// not compared; the work is bounded by [`SUGGESTION_BUDGET`].
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let chars = name.chars().count();
    if chars > MAX_SUGGESTED_NAME_CHARS {
        return None;
    }
    let limit = (chars / 3).max(2);
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let len = c.chars().count();
        if len.abs_diff(chars) > limit {
            continue;
        }
        let cells = u64::try_from((chars + 1) * (len + 1)).unwrap_or(u64::MAX);
        let spent = SUGGESTION_WORK.with(|w| {
            let spent = w.get().saturating_add(cells);
            w.set(spent);
            spent
        });
        if spent > SUGGESTION_BUDGET {
            return None;
        }
        let d = edit_distance(name, c);
        let better = best.is_none_or(|(bd, bc)| (d, c.len()) < (bd, bc.len()));
        if d <= limit && better {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Edit distance where swapping two adjacent characters counts as one edit (optimal string
/// alignment): `EAUZ-SR-3` is one edit from `EUAZ-SR-3`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows: two back, previous, current.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lines_and_columns() {
        let file = SourceFile::in_memory("x", "ab\ncdé\n\nz");
        assert_eq!(file.line_col(0), (1, 1));
        assert_eq!(file.line_col(2), (1, 3));
        assert_eq!(file.line_col(3), (2, 1));
        assert_eq!(file.line_col(7), (2, 4));
        assert_eq!(file.line_col(8), (3, 1));
        assert_eq!(file.line_col(9), (4, 1));
        assert_eq!(file.line_col(999), (4, 2));
    }

    #[test]
    fn suggestions_are_bounded() {
        reset_suggestion_budget();
        let long = "a".repeat(MAX_SUGGESTED_NAME_CHARS + 1);
        let near = format!("{long}b");
        assert_eq!(closest(&long, [near.as_str()]), None);
        let candidates: Vec<String> = (0..1000).map(|i| format!("konstant_{i:04}")).collect();
        let mut suggested = 0;
        for i in 0..20_000 {
            let name = format!("konstant_x{:03}", i % 1000);
            suggested +=
                usize::from(closest(&name, candidates.iter().map(String::as_str)).is_some());
        }
        // Some names got a suggestion before the budget ran out, not all of them.
        assert!(suggested > 0 && suggested < 20_000, "{suggested}");
        reset_suggestion_budget();
        assert_eq!(closest("ownr", ["owner"]), Some("owner"));
    }

    #[test]
    fn suggests_close_names() {
        reset_suggestion_budget();
        assert_eq!(closest("ownr", ["owner", "classification"]), Some("owner"));
        assert_eq!(closest("zzzz", ["owner", "classification"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
