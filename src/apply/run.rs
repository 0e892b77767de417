//! Running the steps of a plan, in order, stopping at the first failure.

use std::path::Path;

use super::artifacts::{Prepared, StagedFile};
use super::{Outcome, Report, StepReport};
use crate::fsx::{self, FsError};
use crate::plan::{Action, Plan, Step};
use crate::state::{FileRecord, Stamp, State};
use crate::steps::Work;
use crate::steps::binary::EXECUTABLE_MODE;
use crate::steps::mount_apply::{self, MountError};

/// The failure that stopped an apply run after it started changing things.
#[derive(Debug, thiserror::Error)]
pub enum StepFailure {
    #[error("step {id} failed")]
    Step {
        id: String,
        #[source]
        source: RunError,
    },
    #[error("cannot write the install record")]
    Record(#[source] FsError),
}

/// A step failed while running.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Mount(#[from] MountError),
    #[error("cannot read `{path}`")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no verified download was prepared for this step")]
    NotPrepared,
}

/// Runs every step of `plan` in order, recording installed files in `state`.
pub(super) fn run_steps(plan: &Plan, prepared: &mut Prepared, state: &mut State) -> Report {
    let mut steps = Vec::with_capacity(plan.steps.len());
    let mut failure = None;
    for step in &plan.steps {
        if failure.is_some() {
            steps.push(report(step, Outcome::Skipped, None));
            continue;
        }
        let _span = tracing::info_span!("step", id = %step.id).entered();
        match run_step(step, prepared, state, plan) {
            Ok(outcome) => steps.push(report(step, outcome, None)),
            Err(error) => {
                tracing::debug!(%error, "step failed");
                steps.push(report(
                    step,
                    Outcome::Failed,
                    Some(crate::fetch::transfer::with_causes(&error)),
                ));
                failure = Some(super::StepFailure::Step {
                    id: step.id.clone(),
                    source: error,
                });
            }
        }
    }
    Report {
        profile: plan.profile.clone(),
        root: plan.root.clone(),
        steps,
        failure,
    }
}

fn report(step: &Step, outcome: Outcome, error: Option<String>) -> StepReport {
    StepReport {
        id: step.id.clone(),
        outcome,
        summary: step.summary.clone(),
        error,
    }
}

fn run_step(
    step: &Step,
    prepared: &mut Prepared,
    state: &mut State,
    plan: &Plan,
) -> Result<Outcome, RunError> {
    match &step.work {
        Work::Nothing => Ok(Outcome::None),
        Work::Binary(work) => {
            let staged = prepared.k3s.take().ok_or(RunError::NotPrepared)?;
            install_file(
                &Installed::of(
                    &work.path,
                    &work.target,
                    &work.source,
                    work.installed.as_deref(),
                ),
                staged,
                state,
            )
        }
        Work::Plugin(work) => {
            let staged = prepared
                .plugins
                .remove(&work.name)
                .ok_or(RunError::NotPrepared)?;
            install_file(
                &Installed::of(
                    &work.path,
                    &work.target,
                    &work.source,
                    work.installed.as_deref(),
                ),
                staged,
                state,
            )
        }
        Work::Symlink { link } => {
            if let Some(parent) = link.parent() {
                fsx::create_dir_all(parent)?;
            }
            fsx::symlink_atomic(link, Path::new("k3s"))?;
            Ok(Outcome::Create)
        }
        Work::WriteFile {
            target,
            content,
            mode,
        } => {
            if let Some(parent) = target.parent() {
                fsx::create_dir_all(parent)?;
            }
            fsx::write_atomic(target, content.as_bytes(), *mode)?;
            Ok(outcome_of(step.action))
        }
        Work::Chmod { target, mode } => {
            fsx::set_owner_and_mode(target, *mode)?;
            refresh_stamp(state, plan, target);
            Ok(Outcome::Update)
        }
        Work::Mount(work) => {
            mount_apply::apply(work)?;
            Ok(outcome_of(step.action))
        }
    }
}

fn outcome_of(action: Action) -> Outcome {
    match action {
        Action::Create => Outcome::Create,
        Action::Update => Outcome::Update,
        Action::None => Outcome::None,
    }
}

/// A file that a staged download replaces.
struct Installed<'a> {
    path: &'a Path,
    target: &'a Path,
    source: &'a str,
    /// The digest of the file there now, when planning computed it.
    digest: Option<&'a str>,
}

impl<'a> Installed<'a> {
    fn of(path: &'a Path, target: &'a Path, source: &'a str, digest: Option<&'a str>) -> Self {
        Installed {
            path,
            target,
            source,
            digest,
        }
    }
}

/// Renames a verified, staged file into place, unless the file there already has its content.
fn install_file(
    installed: &Installed<'_>,
    staged: StagedFile,
    state: &mut State,
) -> Result<Outcome, RunError> {
    let target = installed.target;
    // A symlink in the file's place is replaced too, which plan shows as an update.
    let found = std::fs::symlink_metadata(target).ok();
    let replaced = found.is_some();
    let exists = found.is_some_and(|metadata| metadata.is_file());
    let current = match (exists, installed.digest) {
        (false, _) => None,
        (true, Some(digest)) => Some(digest.to_string()),
        (true, None) => {
            Some(
                crate::digest::sha256_file(target).map_err(|source| RunError::Read {
                    path: target.to_path_buf(),
                    source,
                })?,
            )
        }
    };

    let outcome = if current.as_deref() == Some(staged.sha256.as_str()) {
        // Same content: keep the file, and with it its modification time.
        drop(staged.file);
        if mode_of(target) == EXECUTABLE_MODE {
            Outcome::None
        } else {
            fsx::set_mode(target, EXECUTABLE_MODE)?;
            Outcome::Update
        }
    } else {
        staged.file.rename()?;
        if replaced {
            Outcome::Update
        } else {
            Outcome::Create
        }
    };

    let stamp = Stamp::read(target).map_err(|source| RunError::Read {
        path: target.to_path_buf(),
        source,
    })?;
    state.files.insert(
        installed.path.to_path_buf(),
        FileRecord {
            source: installed.source.to_string(),
            sha256: staged.sha256,
            stamp,
        },
    );
    Ok(outcome)
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map_or(0, |metadata| metadata.permissions().mode() & 0o7777)
}

/// Updates the recorded metadata of a file whose mode was just changed; its content was
/// confirmed when the plan was built.
fn refresh_stamp(state: &mut State, plan: &Plan, target: &Path) {
    let Ok(stamp) = Stamp::read(target) else {
        return;
    };
    for (path, record) in &mut state.files {
        if crate::host::paths::under_root(&plan.root, path) == target {
            record.stamp = stamp;
        }
    }
}
