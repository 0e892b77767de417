//! Checks that need more than the schema: required keys after merging, flags of the chosen
//! role, mount sources and options, paths, and the mirror URL. Each check turns the typed
//! profile into part of the [`Spec`] and reports problems at the key that caused them.

use std::collections::HashSet;
use std::path::{Component, PathBuf};

use super::model::{MountToml, ProfileToml};
use super::spec::{CniSpec, K3sSpec, Spec, known_cni_plugins};
use super::tree::{Node, NodeValue, Origin, PathSegment};
use crate::diagnostic::Diagnostic;
use crate::flags::Role;

/// Marks a check that failed after reporting its problem.
struct Reported;

mod config;
mod download;
mod mounts;
mod targets;

pub use download::parse_mirror;

/// Keys that hold secrets in a k3s config file. `cluster-secret` is the old name of `token`,
/// which may still be found in files on disk.
pub const SECRET_KEYS: &[&str] = &[
    "token",
    "agent-token",
    "datastore-endpoint",
    "etcd-s3-access-key",
    "etcd-s3-secret-key",
    "etcd-s3-session-token",
    "vpn-auth",
    "cluster-secret",
];

/// Context of one check run: the merged tree for locating problems, and where they go.
pub struct Checker<'a> {
    pub tree: &'a Node,
    pub diagnostics: &'a mut Vec<Diagnostic>,
    /// True when an `extends` failed, so missing keys may be the parent's and are not reported.
    pub incomplete: bool,
    /// The file the user named; keys from other files were inherited.
    pub top: super::tree::FileId,
}

