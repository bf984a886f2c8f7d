//! Rendering a [`Diagnostic`] with miette, whatever its spans point at.
//!
//! **Key design decision:** miette never sees the whole file. Each diagnostic is rendered
//! against an [`Excerpt`]: the lines its labels touch plus one line of context each side
//! (the context miette shows), cut out through the file's line index. That makes rendering
//! cost proportional to what is printed, not to the file (miette finds lines by scanning
//! its source from the start, which made N diagnostics in one file quadratic), and lets a
//! very long line be shown as a window of at most [`WINDOW_BYTES`] around the label:
//! miette formats underlines with widths that panic past column 65,535.
//!
//! The excerpt reports the original line numbers and columns, so the output is the same as
//! rendering the whole file, except that characters that do not show are replaced by
//! visible ones ([`push_visible`]). Belt and braces: a panic inside miette becomes a plain-text
//! rendering ([`plain_text`]) instead of ending the process.

use std::cell::Cell;
use std::fmt::Write as _;
use std::panic::AssertUnwindSafe;
use std::sync::Once;

use miette::{
    GraphicalReportHandler, LabeledSpan, MietteError, MietteSpanContents, SourceCode, SourceSpan,
    SpanContents,
};

use super::{Diagnostic, SourceFile};
use crate::invisible::{escape_invisible, is_invisible};

/// Lines longer than this (in bytes) are shown as a window around their labels.
pub const LONG_LINE_BYTES: usize = 1024;
/// How much of a long line is shown, in bytes.
pub const WINDOW_BYTES: usize = 512;
/// Lines of a label shown at most: a label over more lines ends at the last of these.
pub const MAX_LABEL_LINES: usize = 20;
/// How much of a long line is shown before the first label on it, in bytes.
const LEAD_BYTES: usize = 96;
/// Lines of context each side of a label: miette's default, which every caller here uses.
const CONTEXT_LINES: usize = 1;
/// Marks the part of a long line that is not shown.
const ELLIPSIS: &str = "…";

/// Renders `diag` with `handler`; plain text if miette fails or panics.
pub(super) fn render(diag: &Diagnostic, handler: &GraphicalReportHandler) -> String {
    let view = View::new(diag);
    let mut out = String::new();
    match quietly(|| handler.render_report(&mut out, &view)) {
        Some(Ok(())) => out,
        Some(Err(_)) | None => plain_text(diag),
    }
}

/// The one-line-per-part rendering used when miette cannot render: code, message, where,
/// help and docs URL. Never longer than the message and help themselves.
pub(super) fn plain_text(diag: &Diagnostic) -> String {
    let mut out = format!(
        "{}[{}]: {}\n",
        diag.severity().as_str(),
        diag.code(),
        escape_invisible(diag.message())
    );
    if let (Some(file), Some(span)) = (diag.file(), diag.primary_span()) {
        let (line, column) = file.line_col(span.start);
        let name = escape_invisible(file.name());
        let _ = writeln!(out, "  --> {name}:{line}:{column}");
    }
    if let Some(help) = diag.help_text() {
        let _ = writeln!(out, "  help: {}", escape_invisible(help));
    }
    let _ = writeln!(out, "  see: {}", diag.url());
    out
}

thread_local! {
    /// Set while this thread renders: the panic hook stays silent then.
    static RENDERING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, turning a panic into `None` without printing the panic message (a panic
/// elsewhere still reaches the hook that was installed before).
pub(super) fn quietly<T>(f: impl FnOnce() -> T) -> Option<T> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !RENDERING.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = RENDERING.with(|r| r.replace(true));
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    RENDERING.with(|r| r.set(was));
    result.ok()
}

/// A diagnostic as miette sees it: the same code, message and help, with its labels moved
/// into an excerpt of its file.
struct View<'a> {
    diag: &'a Diagnostic,
    excerpt: Option<Excerpt>,
    labels: Vec<LabeledSpan>,
}

