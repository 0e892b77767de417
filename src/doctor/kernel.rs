//! Verdicts on `/proc/sys`: the kubelet's kernel defaults, forwarding, conntrack and inotify.

use super::{Check, Intent, Status};
use crate::host::probes::Facts;
use crate::host::probes::sysctl::Setting;

/// The kubelet flag that makes it ignore kernel settings it cannot write in a user namespace.
const USERNS_GATE: &str = "feature-gates=KubeletInUserNamespace=true";
/// kube-proxy's setting that leaves `nf_conntrack_max` alone.
const CONNTRACK_OFF: &str = "conntrack-max-per-core=0";
/// kube-proxy's floor for `nf_conntrack_max` (`conntrack-min`), and its per-core default.
const CONNTRACK_MIN: u64 = 131_072;
const CONNTRACK_PER_CORE: u64 = 32_768;

pub(super) fn checks(facts: &Facts, intent: &Intent) -> Vec<Check> {
    vec![
        kernel_defaults(facts, intent),
        ip_forward(&facts.sysctl.ip_forward),
        br_netfilter(&facts.sysctl.bridge_nf_call_iptables),
        conntrack(facts, intent),
        inotify(facts),
    ]
}

/// Describes why writing a setting would fail, in the words of the error the kubelet gets.
fn write_error(setting: &Setting, read_only: bool) -> &'static str {
    if setting.value.is_none() {
        "no such file or directory"
    } else if read_only {
        "read-only file system"
    } else {
        "permission denied"
    }
}

fn kernel_defaults(facts: &Facts, intent: &Intent) -> Check {
    let sysctl = &facts.sysctl;
    let read_only = if sysctl.read_only {
        "/proc/sys is read-only"
    } else {
        "/proc/sys is writable"
    };
    let mismatched = sysctl.mismatched_defaults();
    if mismatched.is_empty() {
        return Check::ok(
            "kernel-defaults",
            format!("{read_only}; the six kubelet settings already match"),
        );
    }
    let root = facts.privileges.is_root();
    let blocked: Vec<_> = mismatched
        .iter()
        .filter(|(setting, _)| !(setting.writable && root))
        .collect();
    if blocked.is_empty() {
        let names: Vec<&str> = mismatched.iter().map(|(setting, _)| setting.name).collect();
        return Check::ok(
            "kernel-defaults",
            format!("{read_only}; the kubelet will set {}", names.join(", ")),
        );
    }
    let listed: Vec<String> = blocked
        .iter()
        .map(|(setting, expected)| {
            format!(
                "{} is {} (needs {expected})",
                setting.name,
                setting.value.as_deref().unwrap_or("missing")
            )
        })
        .collect();
    let summary = format!("{read_only}; {}", listed.join(", "));
    let errors: Vec<String> = blocked
        .iter()
        .map(|(setting, _)| {
            format!(
                "open /proc/sys/{}: {}",
                setting.name,
                write_error(setting, sysctl.read_only)
            )
        })
        .collect();
    let k3s_error = format!(
        "Failed to start ContainerManager\" err=\"[{}]",
        errors.join(", ")
    );
    let assignments: Vec<String> = blocked
        .iter()
        .map(|(setting, expected)| format!("{}={expected}", setting.name.replace('/', ".")))
        .collect();
    let host_fix = format!(
        "set them on the host, where containers share them: sysctl -w {}",
        assignments.join(" ")
    );
    if facts.privileges.user_namespace && blocked.iter().all(|(setting, _)| setting.value.is_some())
    {
        if intent.has_kubelet_arg(USERNS_GATE) {
            return Check::problem(
                "kernel-defaults",
                Status::Warn,
                summary,
                "Updating kernel flag failed (running in UserNS, ignoring)",
                format!("none needed; {} sets {USERNS_GATE}", intent.subject()),
            );
        }
        let fix = format!(
            "add kubelet-arg = [\"{USERNS_GATE}\"] under [config], which makes the kubelet ignore them in a user namespace, or {host_fix}"
        );
        return Check::problem("kernel-defaults", Status::Fail, summary, k3s_error, fix);
    }
    Check::problem(
        "kernel-defaults",
        Status::Fail,
        summary,
        k3s_error,
        host_fix,
    )
}

