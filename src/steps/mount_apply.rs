//! Applying a planned mount with mount(2), through rustix rather than the `mount` command.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, UnmountFlags};

use crate::profile::model::MountType;
use crate::profile::mount_options::MountOptions;
use crate::steps::mount::MountWork;

#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error(
        "cannot mount on `{target}`: mounting needs CAP_SYS_ADMIN; run as root, or in a container started with --privileged or --cap-add SYS_ADMIN"
    )]
    Permission {
        target: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot {action} `{target}`")]
    Failed {
        action: &'static str,
        target: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the mount point")]
    MountPoint(#[source] crate::fsx::FsError),
    #[error("the mount on `{target}` does not match the profile after mounting: {difference}")]
    StillDiffers { target: PathBuf, difference: String },
    #[error("mount option `{0}` contains a NUL character")]
    Nul(String),
}

/// Creates the mount point if needed, then mounts, or replaces what is mounted there, and
/// checks the result against the mount table.
pub fn apply(work: &MountWork) -> Result<(), MountError> {
    let target = &work.target;
    if work.create_point {
        create_mount_point(work).map_err(MountError::MountPoint)?;
    }
    if work.replace {
        // Remounting tmpfs over tmpfs keeps its content. tmpfs ignores some options on
        // remount (mode, for one), so a remount that did not take is replaced like any other
        // mismatch: unmounted first, so that mounts never stack.
        if work.mount.mount_type == MountType::Tmpfs && is_tmpfs(target) {
            let data = data_string(&work.mount.options)?;
            rustix::mount::mount_remount(target, flags(&work.mount.options), data.as_c_str())
                .map_err(|error| failure("remount", target, error))?;
            if remaining_difference(work)?.is_none() {
                return Ok(());
            }
        }
        rustix::mount::unmount(target, UnmountFlags::empty())
            .map_err(|error| failure("unmount", target, error))?;
    }
    match (&work.mount.mount_type, &work.mount.source) {
        (MountType::Bind, Some(source)) => bind(source, target, &work.mount.options)?,
        _ => tmpfs(target, &work.mount.options)?,
    }
    match remaining_difference(work)? {
        None => Ok(()),
        Some(difference) => Err(MountError::StillDiffers {
            target: target.clone(),
            difference,
        }),
    }
}

/// Reads the mount table again and describes how the mount at the target still differs.
fn remaining_difference(work: &MountWork) -> Result<Option<String>, MountError> {
    let table = crate::host::mountinfo::read().map_err(|source| MountError::Failed {
        action: "read the mount table after mounting",
        target: work.target.clone(),
        source,
    })?;
    Ok(
        match crate::host::mountinfo::mounted_at(&table, &work.target) {
            Some(entry) => crate::steps::mount::difference(&work.mount, entry, &work.target),
            None => Some("nothing is mounted there".to_string()),
        },
    )
}

fn tmpfs(target: &Path, options: &MountOptions) -> Result<(), MountError> {
    let data = data_string(options)?;
    rustix::mount::mount("tmpfs", target, "tmpfs", flags(options), data.as_c_str())
        .map_err(|error| failure("mount a tmpfs on", target, error))
}

/// Binds `source` onto `target`. Flags such as `ro` do not apply to the first bind, so they
/// take a second remount call, as mount(8) does.
fn bind(source: &Path, target: &Path, options: &MountOptions) -> Result<(), MountError> {
    rustix::mount::mount_bind(source, target)
        .map_err(|error| failure("bind onto", target, error))?;
    let extra = flags(options);
    if extra.is_empty() {
        return Ok(());
    }
    rustix::mount::mount_remount(target, MountFlags::BIND | extra, c"")
        .map_err(|error| failure("remount", target, error))
}

fn create_mount_point(work: &MountWork) -> Result<(), crate::fsx::FsError> {
    let source_is_file = work
        .mount
        .source
        .as_deref()
        .is_some_and(|source| !source.is_dir());
    if source_is_file {
        if let Some(parent) = work.target.parent() {
            crate::fsx::create_dir_all(parent)?;
        }
        crate::fsx::write_atomic(&work.target, b"", 0o644)
    } else {
        crate::fsx::create_dir_all(&work.target)
    }
}

fn is_tmpfs(target: &Path) -> bool {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    // `f_type` is i64 on x86_64 and narrower on some other targets.
    #[allow(clippy::useless_conversion)]
    rustix::fs::statfs(target).is_ok_and(|stat| i64::from(stat.f_type) == TMPFS_MAGIC)
}

/// Maps flag options to mount(2) bits. Options that restore a default (`rw`, `suid`, ...) map
/// to no bit, which is how mount(2) expresses them.
fn flags(options: &MountOptions) -> MountFlags {
    let mut bits = MountFlags::empty();
    for option in &options.flags {
        let (set, bit) = match option.as_str() {
            "ro" => (true, MountFlags::RDONLY),
            "rw" => (false, MountFlags::RDONLY),
            "nosuid" => (true, MountFlags::NOSUID),
            "suid" => (false, MountFlags::NOSUID),
            "nodev" => (true, MountFlags::NODEV),
            "dev" => (false, MountFlags::NODEV),
            "noexec" => (true, MountFlags::NOEXEC),
            "exec" => (false, MountFlags::NOEXEC),
            "sync" => (true, MountFlags::SYNCHRONOUS),
            "async" => (false, MountFlags::SYNCHRONOUS),
            "dirsync" => (true, MountFlags::DIRSYNC),
            "noatime" => (true, MountFlags::NOATIME),
            "atime" => (false, MountFlags::NOATIME),
            "nodiratime" => (true, MountFlags::NODIRATIME),
            "diratime" => (false, MountFlags::NODIRATIME),
            "relatime" => (true, MountFlags::RELATIME),
            "norelatime" => (false, MountFlags::RELATIME),
            "strictatime" => (true, MountFlags::STRICTATIME),
            "nostrictatime" => (false, MountFlags::STRICTATIME),
            _ => continue,
        };
        bits.set(bit, set);
    }
    bits
}

fn data_string(options: &MountOptions) -> Result<CString, MountError> {
    let joined = options.data.join(",");
    CString::new(joined.clone()).map_err(|_| MountError::Nul(joined))
}

fn failure(action: &'static str, target: &Path, errno: rustix::io::Errno) -> MountError {
    let source = std::io::Error::from(errno);
    if errno == rustix::io::Errno::PERM {
        MountError::Permission {
            target: target.to_path_buf(),
            source,
        }
    } else {
        MountError::Failed {
            action,
            target: target.to_path_buf(),
            source,
        }
    }
}