impl<'a> View<'a> {
    fn new(diag: &'a Diagnostic) -> Self {
        let Some(file) = diag.file() else {
            return Self {
                diag,
                excerpt: None,
                labels: Vec::new(),
            };
        };
        let text = file.text();
        let starts = &file.inner.line_starts;
        let line_of = |offset: usize| starts.partition_point(|&s| s <= offset).max(1) - 1;
        let spans: Vec<(usize, usize)> = diag
            .labels
            .iter()
            .map(|l| {
                let start = floor_boundary(text, l.span.start as usize);
                let mut end = floor_boundary(text, (l.span.end as usize).max(start));
                // A label over many lines shows its first ones only.
                if let Some(&cut) = starts.get(line_of(start) + MAX_LABEL_LINES) {
                    if end > cut {
                        end = cut.saturating_sub(1).max(start);
                    }
                }
                (start, end)
            })
            .collect();
        let excerpt = Excerpt::new(file, &spans);
        let labels = diag
            .labels
            .iter()
            .zip(&spans)
            .map(|(l, &(start, end))| {
                let start = excerpt.map(file, start);
                let end = excerpt.map(file, end).max(start);
                let text = (!l.text.is_empty()).then(|| escape_invisible(&l.text).into_owned());
                if l.primary {
                    LabeledSpan::new_primary_with_span(text, start..end)
                } else {
                    LabeledSpan::new_with_span(text, start..end)
                }
            })
            .collect();
        Self {
            diag,
            excerpt: Some(excerpt),
            labels,
        }
    }
}

impl std::fmt::Debug for View<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.diag, f)
    }
}

/// Text from a policy (a string quoted in a message, a file name) can hold line ends,
/// escape sequences and bidirectional controls: what miette prints is escaped, so that a
/// policy cannot forge lines of the report or take over the terminal.
impl std::fmt::Display for View<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&escape_invisible(self.diag.message()))
    }
}

impl std::error::Error for View<'_> {}

impl miette::Diagnostic for View<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        miette::Diagnostic::code(self.diag)
    }
    fn severity(&self) -> Option<miette::Severity> {
        miette::Diagnostic::severity(self.diag)
    }
    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        let help = self.diag.help_text()?;
        Some(Box::new(escape_invisible(help)))
    }
    fn url<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        miette::Diagnostic::url(self.diag)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.excerpt.as_ref().map(|e| e as &dyn SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.excerpt.as_ref()?;
        Some(Box::new(self.labels.iter().cloned()))
    }
}

/// The largest char boundary of `text` at or before `offset` (clamped to the text).
fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Some whole lines of a file, long ones cut to a window, with what is needed to report
/// the original line numbers and columns.
struct Excerpt {
    name: String,
    text: String,
    /// 0-based line number (in the file) of the excerpt's first line.
    first_line: usize,
    lines: Vec<ExcerptLine>,
}

struct ExcerptLine {
    /// Where the line starts in the file and in the excerpt.
    file_start: usize,
    start: usize,
    /// The part of the line shown (all of it unless the line is long), in file offsets.
    shown: (usize, usize),
    /// Bytes of [`ELLIPSIS`] before the shown part.
    prefix: usize,
}

impl Excerpt {
    /// The lines that `spans` (file offsets on char boundaries) touch, with context.
    fn new(file: &SourceFile, spans: &[(usize, usize)]) -> Self {
        let text = file.text();
        let starts = &file.inner.line_starts;
        let line_of = |offset: usize| starts.partition_point(|&s| s <= offset).max(1) - 1;
        let low = spans.iter().map(|s| s.0).min().unwrap_or(0);
        let high = spans.iter().map(|s| s.1).max().unwrap_or(0);
        let first_line = line_of(low).saturating_sub(CONTEXT_LINES);
        let last_line = (line_of(high) + CONTEXT_LINES).min(starts.len() - 1);
        let mut excerpt = Self {
            name: escape_invisible(file.name()).into_owned(),
            text: String::new(),
            first_line,
            lines: Vec::with_capacity(last_line - first_line + 1),
        };
        for line in first_line..=last_line {
            let file_start = starts.get(line).copied().unwrap_or(text.len());
            let next = starts.get(line + 1).copied().unwrap_or(text.len());
            // The line's content, without its newline.
            let content_end = if next > file_start && text.as_bytes().get(next - 1) == Some(&b'\n')
            {
                next - 1
            } else {
                next
            };
            let shown = if content_end - file_start > LONG_LINE_BYTES {
                window(text, file_start, content_end, spans)
            } else {
                (file_start, content_end)
            };
            let prefix = if shown.0 > file_start {
                ELLIPSIS.len()
            } else {
                0
            };
            excerpt.lines.push(ExcerptLine {
                file_start,
                start: excerpt.text.len(),
                shown,
                prefix,
            });
            if prefix > 0 {
                excerpt.text.push_str(ELLIPSIS);
            }
            push_visible(
                &mut excerpt.text,
                &text[shown.0..shown.1],
                shown.1 == content_end,
            );
            if shown.1 < content_end {
                excerpt.text.push_str(ELLIPSIS);
            }
            excerpt.text.push_str(&text[content_end..next]);
        }
        excerpt
    }

