//! The checked profile: every default filled in, every value known to be usable.

use std::path::PathBuf;

use url::Url;

use super::model::{ArchChoice, Kind, MountType};
use super::mount_options::MountOptions;
use crate::flags::{FlagType, Role};

/// Where releases come from when the profile names no mirror.
pub const DEFAULT_MIRROR: &str = "https://github.com";

/// A profile after merging and checking, ready to be planned.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The profile as the user named it, for messages.
    pub name: String,
    /// The profile as the config file's header names it: the real path of the file, or
    /// `NAME (built into k3sprov)`, the same however the user typed it.
    pub label: String,
    pub kind: Kind,
    pub description: Option<String>,
    pub k3s: K3sSpec,
    pub cni: Option<CniSpec>,
    /// `[config]` in the order written, each value in the shape its flag takes.
    pub config: Vec<ConfigEntry>,
    pub mounts: Vec<MountSpec>,
    pub download: DownloadSpec,
}

#[derive(Clone, Debug)]
pub struct K3sSpec {
    pub version: String,
    pub role: Role,
    pub bin_dir: PathBuf,
    pub symlinks: Vec<String>,
    pub config_file: PathBuf,
    pub sha256: Digests,
}

#[derive(Clone, Debug)]
pub struct CniSpec {
    pub version: String,
    pub bin_dir: PathBuf,
    pub plugins: Vec<String>,
    pub sha256: Digests,
}

/// Pinned SHA-256 digests by architecture name (`amd64`, `arm64`, `arm`).
pub type Digests = std::collections::BTreeMap<&'static str, String>;

/// One key of the k3s config file.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigEntry {
    pub key: String,
    pub value: ConfigValue,
}

/// A config value in the shape its flag takes; a single string for a repeatable flag has
/// become a list of one.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigValue {
    Bool(bool),
    Int(i64),
    String(String),
    List(Vec<String>),
}

impl ConfigValue {
    /// Converts a profile value already checked to match `flag_type` by the schema.
    pub fn for_flag(value: super::model::ConfigValue, flag_type: FlagType) -> Self {
        use super::model::ConfigValue as Raw;
        match (value, flag_type) {
            (Raw::String(text), FlagType::StringSlice) => ConfigValue::List(vec![text]),
            (Raw::Bool(flag), _) => ConfigValue::Bool(flag),
            (Raw::Int(number), _) => ConfigValue::Int(number),
            (Raw::String(text), _) => ConfigValue::String(text),
            (Raw::List(items), _) => ConfigValue::List(items),
        }
    }
}

#[derive(Clone, Debug)]
pub struct MountSpec {
    pub path: PathBuf,
    pub mount_type: MountType,
    /// The source of a bind mount; `None` for tmpfs.
    pub source: Option<PathBuf>,
    pub options: MountOptions,
    pub only_if_missing: bool,
}

#[derive(Clone, Debug)]
pub struct DownloadSpec {
    /// The base URL that replaces `https://github.com`, without a trailing slash.
    pub mirror: Url,
    pub arch: ArchChoice,
    pub cache_dir: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
}

/// Plugins shipped by containernetworking/plugins v1.6.x, the series this list was read from.
pub const CNI_PLUGINS_V1_6: &[&str] = &[
    "bandwidth",
    "bridge",
    "dhcp",
    "dummy",
    "firewall",
    "host-device",
    "host-local",
    "ipvlan",
    "loopback",
    "macvlan",
    "portmap",
    "ptp",
    "sbr",
    "static",
    "tap",
    "tuning",
    "vlan",
    "vrf",
];

/// Returns the plugins of a CNI release, when they are compiled into k3sprov, so no download is needed.
pub fn known_cni_plugins(version: &str) -> Option<&'static [&'static str]> {
    version.starts_with("v1.6.").then_some(CNI_PLUGINS_V1_6)
}
