//! Reading a decision-log chain back and finding every record that breaks it (`rampart
//! log verify`).
//!
//! Each line must be a sealed record whose hash matches its bytes (else it was edited, cut
//! off or is not a record at all), and whose `prev` is the hash of the line before (else a
//! record was removed, moved, or rewritten with a recomputed hash). Files are read as one
//! chain in the order given, so rotated files are verified oldest first:
//! `FILE.2 FILE.1 FILE`. Reading streams: memory does not grow with the log (a line is
//! read up to [`MAX_LINE_BYTES`], the problems listed are capped).
//!
//! Verification goes on past a problem: the chain is picked up again at the next sound
//! record, so that one cut-off line cannot hide an edit further down. What the writer
//! recorded about itself is reported too: gap records (records it could not write), crash
//! records (a run that ended without closing the log, and the line it cut off).
//!
//! What a hash chain cannot show: records removed from the very end (compare the last hash
//! with one kept elsewhere) and a whole log replaced by a forged chain.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::chain::{is_hash_hex, prev_of, read_sealed, LineFault, SealedRecord, GENESIS};
use super::event::{sha256_hex, Event};

/// The longest line read; a longer one is reported and skipped.
pub const MAX_LINE_BYTES: u64 = 64 << 20;

/// Problems listed in a report; more are only counted.
pub const MAX_PROBLEMS: usize = 1000;

/// Times verification reads ahead to find where a missing record went: each is a pass over
/// the rest of the files.
const MAX_LOOKAHEADS: u32 = 16;

/// Hashes of recent records remembered, to tell a record that links back to one of them
/// (out of order) from one that links to nothing seen.
const RECENT_HASHES: usize = 4096;

/// What is wrong with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// Its bytes do not match its hash, or it does not link to the record before it although
    /// it takes that record's place (the record before was rewritten).
    Edited,
    /// Records are missing before it.
    Removed,
    /// It is not where the chain says it should be.
    Reordered,
    /// The line is not JSON.
    BadJson,
    /// The last line of a file stops without a newline: the file was cut (or is being
    /// written).
    Truncated,
    /// JSON, but not a chained record (no `seq`, `prev` and `hash` at its end).
    NotChained,
    /// A line cut off by a crash, as the crash record after it says (its length and hash
    /// match).
    Torn,
    /// A gap record: the writer could not write some records and says how many.
    Gap,
    /// A crash record: the run before ended without closing the log; records it answered
    /// last may be missing.
    Crash,
}

impl ProblemKind {
    /// The name used in reports: `edited`, `removed`, `reordered`, `bad_json`, `truncated`,
    /// `not_chained`, `torn`, `gap`, `crash`.
    pub fn label(self) -> &'static str {
        match self {
            ProblemKind::Edited => "edited",
            ProblemKind::Removed => "removed",
            ProblemKind::Reordered => "reordered",
            ProblemKind::BadJson => "bad_json",
            ProblemKind::Truncated => "truncated",
            ProblemKind::NotChained => "not_chained",
            ProblemKind::Torn => "torn",
            ProblemKind::Gap => "gap",
            ProblemKind::Crash => "crash",
        }
    }

    /// True for a loss the writer itself recorded or a crash explains (`torn`, `gap`,
    /// `crash`, `truncated`); false for what only tampering (or a foreign writer) does.
    pub fn is_loss(self) -> bool {
        matches!(
            self,
            ProblemKind::Torn | ProblemKind::Gap | ProblemKind::Crash | ProblemKind::Truncated
        )
    }
}

/// A record that breaks the chain, or that says records are missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based line number within `file`.
    pub line: u64,
    pub kind: ProblemKind,
    pub message: String,
}

