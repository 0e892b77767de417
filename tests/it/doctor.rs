//! `k3sprov doctor` on fixture trees that reproduce known environments, and for real on this
//! machine inside a private mount namespace. Also the warnings `plan` takes from the same probes.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use k3sprov::doctor::{self, Check, Intent, Status};
use k3sprov::host::probes::{self, Roots};
use serde_json::Value;

use crate::support::{repository, stderr, stdout, write_profile};

/// A fixture tree copied to a temporary directory, with the files its `read-only` list names
/// made read-only.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let source = repository().join("tests/fixtures/doctor").join(name);
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&source, dir.path());
        let listed = std::fs::read_to_string(dir.path().join("read-only")).unwrap_or_default();
        for path in listed.lines().filter(|line| !line.is_empty()) {
            let path = dir.path().join(path);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
        }
        Fixture { dir }
    }

    fn checks(&self, intent: &Intent) -> Vec<Check> {
        doctor::diagnose(&self.facts(), intent)
    }

    fn facts(&self) -> probes::Facts {
        probes::collect(&Roots::fixture(self.dir.path()), true)
    }

    fn with_profile(&self, profile: &str) -> Vec<Check> {
        let spec = k3sprov::profile::load(profile)
            .spec
            .expect("the profile is valid");
        self.checks(&Intent::from_spec(&spec))
    }

    fn best_fit(&self) -> doctor::BestFit {
        doctor::best_fit(&self.facts()).expect("stock profiles load")
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else if kind.is_dir() {
            std::fs::create_dir(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn find<'a>(checks: &'a [Check], id: &str) -> &'a Check {
    checks
        .iter()
        .find(|check| check.id == id)
        .unwrap_or_else(|| panic!("no check {id} in {checks:#?}"))
}

fn failing(checks: &[Check]) -> Vec<&'static str> {
    checks
        .iter()
        .filter(|check| check.status == Status::Fail)
        .map(|check| check.id)
        .collect()
}

#[test]
fn gvisor_blockers_with_defaults() {
    let fixture = Fixture::new("gvisor");
    let checks = fixture.checks(&Intent::default());
    let overlay = find(&checks, "overlayfs");
    assert_eq!(overlay.status, Status::Fail, "{overlay:?}");
    assert!(overlay.summary.contains("9p"), "{overlay:?}");
    assert!(
        overlay
            .k3s_error
            .as_deref()
            .unwrap()
            .contains("\"overlayfs\" snapshotter cannot be enabled")
    );
    assert!(
        overlay
            .fix
            .as_deref()
            .unwrap()
            .contains("snapshotter = \"native\"")
    );
    let kmsg = find(&checks, "kmsg");
    assert_eq!(kmsg.status, Status::Fail);
    assert_eq!(
        kmsg.k3s_error.as_deref(),
        Some("open /dev/kmsg: no such file or directory")
    );
    assert_eq!(find(&checks, "filesystem").status, Status::Warn);
    assert_eq!(find(&checks, "br-netfilter").status, Status::Warn);
    assert!(find(&checks, "environment").summary.contains("gVisor"));
    assert_eq!(failing(&checks), ["overlayfs", "kmsg"]);
}

#[test]
fn gvisor_fits_gvisor_profile() {
    let fixture = Fixture::new("gvisor");
    let checks = fixture.with_profile("gvisor");
    assert!(failing(&checks).is_empty(), "{checks:#?}");
    assert_eq!(find(&checks, "filesystem").status, Status::Ok);
    let fit = fixture.best_fit();
    assert_eq!(fit.profile, "gvisor");
    assert_eq!(fit.failures, 0);
}

#[test]
fn docker_unprivileged_blockers() {
    let fixture = Fixture::new("docker");
    let checks = fixture.checks(&Intent::default());
    let defaults = find(&checks, "kernel-defaults");
    assert_eq!(defaults.status, Status::Fail);
    assert!(
        defaults.summary.contains("/proc/sys is read-only"),
        "{defaults:?}"
    );
    let error = defaults.k3s_error.as_deref().unwrap();
    assert!(
        error.contains("open /proc/sys/vm/overcommit_memory: read-only file system"),
        "{error}"
    );
    assert!(
        defaults
            .fix
            .as_deref()
            .unwrap()
            .contains("sysctl -w vm.overcommit_memory=1")
    );
    assert!(
        find(&checks, "cgroup-tree")
            .fix
            .as_deref()
            .unwrap()
            .contains("--privileged")
    );
    assert!(
        find(&checks, "privileges")
            .summary
            .contains("CAP_SYS_ADMIN")
    );
    assert_eq!(find(&checks, "ip-forward").status, Status::Warn);
    assert_eq!(find(&checks, "conntrack").status, Status::Ok);
    assert_eq!(
        failing(&checks),
        [
            "overlayfs",
            "kmsg",
            "cgroup-tree",
            "kernel-defaults",
            "privileges"
        ]
    );
    assert!(
        find(&checks, "environment")
            .summary
            .contains("docker container")
    );
}

