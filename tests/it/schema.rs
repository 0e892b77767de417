//! The JSON Schema: current, and accepted by an independent validator.

use std::process::Command;

use crate::support::{k3sprov, repository, stdout};

const STOCK: [&str; 3] = [
    "profiles/gvisor.toml",
    "profiles/docker.toml",
    "profiles/host.toml",
];

#[test]
fn checked_in_schema_is_current() {
    let output = k3sprov(&["schema"]);
    assert!(output.status.success());
    let checked_in =
        std::fs::read_to_string(repository().join("schema/profile.schema.json")).unwrap();
    assert!(
        stdout(&output) == checked_in,
        "schema/profile.schema.json is stale; run `cargo run -- schema > schema/profile.schema.json`"
    );
}

#[test]
fn stock_profiles_declare_schema() {
    for profile in STOCK {
        let text = std::fs::read_to_string(repository().join(profile)).unwrap();
        assert!(
            text.starts_with("#:schema ../schema/profile.schema.json\n"),
            "{profile} does not start with the #:schema directive"
        );
    }
}

/// Runs Python's jsonschema over `profiles`; needs `python3 -m pip install jsonschema`.
fn python_check(profiles: &[&str]) -> std::process::Output {
    Command::new("python3")
        .arg("tests/check_schema.py")
        .arg("schema/profile.schema.json")
        .args(profiles)
        .current_dir(repository())
        .output()
        .expect("python3 runs; the README's test command installs it with jsonschema")
}

#[test]
fn stock_profiles_pass_python_jsonschema() {
    let output = python_check(&STOCK);
    let report = format!(
        "{}{}",
        stdout(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{report}");
    for profile in STOCK {
        assert!(report.contains(&format!("{profile}: valid")), "{report}");
    }
}

#[test]
fn python_jsonschema_rejects_bad_profile() {
    let directory = tempfile::tempdir().unwrap();
    let bad = directory.path().join("bad.toml");
    std::fs::write(
        &bad,
        "kind = \"sandbox\"\n[config]\nsnapshoter = \"native\"\nwrite-kubeconfig-mode = 644\n",
    )
    .unwrap();
    let output = python_check(&[bad.to_str().unwrap()]);
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.contains("snapshoter"), "{report}");
    assert!(report.contains("/config/write-kubeconfig-mode"), "{report}");
}
