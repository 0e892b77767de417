//! The command line: argument definitions and one function per subcommand.

mod apply;
mod doctor;
mod plan;
mod progress;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Provision k3s declaratively on sandboxes, containers and hosts.
#[derive(Debug, Parser)]
#[command(name = "k3sprov", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check profiles against the schema and k3s's flags, and report every problem.
    Validate {
        /// Profile files, or names of stock profiles (gvisor, docker, host).
        #[arg(required = true, value_name = "PROFILE")]
        profiles: Vec<String>,
    },
    /// Show the steps `apply` would run, without changing anything.
    Plan(PlanArgs),
    /// Download, verify and install what the profile declares, running the steps `plan` shows.
    Apply(ApplyArgs),
    /// Print the JSON Schema of profiles.
    Schema,
    /// Check this machine for what would stop k3s, and print the setting that fixes each problem.
    Doctor(DoctorArgs),
}

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Judge the machine for this profile (a file, or gvisor, docker or host) instead of k3s's
    /// defaults.
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Arguments that `plan` and `apply` share, so both see the same plan.
// The field docs are clap's help text, written for the terminal rather than rustdoc.
#[allow(clippy::doc_markdown)]
#[derive(Debug, clap::Args)]
pub struct TargetArgs {
    /// A profile file, or the name of a stock profile (gvisor, docker, host).
    #[arg(value_name = "PROFILE")]
    pub profile: String,
    /// Place every absolute target path under this directory.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Download releases from this base URL instead of the profile's mirror
    /// (https://, http:// or file://).
    #[arg(long, value_name = "URL")]
    pub mirror: Option<String>,
    /// Keep verified downloads in this directory instead of the profile's `cache_dir`
    /// (default: $XDG_CACHE_HOME/k3sprov, else ~/.cache/k3sprov).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Hash every installed file instead of trusting the metadata k3sprov recorded when it
    /// installed them.
    #[arg(long)]
    pub verify: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Exit with 0 when nothing would change, 2 when something would, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Fail at once when another apply holds the lock on this root, instead of waiting.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// A failure of a command, reported by `main`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{count} {problems} found in {profile}", problems = if *count == 1 { "problem" } else { "problems" })]
    InvalidProfile { profile: String, count: usize },
    #[error("invalid --mirror URL `{url}`: {reason}")]
    InvalidMirror { url: String, reason: String },
    #[error("cannot plan {profile}")]
    Plan {
        profile: String,
        #[source]
        source: crate::plan::PlanError,
    },
    #[error("cannot apply {profile}")]
    Apply {
        profile: String,
        #[source]
        source: Box<crate::apply::ApplyError>,
    },
    #[error("apply of {profile} stopped")]
    Step {
        profile: String,
        #[source]
        source: crate::apply::StepFailure,
    },
    #[error("cannot write the output")]
    Output(#[from] std::io::Error),
}

/// Runs the parsed command line and returns the process exit status.
pub fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Validate { profiles } => Ok(validate::run(&profiles)),
        Command::Plan(args) => plan::run(&args),
        Command::Apply(args) => apply::run(&args),
        Command::Doctor(args) => doctor::run(&args),
        Command::Schema => {
            use std::io::Write as _;
            std::io::stdout().write_all(crate::schema::profile_schema_text().as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads and checks the profile, printing its diagnostics, and turns the shared arguments into
/// plan options.
fn prepare(args: &TargetArgs) -> Result<(crate::profile::spec::Spec, crate::plan::Options), Error> {
    let mirror = args
        .mirror
        .as_deref()
        .map(|url| {
            crate::profile::check::parse_mirror(url).map_err(|reason| Error::InvalidMirror {
                url: crate::render::mask_passwords(url).into_owned(),
                reason,
            })
        })
        .transpose()?;

    let loaded = crate::profile::load(&args.profile);
    print_diagnostics(&loaded);
    let Some(spec) = loaded.spec else {
        return Err(Error::InvalidProfile {
            profile: args.profile.clone(),
            count: loaded.diagnostics.iter().filter(|d| d.is_error()).count(),
        });
    };
    let options = crate::plan::Options {
        root: args.root.clone(),
        mirror,
        verify: args.verify,
    };
    Ok((spec, options))
}

/// Prints the diagnostics of a loaded profile to standard error, styled on a terminal.
fn print_diagnostics(loaded: &crate::profile::Loaded) {
    use std::io::Write as _;
    let renderer = annotate_snippets::Renderer::styled();
    let mut stderr = anstream::stderr().lock();
    for diagnostic in &loaded.diagnostics {
        let _ = write!(stderr, "{}", diagnostic.render(&loaded.sources, &renderer));
    }
}
