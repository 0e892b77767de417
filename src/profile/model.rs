//! The profile file format: serde types that mirror the TOML, and from which the JSON Schema is
//! generated.
//!
//! Every field is optional here because a profile may inherit it through `extends`; required keys
//! are checked after merging, in [`super::spec`]. Doc comments become the schema's descriptions.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::flags::Role;

/// A k3sprov profile: what k3s to install, how to configure it, and which mounts it needs.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "k3sprov profile")]
pub struct ProfileToml {
    /// The environment this profile is written for.
    pub kind: Option<Kind>,
    /// Free text shown by `k3sprov plan`.
    pub description: Option<String>,
    /// A profile to inherit from: a path relative to this file, or the name of a stock profile
    /// (`gvisor`, `docker`, `host`). Tables merge key by key; a scalar or array here replaces the
    /// inherited one.
    pub extends: Option<String>,
    pub k3s: Option<K3sToml>,
    pub cni: Option<CniToml>,
    /// The content of the k3s config file, with keys spelled as k3s flags without dashes.
    #[serde(default)]
    #[schemars(schema_with = "crate::schema::config_schema")]
    pub config: Option<IndexMap<String, ConfigValue>>,
    /// Filesystems to mount before k3s starts.
    pub mount: Option<Vec<MountToml>>,
    pub download: Option<DownloadToml>,
}

/// The environment a profile targets: `sandbox` (gVisor or similar, often on a 9p root),
/// `docker` (a docker or podman container) or `host` (a plain Linux host or virtual machine).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Sandbox,
    Docker,
    Host,
}

/// The k3s release and where it is installed.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct K3sToml {
    /// An exact k3s release tag.
    #[schemars(regex(
        pattern = r"^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.]+)?\+k3s[1-9][0-9]*$"
    ))]
    #[schemars(extend("examples" = ["v1.33.5+k3s1"]))]
    pub version: Option<String>,
    /// The k3s subcommand the config file is for; `[config]` keys are checked against its flags.
    #[schemars(extend("default" = "server"))]
    pub role: Option<Role>,
    /// The directory that receives the `k3s` binary and its symlinks.
    #[schemars(regex(pattern = "^/"), extend("default" = "/usr/local/bin"))]
    pub bin_dir: Option<String>,
    /// Commands to create as relative symlinks to `k3s`.
    #[schemars(extend("default" = ["kubectl", "crictl", "ctr"]), inner(regex(pattern = r"^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$")))]
    pub symlinks: Option<Vec<String>>,
    /// The path of the k3s config file to write.
    #[schemars(regex(pattern = "^/"), extend("default" = "/etc/rancher/k3s/config.yaml"))]
    pub config_file: Option<String>,
    /// SHA-256 digests of the k3s binary per architecture. A pin wins over the release's checksum
    /// file, and a disagreement between the two stops the install.
    pub sha256: Option<ArchDigests>,
}

/// The CNI plugins release and where the plugins are installed.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CniToml {
    /// An exact containernetworking/plugins release tag.
    #[schemars(regex(
        pattern = r"^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.]+)?$"
    ))]
    #[schemars(extend("examples" = ["v1.6.2"]))]
    pub version: Option<String>,
    /// The directory that receives the plugins as real files.
    #[schemars(regex(pattern = "^/"), extend("default" = "/opt/cni/bin"))]
    pub bin_dir: Option<String>,
    /// The plugins to install. Default: every plugin of the release.
    #[schemars(inner(regex(pattern = r"^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$")))]
    pub plugins: Option<Vec<String>>,
    /// SHA-256 digests of the release tarball per architecture.
    pub sha256: Option<ArchDigests>,
}

/// SHA-256 digests, in lowercase hex, by architecture.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchDigests {
    #[schemars(regex(pattern = "^[0-9a-f]{64}$"))]
    pub amd64: Option<String>,
    #[schemars(regex(pattern = "^[0-9a-f]{64}$"))]
    pub arm64: Option<String>,
    #[schemars(regex(pattern = "^[0-9a-f]{64}$"))]
    pub arm: Option<String>,
}

/// A value in `[config]`. Which of these a key takes depends on its k3s flag.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ConfigValue {
    Bool(bool),
    Int(i64),
    String(String),
    List(Vec<String>),
}

/// A filesystem to mount.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MountToml {
    /// The absolute path to mount on.
    #[schemars(regex(pattern = "^/"))]
    pub path: String,
    /// `tmpfs` for a fresh in-memory filesystem, `bind` to make `source` appear at `path`.
    #[serde(rename = "type")]
    pub mount_type: MountType,
    /// For `bind`: the absolute path of the file or directory to bind.
    #[schemars(regex(pattern = "^/"))]
    pub source: Option<String>,
    /// Mount options in mount(8) syntax, such as `size=1m`, `mode=0755` or `ro`.
    #[serde(default)]
    pub options: Vec<String>,
    /// When true, mount only where nothing usable exists at `path` (a missing path, or an empty
    /// file or directory), for example `/dev/kmsg` on a machine that has the real device.
    #[serde(default)]
    #[schemars(extend("default" = false))]
    pub only_if_missing: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    Tmpfs,
    Bind,
}

/// The source of release downloads, and their architecture.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadToml {
    /// Replaces `https://github.com` in every release URL. A `file://` directory in the same
    /// layout works too.
    #[schemars(regex(pattern = "^(https?|file)://"), extend("default" = "https://github.com"))]
    pub mirror: Option<String>,
    /// The architecture to download for; `auto` uses the machine's.
    #[schemars(extend("default" = "auto"))]
    pub arch: Option<ArchChoice>,
    /// The directory of verified downloads. Default: `$XDG_CACHE_HOME/k3sprov`, else
    /// `~/.cache/k3sprov`.
    #[schemars(regex(pattern = "^/"))]
    pub cache_dir: Option<String>,
    /// A PEM file with one more CA certificate to trust, on top of the system's, for proxies
    /// that intercept TLS.
    #[schemars(regex(pattern = "^/"))]
    pub ca_file: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ArchChoice {
    Auto,
    Amd64,
    Arm64,
    Arm,
}

/// Digests by architecture, as a map, for code that looks them up by name.
impl ArchDigests {
    pub fn to_map(&self) -> BTreeMap<&'static str, String> {
        [
            ("amd64", &self.amd64),
            ("arm64", &self.arm64),
            ("arm", &self.arm),
        ]
        .into_iter()
        .filter_map(|(arch, digest)| digest.clone().map(|digest| (arch, digest)))
        .collect()
    }
}
