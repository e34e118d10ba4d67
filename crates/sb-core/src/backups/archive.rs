//! The backup archive: a zip of `data.db` (a snapshot of the database) and `storage/...` (the
//! local file storage), written and read with the `zip` crate on blocking threads.
//!
//! Reading is hostile-input safe: only `data.db` and regular files under `storage/` are
//! extracted, every entry name must be a relative path of plain components (no `..`, no
//! absolute or drive paths, no backslashes), symlinks are refused, and the entry count, each
//! entry's size and the total extracted size are capped while the bytes are copied (the sizes
//! an archive declares are not trusted).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;

/// The database's entry name.
pub(crate) const DB_ENTRY: &str = "data.db";
/// The folder of the local file storage inside the archive.
pub(crate) const STORAGE_ENTRY: &str = "storage";

/// Caps on what one archive may extract to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_entries: usize,
    /// Total bytes extracted, and also the most any single entry may hold.
    pub max_total: u64,
    /// Most bytes extracted per byte of archive (deflate itself cannot exceed ~1032:1, so a
    /// higher ratio means entries overlapping one compressed stream: a zip bomb).
    pub max_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_entries: 1_000_000, max_total: 1 << 40, max_ratio: 1100 }
    }
}

/// Writes the archive at `dest` from the database snapshot `db` and the storage folder
/// `storage` (skipped when missing). Hidden files and `object_store`'s in-flight temporary
/// files (`name#n`) are left out.
pub(crate) fn create(dest: &Path, db: &Path, storage: Option<&Path>) -> std::io::Result<()> {
    let mut zip = zip::ZipWriter::new(File::create_new(dest)?);
    add_file(&mut zip, DB_ENTRY, db)?;
    if let Some(root) = storage.filter(|p| p.is_dir()) {
        let mut files = Vec::new();
        walk(root, STORAGE_ENTRY, &mut files)?;
        for (name, path) in files {
            match add_file(&mut zip, &name, &path) {
                Ok(()) => {}
                // Deleted since the walk: it was not part of the data any more.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    tracing::debug!(file = %name, "file removed during the backup");
                }
                Err(e) => return Err(e),
            }
        }
    }
    zip.finish().map_err(std::io::Error::other)?.sync_all()
}

fn add_file(zip: &mut zip::ZipWriter<File>, name: &str, path: &Path) -> std::io::Result<()> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(len >= u64::from(u32::MAX));
    zip.start_file(name, options).map_err(std::io::Error::other)?;
    std::io::copy(&mut file, zip)?;
    Ok(())
}

/// Regular files under `dir` as (archive name, path), in a stable order.
fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        if name.starts_with('.') || name.contains('#') {
            continue;
        }
        let kind = entry.file_type()?;
        let archived = format!("{prefix}/{name}");
        if kind.is_dir() {
            walk(&entry.path(), &archived, out)?;
        } else if kind.is_file() {
            out.push((archived, entry.path()));
        }
    }
    Ok(())
}

/// Why an archive cannot be restored (the text is shown to the superuser).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ArchiveError {
    #[error("not a zip archive ({0})")]
    NotZip(String),
    #[error("the archive has no data.db")]
    MissingDb,
    #[error("data.db is not an SQLite database")]
    NotSqlite,
    #[error("unsafe entry name {0:?}")]
    UnsafeName(String),
    #[error("entry {0:?} is a symbolic link")]
    Symlink(String),
    #[error("the archive holds too many entries")]
    TooManyEntries,
    #[error("the archive expands beyond the allowed size")]
    TooLarge,
    #[error("reading the archive failed: {0}")]
    Io(String),
}

/// Extracts the archive at `archive` into the new folder `dest`: `dest/data.db` and
/// `dest/storage/...`; other entries (e.g. PocketBase's `auxiliary.db`) are skipped.
pub(crate) fn extract(archive: &Path, dest: &Path, limits: Limits) -> Result<(), ArchiveError> {
    let io = |e: std::io::Error| ArchiveError::Io(e.to_string());
    let file = File::open(archive).map_err(io)?;
    let archive_len = file.metadata().map_err(io)?.len();
    let mut zip = zip::ZipArchive::new(file).map_err(|e| ArchiveError::NotZip(e.to_string()))?;
    if zip.len() > limits.max_entries {
        return Err(ArchiveError::TooManyEntries);
    }
    let budget = limits.max_total.min(archive_len.saturating_mul(limits.max_ratio).max(1 << 20));
    let mut total = 0u64;
    let mut has_db = false;
    std::fs::create_dir_all(dest).map_err(io)?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| ArchiveError::NotZip(e.to_string()))?;
        let name =
            entry.name().map_err(|_| ArchiveError::UnsafeName("(not UTF-8)".into()))?.into_owned();
        let parts = safe_parts(&name).ok_or_else(|| ArchiveError::UnsafeName(name.clone()))?;
        if entry.is_symlink() {
            return Err(ArchiveError::Symlink(name));
        }
        let wanted = parts == [DB_ENTRY] || (parts.len() > 1 && parts[0] == STORAGE_ENTRY);
        if entry.is_dir() || !wanted {
            continue;
        }
        let mut target = dest.to_path_buf();
        for p in &parts {
            target.push(p);
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut out = File::create_new(&target).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                ArchiveError::UnsafeName(name.clone())
            } else {
                io(e)
            }
        })?;
        let left = budget - total;
        let copied = copy_capped(&mut entry, &mut out, left).map_err(io)?;
        if copied > left {
            return Err(ArchiveError::TooLarge);
        }
        total += copied;
        if parts == [DB_ENTRY] {
            has_db = true;
        }
    }
    if !has_db {
        return Err(ArchiveError::MissingDb);
    }
    let mut header = [0u8; 16];
    let read = File::open(dest.join(DB_ENTRY)).and_then(|mut f| f.read_exact(&mut header));
    if read.is_err() || &header != b"SQLite format 3\0" {
        return Err(ArchiveError::NotSqlite);
    }
    Ok(())
}