#[test]
fn docker_fits_docker_profile() {
    let fixture = Fixture::new("docker");
    let checks = fixture.with_profile("docker");
    assert_eq!(find(&checks, "overlayfs").status, Status::Ok);
    assert_eq!(find(&checks, "kmsg").status, Status::Ok);
    assert!(
        find(&checks, "privileges")
            .summary
            .contains("mounts cannot be made")
    );
    let fit = fixture.best_fit();
    assert_eq!(fit.profile, "docker");
    assert_eq!(fit.failures, 3, "the outside changes remain");
}

#[test]
fn lxc_blockers_name_profile_fixes() {
    let fixture = Fixture::new("lxc");
    let checks = fixture.checks(&Intent::default());
    let defaults = find(&checks, "kernel-defaults");
    assert_eq!(defaults.status, Status::Fail);
    assert!(
        defaults
            .fix
            .as_deref()
            .unwrap()
            .contains("feature-gates=KubeletInUserNamespace=true")
    );
    let conntrack = find(&checks, "conntrack");
    assert_eq!(conntrack.status, Status::Fail);
    assert_eq!(
        conntrack.k3s_error.as_deref(),
        Some("open /proc/sys/net/netfilter/nf_conntrack_max: permission denied")
    );
    assert!(
        conntrack
            .fix
            .as_deref()
            .unwrap()
            .contains("conntrack-max-per-core=0")
    );
    assert_eq!(
        find(&checks, "overlayfs").status,
        Status::Warn,
        "zfs is unsure"
    );
    assert!(
        find(&checks, "privileges")
            .summary
            .contains("user namespace")
    );
    assert!(
        find(&checks, "environment")
            .summary
            .contains("lxc container; init: systemd")
    );
    assert_eq!(failing(&checks), ["kmsg", "kernel-defaults", "conntrack"]);
    assert_eq!(fixture.best_fit().profile, "docker");
}

#[test]
fn lxc_passes_with_profile_fixes() {
    let fixture = Fixture::new("lxc");
    let directory = tempfile::tempdir().unwrap();
    let profile = write_profile(
        directory.path(),
        "lxc.toml",
        "extends = \"docker\"\n[config]\nkubelet-arg = [\"feature-gates=KubeletInUserNamespace=true\"]\nkube-proxy-arg = [\"conntrack-max-per-core=0\"]\n",
    );
    let checks = fixture.with_profile(&profile);
    assert!(failing(&checks).is_empty(), "{checks:#?}");
    assert_eq!(find(&checks, "kernel-defaults").status, Status::Warn);
}

#[test]
fn wsl2_fits_host_profile() {
    let fixture = Fixture::new("wsl2");
    let checks = fixture.checks(&Intent::default());
    assert!(failing(&checks).is_empty(), "{checks:#?}");
    assert_eq!(find(&checks, "kmsg").status, Status::Ok);
    assert_eq!(
        find(&checks, "cgroups").summary,
        "cgroup hybrid (v1 controllers) with cpu, cpuset, memory and pids"
    );
    let bridge = find(&checks, "br-netfilter");
    assert_eq!(bridge.status, Status::Warn);
    assert!(
        bridge
            .fix
            .as_deref()
            .unwrap()
            .contains("modprobe br_netfilter")
    );
    assert!(find(&checks, "environment").summary.contains("WSL"));
    assert_eq!(fixture.best_fit().profile, "host");
}

#[test]
fn plain_host_is_clean() {
    let fixture = Fixture::new("host");
    let checks = fixture.checks(&Intent::default());
    assert!(failing(&checks).is_empty(), "{checks:#?}");
    assert_eq!(
        find(&checks, "overlayfs").summary,
        "ext4 suits it (no trial mount)"
    );
    assert_eq!(find(&checks, "kernel-defaults").status, Status::Ok);
    assert_eq!(
        find(&checks, "environment").summary,
        "no container or sandbox markers; init: systemd"
    );
    let fit = fixture.best_fit();
    assert_eq!((fit.profile, fit.failures), ("host", 0));
}

/// Runs `script` with `sh -eu` in a new private mount namespace, with `$K3SPROV` set.
fn in_namespace(script: &str) -> std::process::Output {
    in_namespace_with(script, &[])
}

