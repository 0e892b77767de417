//! `apply`: runs the steps of a plan, in order, after fetching and verifying every artifact
//! they need.
//!
//! Downloads happen first, concurrently, into files staged next to their targets. Nothing is
//! renamed into place until every artifact has been verified, so a bad checksum, a truncated
//! download or a hostile tarball leaves the machine as it was. Two applies on the same root
//! never interleave: each holds a lock under the root for its whole run.

mod artifacts;
mod readers;
mod run;

use std::path::{Path, PathBuf};

use serde::Serialize;
use url::Url;

use crate::fetch::cache::{Cache, resolve_cache_dir};
use crate::fetch::http::{Client, ClientSettings};
use crate::fetch::proxy::ProxyEnv;
use crate::host::paths::under_root;
use crate::plan::{self, Plan};
use crate::profile::spec::Spec;
use crate::state::{LOCK_PATH, STATE_PATH, State};

pub use artifacts::ArtifactError;
pub use run::StepFailure;

/// Settings of one apply run.
#[derive(Clone, Debug)]
pub struct Options {
    pub plan: plan::Options,
    /// Replaces the profile's `[download] cache_dir`.
    pub cache_dir: Option<PathBuf>,
    /// Wait for another apply on the same root to finish, instead of failing at once.
    pub wait: bool,
}

/// The result of one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Create,
    Update,
    None,
    Failed,
    /// Not run, because an earlier step failed.
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Create => "create",
            Outcome::Update => "update",
            Outcome::None => "none",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
        }
    }
}

/// One step of the plan and what became of it.
#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    pub id: String,
    pub outcome: Outcome,
    pub summary: String,
    /// The reason the step failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The result of an apply run that got as far as running steps.
#[derive(Debug, Serialize)]
pub struct Report {
    pub profile: String,
    pub root: PathBuf,
    pub steps: Vec<StepReport>,
    /// The failure that stopped the run, if one did.
    #[serde(skip)]
    pub failure: Option<StepFailure>,
}

impl Report {
    /// Counts the steps with `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.steps
            .iter()
            .filter(|step| step.outcome == outcome)
            .count()
    }
}

/// Receives download progress, for a progress bar or log lines; every method does nothing by
/// default.
pub trait Reporter: Sync {
    /// Starts the display of a download of `name` from `url`; `length` is the size announced, if any.
    fn download_started(&self, _name: &str, _url: &Url, _length: Option<u64>) {}
    /// `bytes` more bytes of `name` arrived.
    fn download_progress(&self, _name: &str, _bytes: u64) {}
    /// Ends the display of `name`, complete and verified; `from_cache` is true when the cache supplied it.
    fn download_finished(&self, _name: &str, _from_cache: bool) {}
}

/// A reporter that shows nothing.
pub struct Silent;

impl Reporter for Silent {}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Lock(#[from] crate::fsx::LockError),
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    #[error(transparent)]
    CaFile(#[from] crate::fetch::tls::CaFileError),
    #[error(transparent)]
    Cache(#[from] crate::fetch::cache::CacheError),
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error(transparent)]
    Fs(#[from] crate::fsx::FsError),
    #[error("nothing was changed, because these directories cannot be written: {0}")]
    NotWritable(String),
}

/// Plans `spec` under the lock and runs the plan.
///
/// Returns an error when nothing was changed (bad root, lock held, failed download). Once steps
/// ran, it returns a report instead, with `failure` set if one of them failed.
pub fn apply(
    spec: &Spec,
    options: &Options,
    reporter: &dyn Reporter,
) -> Result<Report, ApplyError> {
    let root = plan::resolve_root(&options.plan.root)?;
    let _lock = crate::fsx::lock(&under_root(&root, Path::new(LOCK_PATH)), options.wait)?;

    let plan = plan::build(spec, &options.plan)?;
    check_writable(&plan)?;
    remove_stale_temporaries(&plan)?;
    let client = Client::new(ClientSettings {
        ca_file: spec.download.ca_file.clone(),
        proxy_env: ProxyEnv::from_process(),
        ..ClientSettings::default()
    })?;
    let explicit = options
        .cache_dir
        .as_deref()
        .or(spec.download.cache_dir.as_deref());
    let directory = resolve_cache_dir(explicit, |name| std::env::var_os(name))?;
    let cache = Cache::open(directory)?;
    let mut prepared = artifacts::prepare(&plan, &client, &cache, reporter)?;

    let mut state = State::load(&plan.root);
    let before = state.clone();
    let mut report = run::run_steps(&plan, &mut prepared, &mut state);
    if state != before {
        save_state(&plan, &state, &mut report);
    }
    Ok(report)
}

/// Checks, before anything changes, that every directory the plan writes to can be written:
/// a read-only `/etc` found only at the config step would leave the binaries installed and
/// the rest not.
fn check_writable(plan: &Plan) -> Result<(), ApplyError> {
    let mut blocked = Vec::new();
    for step in &plan.steps {
        // A mount writes only when it creates its mount point.
        let writes_file = match &step.work {
            crate::steps::Work::Nothing => false,
            crate::steps::Work::Mount(work) => work.create_point,
            _ => true,
        };
        let Some(parent) = step.work.target().and_then(Path::parent) else {
            continue;
        };
        if !writes_file {
            continue;
        }
        // The nearest directory that exists is where the first write, or mkdir, happens.
        let existing = parent
            .ancestors()
            .find(|directory| directory.exists())
            .unwrap_or(parent);
        if let Err(errno) = rustix::fs::access(existing, rustix::fs::Access::WRITE_OK) {
            let entry = format!("{} ({})", existing.display(), std::io::Error::from(errno));
            if !blocked.contains(&entry) {
                blocked.push(entry);
            }
        }
    }
    if blocked.is_empty() {
        Ok(())
    } else {
        Err(ApplyError::NotWritable(blocked.join(", ")))
    }
}

/// Removes what an earlier run, killed mid-way, left in the directories this plan writes to.
fn remove_stale_temporaries(plan: &Plan) -> Result<(), crate::fsx::FsError> {
    let mut directories: Vec<PathBuf> = plan
        .steps
        .iter()
        .filter_map(|step| step.work.target())
        .filter_map(|target| target.parent().map(Path::to_path_buf))
        .collect();
    directories.push(
        under_root(&plan.root, Path::new(STATE_PATH))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    );
    directories.sort();
    directories.dedup();
    for directory in directories {
        let removed = crate::fsx::remove_stale_temporaries(&directory)?;
        if removed > 0 {
            tracing::info!(directory = %directory.display(), removed, "removed temporary files of an interrupted run");
        }
    }
    Ok(())
}

/// Writes the install record. A failure to write it becomes the run's failure unless a step
/// already failed. The installed files are still right, but the next run hashes them again.
fn save_state(plan: &Plan, state: &State, report: &mut Report) {
    let path = under_root(&plan.root, Path::new(STATE_PATH));
    let written = path
        .parent()
        .map_or(Ok(()), crate::fsx::create_dir_all)
        .and_then(|()| crate::fsx::write_atomic(&path, state.to_json().as_bytes(), 0o644));
    if let Err(error) = written
        && report.failure.is_none()
    {
        report.failure = Some(StepFailure::Record(error));
    }
}
