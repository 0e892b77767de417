//! `k3sprov doctor`.

use std::io::Write as _;
use std::process::ExitCode;

use super::{DoctorArgs, Error, Format};
use crate::doctor::{self, Intent};

/// Probes the machine, judges it for the profile (or k3s's defaults) and prints the checks.
/// Exits with 1 when a check failed, that is when k3s would not start.
pub(super) fn run(args: &DoctorArgs) -> Result<ExitCode, Error> {
    let intent = match &args.profile {
        Some(profile) => {
            let loaded = crate::profile::load(profile);
            super::print_diagnostics(&loaded);
            let Some(spec) = loaded.spec else {
                return Err(Error::InvalidProfile {
                    profile: profile.clone(),
                    count: loaded.diagnostics.iter().filter(|d| d.is_error()).count(),
                });
            };
            Intent::from_spec(&spec)
        }
        None => Intent::default(),
    };
    let report = doctor::examine(&doctor::live_roots(&intent), &intent);
    match args.format {
        Format::Text => write!(anstream::stdout(), "{}", doctor::text::render(&report))?,
        Format::Json => {
            let json = serde_json::to_string_pretty(&report).expect("a report always serializes");
            writeln!(std::io::stdout(), "{json}")?;
        }
    }
    Ok(if report.has_failures() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
