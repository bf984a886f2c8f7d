//! Resident memory of this process, from `/proc/self/statm` (Linux).

use std::fs;

/// Page size used when the kernel's cannot be read.
const DEFAULT_PAGE_SIZE: u64 = 4096;
/// `AT_PAGESZ` in the ELF auxiliary vector.
const AT_PAGESZ: u64 = 6;

/// Resident set size in bytes; `None` where `/proc` is not available.
pub fn resident_bytes() -> Option<u64> {
    let statm = fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages.saturating_mul(page_size()))
}

/// The kernel's page size, read from the auxiliary vector (`/proc/self/auxv`, pairs of
/// native-endian words); 4 KiB when it cannot be read.
pub fn page_size() -> u64 {
    fs::read("/proc/self/auxv")
        .ok()
        .and_then(|bytes| page_size_from_auxv(&bytes))
        .unwrap_or(DEFAULT_PAGE_SIZE)
}

fn page_size_from_auxv(bytes: &[u8]) -> Option<u64> {
    const WORD: usize = std::mem::size_of::<usize>();
    let word = |chunk: &[u8]| -> Option<u64> {
        let array: [u8; WORD] = chunk.try_into().ok()?;
        u64::try_from(usize::from_ne_bytes(array)).ok()
    };
    bytes
        .chunks_exact(2 * WORD)
        .filter_map(|pair| Some((word(pair.get(..WORD)?)?, word(pair.get(WORD..)?)?)))
        .find(|(key, _)| *key == AT_PAGESZ)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_page_size_from_auxv_pairs() {
        let mut auxv = Vec::new();
        for (key, value) in [(3_usize, 99_usize), (6, 16384), (0, 0)] {
            auxv.extend_from_slice(&key.to_ne_bytes());
            auxv.extend_from_slice(&value.to_ne_bytes());
        }
        assert_eq!(page_size_from_auxv(&auxv), Some(16384));
        assert_eq!(page_size_from_auxv(&[]), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn resident_memory_is_positive_on_linux() {
        assert!(resident_bytes().is_some_and(|b| b > 0));
        assert!(page_size() >= 4096);
    }
}
