//! Reading a decision-log chain back and finding the first record that breaks it
//! (`rampart log verify`).
//!
//! Each line must be a sealed record whose hash matches its bytes (else it was edited, cut
//! off or is not a record at all), and whose `prev` is the hash of the line before (else a
//! record was removed, moved, or rewritten with a recomputed hash). Files are read as one
//! chain in the order given, so rotated files are verified oldest first:
//! `FILE.2 FILE.1 FILE`. Reading streams: memory does not grow with the log.
//!
//! What a hash chain cannot show: records removed from the very end (compare the last hash
//! with one kept elsewhere) and a whole log replaced by a forged chain.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::chain::{is_hash_hex, prev_of, read_sealed, LineFault, GENESIS};

/// What is wrong with the first broken record.
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
    /// The last line stops without a newline: the file was cut.
    Truncated,
    /// JSON, but not a chained record (no `seq`, `prev` and `hash` at its end).
    NotChained,
}

impl ProblemKind {
    /// The name used in reports: `edited`, `removed`, `reordered`, `bad_json`, `truncated`,
    /// `not_chained`.
    pub fn label(self) -> &'static str {
        match self {
            ProblemKind::Edited => "edited",
            ProblemKind::Removed => "removed",
            ProblemKind::Reordered => "reordered",
            ProblemKind::BadJson => "bad_json",
            ProblemKind::Truncated => "truncated",
            ProblemKind::NotChained => "not_chained",
        }
    }
}

/// The first record that breaks the chain.
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Records that verified, before the problem if there is one.
    pub records: u64,
    /// The first record's `seq` and `prev` (what the chain continues from).
    pub first: Option<ChainLink>,
    /// The last verified record's `seq` and `hash`: keep it elsewhere to detect records
    /// removed from the end later.
    pub last: Option<ChainLink>,
    /// The first break, if any.
    pub problem: Option<Problem>,
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

