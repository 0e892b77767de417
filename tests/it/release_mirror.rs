//! A local mirror in GitHub's release layout, built at test time.
//!
//! It carries a stand-in k3s executable (the real one cannot be downloaded here) and a CNI
//! plugins tarball packed the way upstream packs it (`./` entries, `LICENSE`, `README.md`)
//! from the real plugin binaries of Debian's `containernetworking-plugins` in /usr/lib/cni.
//! Debian's package (1.1.1) lacks `dummy` and `tap`, which v1.6 ships, so the mirror carries
//! copies of the real `loopback` binary under those two names to complete the v1.6 list.
//! Checksum files follow the upstream formats.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest as _;

pub(crate) const K3S_VERSION: &str = "v1.33.5+k3s1";
pub(crate) const CNI_VERSION: &str = "v1.6.2";

/// Where Debian's containernetworking-plugins package installs the plugins.
pub(crate) const DEBIAN_CNI_DIR: &str = "/usr/lib/cni";

/// The plugins of the v1.6 series, the names the stock gVisor profile installs.
pub(crate) const V1_6_PLUGINS: &[&str] = k3sprov::profile::spec::CNI_PLUGINS_V1_6;

/// A mirror directory and the digests of what it serves.
pub(crate) struct ReleaseMirror {
    pub(crate) directory: tempfile::TempDir,
    pub(crate) k3s_sha256: String,
    pub(crate) cni_sha256: String,
}

impl ReleaseMirror {
    /// Builds a mirror for amd64 with a stand-in k3s of about `k3s_size` bytes.
    pub(crate) fn build(k3s_size: usize) -> ReleaseMirror {
        let directory = tempfile::tempdir().unwrap();
        let k3s_sha256 = write_k3s(directory.path(), k3s_size);
        let cni_sha256 = write_cni(directory.path());
        ReleaseMirror {
            directory,
            k3s_sha256,
            cni_sha256,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.directory.path()
    }

    /// Returns the mirror as a `file://` URL.
    pub(crate) fn file_url(&self) -> String {
        format!("file://{}", self.path().display())
    }

    pub(crate) fn k3s_dir(&self) -> PathBuf {
        self.path()
            .join(format!("k3s-io/k3s/releases/download/{K3S_VERSION}"))
    }

    pub(crate) fn cni_dir(&self) -> PathBuf {
        self.path().join(format!(
            "containernetworking/plugins/releases/download/{CNI_VERSION}"
        ))
    }

    pub(crate) fn cni_asset() -> String {
        format!("cni-plugins-linux-amd64-{CNI_VERSION}.tgz")
    }
}

fn hex(bytes: &[u8]) -> String {
    k3sprov::digest::to_hex(&sha2::Sha256::digest(bytes))
}

/// Writes a stand-in k3s: a shell script that prints a version line, padded with a comment
/// to `size` bytes so downloads have a realistic length.
fn write_k3s(mirror: &Path, size: usize) -> String {
    let directory = mirror.join(format!("k3s-io/k3s/releases/download/{K3S_VERSION}"));
    std::fs::create_dir_all(&directory).unwrap();
    let mut script =
        format!("#!/bin/sh\necho \"k3s version {K3S_VERSION} (stand-in)\"\nexit 0\n#").into_bytes();
    let mut filler = 0u32;
    while script.len() < size {
        filler = filler.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        script.push(b'a' + u8::try_from(filler >> 27).unwrap() % 26);
    }
    script.push(b'\n');
    std::fs::write(directory.join("k3s"), &script).unwrap();
    let digest = hex(&script);

    // Upstream lists the air-gap image tarballs first and the binary last.
    let checksums = format!(
        "{}  k3s-airgap-images-amd64.tar\n{}  k3s-airgap-images-amd64.tar.gz\n{digest}  k3s\n",
        hex(b"airgap tar"),
        hex(b"airgap tar.gz"),
    );
    std::fs::write(directory.join("sha256sum-amd64.txt"), checksums).unwrap();
    digest
}

/// Packs the CNI tarball from the real plugin binaries and writes its `.sha256` file.
fn write_cni(mirror: &Path) -> String {
    let staging = tempfile::tempdir().unwrap();
    for plugin in V1_6_PLUGINS {
        let source = Path::new(DEBIAN_CNI_DIR).join(match *plugin {
            "dummy" | "tap" => "loopback",
            other => other,
        });
        let bytes = std::fs::read(&source).unwrap_or_else(|error| {
            panic!(
                "{}: {error}; install Debian's containernetworking-plugins as the README says",
                source.display()
            )
        });
        let target = staging.path().join(plugin);
        std::fs::write(&target, bytes).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(
        staging.path().join("LICENSE"),
        "Apache License 2.0 (stand-in text)\n",
    )
    .unwrap();
    std::fs::write(staging.path().join("README.md"), "# CNI plugins\n").unwrap();

    let directory = mirror.join(format!(
        "containernetworking/plugins/releases/download/{CNI_VERSION}"
    ));
    std::fs::create_dir_all(&directory).unwrap();
    let asset = ReleaseMirror::cni_asset();
    let status = Command::new("tar")
        .arg("-czf")
        .arg(directory.join(&asset))
        .arg("-C")
        .arg(staging.path())
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success(), "tar failed");
    let digest = hex(&std::fs::read(directory.join(&asset)).unwrap());
    std::fs::write(
        directory.join(format!("{asset}.sha256")),
        format!("{digest}  {asset}\n"),
    )
    .unwrap();
    digest
}
