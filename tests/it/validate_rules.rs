//! `k3sprov validate` on profiles that combine problems: positions stay right, inherited keys
//! of the other role are left out, and steps cannot collide.

use crate::support::{k3sprov_in, stderr, write_profile};

fn validate(name: &str, text: &str) -> (Option<i32>, String) {
    let directory = tempfile::tempdir().unwrap();
    write_profile(directory.path(), name, text);
    let output = k3sprov_in(directory.path(), &["validate", name]);
    (output.status.code(), stderr(&output))
}

#[test]
fn mount_errors_keep_their_entry() {
    let (code, err) = validate(
        "m.toml",
        r#"kind = "host"
[k3s]
version = "v1.33.5+k3s1"
[[mount]]
path = "/a"
type = "bind"
source = "/dev/null"
only_if_missing = "yes"
[[mount]]
path = "/"
type = "tmpfs"
options = ["size=abc"]
"#,
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("m.toml:8:19: error: `mount[0].only_if_missing` must be a boolean"),
        "{err}"
    );
    assert!(
        err.contains("m.toml:10:8: error: cannot mount over `/`"),
        "{err}"
    );
    assert!(
        err.contains("m.toml:12:12: error: invalid value `abc` for tmpfs option `size`"),
        "{err}"
    );
}

#[test]
fn bad_item_hides_no_other_problem() {
    let (code, err) = validate(
        "p.toml",
        "kind = \"host\"\n[k3s]\nversion = \"v1.33.5+k3s1\"\nsymlinks = [\"kubectl\", 5]\n[cni]\nversion = \"v1.6.2\"\nplugins = [\"brige\"]\n",
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("p.toml:4:24: error"), "{err}");
    assert!(
        err.contains("p.toml:7:12: error: CNI v1.6.2 has no plugin `brige`"),
        "{err}"
    );
}

#[test]
fn agent_extending_server_profile() {
    let (code, err) = validate(
        "agent.toml",
        "extends = \"host\"\n[k3s]\nrole = \"agent\"\n[config]\nserver = \"https://10.0.0.1:6443\"\ntoken-file = \"/etc/k3s-token\"\n",
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("stock/host.toml"), "{err}");
    assert!(
        err.contains(
            "warning: leaving out `write-kubeconfig-mode`, inherited from a parent profile"
        ),
        "{err}"
    );
}

#[test]
fn colliding_targets_are_errors() {
    let (code, err) = validate(
        "c.toml",
        r#"kind = "host"
[k3s]
version = "v1.33.5+k3s1"
symlinks = ["kubectl", "bridge"]
config_file = "/usr/local/bin/kubectl"
[cni]
version = "v1.6.2"
bin_dir = "/usr/local/bin/"
plugins = ["bridge", "loopback"]
[[mount]]
path = "/usr/local/bin"
type = "tmpfs"
"#,
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(
            "`/usr/local/bin/bridge` would be both the symlink `bridge` and the CNI plugin `bridge`"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "`/usr/local/bin/kubectl` would be both the symlink `kubectl` and the k3s config file"
        ),
        "{err}"
    );
    assert!(
        err.contains("c.toml:11:8: error: a mount on `/usr/local/bin` would hide the k3s binary"),
        "{err}"
    );
}

#[test]
fn config_file_must_name_file() {
    let (code, err) = validate("r.toml", "extends = \"host\"\n[k3s]\nconfig_file = \"/\"\n");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("`k3s.config_file` must name a file"), "{err}");
}

#[test]
fn every_secret_key_warns() {
    let (code, err) = validate(
        "s.toml",
        "extends = \"host\"\n[config]\nvpn-auth = \"name=tailscale,joinKey=x\"\netcd-s3-session-token = \"y\"\n",
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("`vpn-auth` holds a secret in the profile"),
        "{err}"
    );
    assert!(err.contains("`vpn-auth-file`"), "{err}");
    assert!(
        err.contains("`etcd-s3-session-token` holds a secret in the profile"),
        "{err}"
    );
}

#[test]
fn wrong_type_is_reported_once() {
    let (code, err) = validate("k.toml", "kind = 3\n[k3s]\nversion = \"v1.33.5+k3s1\"\n");
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
}

#[test]
fn repeatable_flag_points_at_item() {
    let (code, err) = validate(
        "d.toml",
        "extends = \"host\"\n[config]\ndisable = [\"traefik\", 2]\n",
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("d.toml:3:23: error: the items of `config.disable` must be strings, but this is an integer"), "{err}");
}
