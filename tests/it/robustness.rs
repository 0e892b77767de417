//! Hostile or unusual input to the command line and to profile files.

use std::process::Command;

use crate::support::{k3sprov, k3sprov_in, stderr, stdout, write_profile};

#[test]
fn usage_error_exits_with_one() {
    for args in [
        &["plan", "host", "--bogus"][..],
        &["plan"],
        &["validate"],
        &["plan", "host", "--format", "yaml"],
    ] {
        let output = k3sprov(args);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    assert_eq!(k3sprov(&["--help"]).status.code(), Some(0));
}

#[test]
fn special_files_are_not_read() {
    let directory = tempfile::tempdir().unwrap();
    let fifo = directory.path().join("fifo.toml");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    write_profile(directory.path(), "f.toml", "extends = \"fifo.toml\"\n");
    write_profile(directory.path(), "p.toml", "extends = \"/etc/passwd\"\n");
    write_profile(directory.path(), "z.toml", "extends = \"/dev/zero.toml\"\n");

    let output = k3sprov_in(
        directory.path(),
        &["validate", "f.toml", "p.toml", "z.toml"],
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("f.toml:1:11: error: profile `"), "{err}");
    assert!(err.contains("fifo.toml` is not a regular file"), "{err}");
    assert!(
        err.contains("p.toml:1:11: error: `/etc/passwd` is not a .toml file"),
        "{err}"
    );
    assert!(
        err.contains("z.toml:1:11: error: profile file `/dev/zero.toml` not found"),
        "{err}"
    );
}

#[test]
fn large_file_is_rejected() {
    let directory = tempfile::tempdir().unwrap();
    let text = format!("kind = \"host\"\n#{}\n", "x".repeat(2 << 20));
    write_profile(directory.path(), "big.toml", &text);
    let output = k3sprov_in(directory.path(), &["validate", "big.toml"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("more than the 1 MiB a profile may have"),
        "{err}"
    );
}

#[test]
fn invalid_utf8_has_position() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(
        directory.path().join("u.toml"),
        b"kind = \"host\"\ndescription = \"caf\xe9\"\n",
    )
    .unwrap();
    let output = k3sprov_in(directory.path(), &["validate", "u.toml"]);
    let err = stderr(&output);
    assert!(
        err.contains("u.toml:2:19: error: the file is not valid UTF-8 text"),
        "{err}"
    );
}

#[test]
fn non_toml_reports_few_errors() {
    let directory = tempfile::tempdir().unwrap();
    let text = "root:x:0:0:root:/root:/bin/sh\n".repeat(100);
    write_profile(directory.path(), "passwd.toml", &text);
    let output = k3sprov_in(directory.path(), &["validate", "passwd.toml"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.matches(": error: invalid TOML").count() <= 10, "{err}");
    assert!(err.contains("more syntax errors are not shown"), "{err}");
}

#[test]
fn credentials_never_printed() {
    let directory = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let profile = write_profile(
        directory.path(),
        "s.toml",
        "extends = \"host\"\n[config]\netcd-s3-proxy = \"http://user:SECRET-PROXY@127.0.0.1:3128\"\nvpn-auth = \"joinKey=SECRET-VPN\"\n[download]\nmirror = \"https://bob:SECRET-MIRROR@127.0.0.1/gh\"\n",
    );
    for format in ["text", "json"] {
        let output = k3sprov(&[
            "plan",
            &profile,
            "--root",
            root.path().to_str().unwrap(),
            "--format",
            format,
        ]);
        let all = format!("{}{}", stdout(&output), stderr(&output));
        assert!(output.status.success(), "{all}");
        assert!(!all.contains("SECRET"), "{format}: {all}");
        assert!(all.contains("bob:****@127.0.0.1"), "{format}: {all}");
    }
}

#[test]
fn every_blocked_target_is_listed() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("usr/local/bin/k3s")).unwrap();
    std::fs::create_dir_all(root.path().join("etc/rancher/k3s/config.yaml")).unwrap();
    let output = k3sprov(&["plan", "host", "--root", root.path().to_str().unwrap()]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("2 of the steps cannot be planned"), "{err}");
    assert!(err.contains("usr/local/bin/k3s` is a directory"), "{err}");
    assert!(err.contains("config.yaml` is a directory"), "{err}");
}

#[test]
fn root_must_be_directory() {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("file");
    std::fs::write(&file, b"").unwrap();
    let output = k3sprov(&["plan", "host", "--root", file.to_str().unwrap()]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot be used"), "{err}");
    assert!(err.contains("not a directory"), "{err}");
}

#[test]
fn mirror_with_host_in_file_url() {
    let output = k3sprov(&["plan", "host", "--mirror", "file://relative/dir"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("three slashes"), "{err}");
}

#[test]
fn unreadable_parent_is_not_quoted() {
    use std::os::unix::fs::PermissionsExt;
    let directory = tempfile::tempdir().unwrap();
    let secret = directory.path().join("secret");
    std::fs::write(&secret, "root:SECRET-HASH:20228:0:99999:7:::\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&secret, directory.path().join("base.toml")).unwrap();
    write_profile(directory.path(), "child.toml", "extends = \"base.toml\"\n");

    let output = k3sprov_in(directory.path(), &["validate", "child.toml"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("base.toml:1:"), "{err}");
    assert!(!err.contains("SECRET-HASH"), "{err}");
}

#[test]
fn invalid_mirror_password_is_masked() {
    let output = k3sprov(&["plan", "host", "--mirror", "http://u:MIRPW@bad host/x"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(!err.contains("MIRPW"), "{err}");

    let directory = tempfile::tempdir().unwrap();
    write_profile(
        directory.path(),
        "m.toml",
        "extends = \"host\"\n[download]\nmirror = \"ftp://u:MIRPW2@h/x\"\n",
    );
    let output = k3sprov_in(directory.path(), &["validate", "m.toml"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(!err.contains("MIRPW2"), "{err}");
}

#[test]
fn target_inside_another_target() {
    let directory = tempfile::tempdir().unwrap();
    write_profile(
        directory.path(),
        "n.toml",
        "extends = \"gvisor\"\n[cni]\nbin_dir = \"/usr/local/bin/k3s\"\n",
    );
    let output = k3sprov_in(directory.path(), &["validate", "n.toml"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("`/usr/local/bin/k3s` is the k3s binary, but the CNI plugin"),
        "{err}"
    );
}
