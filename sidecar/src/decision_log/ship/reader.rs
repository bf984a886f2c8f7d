//! Reading the chained decision log back for a sink: the file is the sink's durable
//! buffer.
//!
//! A [`Reader`] follows the log like `tail -F`: it reads complete lines from where it
//! stands, and when the file it reads was rotated away (`FILE` renamed to `FILE.1`) it reads
//! that file to its end and goes on with the file holding the next record of the chain. A
//! [`Cursor`] (the end offset, `seq` and `hash` of the last record a sink confirmed) is
//! enough to find its place again after a restart or a broken connection: the record is
//! looked for at that offset in `FILE`, `FILE.1`, …; when it is in none of them (rotated
//! away), reading resumes at the oldest record after it, and the records in between are
//! counted as lost to rotation.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::super::chain::GENESIS;
use super::super::sink::rotated_path;

/// The most rotated files looked at (`FILE.1` … `FILE.N`).
const MAX_ROTATED: usize = 1000;

/// Bytes read from the file at a time.
const READ_CHUNK: usize = 64 * 1024;

/// A sink's place in the chain: the last record it confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The offset just past that record's newline, in the file it was read from.
    pub offset: u64,
    pub seq: u64,
    pub hash: String,
}

impl Cursor {
    /// `{"offset":N,"seq":N,"hash":"…"}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({"offset": self.offset, "seq": self.seq, "hash": self.hash}).to_string()
    }

    /// Reads a cursor file's text; `None` when it is not one.
    pub fn from_json(text: &[u8]) -> Option<Cursor> {
        let value: serde_json::Value = serde_json::from_slice(text).ok()?;
        let hash = value.get("hash")?.as_str()?;
        if !super::super::chain::is_hash_hex(hash) {
            return None;
        }
        Some(Cursor {
            offset: value.get("offset")?.as_u64()?,
            seq: value.get("seq")?.as_u64()?,
            hash: hash.to_owned(),
        })
    }
}

/// One record read from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The line without its newline: the sealed record's exact bytes.
    pub bytes: Vec<u8>,
    pub seq: u64,
    pub hash: String,
    /// The offset just past its newline.
    pub end: u64,
}

impl Line {
    /// The cursor that stands on this record.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            offset: self.end,
            seq: self.seq,
            hash: self.hash.clone(),
        }
    }
}

/// Why lines were skipped instead of shipped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Skipped {
    /// Records rotated away (deleted) before they were read.
    pub rotated: u64,
    /// Lines longer than the longest record shipped.
    pub too_large: u64,
    /// Lines that are not sealed records (a line cut off by a crash).
    pub unsealed: u64,
}

/// Which file a handle reads, to notice that `FILE` was rotated under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    #[cfg(unix)]
    dev: u64,
    #[cfg(unix)]
    ino: u64,
}

fn file_id(meta: &std::fs::Metadata) -> FileId {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        FileId {}
    }
}

/// Follows a decision log for one sink.
pub struct Reader {
    path: PathBuf,
    max_line: usize,
    /// The file being read, which `path` (or a rotated name) held when it was opened.
    file: Option<(File, FileId)>,
    /// The offset of the next byte to read from `file` (past `partial`).
    offset: u64,
    /// Bytes after the last complete line read.
    partial: Vec<u8>,
    /// Skipping the rest of a line that is too long.
    skipping: bool,
    /// The last record read: what the next one links to.
    last: Option<(u64, String)>,
    pub skipped: Skipped,
}

impl Reader {
    /// A reader of the log at `path` that skips lines longer than `max_line`, placed at
    /// `cursor` (or at the oldest record kept, without one).
    pub fn new(path: &Path, max_line: usize, cursor: Option<&Cursor>) -> Reader {
        let mut reader = Reader {
            path: path.to_path_buf(),
            max_line,
            file: None,
            offset: 0,
            partial: Vec::new(),
            skipping: false,
            last: None,
            skipped: Skipped::default(),
        };
        reader.seek(cursor);
        reader
    }

