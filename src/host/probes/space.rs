//! Free space where k3s unpacks itself and keeps images (the data dir) and its sockets (`/run`).

use std::path::Path;

use serde::Serialize;

use super::Roots;
use super::filesystem::Filesystem;

#[derive(Clone, Debug, Serialize)]
pub struct Space {
    pub data_dir: Option<Free>,
    pub run: Option<Free>,
}

/// Free space on one filesystem, as an unprivileged user may use it.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Free {
    pub available_bytes: u64,
    pub total_bytes: u64,
}

pub fn probe(roots: &Roots, filesystem: &Filesystem) -> Space {
    Space {
        data_dir: free(&roots.on_host(&filesystem.probed)),
        run: free(&roots.on_host(Path::new("/run"))),
    }
}

fn free(path: &Path) -> Option<Free> {
    let stat = rustix::fs::statvfs(path).ok()?;
    // ramfs and some pseudo filesystems report no size at all: their space is unknown, not
    // zero.
    if stat.f_blocks == 0 {
        return None;
    }
    Some(Free {
        available_bytes: stat.f_bavail.saturating_mul(stat.f_frsize),
        total_bytes: stat.f_blocks.saturating_mul(stat.f_frsize),
    })
}
