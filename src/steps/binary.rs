//! The k3s binary: `<bin_dir>/k3s`, mode 0755, with the digest the release publishes.

use crate::fetch::release;
use crate::plan::{Action, Context, Step};
use crate::profile::spec::Spec;
use crate::steps::{Found, StepError, inspect};

/// The mode every installed executable gets.
pub const EXECUTABLE_MODE: u32 = 0o755;

/// Plans the k3s binary.
pub fn plan(spec: &Spec, context: &Context) -> Result<Step, StepError> {
    let k3s = &spec.k3s;
    let shown_path = k3s.bin_dir.join("k3s");
    let target = context.target(&shown_path);
    let asset = release::k3s_asset(context.arch);
    let url = release::k3s_url(&context.mirror, &k3s.version, asset);
    let pinned = k3s.sha256.get(context.arch.as_str());
    let source = match pinned {
        Some(digest) => format!("{url} (pinned sha256 {})", &digest[..12]),
        None => format!(
            "{url}, verified against {}",
            release::k3s_checksum_asset(context.arch)
        ),
    };
    let shown = shown_path.display();
    let version = &k3s.version;

    let (action, summary) = match inspect(&target)? {
        Found::Missing => (
            Action::Create,
            format!("download k3s {version} from {source} and install it as {shown}"),
        ),
        Found::File { mode, .. } => match pinned {
            Some(digest) => {
                let actual =
                    crate::digest::sha256_file(&target).map_err(|source| StepError::Inspect {
                        path: target.clone(),
                        source,
                    })?;
                if actual != *digest {
                    (
                        Action::Update,
                        format!(
                            "replace {shown}, whose sha256 differs from the pinned one, with k3s {version} from {source}"
                        ),
                    )
                } else if mode != EXECUTABLE_MODE {
                    (
                        Action::Update,
                        format!("set the mode of {shown} from {mode:04o} to 0755"),
                    )
                } else {
                    (
                        Action::None,
                        format!("{shown} is k3s {version} (sha256 matches the pin)"),
                    )
                }
            }
            // TODO: remember the digest of what apply installed, so an installed binary without
            // a pin can be confirmed unchanged without downloading the checksum file.
            None => (
                Action::Update,
                format!(
                    "compare {shown} with k3s {version} from {source}, and replace it if it differs"
                ),
            ),
        },
        found @ (Found::Symlink { .. } | Found::Directory { .. } | Found::Special(_)) => {
            if matches!(found, Found::Symlink { .. }) {
                (
                    Action::Update,
                    format!("replace the symlink {shown} with k3s {version} from {source}"),
                )
            } else {
                return Err(StepError::Blocked {
                    step: "binary:k3s".into(),
                    path: target,
                    found: found.describe(),
                    expected: "a regular file",
                });
            }
        }
    };
    Ok(Step {
        id: "binary:k3s".into(),
        action,
        summary,
        diff: None,
    })
}
