//! `k3sprov plan`.

use std::io::Write as _;
use std::process::ExitCode;

use super::{Error, Format, PlanArgs};
use crate::plan;
use crate::profile;

/// Exit status of `--detailed-exitcode` when the plan has changes, as Terraform uses it.
const EXIT_CHANGES: u8 = 2;

/// Loads the profile, builds its plan and prints it.
pub(super) fn run(args: &PlanArgs) -> Result<ExitCode, Error> {
    let mirror = args
        .mirror
        .as_deref()
        .map(|url| {
            profile::check::parse_mirror(url).map_err(|reason| Error::InvalidMirror {
                url: url.to_string(),
                reason,
            })
        })
        .transpose()?;

    let loaded = profile::load(&args.profile);
    super::print_diagnostics(&loaded);
    let Some(spec) = loaded.spec else {
        return Err(Error::InvalidProfile {
            profile: args.profile.clone(),
            count: loaded.diagnostics.iter().filter(|d| d.is_error()).count(),
        });
    };

    let options = plan::Options {
        root: args.root.clone(),
        mirror,
    };
    let plan = plan::build(&spec, &options).map_err(|source| Error::Plan {
        profile: args.profile.clone(),
        source,
    })?;
    tracing::debug!(steps = plan.steps.len(), "plan built");

    match args.format {
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
