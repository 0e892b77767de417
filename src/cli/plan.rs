//! `k3sprov plan`.

use std::io::Write as _;
use std::process::ExitCode;

use super::{Error, Format, PlanArgs};
use crate::plan;

/// Exit status of `--detailed-exitcode` when the plan has changes, as Terraform uses it.
const EXIT_CHANGES: u8 = 2;

/// Loads the profile, builds its plan and prints it.
pub(super) fn run(args: &PlanArgs) -> Result<ExitCode, Error> {
    let (spec, options) = super::prepare(&args.target)?;
    let plan = plan::build(&spec, &options).map_err(|source| Error::Plan {
        profile: args.target.profile.clone(),
        source,
    })?;
    tracing::debug!(steps = plan.steps.len(), "plan built");

    match args.target.format {
        Format::Text => write!(anstream::stdout(), "{}", plan::text::render(&plan))?,
        Format::Json => {
            let json = serde_json::to_string_pretty(&plan).expect("a plan always serializes");
            writeln!(std::io::stdout(), "{json}")?;
        }
    }

    Ok(if args.detailed_exitcode && plan.has_changes() {
        ExitCode::from(EXIT_CHANGES)
    } else {
        ExitCode::SUCCESS
    })
}