    /// The excerpt offset of a file offset (a char boundary on one of the excerpt's lines);
    /// an offset outside a line's shown part goes to the nearest end of it.
    fn map(&self, file: &SourceFile, offset: usize) -> usize {
        let starts = &file.inner.line_starts;
        let line = starts.partition_point(|&s| s <= offset).max(1) - 1;
        let Some(entry) = line
            .checked_sub(self.first_line)
            .and_then(|i| self.lines.get(i))
        else {
            return self.text.len();
        };
        let (from, to) = entry.shown;
        entry.start + entry.prefix + (offset.clamp(from, to) - from)
    }

    /// The line of the excerpt holding an excerpt offset.
    fn line_at(&self, offset: usize) -> Option<&ExcerptLine> {
        let i = self.lines.partition_point(|l| l.start <= offset);
        self.lines.get(i.checked_sub(1)?)
    }
}

/// Appends `shown` with every character that does not show (a bidirectional control, a
/// zero-width or control character: [`is_invisible`]) replaced by visible ones of the same
/// length in bytes (`�` for three bytes, `?` for each byte otherwise), so that offsets stay
/// true and the terminal shows neither reordered text (Trojan Source) nor escape
/// sequences written in a policy. Tabs stay, and so does the `\r` of a `\r\n` line end
/// (the last character of `shown` when `at_line_end`).
fn push_visible(out: &mut String, shown: &str, at_line_end: bool) {
    let mut chars = shown.chars().peekable();
    while let Some(c) = chars.next() {
        let line_end = at_line_end && c == '\r' && chars.peek().is_none();
        if c == '\t' || line_end || !is_invisible(c) {
            out.push(c);
        } else if c.len_utf8() == '\u{fffd}'.len_utf8() {
            out.push('\u{fffd}');
        } else {
            out.extend(std::iter::repeat_n('?', c.len_utf8()));
        }
    }
}

