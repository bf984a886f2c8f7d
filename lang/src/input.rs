//! Reading inputs within a size limit: policy files here, and every file the CLI reads
//! (requests, entities, bundles, configuration).
//!
//! **Key design decision:** a limit is enforced on the bytes read, not on the size a file
//! claims. Reading goes through `Read::take(limit + 1)`, so a file that grows while it is
//! read, or a device such as `/dev/zero` that claims to be empty, never makes memory grow
//! past the limit. Only regular files are opened: a FIFO would block on `open`, a device
//! never ends. Text inputs may start with a UTF-8 byte order mark, which is ignored.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

/// The UTF-8 byte order mark some editors write at the start of a file.
pub const BOM: char = '\u{feff}';

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("not a regular file")]
    NotAFile,
    #[error("larger than the {} limit", size(*.limit))]
    TooLarge { limit: u64 },
    #[error("not valid UTF-8 (at byte {at})")]
    NotUtf8 { at: usize },
}

/// Reads the regular file at `path`, at most `limit` bytes.
pub fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    // `metadata` follows symbolic links without opening: a FIFO is refused before `open`
    // could block on it.
    let meta = fs::metadata(path)?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile);
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge { limit });
    }
    let file = File::open(path)?;
    // The path may have been replaced between the two looks.
    if !file.metadata()?.is_file() {
        return Err(ReadError::NotAFile);
    }
    read_stream(file, limit)
}

/// Reads a stream (standard input) to its end, at most `limit` bytes.
pub fn read_stream(reader: impl Read, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(bytes)
}

/// [`read_file`] as UTF-8 text, without a leading byte order mark.
pub fn read_text_file(path: &Path, limit: u64) -> Result<String, ReadError> {
    decode(read_file(path, limit)?)
}

/// [`read_stream`] as UTF-8 text, without a leading byte order mark.
pub fn read_text_stream(reader: impl Read, limit: u64) -> Result<String, ReadError> {
    decode(read_stream(reader, limit)?)
}

/// Bytes as UTF-8 text, without a leading byte order mark.
pub fn decode(bytes: Vec<u8>) -> Result<String, ReadError> {
    let text = String::from_utf8(bytes).map_err(|e| ReadError::NotUtf8 {
        at: e.utf8_error().valid_up_to(),
    })?;
    Ok(match text.strip_prefix(BOM) {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}

/// A limit as people read it: `4 MiB`, `512 KiB` or `100 bytes`.
pub fn size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes % KIB == 0 {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_stop_at_the_limit() {
        // An endless stream: memory stays at the limit.
        let endless = io::repeat(0);
        assert!(matches!(
            read_stream(endless, 1024),
            Err(ReadError::TooLarge { limit: 1024 })
        ));
        assert_eq!(read_stream(&b"abc"[..], 3).unwrap(), b"abc");
        assert!(read_stream(&b"abcd"[..], 3).is_err());
    }

    #[test]
    fn devices_and_folders_are_not_read() {
        #[cfg(unix)]
        assert!(matches!(
            read_file(Path::new("/dev/zero"), 10),
            Err(ReadError::NotAFile)
        ));
        assert!(matches!(
            read_file(Path::new(env!("CARGO_MANIFEST_DIR")), 10),
            Err(ReadError::NotAFile)
        ));
    }

    #[test]
    fn a_leading_byte_order_mark_is_ignored() {
        let text = read_text_stream(&b"\xef\xbb\xbf{}"[..], 100).unwrap();
        assert_eq!(text, "{}");
        let text = read_text_stream(&b"{}\xef\xbb\xbf"[..], 100).unwrap();
        assert_eq!(text, "{}\u{feff}");
        assert!(matches!(
            read_text_stream(&b"a\xffb"[..], 100),
            Err(ReadError::NotUtf8 { at: 1 })
        ));
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(size(4 * 1024 * 1024), "4 MiB");
        assert_eq!(size(512 * 1024), "512 KiB");
        assert_eq!(size(1000), "1000 bytes");
    }
}