/// A record's place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLink {
    pub seq: u64,
    /// For the first record, its `prev`; for the last, its `hash`.
    pub hash: String,
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChainReport {
    /// Sound records: each matches its hash (decision and event records).
    pub records: u64,
    /// The first sound record's `seq` and `prev` (what the chain continues from).
    pub first: Option<ChainLink>,
    /// The last sound record's `seq` and `hash`: keep it elsewhere to detect records
    /// removed from the end later.
    pub last: Option<ChainLink>,
    /// The problems, in order, at most [`MAX_PROBLEMS`].
    pub problems: Vec<Problem>,
    /// Problems found beyond those listed.
    pub more_problems: u64,
    /// Records the gap records say were not written.
    pub lost: u64,
    /// Crash records: runs that ended without closing the log.
    pub crashes: u64,
    /// The last record is a stop record: the sidecar closed the log.
    pub closed: bool,
}

impl ChainReport {
    /// The first problem.
    pub fn problem(&self) -> Option<&Problem> {
        self.problems.first()
    }

    /// No problem at all.
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty() && self.more_problems == 0
    }

    /// A problem that is not a loss the writer recorded (see [`ProblemKind::is_loss`]).
    pub fn is_tampered(&self) -> bool {
        self.more_problems > 0 && self.problems.len() >= MAX_PROBLEMS
            || self.problems.iter().any(|p| !p.kind.is_loss())
    }

    fn report(&mut self, at: &Location, kind: ProblemKind, message: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem {
                file: at.file.clone(),
                line: at.line,
                kind,
                message,
            });
        } else {
            self.more_problems = self.more_problems.saturating_add(1);
        }
    }
}

/// Why a log could not be verified at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("`{0}` is not a record hash (64 lowercase hex digits)")]
    BadStart(String),
}

/// Where the chain stands: the record the next one must link to.
struct Anchor {
    hash: String,
    /// `None` before the first record when the chain starts from a given hash.
    seq: Option<u64>,
}

/// A line that is not a sound record, kept until the next line in case that is the crash
/// record that explains it.
struct BadLine {
    /// Its index in the report's problems, when listed.
    problem: Option<usize>,
    bytes: u64,
    sha256: String,
}

/// Verifies the files as one chain, in order. `start` is the hash the first record must
/// link to; without it, the first record must start a chain (`prev` of 64 zeros, `seq` 1).
pub fn verify_files(paths: &[PathBuf], start: Option<&str>) -> Result<ChainReport, VerifyError> {
    if let Some(start) = start.filter(|s| !is_hash_hex(s)) {
        return Err(VerifyError::BadStart(start.to_owned()));
    }
    let mut verifier = Verifier {
        report: ChainReport::default(),
        anchor: Anchor {
            hash: start.unwrap_or(GENESIS).to_owned(),
            seq: if start.is_some() { None } else { Some(0) },
        },
        from_start_hash: start.is_some(),
        relaxed: false,
        unreadable: 0,
        bad_line: None,
        recent: Recent::default(),
        lookaheads: 0,
    };
    verifier.recent.insert(verifier.anchor.hash.clone(), None);
    let mut lines = Lines::new(paths);
    while let Some(line) = lines.next_line()? {
        verifier.line(&line, &lines)?;
    }
    Ok(verifier.report)
}

struct Verifier {
    report: ChainReport,
    anchor: Anchor,
    from_start_hash: bool,
    /// Set after a problem: the next record may pick the chain up without a link
    /// complaint of its own (the problem was reported already), until one links normally.
    relaxed: bool,
    /// Lines since the anchor that are not sound records.
    unreadable: u64,
    bad_line: Option<BadLine>,
    recent: Recent,
    lookaheads: u32,
}