    /// Places the reader just after the record of `cursor` (or at the start of the oldest
    /// file without one). When that record is in no file any more, the reader goes on at
    /// the first record after it that is, and counts those in between as rotated away.
    pub fn seek(&mut self, cursor: Option<&Cursor>) {
        self.file = None;
        self.offset = 0;
        self.partial.clear();
        self.skipping = false;
        self.last = cursor.map(|c| (c.seq, c.hash.clone()));
        let Some(cursor) = cursor else {
            return;
        };
        for path in self.candidates().into_iter().rev() {
            if ends_with_record(&path, cursor.offset, &cursor.hash) {
                if let Ok(file) = File::open(&path) {
                    if let Ok(meta) = file.metadata() {
                        self.file = Some((file, file_id(&meta)));
                        self.offset = cursor.offset;
                        return;
                    }
                }
            }
        }
        // Not found where it was: the successor search of the next read places the reader.
    }

    /// The log's files that exist, oldest first: `FILE.N` … `FILE.1`, `FILE`.
    fn candidates(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for n in 1..=MAX_ROTATED {
            let path = rotated_path(&self.path, n);
            if !path.exists() {
                break;
            }
            files.push(path);
        }
        files.reverse();
        files.push(self.path.clone());
        files
    }

    /// Reads complete records into `out` until about `max_bytes` are read or the log has
    /// no more for now. Lines that are not records are counted in [`Reader::skipped`].
    pub fn read(&mut self, max_bytes: usize, out: &mut Vec<Line>) -> io::Result<()> {
        let mut read = 0usize;
        let mut switched = 0;
        while read < max_bytes {
            if self.file.is_none() && !self.open_successor()? {
                return Ok(());
            }
            let got = self.read_chunk(out)?;
            read = read.saturating_add(got);
            if got > 0 {
                continue;
            }
            // At the end of the file: go on with the next one if it was rotated.
            if !self.was_rotated() {
                return Ok(());
            }
            // Rotation writes out the old file before renaming it: read what came last.
            while self.read_chunk(out)? > 0 {}
            self.file = None;
            self.offset = 0;
            self.partial.clear();
            self.skipping = false;
            switched += 1;
            if switched > MAX_ROTATED {
                return Ok(());
            }
        }
        Ok(())
    }

    /// True when the file being read is no longer `FILE`.
    fn was_rotated(&self) -> bool {
        let Some((_, id)) = &self.file else {
            return false;
        };
        match std::fs::metadata(&self.path) {
            Ok(meta) => file_id(&meta) != *id,
            Err(_) => true,
        }
    }

    /// Opens the file holding the record after the last one read: the oldest file whose
    /// first record comes after it (or, for a chain that started again, the current
    /// file). False when there is none yet.
    fn open_successor(&mut self) -> io::Result<bool> {
        let candidates = self.candidates();
        let Some((last_seq, last_hash)) = self.last.clone() else {
            // No position: the oldest file that exists.
            for path in candidates {
                if self.open_at_start(&path) {
                    return Ok(true);
                }
            }
            return Ok(false);
        };
        for path in &candidates {
            let Some((seq, prev)) = first_record(path) else {
                continue;
            };
            if seq > last_seq {
                if prev != last_hash && seq > last_seq.saturating_add(1) {
                    self.skipped.rotated = self
                        .skipped
                        .rotated
                        .saturating_add(seq - last_seq.saturating_add(1));
                }
                return Ok(self.open_at_start(path));
            }
        }
        // A chain that started again (the log was removed): its first record is in `FILE`.
        if let Some((seq, prev)) = first_record(&self.path) {
            if prev == GENESIS && seq == 1 && !ends_anywhere(&candidates, &last_hash) {
                eprintln!(
                    "rampart serve: the decision log `{}` starts a new chain; shipping it \
                     from its first record",
                    self.path.display()
                );
                return Ok(self.open_at_start(&self.path.clone()));
            }
        }
        Ok(false)
    }

    fn open_at_start(&mut self, path: &Path) -> bool {
        let Ok(file) = File::open(path) else {
            return false;
        };
        let Ok(meta) = file.metadata() else {
            return false;
        };
        self.file = Some((file, file_id(&meta)));
        self.offset = 0;
        self.partial.clear();
        self.skipping = false;
        true
    }

