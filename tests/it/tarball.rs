//! Installing CNI plugins from tarballs built at test time.
//!
//! Normal tarballs hold the real plugin binaries of the Debian package
//! `containernetworking-plugins`, packed by GNU tar as the upstream release is packed
//! (`tar -C <dir> -czf <out> .`). Hostile tarballs are written with Python's `tarfile`, which
//! writes any path and entry type it is given.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use k3sprov::digest::{sha256_file, to_hex};
use k3sprov::fetch::tarball::{StagedPlugin, TarballError, stage_plugins};
use sha2::{Digest, Sha256};

/// Where Debian's `containernetworking-plugins` puts the plugins.
const SYSTEM_PLUGINS: &str = "/usr/lib/cni";
const SELECTED: [&str; 3] = ["bridge", "host-local", "loopback"];

/// A reader that hashes what passes through it, as the download code wraps a response body.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buffer)?;
        self.hasher.update(&buffer[..count]);
        Ok(count)
    }
}

/// Copies real plugins, one not requested, next to the `LICENSE` and `README.md` the release ships,
/// and packs them with GNU tar as the release is packed.
fn upstream_tarball(work: &Path) -> PathBuf {
    let system = Path::new(SYSTEM_PLUGINS);
    assert!(
        system.join("bridge").is_file(),
        "{SYSTEM_PLUGINS} has no plugins: run `apt-get install -y containernetworking-plugins`"
    );
    let source = work.join("release");
    std::fs::create_dir(&source).unwrap();
    for plugin in SELECTED.iter().chain(&["portmap"]) {
        std::fs::copy(system.join(plugin), source.join(plugin)).unwrap();
    }
    std::fs::write(source.join("LICENSE"), "Apache License 2.0\n").unwrap();
    std::fs::write(source.join("README.md"), "# CNI plugins\n").unwrap();

    let tarball = work.join("cni-plugins.tgz");
    let status = Command::new("tar")
        .arg("-C")
        .arg(&source)
        .arg("-czf")
        .arg(&tarball)
        .arg(".")
        .status()
        .expect("GNU tar runs");
    assert!(status.success());
    tarball
}

/// Writes a gzip-compressed tarball with Python's `tarfile`. Each entry is
/// `(path, kind, content or link target)`, kind being `file`, `dir`, `symlink`, `hardlink`,
/// `char` or `fifo`.
fn python_tarball(path: &Path, entries: &[(&str, &str, &str)]) {
    const SCRIPT: &str = r#"
import io, json, sys, tarfile
kinds = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
         "hardlink": tarfile.LNKTYPE, "char": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}
with tarfile.open(sys.argv[1], "w:gz", format=tarfile.GNU_FORMAT) as tar:
    for name, kind, value in json.load(sys.stdin):
        info = tarfile.TarInfo(name)
        info.type = kinds[kind]
        info.mode = 0o755
        data = None
        if kind == "file":
            data = value.encode()
            info.size = len(data)
        elif kind in ("symlink", "hardlink"):
            info.linkname = value
        elif kind == "char":
            info.devmajor, info.devminor = 1, 3
        tar.addfile(info, io.BytesIO(data) if data is not None else None)
"#;
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let json = serde_json::to_vec(entries).unwrap();
    child.stdin.take().unwrap().write_all(&json).unwrap();
    assert!(child.wait().unwrap().success());
}

