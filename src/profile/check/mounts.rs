//! Checks of `[[mount]]` entries: paths, sources and options.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{Checker, Reported, key};
use crate::diagnostic::Diagnostic;
use crate::profile::model::{MountToml, MountType};
use crate::profile::mount_options::{self, MountOptions};
use crate::profile::spec::MountSpec;
use crate::profile::tree::PathSegment;

impl Checker<'_> {
    /// Checks the mounts, given with their positions in the profile, and returns those that are
    /// valid, still with their positions.
    pub(super) fn mounts(&mut self, mounts: Vec<(usize, MountToml)>) -> Vec<(usize, MountSpec)> {
        let mut seen = HashSet::new();
        let mut specs = Vec::new();
        for (index, mount) in mounts {
            let at = |field: &str| vec![key("mount"), PathSegment::Index(index), key(field)];
            let path = self.absolute_path_at(&at("path"), Some(mount.path), "");
            if let Some(path) = &path {
                if path == Path::new("/") {
                    self.error(
                        Diagnostic::error(self.origin_at(&at("path")), "cannot mount over `/`")
                            .with_help("mount on a directory or file below `/`"),
                    );
                } else if !seen.insert(path.clone()) {
                    self.error(
                        Diagnostic::error(
                            self.origin_at(&at("path")),
                            format!("`{}` is mounted twice", path.display()),
                        )
                        .with_help("keep one `[[mount]]` entry per path"),
                    );
                }
            }
            let source = self
                .mount_source(mount.source.as_ref(), mount.mount_type, index)
                .ok();
            let options = self.mount_options(&mount.options, mount.mount_type, index);
            if let (Some(path), Some(source), Some(options)) = (path, source, options) {
                specs.push((
                    index,
                    MountSpec {
                        path,
                        mount_type: mount.mount_type,
                        source,
                        options,
                        only_if_missing: mount.only_if_missing,
                    },
                ));
            }
        }
        self.check_nesting(&specs);
        specs
    }

    /// Reports a mount listed before a mount on one of its parent directories, which would
    /// hide it once both are mounted in order.
    fn check_nesting(&mut self, specs: &[(usize, MountSpec)]) {
        for (position, (index, inner)) in specs.iter().enumerate() {
            let hiding = specs[position + 1..]
                .iter()
                .find(|(_, outer)| inner.path.starts_with(&outer.path));
            if let Some((_, outer)) = hiding {
                let at = vec![key("mount"), PathSegment::Index(*index), key("path")];
                self.error(
                    Diagnostic::error(
                        self.origin_at(&at),
                        format!(
                            "the mount on `{}` comes before the mount on `{}`, which would hide it",
                            inner.path.display(),
                            outer.path.display()
                        ),
                    )
                    .with_help("list the mount on the parent directory first"),
                );
            }
        }
    }

    /// Checks the source of mount `index`: required for bind, forbidden for tmpfs.
    fn mount_source(
        &mut self,
        source: Option<&String>,
        mount_type: MountType,
        index: usize,
    ) -> Result<Option<PathBuf>, Reported> {
        let at = vec![key("mount"), PathSegment::Index(index), key("source")];
        match (mount_type, source) {
            (MountType::Bind, None) => {
                let origin = self.origin_at(&at[..2]);
                self.error(
                    Diagnostic::error(origin, "a bind mount needs `source`").with_help(
                        "set `source` to the absolute path to bind, such as \"/dev/null\"",
                    ),
                );
                Err(Reported)
            }
            (MountType::Bind, Some(source)) => self
                .absolute_path_at(&at, Some(source.clone()), "")
                .map(Some)
                .ok_or(Reported),
            (MountType::Tmpfs, Some(_)) => {
                let origin = self.key_origin(&at);
                self.error(
                    Diagnostic::error(origin, "a tmpfs mount takes no `source`")
                        .with_help("remove `source`, or set `type = \"bind\"`"),
                );
                Err(Reported)
            }
            (MountType::Tmpfs, None) => Ok(None),
        }
    }

    fn mount_options(
        &mut self,
        list: &[String],
        mount_type: MountType,
        index: usize,
    ) -> Option<MountOptions> {
        let mut options = MountOptions::default();
        let mut valid = true;
        for (position, option) in list.iter().enumerate() {
            if let Err(problem) = mount_options::add_option(&mut options, option, mount_type) {
                let origin = self.origin_at(&[
                    key("mount"),
                    PathSegment::Index(index),
                    key("options"),
                    PathSegment::Index(position),
                ]);
                let mut diagnostic = Diagnostic::error(origin, problem.message);
                if let Some(close) = problem.suggestion {
                    diagnostic = diagnostic.with_label(format!("did you mean `{close}`?"));
                }
                self.error(diagnostic);
                valid = false;
            }
        }
        valid.then_some(options)
    }
}