impl Checker<'_> {
    /// Returns the origin of the value at `path`, or of the nearest table above it.
    fn origin(&self, path: &[&str]) -> Option<Origin> {
        self.origin_at(&keys(path))
    }

    fn origin_at(&self, path: &[PathSegment]) -> Option<Origin> {
        (0..=path.len())
            .rev()
            .find_map(|length| self.tree.lookup(&path[..length]))
            .map(|(node, _)| node.origin.clone())
    }

    /// Returns the origin of the key at `path`, falling back to its value.
    fn key_origin(&self, path: &[PathSegment]) -> Option<Origin> {
        match self.tree.lookup(path) {
            Some((_, Some(key))) => Some(key.clone()),
            _ => self.origin_at(path),
        }
    }

    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Converts `profile` into a spec, reporting every problem; `None` if any was an error.
    ///
    /// `mount` contains the `[[mount]]` entries that passed the schema, with their positions in
    /// the profile, so problems point at the right entry.
    pub fn build(
        &mut self,
        name: &str,
        label: String,
        profile: ProfileToml,
        mount: Vec<(usize, MountToml)>,
    ) -> Option<Spec> {
        let errors_before = self.diagnostics.iter().filter(|d| d.is_error()).count();
        let kind = profile.kind;
        if kind.is_none() && !self.incomplete {
            self.error(
                Diagnostic::error(self.origin(&[]), "missing key `kind`")
                    .with_help("add `kind = \"sandbox\"`, `\"docker\"` or `\"host\"`, or `extends` a stock profile"),
            );
        }
        let k3s = self.k3s(profile.k3s.unwrap_or_default());
        let cni = profile.cni.and_then(|cni| self.cni(cni));
        let config = self.config(
            profile.config.unwrap_or_default(),
            k3s.as_ref().map_or(Role::Server, |k3s| k3s.role),
        );
        let mounts = self.mounts(mount);
        let download = self.download(profile.download.unwrap_or_default());
        if let Some(k3s) = &k3s {
            self.check_targets(k3s, cni.as_ref(), &mounts);
        }

        let errors_after = self.diagnostics.iter().filter(|d| d.is_error()).count();
        if errors_after > errors_before {
            return None;
        }
        let mounts = mounts.into_iter().map(|(_, mount)| mount).collect();
        Some(Spec {
            name: name.to_string(),
            label,
            kind: kind?,
            description: profile.description,
            k3s: k3s?,
            cni,
            config,
            mounts,
            download: download?,
        })
    }

    fn k3s(&mut self, k3s: super::model::K3sToml) -> Option<K3sSpec> {
        let version = k3s.version.or_else(|| {
            if !self.incomplete {
                self.error(
                    Diagnostic::error(self.origin(&["k3s"]), "missing key `k3s.version`")
                        .with_help("set an exact k3s release tag, such as `version = \"v1.33.5+k3s1\"` under [k3s]"),
                );
            }
            None
        });
        let bin_dir = self.absolute_path(&["k3s", "bin_dir"], k3s.bin_dir, "/usr/local/bin");
        let config_file = self.file_path(
            &["k3s", "config_file"],
            k3s.config_file,
            "/etc/rancher/k3s/config.yaml",
        );
        let symlinks = k3s
            .symlinks
            .unwrap_or_else(|| ["kubectl", "crictl", "ctr"].map(String::from).to_vec());
        self.check_names(&["k3s", "symlinks"], &symlinks, "symlink");
        if let Some(index) = symlinks.iter().position(|name| name == "k3s") {
            let origin = self.origin_at(&[key("k3s"), key("symlinks"), PathSegment::Index(index)]);
            self.error(
                Diagnostic::error(origin, "`k3s` cannot be a symlink to itself")
                    .with_help("remove \"k3s\" from `k3s.symlinks`"),
            );
        }
        Some(K3sSpec {
            version: version?,
            role: k3s.role.unwrap_or_default(),
            bin_dir: bin_dir?,
            symlinks,
            config_file: config_file?,
            sha256: k3s.sha256.unwrap_or_default().to_map(),
        })
    }

    fn cni(&mut self, cni: super::model::CniToml) -> Option<CniSpec> {
        let Some(version) = cni.version else {
            if !self.incomplete {
                self.error(
                    Diagnostic::error(self.origin(&["cni"]), "missing key `cni.version`")
                        .with_help("set a CNI plugins release tag such as `version = \"v1.6.2\"`, or remove [cni]"),
                );
            }
            return None;
        };
        let bin_dir = self.absolute_path(&["cni", "bin_dir"], cni.bin_dir, "/opt/cni/bin");
        let known = known_cni_plugins(&version);
        let plugins = match (cni.plugins, known) {
            (Some(plugins), _) if plugins.is_empty() => {
                self.error(
                    Diagnostic::error(self.origin(&["cni", "plugins"]), "`cni.plugins` lists no plugin")
                        .with_help("list the plugins to install, or remove `plugins` to install every plugin of the release, or remove [cni]"),
                );
                return None;
            }
            (Some(plugins), _) => plugins,
            (None, Some(known)) => known.iter().map(|name| (*name).to_string()).collect(),
            (None, None) => {
                self.error(
                    Diagnostic::error(self.origin(&["cni", "version"]), format!("the plugins of CNI {version} are not known to k3sprov"))
                        .with_help("list the plugins to install in `cni.plugins`, such as `plugins = [\"bridge\", \"host-local\", \"loopback\", \"portmap\"]`"),
                );
                return None;
            }
        };
        self.check_names(&["cni", "plugins"], &plugins, "plugin");
        if let Some(known) = known {
            for (index, plugin) in plugins.iter().enumerate() {
                if known.contains(&plugin.as_str()) {
                    continue;
                }
                let origin =
                    self.origin_at(&[key("cni"), key("plugins"), PathSegment::Index(index)]);
                let mut diagnostic =
                    Diagnostic::error(origin, format!("CNI {version} has no plugin `{plugin}`"))
                        .with_help(format!(
                            "the plugins of this release are: {}",
                            known.join(", ")
                        ));
                if let Some(close) = crate::suggest::closest(plugin, known.iter().copied()) {
                    diagnostic = diagnostic.with_label(format!("did you mean \"{close}\"?"));
                }
                self.error(diagnostic);
            }
        }
        Some(CniSpec {
            version,
            bin_dir: bin_dir?,
            plugins,
            sha256: cni.sha256.unwrap_or_default().to_map(),
        })
    }

    /// Reports duplicate names in the list at `path`.
    fn check_names(&mut self, path: &[&str], names: &[String], what: &str) {
        let mut seen = HashSet::new();
        for (index, name) in names.iter().enumerate() {
            if !seen.insert(name) {
                let mut at = keys(path);
                at.push(PathSegment::Index(index));
                let origin = self.origin_at(&at);
                self.error(
                    Diagnostic::error(origin, format!("{what} `{name}` is listed twice"))
                        .with_help("remove one of them"),
                );
            }
        }
    }

    /// Checks a path that must name a file, so it cannot be `/`.
    fn file_path(
        &mut self,
        path: &[&str],
        value: Option<String>,
        default: &str,
    ) -> Option<PathBuf> {
        let checked = self.absolute_path(path, value, default)?;
        if checked.file_name().is_some() {
            return Some(checked);
        }
        self.error(
            Diagnostic::error(
                self.origin(path),
                format!("`{}` must name a file, not `/`", path.join(".")),
            )
            .with_help("use a file path such as \"/etc/rancher/k3s/config.yaml\""),
        );
        None
    }

    fn absolute_path(
        &mut self,
        path: &[&str],
        value: Option<String>,
        default: &str,
    ) -> Option<PathBuf> {
        self.absolute_path_at(&keys(path), value, default)
    }

    /// Checks that a path is absolute and has no `..`, which could leave `--root`.
    fn absolute_path_at(
        &mut self,
        path: &[PathSegment],
        value: Option<String>,
        default: &str,
    ) -> Option<PathBuf> {
        let text = value.unwrap_or_else(|| default.to_string());
        let candidate = PathBuf::from(&text);
        let problem = if !candidate.is_absolute() {
            Some("must be absolute")
        } else if candidate
            .components()
            .any(|part| part == Component::ParentDir)
        {
            Some("must not contain `..`")
        } else if text.chars().any(char::is_control) {
            Some("must not contain control characters such as NUL, newline or escape")
        } else {
            None
        };
        match problem {
            // Rebuilding from components drops `.` parts, repeated and trailing slashes.
            None => Some(candidate.components().collect()),
            Some(problem) => {
                let name = super::schema_check::dotted(path);
                self.error(
                    Diagnostic::error(self.origin_at(path), format!("`{name}` {problem}: {text:?}"))
                        .with_help("write an absolute path from `/`, without `..`; with --root, k3sprov places it under the root"),
                );
                None
            }
        }
    }
}

/// Reports every TOML date-time in the tree: a profile has no date-time settings.
pub fn report_datetimes(node: &Node, diagnostics: &mut Vec<Diagnostic>) {
    match &node.value {
        NodeValue::Datetime(text) => diagnostics.push(
            Diagnostic::error(
                Some(node.origin.clone()),
                format!("date-time value {text} is not valid in a profile"),
            )
            .with_help("put the value in double quotes to make it a string"),
        ),
        NodeValue::Array(items) => items
            .iter()
            .for_each(|item| report_datetimes(item, diagnostics)),
        NodeValue::Table(table) => table
            .values()
            .for_each(|entry| report_datetimes(&entry.node, diagnostics)),
        _ => {}
    }
}

fn key(name: &str) -> PathSegment {
    PathSegment::Key(name.to_string())
}

fn keys(path: &[&str]) -> Vec<PathSegment> {
    path.iter().map(|name| key(name)).collect()
}