impl Verifier {
    fn line(&mut self, line: &Line, lines: &Lines<'_>) -> Result<(), VerifyError> {
        let at = &line.location;
        if line.too_long {
            let message = format!("the line is longer than {MAX_LINE_BYTES} bytes");
            self.unsound(at, ProblemKind::BadJson, message, None);
            return Ok(());
        }
        if !line.complete {
            let message = "the line is cut off: it has no newline at its end".to_owned();
            self.unsound(at, ProblemKind::Truncated, message, Some(&line.bytes));
            return Ok(());
        }
        let record = match read_sealed(&line.bytes) {
            Ok(record) => record,
            Err(LineFault::BadJson(message)) => {
                let message = format!("not JSON: {message}");
                self.unsound(at, ProblemKind::BadJson, message, Some(&line.bytes));
                return Ok(());
            }
            Err(LineFault::NotSealed(message)) => {
                let message = format!("not a chained record: {message}");
                self.unsound(at, ProblemKind::NotChained, message, Some(&line.bytes));
                return Ok(());
            }
            Err(LineFault::HashMismatch { seq, stated, .. }) => {
                let message = "the record does not match its hash: it was edited".to_owned();
                self.report.report(at, ProblemKind::Edited, message);
                // The next record links to the hash this one states when only its content
                // was changed: go on from there.
                self.recent.insert(stated.clone(), Some(at.clone()));
                self.anchor = Anchor {
                    hash: stated,
                    seq: Some(seq),
                };
                self.unreadable = 0;
                self.bad_line = None;
                return Ok(());
            }
        };
        self.link(at, &record, lines)?;
        self.event(at, &record);
        self.report.records = self.report.records.saturating_add(1);
        if self.report.first.is_none() {
            self.report.first = Some(ChainLink {
                seq: record.seq,
                hash: record.prev.clone(),
            });
        }
        self.report.last = Some(ChainLink {
            seq: record.seq,
            hash: record.hash.clone(),
        });
        self.report.closed = matches!(record.event, Some(Ok(Event::Stop)));
        self.recent.insert(record.hash.clone(), Some(at.clone()));
        self.anchor = Anchor {
            hash: record.hash,
            seq: Some(record.seq),
        };
        self.unreadable = 0;
        self.bad_line = None;
        Ok(())
    }

    /// A line that is not a sound record: reported; the chain goes on from the record
    /// before it.
    fn unsound(&mut self, at: &Location, kind: ProblemKind, message: String, bytes: Option<&[u8]>) {
        let index = self.report.problems.len();
        self.report.report(at, kind, message);
        self.bad_line = bytes.map(|bytes| BadLine {
            problem: (self.report.problems.len() > index).then_some(index),
            bytes: bytes.len() as u64,
            sha256: sha256_hex(bytes),
        });
        self.unreadable = self.unreadable.saturating_add(1);
        self.relaxed = true;
        self.report.closed = false;
    }

    /// Checks that `record` links to the anchor; reports how it does not.
    fn link(
        &mut self,
        at: &Location,
        record: &SealedRecord,
        lines: &Lines<'_>,
    ) -> Result<(), VerifyError> {
        let expected_seq = self.anchor.seq.map(|seq| seq.saturating_add(1));
        if record.prev == self.anchor.hash {
            self.relaxed = false;
            if let Some(expected) = expected_seq.filter(|e| *e != record.seq) {
                let message = if self.report.records == 0 && !self.from_start_hash {
                    format!("the first record of a chain has seq {}, not 1", record.seq)
                } else {
                    format!(
                        "its seq {} does not follow seq {} of the record before: it was \
                         rewritten",
                        record.seq,
                        expected.saturating_sub(1)
                    )
                };
                self.report.report(at, ProblemKind::Edited, message);
            }
            return Ok(());
        }
        if let Some(earlier) = self.recent.get(&record.prev) {
            // It links to a record seen already: out of order (reported once).
            if !self.relaxed {
                let place = earlier.map_or("the start".to_owned(), |l| l.to_string());
                let message = format!(
                    "seq {} links to the record at {place}, which another record follows \
                     already: records are out of order or repeated",
                    record.seq
                );
                self.report.report(at, ProblemKind::Reordered, message);
                self.relaxed = true;
            }
            return Ok(());
        }
        if self.report.records == 0 && self.unreadable == 0 {
            let (kind, message) = first_link_broken(record.seq, self.from_start_hash);
            self.report.report(at, kind, message);
            self.relaxed = true;
            return Ok(());
        }
        let skipped = self.unreadable;
        if self.relaxed
            && expected_seq.is_some_and(|e| record.seq == e.saturating_add(skipped))
            && skipped > 0
        {
            // The unreadable lines before it took the places of the records it follows;
            // they are reported already.
            return Ok(());
        }
        let moved = if self.lookaheads < MAX_LOOKAHEADS {
            self.lookaheads += 1;
            lines.find_successor(&self.anchor.hash)?
        } else {
            None
        };
        let previous_seq = self.anchor.seq.unwrap_or(0);
        let (kind, message) = link_broken(record.seq, previous_seq, skipped, moved.as_ref());
        self.report.report(at, kind, message);
        self.relaxed = true;
        Ok(())
    }

