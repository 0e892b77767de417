//! Probes: facts about the machine that decide whether k3s can start, each read from a file or
//! taken with a harmless syscall.
//!
//! Every probe reads through [`Roots`], so tests point it at a fixture tree that stands for
//! `/proc`, `/sys`, `/dev` and `/`. What files cannot reproduce (statfs, opening a device, the
//! kernel's write-permission check, a trial mount) runs only when `Roots::live` is set.

pub mod cgroups;
pub mod environment;
pub mod filesystem;
pub mod kmsg;
pub mod overlay;
pub mod privileges;
pub mod space;
pub mod sysctl;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::host::mountinfo::{self, MountEntry};

/// The data dir k3s uses when its config sets no `data-dir`.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/rancher/k3s";

/// The directories the probes read in place of `/proc`, `/sys`, `/dev` and `/`.
#[derive(Clone, Debug)]
pub struct Roots {
    pub proc: PathBuf,
    pub sys: PathBuf,
    pub dev: PathBuf,
    /// The directory that stands for `/`: markers such as `/.dockerenv`, `/run` and the data dir
    /// are looked up under it.
    pub host: PathBuf,
    /// The k3s data dir, an absolute path on the machine.
    pub data_dir: PathBuf,
    /// True on the real machine: allows statfs, opening `/dev/kmsg`, `access(2)` and the trial
    /// overlay mount, none of which a fixture tree can stand in for.
    pub live: bool,
}

impl Default for Roots {
    fn default() -> Self {
        Roots {
            proc: PathBuf::from("/proc"),
            sys: PathBuf::from("/sys"),
            dev: PathBuf::from("/dev"),
            host: PathBuf::from("/"),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            live: true,
        }
    }
}

impl Roots {
    /// Roots inside a fixture tree `dir` that has `proc/`, `sys/` and `dev/` beside the files of
    /// `/`. Only free space is read from the real machine.
    pub fn fixture(dir: &Path) -> Roots {
        Roots {
            proc: dir.join("proc"),
            sys: dir.join("sys"),
            dev: dir.join("dev"),
            host: dir.to_path_buf(),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            live: false,
        }
    }

    /// Returns where the absolute path `path` of the machine is found under [`Roots::host`].
    pub fn on_host(&self, path: &Path) -> PathBuf {
        self.host.join(path.strip_prefix("/").unwrap_or(path))
    }

    /// Returns the mount table of the probing process, empty when it cannot be read.
    pub fn mounts(&self) -> Vec<MountEntry> {
        std::fs::read_to_string(self.proc.join("self/mountinfo"))
            .map(|text| mountinfo::parse(&text))
            .unwrap_or_default()
    }
}

/// Everything the probes found.
#[derive(Clone, Debug, Serialize)]
pub struct Facts {
    pub filesystem: filesystem::Filesystem,
    /// The trial overlay mount; `None` when it was not attempted (as in `plan`).
    pub overlay: Option<overlay::Trial>,
    pub kmsg: kmsg::Kmsg,
    pub cgroups: cgroups::Cgroups,
    pub sysctl: sysctl::Sysctls,
    pub privileges: privileges::Privileges,
    pub environment: environment::Environment,
    pub space: space::Space,
}

/// Runs every probe; the trial overlay mount only when `trial_mount` is set and the roots are live.
pub fn collect(roots: &Roots, trial_mount: bool) -> Facts {
    let mounts = roots.mounts();
    let privileges = privileges::probe(roots);
    let filesystem = filesystem::probe(roots, &mounts);
    let overlay = (trial_mount && roots.live)
        .then(|| overlay::probe_for(&privileges, &roots.on_host(&filesystem.probed)));
    Facts {
        overlay,
        kmsg: kmsg::probe(roots),
        cgroups: cgroups::probe(roots, &mounts),
        sysctl: sysctl::probe(roots, &mounts),
        environment: environment::probe(roots, &mounts),
        space: space::probe(roots, &filesystem),
        filesystem,
        privileges,
    }
}

/// Reads a small text file and trims it; `None` when it cannot be read.
pub(crate) fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|text| text.trim().to_string())
}

/// Returns the mount that contains `path`: the last one whose mount point is its longest prefix.
pub(crate) fn mount_containing<'a>(
    mounts: &'a [MountEntry],
    path: &Path,
) -> Option<&'a MountEntry> {
    let depth = mounts
        .iter()
        .filter(|entry| path.starts_with(&entry.mount_point))
        .map(|entry| entry.mount_point.components().count())
        .max()?;
    mounts.iter().rev().find(|entry| {
        path.starts_with(&entry.mount_point) && entry.mount_point.components().count() == depth
    })
}
