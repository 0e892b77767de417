//! The parts of a profile that change a doctor verdict.

use std::path::{Path, PathBuf};

use crate::profile::spec::{ConfigValue, Spec};

/// Snapshotters that mount overlayfs, and so fail where it cannot mount.
const OVERLAY_SNAPSHOTTERS: &[&str] = &["overlayfs", "stargz"];

/// The settings k3s would run with: a profile's settings, or k3s's defaults without one.
#[derive(Clone, Debug, Default)]
pub struct Intent {
    /// The profile's name; `None` for k3s's defaults.
    pub profile: Option<String>,
    /// `snapshotter` under `[config]`; `None` keeps k3s's default, overlayfs.
    pub snapshotter: Option<String>,
    pub data_dir: Option<PathBuf>,
    /// A `[[mount]]` at `/dev/kmsg`: `Some(only_if_missing)`.
    pub kmsg_mount: Option<bool>,
    /// The profile declares mounts, which `apply` makes with mount(2).
    pub has_mounts: bool,
    /// A tmpfs the profile mounts on the data dir or one of its parents, so the data dir's
    /// filesystem after apply is tmpfs, whatever it is now.
    pub data_dir_tmpfs: Option<PathBuf>,
    pub has_cni: bool,
    pub kubelet_args: Vec<String>,
    pub kube_proxy_args: Vec<String>,
}

impl Intent {
    pub fn from_spec(spec: &Spec) -> Intent {
        let string = |key: &str| match config_value(spec, key) {
            Some(ConfigValue::String(text)) => Some(text.clone()),
            _ => None,
        };
        let list = |key: &str| match config_value(spec, key) {
            Some(ConfigValue::List(items)) => items.clone(),
            Some(ConfigValue::String(text)) => vec![text.clone()],
            _ => Vec::new(),
        };
        Intent {
            profile: Some(spec.name.clone()),
            snapshotter: string("snapshotter"),
            data_dir: string("data-dir").map(PathBuf::from),
            kmsg_mount: spec
                .mounts
                .iter()
                .find(|mount| mount.path == Path::new("/dev/kmsg"))
                .map(|mount| mount.only_if_missing),
            has_mounts: !spec.mounts.is_empty(),
            data_dir_tmpfs: {
                let data_dir = string("data-dir").map_or_else(
                    || PathBuf::from(crate::host::probes::DEFAULT_DATA_DIR),
                    PathBuf::from,
                );
                spec.mounts
                    .iter()
                    .filter(|mount| mount.mount_type == crate::profile::model::MountType::Tmpfs)
                    .find(|mount| data_dir.starts_with(&mount.path))
                    .map(|mount| mount.path.clone())
            },
            has_cni: spec.cni.is_some(),
            kubelet_args: list("kubelet-arg"),
            kube_proxy_args: list("kube-proxy-arg"),
        }
    }

    /// True when containerd would mount overlayfs for every container.
    pub fn uses_overlay(&self) -> bool {
        self.snapshotter
            .as_deref()
            .is_none_or(|name| OVERLAY_SNAPSHOTTERS.contains(&name))
    }

    pub fn snapshotter_name(&self) -> &str {
        self.snapshotter.as_deref().unwrap_or("overlayfs")
    }

    pub fn has_kubelet_arg(&self, argument: &str) -> bool {
        self.kubelet_args.iter().any(|arg| arg == argument)
    }

    pub fn has_kube_proxy_arg(&self, argument: &str) -> bool {
        self.kube_proxy_args.iter().any(|arg| arg == argument)
    }

    /// Names the setting: "the profile's" when there is one, else what to add to one.
    pub fn subject(&self) -> String {
        self.profile.as_deref().map_or_else(
            || "k3s's defaults".to_string(),
            |name| format!("profile {name}"),
        )
    }
}

fn config_value<'a>(spec: &'a Spec, key: &str) -> Option<&'a ConfigValue> {
    spec.config
        .iter()
        .find(|entry| entry.key == key)
        .map(|entry| &entry.value)
}
