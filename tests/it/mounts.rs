//! Real mounts made by `k3sprov apply`, inside private mount namespaces (`unshare --mount`),
//! so nothing outlives the test. These need root, which CI has.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use serde_json::Value;

use crate::apply::Setup;
use crate::release_mirror::{ReleaseMirror, V1_6_PLUGINS};
use crate::support::{stderr, stdout};

/// Runs `script` with `sh -eu` in a new private mount namespace. `$K3SPROV`, `$PROFILE`,
/// `$ROOT`, `$MIRROR` and `$CACHE` are set for it, and `apply` and `plan` are shell functions
/// that run k3sprov on them.
fn in_namespace(setup: &Setup, mirror: &str, script: &str) -> Output {
    let prelude = r#"
        apply() { "$K3SPROV" apply "$PROFILE" --root "$ROOT" --mirror "$MIRROR" --cache-dir "$CACHE" "$@"; }
        plan() { "$K3SPROV" plan "$PROFILE" --root "$ROOT" --mirror "$MIRROR" --cache-dir "$CACHE" "$@"; }
        count() { grep -c " $ROOT$1 " /proc/self/mountinfo || true; }
    "#;
    Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-euc"])
        .arg(format!("{prelude}\n{script}"))
        .env("K3SPROV", env!("CARGO_BIN_EXE_k3sprov"))
        .env("PROFILE", &setup.profile)
        .env("ROOT", setup.root.path())
        .env("MIRROR", mirror)
        .env("CACHE", setup.cache.path())
        .env_remove("K3SPROV_LOG")
        .output()
        .expect("unshare runs")
}

/// Splits the output of a script that echoes `=== NAME` before each JSON document.
fn sections(output: &Output) -> Vec<(String, Value)> {
    let text = stdout(output);
    text.split("=== ")
        .skip(1)
        .map(|section| {
            let (name, body) = section.split_once('\n').unwrap();
            let value = serde_json::from_str(body)
                .unwrap_or_else(|error| panic!("{name}: {error}: {body}"));
            (name.trim().to_string(), value)
        })
        .collect()
}

fn outcome<'a>(report: &'a Value, id: &str) -> &'a str {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["id"] == id)
        .and_then(|step| step["outcome"].as_str().or(step["action"].as_str()))
        .unwrap_or_else(|| panic!("no step {id} in {report:#}"))
}

const TMPFS: &str = "extends = \"host\"\n[[mount]]\npath = \"/run/k3s-scratch\"\ntype = \"tmpfs\"\noptions = [\"size=1m\", \"mode=0755\", \"nosuid\"]\n";

