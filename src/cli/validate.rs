//! `k3sprov validate`.

use std::io::Write as _;
use std::process::ExitCode;

use crate::profile;

/// Checks every profile and reports every problem; fails when any profile has an error.
pub(super) fn run(profiles: &[String]) -> ExitCode {
    let mut failed = 0;
    for argument in profiles {
        let loaded = profile::load(argument);
        super::print_diagnostics(&loaded);
        let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
        if errors == 0 {
            let _ = writeln!(
                std::io::stdout(),
                "{}: ok",
                crate::profile::source::printable(argument)
            );
        } else {
            failed += 1;
            let noun = if errors == 1 { "error" } else { "errors" };
            let shown = crate::profile::source::printable(argument);
            let _ = writeln!(anstream::stderr(), "{shown}: {errors} {noun}");
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
