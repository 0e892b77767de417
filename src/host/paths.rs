//! Target paths under `--root`.

use std::path::{Path, PathBuf};

/// Places the absolute profile path `path` under `root`, as `dnf --installroot` does.
///
/// Profile paths are checked to be absolute and free of `..` when the profile is loaded, so the
/// result cannot leave `root` through the path itself.
pub fn under_root(root: &Path, path: &Path) -> PathBuf {
    let relative = path.strip_prefix("/").unwrap_or(path);
    if relative.as_os_str().is_empty() {
        root.to_path_buf()
    } else {
        root.join(relative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_paths_land_under_root() {
        let root = Path::new("/tmp/r");
        assert_eq!(
            under_root(root, Path::new("/usr/local/bin/k3s")),
            Path::new("/tmp/r/usr/local/bin/k3s")
        );
        assert_eq!(
            under_root(Path::new("/"), Path::new("/dev/kmsg")),
            Path::new("/dev/kmsg")
        );
    }
}