#[test]
fn tmpfs_mounted_once_and_repaired() {
    let release = ReleaseMirror::build(1 << 12);
    let setup = Setup::new(TMPFS);
    let output = in_namespace(
        &setup,
        &release.file_url(),
        r#"
        echo "=== first"; apply --format json
        echo "=== count"; echo "[$(count /run/k3s-scratch)]"
        echo "=== second"; apply --format json
        echo "=== count2"; echo "[$(count /run/k3s-scratch)]"
        mount -o remount,size=2m "$ROOT/run/k3s-scratch"
        echo "=== drift"; plan --format json
        echo "=== repair"; apply --format json
        echo "=== count3"; echo "[$(count /run/k3s-scratch)]"
        echo "=== size"; echo "[\"$(grep " $ROOT/run/k3s-scratch " /proc/self/mountinfo | grep -o 'size=[0-9a-z]*')\"]"
        "#,
    );
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let parts = sections(&output);
    let get = |name: &str| &parts.iter().find(|(label, _)| label == name).unwrap().1;

    assert_eq!(outcome(get("first"), "mount:/run/k3s-scratch"), "create");
    assert_eq!(get("count")[0], 1);
    let second = get("second");
    assert!(
        second["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|step| step["outcome"] == "none"),
        "{second:#}"
    );
    assert_eq!(get("count2")[0], 1, "a second apply stacked a mount");
    assert_eq!(outcome(get("drift"), "mount:/run/k3s-scratch"), "update");
    assert_eq!(outcome(get("repair"), "mount:/run/k3s-scratch"), "update");
    assert_eq!(get("count3")[0], 1, "the repair stacked a mount");
    assert_eq!(get("size")[0], "size=1024k");
}

#[test]
fn existing_device_is_left_alone() {
    let release = ReleaseMirror::build(1 << 12);
    let setup = Setup::new(
        "extends = \"host\"\n[[mount]]\npath = \"/dev/kmsg\"\ntype = \"bind\"\nsource = \"/dev/null\"\nonly_if_missing = true\n",
    );
    let output = in_namespace(
        &setup,
        &release.file_url(),
        r#"
        mkdir -p "$ROOT/dev"
        mknod "$ROOT/dev/kmsg" c 1 11
        echo "=== apply"; apply --format json
        echo "=== count"; echo "[$(count /dev/kmsg)]"
        "#,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let parts = sections(&output);
    assert_eq!(outcome(&parts[0].1, "mount:/dev/kmsg"), "none");
    assert_eq!(parts[1].1[0], 0);
}

#[test]
fn gvisor_profile_end_to_end() {
    let release = ReleaseMirror::build(1 << 16);
    let setup = Setup::new("extends = \"gvisor\"\n");
    let output = in_namespace(
        &setup,
        &release.file_url(),
        r#"
        echo "=== first"; apply --format json
        echo "=== count"; echo "[$(count /dev/kmsg)]"
        echo "=== kmsg"; echo "[\"$(stat -c %t:%T "$ROOT/dev/kmsg")\"]"
        find "$ROOT" -printf '%p %T@\n' | sort > "$ROOT.before"
        echo "=== second"; apply --format json
        find "$ROOT" -printf '%p %T@\n' | sort > "$ROOT.after"
        echo "=== same"; if cmp -s "$ROOT.before" "$ROOT.after"; then echo '[true]'; else echo '[false]'; fi
        echo "=== count2"; echo "[$(count /dev/kmsg)]"
        set +e; plan --detailed-exitcode > /dev/null; status=$?
        echo "=== exit"; echo "[$status]"
        "#,
    );
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let parts = sections(&output);
    let get = |name: &str| &parts.iter().find(|(label, _)| label == name).unwrap().1;

    let first = get("first");
    assert_eq!(
        first["steps"].as_array().unwrap().len(),
        4 + V1_6_PLUGINS.len() + 2,
        "{first:#}"
    );
    assert!(
        first["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|step| step["outcome"] == "create"),
        "{first:#}"
    );
    assert_eq!(get("count")[0], 1);
    assert_eq!(
        get("kmsg")[0],
        "1:3",
        "/dev/kmsg should now be /dev/null, device 1:3"
    );
    assert!(
        get("second")["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|step| step["outcome"] == "none")
    );
    assert_eq!(
        get("same")[0],
        true,
        "the second apply changed a modification time"
    );
    assert_eq!(get("count2")[0], 1);
    assert_eq!(get("exit")[0], 0);

    let config = setup.path("/etc/rancher/k3s/config.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.ends_with(
        "snapshotter: \"native\"\nkubelet-arg:\n  - \"local-storage-capacity-isolation=false\"\nwrite-kubeconfig-mode: \"0644\"\n"
    ), "{text}");
    assert_eq!(
        std::fs::metadata(&config).unwrap().permissions().mode() & 0o7777,
        0o600
    );
    assert!(setup.path("/usr/local/bin/k3s").is_file());
    assert!(setup.path("/opt/cni/bin/host-local").is_file());
}

#[test]
fn mount_without_privilege_stops_there() {
    let release = ReleaseMirror::build(1 << 12);
    let setup = Setup::new(TMPFS);
    // setpriv drops CAP_SYS_ADMIN from the bounding and inheritable sets before running k3sprov.
    let output = in_namespace(
        &setup,
        &release.file_url(),
        r#"
        echo "=== plan"; setpriv --bounding-set -sys_admin --inh-caps -sys_admin "$K3SPROV" plan "$PROFILE" --root "$ROOT" --mirror "$MIRROR" --format json
        set +e
        setpriv --bounding-set -sys_admin --inh-caps -sys_admin "$K3SPROV" apply "$PROFILE" --root "$ROOT" --mirror "$MIRROR" --cache-dir "$CACHE" 2> "$ROOT.err"
        status=$?
        echo "=== exit"; echo "[$status]"
        "#,
    );
    let out = stdout(&output);
    assert!(output.status.success(), "{out}{}", stderr(&output));
    let errors = std::fs::read_to_string(format!("{}.err", setup.root.path().display())).unwrap();
    assert!(
        out.contains("+ binary:k3s"),
        "apply should report what it did first: {out}"
    );
    assert!(out.contains("x mount:/run/k3s-scratch"), "{out}");
    assert!(errors.contains("CAP_SYS_ADMIN"), "{errors}");
    assert!(errors.contains("/run/k3s-scratch"), "{errors}");
    assert!(out.contains("=== exit\n[1]"), "{out}");
    assert!(setup.path("/usr/local/bin/k3s").is_file());
}

#[test]
fn mode_and_flag_drift_are_repaired() {
    let release = ReleaseMirror::build(1 << 12);
    let setup = Setup::new(TMPFS);
    let output = in_namespace(
        &setup,
        &release.file_url(),
        r#"
        apply > /dev/null
        umount "$ROOT/run/k3s-scratch"
        mount -t tmpfs -o size=1m,mode=0700 tmpfs "$ROOT/run/k3s-scratch"
        echo "=== plan"; plan --format json
        echo "=== apply"; apply --format json
        echo "=== mode"; echo "[\"$(stat -c %a "$ROOT/run/k3s-scratch")\"]"
        echo "=== count"; echo "[$(count /run/k3s-scratch)]"
        "#,
    );
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let parts = sections(&output);
    let get = |name: &str| &parts.iter().find(|(label, _)| label == name).unwrap().1;
    let planned = get("plan")["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["id"] == "mount:/run/k3s-scratch")
        .unwrap()
        .clone();
    assert_eq!(planned["action"], "update", "{planned}");
    assert!(
        planned["summary"].as_str().unwrap().contains("nosuid"),
        "the missing nosuid is noticed first: {planned}"
    );
    assert_eq!(outcome(get("apply"), "mount:/run/k3s-scratch"), "update");
    assert_eq!(get("mode")[0], "755");
    assert_eq!(get("count")[0], 1);
}

#[test]
fn impossible_mount_points_fail_plan() {
    let release = ReleaseMirror::build(1 << 12);
    let outside = tempfile::tempdir().unwrap();
    let setup = Setup::new(TMPFS);
    std::fs::create_dir_all(setup.path("/run")).unwrap();
    std::os::unix::fs::symlink(outside.path(), setup.path("/run/k3s-scratch")).unwrap();
    let output = setup.run("plan", &release.file_url(), &[]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "is a symlink, where mount:/run/k3s-scratch needs a file or directory to mount on"
        ),
        "{err}"
    );

    let bind = Setup::new(
        "extends = \"host\"\n[[mount]]\npath = \"/dev/kmsg\"\ntype = \"bind\"\nsource = \"/nonexistent/k3sprov-source\"\n",
    );
    let output = bind.run("plan", &release.file_url(), &[]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the source `/nonexistent/k3sprov-source` of mount:/dev/kmsg does not exist"),
        "{err}"
    );

    let directory = Setup::new(
        "extends = \"gvisor\"\nmount = [{ path = \"/dev/kmsg\", type = \"bind\", source = \"/dev/null\" }]\n",
    );
    std::fs::create_dir_all(directory.path("/dev/kmsg")).unwrap();
    let output = directory.run("plan", &release.file_url(), &[]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("needs a file to bind a file onto"), "{err}");
}

#[test]
fn read_only_etc_changes_nothing() {
    let release = ReleaseMirror::build(1 << 12);
    let setup = Setup::new("extends = \"gvisor\"\nmount = []\n");
    let output = in_namespace(
        &setup,
        &release.file_url(),
        r#"
        mkdir -p "$ROOT/etc"
        mount -t tmpfs -o ro tmpfs "$ROOT/etc"
        set +e; apply 2> "$ROOT.err"; status=$?
        echo "=== exit"; echo "[$status]"
        echo "=== files"; echo "[$(find "$ROOT/usr" "$ROOT/opt" -type f 2>/dev/null | wc -l)]"
        "#,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let parts = sections(&output);
    assert_eq!(parts[0].1[0], 1);
    assert_eq!(
        parts[1].1[0], 0,
        "binaries were installed although /etc is read-only"
    );
    let errors = std::fs::read_to_string(format!("{}.err", setup.root.path().display())).unwrap();
    assert!(
        errors.contains("nothing was changed, because these directories cannot be written"),
        "{errors}"
    );
    assert!(errors.contains("/etc"), "{errors}");
}