/// Verifies the files as one chain, in order. `start` is the hash the first record must
/// link to; without it, the first record must start a chain (`prev` of 64 zeros, `seq` 1).
pub fn verify_files(paths: &[PathBuf], start: Option<&str>) -> Result<ChainReport, VerifyError> {
    if let Some(start) = start.filter(|s| !is_hash_hex(s)) {
        return Err(VerifyError::BadStart(start.to_owned()));
    }
    let mut lines = Lines::new(paths);
    let mut report = ChainReport {
        records: 0,
        first: None,
        last: None,
        problem: None,
    };
    // The hash the next record must link to, and where the record holding it is.
    let mut expected_prev = start.unwrap_or(GENESIS).to_owned();
    let mut previous: Option<(u64, Location)> = None;
    while let Some(line) = lines.next_line()? {
        let at = line.location.clone();
        let fault = |kind: ProblemKind, message: String| Problem {
            file: at.file.clone(),
            line: at.line,
            kind,
            message,
        };
        if !line.complete {
            report.problem = Some(fault(
                ProblemKind::Truncated,
                "the line is cut off: it has no newline at its end".to_owned(),
            ));
            break;
        }
        let record = match read_sealed(&line.bytes) {
            Ok(record) => record,
            Err(LineFault::BadJson(message)) => {
                report.problem = Some(fault(ProblemKind::BadJson, format!("not JSON: {message}")));
                break;
            }
            Err(LineFault::NotSealed(message)) => {
                report.problem = Some(fault(
                    ProblemKind::NotChained,
                    format!("not a chained record: {message}"),
                ));
                break;
            }
            Err(LineFault::HashMismatch { .. }) => {
                report.problem = Some(fault(
                    ProblemKind::Edited,
                    "the record does not match its hash: it was edited".to_owned(),
                ));
                break;
            }
        };
        if record.prev != expected_prev {
            let (kind, message) = match &previous {
                None => first_link_broken(record.seq, start.is_some()),
                Some((seq, location)) => {
                    let moved = lines.find_successor(&expected_prev)?;
                    link_broken(record.seq, *seq, location, moved.as_ref())
                }
            };
            report.problem = Some(fault(kind, message));
            break;
        }
        if let Some((seq, _)) = &previous {
            if record.seq != seq.saturating_add(1) {
                report.problem = Some(fault(
                    ProblemKind::Edited,
                    format!(
                        "its seq {} does not follow seq {seq} of the record before: it was \
                         rewritten",
                        record.seq
                    ),
                ));
                break;
            }
        } else if start.is_none() && record.seq != 1 {
            report.problem = Some(fault(
                ProblemKind::Edited,
                format!("the first record of a chain has seq {}, not 1", record.seq),
            ));
            break;
        }
        report.records = report.records.saturating_add(1);
        if report.first.is_none() {
            report.first = Some(ChainLink {
                seq: record.seq,
                hash: record.prev.clone(),
            });
        }
        report.last = Some(ChainLink {
            seq: record.seq,
            hash: record.hash.clone(),
        });
        expected_prev = record.hash;
        previous = Some((record.seq, at));
    }
    Ok(report)
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
/// whether the record that should have come next appears later.
fn link_broken(
    seq: u64,
    previous_seq: u64,
    previous: &Location,
    moved: Option<&Location>,
) -> (ProblemKind, String) {
    if let Some(moved) = moved {
        return (
            ProblemKind::Reordered,
            format!(
                "the record that follows {previous} (seq {previous_seq}) is at {moved}: records \
                 are out of order"
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
    let first_missing = previous_seq.saturating_add(1);
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
            "it does not link to the record before it ({previous}): that record was rewritten \
             or replaced"
        ),
    )
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
    /// Without the newline.
    bytes: Vec<u8>,
    /// False when the file ended before a newline.
    complete: bool,
}

/// The lines of several files, in order.
struct Lines<'a> {
    paths: &'a [PathBuf],
    /// The file being read: its index and reader.
    current: Option<(usize, BufReader<File>)>,
    next_file: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    fn new(paths: &'a [PathBuf]) -> Lines<'a> {
        Lines {
            paths,
            current: None,
            next_file: 0,
            line: 0,
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
            }
            let Some((index, reader)) = self.current.as_mut() else {
                continue;
            };
            let path = &self.paths[*index];
            let mut bytes = Vec::new();
            let read = reader
                .read_until(b'\n', &mut bytes)
                .map_err(|source| read_error(path, source))?;
            if read == 0 {
                self.current = None;
                continue;
            }
            self.line += 1;
            let complete = bytes.last() == Some(&b'\n');
            if complete {
                bytes.pop();
            }
            return Ok(Some(Line {
                location: Location {
                    file: path.clone(),
                    line: self.line,
                },
                bytes,
                complete,
            }));
        }
    }

    /// Reads on to find the record whose `prev` is `hash`: the record that should have come
    /// next, when it was moved further down.
    fn find_successor(&mut self, hash: &str) -> Result<Option<Location>, VerifyError> {
        while let Some(line) = self.next_line()? {
            if prev_of(&line.bytes).as_deref() == Some(hash) {
                return Ok(Some(line.location));
            }
        }
        Ok(None)
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
        let problem = report.problem.as_ref();
        problem.map_or((0, ProblemKind::Edited), |p| (p.line, p.kind))
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let report = verify_lines("intact", &chain(), false);
        assert_eq!(report.problem, None);
        assert_eq!(report.records, 6);
        assert_eq!(
            report.first.map(|f| (f.seq, f.hash)),
            Some((1, GENESIS.into()))
        );
        assert_eq!(report.last.map(|l| l.seq), Some(6));
    }

    #[test]
    fn each_kind_of_tampering_is_named_at_its_line() {
        let mut edited = chain();
        edited[2] = edited[2].replace("deny", "allow");
        assert_eq!(
            problem(&verify_lines("edit", &edited, false)),
            (3, ProblemKind::Edited)
        );

        let mut removed = chain();
        removed.remove(3);
        let report = verify_lines("remove", &removed, false);
        assert_eq!(problem(&report), (4, ProblemKind::Removed));
        assert_eq!(report.records, 3);

        let mut swapped = chain();
        swapped.swap(1, 2);
        assert_eq!(
            problem(&verify_lines("swap", &swapped, false)),
            (2, ProblemKind::Reordered)
        );

        let mut moved = chain();
        let last = moved.remove(5);
        moved.insert(0, last);
        assert_eq!(
            problem(&verify_lines("move", &moved, false)),
            (1, ProblemKind::Removed)
        );

        let mut cut = chain();
        let half = cut[5].len() / 2;
        cut[5].truncate(half);
        assert_eq!(
            problem(&verify_lines("cut", &cut, true)),
            (6, ProblemKind::Truncated)
        );
        assert_eq!(
            problem(&verify_lines("cut-line", &cut, false)),
            (6, ProblemKind::BadJson)
        );

        let mut dropped_first = chain();
        dropped_first.remove(0);
        assert_eq!(
            problem(&verify_lines("head", &dropped_first, false)),
            (1, ProblemKind::Removed)
        );

        let mut blank = chain();
        blank.insert(2, String::new());
        assert_eq!(
            problem(&verify_lines("blank", &blank, false)),
            (3, ProblemKind::BadJson)
        );
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
        let message = report.problem.map(|p| p.message).unwrap_or_default();
        assert!(message.contains("rewritten or replaced"), "{message}");
    }

    #[test]
    fn a_start_hash_must_be_a_hash() {
        let error = verify_files(&[], Some("xyz"));
        assert!(matches!(error, Err(VerifyError::BadStart(_))));
    }
}
