//! The command line: argument definitions and one function per subcommand.

mod plan;
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
    /// Print the JSON Schema of profiles.
    Schema,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
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
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit with 0 when nothing would change, 2 when something would, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
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
    #[error("cannot write the output")]
    Output(#[from] std::io::Error),
}

/// Runs the parsed command line and returns the process exit status.
pub fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Validate { profiles } => Ok(validate::run(&profiles)),
        Command::Plan(args) => plan::run(&args),
        Command::Schema => {
            use std::io::Write as _;
            std::io::stdout().write_all(crate::schema::profile_schema_text().as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
    }
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
