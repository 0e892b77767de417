//! CNI plugins: real executable files in the CNI bin directory, unpacked from the release
//! tarball. Real files rather than links, because links are what fails in sandboxes on 9p.

use crate::fetch::release;
use crate::plan::{Action, Context, Step};
use crate::profile::spec::CniSpec;
use crate::steps::{Found, StepError, inspect};

/// Plans the CNI plugin `plugin`.
pub fn plan(cni: &CniSpec, plugin: &str, context: &Context) -> Result<Step, StepError> {
    let shown_path = cni.bin_dir.join(plugin);
    let shown = shown_path.display();
    let target = context.target(&shown_path);
    let asset = release::cni_asset(context.arch, &cni.version);
    let url = release::cni_url(&context.mirror, &cni.version, &asset);
    let version = &cni.version;

    let (action, summary) = match inspect(&target)? {
        Found::Missing => (
            Action::Create,
            format!("install {shown} from CNI plugins {version} ({url})"),
        ),
        // TODO: remember the digest of each plugin apply installed, so an unchanged plugin is
        // recognised without downloading the tarball.
        Found::File { .. } => (
            Action::Update,
            format!(
                "compare {shown} with the copy in CNI plugins {version} ({url}), and replace it if it differs"
            ),
        ),
        Found::Symlink { .. } => (
            Action::Update,
            format!(
                "replace the symlink {shown} with the real file from CNI plugins {version} ({url})"
            ),
        ),
        found => {
            return Err(StepError::Blocked {
                step: format!("cni:{plugin}"),
                path: target,
                found: found.describe(),
                expected: "a regular file",
            });
        }
    };
    Ok(Step {
        id: format!("cni:{plugin}"),
        action,
        summary,
        diff: None,
    })
}
