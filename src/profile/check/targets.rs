//! Checks that no two steps write the same path, and that no mount hides what the profile
//! installs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Checker, key, keys};
use crate::diagnostic::Diagnostic;
use crate::profile::spec::{CniSpec, K3sSpec, MountSpec};
use crate::profile::tree::{Origin, PathSegment};
use crate::state::{LOCK_PATH, STATE_PATH};

impl Checker<'_> {
    /// Reports paths that two steps would write, and mounts over paths the profile installs.
    pub(super) fn check_targets(
        &mut self,
        k3s: &K3sSpec,
        cni: Option<&CniSpec>,
        mounts: &[(usize, MountSpec)],
    ) {
        let mut targets: Vec<(PathBuf, String, Option<Origin>)> = vec![(
            k3s.bin_dir.join("k3s"),
            "the k3s binary".into(),
            self.origin(&["k3s", "bin_dir"]),
        )];
        for (index, name) in k3s.symlinks.iter().enumerate() {
            let origin = self.origin_at(&[key("k3s"), key("symlinks"), PathSegment::Index(index)]);
            targets.push((
                k3s.bin_dir.join(name),
                format!("the symlink `{name}`"),
                origin,
            ));
        }
        if let Some(cni) = cni {
            for (index, plugin) in cni.plugins.iter().enumerate() {
                let origin =
                    self.origin_at(&[key("cni"), key("plugins"), PathSegment::Index(index)]);
                let origin = origin.or_else(|| self.origin(&["cni", "bin_dir"]));
                targets.push((
                    cni.bin_dir.join(plugin),
                    format!("the CNI plugin `{plugin}`"),
                    origin,
                ));
            }
        }
        targets.push((
            k3s.config_file.clone(),
            "the k3s config file".into(),
            self.origin(&["k3s", "config_file"]),
        ));
        for reserved in [STATE_PATH, LOCK_PATH] {
            targets.push((PathBuf::from(reserved), "k3sprov's own record".into(), None));
        }

        self.report_duplicates(&targets);
        self.report_nested(&targets);
        for (index, mount) in mounts {
            self.report_hidden(&targets, *index, &mount.path);
        }
    }

    fn report_duplicates(&mut self, targets: &[(PathBuf, String, Option<Origin>)]) {
        let mut first: HashMap<&Path, &str> = HashMap::new();
        for (path, what, origin) in targets {
            match first.get(path.as_path()) {
                Some(earlier) => self.error(
                    Diagnostic::error(
                        origin.clone().or_else(|| self.origin(&[])),
                        format!("`{}` would be both {earlier} and {what}", path.display()),
                    )
                    .with_help("give them different names or directories"),
                ),
                None => {
                    first.insert(path, what);
                }
            }
        }
    }

    /// Reports a target that another target's path runs through, as if it were a directory.
    fn report_nested(&mut self, targets: &[(PathBuf, String, Option<Origin>)]) {
        for (inner, inner_what, origin) in targets {
            let outer = targets
                .iter()
                .find(|(outer, _, _)| inner != outer && inner.starts_with(outer));
            if let Some((outer, outer_what, _)) = outer {
                self.error(
                    Diagnostic::error(
                        origin.clone().or_else(|| self.origin(&[])),
                        format!(
                            "`{}` is {outer_what}, but {inner_what} at `{}` needs it to be a directory",
                            outer.display(),
                            inner.display()
                        ),
                    )
                    .with_help("give them different directories"),
                );
            }
        }
    }

    fn report_hidden(
        &mut self,
        targets: &[(PathBuf, String, Option<Origin>)],
        index: usize,
        mount: &Path,
    ) {
        let hidden = targets.iter().find(|(path, _, _)| path.starts_with(mount));
        if let Some((path, what, _)) = hidden {
            let mut at = keys(&["mount"]);
            at.push(PathSegment::Index(index));
            at.push(key("path"));
            self.error(
                Diagnostic::error(
                    self.origin_at(&at),
                    format!(
                        "a mount on `{}` would hide {what} at `{}`",
                        mount.display(),
                        path.display()
                    ),
                )
                .with_help("mount somewhere else, or install to another directory"),
            );
        }
    }
}
