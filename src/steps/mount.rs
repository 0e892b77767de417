//! Mounts: a tmpfs, or a bind of a file or directory, compared with the mount table.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::host::mountinfo::{self, MountEntry};
use crate::plan::{Action, Context, Step};
use crate::profile::model::MountType;
use crate::profile::spec::MountSpec;
use crate::steps::{Found, StepError, Work, inspect};

/// The data `apply` needs to mount one filesystem.
#[derive(Clone, Debug)]
pub struct MountWork {
    pub mount: MountSpec,
    /// The mount point under the root, with symlinks in its parent resolved.
    pub target: PathBuf,
    /// True when something is mounted there already and must be replaced.
    pub replace: bool,
    /// True when the mount point does not exist yet.
    pub create_point: bool,
}

/// Plans one mount.
pub fn plan(mount: &MountSpec, context: &Context) -> Result<Step, StepError> {
    let shown = mount.path.display().to_string();
    let target = resolve(&context.target(&mount.path));
    let found = inspect(&target)?;
    let id = format!("mount:{shown}");

    let mounted = mountinfo::mounted_at(&context.mounts, &target);
    let (action, summary) = if let Some(entry) = mounted {
        match difference(mount, entry, &target) {
            None => (
                Action::None,
                format!("{shown} is mounted as the profile says"),
            ),
            Some(difference) => (Action::Update, format!("remount {shown}: {difference}")),
        }
    } else if mount.only_if_missing && is_usable(&found) {
        (
            Action::None,
            format!(
                "leave {shown} alone: it is {} and the profile mounts only where nothing usable exists",
                found.describe()
            ),
        )
    } else {
        check_mount_point(mount, &found, &target, &id)?;
        let point = if found == Found::Missing {
            ", creating the mount point"
        } else {
            ""
        };
        (Action::Create, format!("{}{point}", describe(mount)))
    };
    let work = match action {
        Action::None => Work::Nothing,
        _ => Work::Mount(MountWork {
            mount: mount.clone(),
            replace: mounted.is_some(),
            create_point: found == Found::Missing,
            target,
        }),
    };
    Ok(Step {
        id,
        action,
        summary,
        diff: None,
        work,
    })
}

/// Checks that a mount can be made on what is found at `target`. A symlink is rejected,
/// because mount(2) would follow it, possibly out of the root. A tmpfs or the bind of a
/// directory needs a directory, and the bind of a file needs anything but a directory. A bind
/// source must exist.
fn check_mount_point(
    mount: &MountSpec,
    found: &Found,
    target: &Path,
    id: &str,
) -> Result<(), StepError> {
    let blocked = |expected| StepError::Blocked {
        step: id.to_string(),
        path: target.to_path_buf(),
        found: found.describe(),
        expected,
    };
    if let Some(source) = &mount.source
        && !source.exists()
    {
        return Err(StepError::MissingSource {
            step: id.to_string(),
            path: source.clone(),
        });
    }
    let needs_directory = mount.source.as_deref().is_none_or(Path::is_dir);
    match found {
        Found::Missing => Ok(()),
        Found::Symlink { .. } => Err(blocked("a file or directory to mount on, not a symlink")),
        Found::Directory { .. } if needs_directory => Ok(()),
        Found::Directory { .. } => Err(blocked("a file to bind a file onto")),
        _ if needs_directory => Err(blocked("a directory to mount on")),
        _ => Ok(()),
    }
}

/// Resolves symlinks in the parent of `path`, as the mount table shows real paths.
fn resolve(path: &Path) -> PathBuf {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent)
            .map_or_else(|_| path.to_path_buf(), |parent| parent.join(name)),
        _ => path.to_path_buf(),
    }
}

/// Something usable exists at a path when it is neither missing nor an empty placeholder, the
/// kind of file or directory a mount point is made of.
fn is_usable(found: &Found) -> bool {
    match found {
        Found::Missing | Found::Directory { empty: true } => false,
        Found::File { size, .. } => *size > 0,
        _ => true,
    }
}

fn describe(mount: &MountSpec) -> String {
    let path = mount.path.display();
    let options = mount
        .options
        .flags
        .iter()
        .chain(&mount.options.data)
        .cloned()
        .collect::<Vec<_>>()
        .join(",");
    let with = if options.is_empty() {
        String::new()
    } else {
        format!(" ({options})")
    };
    match (&mount.mount_type, &mount.source) {
        (MountType::Bind, Some(source)) => format!("bind {} onto {path}{with}", source.display()),
        _ => format!("mount a tmpfs on {path}{with}"),
    }
}

/// Says how the mount `entry` found at `target` differs from `mount`, or `None` if it matches.
pub(crate) fn difference(mount: &MountSpec, entry: &MountEntry, target: &Path) -> Option<String> {
    if let Some(flags) = flag_difference(mount, entry) {
        return Some(flags);
    }
    if mount.options.read_only() != entry.read_only() {
        let state = if entry.read_only() {
            "read-only"
        } else {
            "read-write"
        };
        return Some(format!("it is mounted {state}"));
    }
    match mount.mount_type {
        MountType::Tmpfs => tmpfs_difference(mount, entry, target),
        MountType::Bind => {
            let source = mount.source.as_deref()?;
            if same_file(source, target) {
                None
            } else {
                Some(format!(
                    "something other than {} is mounted there ({} from {})",
                    source.display(),
                    entry.fs_type,
                    entry.source
                ))
            }
        }
    }
}

