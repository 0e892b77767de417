//! Kernel settings under `/proc/sys` that the kubelet, kube-proxy and flannel read or set.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde::Serialize;

use super::{Roots, mount_containing, read_trimmed};
use crate::host::mountinfo::MountEntry;

/// The settings the kubelet checks at start and tries to set when they differ, with the values
/// it sets (Kubernetes' `setupKernelTunables`).
pub const KERNEL_DEFAULTS: &[(&str, &str)] = &[
    ("vm/overcommit_memory", "1"),
    ("vm/panic_on_oom", "0"),
    ("kernel/panic", "10"),
    ("kernel/panic_on_oops", "1"),
    ("kernel/keys/root_maxkeys", "1000000"),
    ("kernel/keys/root_maxbytes", "25000000"),
];

/// One file under `/proc/sys`.
#[derive(Clone, Debug, Serialize)]
pub struct Setting {
    /// The path under `/proc/sys`, such as `vm/overcommit_memory`.
    pub name: &'static str,
    /// The value read; `None` when the file is missing or unreadable.
    pub value: Option<String>,
    pub writable: bool,
}

impl Setting {
    pub fn number(&self) -> Option<u64> {
        self.value.as_deref()?.parse().ok()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Sysctls {
    /// `/proc/sys` is mounted read-only, as docker does for unprivileged containers.
    pub read_only: bool,
    pub kernel_defaults: Vec<Setting>,
    pub ip_forward: Setting,
    pub bridge_nf_call_iptables: Setting,
    pub nf_conntrack_max: Setting,
    pub inotify_instances: Setting,
    pub inotify_watches: Setting,
}

impl Sysctls {
    /// Returns the kernel defaults whose value differs from the kubelet's, or cannot be read.
    pub fn mismatched_defaults(&self) -> Vec<(&Setting, &'static str)> {
        self.kernel_defaults
            .iter()
            .zip(KERNEL_DEFAULTS)
            .filter(|(setting, (_, expected))| setting.value.as_deref() != Some(*expected))
            .map(|(setting, (_, expected))| (setting, *expected))
            .collect()
    }
}

pub fn probe(roots: &Roots, mounts: &[MountEntry]) -> Sysctls {
    let read_only =
        mount_containing(mounts, Path::new("/proc/sys")).is_some_and(MountEntry::read_only);
    let setting = |name: &'static str| read_setting(roots, read_only, name);
    Sysctls {
        read_only,
        kernel_defaults: KERNEL_DEFAULTS
            .iter()
            .map(|(name, _)| setting(name))
            .collect(),
        ip_forward: setting("net/ipv4/ip_forward"),
        bridge_nf_call_iptables: setting("net/bridge/bridge-nf-call-iptables"),
        nf_conntrack_max: setting("net/netfilter/nf_conntrack_max"),
        inotify_instances: setting("fs/inotify/max_user_instances"),
        inotify_watches: setting("fs/inotify/max_user_watches"),
    }
}

fn read_setting(roots: &Roots, read_only: bool, name: &'static str) -> Setting {
    let path = roots.proc.join("sys").join(name);
    let value = read_trimmed(&path);
    let writable = value.is_some() && !read_only && may_write(roots, &path);
    Setting {
        name,
        value,
        writable,
    }
}

/// Checks with `access(2)` on the real machine, so the kernel applies the rules of user
/// namespaces. In a fixture tree, where tests run as root, the file's write bits decide.
fn may_write(roots: &Roots, path: &Path) -> bool {
    if roots.live {
        rustix::fs::access(path, rustix::fs::Access::WRITE_OK).is_ok()
    } else {
        std::fs::metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o222 != 0)
    }
}
