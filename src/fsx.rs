//! Every change k3sprov makes to the filesystem goes through this module.
//!
//! A file is never written in place. It is written to a hidden temporary file in the target's
//! directory, given its mode, fsynced, renamed over the target, and then the directory is
//! fsynced. A crash at any moment therefore leaves either the old file or the new one, never a
//! partial one. `clippy.toml` rejects the `std::fs` and `fs_err` functions that write, so code
//! elsewhere cannot bypass this module by accident.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::{Builder, NamedTempFile, TempPath};

/// The mode of directories that [`create_dir_all`] creates.
pub const DIRECTORY_MODE: u32 = 0o755;

/// A filesystem operation failed on `path`.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} `{path}`")]
pub struct FsError {
    /// The failed operation, as a verb phrase: "create directory", "rename a temporary file to".
    pub action: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl FsError {
    fn new(action: &'static str, path: &Path, source: io::Error) -> Self {
        FsError {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Creates `path` and its missing parents with mode 0755, whatever the umask is.
pub fn create_dir_all(path: &Path) -> Result<(), FsError> {
    let missing: Vec<&Path> = path
        .ancestors()
        .filter(|ancestor| !ancestor.as_os_str().is_empty())
        .take_while(|ancestor| !ancestor.is_dir())
        .collect();
    for directory in missing.into_iter().rev() {
        match DirBuilder::new().mode(DIRECTORY_MODE).create(directory) {
            Ok(()) => {}
            // Another process may have created it since the check above.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists && directory.is_dir() => {
                continue;
            }
            Err(error) => return Err(FsError::new("create directory", directory, error)),
        }
        std::fs::set_permissions(directory, Permissions::from_mode(DIRECTORY_MODE))
            .map_err(|error| FsError::new("set the mode of", directory, error))?;
        sync_dir(parent_of(directory))?;
    }
    Ok(())
}

/// Fsyncs the directory `path`, so renames and new entries in it survive a crash.
pub fn sync_dir(path: &Path) -> Result<(), FsError> {
    File::open(path)
        .and_then(|directory| directory.sync_all())
        .map_err(|error| FsError::new("fsync directory", path, error))
}

/// A new version of `target`, written to a hidden temporary file beside it.
///
/// Dropping it before [`AtomicFile::commit`] or [`AtomicFile::prepare`] removes the temporary
/// file and leaves `target` as it was.
#[derive(Debug)]
pub struct AtomicFile {
    temp: NamedTempFile,
    target: PathBuf,
}

impl AtomicFile {
    /// Creates the temporary file `.<name>.k3sprov-XXXXXX` in the directory of `target`.
    pub fn create(target: &Path) -> Result<AtomicFile, FsError> {
        let prefix = temp_prefix(target).map_err(|error| FsError::new("write", target, error))?;
        let temp = Builder::new()
            .prefix(&prefix)
            .rand_bytes(6)
            .tempfile_in(parent_of(target))
            .map_err(|error| FsError::new("create a temporary file for", target, error))?;
        Ok(AtomicFile {
            temp,
            target: target.to_path_buf(),
        })
    }

    /// Returns the path this file replaces when committed.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Writes all of `bytes`, with an error that names the target.
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), FsError> {
        self.temp
            .write_all(bytes)
            .map_err(|error| FsError::new("write a temporary file for", &self.target, error))
    }

    /// Sets the mode and fsyncs the data, leaving the rename to [`PreparedFile::rename`] or
    /// [`commit_all`]. This lets a caller stage several files and install them only after a
    /// final check.
    pub fn prepare(self, mode: u32) -> Result<PreparedFile, FsError> {
        let AtomicFile { temp, target } = self;
        let file = temp.as_file();
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(|error| {
                FsError::new("set the mode of the temporary file for", &target, error)
            })?;
        file.sync_all()
            .map_err(|error| FsError::new("fsync the temporary file for", &target, error))?;
        Ok(PreparedFile {
            temp: temp.into_temp_path(),
            target,
        })
    }

    /// Sets the mode, fsyncs, renames over the target and fsyncs the directory.
    pub fn commit(self, mode: u32) -> Result<(), FsError> {
        let prepared = self.prepare(mode)?;
        let directory = parent_of(&prepared.target).to_path_buf();
        prepared.rename()?;
        sync_dir(&directory)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.temp.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.temp.flush()
    }
}

/// A temporary file with its final mode and data on disk, waiting to be renamed over its
/// target. Dropping it removes the temporary file.
#[derive(Debug)]
pub struct PreparedFile {
    temp: TempPath,
    target: PathBuf,
}

impl PreparedFile {
    /// Returns the path this file replaces when renamed.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Renames the file over its target. The caller fsyncs the directory afterwards, once for
    /// all files renamed into it.
    pub fn rename(self) -> Result<(), FsError> {
        let PreparedFile { temp, target } = self;
        temp.persist(&target)
            .map_err(|error| FsError::new("rename a temporary file to", &target, error.error))
    }
}

/// Renames every file over its target, then fsyncs each directory involved once.
///
/// A target that is a directory is reported before anything is renamed, because that is the
/// one rename failure a caller can meet in practice. A rename that still fails midway (a
/// disk error, a concurrent change) leaves the files before it installed.
pub fn commit_all(files: Vec<PreparedFile>) -> Result<(), FsError> {
    for file in &files {
        if file.target.is_dir() && !file.target.is_symlink() {
            let error = io::Error::new(io::ErrorKind::IsADirectory, "the target is a directory");
            return Err(FsError::new("replace", &file.target, error));
        }
    }
    let directories: BTreeSet<PathBuf> = files
        .iter()
        .map(|file| parent_of(&file.target).to_path_buf())
        .collect();
    for file in files {
        file.rename()?;
    }
    for directory in &directories {
        sync_dir(directory)?;
    }
    Ok(())
}

/// Removes the file at `path`.
pub fn remove_file(path: &Path) -> Result<(), FsError> {
    #[allow(clippy::disallowed_methods)]
    std::fs::remove_file(path).map_err(|source| FsError::new("remove", path, source))
}

/// Gives `path` to the user and group running k3sprov, then sets its permission bits. Each
/// change is atomic, so no temporary file is needed.
pub fn set_owner_and_mode(path: &Path, mode: u32) -> Result<(), FsError> {
    let owner = rustix::process::geteuid();
    let group = rustix::process::getegid();
    rustix::fs::chown(path, Some(owner), Some(group))
        .map_err(|errno| FsError::new("change the owner of", path, errno.into()))?;
    set_mode(path, mode)
}

/// Sets the permission bits of `path`. Changing a mode is atomic, so no temporary file is needed.
pub fn set_mode(path: &Path, mode: u32) -> Result<(), FsError> {
    use std::os::unix::fs::PermissionsExt;
    #[allow(clippy::disallowed_methods)]
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|source| FsError::new("set the mode of", path, source))
}

/// Replaces `target` with `bytes` and gives it `mode`, atomically.
pub fn write_atomic(target: &Path, bytes: &[u8], mode: u32) -> Result<(), FsError> {
    let mut file = AtomicFile::create(target)?;
    file.append(bytes)?;
    file.commit(mode)
}

/// Makes `link` a symlink to `points_to`, replacing whatever link or file is at `link`.
///
/// The link is created under a temporary name in the same directory and renamed into place,
/// so `link` never goes missing in between.
pub fn symlink_atomic(link: &Path, points_to: &Path) -> Result<(), FsError> {
    let prefix = temp_prefix(link).map_err(|error| FsError::new("create symlink", link, error))?;
    let directory = parent_of(link);
    let temp = Builder::new()
        .prefix(&prefix)
        .rand_bytes(6)
        .make_in(directory, |path| {
            std::os::unix::fs::symlink(points_to, path)
        })
        .map_err(|error| FsError::new("create a temporary symlink for", link, error))?;
    temp.into_temp_path()
        .persist(link)
        .map_err(|error| FsError::new("rename a temporary symlink to", link, error.error))?;
    sync_dir(directory)
}

/// An exclusive lock that one k3sprov run holds while it changes the machine.
/// Dropping the guard closes the lock file, which releases the lock.
#[derive(Debug)]
pub struct LockGuard {
    _file: File,
    path: PathBuf,
}

impl LockGuard {
    /// Returns the path of the lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Taking the run lock failed.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another k3sprov run holds the lock on `{path}`. Run again when it has finished")]
    Busy { path: PathBuf },
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// Takes an exclusive flock(2) on `path`, creating the file and its directory if needed.
///
/// When another process holds the lock, `wait == false` returns [`LockError::Busy`] at once,
/// and `wait == true` logs that this run is waiting and blocks until the lock is free.
pub fn lock(path: &Path, wait: bool) -> Result<LockGuard, LockError> {
    create_dir_all(parent_of(path))?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o644)
        .open(path)
        .map_err(|error| FsError::new("open lock file", path, error))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) if !wait => {
            return Err(LockError::Busy {
                path: path.to_path_buf(),
            });
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            tracing::warn!(
                lock = %path.display(),
                "waiting for another k3sprov run to release its lock"
            );
            file.lock()
                .map_err(|error| FsError::new("lock", path, error))?;
        }
        Err(std::fs::TryLockError::Error(error)) => {
            return Err(FsError::new("lock", path, error).into());
        }
    }
    Ok(LockGuard {
        _file: file,
        path: path.to_path_buf(),
    })
}

/// Removes the temporary files that a run killed before it could clean up left in
/// `directory`, and returns how many it removed.
///
/// Call it only while holding the apply lock for the root, so no other run is writing them.
/// Entries that do not carry k3sprov's temporary marker are never touched.
pub fn remove_stale_temporaries(directory: &Path) -> Result<usize, FsError> {
    let entries = match std::fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(FsError::new("list", directory, error)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|error| FsError::new("list", directory, error))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_temporary = name.starts_with('.') && name.contains(".k3sprov-");
        let is_file = entry
            .file_type()
            .is_ok_and(|kind| kind.is_file() || kind.is_symlink());
        if is_temporary && is_file {
            remove_file(&entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Returns the prefix of temporary names for `path`: `.<name>.k3sprov-`, hidden and easy
/// to trace back to k3sprov.
fn temp_prefix(path: &Path) -> io::Result<std::ffi::OsString> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"))?;
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".k3sprov-");
    Ok(prefix)
}

/// Returns the directory that contains `path`, with `.` for a bare file name.
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

#[cfg(test)]
#[path = "fsx_tests.rs"]
mod tests;
