//! `k3sprov plan`: the steps, their actions, and that planning changes nothing.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{k3sprov, k3sprov_in, stderr, stdout, tree, write_profile};

fn plan_json(profile: &str, root: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "plan",
        profile,
        "--root",
        root.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let output = k3sprov(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).expect("plan --format json prints JSON")
}

fn step<'a>(plan: &'a Value, id: &str) -> &'a Value {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {plan:#}"))
}

#[test]
fn gvisor_on_empty_root_creates_everything() {
    let root = tempfile::tempdir().unwrap();
    let output = k3sprov(&[
        "plan",
        "profiles/gvisor.toml",
        "--root",
        root.path().to_str().unwrap(),
        "--detailed-exitcode",
    ]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{out}{}", stderr(&output));
    assert!(out.contains("+ binary:k3s"), "{out}");
    assert!(out.contains("+ mount:/dev/kmsg"), "{out}");
    assert!(
        out.contains("24 to create, 0 to update, 0 unchanged."),
        "{out}"
    );
    assert!(
        !out.contains('\u{1b}'),
        "colour codes in piped output: {out}"
    );
}

#[test]
fn steps_come_in_documented_order() {
    let root = tempfile::tempdir().unwrap();
    let plan = plan_json("profiles/gvisor.toml", root.path(), &[]);
    let ids: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids[..4],
        [
            "binary:k3s",
            "symlink:kubectl",
            "symlink:crictl",
            "symlink:ctr"
        ]
    );
    assert_eq!(ids[4], "cni:bandwidth");
    assert!(ids.contains(&"cni:host-local"));
    assert_eq!(
        ids[ids.len() - 2..],
        ["file:/etc/rancher/k3s/config.yaml", "mount:/dev/kmsg"]
    );
    for step in plan["steps"].as_array().unwrap() {
        assert_eq!(step["action"], "create", "{step}");
        assert!(
            step["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{step}"
        );
    }
    assert_eq!(plan["totals"]["create"], ids.len());
}

#[test]
fn summary_names_download_url() {
    let root = tempfile::tempdir().unwrap();
    let plan = plan_json("gvisor", root.path(), &["--mirror", "file:///srv/mirror/"]);
    let binary = step(&plan, "binary:k3s")["summary"].as_str().unwrap();
    assert!(
        binary.contains("file:///srv/mirror/k3s-io/k3s/releases/download/v1.33.5%2Bk3s1/k3s"),
        "{binary}"
    );
    assert!(
        binary.contains("sha256sum-amd64.txt") || binary.contains("sha256sum-"),
        "{binary}"
    );
    let plugin = step(&plan, "cni:bridge")["summary"].as_str().unwrap();
    assert!(
        plugin.contains("containernetworking/plugins/releases/download/v1.6.2/cni-plugins-linux-"),
        "{plugin}"
    );
}

#[test]
fn stock_profile_plans_from_any_directory() {
    let root = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    for name in ["gvisor", "docker", "host"] {
        let output = k3sprov_in(
            elsewhere.path(),
            &["plan", name, "--root", root.path().to_str().unwrap()],
        );
        assert!(output.status.success(), "{name}: {}", stderr(&output));
        assert!(
            stdout(&output).contains(&format!("Plan for {name} ")),
            "{}",
            stdout(&output)
        );
    }
}

#[test]
fn plan_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc/rancher/k3s")).unwrap();
    std::fs::write(root.path().join("etc/rancher/k3s/config.yaml"), "old: 1\n").unwrap();
    let before = tree(root.path());
    let content_before = std::fs::read(root.path().join("etc/rancher/k3s/config.yaml")).unwrap();
    plan_json("profiles/gvisor.toml", root.path(), &[]);
    assert_eq!(tree(root.path()), before);
    assert_eq!(
        std::fs::read(root.path().join("etc/rancher/k3s/config.yaml")).unwrap(),
        content_before
    );
}

/// Writes a host profile whose k3s digest is pinned, so every step can be checked without a download.
fn pinned_profile(directory: &Path, digest: &str, extra_config: &str) -> String {
    let text = format!(
        "extends = \"host\"\n[k3s]\nsha256 = {{ amd64 = \"{digest}\", arm64 = \"{digest}\", arm = \"{digest}\" }}\n[config]\n{extra_config}"
    );
    write_profile(directory, "pinned.toml", &text)
}

