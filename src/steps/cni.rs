//! CNI plugins: real executable files in the CNI bin directory, unpacked from the release
//! tarball. Real files rather than links, because links are what fails in sandboxes on 9p.

use std::path::PathBuf;

use url::Url;

use crate::fetch::redact::DisplayUrl;
use crate::fetch::release;
use crate::plan::{Action, Context, Step};
use crate::profile::spec::CniSpec;
use crate::steps::binary::EXECUTABLE_MODE;
use crate::steps::{Found, StepError, Verdict, Work, inspect};

/// The CNI release tarball that plugins come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tarball {
    pub url: Url,
    pub checksum_url: Url,
    pub asset: String,
    pub pinned: Option<String>,
    /// The plugin directory under the root.
    pub directory: PathBuf,
}

/// The data `apply` needs to install one plugin.
#[derive(Clone, Debug)]
pub struct PluginWork {
    pub name: String,
    /// The path inside the root, such as `/opt/cni/bin/bridge`.
    pub path: PathBuf,
    pub target: PathBuf,
    pub tarball: Tarball,
    /// Identifies the release in the install record, such as `cni v1.6.2 amd64`.
    pub source: String,
    /// The digest of the file now installed, when planning computed it.
    pub installed: Option<String>,
}

/// Plans the CNI plugin `plugin`.
pub fn plan(cni: &CniSpec, plugin: &str, context: &Context) -> Result<Step, StepError> {
    let asset = release::cni_asset(context.arch, &cni.version);
    let path = cni.bin_dir.join(plugin);
    let mut work = PluginWork {
        name: plugin.to_string(),
        target: context.target(&path),
        tarball: Tarball {
            url: release::cni_url(&context.mirror, &cni.version, &asset),
            checksum_url: release::cni_url(
                &context.mirror,
                &cni.version,
                &format!("{asset}.sha256"),
            ),
            pinned: cni.sha256.get(context.arch.as_str()).cloned(),
            directory: crate::host::paths::dir_under_root(&context.root, &cni.bin_dir),
            asset,
        },
        source: format!("cni {} {}", cni.version, context.arch.as_str()),
        installed: None,
        path,
    };
    let shown = work.path.display().to_string();
    let version = &cni.version;
    let url = DisplayUrl::new(&work.tarball.url);

    let mut chmod_only = false;
    let (action, summary) = match inspect(&work.target)? {
        Found::Missing => (
            Action::Create,
            format!("install {shown} from CNI plugins {version} ({url})"),
        ),
        Found::File { mode, owned, .. } => {
            match context.state.recorded_digest(&work.path, &work.source) {
                Some(expected) => {
                    let expected = expected.to_string();
                    let actual = context.installed_digest(&work.path, &work.source)?;
                    let verdict = Verdict::of(&expected, &actual, mode, owned);
                    chmod_only = matches!(verdict, Verdict::Attributes { .. });
                    let verdict = verdict.describe(
                    &shown,
                    format!("replace {shown}, which differs from the copy in CNI plugins {version} ({url})"),
                    format!("{shown} is the copy from CNI plugins {version}"),
                );
                    work.installed = Some(actual);
                    verdict
                }
                None => (
                    Action::Update,
                    format!(
                        "compare {shown} with the copy in CNI plugins {version} ({url}), and replace it if it differs"
                    ),
                ),
            }
        }
        Found::Symlink { .. } => (
            Action::Update,
            format!(
                "replace the symlink {shown} with the real file from CNI plugins {version} ({url})"
            ),
        ),
        found => {
            return Err(StepError::Blocked {
                step: format!("cni:{plugin}"),
                path: work.target,
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
        work: match action {
            Action::None => Work::Nothing,
            _ if chmod_only => Work::Chmod {
                target: work.target,
                mode: EXECUTABLE_MODE,
            },
            _ => Work::Plugin(work),
        },
    })
}
