//! The report as text: one line per check, the k3s error and the fix under each problem, and a
//! closing line naming the best-fitting stock profile.
//!
//! The text carries ANSI styles; the caller writes it through `anstream`, which removes them
//! when the output is not a terminal or `NO_COLOR` is set.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::{Report, Status};

const OK: Style = AnsiColor::Green.on_default();
const WARN: Style = AnsiColor::Yellow.on_default().bold();
const FAIL: Style = AnsiColor::Red.on_default().bold();
const DETAIL: Style = Style::new().dimmed();

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let subject = report.profile.as_deref().map_or_else(
        || "k3s's defaults (pass --profile to check a profile)".to_string(),
        |name| format!("profile {}", crate::profile::source::printable(name)),
    );
    let _ = writeln!(out, "Checks for {subject}:\n");
    let width = report
        .checks
        .iter()
        .map(|check| check.id.len())
        .max()
        .unwrap_or(0);
    for check in &report.checks {
        let style = match check.status {
            Status::Ok => OK,
            Status::Warn => WARN,
            Status::Fail => FAIL,
        };
        let _ = writeln!(
            out,
            "{style}{:<4}{style:#}  {:<width$}  {}",
            check.status.as_str(),
            check.id,
            check.summary
        );
        let indent = " ".repeat(width + 8);
        if let Some(error) = &check.k3s_error {
            let _ = writeln!(out, "{indent}{DETAIL}k3s:{DETAIL:#} {error}");
        }
        if let Some(fix) = &check.fix {
            let _ = writeln!(out, "{indent}{DETAIL}fix:{DETAIL:#} {fix}");
        }
    }
    out.push('\n');
    let count = |status| {
        report
            .checks
            .iter()
            .filter(|check| check.status == status)
            .count()
    };
    let (failures, warnings) = (count(Status::Fail), count(Status::Warn));
    let _ = writeln!(
        out,
        "{failures} {} would stop k3s, {warnings} {}.",
        if failures == 1 { "problem" } else { "problems" },
        if warnings == 1 { "warning" } else { "warnings" },
    );
    if let Some(fit) = &report.best_fit {
        let left = if fit.failures == 0 {
            "it leaves nothing that would stop k3s".to_string()
        } else {
            format!(
                "it still leaves {} failing check{}, fixed outside the profile",
                fit.failures,
                if fit.failures == 1 { "" } else { "s" }
            )
        };
        let _ = writeln!(
            out,
            "Best fit: stock profile `{}`; {left}. Preview it with `k3sprov doctor --profile {0}` and `k3sprov plan {0}`.",
            fit.profile
        );
    }
    out
}
