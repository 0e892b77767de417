//! Step kinds, one module each. A step module compares what the profile wants with what is on
//! the machine and returns a planned [`Step`] with the action and a summary.
//!
//! Steps come in a fixed order: the k3s binary, its symlinks, the CNI plugins, the config
//! file, then the mounts.

pub mod binary;
pub mod cni;
pub mod config_file;
pub mod mount;
pub mod mount_apply;
pub mod symlink;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::plan::{Action, Context, Step};
use crate::profile::spec::Spec;

/// The work `apply` does for one step. It is planned together with the step, so apply runs
/// exactly what plan showed.
#[derive(Clone, Debug, Default)]
pub enum Work {
    /// The step changes nothing.
    #[default]
    Nothing,
    Binary(binary::BinaryWork),
    /// Create a relative symlink to `k3s` at `link`.
    Symlink {
        link: PathBuf,
    },
    Plugin(cni::PluginWork),
    WriteFile {
        target: PathBuf,
        content: String,
        mode: u32,
    },
    /// The content is right and only the mode differs.
    Chmod {
        target: PathBuf,
        mode: u32,
    },
    Mount(mount::MountWork),
}

impl Work {
    /// Returns the path this work writes, if it writes one.
    pub fn target(&self) -> Option<&Path> {
        match self {
            Work::Nothing => None,
            Work::Binary(work) => Some(&work.target),
            Work::Symlink { link } => Some(link),
            Work::Plugin(work) => Some(&work.target),
            Work::WriteFile { target, .. } | Work::Chmod { target, .. } => Some(target),
            Work::Mount(work) => Some(&work.target),
        }
    }
}

/// A step could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("cannot inspect `{path}`")]
    Inspect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "`{path}` is {found}, where {step} needs {expected}; move it away, or change the path in the profile"
    )]
    Blocked {
        step: String,
        path: PathBuf,
        found: &'static str,
        expected: &'static str,
    },
    #[error("the source `{}` of {step} does not exist; fix `source` in the profile", path.display())]
    MissingSource { step: String, path: PathBuf },
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
}

/// Several steps could not be planned; each is reported.
#[derive(Debug)]
pub struct StepErrors(pub Vec<StepError>);

impl std::fmt::Display for StepErrors {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "{} of the steps cannot be planned:",
            self.0.len()
        )?;
        for error in &self.0 {
            write!(formatter, "\n  - {error}")?;
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                write!(formatter, ": {cause}")?;
                source = cause.source();
            }
        }
        Ok(())
    }
}

impl std::error::Error for StepErrors {}

/// Plans every step of `spec`, in order, and reports every step that cannot be planned.
pub fn plan_all(spec: &Spec, context: &Context) -> Result<Vec<Step>, StepErrors> {
    let mut results = vec![binary::plan(spec, context)];
    for name in &spec.k3s.symlinks {
        results.push(symlink::plan(spec, name, context));
    }
    if let Some(cni) = &spec.cni {
        for plugin in &cni.plugins {
            results.push(cni::plan(cni, plugin, context));
        }
    }
    results.push(config_file::plan(spec, context));
    for mount in &spec.mounts {
        results.push(mount::plan(mount, context));
    }
    let (steps, errors): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    if errors.is_empty() {
        Ok(steps.into_iter().filter_map(Result::ok).collect())
    } else {
        Err(StepErrors(
            errors.into_iter().filter_map(Result::err).collect(),
        ))
    }
}

/// The comparison of an installed executable with the one its release provides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Same,
    /// The content is right, and the mode (given here) or the owner is not.
    Attributes {
        mode: u32,
        owned: bool,
    },
    Content,
}

impl Verdict {
    /// Compares the `actual` digest and `mode` of an installed executable with the `expected`
    /// digest.
    pub fn of(expected: &str, actual: &str, mode: u32, owned: bool) -> Verdict {
        if actual != expected {
            Verdict::Content
        } else if mode == binary::EXECUTABLE_MODE && owned {
            Verdict::Same
        } else {
            Verdict::Attributes { mode, owned }
        }
    }

    /// Returns the action, with `replace` as the summary of a content change and `same` as
    /// that of no change.
    pub fn describe(self, shown: &str, replace: String, same: String) -> (Action, String) {
        match self {
            Verdict::Same => (Action::None, same),
            Verdict::Attributes { mode, owned } => (
                Action::Update,
                attributes_summary(shown, mode, 0o755, owned),
            ),
            Verdict::Content => (Action::Update, replace),
        }
    }
}

/// Says how a file's mode and owner will be repaired.
pub fn attributes_summary(shown: &str, mode: u32, wanted: u32, owned: bool) -> String {
    let new_owner = if owned {
        String::new()
    } else {
        format!(
            "give {shown} to the user running k3sprov (uid {}), and ",
            rustix::process::geteuid().as_raw()
        )
    };
    if mode == wanted {
        format!("{new_owner}keep mode {wanted:04o}")
    } else {
        format!("{new_owner}set the mode of {shown} from {mode:04o} to {wanted:04o}")
    }
}

/// The kind of file found at a target path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    Missing,
    /// A regular file; `owned` is true when the user and group running k3sprov own it.
    File {
        mode: u32,
        size: u64,
        owned: bool,
    },
    Symlink {
        target: PathBuf,
    },
    Directory {
        empty: bool,
    },
    /// A device, socket or FIFO, named for messages.
    Special(&'static str),
}

impl Found {
    /// Describes the thing found, for messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Found::Missing => "missing",
            Found::File { .. } => "a regular file",
            Found::Symlink { .. } => "a symlink",
            Found::Directory { .. } => "a directory",
            Found::Special(kind) => kind,
        }
    }
}

/// Looks at `path` without following a final symlink.
pub fn inspect(path: &Path) -> Result<Found, StepError> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(source) => {
            return Err(StepError::Inspect {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let file_type = metadata.file_type();
    let inspect_error = |source| StepError::Inspect {
        path: path.to_path_buf(),
        source,
    };
    Ok(if file_type.is_file() {
        Found::File {
            mode: metadata.mode() & 0o7777,
            size: metadata.size(),
            owned: metadata.uid() == rustix::process::geteuid().as_raw()
                && metadata.gid() == rustix::process::getegid().as_raw(),
        }
    } else if file_type.is_symlink() {
        Found::Symlink {
            target: std::fs::read_link(path).map_err(inspect_error)?,
        }
    } else if file_type.is_dir() {
        let mut entries = std::fs::read_dir(path).map_err(inspect_error)?;
        Found::Directory {
            empty: entries.next().is_none(),
        }
    } else if file_type.is_char_device() {
        Found::Special("a character device")
    } else if file_type.is_block_device() {
        Found::Special("a block device")
    } else if file_type.is_socket() {
        Found::Special("a socket")
    } else {
        Found::Special("a FIFO")
    })
}