    /// Reads one chunk and takes the complete lines out of it; the bytes read.
    fn read_chunk(&mut self, out: &mut Vec<Line>) -> io::Result<usize> {
        let Some((file, _)) = self.file.as_mut() else {
            return Ok(0);
        };
        let start = self.offset.saturating_add(self.partial.len() as u64);
        file.seek(SeekFrom::Start(start))?;
        let mut chunk = vec![0u8; READ_CHUNK];
        let n = file.read(&mut chunk)?;
        chunk.truncate(n);
        let mut rest = chunk.as_slice();
        while let Some(newline) = rest.iter().position(|b| *b == b'\n') {
            let (head, tail) = rest.split_at(newline);
            rest = tail.get(1..).unwrap_or_default();
            let line_len = (self.partial.len() + head.len()) as u64;
            let end = self.offset.saturating_add(line_len).saturating_add(1);
            if self.skipping {
                self.skipping = false;
                self.partial.clear();
            } else {
                self.partial.extend_from_slice(head);
                let bytes = std::mem::take(&mut self.partial);
                self.take_line(bytes, end, out);
            }
            self.offset = end;
        }
        if self.skipping {
            self.offset = self.offset.saturating_add(rest.len() as u64);
        } else {
            self.partial.extend_from_slice(rest);
            if self.partial.len() > self.max_line {
                self.skipped.too_large = self.skipped.too_large.saturating_add(1);
                self.offset = self.offset.saturating_add(self.partial.len() as u64);
                self.partial.clear();
                self.skipping = true;
            }
        }
        Ok(n)
    }

    fn take_line(&mut self, bytes: Vec<u8>, end: u64, out: &mut Vec<Line>) {
        if bytes.len() > self.max_line {
            self.skipped.too_large = self.skipped.too_large.saturating_add(1);
            return;
        }
        let Some((seq, _prev, hash)) = chain_fields(&bytes) else {
            self.skipped.unsealed = self.skipped.unsealed.saturating_add(1);
            return;
        };
        self.last = Some((seq, hash.clone()));
        out.push(Line {
            bytes,
            seq,
            hash,
            end,
        });
    }
}

/// True when a record hashed `hash` ends (with its newline) at `offset` of one of the
/// files.
fn ends_anywhere(files: &[PathBuf], hash: &str) -> bool {
    files.iter().any(|path| {
        std::fs::metadata(path)
            .map(|m| ends_with_record(path, m.len(), hash))
            .unwrap_or(false)
    })
}

/// True when the line that ends (with its newline) just before `offset` in the file at
/// `path` is the record hashed `hash`.
fn ends_with_record(path: &Path, offset: u64, hash: &str) -> bool {
    let suffix = format!(",\"hash\":\"{hash}\"}}\n");
    let len = suffix.len() as u64;
    if offset < len {
        return false;
    }
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    if file.seek(SeekFrom::Start(offset - len)).is_err() {
        return false;
    }
    let mut buf = vec![0u8; suffix.len()];
    file.read_exact(&mut buf).is_ok() && buf == suffix.as_bytes()
}

/// The `seq` and `prev` of the first record of the file at `path`, when its first line
/// is complete and sealed.
fn first_record(path: &Path) -> Option<(u64, String)> {
    let file = File::open(path).ok()?;
    let mut buf = Vec::new();
    file.take(1 << 20).read_to_end(&mut buf).ok()?;
    let end = buf.iter().position(|b| *b == b'\n')?;
    let (seq, prev, _) = chain_fields(buf.get(..end)?)?;
    Some((seq, prev))
}

/// The `seq`, `prev` and `hash` a sealed line ends with
/// (`,"seq":N,"prev":"<hex>","hash":"<hex>"}`), read from its end without parsing the
/// rest. `None` for a line that does not end so. The hash is not checked here: the
/// receiver (or `rampart log verify` on what it wrote) does.
pub fn chain_fields(line: &[u8]) -> Option<(u64, String, String)> {
    let rest = line.strip_suffix(b"\"}")?;
    let (rest, hash) = split_hex_tail(rest)?;
    let rest = rest.strip_suffix(b"\",\"hash\":\"")?;
    let (rest, prev) = split_hex_tail(rest)?;
    let rest = rest.strip_suffix(b",\"prev\":\"")?;
    let digits = rest.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 20 {
        return None;
    }
    let (rest, seq) = rest.split_at(rest.len() - digits);
    rest.strip_suffix(b",\"seq\":")?;
    let seq = std::str::from_utf8(seq).ok()?.parse().ok()?;
    Some((seq, prev, hash))
}

/// Splits 64 lowercase hex digits off the end of `bytes`.
fn split_hex_tail(bytes: &[u8]) -> Option<(&[u8], String)> {
    let at = bytes.len().checked_sub(64)?;
    let (rest, hex) = bytes.split_at(at);
    let hex = std::str::from_utf8(hex).ok()?;
    super::super::chain::is_hash_hex(hex).then(|| (rest, hex.to_owned()))
}
