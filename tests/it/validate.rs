//! `k3sprov validate`: every problem, each with its file, line and column.

use crate::support::{k3sprov, k3sprov_in, stderr, stdout, write_profile};

#[test]
fn stock_profiles_are_valid() {
    let output = k3sprov(&[
        "validate",
        "profiles/gvisor.toml",
        "profiles/docker.toml",
        "profiles/host.toml",
        "gvisor",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    for name in [
        "profiles/gvisor.toml",
        "profiles/docker.toml",
        "profiles/host.toml",
        "gvisor",
    ] {
        assert!(out.contains(&format!("{name}: ok")), "{out}");
    }
}

const FOUR_PROBLEMS: &str = r#"extends = "gvizor"
kind = "sandbox"

[k3s]
version = "v1.33.5+k3s1"

[config]
snapshoter = "native"
write-kubeconfig-mode = 644

[[mount]]
path = "/run/x"
type = "overlay"
"#;

#[test]
fn four_problems_in_one_run() {
    let directory = tempfile::tempdir().unwrap();
    write_profile(directory.path(), "bad.toml", FOUR_PROBLEMS);
    let output = k3sprov_in(directory.path(), &["validate", "bad.toml"]);
    let err = stderr(&output);

    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("bad.toml:1:11: error: `gvizor` is not a stock profile"),
        "{err}"
    );
    assert!(err.contains("did you mean `gvisor`?"), "{err}");
    assert!(
        err.contains("bad.toml:8:1: error: unknown k3s server flag `snapshoter` in [config]"),
        "{err}"
    );
    assert!(err.contains("did you mean `snapshotter`?"), "{err}");
    assert!(err.contains("bad.toml:9:25: error: `config.write-kubeconfig-mode` must be a string, but this is an integer"), "{err}");
    assert!(
        err.contains("bad.toml:13:8: error: invalid value \"overlay\" for `mount[0].type`"),
        "{err}"
    );
    assert!(err.contains("bad.toml: 4 errors"), "{err}");
}

#[test]
fn problem_shows_source_line_and_caret() {
    let directory = tempfile::tempdir().unwrap();
    write_profile(directory.path(), "bad.toml", FOUR_PROBLEMS);
    let output = k3sprov_in(directory.path(), &["validate", "bad.toml"]);
    let err = stderr(&output);
    assert!(
        err.contains("8 | snapshoter = \"native\"\n  | ^^^^^^^^^^ did you mean `snapshotter`?"),
        "{err}"
    );
}

#[test]
fn syntax_error_reports_position() {
    let directory = tempfile::tempdir().unwrap();
    write_profile(
        directory.path(),
        "broken.toml",
        "kind = \"host\"\n[k3s\nversion = \"v1\"\n",
    );
    let output = k3sprov_in(directory.path(), &["validate", "broken.toml"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("broken.toml:2:5: error: invalid TOML: unclosed table"),
        "{err}"
    );
}

#[test]
fn every_file_is_checked() {
    let directory = tempfile::tempdir().unwrap();
    write_profile(
        directory.path(),
        "a.toml",
        "kind = \"host\"\nnmae = 1\n[k3s]\nversion = \"v1.33.5+k3s1\"\n",
    );
    write_profile(
        directory.path(),
        "b.toml",
        "kind = \"cloud\"\n[k3s]\nversion = \"v1.33.5+k3s1\"\n",
    );
    let output = k3sprov_in(directory.path(), &["validate", "a.toml", "b.toml", "host"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("a.toml:2:1: error: unknown key `nmae` at the top level"),
        "{err}"
    );
    assert!(
        err.contains("b.toml:1:8: error: invalid value \"cloud\" for `kind`"),
        "{err}"
    );
    assert!(stdout(&output).contains("host: ok"));
}

#[test]
fn problem_in_parent_points_at_parent() {
    let directory = tempfile::tempdir().unwrap();
    write_profile(
        directory.path(),
        "parent.toml",
        "kind = \"host\"\n[k3s]\nversion = \"v1.33.5+k3s1\"\n[config]\ncluster-init = \"yes\"\n",
    );
    write_profile(
        directory.path(),
        "child.toml",
        "extends = \"parent.toml\"\n[config]\nsnapshotter = 5\n",
    );
    let output = k3sprov_in(directory.path(), &["validate", "child.toml"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "parent.toml:5:16: error: `config.cluster-init` must be a boolean, but this is a string"
        ),
        "{err}"
    );
    assert!(
        err.contains("child.toml:3:15: error: `config.snapshotter` must be a string"),
        "{err}"
    );
}

#[test]
fn merged_role_checks_child_flags() {
    let directory = tempfile::tempdir().unwrap();
    write_profile(
        directory.path(),
        "parent.toml",
        "kind = \"host\"\n[k3s]\nversion = \"v1.33.5+k3s1\"\nrole = \"agent\"\n",
    );
    write_profile(
        directory.path(),
        "child.toml",
        "extends = \"./parent.toml\"\n[config]\nserver = \"https://10.0.0.1:6443\"\ndisable = [\"traefik\"]\n",
    );
    let output = k3sprov_in(directory.path(), &["validate", "child.toml"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("child.toml:4:1: error: `disable` is a k3s server flag, not an agent flag"),
        "{err}"
    );
}

#[test]
fn extends_cycle_names_the_chain() {
    let directory = tempfile::tempdir().unwrap();
    write_profile(
        directory.path(),
        "a.toml",
        "extends = \"b.toml\"\nkind = \"host\"\n",
    );
    write_profile(directory.path(), "b.toml", "extends = \"a.toml\"\n");
    let output = k3sprov_in(directory.path(), &["validate", "a.toml"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("b.toml:1:11: error: `extends` forms a cycle: a.toml -> b.toml -> a.toml"),
        "{err}"
    );
}

#[test]
fn missing_parent_file_is_named() {
    let directory = tempfile::tempdir().unwrap();
    write_profile(
        directory.path(),
        "child.toml",
        "extends = \"nowhere/base.toml\"\n",
    );
    let output = k3sprov_in(directory.path(), &["validate", "child.toml"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("child.toml:1:11: error: profile file `nowhere/base.toml` not found"),
        "{err}"
    );
    // The parent would have set `kind` and `k3s.version`; their absence is not reported.
    assert!(!err.contains("missing key"), "{err}");
}

#[test]
fn extends_stock_profile_by_name() {
    let directory = tempfile::tempdir().unwrap();
    write_profile(
        directory.path(),
        "mine.toml",
        "extends = \"gvisor\"\n[k3s]\nversion = \"v1.32.9+k3s1\"\n",
    );
    let output = k3sprov_in(directory.path(), &["validate", "mine.toml"]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn typed_rules_report_each_problem() {
    let directory = tempfile::tempdir().unwrap();
    let text = r#"kind = "sandbox"
[k3s]
version = "v1.33"
bin_dir = "usr/local/bin"
symlinks = ["kubectl", "kubectl"]
[cni]
version = "v1.6.2"
plugins = ["bridge", "hostlocal"]
[[mount]]
path = "/dev/kmsg"
type = "bind"
[[mount]]
path = "/run/k3s"
type = "tmpfs"
options = ["size=lots", "nosiud"]
[download]
mirror = "ftp://mirror.example"
"#;
    write_profile(directory.path(), "p.toml", text);
    let output = k3sprov_in(directory.path(), &["validate", "p.toml"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("p.toml:3:11: error: invalid value \"v1.33\" for `k3s.version`"),
        "{err}"
    );
    assert!(err.contains("exact k3s release tag"), "{err}");
    assert!(
        err.contains("p.toml:4:11: error: invalid value \"usr/local/bin\" for `k3s.bin_dir`"),
        "{err}"
    );
    assert!(
        err.contains("p.toml:5:24: error: symlink `kubectl` is listed twice"),
        "{err}"
    );
    assert!(
        err.contains("p.toml:8:22: error: CNI v1.6.2 has no plugin `hostlocal`"),
        "{err}"
    );
    assert!(err.contains("did you mean \"host-local\"?"), "{err}");
    assert!(
        err.contains("p.toml:9:1: error: a bind mount needs `source`"),
        "{err}"
    );
    assert!(
        err.contains("p.toml:15:12: error: invalid value `lots` for tmpfs option `size`"),
        "{err}"
    );
    assert!(
        err.contains("p.toml:15:25: error: unknown tmpfs mount option `nosiud`"),
        "{err}"
    );
    assert!(
        err.contains(
            "p.toml:17:10: error: invalid value \"ftp://mirror.example\" for `download.mirror`"
        ),
        "{err}"
    );
}

#[test]
fn missing_required_keys_are_reported() {
    let directory = tempfile::tempdir().unwrap();
    write_profile(
        directory.path(),
        "p.toml",
        "description = \"nothing else\"\n",
    );
    let output = k3sprov_in(directory.path(), &["validate", "p.toml"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("error: missing key `kind`"), "{err}");
    assert!(err.contains("error: missing key `k3s.version`"), "{err}");
}

#[test]
fn literal_token_is_a_warning() {
    let directory = tempfile::tempdir().unwrap();
    write_profile(
        directory.path(),
        "p.toml",
        "extends = \"host\"\n[config]\ntoken = \"s3cret\"\n",
    );
    let output = k3sprov_in(directory.path(), &["validate", "p.toml"]);
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert!(
        err.contains("p.toml:3:9: warning: `token` holds a secret in the profile"),
        "{err}"
    );
    assert!(err.contains("token-file"), "{err}");
}

#[test]
fn unknown_profile_name_lists_stock_profiles() {
    let directory = tempfile::tempdir().unwrap();
    let output = k3sprov_in(directory.path(), &["validate", "gvisr"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no profile file `gvisr` and no stock profile of that name"),
        "{err}"
    );
    assert!(err.contains("gvisor, docker, host"), "{err}");
}

#[test]
fn datetime_value_is_rejected() {
    let directory = tempfile::tempdir().unwrap();
    write_profile(
        directory.path(),
        "p.toml",
        "extends = \"host\"\n[config]\nnode-name = 2024-01-01\n",
    );
    let output = k3sprov_in(directory.path(), &["validate", "p.toml"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("p.toml:3:13: error: date-time value 2024-01-01 is not valid in a profile"),
        "{err}"
    );
}
