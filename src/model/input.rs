//! Reading a file a user names (todo.toml, a plan file, a secret's `file =`, the state and its
//! journal): only a regular file, and only up to a limit. A FIFO would block the read forever
//! and `/dev/zero` would fill memory; both are refused at once, as values files are.

use std::io::Read;
use std::path::Path;

/// Limits, by what is read.
pub const SPEC_LIMIT: u64 = 16 << 20;
pub const PLAN_FILE_LIMIT: u64 = 256 << 20;
/// A Secret holds at most 1 MiB.
pub const SECRET_FILE_LIMIT: u64 = 1 << 20;
pub const STATE_LIMIT: u64 = 2 << 30;

/// The bytes of the regular file at `path` (symbolic links followed), at most `limit` of them.
/// A missing file keeps its `NotFound` kind.
pub fn read_regular(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a directory, FIFO, socket or device): todoplan reads only regular files",
        ));
    }
    if meta.len() > limit {
        return Err(std::io::Error::other(format!(
            "{} bytes, more than the {} MiB such a file may have",
            meta.len(),
            limit >> 20
        )));
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut data)?;
    if data.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "grew past the {} MiB such a file may have while it was read",
            limit >> 20
        )));
    }
    Ok(data)
}

/// [`read_regular`] as UTF-8 text.
pub fn read_regular_text(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read_regular(path, limit)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"hello").unwrap();
        assert_eq!(read_regular(&file, 10).unwrap(), b"hello");
        assert!(
            read_regular(&file, 3)
                .unwrap_err()
                .to_string()
                .contains("more than")
        );
        assert!(
            read_regular(dir.path(), 10)
                .unwrap_err()
                .to_string()
                .contains("not a regular file")
        );
        let zero = read_regular(Path::new("/dev/zero"), 10).unwrap_err();
        assert!(zero.to_string().contains("not a regular file"), "{zero}");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads a valid NUL-terminated path and touches no Rust memory.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        // Refused at once: opening it would wait for a writer forever.
        assert!(
            read_regular(&fifo, 10)
                .unwrap_err()
                .to_string()
                .contains("not a regular file")
        );
        assert_eq!(
            read_regular(&dir.path().join("missing"), 10)
                .unwrap_err()
                .kind(),
            std::io::ErrorKind::NotFound
        );
    }
}