/// Lists the names in `directory`, sorted.
fn names_in(directory: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Creates the target directory with a file k3sprov does not own.
fn target_with_foreign_file(work: &Path) -> PathBuf {
    let target = work.join("opt/cni/bin");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("my-plugin"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(target.join("my-plugin"), PermissionsExt::from_mode(0o700)).unwrap();
    target
}

#[test]
fn installs_selected_plugins_byte_identical() {
    let work = tempfile::tempdir().unwrap();
    let tarball = upstream_tarball(work.path());
    let target = target_with_foreign_file(work.path());

    let staged = stage_plugins(File::open(&tarball).unwrap(), &target, &SELECTED).unwrap();

    let mut staged_names: Vec<&str> = staged.plugins().iter().map(StagedPlugin::name).collect();
    staged_names.sort_unstable();
    assert_eq!(staged_names, SELECTED);
    for plugin in staged.plugins() {
        let source = Path::new(SYSTEM_PLUGINS).join(plugin.name());
        assert_eq!(plugin.sha256(), sha256_file(&source).unwrap());
        assert_eq!(plugin.size(), std::fs::metadata(&source).unwrap().len());
        assert!(!plugin.target().exists(), "installed before commit");
    }

    staged.commit().unwrap();

    assert_eq!(
        names_in(&target),
        ["bridge", "host-local", "loopback", "my-plugin"]
    );
    for name in SELECTED {
        let installed = target.join(name);
        let source = Path::new(SYSTEM_PLUGINS).join(name);
        assert_eq!(
            std::fs::read(&installed).unwrap(),
            std::fs::read(&source).unwrap()
        );
        assert_eq!(
            std::fs::metadata(&installed).unwrap().mode() & 0o7777,
            0o755
        );
    }
}

#[test]
fn installed_plugins_report_version() {
    let work = tempfile::tempdir().unwrap();
    let tarball = upstream_tarball(work.path());
    let target = target_with_foreign_file(work.path());
    stage_plugins(File::open(&tarball).unwrap(), &target, &SELECTED)
        .unwrap()
        .commit()
        .unwrap();

    for name in SELECTED {
        let output = Command::new(target.join(name))
            .env("CNI_COMMAND", "VERSION")
            .output()
            .unwrap();
        assert!(output.status.success(), "{name}: {output:?}");
        let report: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|error| panic!("{name} printed no JSON: {error}: {output:?}"));
        assert!(report["cniVersion"].is_string(), "{name}: {report}");
        assert!(report["supportedVersions"].is_array(), "{name}: {report}");
    }
}

#[test]
fn input_read_to_end() {
    let work = tempfile::tempdir().unwrap();
    let tarball = upstream_tarball(work.path());
    let target = target_with_foreign_file(work.path());
    // Bytes after the gzip stream are covered by the digest too.
    let mut bytes = std::fs::read(&tarball).unwrap();
    bytes.extend_from_slice(b"trailing data");
    let mut reader = HashingReader {
        inner: &bytes[..],
        hasher: Sha256::new(),
    };

    let staged = stage_plugins(&mut reader, &target, &["loopback"]).unwrap();

    assert_eq!(
        to_hex(&reader.hasher.finalize()),
        to_hex(&Sha256::digest(&bytes))
    );
    drop(staged);
    assert_eq!(names_in(&target), ["my-plugin"]);
}

#[test]
fn hostile_entries_rejected() {
    let cases = [
        (
            "../evil",
            "file",
            "x",
            "regular file",
            "its path contains `..`",
        ),
        ("/abs", "file", "x", "regular file", "its path is absolute"),
        (
            "sub/dir/file",
            "file",
            "x",
            "regular file",
            "its path has more than one component",
        ),
        (
            "./passwd",
            "symlink",
            "/etc/passwd",
            "symlink to `/etc/passwd`",
            "only regular files",
        ),
        (
            "./loopback",
            "symlink",
            "/etc/passwd",
            "symlink to `/etc/passwd`",
            "only regular files",
        ),
        (
            "./hard",
            "hardlink",
            "/etc/passwd",
            "hard link to `/etc/passwd`",
            "only regular files",
        ),
        (
            "./null",
            "char",
            "",
            "character device",
            "only regular files",
        ),
        ("./fifo", "fifo", "", "FIFO", "only regular files"),
        ("./sub/", "dir", "", "directory", "only regular files"),
    ];
    for (path, kind, value, shown_kind, reason) in cases {
        let work = tempfile::tempdir().unwrap();
        let tarball = work.path().join("hostile.tgz");
        python_tarball(
            &tarball,
            &[
                ("./", "dir", ""),
                ("./bridge", "file", "bridge plugin"),
                (path, kind, value),
                ("./host-local", "file", "host-local plugin"),
            ],
        );
        let target = target_with_foreign_file(work.path());

        let error = stage_plugins(
            File::open(&tarball).unwrap(),
            &target,
            &["bridge", "host-local", "loopback"],
        )
        .unwrap_err();

        let message = error.to_string();
        assert!(
            matches!(&error, TarballError::UnsafeEntry { entry, .. } if entry == path),
            "{path}: {message}"
        );
        assert!(
            message.contains(&format!("`{path}` ({shown_kind})")),
            "{message}"
        );
        assert!(message.contains(reason), "{message}");
        assert_eq!(names_in(&target), ["my-plugin"], "{path}");
    }
}

#[test]
fn truncated_gzip_installs_nothing() {
    let work = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(upstream_tarball(work.path())).unwrap();
    let target = target_with_foreign_file(work.path());

    for cut in [bytes.len() / 2, bytes.len() - 4] {
        let error = stage_plugins(&bytes[..cut], &target, &SELECTED).unwrap_err();
        assert!(
            matches!(
                error,
                TarballError::Read { .. } | TarballError::ReadEntry { .. }
            ),
            "cut at {cut}: {error}"
        );
        assert_eq!(names_in(&target), ["my-plugin"], "cut at {cut}");
    }
}

#[test]
fn corrupt_gzip_installs_nothing() {
    let work = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(upstream_tarball(work.path())).unwrap();
    let target = target_with_foreign_file(work.path());
    // A changed byte in the CRC-32 of the gzip trailer: the data decodes, the check fails.
    let crc = bytes.len() - 8;
    bytes[crc] ^= 0xff;

    let error = stage_plugins(&bytes[..], &target, &SELECTED).unwrap_err();

    assert!(matches!(error, TarballError::Read { .. }), "{error}");
    assert_eq!(names_in(&target), ["my-plugin"]);
}

#[test]
fn missing_plugin_named() {
    let work = tempfile::tempdir().unwrap();
    let tarball = upstream_tarball(work.path());
    let target = target_with_foreign_file(work.path());

    let error = stage_plugins(
        File::open(&tarball).unwrap(),
        &target,
        &["bridge", "flannel", "vrf"],
    )
    .unwrap_err();

    assert_eq!(
        error.to_string(),
        "the tarball has no plugin `flannel`, `vrf`: check the plugin names against the release"
    );
    assert_eq!(names_in(&target), ["my-plugin"]);
}

#[test]
fn foreign_file_untouched() {
    let work = tempfile::tempdir().unwrap();
    let tarball = upstream_tarball(work.path());
    let target = target_with_foreign_file(work.path());
    std::fs::write(target.join("bridge"), "old bridge").unwrap();
    let foreign_before = std::fs::metadata(target.join("my-plugin")).unwrap();

    stage_plugins(File::open(&tarball).unwrap(), &target, &["bridge"])
        .unwrap()
        .commit()
        .unwrap();

    let foreign_after = std::fs::metadata(target.join("my-plugin")).unwrap();
    assert_eq!(foreign_after.ino(), foreign_before.ino());
    assert_eq!(foreign_after.mode(), foreign_before.mode());
    assert_eq!(foreign_after.mtime_nsec(), foreign_before.mtime_nsec());
    assert_eq!(
        std::fs::read_to_string(target.join("my-plugin")).unwrap(),
        "#!/bin/sh\n"
    );
    assert_eq!(
        sha256_file(&target.join("bridge")).unwrap(),
        sha256_file(&Path::new(SYSTEM_PLUGINS).join("bridge")).unwrap()
    );
    assert_eq!(names_in(&target), ["bridge", "my-plugin"]);
}