/// Copies at most `cap + 1` bytes (one more than allowed tells the caller the cap was passed).
fn copy_capped(from: &mut impl Read, to: &mut impl Write, cap: u64) -> std::io::Result<u64> {
    let mut limited = from.take(cap.saturating_add(1));
    std::io::copy(&mut limited, to)
}

/// The components of an entry name when it is a plain relative path: `/`-separated, none
/// empty, `.`, `..` or hidden, no backslash, colon or control character (so no Windows drive
/// or UNC forms either).
fn safe_parts(name: &str) -> Option<Vec<&str>> {
    let trimmed = name.strip_suffix('/').unwrap_or(name);
    if trimmed.is_empty() || trimmed.starts_with('/') {
        return None;
    }
    let parts: Vec<&str> = trimmed.split('/').collect();
    parts
        .iter()
        .all(|p| {
            !p.is_empty()
                && !p.starts_with('.')
                && p.len() <= 255
                && !p.chars().any(|c| c == '\\' || c == ':' || c.is_control())
        })
        .then_some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut zip = zip::ZipWriter::new(file.reopen().unwrap());
        for (name, bytes) in entries {
            if let Some(dir) = name.strip_suffix('/') {
                zip.add_directory(dir, SimpleFileOptions::default()).unwrap();
            } else {
                let options = SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated);
                zip.start_file(*name, options).unwrap();
                zip.write_all(bytes).unwrap();
            }
        }
        zip.finish().unwrap();
        file
    }

    const DB: &[u8] = b"SQLite format 3\0rest of the page";

    #[test]
    fn extracts_the_database_and_storage_only() {
        let z = zip_of(&[
            ("data.db", DB),
            ("storage/", b""),
            ("storage/c1/r1/a.txt", b"hello"),
            ("auxiliary.db", b"skipped"),
            ("types.d.ts", b"skipped"),
        ]);
        let dest = tempfile::tempdir().unwrap();
        let out = dest.path().join("x");
        extract(z.path(), &out, Limits::default()).unwrap();
        assert_eq!(std::fs::read(out.join("data.db")).unwrap(), DB);
        assert_eq!(std::fs::read(out.join("storage/c1/r1/a.txt")).unwrap(), b"hello");
        assert!(!out.join("auxiliary.db").exists());
        assert!(!out.join("types.d.ts").exists());
    }

    #[test]
    fn refuses_unsafe_names() {
        for bad in [
            "../data.db",
            "storage/../../evil",
            "/etc/passwd",
            "storage/a\\..\\..\\b",
            "C:/x",
            "storage/.hidden",
            "storage//x",
        ] {
            let z = zip_of(&[("data.db", DB), (bad, b"x")]);
            let dest = tempfile::tempdir().unwrap();
            let err = extract(z.path(), &dest.path().join("x"), Limits::default()).unwrap_err();
            assert!(matches!(err, ArchiveError::UnsafeName(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn refuses_archives_without_a_database_or_not_zip() {
        let dest = tempfile::tempdir().unwrap();
        let z = zip_of(&[("storage/a", b"x")]);
        let err = extract(z.path(), &dest.path().join("a"), Limits::default()).unwrap_err();
        assert!(matches!(err, ArchiveError::MissingDb), "{err}");
        let z = zip_of(&[("data.db", b"not a database at all")]);
        let err = extract(z.path(), &dest.path().join("b"), Limits::default()).unwrap_err();
        assert!(matches!(err, ArchiveError::NotSqlite), "{err}");
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"PK\x03\x04 but not really").unwrap();
        let err = extract(f.path(), &dest.path().join("c"), Limits::default()).unwrap_err();
        assert!(matches!(err, ArchiveError::NotZip(_)), "{err}");
    }

    #[test]
    fn caps_the_extracted_size_while_copying() {
        // 8 MiB of zeros compress to a few KiB: within the ratio cap, above a small total cap.
        let zeros = vec![0u8; 8 << 20];
        let z = zip_of(&[("data.db", DB), ("storage/big", &zeros)]);
        let dest = tempfile::tempdir().unwrap();
        let small = Limits { max_total: 1 << 20, ..Limits::default() };
        let err = extract(z.path(), &dest.path().join("a"), small).unwrap_err();
        assert!(matches!(err, ArchiveError::TooLarge), "{err}");
        let few = Limits { max_entries: 1, ..Limits::default() };
        let err = extract(z.path(), &dest.path().join("b"), few).unwrap_err();
        assert!(matches!(err, ArchiveError::TooManyEntries), "{err}");
        extract(z.path(), &dest.path().join("c"), Limits::default()).unwrap();
    }

    #[test]
    fn round_trips_a_created_archive() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("snap.db"), DB).unwrap();
        let storage = src.path().join("storage");
        std::fs::create_dir_all(storage.join("c/r")).unwrap();
        std::fs::write(storage.join("c/r/f.png"), b"png").unwrap();
        std::fs::write(storage.join("c/r/f.png#3"), b"in flight").unwrap();
        std::fs::write(storage.join(".hidden"), b"x").unwrap();
        let zip = src.path().join("b.zip");
        create(&zip, &src.path().join("snap.db"), Some(&storage)).unwrap();
        let out = src.path().join("out");
        extract(&zip, &out, Limits::default()).unwrap();
        assert_eq!(std::fs::read(out.join("storage/c/r/f.png")).unwrap(), b"png");
        assert!(!out.join("storage/c/r/f.png#3").exists());
        assert!(!out.join("storage/.hidden").exists());
    }
}
