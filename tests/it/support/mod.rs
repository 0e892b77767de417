//! Running the built binary, writing profile files, and local servers for a test.

pub(crate) mod certificates;
pub(crate) mod connect_proxy;
pub(crate) mod http1;
pub(crate) mod mirror;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Returns the repository root, which contains `profiles/` and `schema/`.
pub(crate) fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `k3sprov` with `args` in `directory`, with colour and logging left at their defaults.
pub(crate) fn k3sprov_in(directory: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_k3sprov"))
        .args(args)
        .current_dir(directory)
        .env_remove("K3SPROV_LOG")
        .output()
        .expect("the k3sprov binary runs")
}

/// Runs `k3sprov` with `args` in the repository root.
pub(crate) fn k3sprov(args: &[&str]) -> Output {
    k3sprov_in(&repository(), args)
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes `text` to `directory/name` and returns the path as a string.
pub(crate) fn write_profile(directory: &Path, name: &str, text: &str) -> String {
    let path = directory.join(name);
    std::fs::write(&path, text).expect("the test directory is writable");
    path.to_string_lossy().into_owned()
}

/// Lists every path under `root`, for checking that a command wrote nothing.
pub(crate) fn tree(root: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.is_symlink() {
                pending.push(path.clone());
            }
            paths.push(path);
        }
    }
    paths.sort();
    paths
}
