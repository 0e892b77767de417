//! The environment k3s would run in: the init system, container markers, WSL and gVisor.

use std::path::Path;

use serde::Serialize;

use super::{Roots, read_trimmed};
use crate::host::mountinfo::MountEntry;

/// The fixed kernel banner gVisor's `/proc/version` shows, whatever the host runs.
const GVISOR_BANNER: &str = "Linux version 4.4.0 #1 SMP Sun Jan 10 15:06:54 PST 2016";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    Systemd,
    OpenRc,
    None,
}

#[derive(Clone, Debug, Serialize)]
pub struct Environment {
    pub init: Init,
    /// The container engine the markers name (`docker`, `podman`, `lxc`), if any.
    pub container: Option<String>,
    pub wsl: bool,
    pub gvisor: bool,
    /// The root filesystem's mountinfo type.
    pub root_type: Option<String>,
    pub kernel: Option<String>,
}

pub fn probe(roots: &Roots, mounts: &[MountEntry]) -> Environment {
    let kernel = read_trimmed(&roots.proc.join("version"));
    let banner = kernel.as_deref().unwrap_or_default();
    let root_type = crate::host::mountinfo::mounted_at(mounts, Path::new("/"))
        .map(|entry| entry.fs_type.clone());
    let lower = banner.to_ascii_lowercase();
    Environment {
        init: init(roots),
        container: container(roots),
        wsl: lower.contains("microsoft") || lower.contains("wsl"),
        gvisor: banner.starts_with(GVISOR_BANNER) || root_type.as_deref() == Some("9p"),
        root_type,
        kernel,
    }
}

/// systemd creates `/run/systemd/system` when it boots as PID 1; `OpenRC` keeps `/run/openrc`.
fn init(roots: &Roots) -> Init {
    let comm = read_trimmed(&roots.proc.join("1/comm")).unwrap_or_default();
    if comm == "systemd" || roots.on_host(Path::new("/run/systemd/system")).is_dir() {
        Init::Systemd
    } else if comm == "openrc-init" || roots.on_host(Path::new("/run/openrc")).is_dir() {
        Init::OpenRc
    } else {
        Init::None
    }
}

fn container(roots: &Roots) -> Option<String> {
    let environ = std::fs::read(roots.proc.join("1/environ")).unwrap_or_default();
    let named = environ
        .split(|byte| *byte == 0)
        .find_map(|entry| entry.strip_prefix(b"container="))
        .map(|value| String::from_utf8_lossy(value).into_owned());
    if named.is_some() {
        return named;
    }
    if roots.on_host(Path::new("/.dockerenv")).exists() {
        Some("docker".to_string())
    } else if roots.on_host(Path::new("/run/.containerenv")).exists() {
        Some("podman".to_string())
    } else {
        None
    }
}