    /// Reports what an event record says.
    fn event(&mut self, at: &Location, record: &SealedRecord) {
        let Some(event) = &record.event else {
            return;
        };
        match event {
            Ok(Event::Stop) => {}
            Ok(Event::Gap {
                reason,
                lost,
                error,
            }) => {
                self.report.lost = self.report.lost.saturating_add(*lost);
                let why = match error {
                    Some(error) => format!("{}: {error}", reason.label()),
                    None => reason.label().to_owned(),
                };
                let message = format!("{lost} decision records were not written ({why})");
                self.report.report(at, ProblemKind::Gap, message);
            }
            Ok(Event::Crash { torn }) => {
                self.report.crashes = self.report.crashes.saturating_add(1);
                let message = "the run before ended without closing the log (killed or \
                               crashed): decisions it answered after its last record may be \
                               missing"
                    .to_owned();
                self.report.report(at, ProblemKind::Crash, message);
                if let Some(torn) = torn {
                    let bad = self.bad_line.take();
                    match bad {
                        Some(bad) if bad.sha256 == torn.sha256 && bad.bytes == torn.bytes => {
                            let problem = bad.problem.and_then(|i| self.report.problems.get_mut(i));
                            if let Some(problem) = problem {
                                problem.kind = ProblemKind::Torn;
                                problem.message = format!(
                                    "a record cut off by a crash ({} bytes), as the crash \
                                     record at {at} says",
                                    torn.bytes
                                );
                            }
                        }
                        _ => {
                            let message = format!(
                                "the crash record says the line before it is a cut-off \
                                 record of {} bytes, but that line is not: it was edited or \
                                 removed",
                                torn.bytes
                            );
                            self.report.report(at, ProblemKind::Edited, message);
                        }
                    }
                }
            }
            Err(message) => {
                let message = format!("not a record the writer writes: {message}");
                self.report.report(at, ProblemKind::NotChained, message);
            }
        }
    }
}

/// The first record does not link to where the chain must start.
fn first_link_broken(seq: u64, from_start_hash: bool) -> (ProblemKind, String) {
    let message = if from_start_hash {
        format!(
            "the first record (seq {seq}) does not continue from the hash given: records \
             before it are missing"
        )
    } else {
        format!(
            "the chain does not start here: the first record (seq {seq}) links to an earlier \
             record that is not in the files given; records before it are missing (give the \
             files oldest first, or the hash they continue from with --from)"
        )
    };
    (ProblemKind::Removed, message)
}

/// A record that does not link to the record before it: told apart by its `seq` and by
/// whether the record that should have come next appears later. `skipped` unreadable
/// lines came between.
fn link_broken(
    seq: u64,
    previous_seq: u64,
    skipped: u64,
    moved: Option<&Location>,
) -> (ProblemKind, String) {
    if let Some(moved) = moved {
        return (
            ProblemKind::Reordered,
            format!(
                "the record that follows seq {previous_seq} is at {moved}: records are out \
                 of order"
            ),
        );
    }
    if seq <= previous_seq {
        return (
            ProblemKind::Reordered,
            format!(
                "seq {seq} comes after seq {previous_seq}: records are out of order or repeated"
            ),
        );
    }
    let first_missing = previous_seq.saturating_add(1).saturating_add(skipped);
    if seq > first_missing {
        let last_missing = seq.saturating_sub(1);
        let what = if first_missing == last_missing {
            format!("the record with seq {first_missing} is missing")
        } else {
            format!("the records with seq {first_missing} to {last_missing} are missing")
        };
        return (ProblemKind::Removed, format!("{what}: removed"));
    }
    (
        ProblemKind::Edited,
        format!(
            "it does not link to the record before it (seq {previous_seq}): that record was \
             rewritten or replaced"
        ),
    )
}

