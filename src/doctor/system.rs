//! Verdicts on devices, cgroups, privileges and the environment.

use super::{Check, Intent, Status};
use crate::host::probes::Facts;
use crate::host::probes::cgroups::Version;
use crate::host::probes::environment::Init;
use crate::host::probes::kmsg::Kmsg;

const KMSG_MOUNT: &str =
    "add a [[mount]] with path = \"/dev/kmsg\", type = \"bind\", source = \"/dev/null\"";

pub(super) fn kmsg(facts: &Facts, intent: &Intent) -> Check {
    let (summary, error) = match &facts.kmsg {
        Kmsg::Device => return Check::ok("kmsg", "/dev/kmsg is the kernel log (1:11)"),
        Kmsg::Missing => (
            "/dev/kmsg is missing".to_string(),
            "open /dev/kmsg: no such file or directory".to_string(),
        ),
        Kmsg::Other { description } => {
            let summary = format!("/dev/kmsg is a {description}, not the kernel log");
            match intent.kmsg_mount {
                Some(false) => {
                    return Check::ok(
                        "kmsg",
                        format!("{summary}; {} mounts over it", intent.subject()),
                    );
                }
                _ => {
                    return Check::problem(
                        "kmsg",
                        Status::Warn,
                        summary,
                        "the kubelet's OOM watcher sees no kernel messages",
                        "none needed to start; the kubelet will not notice killed containers by itself",
                    );
                }
            }
        }
        Kmsg::Unopenable { error } => (
            format!("/dev/kmsg cannot be opened: {error}"),
            format!("open /dev/kmsg: {error}"),
        ),
    };
    match (intent.kmsg_mount, &facts.kmsg) {
        (Some(_), Kmsg::Missing) | (Some(false), _) => Check::ok(
            "kmsg",
            format!("{summary}; {} mounts one there", intent.subject()),
        ),
        (Some(true), _) => Check::problem(
            "kmsg",
            Status::Fail,
            summary,
            error,
            "set only_if_missing = false on the /dev/kmsg mount, so it covers the device that cannot be opened",
        ),
        (None, _) => Check::problem(
            "kmsg",
            Status::Fail,
            summary,
            error,
            format!(
                "{KMSG_MOUNT} (as the stock gvisor and docker profiles do), or start the container with --device /dev/kmsg"
            ),
        ),
    }
}

pub(super) fn cgroups(facts: &Facts) -> Check {
    let cgroups = &facts.cgroups;
    let version = match cgroups.version {
        Version::V1 => "v1",
        Version::V2 => "v2",
        Version::Hybrid => "hybrid (v1 controllers)",
        Version::None => {
            return Check::problem(
                "cgroups",
                Status::Fail,
                "no cgroup filesystem is mounted at /sys/fs/cgroup",
                "failed to find cpuset cgroup (v2)",
                "mount the cgroup filesystem (mount -t cgroup2 none /sys/fs/cgroup), or start the container with --privileged",
            );
        }
    };
    let missing = cgroups.missing();
    if missing.is_empty() {
        return Check::ok(
            "cgroups",
            format!("cgroup {version} with cpu, cpuset, memory and pids"),
        );
    }
    let summary = format!(
        "cgroup {version} without the {} controller{}",
        missing.join(", "),
        if missing.len() == 1 { "" } else { "s" }
    );
    let first = missing[0];
    let (error, fix) = if cgroups.version == Version::V2 {
        (
            format!("failed to find {first} cgroup (v2)"),
            format!(
                "enable it for this cgroup: the parent must list it in cgroup.subtree_control (for a container: --cgroupns=private on a host with the {first} controller), and boot with cgroup_enable={first} if the kernel disables it"
            ),
        )
    } else {
        (
            format!(
                "Failed to find {first} cgroup, you may need to add \"cgroup_memory=1 cgroup_enable=memory\" to your linux cmdline (/boot/cmdline.txt on a Raspberry Pi)"
            ),
            format!(
                "add cgroup_enable={first} (and cgroup_memory=1 for memory) to the kernel command line and reboot"
            ),
        )
    };
    Check::problem("cgroups", Status::Fail, summary, error, fix)
}

pub(super) fn cgroup_tree(facts: &Facts) -> Check {
    let cgroups = &facts.cgroups;
    let at = cgroups.checked.as_deref().map_or_else(
        || "/sys/fs/cgroup".to_string(),
        |path| path.display().to_string(),
    );
    match cgroups.writable {
        Some(false) => Check::problem(
            "cgroup-tree",
            Status::Fail,
            format!("{at} is not writable"),
            format!("mkdir {at}/kubepods: read-only file system"),
            "start the container with --privileged (or --cgroupns=private with a writable cgroup mount)",
        ),
        Some(true) => Check::ok("cgroup-tree", format!("{at} is writable")),
        None => Check::ok("cgroup-tree", "no cgroup tree to write (see cgroups)"),
    }
}

pub(super) fn privileges(facts: &Facts, intent: &Intent) -> Check {
    let privileges = &facts.privileges;
    let user = match privileges.uid {
        Some(0) => "root".to_string(),
        Some(uid) => format!("uid {uid}"),
        None => "an unknown user".to_string(),
    };
    let namespace = if privileges.user_namespace {
        ", in a user namespace"
    } else {
        ""
    };
    let summary = format!("running as {user}{namespace}");
    if !privileges.is_root() {
        return Check::problem(
            "privileges",
            Status::Fail,
            summary,
            "must run as root unless --disable-agent is specified",
            "run k3s (and k3sprov apply) as root",
        );
    }
    let mut lacking = Vec::new();
    if !privileges.cap_sys_admin {
        lacking.push("CAP_SYS_ADMIN");
    }
    if !privileges.cap_net_admin {
        lacking.push("CAP_NET_ADMIN");
    }
    if lacking.is_empty() {
        return Check::ok(
            "privileges",
            format!("{summary} with CAP_SYS_ADMIN and CAP_NET_ADMIN"),
        );
    }
    let mount_note = if intent.has_mounts && !privileges.cap_sys_admin {
        "; the profile's mounts cannot be made either"
    } else {
        ""
    };
    Check::problem(
        "privileges",
        Status::Fail,
        format!("{summary} without {}{mount_note}", lacking.join(" and ")),
        "operation not permitted",
        "start the container with --privileged (or --cap-add SYS_ADMIN --cap-add NET_ADMIN)",
    )
}

pub(super) fn environment(facts: &Facts) -> Check {
    let environment = &facts.environment;
    let mut parts = Vec::new();
    if environment.gvisor {
        parts.push("gVisor sandbox".to_string());
    }
    if environment.wsl {
        parts.push("WSL".to_string());
    }
    if let Some(engine) = &environment.container {
        parts.push(format!("{engine} container"));
    }
    if parts.is_empty() {
        parts.push("no container or sandbox markers".to_string());
    }
    let init = match environment.init {
        Init::Systemd => "systemd",
        Init::OpenRc => "OpenRC",
        Init::None => "no init system (k3sprov needs none; start k3s with `k3s server` yourself)",
    };
    Check::ok("environment", format!("{}; init: {init}", parts.join(", ")))
}