/// The part of the long line `[start, end)` to show: from a little before the first label
/// endpoint on it, at most [`WINDOW_BYTES`], on char boundaries.
fn window(text: &str, start: usize, end: usize, spans: &[(usize, usize)]) -> (usize, usize) {
    let anchor = spans
        .iter()
        .flat_map(|&(s, e)| [s, e])
        .filter(|&p| (start..=end).contains(&p))
        .min()
        .unwrap_or(start);
    let from = floor_boundary(text, anchor.saturating_sub(LEAD_BYTES).max(start));
    let to = floor_boundary(text, (from + WINDOW_BYTES).min(end));
    (from, to)
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = <str as SourceCode>::read_span(
            self.text.as_str(),
            span,
            context_lines_before,
            context_lines_after,
        )?;
        let mut column = inner.column();
        if context_lines_before == 0 {
            // The column of `span` on its line: count the bytes cut from the line's start.
            if let Some(line) = self.line_at(span.offset()) {
                column = (column + (line.shown.0 - line.file_start)).saturating_sub(line.prefix);
            }
        }
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line() + self.first_line,
            column,
            inner.line_count() + self.first_line,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Span;

    fn handler() -> GraphicalReportHandler {
        GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100)
            .with_links(false)
    }

    /// The rendering miette gives with the whole file as its source.
    fn whole_file(diag: &Diagnostic) -> String {
        let mut out = String::new();
        handler().render_report(&mut out, diag).unwrap();
        out
    }

    fn diag(text: &str, spans: &[(usize, usize)]) -> Diagnostic {
        let file = SourceFile::in_memory("f.rampart", text);
        let mut d = Diagnostic::error("E003", "unknown name `x`").with_help("some help");
        for (i, &(s, e)) in spans.iter().enumerate() {
            d = if i == 0 {
                d.with_label(Span::new(s, e), "here")
            } else {
                d.with_secondary(Span::new(s, e), "there")
            };
        }
        d.in_file(&file)
    }

    #[test]
    fn excerpts_render_like_the_whole_file() {
        let text = "line one\nline two x\n\tline three\nline four\r\nline five y\nsix";
        let x = text.find('x').unwrap();
        let y = text.find('y').unwrap();
        let cases: Vec<Vec<(usize, usize)>> = vec![
            vec![(x, x + 1)],
            vec![(y, y + 1), (x, x + 1)],
            vec![(x, y)],
            vec![(0, 0)],
            vec![(text.len(), text.len())],
            vec![(text.len() - 3, text.len())],
            vec![(x, x + 1), (text.len(), text.len())],
        ];
        for spans in cases {
            let d = diag(text, &spans);
            assert_eq!(render(&d, &handler()), whole_file(&d), "{spans:?}");
        }
    }

    #[test]
    fn long_lines_render_as_a_window() {
        let text = format!("package p\n{}allow x\n", " ".repeat(70_000));
        let x = text.find('x').unwrap();
        let d = diag(&text, &[(x, x + 1)]);
        let out = render(&d, &handler());
        assert!(out.contains("[f.rampart:2:70007]"), "{out}");
        assert!(out.contains("…") && out.contains("allow x"), "{out}");
        assert!(out.len() < 4 * WINDOW_BYTES, "{out}");
    }

    #[test]
    fn long_labels_are_cut_at_the_window() {
        let text = format!("package p\nallow {} x\n", "-".repeat(200_000));
        let d = diag(&text, &[(16, text.len() - 2)]);
        let out = render(&d, &handler());
        assert!(
            out.contains("here") && out.len() < 8 * WINDOW_BYTES,
            "{out}"
        );
    }

    /// Issue 11: a policy must not reorder or colour the terminal its diagnostics go to.
    #[test]
    fn invisible_characters_render_visibly() {
        let text = "package p\nconst a = \"x\u{202e}\u{1b}[31m\u{61c}\u{e0041}\r\" y\r\n";
        let y = text.find('y').unwrap();
        let out = render(&diag(text, &[(y, y + 1)]), &handler());
        assert!(out.contains("\"x\u{fffd}?[31m???????\" y"), "{out}");
        assert!(
            !out.chars().any(|c| c != '\n' && is_invisible(c)),
            "{out:?}"
        );
    }

    /// Issue 11: a string quoted in a message cannot add lines to the report.
    #[test]
    fn messages_cannot_forge_lines() {
        let file = SourceFile::in_memory("f\n.rampart", "package p\n");
        let d = Diagnostic::warning("L009", "route `GET /x\n0 errors, 0 warnings\u{1b}[2J`")
            .with_label(Span::new(0, 7), "a\rb")
            .with_help("see\u{202e}")
            .in_file(&file);
        for out in [render(&d, &handler()), plain_text(&d)] {
            assert!(
                out.contains("/x\\u{a}0 errors, 0 warnings\\u{1b}[2J"),
                "{out}"
            );
            assert!(!out.contains('\u{1b}') && !out.contains('\r'), "{out:?}");
            assert!(!out.contains("\n0 errors"), "{out}");
            assert!(
                out.contains("see\\u{202e}") && out.contains("f\\u{a}.rampart"),
                "{out}"
            );
        }
    }

    #[test]
    fn labels_over_many_lines_show_their_first_lines() {
        let text = format!("package p\nconst a = [\n{}]\n", "1,\n".repeat(100_000));
        let d = diag(&text, &[(20, text.len() - 2)]);
        let out = render(&d, &handler());
        assert!(out.lines().count() < MAX_LABEL_LINES + 20, "{out}");
        assert!(out.contains("here"), "{out}");
    }

    #[test]
    fn panics_are_caught_quietly() {
        assert_eq!(quietly(|| 7), Some(7));
        assert_eq!(quietly(|| -> u8 { panic!("boom") }), None);
    }

    #[test]
    fn plain_text_names_the_place() {
        let d = diag("ab\ncd x", &[(6, 7)]);
        let out = plain_text(&d);
        assert!(out.starts_with("error[E003]: unknown name `x`\n"), "{out}");
        assert!(out.contains("--> f.rampart:2:4"), "{out}");
    }

    /// Renders one warning per line of a file of `n` lines; the time taken.
    fn time_rendering(n: usize) -> std::time::Duration {
        let text: String = (0..n)
            .map(|i| format!("route GET \"/r{i}/{{id}}\" => \"read\" on Doc::{{id}}\n"))
            .collect();
        let file = SourceFile::in_memory("f.rampart", &text);
        let diags: Vec<Diagnostic> = file
            .inner
            .line_starts
            .iter()
            .take(n)
            .map(|&start| {
                Diagnostic::warning("L009", "route has no rule that can apply to it")
                    .with_label(Span::new(start + 24, start + 30), "no rule")
                    .in_file(&file)
            })
            .collect();
        let started = std::time::Instant::now();
        let bytes: usize = diags.iter().map(|d| d.render_plain().len()).sum();
        assert!(bytes > n * 100);
        started.elapsed()
    }

    /// F11: N warnings in one file rendered in time quadratic in N (miette scanned the
    /// file from its start for every label). 4N warnings must take about 4 times as long
    /// as N, measured in the same run; the bound is generous (quadratic would be 16).
    #[test]
    fn rendering_is_linear_in_the_number_of_diagnostics() {
        time_rendering(100);
        let small = time_rendering(1_000);
        let large = time_rendering(4_000);
        assert!(
            large < small * 12,
            "4,000 diagnostics took {large:?}, 1,000 took {small:?}"
        );
    }
}
