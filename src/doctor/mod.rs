//! `doctor`: the machine's facts ([`crate::host::probes`]) judged against what k3s needs, each
//! verdict with the k3s error it predicts and the fix.
//!
//! Verdicts depend on an [`Intent`]: a profile's settings, or k3s's defaults without one. The
//! best-fitting stock profile is the one whose intent leaves the fewest failures, then the
//! fewest warnings. Ties go to the least intrusive: host, then docker, then gvisor.

mod intent;
mod kernel;
pub mod plan_warnings;
mod storage;
mod system;
pub mod text;

use serde::Serialize;

pub use intent::Intent;

use crate::host::probes::{self, Facts, Roots};

/// The stock profiles, least intrusive first.
pub const STOCK_PROFILES: &[&str] = &["host", "docker", "gvisor"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One verdict.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// A stable identifier such as `overlayfs` or `kmsg`.
    pub id: &'static str,
    pub status: Status,
    /// The finding, in one line.
    pub summary: String,
    /// The message k3s would log, for a warning or a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k3s_error: Option<String>,
    /// The profile setting or the outside change that avoids it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub(crate) fn ok(id: &'static str, summary: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Ok,
            summary: summary.into(),
            k3s_error: None,
            fix: None,
        }
    }

    pub(crate) fn problem(
        id: &'static str,
        status: Status,
        summary: impl Into<String>,
        k3s_error: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            id,
            status,
            summary: summary.into(),
            k3s_error: Some(k3s_error.into()),
            fix: Some(fix.into()),
        }
    }
}

/// The stock profile that fits the machine best, and what it leaves.
#[derive(Clone, Debug, Serialize)]
pub struct BestFit {
    pub profile: &'static str,
    pub failures: usize,
    pub warnings: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The profile the verdicts are about; `None` for k3s's defaults.
    pub profile: Option<String>,
    pub checks: Vec<Check>,
    pub best_fit: Option<BestFit>,
    pub facts: Facts,
}

impl Report {
    /// True when a failed check would stop k3s.
    pub fn has_failures(&self) -> bool {
        self.checks.iter().any(|check| check.status == Status::Fail)
    }
}

/// Probes the machine under `roots`, including the trial mount when the roots are live, and
/// judges the facts for `intent`.
pub fn examine(roots: &Roots, intent: &Intent) -> Report {
    let facts = probes::collect(roots, true);
    let checks = diagnose(&facts, intent);
    Report {
        profile: intent.profile.clone(),
        checks,
        best_fit: best_fit(&facts),
        facts,
    }
}

/// Judges the facts for `intent` and returns every verdict, in a fixed order.
pub fn diagnose(facts: &Facts, intent: &Intent) -> Vec<Check> {
    let mut checks = vec![
        storage::filesystem(facts, intent),
        storage::overlayfs(facts, intent),
        system::kmsg(facts, intent),
        system::cgroups(facts),
        system::cgroup_tree(facts),
    ];
    checks.extend(kernel::checks(facts, intent));
    checks.push(system::privileges(facts, intent));
    checks.push(system::environment(facts));
    checks.extend(storage::space(facts));
    checks
}

/// Judges the facts for each stock profile and returns the one with the fewest problems.
pub fn best_fit(facts: &Facts) -> Option<BestFit> {
    STOCK_PROFILES
        .iter()
        .filter_map(|name| {
            let spec = crate::profile::load(name).spec?;
            let checks = diagnose(facts, &Intent::from_spec(&spec));
            let count = |status| checks.iter().filter(|check| check.status == status).count();
            Some(BestFit {
                profile: name,
                failures: count(Status::Fail),
                warnings: count(Status::Warn),
            })
        })
        .min_by_key(|fit| (fit.failures, fit.warnings))
}

/// Roots for the real machine, with the data dir the intent names.
pub fn live_roots(intent: &Intent) -> Roots {
    let mut roots = Roots::default();
    if let Some(data_dir) = &intent.data_dir {
        roots.data_dir.clone_from(data_dir);
    }
    roots
}
