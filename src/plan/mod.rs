//! The plan: the ordered steps that bring the machine to what a profile declares.
//!
//! A plan is a value. `plan` prints it and `apply` runs it, so both always agree. Building one
//! only reads the machine: it never writes and never touches the network.

pub mod text;

use std::path::{Path, PathBuf};

use serde::Serialize;
use url::Url;

use crate::host::arch::{Arch, UnsupportedArch};
use crate::host::mountinfo::{self, MountEntry};
use crate::profile::spec::Spec;
use crate::state::State;
use crate::steps::{self, StepError, Work};

/// The change a step would make.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    None,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::None => "none",
        }
    }
}

/// One planned step.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// A stable identifier such as `binary:k3s` or `mount:/dev/kmsg`.
    pub id: String,
    pub action: Action,
    /// One line saying what the step would change, or why it changes nothing.
    pub summary: String,
    /// For file steps that change something: a unified diff, secrets redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// The work `apply` does for this step.
    #[serde(skip)]
    pub work: Work,
}

/// Step counts by action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub create: usize,
    pub update: usize,
    pub none: usize,
}

/// The plan for one profile on one machine.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// The profile as the user named it.
    pub profile: String,
    /// The profile's `description`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The directory every absolute target path is placed under.
    pub root: PathBuf,
    pub arch: Arch,
    /// The base URL releases would be downloaded from.
    pub mirror: String,
    pub steps: Vec<Step>,
    /// Settings of the profile this machine contradicts, each with its fix (see `doctor`).
    pub warnings: Vec<String>,
    pub totals: Totals,
}

impl Plan {
    /// True when applying the plan would change something.
    pub fn has_changes(&self) -> bool {
        self.steps.iter().any(|step| step.action != Action::None)
    }
}

/// Settings that come from the command line rather than the profile.
#[derive(Clone, Debug)]
pub struct Options {
    pub root: PathBuf,
    /// Replaces the profile's `[download] mirror`.
    pub mirror: Option<Url>,
    /// Hash every installed file instead of trusting the install record's metadata.
    pub verify: bool,
}

/// Facts about the machine and the run that the steps are planned against.
#[derive(Debug)]
pub struct Context {
    /// `--root`, resolved to its real path so it compares equal to mount points.
    pub root: PathBuf,
    pub arch: Arch,
    pub mirror: Url,
    pub mounts: Vec<MountEntry>,
    /// The record of what earlier applies installed under the root.
    pub state: State,
    /// Hash every installed file instead of trusting the install record.
    pub verify: bool,
}

impl Context {
    /// Returns where the absolute profile path `path` lands under the root.
    pub fn target(&self, path: &Path) -> PathBuf {
        crate::host::paths::under_root(&self.root, path)
    }

    /// Returns the SHA-256 of the installed file `path` (inside the root), trusting the install
    /// record when `source` installed it and its metadata is unchanged, and hashing it otherwise.
    pub fn installed_digest(&self, path: &Path, source: &str) -> Result<String, StepError> {
        let target = self.target(path);
        let inspect_error = |source| StepError::Inspect {
            path: target.clone(),
            source,
        };
        if !self.verify {
            let stamp = crate::state::Stamp::read(&target).map_err(inspect_error)?;
            if let Some(digest) = self.state.trusted_digest(path, source, &stamp) {
                return Ok(digest.to_string());
            }
        }
        crate::digest::sha256_file(&target).map_err(inspect_error)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("root directory `{path}` cannot be used")]
    Root {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Arch(#[from] UnsupportedArch),
    #[error("cannot read the mount table")]
    Mounts(#[source] std::io::Error),
    #[error(transparent)]
    Steps(#[from] steps::StepErrors),
}

/// Resolves `--root` to the real path of a directory.
pub fn resolve_root(root: &Path) -> Result<PathBuf, PlanError> {
    let resolved = fs_err::canonicalize(root).map_err(|source| PlanError::Root {
        path: root.to_path_buf(),
        source,
    })?;
    if !resolved.is_dir() {
        return Err(PlanError::Root {
            path: root.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        });
    }
    Ok(resolved)
}

/// Inspects the machine and builds the plan for `spec`.
pub fn build(spec: &Spec, options: &Options) -> Result<Plan, PlanError> {
    let root = resolve_root(&options.root)?;
    let context = Context {
        arch: Arch::resolve(spec.download.arch)?,
        mirror: options
            .mirror
            .clone()
            .unwrap_or_else(|| spec.download.mirror.clone()),
        mounts: mountinfo::read().map_err(PlanError::Mounts)?,
        state: State::load(&root),
        verify: options.verify,
        root,
    };
    let steps = steps::plan_all(spec, &context)?;
    let mut totals = Totals::default();
    for step in &steps {
        match step.action {
            Action::Create => totals.create += 1,
            Action::Update => totals.update += 1,
            Action::None => totals.none += 1,
        }
    }
    Ok(Plan {
        profile: spec.name.clone(),
        description: spec.description.clone(),
        root: context.root,
        arch: context.arch,
        mirror: crate::fetch::redact::DisplayUrl::new(&context.mirror)
            .to_string()
            .trim_end_matches('/')
            .to_string(),
        steps,
        warnings: crate::doctor::plan_warnings::for_profile(spec),
        totals,
    })
}
