//! A trial overlayfs mount: what containerd's default snapshotter does for every container.
//!
//! The lower, upper and work directories live in a new directory under the system temp dir,
//! which is removed when the trial ends, whatever happened. The mount is made with
//! `MS_NOSUID | MS_NODEV` and unmounted before the directory is removed.
//!
//! NOTE: the trial tests the filesystem of the temp dir. When the data dir is on another one,
//! [`Trial::same_filesystem`] is false and the data dir's own type decides (see `doctor`).

use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rustix::mount::{MountFlags, UnmountFlags};
use serde::Serialize;

use super::privileges::Privileges;
use crate::fsx;

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    Mounted,
    /// The kernel refused the mount; the error is what containerd would see.
    Failed {
        error: String,
    },
    /// The trial could not run: not privileged, or the temporary directories failed.
    Skipped {
        reason: String,
    },
}

#[derive(Clone, Debug, Serialize)]
pub struct Trial {
    pub outcome: Outcome,
    /// The temp dir and the data dir's nearest existing ancestor are on the same filesystem.
    pub same_filesystem: Option<bool>,
}

/// Runs the trial next to the data dir's nearest existing ancestor `probed`, a path on the machine.
pub fn probe_for(privileges: &Privileges, probed: &Path) -> Trial {
    let mut trial = probe(privileges);
    let temp = trial_directory();
    trial.same_filesystem = match (std::fs::metadata(&temp), std::fs::metadata(probed)) {
        (Ok(temp), Ok(data)) => Some(temp.dev() == data.dev()),
        _ => None,
    };
    trial
}

pub fn probe(privileges: &Privileges) -> Trial {
    let outcome = if privileges.cap_sys_admin {
        attempt().unwrap_or_else(|error| Outcome::Skipped {
            reason: crate::fetch::transfer::with_causes(&error),
        })
    } else {
        Outcome::Skipped {
            reason: "cannot test: needs CAP_SYS_ADMIN".to_string(),
        }
    };
    Trial {
        outcome,
        same_filesystem: None,
    }
}

/// Returns where the trial mount is made: `$TMPDIR` when it is an absolute path, else `/tmp`.
/// An empty or relative `TMPDIR` would put it in the current directory.
fn trial_directory() -> std::path::PathBuf {
    std::env::var_os("TMPDIR")
        .map(std::path::PathBuf::from)
        .filter(|path| path.is_absolute())
        .unwrap_or_else(|| std::path::PathBuf::from("/tmp"))
}

/// The trial's temporary directories could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    #[error("cannot create a temporary directory in `{}`", trial_directory().display())]
    TempDir(#[source] std::io::Error),
    #[error(transparent)]
    Fs(#[from] fsx::FsError),
}

fn attempt() -> Result<Outcome, TrialError> {
    let dir = tempfile::Builder::new()
        .prefix(".k3sprov-overlay-")
        .tempdir_in(trial_directory())
        .map_err(TrialError::TempDir)?;
    let [lower, upper, work, merged] =
        ["lower", "upper", "work", "merged"].map(|name| dir.path().join(name));
    for directory in [&lower, &upper, &work, &merged] {
        fsx::create_dir_all(directory)?;
    }
    fsx::write_atomic(&lower.join("probe"), b"k3sprov\n", 0o644)?;
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    let data = CString::new(data).expect("temp paths have no NUL byte");
    let flags = MountFlags::NOSUID | MountFlags::NODEV;
    let outcome =
        match rustix::mount::mount("overlay", &merged, "overlay", flags, Some(data.as_c_str())) {
            Ok(()) => {
                let visible = merged.join("probe").is_file();
                if rustix::mount::unmount(&merged, UnmountFlags::empty()).is_err() {
                    // Nothing should hold it open; detach so the directory can be removed anyway.
                    let _ = rustix::mount::unmount(&merged, UnmountFlags::DETACH);
                }
                if visible {
                    Outcome::Mounted
                } else {
                    Outcome::Failed {
                        error: "the overlay mounted but its lower layer was not visible"
                            .to_string(),
                    }
                }
            }
            Err(errno) => Outcome::Failed {
                error: format!("failed to mount overlay: {}", std::io::Error::from(errno)),
            },
        };
    drop(dir);
    Ok(outcome)
}
