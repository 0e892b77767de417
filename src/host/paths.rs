//! Target paths under `--root`.

use std::path::{Component, Path, PathBuf};

/// The maximum number of symlinks followed while resolving one path, as in Linux (`MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;

/// Places the absolute profile path `path` under `root`, as `dnf --installroot` does.
///
/// Symlinks inside the root are followed as if the root were `/`: an absolute link target
/// starts again at the root and `..` stops at it, so no path leads outside the root. The final
/// component is not followed, so steps can see a symlink where they expect a file. A path
/// whose links loop, or go deeper than 40 links, is returned as written.
///
/// NOTE: links are resolved when the plan is built; one changed between planning and a write
/// is not noticed. Only root and the user running k3sprov can change files under a root.
pub fn under_root(root: &Path, path: &Path) -> PathBuf {
    place(root, path, false)
}

/// Places the absolute profile path of a directory under `root` like [`under_root`], following
/// a symlink in the final component too, so files written into the directory stay in the root.
pub fn dir_under_root(root: &Path, path: &Path) -> PathBuf {
    place(root, path, true)
}

fn place(root: &Path, path: &Path, follow_last: bool) -> PathBuf {
    let relative = path.strip_prefix("/").unwrap_or(path);
    if relative.as_os_str().is_empty() {
        return root.to_path_buf();
    }
    if root == Path::new("/") {
        return root.join(relative);
    }
    resolve_in_root(root, relative, follow_last).unwrap_or_else(|| root.join(relative))
}

/// One component of a path still to be resolved, owned so link targets can be spliced in.
enum Part {
    Root,
    Parent,
    Name(std::ffi::OsString),
}

fn parts(path: &Path) -> impl DoubleEndedIterator<Item = Part> + '_ {
    path.components().filter_map(|component| match component {
        Component::RootDir => Some(Part::Root),
        Component::ParentDir => Some(Part::Parent),
        Component::Normal(name) => Some(Part::Name(name.to_os_string())),
        Component::CurDir | Component::Prefix(_) => None,
    })
}

/// Resolves the components of `relative` inside `root`, the last one only when `follow_last`
/// is set; `None` on a link loop.
fn resolve_in_root(root: &Path, relative: &Path, follow_last: bool) -> Option<PathBuf> {
    let mut pending: Vec<Part> = parts(relative).rev().collect();
    let mut resolved = root.to_path_buf();
    let mut followed = 0;
    while let Some(part) = pending.pop() {
        match part {
            Part::Root => resolved = root.to_path_buf(),
            Part::Parent => {
                if resolved != root {
                    resolved.pop();
                }
            }
            Part::Name(name) => {
                let candidate = resolved.join(&name);
                let is_last = pending.is_empty();
                match std::fs::read_link(&candidate) {
                    Ok(target) if follow_last || !is_last => {
                        followed += 1;
                        if followed > MAX_SYMLINKS {
                            return None;
                        }
                        pending.extend(parts(&target).rev());
                    }
                    _ => resolved = candidate,
                }
            }
        }
    }
    Some(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_paths_land_under_root() {
        let root = Path::new("/tmp/k3sprov-no-such-root");
        assert_eq!(
            under_root(root, Path::new("/usr/local/bin/k3s")),
            Path::new("/tmp/k3sprov-no-such-root/usr/local/bin/k3s")
        );
        assert_eq!(
            under_root(Path::new("/"), Path::new("/dev/kmsg")),
            Path::new("/dev/kmsg")
        );
    }

    #[test]
    fn absolute_link_stays_inside_root() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("/usr/lib", root.path().join("lib")).unwrap();
        std::os::unix::fs::symlink("../../../..", root.path().join("up")).unwrap();

        let config = under_root(root.path(), Path::new("/etc/rancher/k3s/config.yaml"));
        assert!(config.starts_with(root.path()), "{}", config.display());
        assert_eq!(
            under_root(root.path(), Path::new("/lib/cni/bridge")),
            root.path().join("usr/lib/cni/bridge")
        );
        assert_eq!(
            under_root(root.path(), Path::new("/up/etc2/x")),
            root.path().join("etc2/x")
        );
    }

    #[test]
    fn directory_link_is_followed_inside_root() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("opt/cni")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("opt/cni/bin")).unwrap();
        let directory = dir_under_root(root.path(), Path::new("/opt/cni/bin"));
        assert!(
            directory.starts_with(root.path()),
            "{}",
            directory.display()
        );
    }

    #[test]
    fn final_link_is_not_followed() {
        let root = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("k3s", root.path().join("kubectl")).unwrap();
        assert_eq!(
            under_root(root.path(), Path::new("/kubectl")),
            root.path().join("kubectl")
        );
    }

    #[test]
    fn link_loop_gives_written_path() {
        let root = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("b", root.path().join("a")).unwrap();
        std::os::unix::fs::symlink("a", root.path().join("b")).unwrap();
        assert_eq!(
            under_root(root.path(), Path::new("/a/file")),
            root.path().join("a/file")
        );
    }
}
