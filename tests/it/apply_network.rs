//! `k3sprov apply` through TLS with a private CA, through a proxy, and against a hostile
//! tarball.

use std::path::PathBuf;
use std::process::Command;

use crate::apply::Setup;
use crate::release_mirror::{ReleaseMirror, V1_6_PLUGINS};
use crate::support::certificates::TestCa;
use crate::support::connect_proxy::ConnectProxy;
use crate::support::mirror::Mirror;
use crate::support::{stderr, tree};

const NO_MOUNTS: &str = "extends = \"gvisor\"\nmount = []\n";

#[test]
fn private_ca_needs_trust() {
    let release = ReleaseMirror::build(1 << 16);
    let ca = TestCa::generate();
    let server = Mirror::start_tls(release.path(), &ca);
    let setup = Setup::new(NO_MOUNTS);

    let output = setup
        .command("apply", server.url().as_str())
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("ca_file"),
        "the error should point to ca_file: {err}"
    );
    assert!(!setup.path("/usr/local/bin/k3s").exists());
}

#[test]
fn ssl_cert_file_trusts_private_ca() {
    let release = ReleaseMirror::build(1 << 16);
    let ca = TestCa::generate();
    let server = Mirror::start_tls(release.path(), &ca);
    let setup = Setup::new(NO_MOUNTS);
    let ca_file = ca.write_ca_file(setup.profiles.path());

    let output = setup
        .command("apply", server.url().as_str())
        .env("SSL_CERT_FILE", &ca_file)
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(setup.path("/usr/local/bin/k3s").is_file());
}

#[test]
fn ca_file_in_profile_trusts_private_ca() {
    let release = ReleaseMirror::build(1 << 16);
    let ca = TestCa::generate();
    let server = Mirror::start_tls(release.path(), &ca);
    let pem = tempfile::tempdir().unwrap();
    let ca_file = ca.write_ca_file(pem.path());
    let setup = Setup::new(&format!(
        "{NO_MOUNTS}[download]\nca_file = \"{}\"\n",
        ca_file.display()
    ));

    let output = setup
        .command("apply", server.url().as_str())
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(setup.path("/opt/cni/bin/bridge").is_file());
}

#[test]
fn http_proxy_is_used_and_bypassed() {
    let release = ReleaseMirror::build(1 << 16);
    let server = Mirror::start(release.path());
    let port = server.url().port().unwrap();

    let proxy = ConnectProxy::start();
    let through = Setup::new(NO_MOUNTS);
    let output = through
        .command("apply", server.url().as_str())
        .env("HTTP_PROXY", proxy.url())
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        proxy.tunnelled().contains(&format!("127.0.0.1:{port}")),
        "{:?}",
        proxy.tunnelled()
    );

    let bypass_proxy = ConnectProxy::start();
    let bypassed = Setup::new(NO_MOUNTS);
    let output = bypassed
        .command("apply", server.url().as_str())
        .env("HTTP_PROXY", bypass_proxy.url())
        .env("NO_PROXY", "example.com, 127.0.0.0/8")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        bypass_proxy.tunnelled().is_empty(),
        "{:?}",
        bypass_proxy.tunnelled()
    );
}

/// Packs a tarball with the real plugins and one hostile entry, using Python's tarfile, which
/// writes any entry it is given.
fn hostile_tarball(release: &ReleaseMirror, kind: &str) {
    let asset = release.cni_dir().join(ReleaseMirror::cni_asset());
    let script = r#"
import io, sys, tarfile
out, kind, source = sys.argv[1], sys.argv[2], sys.argv[3]
with tarfile.open(out, "w:gz") as archive:
    for name in sys.argv[4:]:
        archive.add(f"{source}/{name}", arcname=f"./{name}")
    entry = tarfile.TarInfo()
    if kind == "parent":
        entry.name = "../evil"
    elif kind == "absolute":
        entry.name = "/tmp/k3sprov-evil"
    elif kind == "symlink":
        entry.name, entry.type, entry.linkname = "./bridge2", tarfile.SYMTYPE, "/etc/passwd"
    elif kind == "device":
        entry.name, entry.type, entry.devmajor, entry.devminor = "./kmsg", tarfile.CHRTYPE, 1, 11
    data = b"evil"
    entry.size = len(data) if entry.type == tarfile.REGTYPE else 0
    archive.addfile(entry, io.BytesIO(data) if entry.size else None)
"#;
    let status = Command::new("python3")
        .args(["-c", script])
        .arg(&asset)
        .arg(kind)
        .arg(crate::release_mirror::DEBIAN_CNI_DIR)
        .args(["bridge", "loopback"])
        .status()
        .unwrap();
    assert!(status.success());
    let digest = k3sprov::digest::sha256_file(&asset).unwrap();
    std::fs::write(
        release
            .cni_dir()
            .join(format!("{}.sha256", ReleaseMirror::cni_asset())),
        format!("{digest}  {}\n", ReleaseMirror::cni_asset()),
    )
    .unwrap();
}

#[test]
fn hostile_tarball_installs_nothing() {
    for kind in ["parent", "absolute", "symlink", "device"] {
        let release = ReleaseMirror::build(1 << 16);
        hostile_tarball(&release, kind);
        let setup = Setup::new(
            "extends = \"gvisor\"\nmount = []\n[cni]\nplugins = [\"bridge\", \"loopback\"]\n",
        );

        let output = setup.run("apply", &release.file_url(), &[]);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{kind}: {err}");
        assert!(err.contains("unsafe entry"), "{kind}: {err}");
        let files: Vec<PathBuf> = tree(setup.root.path())
            .into_iter()
            .filter(|path| path.is_file() && !path.ends_with("apply.lock"))
            .collect();
        assert!(files.is_empty(), "{kind}: {files:?}");
        assert!(!std::path::Path::new("/tmp/k3sprov-evil").exists());
    }
    assert_eq!(V1_6_PLUGINS.len(), 18);
}
