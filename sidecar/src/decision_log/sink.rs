//! The file side of the decision log: appending sealed records, picking the chain up where
//! an earlier run left it, and rotating by size.
//!
//! Records are sealed into a batch in memory and handed to the file in one `write`; a
//! write that fails (a full disk) or stops short keeps what is left of the batch, so the
//! next attempt goes on from the very byte where the last one stopped: a record is never
//! written twice or half, and no sealed record is lost while the process lives.
//!
//! Rotation renames `FILE` to `FILE.1` (`FILE.1` to `FILE.2`, …, dropping the oldest beyond
//! the number kept) and starts a new `FILE`; the chain runs on, so the first record of the
//! new file links to the last record of `FILE.1`.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
#[cfg(test)]
use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(test)]
use std::sync::Arc;

use super::chain::{read_sealed, ChainHead};
use super::event::{sha256_hex, Event, Torn};
use super::record::TimeText;

/// The batch size: a batch (about a millisecond's worth under load) goes out in one
/// `write`, and is written out when it grows past this.
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

/// An open decision log: the current file, the batch not yet written and the head of the
/// chain.
pub struct LogFile {
    path: PathBuf,
    rotation: Option<Rotation>,
    out: Output,
    /// Sealed records not yet handed to the file; the first `written` bytes of it are.
    pending: Vec<u8>,
    written: usize,
    /// Records in `pending`.
    pending_records: u64,
    /// Bytes in the current file, including what is pending.
    size: u64,
    /// Bytes were written since the last `sync`.
    unsynced: bool,
    head: ChainHead,
    /// `,"instance":"ID"` (the replica's `--instance-id`) added to every record before it
    /// is sealed; empty without one.
    instance: Vec<u8>,
}

impl LogFile {
    /// Opens (creating or appending to) `path` and finds the head of the chain: the last
    /// record of the file or, when the file is empty, of `FILE.1`. When the log does not
    /// end with a stop record (the run before was killed or crashed), a crash record is
    /// sealed first; a last line cut off by the crash is closed with a newline and left in
    /// place, its length and hash kept in that crash record. Notes go to standard error.
    #[cfg(test)]
    pub fn open(path: &Path, rotation: Option<Rotation>) -> io::Result<LogFile> {
        LogFile::open_as(path, rotation, None)
    }

    /// [`LogFile::open`] for the replica `instance`: every record it seals (the crash
    /// record included) carries `"instance":ID` as its last field before the chain fields.
    pub fn open_as(
        path: &Path,
        rotation: Option<Rotation>,
        instance: Option<&str>,
    ) -> io::Result<LogFile> {
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        LogFile::on(path, rotation, Output::file(file), instance)
    }

    /// [`LogFile::open`] on a device with `space` bytes free (a test's full disk):
    /// writes past it fail with ENOSPC, as a full file system's do.
    #[cfg(test)]
    pub fn open_limited(
        path: &Path,
        rotation: Option<Rotation>,
        space: Arc<AtomicU64>,
    ) -> io::Result<LogFile> {
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        let mut out = Output::file(file);
        out.space = Some(space);
        LogFile::on(path, rotation, out, None)
    }

