//! Installing CNI plugins from the release tarball (`.tgz`) in one streaming pass.
//!
//! The release packs every plugin at the top level (`./bridge`, `./host-local`, …) next to
//! `./LICENSE` and `./README.md`. Entries are checked one by one instead of unpacked with
//! `tar::Archive::unpack`, which skips `..` paths without an error and writes devices as empty
//! files. Only regular files with a single plain name are accepted, and any other entry fails
//! the whole tarball. Requested plugins are staged as hidden temporary files in the target
//! directory, and nothing is renamed into place until [`Staged::commit`], which the caller
//! runs once the tarball's digest has been checked.

use std::collections::BTreeSet;
use std::io::{self, Read};
use std::path::Path;

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};
use tar::EntryType;

use crate::digest::to_hex;
use crate::fsx::{self, AtomicFile, FsError, PreparedFile};

/// The mode of installed plugins.
pub const PLUGIN_MODE: u32 = 0o755;

/// Installing plugins from a tarball failed, and nothing was installed.
#[derive(Debug, thiserror::Error)]
pub enum TarballError {
    #[error(
        "`{name}` is not a valid plugin name: a plugin name is a single file name, without `/` and not `.` or `..`"
    )]
    InvalidPluginName { name: String },
    #[error("cannot read the tarball")]
    Read {
        #[source]
        source: io::Error,
    },
    #[error("cannot read entry `{entry}` of the tarball")]
    ReadEntry {
        entry: String,
        #[source]
        source: io::Error,
    },
    #[error("the tarball contains an unsafe entry `{entry}` ({kind}): {reason}")]
    UnsafeEntry {
        entry: String,
        kind: String,
        reason: &'static str,
    },
    #[error("the tarball contains `{entry}` twice")]
    DuplicateEntry { entry: String },
    #[error(
        "the tarball has no plugin {}: check the plugin names against the release",
        quote_list(missing)
    )]
    MissingPlugins { missing: Vec<String> },
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// A plugin written to a temporary file in the target directory, not yet renamed into place.
#[derive(Debug)]
pub struct StagedPlugin {
    name: String,
    sha256: String,
    size: u64,
    file: PreparedFile,
}

impl StagedPlugin {
    /// Returns the staged file, to be renamed into place by the caller.
    pub fn into_file(self) -> PreparedFile {
        self.file
    }

    /// Returns the plugin's file name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the SHA-256 digest of the plugin file, in lowercase hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Returns the size of the plugin file in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Returns the path the plugin is installed at on commit.
    pub fn target(&self) -> &Path {
        self.file.target()
    }
}

/// Plugins staged by [`stage_plugins`], in the order of the tarball.
/// Dropping it without [`Staged::commit`] removes the temporary files.
#[derive(Debug)]
pub struct Staged {
    plugins: Vec<StagedPlugin>,
}

impl Staged {
    /// Returns the staged plugins, in the order of the tarball.
    pub fn plugins(&self) -> &[StagedPlugin] {
        &self.plugins
    }

    /// Returns the staged plugins, for callers that rename them one at a time.
    pub fn into_plugins(self) -> Vec<StagedPlugin> {
        self.plugins
    }

    /// Renames every staged plugin into place and fsyncs the target directory.
    pub fn commit(self) -> Result<(), FsError> {
        fsx::commit_all(self.plugins.into_iter().map(|plugin| plugin.file).collect())
    }
}

/// Reads a gzip-compressed tar stream from `input` and stages the plugins named in `plugins`
/// in `directory`, which must exist.
///
/// Every entry is checked before anything of it is written, and other regular entries
/// (`LICENSE`, plugins not requested) are read and discarded. After the end of the tar
/// archive the rest of `input` is read to its end, so a hashing reader around `input` covers
/// every byte.
/// Files in `directory` are not changed until [`Staged::commit`]. On an error the temporary
/// files are removed, and `input` may not have been read to its end.
///
/// NOTE: a hostile tarball can fill the disk with staged data before its digest is checked.
/// The temporary files are removed on the error, so the damage lasts only as long as the run.
pub fn stage_plugins<R: Read>(
    input: R,
    directory: &Path,
    plugins: &[impl AsRef<str>],
) -> Result<Staged, TarballError> {
    let requested = check_plugin_names(plugins)?;
    let mut archive = tar::Archive::new(GzDecoder::new(input));
    let mut seen = BTreeSet::new();
    let mut staged = Vec::new();
    let mut buffer = vec![0u8; 128 * 1024];

    for entry in archive.entries().map_err(read_error)? {
        let mut entry = entry.map_err(read_error)?;
        let Some(name) = check_entry(&entry)? else {
            continue;
        };
        if !seen.insert(name.clone()) {
            return Err(TarballError::DuplicateEntry { entry: name });
        }
        if requested.contains(name.as_str()) {
            staged.push(stage_entry(&mut entry, &name, directory, &mut buffer)?);
        } else {
            read_entry(&mut entry, &name, &mut buffer, |_| Ok(()))?;
        }
    }
    read_to_end_of_input(archive)?;

    let missing: Vec<String> = requested
        .iter()
        .filter(|name| !seen.contains(**name))
        .map(ToString::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(TarballError::MissingPlugins { missing });
    }
    Ok(Staged { plugins: staged })
}

fn check_plugin_names(plugins: &[impl AsRef<str>]) -> Result<BTreeSet<&str>, TarballError> {
    plugins
        .iter()
        .map(AsRef::as_ref)
        .map(|name| {
            if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
                Err(TarballError::InvalidPluginName {
                    name: name.to_string(),
                })
            } else {
                Ok(name)
            }
        })
        .collect()
}

