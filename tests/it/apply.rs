//! `k3sprov apply` against a mirror on 127.0.0.1 in GitHub's release layout, with a stand-in
//! k3s and real CNI plugins.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::release_mirror::{K3S_VERSION, ReleaseMirror, V1_6_PLUGINS};
use crate::support::mirror::{Behavior, Mirror};
use crate::support::{stderr, stdout, tree, write_profile};

/// A run of `k3sprov apply` or `plan` against one root, mirror and cache.
pub(crate) struct Setup {
    pub(crate) root: tempfile::TempDir,
    pub(crate) cache: tempfile::TempDir,
    pub(crate) profiles: tempfile::TempDir,
    pub(crate) profile: String,
}

/// The stock gVisor profile without its mount, which needs a private mount namespace.
const NO_MOUNTS: &str = "extends = \"gvisor\"\nmount = []\n";

impl Setup {
    pub(crate) fn new(profile_text: &str) -> Setup {
        let profiles = tempfile::tempdir().unwrap();
        let profile = write_profile(profiles.path(), "profile.toml", profile_text);
        Setup {
            root: tempfile::tempdir().unwrap(),
            cache: tempfile::tempdir().unwrap(),
            profiles,
            profile,
        }
    }

    pub(crate) fn command(&self, verb: &str, mirror: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_k3sprov"));
        command
            .args([verb, &self.profile, "--root"])
            .arg(self.root.path())
            .args(["--mirror", mirror, "--cache-dir"])
            .arg(self.cache.path())
            .env_remove("K3SPROV_LOG")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy");
        command
    }

    pub(crate) fn run(&self, verb: &str, mirror: &str, extra: &[&str]) -> Output {
        self.command(verb, mirror).args(extra).output().unwrap()
    }

    /// Runs apply with JSON output and returns the outcome of each step by id.
    pub(crate) fn apply_json(&self, mirror: &str) -> Vec<(String, String)> {
        let output = self.run("apply", mirror, &["--format", "json"]);
        assert!(
            output.status.success(),
            "{}{}",
            stdout(&output),
            stderr(&output)
        );
        outcomes(&output)
    }

    pub(crate) fn path(&self, inside: &str) -> PathBuf {
        self.root.path().join(inside.trim_start_matches('/'))
    }
}

fn outcomes(output: &Output) -> Vec<(String, String)> {
    let report: Value =
        serde_json::from_slice(&output.stdout).expect("apply --format json prints JSON");
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            (
                step["id"].as_str().unwrap().to_string(),
                step["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn served(mirror: &ReleaseMirror) -> Mirror {
    let server = Mirror::start(mirror.path());
    server.redirect_assets(true);
    server
}

/// Paths, sizes and modification times of everything under the root, except the lock file.
fn snapshot(root: &Path) -> Vec<(PathBuf, u64, i64, i64)> {
    tree(root)
        .into_iter()
        .filter(|path| !path.ends_with("apply.lock"))
        .map(|path| {
            let metadata = std::fs::symlink_metadata(&path).unwrap();
            (
                path,
                metadata.size(),
                metadata.mtime(),
                metadata.mtime_nsec(),
            )
        })
        .collect()
}

/// Lists the files that apply could have installed: everything but the lock and its folder.
fn installed_files(root: &Path) -> Vec<PathBuf> {
    tree(root)
        .into_iter()
        .filter(|path| path.is_file() || path.is_symlink())
        .filter(|path| !path.ends_with("apply.lock"))
        .collect()
}

#[test]
fn cold_apply_installs_everything() {
    let release = ReleaseMirror::build(2 << 20);
    let server = served(&release);
    let setup = Setup::new(NO_MOUNTS);

    let outcomes = setup.apply_json(server.url().as_str());
    assert_eq!(outcomes.len(), 4 + V1_6_PLUGINS.len() + 1, "{outcomes:?}");
    assert!(
        outcomes.iter().all(|(_, outcome)| outcome == "create"),
        "{outcomes:?}"
    );

    let k3s = setup.path("/usr/local/bin/k3s");
    assert_eq!(
        std::fs::read(&k3s).unwrap(),
        std::fs::read(release.k3s_dir().join("k3s")).unwrap()
    );
    assert_eq!(
        std::fs::metadata(&k3s).unwrap().permissions().mode() & 0o7777,
        0o755
    );
    for name in ["kubectl", "crictl", "ctr"] {
        let link = setup.path(&format!("/usr/local/bin/{name}"));
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            Path::new("k3s"),
            "{name}"
        );
    }
    let config = setup.path("/etc/rancher/k3s/config.yaml");
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("snapshotter: \"native\"\n")
    );
    assert_eq!(
        std::fs::metadata(&config).unwrap().permissions().mode() & 0o7777,
        0o600
    );

    // Both artifacts are kept in the cache under their digests.
    for digest in [&release.k3s_sha256, &release.cni_sha256] {
        assert!(
            setup
                .cache
                .path()
                .join(format!("sha256-{digest}"))
                .is_file(),
            "{digest}"
        );
    }

    // The binary and the tarball were fetched from the second listener, after a redirect.
    let requests = server.requests();
    let from_assets = |suffix: &str| {
        requests.iter().any(|request| {
            request.listener == crate::support::mirror::Listener::Assets
                && request.head.target.ends_with(suffix)
        })
    };
    assert!(from_assets("/k3s"), "{requests:?}");
    assert!(from_assets(".tgz"), "{requests:?}");
}