    fn on(
        path: &Path,
        rotation: Option<Rotation>,
        mut out: Output,
        instance: Option<&str>,
    ) -> io::Result<LogFile> {
        let tail = read_tail(&mut out.file)?;
        let size = out.file.metadata()?.len();
        let last = match &tail.last_line {
            Some(line) => Some((path.to_path_buf(), line.clone())),
            None => read_last_line(&rotated_path(path, 1))?.map(|l| (rotated_path(path, 1), l)),
        };
        let mut head = None;
        let mut closed = true;
        if let Some((file, line)) = &last {
            let (found, stop) = head_of(file, line);
            head = found;
            closed = stop;
        }
        let mut log = LogFile {
            path: path.to_path_buf(),
            rotation,
            out,
            pending: Vec::with_capacity(WRITE_BUFFER_BYTES),
            written: 0,
            pending_records: 0,
            size,
            unsynced: false,
            head: head.unwrap_or_else(ChainHead::genesis),
            instance: instance_field(instance),
        };
        let torn = tail.partial.map(|bytes| Torn {
            bytes: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
        });
        if torn.is_some() {
            eprintln!(
                "rampart serve: the decision log `{}` ends with an incomplete record; \
                 a crash record notes it and the chain goes on from the last complete one",
                path.display()
            );
            log.pending.push(b'\n');
            log.size = log.size.saturating_add(1);
        } else if !closed {
            eprintln!(
                "rampart serve: the decision log `{}` does not end with a stop record \
                 (the sidecar was killed or crashed); a crash record notes it",
                path.display()
            );
        }
        if torn.is_some() || !closed {
            let mut body = Vec::new();
            let now = crate::state::now_ms();
            Event::Crash { torn }.write(&mut body, now, &mut TimeText::default());
            // Only pending: the writer thread writes it out.
            log.append_pending(&mut body);
        }
        Ok(log)
    }

    /// Seals a record (a JSON object without its closing brace) into the batch, rotating
    /// first when it would not fit, and writes the batch out once it is large. The record
    /// is kept even when that write fails: the error only says the batch is still pending
    /// (see [`LogFile::flush`]).
    pub fn append(&mut self, body: &mut Vec<u8>) -> io::Result<()> {
        body.extend_from_slice(&self.instance);
        self.head.seal_bytes(body);
        let len = body.len() as u64;
        let mut rotated = Ok(());
        if let Some(rotation) = self.rotation {
            if self.size > 0 && self.size.saturating_add(len) > rotation.max_bytes {
                rotated = self.rotate(rotation);
            }
        }
        self.push_sealed(body);
        rotated?;
        if self.pending.len() >= WRITE_BUFFER_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Seals a record into the batch without writing.
    fn append_pending(&mut self, body: &mut Vec<u8>) {
        body.extend_from_slice(&self.instance);
        self.head.seal_bytes(body);
        self.push_sealed(body);
    }

    fn push_sealed(&mut self, body: &[u8]) {
        self.pending.extend_from_slice(body);
        self.pending_records = self.pending_records.saturating_add(1);
        self.size = self.size.saturating_add(body.len() as u64);
    }

    /// Hands the pending batch to the file, going on from where an earlier attempt
    /// stopped. On error the rest stays pending for the next attempt.
    pub fn flush(&mut self) -> io::Result<()> {
        while let Some(rest) = self.pending.get(self.written..).filter(|r| !r.is_empty()) {
            match self.out.write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.written = self.written.saturating_add(n);
                    self.unsynced = true;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        self.pending.clear();
        self.written = 0;
        self.pending_records = 0;
        Ok(())
    }

    /// Makes what was written durable (`fdatasync`), if anything was written since the
    /// last time.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.unsynced {
            self.out.file.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// True when bytes were written but not synced.
    pub fn is_unsynced(&self) -> bool {
        self.unsynced
    }

    /// The `seq` of the last record sealed.
    pub fn head_seq(&self) -> u64 {
        self.head.seq
    }

    /// Records sealed but not yet (wholly) written.
    pub fn pending_records(&self) -> u64 {
        self.pending_records
    }

    /// Renames the files one step down and opens a new `FILE`. The pending batch is
    /// written (and synced) into the old file first; when that fails nothing is renamed.
    /// When a rename fails, records go on into the file open now (renamed or not): nothing
    /// is lost, and rotation is tried again once another `max_bytes` have been written.
    fn rotate(&mut self, rotation: Rotation) -> io::Result<()> {
        self.flush()?;
        self.sync()?;
        if let Err(error) = self.rename(rotation) {
            eprintln!(
                "rampart serve: cannot rotate the decision log `{}`: {error}",
                self.path.display()
            );
            self.size = 0;
        }
        Ok(())
    }

    fn rename(&mut self, rotation: Rotation) -> io::Result<()> {
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
        self.out.file = file;
        Ok(())
    }
}

/// The file records are written to.
struct Output {
    file: File,
    /// In tests: the bytes the device has free.
    #[cfg(test)]
    space: Option<Arc<AtomicU64>>,
}

impl Output {
    fn file(file: File) -> Output {
        Output {
            file,
            #[cfg(test)]
            space: None,
        }
    }

    #[cfg(not(test))]
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.file.write(bytes)
    }

    /// Writes what fits in the space left, then fails with ENOSPC.
    #[cfg(test)]
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let Some(space) = &self.space else {
            return self.file.write(bytes);
        };
        let free = usize::try_from(space.load(Ordering::SeqCst)).unwrap_or(usize::MAX);
        if free == 0 {
            const ENOSPC: i32 = 28;
            return Err(io::Error::from_raw_os_error(ENOSPC));
        }
        let n = self.file.write(&bytes[..bytes.len().min(free)])?;
        space.fetch_sub(n as u64, Ordering::SeqCst);
        Ok(n)
    }
}

