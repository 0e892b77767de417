//! A cache of verified downloads, one file per artifact named by its SHA-256 digest.
//!
//! An entry is written to a temporary file in the cache directory and renamed to
//! `sha256-<hex>` only after the caller verified the digest, so a finished name always held the
//! right bytes once. Entries are hashed again before each use, because disks and people change
//! files; a corrupted entry is deleted and downloaded again.

use std::ffi::OsString;
use std::fs::{self, DirBuilder, File};
use std::io::{self, Seek, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::fetch::verify::HashingReader;

/// A cache failure, naming the path involved.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(
        "no cache directory: neither XDG_CACHE_HOME nor HOME is set to an absolute path; set cache_dir under [download]"
    )]
    NoDirectory,
    #[error("`{0}` is not a SHA-256 digest (64 lowercase hex digits)")]
    InvalidDigest(String),
    #[error("creating the cache directory {} failed", path.display())]
    CreateDirectory {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("reading the cache entry {} failed", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("removing the corrupted cache entry {} failed", path.display())]
    Remove {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("writing the cache entry {} failed", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Chooses the cache directory: `explicit` (from `--cache-dir` or the profile), else
/// `$XDG_CACHE_HOME/k3sprov`, else `$HOME/.cache/k3sprov`.
///
/// `lookup` returns an environment variable by name. The XDG Base Directory specification
/// requires a relative `XDG_CACHE_HOME` to be ignored, and a relative `HOME` is ignored too.
pub fn resolve_cache_dir(
    explicit: Option<&Path>,
    lookup: impl Fn(&str) -> Option<OsString>,
) -> Result<PathBuf, CacheError> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    let absolute = |name: &str| {
        lookup(name)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    if let Some(base) = absolute("XDG_CACHE_HOME") {
        return Ok(base.join("k3sprov"));
    }
    if let Some(home) = absolute("HOME") {
        return Ok(home.join(".cache").join("k3sprov"));
    }
    Err(CacheError::NoDirectory)
}

/// Age after which a partly written entry counts as abandoned by a killed run. Runs for other
/// roots may share the cache, so a younger one may still be in use.
const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// Removes partly written entries that killed runs left behind; failures only cost space, so
/// they are logged and otherwise ignored.
fn remove_abandoned_partials(directory: &Path) {
    let Ok(entries) = fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let abandoned = entry
            .metadata()
            .ok()
            .and_then(|metadata| metadata.modified().ok())
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > ABANDONED_AFTER);
        if name.starts_with(".sha256-")
            && name.ends_with(".partial")
            && abandoned
            && let Err(error) = crate::fsx::remove_file(&entry.path())
        {
            tracing::warn!(%error, "cannot remove an abandoned cache entry");
        }
    }
}

/// A cache directory of verified artifacts.
#[derive(Clone, Debug)]
pub struct Cache {
    directory: PathBuf,
}

impl Cache {
    /// Opens the cache in `directory`, creating it with mode 0700 when it is missing.
    pub fn open(directory: PathBuf) -> Result<Cache, CacheError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&directory)
            .map_err(|source| CacheError::CreateDirectory {
                path: directory.clone(),
                source,
            })?;
        remove_abandoned_partials(&directory);
        Ok(Cache { directory })
    }

    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// Returns the path of the entry for `digest`, whether or not it exists.
    pub fn entry_path(&self, digest: &str) -> Result<PathBuf, CacheError> {
        check_digest(digest)?;
        Ok(self.directory.join(format!("sha256-{digest}")))
    }

    /// Opens the entry for `digest` after hashing it again, positioned at its start.
    ///
    /// Returns `None` when there is no entry, or when the entry's content no longer has the
    /// digest; such an entry is deleted with a warning.
    pub fn open_verified(&self, digest: &str) -> Result<Option<File>, CacheError> {
        let path = self.entry_path(digest)?;
        let read_error = |source| CacheError::Read {
            path: path.clone(),
            source,
        };
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(read_error(error)),
        };
        if !file.metadata().map_err(read_error)?.is_file() {
            return Err(read_error(io::Error::other(
                "the entry is not a regular file",
            )));
        }

        let mut reader = HashingReader::new(file);
        reader.drain().map_err(read_error)?;
        let (actual, mut file, _) = reader.finish();
        if actual != digest {
            tracing::warn!(
                path = %path.display(),
                expected = digest,
                actual = %actual,
                "deleting a corrupted cache entry; it will be downloaded again"
            );
            crate::fsx::remove_file(&path).map_err(|error| CacheError::Remove {
                path: path.clone(),
                source: error.source,
            })?;
            return Ok(None);
        }
        file.rewind().map_err(read_error)?;
        Ok(Some(file))
    }

    /// Returns true when an entry for `digest` exists; its content is checked only on use.
    pub fn contains(&self, digest: &str) -> bool {
        self.entry_path(digest).is_ok_and(|path| path.is_file())
    }

    /// Returns the digest remembered for the release asset `key` (such as
    /// `k3s v1.33.5+k3s1 amd64 k3s`), taken from its verified checksum file on an earlier run,
    /// so a cached artifact can be reused without any network.
    pub fn known_digest(&self, key: &str) -> Option<String> {
        let text = fs::read_to_string(self.known_path(key)).ok()?;
        let digest = text.trim();
        check_digest(digest).is_ok().then(|| digest.to_owned())
    }

    /// Remembers the published `digest` of the release asset `key`.
    pub fn remember_digest(&self, key: &str, digest: &str) -> Result<(), CacheError> {
        check_digest(digest)?;
        let path = self.known_path(key);
        crate::fsx::write_atomic(&path, format!("{digest}\n").as_bytes(), 0o600).map_err(|error| {
            CacheError::Write {
                path,
                source: error.source,
            }
        })
    }

    /// Names the file that remembers the digest of `key`, after the SHA-256 of the key, so a
    /// long URL still makes a short file name.
    fn known_path(&self, key: &str) -> PathBuf {
        use sha2::Digest as _;
        let hash = crate::digest::to_hex(&sha2::Sha256::digest(key.as_bytes()));
        self.directory.join(format!("published-{}", &hash[..32]))
    }

    /// Starts a new entry for `digest`, written to a temporary file in the cache directory.
    pub fn writer(&self, digest: &str) -> Result<CacheWriter, CacheError> {
        let path = self.entry_path(digest)?;
        let temporary = tempfile::Builder::new()
            .prefix(&format!(".sha256-{digest}."))
            .suffix(".partial")
            .tempfile_in(&self.directory)
            .map_err(|source| CacheError::Write {
                path: self.directory.clone(),
                source,
            })?;
        Ok(CacheWriter { temporary, path })
    }
}