fn in_namespace_with(script: &str, env: &[(&str, &Path)]) -> std::process::Output {
    Command::new("unshare")
        .envs(env.iter().copied())
        .args(["--mount", "--propagation", "private", "sh", "-euc", script])
        .env("K3SPROV", env!("CARGO_BIN_EXE_k3sprov"))
        .current_dir(repository())
        .env_remove("K3SPROV_LOG")
        .output()
        .expect("unshare runs")
}

#[test]
fn real_run_leaves_nothing_behind() {
    // A temp dir of its own, so temporary files of tests running alongside do not count.
    let temp = tempfile::tempdir().unwrap();
    let output = in_namespace_with(
        r#"
        temp="$TMPDIR"
        cat /proc/self/mountinfo > /dev/shm/k3sprov-doctor-before.$$
        ls -A "$temp" > /dev/shm/k3sprov-doctor-temp.$$
        start=$(date +%s%N)
        status=0
        "$K3SPROV" doctor --format json > /dev/shm/k3sprov-doctor-out.$$ || status=$?
        end=$(date +%s%N)
        cat /proc/self/mountinfo | diff /dev/shm/k3sprov-doctor-before.$$ - >&2
        ls -A "$temp" | diff /dev/shm/k3sprov-doctor-temp.$$ - >&2
        echo "$status $(( (end - start) / 1000000 ))"
        cat /dev/shm/k3sprov-doctor-out.$$
        rm /dev/shm/k3sprov-doctor-before.$$ /dev/shm/k3sprov-doctor-temp.$$ /dev/shm/k3sprov-doctor-out.$$
        "#,
        &[("TMPDIR", temp.path())],
    );
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0);
    assert!(
        output.status.success(),
        "a mount or temp file was left: {}",
        stderr(&output)
    );
    let text = stdout(&output);
    let (first, json) = text.split_once('\n').unwrap();
    let (status, millis) = first.split_once(' ').unwrap();
    let millis: u64 = millis.parse().unwrap();
    assert!(millis < 1000, "doctor took {millis} ms");
    let report: Value = serde_json::from_str(json).unwrap();
    let failed = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|check| check["status"] == "fail");
    assert_eq!(status == "0", !failed, "{report:#}");
    assert_eq!(
        report["facts"]["overlay"]["outcome"]["outcome"], "mounted",
        "{report:#}"
    );
    assert!(report["best_fit"]["profile"].is_string());
}

#[test]
fn plan_warns_overlay_data_dir_on_overlay() {
    let directory = tempfile::tempdir().unwrap();
    let data = directory.path().join("data");
    let profile = write_profile(
        directory.path(),
        "overlay.toml",
        &format!(
            "extends = \"host\"\n[config]\ndata-dir = \"{}\"\n",
            data.display()
        ),
    );
    let root = tempfile::tempdir().unwrap();
    let script = format!(
        r#"
        cd "{dir}" && mkdir lower upper work data
        mount -t overlay overlay -o lowerdir=lower,upperdir=upper,workdir=work data
        "$K3SPROV" plan "{profile}" --root "{root}" --format json
        "#,
        dir = directory.path().display(),
        root = root.path().display(),
    );
    let output = in_namespace(&script);
    assert!(output.status.success(), "{}", stderr(&output));
    let plan: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let warnings = plan["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{plan:#}");
    let warning = warnings[0].as_str().unwrap();
    assert!(
        warning.contains("snapshotter overlayfs cannot work here"),
        "{warning}"
    );
    assert!(warning.contains("snapshotter = \"native\""), "{warning}");
}

#[test]
fn plan_warns_mounts_without_cap_sys_admin() {
    let root = tempfile::tempdir().unwrap();
    let output = Command::new("setpriv")
        .args(["--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin"])
        .arg(env!("CARGO_BIN_EXE_k3sprov"))
        .args(["plan", "gvisor", "--root"])
        .arg(root.path())
        .env_remove("K3SPROV_LOG")
        .output()
        .expect("setpriv runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let warning = text
        .lines()
        .find(|line| line.starts_with("warning:"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(warning.contains("lacks CAP_SYS_ADMIN"), "{warning}");
}

#[test]
fn tmpfs_over_data_dir_suits_overlayfs() {
    let fixture = Fixture::new("gvisor");
    let intent = Intent {
        data_dir_tmpfs: Some(Path::new("/var/lib/rancher").to_path_buf()),
        ..Intent::default()
    };
    let checks = fixture.checks(&intent);
    let overlay = find(&checks, "overlayfs");
    assert_eq!(overlay.status, Status::Ok, "{overlay:?}");
    assert!(
        overlay.summary.contains("tmpfs on /var/lib/rancher"),
        "{overlay:?}"
    );
    assert_eq!(failing(&checks), ["kmsg"]);
}
