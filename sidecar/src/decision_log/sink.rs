//! The file side of the decision log: appending sealed records, picking the chain up where
//! an earlier run left it, and rotating by size.
//!
//! Rotation renames `FILE` to `FILE.1` (`FILE.1` to `FILE.2`, …, dropping the oldest beyond
//! the number kept) and starts a new `FILE`; the chain runs on, so the first record of the
//! new file links to the last record of `FILE.1`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::chain::{read_sealed, ChainHead};

/// The write buffer: a batch of records (about a millisecond's worth under load) goes out
/// in one `write`.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// The largest record the tail of a log is searched back for when the chain is picked up.
const MAX_TAIL_BYTES: u64 = 64 << 20;

/// When to rotate the decision log and how many rotated files to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate before a record would make the file larger than this.
    pub max_bytes: u64,
    /// Rotated files kept (`FILE.1` … `FILE.N`); older ones are deleted. 0 keeps none.
    pub keep: usize,
}

/// An open decision log: the current file and the head of the chain.
pub struct LogFile {
    path: PathBuf,
    rotation: Option<Rotation>,
    out: BufWriter<File>,
    /// Bytes in the current file, including what is buffered.
    size: u64,
    head: ChainHead,
}

impl LogFile {
    /// Opens (creating or appending to) `path` and finds the head of the chain: the last
    /// record of the file or, when the file is empty, of `FILE.1`. A last line cut off by a
    /// crash is left in place and closed with a newline (`rampart log verify` reports it);
    /// the chain goes on from the last complete record. Notes go to standard error.
    pub fn open(path: &Path, rotation: Option<Rotation>) -> io::Result<LogFile> {
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        let tail = read_tail(&mut file)?;
        let mut size = file.metadata()?.len();
        let mut head = None;
        if tail.partial {
            eprintln!(
                "rampart serve: the decision log `{}` ends with an incomplete record; \
                 the chain goes on from the last complete one",
                path.display()
            );
            file.write_all(b"\n")?;
            size = size.saturating_add(1);
        }
        if let Some(line) = &tail.last_line {
            head = head_of(path, line);
        } else if let Some(line) = read_last_line(&rotated_path(path, 1))? {
            head = head_of(&rotated_path(path, 1), &line);
        }
        Ok(LogFile {
            path: path.to_path_buf(),
            rotation,
            out: BufWriter::with_capacity(WRITE_BUFFER_BYTES, file),
            size,
            head: head.unwrap_or_else(ChainHead::genesis),
        })
    }

    /// Seals a record (a JSON object without its closing brace) and writes it, rotating
    /// first when it would not fit.
    pub fn append(&mut self, body: &mut Vec<u8>) -> io::Result<()> {
        self.head.seal_bytes(body);
        let len = body.len() as u64;
        if let Some(rotation) = self.rotation {
            if self.size > 0 && self.size.saturating_add(len) > rotation.max_bytes {
                if let Err(error) = self.rotate(rotation) {
                    eprintln!(
                        "rampart serve: cannot rotate the decision log `{}`: {error}",
                        self.path.display()
                    );
                    // Try again once another `max_bytes` have been written.
                    self.size = 0;
                }
            }
        }
        self.out.write_all(body)?;
        self.size = self.size.saturating_add(len);
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Renames the files one step down and opens a new `FILE`. On failure records go on
    /// into the file open now (renamed or not): nothing is lost.
    fn rotate(&mut self, rotation: Rotation) -> io::Result<()> {
        self.out.flush()?;
        if rotation.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            let oldest = rotated_path(&self.path, rotation.keep);
            if oldest.exists() {
                std::fs::remove_file(&oldest)?;
            }
            for n in (1..rotation.keep).rev() {
                let from = rotated_path(&self.path, n);
                if from.exists() {
                    std::fs::rename(&from, rotated_path(&self.path, n + 1))?;
                }
            }
            std::fs::rename(&self.path, rotated_path(&self.path, 1))?;
        }
        // The old handle still writes to the renamed file until the new one is open.
        self.size = 0;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.out = BufWriter::with_capacity(WRITE_BUFFER_BYTES, file);
        Ok(())
    }
}

/// `FILE.n`.
pub fn rotated_path(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// The chain head stated by the last record of a log, or `None` (with a note) when that
/// line is not a sealed record: a new chain starts.
fn head_of(path: &Path, line: &[u8]) -> Option<ChainHead> {
    match read_sealed(line) {
        Ok(record) => Some(ChainHead {
            seq: record.seq,
            hash: record.hash,
        }),
        Err(_) => {
            eprintln!(
                "rampart serve: the last line of `{}` is not a sound chained record; \
                 a new chain starts",
                path.display()
            );
            None
        }
    }
}

/// The end of a log file.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tail {
    /// The last line that ends with a newline (without it).
    last_line: Option<Vec<u8>>,
    /// The file ends with bytes that are not followed by a newline.
    partial: bool,
}

/// The last complete line of the file at `path`, if the file exists.
fn read_last_line(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match File::open(path) {
        Ok(mut file) => Ok(read_tail(&mut file)?.last_line),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Reads the end of a file back to the start of its last complete line.
fn read_tail(file: &mut File) -> io::Result<Tail> {
    let len = file.metadata()?.len();
    let mut window = 64 * 1024u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        Read::by_ref(file).take(len - start).read_to_end(&mut buf)?;
        if let Some(tail) = tail_of(&buf, start == 0) {
            return Ok(tail);
        }
        if window >= MAX_TAIL_BYTES {
            return Err(io::Error::other(format!(
                "the last record is larger than {MAX_TAIL_BYTES} bytes"
            )));
        }
        window = window.saturating_mul(4);
    }
}

/// The tail within the last bytes of a file, or `None` when `buf` does not reach back far
/// enough to hold the whole last line (`whole_file` is false).
fn tail_of(buf: &[u8], whole_file: bool) -> Option<Tail> {
    let partial = buf.last().is_some_and(|b| *b != b'\n');
    let Some(end) = buf.iter().rposition(|b| *b == b'\n') else {
        // No newline at all: everything is one partial line (or nothing).
        return whole_file.then_some(Tail {
            last_line: None,
            partial,
        });
    };
    let start = match buf[..end].iter().rposition(|b| *b == b'\n') {
        Some(newline) => newline + 1,
        None if whole_file => 0,
        None => return None,
    };
    Some(Tail {
        last_line: Some(buf[start..end].to_vec()),
        partial,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_the_last_complete_line_and_whether_a_partial_one_follows() {
        assert_eq!(tail_of(b"", true), Some(Tail::default()));
        let tail = tail_of(b"a\nbb\n", true);
        assert_eq!(
            tail,
            Some(Tail {
                last_line: Some(b"bb".to_vec()),
                partial: false
            })
        );
        let tail = tail_of(b"a\nbb\ncc", true);
        assert_eq!(
            tail,
            Some(Tail {
                last_line: Some(b"bb".to_vec()),
                partial: true
            })
        );
        assert_eq!(
            tail_of(b"only\n", true).and_then(|t| t.last_line),
            Some(b"only".to_vec())
        );
        // A window that starts inside the last line must grow.
        assert_eq!(tail_of(b"only\n", false), None);
        assert_eq!(
            tail_of(b"cut", true),
            Some(Tail {
                last_line: None,
                partial: true
            })
        );
    }

    #[test]
    fn rotated_files_take_a_numeric_suffix() {
        let path = Path::new("/var/log/decisions.jsonl");
        assert_eq!(
            rotated_path(path, 2),
            PathBuf::from("/var/log/decisions.jsonl.2")
        );
    }
}
