//! `/dev/kmsg`, the kernel log the kubelet's OOM watcher opens at start.

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use serde::Serialize;

use super::Roots;

/// The file found at `/dev/kmsg`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Kmsg {
    Missing,
    /// The kernel log device, character device 1:11.
    Device,
    /// Something else, such as `/dev/null` (1:3) bound there.
    Other {
        description: String,
    },
    /// The device exists but opening it failed.
    Unopenable {
        error: String,
    },
}

pub fn probe(roots: &Roots) -> Kmsg {
    let path = roots.dev.join("kmsg");
    let metadata = match std::fs::metadata(&path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Kmsg::Missing,
        Err(error) => {
            return Kmsg::Unopenable {
                error: error.to_string(),
            };
        }
    };
    if !metadata.file_type().is_char_device() {
        return Kmsg::Other {
            description: "not a character device".to_string(),
        };
    }
    let device = metadata.rdev();
    let (major, minor) = (rustix::fs::major(device), rustix::fs::minor(device));
    if (major, minor) != (1, 11) {
        return Kmsg::Other {
            description: format!("character device {major}:{minor}"),
        };
    }
    if roots.live
        && let Err(error) = std::fs::File::open(&path)
    {
        return Kmsg::Unopenable {
            error: error.to_string(),
        };
    }
    Kmsg::Device
}