/// A cache entry being written. Dropped without [`CacheWriter::commit`], it removes its
/// temporary file.
pub struct CacheWriter {
    temporary: NamedTempFile,
    path: PathBuf,
}

impl CacheWriter {
    /// Makes the entry visible under its final name: flushes the file to disk, renames it, and
    /// flushes the directory. Call it only after checking the digest of what was written.
    pub fn commit(self) -> Result<PathBuf, CacheError> {
        let write_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CacheError::Write { path, source }
        };
        self.temporary
            .as_file()
            .sync_all()
            .map_err(write_error(self.temporary.path()))?;
        self.temporary
            .persist(&self.path)
            .map_err(|error| CacheError::Write {
                path: self.path.clone(),
                source: error.error,
            })?;
        let directory = self.path.parent().unwrap_or(Path::new("."));
        File::open(directory)
            .and_then(|directory| directory.sync_all())
            .map_err(write_error(directory))?;
        Ok(self.path)
    }
}

impl Write for CacheWriter {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        self.temporary.write(buffer)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.temporary.flush()
    }
}

fn check_digest(digest: &str) -> Result<(), CacheError> {
    let valid = digest.len() == 64
        && digest
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'));
    if valid {
        Ok(())
    } else {
        Err(CacheError::InvalidDigest(digest.to_owned()))
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
