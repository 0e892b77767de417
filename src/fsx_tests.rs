//! Tests of `fsx.rs`.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use super::*;

fn mode_of(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

/// Lists the names in `directory` that start with `.`, where temporary files go.
fn hidden_names(directory: &Path) -> Vec<String> {
    std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect()
}

#[test]
fn write_atomic_replaces_content_and_mode() {
    let directory = tempfile::tempdir().unwrap();
    let target = directory.path().join("config.yaml");
    std::fs::write(&target, "old: 1\n").unwrap();
    std::fs::set_permissions(&target, Permissions::from_mode(0o644)).unwrap();
    let old_inode = std::fs::metadata(&target).unwrap().ino();

    write_atomic(&target, b"new: 2\n", 0o600).unwrap();

    assert_eq!(std::fs::read_to_string(&target).unwrap(), "new: 2\n");
    assert_eq!(mode_of(&target), 0o600);
    assert_ne!(std::fs::metadata(&target).unwrap().ino(), old_inode);
    assert!(hidden_names(directory.path()).is_empty());
}

#[test]
fn write_atomic_error_names_path() {
    let directory = tempfile::tempdir().unwrap();
    let target = directory.path().join("missing/config.yaml");
    let error = write_atomic(&target, b"x", 0o644).unwrap_err();
    assert_eq!(error.path, target);
    assert_eq!(
        error.to_string(),
        format!("cannot create a temporary file for `{}`", target.display())
    );
}

#[test]
fn atomic_file_dropped_removes_temp() {
    let directory = tempfile::tempdir().unwrap();
    let target = directory.path().join("bridge");
    std::fs::write(&target, "old").unwrap();

    let mut file = AtomicFile::create(&target).unwrap();
    file.append(b"new").unwrap();
    let temp_names = hidden_names(directory.path());
    assert_eq!(temp_names.len(), 1);
    assert!(
        temp_names[0].starts_with(".bridge.k3sprov-"),
        "{temp_names:?}"
    );
    drop(file);

    assert!(hidden_names(directory.path()).is_empty());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
}

#[test]
fn prepared_file_dropped_removes_temp() {
    let directory = tempfile::tempdir().unwrap();
    let target = directory.path().join("bridge");
    let mut file = AtomicFile::create(&target).unwrap();
    file.append(b"new").unwrap();
    let prepared = file.prepare(0o755).unwrap();
    assert_eq!(hidden_names(directory.path()).len(), 1);
    drop(prepared);

    assert!(hidden_names(directory.path()).is_empty());
    assert!(!target.exists());
}

#[test]
fn commit_all_installs_every_file() {
    let directory = tempfile::tempdir().unwrap();
    let mut prepared = Vec::new();
    for name in ["bridge", "loopback"] {
        let mut file = AtomicFile::create(&directory.path().join(name)).unwrap();
        file.append(name.as_bytes()).unwrap();
        prepared.push(file.prepare(0o755).unwrap());
    }
    assert!(!directory.path().join("bridge").exists());

    commit_all(prepared).unwrap();

    for name in ["bridge", "loopback"] {
        let path = directory.path().join(name);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), name);
        assert_eq!(mode_of(&path), 0o755);
    }
    assert!(hidden_names(directory.path()).is_empty());
}

#[test]
fn commit_all_directory_target_renames_nothing() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::create_dir(directory.path().join("loopback")).unwrap();
    let mut prepared = Vec::new();
    for name in ["bridge", "loopback"] {
        let file = AtomicFile::create(&directory.path().join(name)).unwrap();
        prepared.push(file.prepare(0o755).unwrap());
    }

    let error = commit_all(prepared).unwrap_err();

    assert_eq!(error.path, directory.path().join("loopback"));
    assert!(!directory.path().join("bridge").exists());
    assert!(hidden_names(directory.path()).is_empty());
}

#[test]
fn symlink_atomic_replaces_link_and_file() {
    let directory = tempfile::tempdir().unwrap();
    let link = directory.path().join("kubectl");
    std::os::unix::fs::symlink("old-target", &link).unwrap();

    symlink_atomic(&link, Path::new("k3s")).unwrap();
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("k3s"));

    let file = directory.path().join("crictl");
    std::fs::write(&file, "a file").unwrap();
    symlink_atomic(&file, Path::new("k3s")).unwrap();
    assert_eq!(std::fs::read_link(&file).unwrap(), Path::new("k3s"));
    assert!(hidden_names(directory.path()).is_empty());
}

/// The parent runs this test again in a child under `umask 077`, where the mode checks
/// show that modes are set explicitly rather than left to the umask.
#[test]
fn modes_ignore_umask() {
    const CHILD: &str = "K3SPROV_FSX_UMASK_DIRECTORY";
    if let Some(directory) = std::env::var_os(CHILD) {
        let directory = PathBuf::from(directory);
        let nested = directory.join("a/b");
        create_dir_all(&nested).unwrap();
        assert_eq!(mode_of(&directory.join("a")), 0o755);
        assert_eq!(mode_of(&nested), 0o755);
        write_atomic(&nested.join("k3s"), b"binary", 0o755).unwrap();
        assert_eq!(mode_of(&nested.join("k3s")), 0o755);
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let test_binary = std::env::current_exe().unwrap();
    let status = Command::new("sh")
        .args([
            "-c",
            "umask 077 && exec \"$0\" --exact fsx::tests::modes_ignore_umask",
        ])
        .arg(test_binary)
        .env(CHILD, directory.path())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "the child test under umask 077 failed");
    assert_eq!(mode_of(&directory.path().join("a/b/k3s")), 0o755);
}

#[test]
fn lock_busy_within_process() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("run/k3sprov.lock");
    let guard = lock(&path, false).unwrap();
    assert_eq!(guard.path(), path);

    let error = lock(&path, false).unwrap_err();
    assert!(
        matches!(&error, LockError::Busy { path: busy } if *busy == path),
        "{error}"
    );

    drop(guard);
    lock(&path, false).unwrap();
}

/// Starts a process that holds the lock on `path` for `seconds`, and returns once it
/// holds it. `flock --no-fork` execs the shell, and the shell execs `sleep`, so the
/// returned child is the only process with the lock file open.
fn hold_lock_in_child(path: &Path, seconds: &str) -> std::process::Child {
    let mut child = Command::new("flock")
        .arg("--no-fork")
        .arg(path)
        .args(["sh", "-c", &format!("echo locked && exec sleep {seconds}")])
        .stdout(Stdio::piped())
        .spawn()
        .expect("flock(1) from util-linux runs");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "locked\n");
    child
}

#[test]
fn lock_busy_while_other_process_holds_it() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("k3sprov.lock");
    let mut child = hold_lock_in_child(&path, "30");

    let error = lock(&path, false).unwrap_err();
    assert!(matches!(error, LockError::Busy { .. }), "{error}");

    child.kill().unwrap();
    child.wait().unwrap();
    lock(&path, false).unwrap();
}

#[test]
fn lock_waits_for_other_process() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("k3sprov.lock");
    let started = std::time::Instant::now();
    let mut child = hold_lock_in_child(&path, "0.3");

    let guard = lock(&path, true).unwrap();

    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(300),
        "the lock was taken after {waited:?}, while the child still held it"
    );
    child.wait().unwrap();
    drop(guard);
}