/// The bytes `,"instance":ID` for a replica's instance id; none without one.
fn instance_field(instance: Option<&str>) -> Vec<u8> {
    let mut field = Vec::new();
    if let Some(id) = instance {
        field.extend_from_slice(b",\"instance\":");
        let _ = serde_json::to_writer(&mut field, id);
    }
    field
}

/// `FILE.n`.
pub fn rotated_path(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// The chain head stated by the last record of a log, and whether that record is a stop
/// record. When that line is not a sealed record (a partial write after a torn line, or a
/// log from an older version), the chain goes on from the last sealed record of the
/// file's last [`SCAN_BACK_BYTES`], or, when there is none, a new chain starts (with a
/// note either way).
fn head_of(path: &Path, line: &[u8]) -> (Option<ChainHead>, bool) {
    let head = |record: super::chain::SealedRecord| ChainHead {
        seq: record.seq,
        hash: record.hash,
    };
    match read_sealed(line) {
        Ok(record) => {
            let stop = matches!(record.event, Some(Ok(Event::Stop)));
            (Some(head(record)), stop)
        }
        Err(_) => match last_sealed(path) {
            Some(record) => {
                eprintln!(
                    "rampart serve: the last line of `{}` is not a sound chained record; \
                     the chain goes on from the record with seq {}",
                    path.display(),
                    record.seq
                );
                (Some(head(record)), false)
            }
            None => {
                eprintln!(
                    "rampart serve: the last line of `{}` is not a sound chained record; \
                     a new chain starts",
                    path.display()
                );
                (None, false)
            }
        },
    }
}

/// How far back from the end of a log the last sealed record is searched for when its
/// last line is not one.
const SCAN_BACK_BYTES: u64 = 1 << 20;

/// The last sealed record among the complete lines of the last [`SCAN_BACK_BYTES`] of the
/// file at `path`.
fn last_sealed(path: &Path) -> Option<super::chain::SealedRecord> {
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let start = len.saturating_sub(SCAN_BACK_BYTES);
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut buf = Vec::new();
    file.take(len - start).read_to_end(&mut buf).ok()?;
    let end = buf.iter().rposition(|b| *b == b'\n')?;
    buf.get(..end)?
        .split(|b| *b == b'\n')
        .rev()
        .find_map(|line| read_sealed(line).ok())
}

/// The end of a log file.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tail {
    /// The last line that ends with a newline (without it).
    last_line: Option<Vec<u8>>,
    /// The bytes the file ends with after its last newline, if any.
    partial: Option<Vec<u8>>,
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
    let after = buf
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |end| end + 1);
    let partial = (after < buf.len()).then(|| buf[after..].to_vec());
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
                partial: None
            })
        );
        let tail = tail_of(b"a\nbb\ncc", true);
        assert_eq!(
            tail,
            Some(Tail {
                last_line: Some(b"bb".to_vec()),
                partial: Some(b"cc".to_vec())
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
                partial: Some(b"cut".to_vec())
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