/// The hashes of the last [`RECENT_HASHES`] records and where they are.
#[derive(Default)]
struct Recent {
    places: HashMap<String, Option<Location>>,
    order: VecDeque<String>,
}

impl Recent {
    fn insert(&mut self, hash: String, at: Option<Location>) {
        if self.order.len() >= RECENT_HASHES {
            if let Some(oldest) = self.order.pop_front() {
                self.places.remove(&oldest);
            }
        }
        self.order.push_back(hash.clone());
        self.places.insert(hash, at);
    }

    fn get(&self, hash: &str) -> Option<Option<&Location>> {
        self.places.get(hash).map(Option::as_ref)
    }
}

/// A line of one of the files.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Location {
    file: PathBuf,
    line: u64,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

struct Line {
    location: Location,
    /// Without the newline; empty when `too_long`.
    bytes: Vec<u8>,
    /// False when the file ended before a newline.
    complete: bool,
    /// Longer than [`MAX_LINE_BYTES`]: skipped.
    too_long: bool,
}

/// The lines of several files, in order.
struct Lines<'a> {
    paths: &'a [PathBuf],
    /// The file being read: its index and reader.
    current: Option<(usize, BufReader<File>)>,
    next_file: usize,
    line: u64,
    /// Bytes read from the current file.
    offset: u64,
}

impl<'a> Lines<'a> {
    fn new(paths: &'a [PathBuf]) -> Lines<'a> {
        Lines {
            paths,
            current: None,
            next_file: 0,
            line: 0,
            offset: 0,
        }
    }

    fn next_line(&mut self) -> Result<Option<Line>, VerifyError> {
        loop {
            if self.current.is_none() {
                let Some(path) = self.paths.get(self.next_file) else {
                    return Ok(None);
                };
                let file = File::open(path).map_err(|source| read_error(path, source))?;
                self.current = Some((self.next_file, BufReader::new(file)));
                self.next_file += 1;
                self.line = 0;
                self.offset = 0;
            }
            let Some((index, reader)) = self.current.as_mut() else {
                continue;
            };
            let path = &self.paths[*index];
            let mut bytes = Vec::new();
            let read = Read::by_ref(reader)
                .take(MAX_LINE_BYTES.saturating_add(1))
                .read_until(b'\n', &mut bytes)
                .map_err(|source| read_error(path, source))?;
            if read == 0 {
                self.current = None;
                continue;
            }
            self.line += 1;
            self.offset = self.offset.saturating_add(read as u64);
            let mut complete = bytes.last() == Some(&b'\n');
            let too_long = !complete && read as u64 > MAX_LINE_BYTES;
            if too_long {
                bytes = Vec::new();
                let skipped = skip_line(reader).map_err(|source| read_error(path, source))?;
                self.offset = self.offset.saturating_add(skipped.0);
                complete = skipped.1;
            } else if complete {
                bytes.pop();
            }
            return Ok(Some(Line {
                location: Location {
                    file: path.clone(),
                    line: self.line,
                },
                bytes,
                complete,
                too_long,
            }));
        }
    }

    /// Reads on (from where this reader is, leaving it there) to find the record whose
    /// `prev` is `hash`: the record that should have come next, when it was moved further
    /// down.
    fn find_successor(&self, hash: &str) -> Result<Option<Location>, VerifyError> {
        let mut ahead = Lines {
            paths: self.paths,
            current: None,
            next_file: self.next_file,
            line: self.line,
            offset: self.offset,
        };
        if let Some((index, _)) = &self.current {
            let path = &self.paths[*index];
            let mut file = File::open(path).map_err(|source| read_error(path, source))?;
            file.seek(SeekFrom::Start(self.offset))
                .map_err(|source| read_error(path, source))?;
            ahead.current = Some((*index, BufReader::new(file)));
        }
        while let Some(line) = ahead.next_line()? {
            if prev_of(&line.bytes).as_deref() == Some(hash) {
                return Ok(Some(line.location));
            }
        }
        Ok(None)
    }
}

/// Skips to the end of the line: the bytes skipped and whether a newline ended them.
fn skip_line(reader: &mut BufReader<File>) -> std::io::Result<(u64, bool)> {
    let mut skipped = 0u64;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok((skipped, false));
        }
        if let Some(newline) = buf.iter().position(|b| *b == b'\n') {
            reader.consume(newline + 1);
            return Ok((skipped.saturating_add(newline as u64 + 1), true));
        }
        let len = buf.len();
        reader.consume(len);
        skipped = skipped.saturating_add(len as u64);
    }
}

