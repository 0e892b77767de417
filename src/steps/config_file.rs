//! The k3s config file, rendered from the profile's `[config]`.

use crate::plan::{Action, Context, Step};
use crate::profile::spec::Spec;
use crate::render;
use crate::steps::{Found, StepError, Work, inspect};

/// The config file's mode: it can hold `token`, so only root may read it.
pub const CONFIG_MODE: u32 = 0o600;

/// Plans the config file, with a diff against the file on disk.
pub fn plan(spec: &Spec, context: &Context) -> Result<Step, StepError> {
    let shown_path = &spec.k3s.config_file;
    let shown = shown_path.display().to_string();
    let target = context.target(shown_path);
    let wanted = render::config_file(spec)?;
    let keys = match spec.config.len() {
        1 => "1 key".to_string(),
        count => format!("{count} keys"),
    };

    let mut chmod_only = false;
    let (action, summary, old) = match inspect(&target)? {
        Found::Missing => (
            Action::Create,
            format!("write {shown} with {keys}, mode 0600"),
            None,
        ),
        Found::File { mode, owned, .. } => {
            let current = fs_err::read(&target).map_err(|source| StepError::Inspect {
                path: target.clone(),
                source,
            })?;
            let current = String::from_utf8_lossy(&current).into_owned();
            let same_content = current == wanted;
            chmod_only = same_content;
            // The file can hold a token, so a file someone else owns is repaired as well.
            let attributes_ok = mode == CONFIG_MODE && owned;
            let (action, summary) = match (same_content, attributes_ok) {
                (true, true) => (Action::None, format!("{shown} matches the profile")),
                (true, false) => (
                    Action::Update,
                    crate::steps::attributes_summary(&shown, mode, CONFIG_MODE, owned),
                ),
                (false, true) => (Action::Update, format!("rewrite {shown} with {keys}")),
                (false, false) => (
                    Action::Update,
                    format!("rewrite {shown} with {keys}, mode 0600 (now {mode:04o})"),
                ),
            };
            (action, summary, Some(current))
        }
        found => {
            return Err(StepError::Blocked {
                step: format!("file:{shown}"),
                path: target,
                found: found.describe(),
                expected: "a regular file",
            });
        }
    };
    let diff = match old.as_deref() {
        Some(current) if current == wanted => None,
        current => Some(render::diff(&shown, current, &wanted)),
    };
    let work = match action {
        Action::None => Work::Nothing,
        _ if chmod_only => Work::Chmod {
            target,
            mode: CONFIG_MODE,
        },
        _ => Work::WriteFile {
            target,
            content: wanted,
            mode: CONFIG_MODE,
        },
    };
    Ok(Step {
        id: format!("file:{shown}"),
        action,
        summary,
        diff,
        work,
    })
}
