//! `k3sprov apply`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use anstyle::{AnsiColor, Style};

use super::{ApplyArgs, Error, Format};
use crate::apply::{self, Outcome, Report};

/// Applies the profile and prints what each step did.
pub(super) fn run(args: &ApplyArgs) -> Result<ExitCode, Error> {
    let (spec, plan_options) = super::prepare(&args.target)?;
    let options = apply::Options {
        plan: plan_options,
        cache_dir: args.target.cache_dir.clone(),
        wait: !args.no_wait,
    };
    let progress = super::progress::Progress::new();
    let report = apply::apply(&spec, &options, &progress).map_err(|source| Error::Apply {
        profile: args.target.profile.clone(),
        source: Box::new(source),
    })?;

    match args.target.format {
        Format::Text => write!(anstream::stdout(), "{}", render(&report))?,
        Format::Json => {
            let json = serde_json::to_string_pretty(&report).expect("a report always serializes");
            writeln!(std::io::stdout(), "{json}")?;
        }
    }
    match report.failure {
        None => Ok(ExitCode::SUCCESS),
        Some(failure) => Err(Error::Step {
            profile: args.target.profile.clone(),
            source: failure,
        }),
    }
}

/// Renders the report as styled text: one line per step, then totals.
fn render(report: &Report) -> String {
    let mut out = String::new();
    let verb = if report.failure.is_some() {
        "Stopped applying"
    } else {
        "Applied"
    };
    let _ = writeln!(
        out,
        "{verb} {} (root {})\n",
        report.profile,
        report.root.display()
    );
    let width = report
        .steps
        .iter()
        .map(|step| step.id.len())
        .filter(|length| *length <= 36)
        .max()
        .unwrap_or(0);
    for step in &report.steps {
        let (mark, style) = match step.outcome {
            Outcome::Create => ('+', AnsiColor::Green.on_default().bold()),
            Outcome::Update => ('~', AnsiColor::Yellow.on_default().bold()),
            Outcome::None => ('=', Style::new().dimmed()),
            Outcome::Failed => ('x', AnsiColor::Red.on_default().bold()),
            Outcome::Skipped => ('-', Style::new().dimmed()),
        };
        let detail = match (&step.error, step.outcome) {
            (Some(error), _) => format!("failed: {error}"),
            (None, Outcome::Skipped) => "skipped after the failure above".to_string(),
            (None, Outcome::None) => "unchanged".to_string(),
            (None, _) => step.summary.clone(),
        };
        let _ = writeln!(
            out,
            "  {style}{mark} {:<width$}{style:#}  {detail}",
            step.id
        );
    }
    let _ = write!(
        out,
        "\n{} created, {} updated, {} unchanged",
        report.count(Outcome::Create),
        report.count(Outcome::Update),
        report.count(Outcome::None)
    );
    let failed = report.count(Outcome::Failed);
    if failed > 0 {
        let _ = write!(
            out,
            ", {failed} failed, {} skipped",
            report.count(Outcome::Skipped)
        );
    }
    out.push_str(".\n");
    out
}
