//! The filesystem under the k3s data dir, which decides whether overlayfs can use it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Roots, mount_containing};
use crate::host::mountinfo::MountEntry;

/// Filesystem magic numbers from `<linux/magic.h>`, with the names mountinfo uses.
const MAGIC_NAMES: &[(u64, &str)] = &[
    (0x0102_1994, "tmpfs"),
    (0x0102_1997, "9p"),
    (0x794c_7630, "overlay"),
    (0xef53, "ext4"),
    (0x9123_683e, "btrfs"),
    (0x5846_5342, "xfs"),
    (0x2fc1_2fc1, "zfs"),
    (0x8584_58f6, "ramfs"),
    (0x7371_7368, "squashfs"),
    (0x6969, "nfs"),
    (0x6573_5546, "fuse"),
];

/// The filesystem that contains the data dir, or its nearest existing ancestor.
#[derive(Clone, Debug, Serialize)]
pub struct Filesystem {
    /// The data dir k3s would use.
    pub data_dir: PathBuf,
    /// The data dir itself when it exists, else its nearest ancestor that does.
    pub probed: PathBuf,
    /// The type mountinfo gives for the mount containing `probed` (`ext4`, `9p`, `fuse.sshfs`).
    pub mount_type: Option<String>,
    pub mount_point: Option<PathBuf>,
    /// The type named by `statfs`'s magic number, on the real machine only.
    pub statfs_type: Option<String>,
    /// Whether directory entries carry their file type (`d_type`), which overlayfs needs; checked
    /// on xfs only, where it depends on how the filesystem was made (`ftype=1`).
    pub d_type: Option<bool>,
    /// Why k3s could not create or write its data dir there, when it could not: the path is
    /// not a directory, or (on the real machine) the directory cannot be written.
    pub unusable: Option<String>,
}

impl Filesystem {
    /// Returns the best-known type: statfs's when it named one, else mountinfo's.
    pub fn kind(&self) -> Option<&str> {
        self.statfs_type.as_deref().or(self.mount_type.as_deref())
    }
}

pub fn probe(roots: &Roots, mounts: &[MountEntry]) -> Filesystem {
    let probed = nearest_existing(roots, &roots.data_dir);
    let mount = mount_containing(mounts, &probed);
    let on_host = roots.on_host(&probed);
    let statfs_type = if roots.live {
        rustix::fs::statfs(&on_host)
            .ok()
            .map(|stat| magic_name(u64::try_from(stat.f_type).unwrap_or(0)))
    } else {
        None
    };
    let unusable = unusable(roots, &on_host);
    let mut filesystem = Filesystem {
        unusable,
        data_dir: roots.data_dir.clone(),
        mount_type: mount.map(|entry| entry.fs_type.clone()),
        mount_point: mount.map(|entry| entry.mount_point.clone()),
        statfs_type,
        d_type: None,
        probed,
    };
    if filesystem.kind() == Some("xfs") {
        filesystem.d_type = has_d_type(&on_host);
    }
    filesystem
}

/// Says why the data dir, or its nearest existing ancestor at `on_host`, cannot hold k3s's data.
fn unusable(roots: &Roots, on_host: &std::path::Path) -> Option<String> {
    if !on_host.is_dir() {
        return Some("not a directory".to_string());
    }
    if !roots.live {
        return None;
    }
    rustix::fs::access(on_host, rustix::fs::Access::WRITE_OK)
        .err()
        .map(|errno| std::io::Error::from(errno).to_string())
}

/// Returns the magic's mountinfo name, or its hex value when k3sprov does not know it.
fn magic_name(magic: u64) -> String {
    MAGIC_NAMES
        .iter()
        .find(|(known, _)| *known == magic)
        .map_or_else(|| format!("{magic:#x}"), |(_, name)| (*name).to_string())
}

/// Returns `path` (an absolute path on the machine) or its nearest ancestor that exists under the roots.
fn nearest_existing(roots: &Roots, path: &Path) -> PathBuf {
    path.ancestors()
        .find(|ancestor| roots.on_host(ancestor).exists())
        .unwrap_or(Path::new("/"))
        .to_path_buf()
}

/// Reads the directory's own entries: a filesystem without `d_type` reports `DT_UNKNOWN` for `.`.
fn has_d_type(directory: &Path) -> Option<bool> {
    let file = std::fs::File::open(directory).ok()?;
    let entries = rustix::fs::Dir::read_from(&file).ok()?;
    for entry in entries.flatten() {
        if entry.file_name().to_bytes() == b"." {
            return Some(entry.file_type() != rustix::fs::FileType::Unknown);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_names_known_and_unknown() {
        assert_eq!(magic_name(0x0102_1997), "9p");
        assert_eq!(magic_name(0xef53), "ext4");
        assert_eq!(magic_name(0x1234), "0x1234");
    }

    #[test]
    fn real_root_has_d_type() {
        assert_eq!(has_d_type(Path::new("/")), Some(true));
    }
}