/// Checks an entry's path and type, and returns its file name, or `None` for the top
/// directory `./` itself.
fn check_entry<R: Read>(entry: &tar::Entry<'_, R>) -> Result<Option<String>, TarballError> {
    let path = entry.path_bytes();
    let entry_type = entry.header().entry_type();
    let unsafe_entry = |reason| TarballError::UnsafeEntry {
        entry: printable(&path),
        kind: describe_kind(entry),
        reason,
    };

    // Directory entries are stored with a trailing `/`.
    let stripped = match path.strip_suffix(b"/") {
        Some(stripped) if entry_type == EntryType::Directory => stripped,
        _ => &path[..],
    };
    let name = match classify_path(stripped) {
        Ok(EntryPath::Top) if entry_type == EntryType::Directory => return Ok(None),
        Ok(EntryPath::Top) => return Err(unsafe_entry("its path is not a file name")),
        Ok(EntryPath::Name(name)) => name,
        Err(reason) => return Err(unsafe_entry(reason)),
    };
    if entry_type != EntryType::Regular {
        return Err(unsafe_entry("only regular files are installed"));
    }
    match std::str::from_utf8(name) {
        Ok(name) => Ok(Some(name.to_string())),
        Err(_) => Err(unsafe_entry("its name is not valid UTF-8")),
    }
}

/// The kind of path an entry has, after one leading `./` is removed.
#[derive(Debug, PartialEq, Eq)]
enum EntryPath<'a> {
    /// `./` or `.`, the directory the tarball was packed from.
    Top,
    /// A single plain file name.
    Name(&'a [u8]),
}

fn classify_path(path: &[u8]) -> Result<EntryPath<'_>, &'static str> {
    if path.starts_with(b"/") {
        return Err("its path is absolute");
    }
    let relative = path.strip_prefix(b"./").unwrap_or(path);
    if relative
        .split(|byte| *byte == b'/')
        .any(|part| part == b"..")
    {
        return Err("its path contains `..`");
    }
    if relative.is_empty() || relative == b"." {
        return Ok(EntryPath::Top);
    }
    if relative.contains(&b'/') {
        return Err("its path has more than one component, and plugins sit at the top level");
    }
    Ok(EntryPath::Name(relative))
}

fn describe_kind<R: Read>(entry: &tar::Entry<'_, R>) -> String {
    let link = || {
        entry
            .link_name_bytes()
            .map_or_else(String::new, |name| printable(&name))
    };
    match entry.header().entry_type() {
        EntryType::Regular => "regular file".to_string(),
        EntryType::Directory => "directory".to_string(),
        EntryType::Symlink => format!("symlink to `{}`", link()),
        EntryType::Link => format!("hard link to `{}`", link()),
        EntryType::Char => "character device".to_string(),
        EntryType::Block => "block device".to_string(),
        EntryType::Fifo => "FIFO".to_string(),
        EntryType::Continuous => "contiguous file".to_string(),
        EntryType::GNUSparse => "sparse file".to_string(),
        EntryType::XGlobalHeader => "PAX global header".to_string(),
        other => format!("entry of type `{}`", other.as_byte().escape_ascii()),
    }
}

/// Streams a requested entry into a temporary file beside its target and hashes it.
fn stage_entry<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    name: &str,
    directory: &Path,
    buffer: &mut [u8],
) -> Result<StagedPlugin, TarballError> {
    let mut file = AtomicFile::create(&directory.join(name))?;
    let mut hasher = Sha256::new();
    let size = read_entry(entry, name, buffer, |chunk| {
        hasher.update(chunk);
        file.append(chunk).map_err(TarballError::from)
    })?;
    let file = file.prepare(PLUGIN_MODE)?;
    Ok(StagedPlugin {
        name: name.to_string(),
        sha256: to_hex(&hasher.finalize()),
        size,
        file,
    })
}

/// Reads the whole entry in chunks, passes each chunk to `sink`, and checks that the entry
/// held as many bytes as its header declares.
fn read_entry<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    name: &str,
    buffer: &mut [u8],
    mut sink: impl FnMut(&[u8]) -> Result<(), TarballError>,
) -> Result<u64, TarballError> {
    let read_entry_error = |source| TarballError::ReadEntry {
        entry: name.to_string(),
        source,
    };
    let expected = entry.size();
    let mut size = 0u64;
    loop {
        let count = match entry.read(buffer) {
            Ok(0) => break,
            Ok(count) => count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(read_entry_error(error)),
        };
        sink(&buffer[..count])?;
        size += count as u64;
    }
    if size != expected {
        let message = format!("the entry ends after {size} of its {expected} bytes");
        return Err(read_entry_error(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            message,
        )));
    }
    Ok(size)
}

/// Reads what follows the tar archive: the padding of its last record, the gzip trailer,
/// whose CRC-32 and length checks run when the decoder reaches it, and any bytes after the
/// gzip stream.
fn read_to_end_of_input<R: Read>(archive: tar::Archive<GzDecoder<R>>) -> Result<(), TarballError> {
    let mut decoder = archive.into_inner();
    io::copy(&mut decoder, &mut io::sink()).map_err(read_error)?;
    let mut input = decoder.into_inner();
    let trailing = io::copy(&mut input, &mut io::sink()).map_err(read_error)?;
    if trailing > 0 {
        tracing::debug!(
            bytes = trailing,
            "ignored data after the gzip stream of the tarball"
        );
    }
    Ok(())
}

fn read_error(source: io::Error) -> TarballError {
    TarballError::Read { source }
}

/// Renders a path from a tarball for messages, with control characters escaped so a hostile
/// name cannot rewrite the terminal.
fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).escape_debug().to_string()
}

fn quote_list(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[path = "tarball_tests.rs"]
mod tests;