/// Installs what `pinned_profile` declares, by hand, under `root`.
fn install_by_hand(root: &Path, profile: &str) -> Vec<u8> {
    let bin = root.join("usr/local/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("k3s"), b"stand-in k3s").unwrap();
    std::fs::set_permissions(bin.join("k3s"), std::fs::Permissions::from_mode(0o755)).unwrap();
    for name in ["kubectl", "crictl", "ctr"] {
        std::os::unix::fs::symlink("k3s", bin.join(name)).unwrap();
    }
    let plan = plan_json(profile, root, &[]);
    let diff = step(&plan, "file:/etc/rancher/k3s/config.yaml")["diff"]
        .as_str()
        .unwrap()
        .to_string();
    let mut rendered = String::new();
    for line in diff
        .lines()
        .filter(|line| line.starts_with('+') && !line.starts_with("+++"))
    {
        rendered.push_str(&line[1..]);
        rendered.push('\n');
    }
    let config = root.join("etc/rancher/k3s/config.yaml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, &rendered).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    rendered.into_bytes()
}

const STAND_IN_DIGEST: &str = "1b1f1a7e2b0fcd0c0b6bb3c4cba4a0ec2fd7d28d5a8c0b38da1e23f8d24b7d0c";

fn stand_in_digest() -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(b"stand-in k3s");
    k3sprov::digest::to_hex(&digest)
}

#[test]
fn installed_state_plans_no_change() {
    let directory = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let profile = pinned_profile(directory.path(), &stand_in_digest(), "");
    install_by_hand(root.path(), &profile);

    let output = k3sprov(&[
        "plan",
        &profile,
        "--root",
        root.path().to_str().unwrap(),
        "--detailed-exitcode",
    ]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    assert!(
        out.contains("0 to create, 0 to update, 5 unchanged."),
        "{out}"
    );
}

#[test]
fn drift_is_planned_as_update() {
    let directory = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let profile = pinned_profile(directory.path(), &stand_in_digest(), "");
    install_by_hand(root.path(), &profile);
    std::fs::write(root.path().join("usr/local/bin/k3s"), b"edited").unwrap();
    let config = root.path().join("etc/rancher/k3s/config.yaml");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();

    let plan = plan_json(&profile, root.path(), &[]);
    let binary = step(&plan, "binary:k3s");
    assert_eq!(binary["action"], "update", "{binary}");
    assert!(
        binary["summary"]
            .as_str()
            .unwrap()
            .contains("whose sha256 differs from k3s v1.33.5+k3s1's"),
        "{binary}"
    );
    let file = step(&plan, "file:/etc/rancher/k3s/config.yaml");
    assert_eq!(file["action"], "update", "{file}");
    assert!(
        file["summary"]
            .as_str()
            .unwrap()
            .contains("from 0644 to 0600"),
        "{file}"
    );
    assert!(
        file.get("diff").is_none(),
        "same content needs no diff: {file}"
    );
}

#[test]
fn wrong_pin_is_not_mistaken_for_match() {
    let directory = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let profile = pinned_profile(directory.path(), STAND_IN_DIGEST, "");
    install_by_hand(root.path(), &profile);
    let plan = plan_json(&profile, root.path(), &[]);
    assert_eq!(step(&plan, "binary:k3s")["action"], "update");
}

#[test]
fn config_diff_redacts_secrets() {
    let directory = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let profile = pinned_profile(
        directory.path(),
        &stand_in_digest(),
        "token = \"first-secret\"\n",
    );
    install_by_hand(root.path(), &profile);
    let profile = pinned_profile(
        directory.path(),
        &stand_in_digest(),
        "token = \"second-secret\"\nnode-name = \"edge-1\"\n",
    );

    let output = k3sprov(&["plan", &profile, "--root", root.path().to_str().unwrap()]);
    let out = stdout(&output);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(out.contains("~ file:/etc/rancher/k3s/config.yaml"), "{out}");
    assert!(out.contains("+node-name: \"edge-1\""), "{out}");
    assert!(out.contains("token: <redacted>"), "{out}");
    assert!(
        !out.contains("first-secret") && !out.contains("second-secret"),
        "{out}"
    );
}

#[test]
fn foreign_kubectl_is_left_alone() {
    let root = tempfile::tempdir().unwrap();
    let bin = root.path().join("usr/local/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("kubectl"), b"#!/bin/sh\n").unwrap();
    let plan = plan_json("host", root.path(), &[]);
    let kubectl = step(&plan, "symlink:kubectl");
    assert_eq!(kubectl["action"], "none", "{kubectl}");
    assert!(
        kubectl["summary"]
            .as_str()
            .unwrap()
            .contains("leave /usr/local/bin/kubectl alone"),
        "{kubectl}"
    );
}

#[test]
fn directory_in_place_of_binary_is_an_error() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("usr/local/bin/k3s")).unwrap();
    let output = k3sprov(&[
        "plan",
        "host",
        "--root",
        root.path().to_str().unwrap(),
        "--detailed-exitcode",
    ]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("error: cannot plan host"), "{err}");
    assert!(
        err.contains("usr/local/bin/k3s` is a directory, where binary:k3s needs a regular file"),
        "{err}"
    );
}

#[test]
fn bad_root_and_mirror_are_errors() {
    let output = k3sprov(&["plan", "host", "--root", "/nonexistent/k3sprov-root"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("root directory `/nonexistent/k3sprov-root` cannot be used"),
        "{err}"
    );

    let output = k3sprov(&["plan", "host", "--mirror", "gopher://x"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("invalid --mirror URL `gopher://x`"), "{err}");
}

#[test]
fn invalid_profile_fails_plan() {
    let directory = tempfile::tempdir().unwrap();
    let profile = write_profile(
        directory.path(),
        "p.toml",
        "extends = \"host\"\n[config]\nsnapshoter = \"native\"\n",
    );
    let output = k3sprov(&["plan", &profile, "--detailed-exitcode"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("p.toml:3:1: error: unknown k3s server flag `snapshoter`"),
        "{err}"
    );
}

/// Runs a shell script in a private mount namespace, so its mounts vanish with it. Needs root,
/// which CI has.
fn in_mount_namespace(script: &str) -> std::process::Output {
    Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-euc", script])
        .env("K3SPROV", env!("CARGO_BIN_EXE_k3sprov"))
        .output()
        .expect("unshare runs")
}

#[test]
fn mounted_tmpfs_is_compared_with_profile() {
    let directory = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let profile = write_profile(
        directory.path(),
        "m.toml",
        "extends = \"host\"\n[[mount]]\npath = \"/run/k3s-scratch\"\ntype = \"tmpfs\"\noptions = [\"size=1m\", \"mode=0755\"]\n",
    );
    let script = format!(
        r#"
        target="{root}/run/k3s-scratch"
        plan() {{ "$K3SPROV" plan "{profile}" --root "{root}" --format json; }}
        echo "=== missing"; plan
        mkdir -p "$target"
        mount -t tmpfs -o size=1m,mode=0755 tmpfs "$target"
        echo "=== matching"; plan
        mount -o remount,size=2m "$target"
        echo "=== resized"; plan
        "#,
        root = root.path().display(),
    );
    let output = in_mount_namespace(&script);
    let out = stdout(&output);
    assert!(output.status.success(), "{out}{}", stderr(&output));

    let actions: Vec<(String, String)> = out
        .split("=== ")
        .skip(1)
        .map(|section| {
            let (label, json) = section.split_once('\n').unwrap();
            let plan: Value = serde_json::from_str(json).unwrap();
            let mount = step(&plan, "mount:/run/k3s-scratch");
            (
                label.to_string(),
                format!(
                    "{} {}",
                    mount["action"].as_str().unwrap(),
                    mount["summary"].as_str().unwrap()
                ),
            )
        })
        .collect();
    assert!(
        actions[0]
            .1
            .starts_with("create mount a tmpfs on /run/k3s-scratch"),
        "{actions:?}"
    );
    assert!(actions[1].1.starts_with("none "), "{actions:?}");
    assert!(
        actions[2]
            .1
            .starts_with("update remount /run/k3s-scratch: its size is 2048k, not 1m"),
        "{actions:?}"
    );
}

#[test]
fn existing_device_skips_only_if_missing_mount() {
    let root = tempfile::tempdir().unwrap();
    let directory = tempfile::tempdir().unwrap();
    let profile = write_profile(directory.path(), "k.toml", "extends = \"gvisor\"\n");
    let script = format!(
        r#"
        mkdir -p "{root}/dev"
        touch "{root}/dev/kmsg"
        mount --bind /dev/null "{root}/dev/kmsg"
        "$K3SPROV" plan "{profile}" --root "{root}" --format json
        "#,
        root = root.path().display(),
    );
    let output = in_mount_namespace(&script);
    assert!(output.status.success(), "{}", stderr(&output));
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    let kmsg = step(&plan, "mount:/dev/kmsg");
    assert_eq!(kmsg["action"], "none", "{kmsg}");

    // Without a mount, a character device made with mknod is left alone too.
    let script = format!(
        r#"
        mkdir -p "{root}/dev2/dev"
        mknod "{root}/dev2/dev/kmsg" c 1 11
        "$K3SPROV" plan "{profile}" --root "{root}/dev2" --format json
        "#,
        root = root.path().display(),
    );
    let output = in_mount_namespace(&script);
    assert!(output.status.success(), "{}", stderr(&output));
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    let kmsg = step(&plan, "mount:/dev/kmsg");
    assert_eq!(kmsg["action"], "none", "{kmsg}");
    assert!(
        kmsg["summary"]
            .as_str()
            .unwrap()
            .contains("a character device"),
        "{kmsg}"
    );
}