/// Flag options, each with the flag the mount table shows and whether that flag must be
/// present. `suid`, `dev` and `exec` are in force when their `no` form is absent.
const FLAG_CHECKS: &[(&str, &str, bool)] = &[
    ("nosuid", "nosuid", true),
    ("suid", "nosuid", false),
    ("nodev", "nodev", true),
    ("dev", "nodev", false),
    ("noexec", "noexec", true),
    ("exec", "noexec", false),
    ("noatime", "noatime", true),
    ("relatime", "relatime", true),
];

fn flag_difference(mount: &MountSpec, entry: &MountEntry) -> Option<String> {
    for (option, shown_as, present) in FLAG_CHECKS {
        let wanted = mount.options.flags.iter().any(|flag| flag == option);
        let shown = entry.mount_options.iter().any(|flag| flag == shown_as);
        if wanted && shown != *present {
            return Some(format!("it is not mounted with `{option}`"));
        }
    }
    None
}

fn tmpfs_difference(mount: &MountSpec, entry: &MountEntry, target: &Path) -> Option<String> {
    if entry.fs_type != "tmpfs" {
        return Some(format!("a {} filesystem is mounted there", entry.fs_type));
    }
    for name in ["uid", "gid", "nr_inodes"] {
        if let Some(wanted) = mount.options.data_value(name) {
            let actual = entry.super_option(name).unwrap_or("unset");
            let same = match name {
                "nr_inodes" => size_in_units(actual) == size_in_units(wanted),
                _ => actual == wanted,
            };
            if !same {
                return Some(format!("its {name} is {actual}, not {wanted}"));
            }
        }
    }
    if let Some(wanted) = mount.options.data_value("size").and_then(size_in_bytes) {
        let actual = entry.super_option("size").and_then(size_in_bytes);
        if actual != Some(wanted) {
            return Some(format!(
                "its size is {}, not {}",
                entry.super_option("size").unwrap_or("unlimited"),
                mount.options.data_value("size").unwrap_or_default()
            ));
        }
    }
    if let Some(wanted) = mount.options.data_value("mode") {
        let wanted_bits = u32::from_str_radix(wanted, 8).ok();
        let actual = entry.super_option("mode").unwrap_or("1777");
        if u32::from_str_radix(actual, 8).ok() != wanted_bits {
            return Some(format!("its mode is {actual:0>4}, not {wanted:0>4}"));
        }
        // A chmod of the mounted directory changes its mode without changing the mount.
        let directory_bits = std::fs::metadata(target)
            .ok()
            .map(|metadata| metadata.mode() & 0o7777);
        if directory_bits.is_some() && directory_bits != wanted_bits {
            return Some(format!(
                "its directory has mode {:04o}, not {wanted:0>4}",
                directory_bits.unwrap_or_default()
            ));
        }
    }
    None
}

fn same_file(source: &Path, target: &Path) -> bool {
    match (std::fs::metadata(source), std::fs::metadata(target)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Converts a count such as `64k` into a number, as tmpfs reads `nr_inodes`.
fn size_in_units(value: &str) -> Option<u64> {
    let (digits, shift) = match value.char_indices().last()? {
        (index, 'k' | 'K') => (&value[..index], 10),
        (index, 'm' | 'M') => (&value[..index], 20),
        (index, 'g' | 'G') => (&value[..index], 30),
        _ => (value, 0),
    };
    digits.parse::<u64>().ok()?.checked_shl(shift)
}

/// Converts a tmpfs size such as `1m` into bytes, rounded up to whole pages as the kernel
/// rounds it. A percentage of memory cannot be compared and gives `None`.
fn size_in_bytes(size: &str) -> Option<u64> {
    let (digits, unit) = match size.char_indices().last()? {
        (index, suffix) if suffix.is_ascii_alphabetic() => (&size[..index], suffix),
        _ => (size, 'b'),
    };
    let shift = match unit.to_ascii_lowercase() {
        'b' => 0,
        'k' => 10,
        'm' => 20,
        'g' => 30,
        't' => 40,
        'p' => 50,
        'e' => 60,
        _ => return None,
    };
    let bytes = digits.parse::<u64>().ok()?.checked_shl(shift)?;
    let page = rustix::param::page_size() as u64;
    Some(bytes.div_ceil(page) * page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_to_pages() {
        assert_eq!(size_in_bytes("1m"), Some(1 << 20));
        assert_eq!(size_in_bytes("1024k"), Some(1 << 20));
        assert_eq!(size_in_bytes("1"), Some(rustix::param::page_size() as u64));
        assert_eq!(size_in_bytes("50%"), None);
    }

    #[test]
    fn empty_placeholders_are_not_usable() {
        assert!(!is_usable(&Found::Missing));
        assert!(!is_usable(&Found::Directory { empty: true }));
        assert!(!is_usable(&Found::File {
            mode: 0o644,
            size: 0,
            owned: true,
        }));
        assert!(is_usable(&Found::Special("a character device")));
    }
}
