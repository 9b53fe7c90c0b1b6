//! Small files Weir writes for itself (log start offsets, recovery points, broker metadata),
//! each guarded by a CRC-32 and replaced atomically: write a temporary file, fsync, rename, fsync
//! the directory. A torn or flipped file is reported as corrupt rather than believed.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::{Result, StorageError};

const MAGIC: &[u8; 4] = b"WEIR";

/// Writes `payload` to `path` atomically and durably.
pub fn write(path: &Path, payload: &[u8]) -> Result<()> {
    write_with(path, payload, Sync::All)
}

/// [`write`] without the fsyncs: for files whose loss or tearing in a crash is harmless (a
/// producer snapshot: a torn one fails its CRC and is rebuilt from the log), made durable by
/// the caller's later `syncfs`.
pub fn write_unsynced(path: &Path, payload: &[u8]) -> Result<()> {
    write_with(path, payload, Sync::None)
}

/// [`write`] without the directory's fsync: after a crash the file holds the new payload or the
/// old one, each whole (the new file is synced before it replaces the old). For values whose
/// previous version stays true, such as a recovery point, which only grows between the
/// truncations that lower it durably: an older one only makes recovery re-check more.
pub fn write_replacing(path: &Path, payload: &[u8]) -> Result<()> {
    write_with(path, payload, Sync::File)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sync {
    /// The file, then its directory after the rename.
    All,
    File,
    None,
}

fn write_with(path: &Path, payload: &[u8], sync: Sync) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut bytes = Vec::with_capacity(payload.len() + 12);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&crc32fast::hash(payload).to_be_bytes());
    bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    bytes.extend_from_slice(payload);
    let mut file = File::create(&tmp).map_err(StorageError::io("create", &tmp))?;
    file.write_all(&bytes).map_err(StorageError::io("write", &tmp))?;
    if sync != Sync::None {
        file.sync_all().map_err(StorageError::io("fsync", &tmp))?;
    }
    fs::rename(&tmp, path).map_err(StorageError::io("rename", path))?;
    if sync == Sync::All {
        sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    }
    Ok(())
}

/// Reads a file written by [`write`]; `Ok(None)` if it does not exist.
pub fn read(path: &Path) -> Result<Option<Vec<u8>>> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io("read", path)(e)),
    };
    let corrupt = |why: &str| StorageError::Corrupt { path: path.to_owned(), why: why.to_owned() };
    if bytes.len() < 12 || &bytes[..4] != MAGIC {
        return Err(corrupt("not a checkpoint file"));
    }
    let crc = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let len = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    let payload = &bytes[12..];
    if payload.len() != len {
        return Err(corrupt("length does not match"));
    }
    if crc32fast::hash(payload) != crc {
        return Err(corrupt("checksum does not match"));
    }
    Ok(Some(payload.to_vec()))
}

/// Reads an `i64` checkpoint, `default` if there is none.
pub fn read_i64(path: &Path, default: i64) -> Result<i64> {
    match read(path)? {
        None => Ok(default),
        Some(payload) => payload
            .try_into()
            .map(i64::from_be_bytes)
            .map_err(|_| StorageError::Corrupt { path: path.to_owned(), why: "not an i64".into() }),
    }
}

pub fn write_i64(path: &Path, value: i64) -> Result<()> {
    write(path, &value.to_be_bytes())
}

/// Makes a rename or file creation in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StorageError::io("fsync", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.checkpoint");
        assert_eq!(read(&path).unwrap(), None);
        write(&path, b"hello").unwrap();
        assert_eq!(read(&path).unwrap().as_deref(), Some(&b"hello"[..]));
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&path, bytes).unwrap();
        assert!(matches!(read(&path), Err(StorageError::Corrupt { .. })));
    }
}
