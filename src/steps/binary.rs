//! The k3s binary: `<bin_dir>/k3s`, mode 0755, with the digest the release publishes.

use std::path::PathBuf;

use url::Url;

use crate::fetch::redact::DisplayUrl;
use crate::fetch::release;
use crate::plan::{Action, Context, Step};
use crate::profile::spec::Spec;
use crate::steps::{Found, StepError, Verdict, Work, inspect};

/// The mode every installed executable gets.
pub const EXECUTABLE_MODE: u32 = 0o755;

/// The data `apply` needs to install the k3s binary.
#[derive(Clone, Debug)]
pub struct BinaryWork {
    /// The path inside the root, such as `/usr/local/bin/k3s`.
    pub path: PathBuf,
    /// The same path under the root, where the file is written.
    pub target: PathBuf,
    pub url: Url,
    pub checksum_url: Url,
    /// The asset name whose line in the checksum file applies.
    pub asset: String,
    pub pinned: Option<String>,
    /// Identifies the release in the install record, such as `k3s v1.33.5+k3s1 amd64`.
    pub source: String,
    /// The digest of the file now installed, when planning computed it.
    pub installed: Option<String>,
}

/// Plans the k3s binary.
pub fn plan(spec: &Spec, context: &Context) -> Result<Step, StepError> {
    let k3s = &spec.k3s;
    let path = k3s.bin_dir.join("k3s");
    let asset = release::k3s_asset(context.arch);
    let mut work = BinaryWork {
        target: context.target(&path),
        url: release::k3s_url(&context.mirror, &k3s.version, asset),
        checksum_url: release::k3s_url(
            &context.mirror,
            &k3s.version,
            &release::k3s_checksum_asset(context.arch),
        ),
        asset: asset.to_string(),
        pinned: k3s.sha256.get(context.arch.as_str()).cloned(),
        source: format!("k3s {} {}", k3s.version, context.arch.as_str()),
        installed: None,
        path,
    };
    let shown = work.path.display().to_string();
    let version = &k3s.version;
    let origin = match &work.pinned {
        Some(digest) => format!(
            "{} (pinned sha256 {})",
            DisplayUrl::new(&work.url),
            &digest[..12]
        ),
        None => format!(
            "{}, verified against {}",
            DisplayUrl::new(&work.url),
            release::k3s_checksum_asset(context.arch)
        ),
    };

    let mut chmod_only = false;
    let (action, summary) = match inspect(&work.target)? {
        Found::Missing => (
            Action::Create,
            format!("download k3s {version} from {origin} and install it as {shown}"),
        ),
        Found::File { mode, owned, .. } => {
            let expected = work.pinned.clone().or_else(|| {
                context
                    .state
                    .recorded_digest(&work.path, &work.source)
                    .map(String::from)
            });
            match expected {
                Some(expected) => {
                    let actual = context.installed_digest(&work.path, &work.source)?;
                    let verdict = Verdict::of(&expected, &actual, mode, owned);
                    chmod_only = matches!(verdict, Verdict::Attributes { .. });
                    let judged = verdict.describe(
                        &shown,
                        format!("replace {shown}, whose sha256 differs from k3s {version}'s, with k3s {version} from {origin}"),
                        format!("{shown} is k3s {version}"),
                    );
                    work.installed = Some(actual);
                    judged
                }
                None => (
                    Action::Update,
                    format!(
                        "compare {shown} with k3s {version} from {origin}, and replace it if it differs"
                    ),
                ),
            }
        }
        Found::Symlink { .. } => (
            Action::Update,
            format!("replace the symlink {shown} with k3s {version} from {origin}"),
        ),
        found => {
            return Err(StepError::Blocked {
                step: "binary:k3s".into(),
                path: work.target,
                found: found.describe(),
                expected: "a regular file",
            });
        }
    };
    Ok(Step {
        id: "binary:k3s".into(),
        action,
        summary,
        diff: None,
        work: match action {
            Action::None => Work::Nothing,
            _ if chmod_only => Work::Chmod {
                target: work.target,
                mode: EXECUTABLE_MODE,
            },
            _ => Work::Binary(work),
        },
    })
}
