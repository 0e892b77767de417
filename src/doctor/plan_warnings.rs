//! The contradictions between a profile and this machine that `plan` reports, found with the
//! probes that only read (no trial mount).

use super::{Intent, storage};
use crate::host::probes;
use crate::profile::spec::Spec;

/// Returns one warning, with its fix, for each setting of `spec` this machine cannot honour.
pub fn for_profile(spec: &Spec) -> Vec<String> {
    let intent = Intent::from_spec(spec);
    let roots = super::live_roots(&intent);
    let mounts = roots.mounts();
    let privileges = probes::privileges::probe(&roots);
    let filesystem = probes::filesystem::probe(&roots, &mounts);
    let mut warnings = Vec::new();
    if intent.uses_overlay()
        && intent.data_dir_tmpfs.is_none()
        && storage::upper_suitability_of(&filesystem) == storage::Upper::Bad
    {
        warnings.push(format!(
            "snapshotter {} cannot work here: the data dir {} is on {}, which overlayfs cannot use; set snapshotter = \"native\" under [config]",
            intent.snapshotter_name(),
            filesystem.data_dir.display(),
            filesystem.kind().unwrap_or("an unknown filesystem"),
        ));
    }
    if intent.has_mounts && !privileges.cap_sys_admin {
        warnings.push(
            "the profile declares mounts, but this process lacks CAP_SYS_ADMIN: apply as root in a container started with --privileged, or remove the [[mount]] tables".to_string(),
        );
    }
    warnings
}
