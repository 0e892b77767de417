//! The cgroup hierarchy: its version, the controllers k3s needs, and whether it is writable.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Roots;
use crate::host::mountinfo::MountEntry;

/// The controllers the kubelet needs to run pods with limits.
pub const REQUIRED: &[&str] = &["cpu", "cpuset", "memory", "pids"];

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    V1,
    V2,
    /// v1 controllers with a cgroup2 tree beside them, usually at `/sys/fs/cgroup/unified`.
    Hybrid,
    /// No cgroup filesystem is mounted.
    None,
}

#[derive(Clone, Debug, Serialize)]
pub struct Controller {
    pub name: &'static str,
    /// The kernel has the controller.
    pub present: bool,
    /// The controller can be used here: mounted and not disabled (v1), or delegated (v2).
    pub enabled: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Cgroups {
    pub version: Version,
    pub controllers: Vec<Controller>,
    /// Whether the kubelet could create cgroups; `None` when no tree is mounted.
    pub writable: Option<bool>,
    /// The directory whose writability was checked, as a path on the machine.
    pub checked: Option<PathBuf>,
}

impl Cgroups {
    pub fn missing(&self) -> Vec<&'static str> {
        self.controllers
            .iter()
            .filter(|controller| !controller.enabled)
            .map(|controller| controller.name)
            .collect()
    }
}

pub fn probe(roots: &Roots, mounts: &[MountEntry]) -> Cgroups {
    let under_root = |entry: &&MountEntry| entry.mount_point.starts_with(CGROUP_ROOT);
    let v1: Vec<&MountEntry> = mounts
        .iter()
        .filter(under_root)
        .filter(|entry| entry.fs_type == "cgroup")
        .collect();
    let v2 = mounts
        .iter()
        .filter(under_root)
        .find(|entry| entry.fs_type == "cgroup2");
    let version = match (v1.is_empty(), v2) {
        (true, None) => Version::None,
        (true, Some(_)) => Version::V2,
        (false, None) => Version::V1,
        (false, Some(_)) => Version::Hybrid,
    };
    let (controllers, tree) = if let (Version::V2, Some(mount)) = (version, v2) {
        (controllers_v2(roots, &mount.mount_point), Some(mount))
    } else {
        let memory = v1.iter().copied().find(|entry| has_option(entry, "memory"));
        (controllers_v1(roots, &v1), memory.or(v1.first().copied()))
    };
    Cgroups {
        version,
        controllers,
        writable: tree.map(|mount| writable(roots, mount)),
        checked: tree.map(|mount| mount.mount_point.clone()),
    }
}

fn has_option(entry: &MountEntry, name: &str) -> bool {
    entry.super_options.iter().any(|option| option == name)
}

fn sys_path(roots: &Roots, mount_point: &Path) -> PathBuf {
    let relative = mount_point.strip_prefix("/sys").unwrap_or(mount_point);
    roots.sys.join(relative)
}

fn controllers_v2(roots: &Roots, mount_point: &Path) -> Vec<Controller> {
    let listed = std::fs::read_to_string(sys_path(roots, mount_point).join("cgroup.controllers"))
        .unwrap_or_default();
    let available: Vec<&str> = listed.split_whitespace().collect();
    REQUIRED
        .iter()
        .map(|name| Controller {
            name,
            present: available.contains(name),
            enabled: available.contains(name),
        })
        .collect()
}

/// Reads `/proc/cgroups` (name, hierarchy, count, enabled) and the v1 mounts.
fn controllers_v1(roots: &Roots, mounts: &[&MountEntry]) -> Vec<Controller> {
    let table = std::fs::read_to_string(roots.proc.join("cgroups")).unwrap_or_default();
    REQUIRED
        .iter()
        .map(|name| {
            let row = table
                .lines()
                .map(|line| line.split_whitespace().collect::<Vec<_>>())
                .find(|fields| fields.first() == Some(name));
            let switched_on = row.as_ref().and_then(|fields| fields.get(3)) == Some(&"1");
            let mounted = mounts.iter().any(|entry| has_option(entry, name));
            Controller {
                name,
                present: row.is_some(),
                enabled: switched_on && mounted,
            }
        })
        .collect()
}

fn writable(roots: &Roots, mount: &MountEntry) -> bool {
    if mount.read_only() {
        return false;
    }
    !roots.live
        || rustix::fs::access(
            sys_path(roots, &mount.mount_point),
            rustix::fs::Access::WRITE_OK,
        )
        .is_ok()
}