fn ip_forward(setting: &Setting) -> Check {
    match setting.value.as_deref() {
        Some("1") => Check::ok("ip-forward", "net/ipv4/ip_forward is 1"),
        Some(_) if setting.writable => Check::ok(
            "ip-forward",
            "net/ipv4/ip_forward is 0; k3s sets it to 1 at start",
        ),
        value => Check::problem(
            "ip-forward",
            Status::Warn,
            format!(
                "net/ipv4/ip_forward is {} and cannot be set",
                value.unwrap_or("missing")
            ),
            "Failed to set sysctl: open /proc/sys/net/ipv4/ip_forward: read-only file system",
            "start the container with --sysctl net.ipv4.ip_forward=1, or run sysctl -w net.ipv4.ip_forward=1 on the host; pods cannot reach beyond the node without it",
        ),
    }
}

fn br_netfilter(setting: &Setting) -> Check {
    match setting.value.as_deref() {
        Some("1") => Check::ok("br-netfilter", "net/bridge/bridge-nf-call-iptables is 1"),
        Some(_) if setting.writable => Check::ok(
            "br-netfilter",
            "bridge-nf-call-iptables is 0; k3s sets it to 1 at start",
        ),
        Some(value) => Check::problem(
            "br-netfilter",
            Status::Warn,
            format!("bridge-nf-call-iptables is {value} and cannot be set"),
            "Failed to set sysctl: open /proc/sys/net/bridge/bridge-nf-call-iptables: read-only file system",
            "run sysctl -w net.bridge.bridge-nf-call-iptables=1 on the host; without it, traffic between pods on the node skips Service rules",
        ),
        None => Check::problem(
            "br-netfilter",
            Status::Warn,
            "the br_netfilter module is not loaded (no net/bridge/bridge-nf-call-iptables)",
            "Failed to load kernel module br_netfilter with modprobe",
            "run modprobe br_netfilter on the host (k3s loads it itself where it may load modules)",
        ),
    }
}

fn conntrack(facts: &Facts, intent: &Intent) -> Check {
    let setting = &facts.sysctl.nf_conntrack_max;
    let Some(value) = setting.number() else {
        return Check::ok(
            "conntrack",
            "nf_conntrack_max is absent until the nf_conntrack module loads",
        );
    };
    if setting.writable {
        return Check::ok(
            "conntrack",
            format!("nf_conntrack_max is {value} and writable"),
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let wanted = (CONNTRACK_PER_CORE * u64::try_from(cores).unwrap_or(1)).max(CONNTRACK_MIN);
    let summary = format!("nf_conntrack_max is {value} and read-only");
    if value >= wanted {
        return Check::ok(
            "conntrack",
            format!("{summary}, already above kube-proxy's {wanted}"),
        );
    }
    if intent.has_kube_proxy_arg(CONNTRACK_OFF) {
        return Check::ok(
            "conntrack",
            format!("{summary}; {} sets {CONNTRACK_OFF}", intent.subject()),
        );
    }
    let reason = write_error(setting, facts.sysctl.read_only);
    Check::problem(
        "conntrack",
        Status::Fail,
        summary,
        format!("open /proc/sys/net/netfilter/nf_conntrack_max: {reason}"),
        format!(
            "add kube-proxy-arg = [\"{CONNTRACK_OFF}\"] under [config], so kube-proxy leaves it alone"
        ),
    )
}

fn inotify(facts: &Facts) -> Check {
    let instances = facts.sysctl.inotify_instances.number();
    let watches = facts.sysctl.inotify_watches.number();
    let summary = format!(
        "inotify max_user_instances {}, max_user_watches {}",
        instances.map_or_else(|| "missing".to_string(), |value| value.to_string()),
        watches.map_or_else(|| "missing".to_string(), |value| value.to_string()),
    );
    if instances.is_some_and(|value| value < 256) || watches.is_some_and(|value| value < 65_536) {
        return Check::problem(
            "inotify",
            Status::Warn,
            summary,
            "failed to create fsnotify watcher: too many open files",
            "raise them on the host: sysctl -w fs.inotify.max_user_instances=8192 fs.inotify.max_user_watches=524288",
        );
    }
    Check::ok("inotify", summary)
}
