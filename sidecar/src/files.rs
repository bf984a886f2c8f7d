//! Reading the data files a policy is served with (the key set, the entities, a bundle):
//! regular files only, of bounded size, and never blocking.
//!
//! **Key design decision:** a file is opened first and checked afterwards, on the handle:
//! the open does not block (`O_NONBLOCK`, so a FIFO put in the file's place cannot wedge the
//! reader waiting for a writer), the handle's own metadata must say "regular file" (FIFOs,
//! sockets and devices such as `/dev/zero` are refused), and at most `limit` bytes are read
//! from it. Checking the path and then opening it would leave a window in which the file
//! can be swapped. What a read can still wait on (a hung network file system) is bounded by
//! the reload's timeout (`reload`).

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The largest entities or bundle file a sidecar reads (256 MiB).
pub const MAX_DATA_FILE_BYTES: u64 = 256 << 20;

/// Why a data file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("`{path}` is not a regular file")]
    NotRegular { path: String },
    #[error("`{path}` is larger than {limit}")]
    TooLarge { path: String, limit: String },
    #[error("`{path}` is not UTF-8 text")]
    NotUtf8 { path: String },
}

impl ReadError {
    /// True when the file does not exist.
    pub fn is_missing(&self) -> bool {
        matches!(self, ReadError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Reads a regular file of at most `limit` bytes as UTF-8 text.
pub fn read_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    let bytes = read_bytes(path, limit)?;
    String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8 {
        path: path.display().to_string(),
    })
}

/// Reads a regular file of at most `limit` bytes.
pub fn read_bytes(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let shown = || path.display().to_string();
    let io = |source| ReadError::Io {
        path: shown(),
        source,
    };
    let file = open_nonblocking(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular { path: shown() });
    }
    let too_large = || ReadError::TooLarge {
        path: shown(),
        limit: size_text(limit),
    };
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The file may grow after the metadata was read: one byte over the limit is enough to
    // know.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

/// `1 MiB`, `256 MiB`, or a number of bytes.
fn size_text(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("rampart-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        dir
    }

    #[test]
    fn regular_files_are_read_within_their_limit() {
        let dir = scratch("regular");
        let path = dir.join("data.json");
        std::fs::write(&path, "[1, 2]").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_text(&path, 6).ok().as_deref(), Some("[1, 2]"));
        let error = read_text(&path, 5).err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(format!("`{}` is larger than 5 bytes", path.display()).as_str())
        );
        let missing = read_text(&dir.join("gone.json"), 5);
        assert!(
            missing.as_ref().is_err_and(ReadError::is_missing),
            "{missing:?}"
        );
        std::fs::write(&path, [0xff, 0xfe]).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            read_text(&path, 5),
            Err(ReadError::NotUtf8 { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_a_device_is_refused_without_blocking() {
        let dir = scratch("fifo");
        let fifo = dir.join("jwks.json");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(made.success());
        // No writer ever opens the FIFO: a blocking open would never return.
        let (sender, received) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            let _ = sender.send(read_text(&path, 1 << 20).map_err(|e| e.to_string()));
        });
        let answer = received
            .recv_timeout(std::time::Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("reading a FIFO blocked"));
        assert_eq!(
            answer.err(),
            Some(format!("`{}` is not a regular file", fifo.display()))
        );
        let device = read_bytes(Path::new("/dev/zero"), 1 << 20).map_err(|e| e.to_string());
        assert_eq!(
            device.err().as_deref(),
            Some("`/dev/zero` is not a regular file")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
