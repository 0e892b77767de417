//! The record of what `apply` installed, kept under the root at `var/lib/k3sprov/state.json`.
//!
//! For each installed file the record keeps its digest and the metadata it had right after
//! installation (size, modification and change times, inode). A later run whose file still has
//! that metadata can trust the digest without reading the file, which keeps a no-op run fast.
//! A file whose metadata changed is hashed again. The change time cannot be set from user space,
//! so an edit that restores the modification time is still noticed.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The path of the record, relative to the root.
pub const STATE_PATH: &str = "/var/lib/k3sprov/state.json";

/// The path of the lock that keeps two applies apart, relative to the root.
pub const LOCK_PATH: &str = "/var/lib/k3sprov/apply.lock";

/// The format version of the record; a record of another version is ignored.
const FORMAT: u32 = 1;

/// The installed files, by their path inside the root (such as `/usr/local/bin/k3s`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub format: u32,
    pub files: BTreeMap<PathBuf, FileRecord>,
}

/// One installed file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// What was installed, such as `k3s v1.33.5+k3s1 amd64`; a profile that requests another
    /// source makes the record irrelevant.
    pub source: String,
    /// SHA-256 of the content, in lowercase hex.
    pub sha256: String,
    pub stamp: Stamp,
}

/// File metadata that changes whenever the content may have changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub size: u64,
    pub inode: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

impl Stamp {
    pub fn of(metadata: &std::fs::Metadata) -> Stamp {
        Stamp {
            size: metadata.size(),
            inode: metadata.ino(),
            mtime_ns: i128::from(metadata.mtime()) * 1_000_000_000
                + i128::from(metadata.mtime_nsec()),
            ctime_ns: i128::from(metadata.ctime()) * 1_000_000_000
                + i128::from(metadata.ctime_nsec()),
        }
    }

    /// Reads the stamp of `path`, following symlinks.
    pub fn read(path: &Path) -> std::io::Result<Stamp> {
        Ok(Stamp::of(&fs_err::metadata(path)?))
    }
}

impl State {
    /// Reads the record under `root`. A missing, unreadable or malformed record is treated as
    /// empty, with a warning: it only saves work, and every file is then hashed instead.
    pub fn load(root: &Path) -> State {
        let path = crate::host::paths::under_root(root, Path::new(STATE_PATH));
        let text = match fs_err::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return State::default(),
            Err(error) => {
                tracing::warn!(%error, "ignoring the install record");
                return State::default();
            }
        };
        match serde_json::from_str::<State>(&text) {
            Ok(state) if state.format == FORMAT => state,
            Ok(state) => {
                tracing::warn!(path = %path.display(), format = state.format, "ignoring an install record of another format");
                State::default()
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "ignoring a malformed install record");
                State::default()
            }
        }
    }

    /// Serializes the record as it is stored.
    pub fn to_json(&self) -> String {
        let stored = State {
            format: FORMAT,
            files: self.files.clone(),
        };
        let mut text = format!("{:#}", serde_json::to_value(&stored).unwrap_or_default());
        text.push('\n');
        text
    }

    /// Returns the digest of the file at `path` (inside the root) installed from `source`,
    /// when the record vouches for it: same source, and metadata unchanged since it was taken.
    pub fn trusted_digest(&self, path: &Path, source: &str, stamp: &Stamp) -> Option<&str> {
        let record = self.files.get(path)?;
        (record.source == source && record.stamp == *stamp).then_some(record.sha256.as_str())
    }

    /// Returns the digest recorded for `path` when it was installed from `source`, whatever
    /// its metadata is now.
    pub fn recorded_digest(&self, path: &Path, source: &str) -> Option<&str> {
        let record = self.files.get(path)?;
        (record.source == source).then_some(record.sha256.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(source: &str, size: u64) -> FileRecord {
        FileRecord {
            source: source.into(),
            sha256: "ab".repeat(32),
            stamp: Stamp {
                size,
                inode: 7,
                mtime_ns: 1,
                ctime_ns: 2,
            },
        }
    }

    #[test]
    fn digest_trusted_only_for_same_source_and_stamp() {
        let mut state = State::default();
        let path = PathBuf::from("/usr/local/bin/k3s");
        state.files.insert(path.clone(), record("k3s v1 amd64", 10));
        let stamp = state.files[&path].stamp;

        assert!(
            state
                .trusted_digest(&path, "k3s v1 amd64", &stamp)
                .is_some()
        );
        assert!(
            state
                .trusted_digest(&path, "k3s v2 amd64", &stamp)
                .is_none()
        );
        let touched = Stamp {
            mtime_ns: 5,
            ..stamp
        };
        assert!(
            state
                .trusted_digest(&path, "k3s v1 amd64", &touched)
                .is_none()
        );
        assert!(state.recorded_digest(&path, "k3s v1 amd64").is_some());
    }

    #[test]
    fn record_round_trips_through_json() {
        let mut state = State::default();
        state
            .files
            .insert("/opt/cni/bin/bridge".into(), record("cni", 3));
        let parsed: State = serde_json::from_str(&state.to_json()).unwrap();
        assert_eq!(parsed.format, FORMAT);
        assert_eq!(parsed.files, state.files);
    }
}
