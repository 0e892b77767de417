//! Verdicts on the data dir's filesystem, overlayfs and free space.

use std::fmt::Write as _;

use super::{Check, Intent, Status};
use crate::host::probes::Facts;
use crate::host::probes::filesystem::Filesystem;
use crate::host::probes::overlay::Outcome;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// Filesystems overlayfs cannot use as an upper layer.
const NO_UPPER: &[&str] = &["9p", "overlay", "nfs", "nfs4", "ramfs", "squashfs", "fuse"];
/// Filesystems known to work as an upper layer.
const GOOD_UPPER: &[&str] = &["ext4", "ext3", "xfs", "btrfs", "tmpfs", "f2fs"];

/// The data dir filesystem's fitness as an overlayfs upper layer, judged from its type alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Upper {
    Good,
    Bad,
    Unsure,
}

pub(crate) fn upper_suitability(facts: &Facts) -> Upper {
    upper_suitability_of(&facts.filesystem)
}

pub(crate) fn upper_suitability_of(filesystem: &Filesystem) -> Upper {
    let Some(kind) = filesystem.kind() else {
        return Upper::Unsure;
    };
    if NO_UPPER.contains(&kind) || kind.starts_with("fuse.") || filesystem.d_type == Some(false) {
        Upper::Bad
    } else if GOOD_UPPER.contains(&kind) {
        Upper::Good
    } else {
        Upper::Unsure
    }
}

pub(super) fn filesystem(facts: &Facts, intent: &Intent) -> Check {
    let filesystem = &facts.filesystem;
    let kind = filesystem.kind().unwrap_or("an unknown filesystem");
    let mut summary = format!("data dir {} is on {kind}", filesystem.data_dir.display());
    if filesystem.probed != filesystem.data_dir {
        let _ = write!(
            summary,
            " (not created yet; checked {})",
            filesystem.probed.display()
        );
    }
    if filesystem.d_type == Some(false) {
        summary.push_str(", without d_type (made with ftype=0)");
    }
    if let Some(problem) = &filesystem.unusable {
        return Check::problem(
            "filesystem",
            Status::Fail,
            format!(
                "{summary}, but {} cannot hold it: {problem}",
                filesystem.probed.display()
            ),
            format!("mkdir {}: {problem}", filesystem.data_dir.display()),
            "set data-dir under [config] to a writable directory",
        );
    }
    if kind != "9p" {
        return Check::ok("filesystem", summary);
    }
    let mut missing = Vec::new();
    if !intent.has_cni {
        missing.push(
            "a [cni] table with bin_dir = \"/opt/cni/bin\", for plugin files that are not links",
        );
    }
    if !intent.has_kubelet_arg("local-storage-capacity-isolation=false") {
        missing.push("kubelet-arg = [\"local-storage-capacity-isolation=false\"] under [config]");
    }
    if missing.is_empty() {
        return Check::ok(
            "filesystem",
            format!("{summary}; {} works around 9p", intent.subject()),
        );
    }
    Check::problem(
        "filesystem",
        Status::Warn,
        summary,
        "failed to find plugin \"host-local\" in path; invalid capacity 0 on image filesystem",
        format!(
            "add {} (as the stock gvisor profile does)",
            missing.join(", and ")
        ),
    )
}

pub(super) fn overlayfs(facts: &Facts, intent: &Intent) -> Check {
    if let Some(path) = &intent.data_dir_tmpfs {
        return Check::ok(
            "overlayfs",
            format!(
                "the profile mounts a tmpfs on {}, under which overlayfs works",
                path.display()
            ),
        );
    }
    let upper = upper_suitability(facts);
    let kind = facts.filesystem.kind().unwrap_or("an unknown filesystem");
    let (trial, trial_here) = match &facts.overlay {
        Some(trial) => (Some(&trial.outcome), trial.same_filesystem == Some(true)),
        None => (None, false),
    };
    let (status, finding) = match (upper, trial) {
        (_, Some(Outcome::Failed { error })) => {
            (Status::Fail, format!("a trial mount failed: {error}"))
        }
        (Upper::Bad, _) => (
            Status::Fail,
            format!("overlayfs cannot use {kind} as its upper layer"),
        ),
        (_, Some(Outcome::Mounted)) if trial_here => (
            Status::Ok,
            "a trial mount on the same filesystem worked".to_string(),
        ),
        (Upper::Good, Some(Outcome::Mounted)) => (
            Status::Ok,
            format!("a trial mount worked and {kind} suits it"),
        ),
        (Upper::Good, Some(Outcome::Skipped { reason })) => {
            (Status::Ok, format!("{kind} suits it; trial mount {reason}"))
        }
        (Upper::Good, None) => (Status::Ok, format!("{kind} suits it (no trial mount)")),
        (Upper::Unsure, Some(Outcome::Skipped { reason })) => (
            Status::Warn,
            format!("{kind} may not suit it; trial mount {reason}"),
        ),
        (Upper::Unsure, _) => (
            Status::Warn,
            format!("{kind} may not suit it (zfs needs 2.2 or newer)"),
        ),
    };
    if !intent.uses_overlay() {
        return Check::ok(
            "overlayfs",
            format!(
                "not needed: snapshotter {} ({finding})",
                intent.snapshotter_name()
            ),
        );
    }
    if status == Status::Ok {
        return Check::ok("overlayfs", finding);
    }
    let data_dir = facts.filesystem.data_dir.display();
    Check::problem(
        "overlayfs",
        status,
        format!("snapshotter {}: {finding}", intent.snapshotter_name()),
        format!(
            "\"overlayfs\" snapshotter cannot be enabled for \"{data_dir}/agent/containerd\", try using \"fuse-overlayfs\" or \"native\""
        ),
        "set snapshotter = \"native\" under [config] (the stock gvisor and docker profiles do), or put the data dir on ext4, xfs or btrfs",
    )
}

pub(super) fn space(facts: &Facts) -> Vec<Check> {
    let mut checks = Vec::new();
    if let Some(free) = facts.space.data_dir {
        let at = facts.filesystem.probed.display();
        let summary = format!("{} free at {at}", human(free.available_bytes));
        let low_share = free.available_bytes.saturating_mul(20) < free.total_bytes;
        let check = if free.available_bytes < GIB {
            Check::problem(
                "disk-data",
                Status::Fail,
                summary,
                "no space left on device",
                "free at least 1 GiB there, or set data-dir under [config] to a larger filesystem",
            )
        } else if free.available_bytes < 4 * GIB || low_share {
            Check::problem(
                "disk-data",
                Status::Warn,
                summary,
                "node has condition DiskPressure; eviction manager: attempting to reclaim ephemeral-storage",
                "keep 4 GiB and 5% free for images, or set data-dir under [config] to a larger filesystem",
            )
        } else {
            Check::ok("disk-data", summary)
        };
        checks.push(check);
    }
    if let Some(free) = facts.space.run {
        let summary = format!("{} free at /run", human(free.available_bytes));
        checks.push(if free.available_bytes < 64 * MIB {
            Check::problem(
                "disk-run",
                Status::Fail,
                summary,
                "no space left on device",
                "give /run at least 64 MiB (containerd keeps its state under /run/k3s)",
            )
        } else {
            Check::ok("disk-run", summary)
        });
    }
    checks
}

fn human(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let gib = bytes as f64 / GIB as f64;
    if gib >= 1.0 {
        format!("{gib:.1} GiB")
    } else {
        format!("{} MiB", bytes / MIB)
    }
}
