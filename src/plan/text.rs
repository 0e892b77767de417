//! The plan as text for people: one line per step, diffs indented under their step, totals.
//!
//! The text carries ANSI styles; the caller writes it through `anstream`, which removes them
//! when the output is not a terminal or `NO_COLOR` is set.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::{Action, Plan};

const CREATE: Style = AnsiColor::Green.on_default().bold();
const UPDATE: Style = AnsiColor::Yellow.on_default().bold();
const NONE: Style = Style::new().dimmed();
const REMOVED: Style = AnsiColor::Red.on_default();
const ADDED: Style = AnsiColor::Green.on_default();
const HUNK: Style = AnsiColor::Cyan.on_default();

/// The maximum length of a step id that still gets its summary aligned in a column.
const ID_COLUMN_MAX: usize = 36;

/// Renders `plan` as styled text.
pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan for {} ({}, root {}, releases from {})",
        crate::profile::source::printable(&plan.profile),
        plan.arch.as_str(),
        plan.root.display(),
        plan.mirror,
    );
    if let Some(description) = &plan.description {
        let _ = writeln!(out, "{}", crate::profile::source::printable(description));
    }
    out.push('\n');
    let width = plan
        .steps
        .iter()
        .map(|step| step.id.len())
        .filter(|length| *length <= ID_COLUMN_MAX)
        .max()
        .unwrap_or(0);
    for step in &plan.steps {
        let (mark, style) = match step.action {
            Action::Create => ('+', CREATE),
            Action::Update => ('~', UPDATE),
            Action::None => ('=', NONE),
        };
        let _ = writeln!(
            out,
            "  {style}{mark} {:<width$}{style:#}  {}",
            step.id, step.summary
        );
        if let Some(diff) = &step.diff {
            render_diff(&mut out, diff);
        }
    }
    if !plan.warnings.is_empty() {
        out.push('\n');
    }
    for warning in &plan.warnings {
        let _ = writeln!(out, "{UPDATE}warning:{UPDATE:#} {warning}");
    }
    let totals = plan.totals;
    let _ = writeln!(
        out,
        "\n{} to create, {} to update, {} unchanged.",
        totals.create, totals.update, totals.none
    );
    out
}

fn render_diff(out: &mut String, diff: &str) {
    for line in diff.lines() {
        let style = if line.starts_with("@@") {
            HUNK
        } else if line.starts_with('+') {
            ADDED
        } else if line.starts_with('-') {
            REMOVED
        } else {
            Style::new()
        };
        let _ = writeln!(out, "      {style}{line}{style:#}");
    }
}