#[test]
fn installed_plugins_answer_version() {
    let release = ReleaseMirror::build(1 << 16);
    let setup = Setup::new(NO_MOUNTS);
    setup.apply_json(&release.file_url());

    for plugin in V1_6_PLUGINS {
        let path = setup.path(&format!("/opt/cni/bin/{plugin}"));
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
            0o755,
            "{plugin}"
        );
        let output = Command::new(&path)
            .env("CNI_COMMAND", "VERSION")
            .output()
            .unwrap();
        assert!(output.status.success(), "{plugin}: {}", stderr(&output));
        let version: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!("{plugin} printed no JSON ({error}): {}", stdout(&output))
        });
        assert!(
            version["supportedVersions"].is_array(),
            "{plugin}: {version}"
        );
    }
}

#[test]
fn second_apply_changes_nothing() {
    let release = ReleaseMirror::build(1 << 20);
    let server = served(&release);
    let setup = Setup::new(NO_MOUNTS);
    setup.apply_json(server.url().as_str());
    let before = snapshot(setup.root.path());
    let requests_before = server.requests().len();

    let outcomes = setup.apply_json(server.url().as_str());
    assert!(
        outcomes.iter().all(|(_, outcome)| outcome == "none"),
        "{outcomes:?}"
    );
    assert_eq!(
        snapshot(setup.root.path()),
        before,
        "the second apply wrote something"
    );
    assert_eq!(
        server.requests().len(),
        requests_before,
        "the second apply used the network"
    );

    let plan = setup.run("plan", server.url().as_str(), &["--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", stdout(&plan));
}

#[test]
fn cache_serves_when_server_stopped() {
    let release = ReleaseMirror::build(1 << 20);
    let server = served(&release);
    let url = server.url().to_string();
    let first = Setup::new(NO_MOUNTS);
    first.apply_json(&url);
    drop(server);

    let second = Setup::new(NO_MOUNTS);
    let second = Setup {
        cache: first.cache,
        ..second
    };
    let outcomes = second.apply_json(&url);
    assert!(
        outcomes.iter().all(|(_, outcome)| outcome == "create"),
        "{outcomes:?}"
    );
    assert!(second.path("/usr/local/bin/k3s").is_file());
}

#[test]
fn corrupted_cache_entry_is_replaced() {
    let release = ReleaseMirror::build(1 << 20);
    let server = served(&release);
    let first = Setup::new(NO_MOUNTS);
    first.apply_json(server.url().as_str());
    let entry = first
        .cache
        .path()
        .join(format!("sha256-{}", release.k3s_sha256));
    std::fs::write(&entry, b"not k3s").unwrap();

    let second = Setup {
        cache: first.cache,
        ..Setup::new(NO_MOUNTS)
    };
    second.apply_json(server.url().as_str());
    assert_eq!(
        std::fs::read(second.path("/usr/local/bin/k3s")).unwrap(),
        std::fs::read(release.k3s_dir().join("k3s")).unwrap()
    );
    assert_eq!(
        std::fs::read(&entry).unwrap(),
        std::fs::read(release.k3s_dir().join("k3s")).unwrap()
    );
}

#[test]
fn wrong_digest_installs_nothing() {
    let release = ReleaseMirror::build(1 << 20);
    // The mirror serves a k3s that does not match its checksum file.
    std::fs::write(release.k3s_dir().join("k3s"), b"#!/bin/sh\necho tampered\n").unwrap();
    let server = served(&release);
    let setup = Setup::new(NO_MOUNTS);

    let output = setup.run("apply", server.url().as_str(), &[]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("does not match"), "{err}");
    assert!(
        err.contains(&format!("expected: {}", release.k3s_sha256)),
        "{err}"
    );
    assert!(
        err.contains("/k3s-io/k3s/releases/download/v1.33.5%2Bk3s1/k3s"),
        "{err}"
    );
    assert_eq!(installed_files(setup.root.path()), Vec::<PathBuf>::new());
}

#[test]
fn pin_disagreeing_with_mirror_stops() {
    let release = ReleaseMirror::build(1 << 16);
    let pin = "0".repeat(64);
    let setup = Setup::new(&format!(
        "{NO_MOUNTS}[k3s]\nsha256 = {{ amd64 = \"{pin}\" }}\n"
    ));

    let output = setup.run("apply", &release.file_url(), &[]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("does not match the release's checksum file"),
        "{err}"
    );
    assert!(
        err.contains(&pin) && err.contains(&release.k3s_sha256),
        "{err}"
    );
    assert_eq!(installed_files(setup.root.path()), Vec::<PathBuf>::new());
}

#[test]
fn truncated_body_installs_nothing() {
    let release = ReleaseMirror::build(1 << 20);
    let server = served(&release);
    server.set_behavior(".tgz", Behavior::Truncate { keep: 10_000 });
    let setup = Setup::new(NO_MOUNTS);

    let output = setup.run("apply", server.url().as_str(), &[]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("cni-plugins-linux-amd64-v1.6.2.tgz"), "{err}");
    assert_eq!(installed_files(setup.root.path()), Vec::<PathBuf>::new());
}

#[test]
fn close_delimited_cut_is_caught() {
    let release = ReleaseMirror::build(1 << 20);
    let server = served(&release);
    server.set_behavior("/k3s", Behavior::CloseDelimited { keep: 5000 });
    let setup = Setup::new(NO_MOUNTS);

    let output = setup.run("apply", server.url().as_str(), &[]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("does not match"), "{err}");
    assert_eq!(installed_files(setup.root.path()), Vec::<PathBuf>::new());
}

#[test]
fn missing_asset_names_url() {
    let release = ReleaseMirror::build(1 << 16);
    let server = served(&release);
    server.set_behavior("sha256sum-amd64.txt", Behavior::NotFound);
    let setup = Setup::new(NO_MOUNTS);

    let output = setup.run("apply", server.url().as_str(), &[]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("404"), "{err}");
    assert!(
        err.contains(&format!(
            "{}k3s-io/k3s/releases/download/v1.33.5%2Bk3s1/sha256sum-amd64.txt",
            server.url()
        )),
        "{err}"
    );
    assert_eq!(installed_files(setup.root.path()), Vec::<PathBuf>::new());
}

#[test]
fn drift_is_repaired() {
    let release = ReleaseMirror::build(1 << 20);
    let setup = Setup::new(NO_MOUNTS);
    let mirror = release.file_url();
    setup.apply_json(&mirror);

    std::fs::write(setup.path("/usr/local/bin/k3s"), b"edited").unwrap();
    std::fs::set_permissions(
        setup.path("/opt/cni/bin/bridge"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    std::fs::remove_file(setup.path("/opt/cni/bin/portmap")).unwrap();
    let truncated = setup.path("/opt/cni/bin/host-local");
    let bytes = std::fs::read(&truncated).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();

    let plan = setup.run("plan", &mirror, &["--format", "json"]);
    let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
    let action = |id: &str| {
        plan["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|step| step["id"] == id)
            .unwrap()["action"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(action("binary:k3s"), "update");
    assert_eq!(action("cni:bridge"), "update");
    assert_eq!(action("cni:portmap"), "create");
    assert_eq!(action("cni:host-local"), "update");
    assert_eq!(action("cni:loopback"), "none");

    let outcomes = setup.apply_json(&mirror);
    let changed: Vec<&(String, String)> = outcomes
        .iter()
        .filter(|(_, outcome)| outcome != "none")
        .collect();
    assert_eq!(changed.len(), 4, "{outcomes:?}");
    assert_eq!(
        std::fs::read(setup.path("/usr/local/bin/k3s")).unwrap(),
        std::fs::read(release.k3s_dir().join("k3s")).unwrap()
    );
    assert_eq!(std::fs::read(&truncated).unwrap(), bytes);
    assert_eq!(
        std::fs::metadata(setup.path("/opt/cni/bin/bridge"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o755
    );
    let again = setup.apply_json(&mirror);
    assert!(
        again.iter().all(|(_, outcome)| outcome == "none"),
        "{again:?}"
    );
}

#[test]
fn verify_rehashes_same_size_edit() {
    let release = ReleaseMirror::build(1 << 16);
    let setup = Setup::new(NO_MOUNTS);
    let mirror = release.file_url();
    setup.apply_json(&mirror);

    // Same size and the old modification time: only the change time and the content differ.
    let k3s = setup.path("/usr/local/bin/k3s");
    let metadata = std::fs::metadata(&k3s).unwrap();
    let mut bytes = std::fs::read(&k3s).unwrap();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'x' { b'y' } else { b'x' };
    std::fs::write(&k3s, &bytes).unwrap();
    let mtime = filetime_of(&metadata);
    set_mtime(&k3s, mtime);

    let plan = setup.run("plan", &mirror, &["--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(2),
        "ctime change not noticed: {}",
        stdout(&plan)
    );
    let verify = setup.run("plan", &mirror, &["--detailed-exitcode", "--verify"]);
    assert_eq!(verify.status.code(), Some(2), "{}", stdout(&verify));
}

fn filetime_of(metadata: &std::fs::Metadata) -> (i64, i64) {
    (metadata.mtime(), metadata.mtime_nsec())
}

fn set_mtime(path: &Path, (seconds, nanoseconds): (i64, i64)) {
    let stamp = format!("@{seconds}.{nanoseconds:09}");
    let status = Command::new("touch")
        .args(["-m", "-d", &stamp])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn foreign_files_are_untouched() {
    let release = ReleaseMirror::build(1 << 16);
    let setup = Setup::new(NO_MOUNTS);
    let foreign = setup.path("/opt/cni/bin/my-plugin");
    std::fs::create_dir_all(foreign.parent().unwrap()).unwrap();
    std::fs::write(&foreign, b"mine").unwrap();
    let kubectl = setup.path("/usr/local/bin/kubectl");
    std::fs::create_dir_all(kubectl.parent().unwrap()).unwrap();
    std::fs::write(&kubectl, b"my kubectl").unwrap();
    let before = (
        std::fs::metadata(&foreign).unwrap().ino(),
        std::fs::metadata(&kubectl).unwrap().ino(),
    );

    setup.apply_json(&release.file_url());
    assert_eq!(std::fs::read(&foreign).unwrap(), b"mine");
    assert_eq!(std::fs::read(&kubectl).unwrap(), b"my kubectl");
    let after = (
        std::fs::metadata(&foreign).unwrap().ino(),
        std::fs::metadata(&kubectl).unwrap().ino(),
    );
    assert_eq!(before, after);
}

#[test]
fn held_lock_fails_with_no_wait() {
    let release = ReleaseMirror::build(1 << 16);
    let setup = Setup::new(NO_MOUNTS);
    let lock = setup.path("/var/lib/k3sprov/apply.lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::fs::write(&lock, b"").unwrap();

    // flock(1) keeps the lock while its child sleeps; the marker file shows that it has it.
    let marker = setup.profiles.path().join("held");
    let mut holder = Command::new("flock")
        .arg(&lock)
        .args(["sh", "-c"])
        .arg(format!("touch '{}'; sleep 3", marker.display()))
        .spawn()
        .unwrap();
    while !marker.exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    let output = setup.run("apply", &release.file_url(), &["--no-wait"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("apply.lock"), "{err}");
    assert_eq!(installed_files(setup.root.path()), Vec::<PathBuf>::new());

    // Without --no-wait, apply waits for the holder and then runs.
    let waited = setup.run("apply", &release.file_url(), &[]);
    assert!(waited.status.success(), "{}", stderr(&waited));
    holder.wait().unwrap();
    assert!(setup.path("/usr/local/bin/k3s").is_file());
}

#[test]
fn k3s_version_in_summary() {
    let release = ReleaseMirror::build(1 << 16);
    let setup = Setup::new(NO_MOUNTS);
    let output = setup.run("apply", &release.file_url(), &[]);
    let out = stdout(&output);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(out.contains(K3S_VERSION), "{out}");
    assert!(out.contains("23 created, 0 updated, 0 unchanged."), "{out}");
}

#[test]
fn interrupted_run_leftovers_are_removed() {
    let release = ReleaseMirror::build(1 << 16);
    let setup = Setup::new(NO_MOUNTS);
    let bin = setup.path("/usr/local/bin");
    std::fs::create_dir_all(&bin).unwrap();
    // What a run killed while writing k3s leaves behind, next to a file that is not k3sprov's.
    std::fs::write(bin.join(".k3s.k3sprov-Ab12Cd"), b"half a binary").unwrap();
    std::fs::write(bin.join(".hidden-tool"), b"keep me").unwrap();

    setup.apply_json(&release.file_url());
    assert!(!bin.join(".k3s.k3sprov-Ab12Cd").exists());
    assert_eq!(std::fs::read(bin.join(".hidden-tool")).unwrap(), b"keep me");
}

#[test]
fn pin_works_without_checksum_file() {
    let release = ReleaseMirror::build(1 << 16);
    std::fs::remove_file(release.k3s_dir().join("sha256sum-amd64.txt")).unwrap();
    let setup = Setup::new(&format!(
        "{NO_MOUNTS}[k3s]\nsha256 = {{ amd64 = \"{}\" }}\n",
        release.k3s_sha256
    ));

    let output = setup.run("apply", &release.file_url(), &[]);
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert!(
        err.contains("cannot cross-check the pinned sha256"),
        "{err}"
    );
    assert!(setup.path("/usr/local/bin/k3s").is_file());
}

#[test]
fn rejected_artifact_is_not_remembered() {
    let good = ReleaseMirror::build(1 << 16);
    let bad = ReleaseMirror::build(1 << 16);
    // The bad mirror's k3s matches its own checksum file but is not the good mirror's k3s.
    let tampered = b"#!/bin/sh\necho other\n";
    std::fs::write(bad.k3s_dir().join("k3s"), tampered).unwrap();
    std::fs::write(
        bad.k3s_dir().join("sha256sum-amd64.txt"),
        format!(
            "{}  k3s\n",
            k3sprov::digest::to_hex(&<sha2::Sha256 as sha2::Digest>::digest(tampered))
        ),
    )
    .unwrap();
    let first = Setup::new(NO_MOUNTS);
    first.apply_json(&bad.file_url());

    // The same cache with another mirror: its own checksum file decides, not the first one's.
    let second = Setup {
        cache: first.cache,
        ..Setup::new(NO_MOUNTS)
    };
    second.apply_json(&good.file_url());
    assert_eq!(
        std::fs::read(second.path("/usr/local/bin/k3s")).unwrap(),
        std::fs::read(good.k3s_dir().join("k3s")).unwrap()
    );
}

#[test]
fn foreign_owner_is_repaired() {
    use std::os::unix::fs::MetadataExt as _;
    let release = ReleaseMirror::build(1 << 16);
    let setup = Setup::new(NO_MOUNTS);
    setup.apply_json(&release.file_url());
    let config = setup.path("/etc/rancher/k3s/config.yaml");
    let k3s = setup.path("/usr/local/bin/k3s");
    for path in [&config, &k3s] {
        std::os::unix::fs::chown(path, Some(1000), Some(1000)).unwrap();
    }

    let plan = setup.run("plan", &release.file_url(), &["--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "{}", stdout(&plan));
    assert!(
        stdout(&plan).contains("to the user running k3sprov"),
        "{}",
        stdout(&plan)
    );
    setup.apply_json(&release.file_url());
    for path in [&config, &k3s] {
        let metadata = std::fs::metadata(path).unwrap();
        assert_eq!(
            (metadata.uid(), metadata.gid()),
            (0, 0),
            "{}",
            path.display()
        );
    }
}

#[test]
fn linked_plugin_directory_stays_in_root() {
    let release = ReleaseMirror::build(1 << 16);
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("bandwidth"), b"host plugin").unwrap();
    let setup = Setup::new(NO_MOUNTS);
    std::fs::create_dir_all(setup.path("/opt/cni")).unwrap();
    std::os::unix::fs::symlink(outside.path(), setup.path("/opt/cni/bin")).unwrap();

    setup.apply_json(&release.file_url());
    assert_eq!(
        std::fs::read(outside.path().join("bandwidth")).unwrap(),
        b"host plugin"
    );
    let inside = setup
        .root
        .path()
        .join(outside.path().strip_prefix("/").unwrap())
        .join("bandwidth");
    assert!(inside.is_file(), "{}", inside.display());
}