fn read_error(path: &Path, source: std::io::Error) -> VerifyError {
    VerifyError::Read {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::super::chain::ChainHead;
    use super::*;

    /// Six sealed records, as lines without newlines.
    fn chain() -> Vec<String> {
        let mut head = ChainHead::genesis();
        (1..=6)
            .map(|n| {
                let mut line = format!("{{\"id\":\"r{n}\",\"decision\":\"deny\"");
                head.seal(&mut line);
                line.trim_end().to_owned()
            })
            .collect()
    }

    /// Verifies `lines` written to a file (each with a newline, unless `cut`).
    fn verify_lines(name: &str, lines: &[String], cut: bool) -> ChainReport {
        let path = std::env::temp_dir().join(format!(
            "rampart-verify-{name}-{}.jsonl",
            std::process::id()
        ));
        let mut text = lines.join("\n");
        if !cut {
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let report =
            verify_files(std::slice::from_ref(&path), None).unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_file(&path);
        report
    }

    fn problem(report: &ChainReport) -> (u64, ProblemKind) {
        let problem = report.problem();
        problem.map_or((0, ProblemKind::Edited), |p| (p.line, p.kind))
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let report = verify_lines("intact", &chain(), false);
        assert_eq!(report.problem(), None);
        assert_eq!(report.records, 6);
        assert_eq!(
            report.first.map(|f| (f.seq, f.hash)),
            Some((1, GENESIS.into()))
        );
        assert_eq!(report.last.map(|l| l.seq), Some(6));
    }

    fn problems(report: &ChainReport) -> Vec<(u64, ProblemKind)> {
        report.problems.iter().map(|p| (p.line, p.kind)).collect()
    }

    #[test]
    fn each_kind_of_tampering_is_named_once_at_its_line() {
        use ProblemKind::*;
        let mut edited = chain();
        edited[2] = edited[2].replace("deny", "allow");
        let report = verify_lines("edit", &edited, false);
        assert_eq!(problems(&report), vec![(3, Edited)]);
        // The records after it still verify.
        assert_eq!(report.last.map(|l| l.seq), Some(6));

        let mut removed = chain();
        removed.remove(3);
        let report = verify_lines("remove", &removed, false);
        assert_eq!(problems(&report), vec![(4, Removed)]);
        assert_eq!(report.records, 5);

        let mut swapped = chain();
        swapped.swap(1, 2);
        let report = verify_lines("swap", &swapped, false);
        assert_eq!(problems(&report), vec![(2, Reordered)]);

        let mut moved = chain();
        let last = moved.remove(5);
        moved.insert(0, last);
        let report = verify_lines("move", &moved, false);
        assert_eq!(problems(&report), vec![(1, Removed)]);

        let mut cut = chain();
        let half = cut[5].len() / 2;
        cut[5].truncate(half);
        let report = verify_lines("cut", &cut, true);
        assert_eq!(problems(&report), vec![(6, Truncated)]);
        let report = verify_lines("cut-line", &cut, false);
        assert_eq!(problems(&report), vec![(6, BadJson)]);

        let mut dropped_first = chain();
        dropped_first.remove(0);
        let report = verify_lines("head", &dropped_first, false);
        assert_eq!(problems(&report), vec![(1, Removed)]);

        let mut blank = chain();
        blank.insert(2, String::new());
        let report = verify_lines("blank", &blank, false);
        assert_eq!(problems(&report), vec![(3, BadJson)]);

        // A record replaced by garbage: the garbage is the one problem.
        let mut garbage = chain();
        garbage[2] = "not a record".to_owned();
        let report = verify_lines("garbage", &garbage, false);
        assert_eq!(problems(&report), vec![(3, BadJson)]);
    }

    #[test]
    fn verification_goes_on_past_a_cut_off_line() {
        // F9: a torn line used to end verification, hiding any edit after it.
        let mut lines = chain();
        let half = lines[2].len() / 2;
        lines[2].truncate(half);
        lines[4] = lines[4].replace("deny", "allow");
        let report = verify_lines("torn-then-edit", &lines, false);
        assert_eq!(
            problems(&report),
            vec![(3, ProblemKind::BadJson), (5, ProblemKind::Edited)]
        );
        assert!(report.is_tampered());
        // A later record removed is found too.
        let mut lines = chain();
        lines[1].truncate(10);
        lines.remove(4);
        let report = verify_lines("torn-then-remove", &lines, false);
        assert_eq!(
            problems(&report),
            vec![(2, ProblemKind::BadJson), (5, ProblemKind::Removed)]
        );
    }

    #[test]
    fn an_endless_line_is_skipped_without_holding_it() {
        let lines = chain();
        let path =
            std::env::temp_dir().join(format!("rampart-verify-long-{}.jsonl", std::process::id()));
        let mut text = lines[..2].join("\n");
        text.push('\n');
        text.push_str(&"x".repeat(MAX_LINE_BYTES as usize + 10));
        text.push('\n');
        text.push_str(&lines[2..].join("\n"));
        text.push('\n');
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let report =
            verify_files(std::slice::from_ref(&path), None).unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_file(&path);
        assert_eq!(problems(&report), vec![(3, ProblemKind::BadJson)]);
        assert!(report.problems[0].message.contains("longer than"));
        assert_eq!(report.records, 6);
    }

    #[test]
    fn the_problems_listed_are_capped() {
        let mut lines = chain();
        let last = lines.pop().unwrap_or_default();
        for _ in 0..(MAX_PROBLEMS + 5) {
            lines.push(String::new());
        }
        lines.push(last);
        let report = verify_lines("many", &lines, false);
        assert_eq!(report.problems.len(), MAX_PROBLEMS);
        assert_eq!(report.more_problems, 5);
    }

    #[test]
    fn a_record_rewritten_with_a_fresh_hash_breaks_the_next_link() {
        // Forge record 3: change it and seal it again on top of record 2.
        let lines = chain();
        let mut head = ChainHead::genesis();
        let mut forged: Vec<String> = Vec::new();
        for (n, line) in lines.iter().enumerate().take(2) {
            let mut body = format!("{{\"id\":\"r{}\",\"decision\":\"deny\"", n + 1);
            head.seal(&mut body);
            assert_eq!(body.trim_end(), line);
            forged.push(line.clone());
        }
        let mut body = "{\"id\":\"r3\",\"decision\":\"allow\"".to_owned();
        head.seal(&mut body);
        forged.push(body.trim_end().to_owned());
        forged.extend(lines[3..].iter().cloned());
        let report = verify_lines("forge", &forged, false);
        assert_eq!(problem(&report), (4, ProblemKind::Edited));
        let message = report
            .problem()
            .map(|p| p.message.clone())
            .unwrap_or_default();
        assert!(message.contains("rewritten or replaced"), "{message}");
    }

    #[test]
    fn a_start_hash_must_be_a_hash() {
        let error = verify_files(&[], Some("xyz"));
        assert!(matches!(error, Err(VerifyError::BadStart(_))));
    }
}
