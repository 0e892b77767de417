//! Command symlinks such as `kubectl -> k3s`, relative, in the k3s binary's directory.

use std::path::Path;

use crate::plan::{Action, Context, Step};
use crate::profile::spec::Spec;
use crate::steps::{Found, StepError, Work, inspect};

/// Plans the symlink `name` next to the k3s binary.
///
/// A name already held by anything else is left alone: it may be a kubectl the user installed
/// on purpose, and k3s's install script does the same.
pub fn plan(spec: &Spec, name: &str, context: &Context) -> Result<Step, StepError> {
    let shown_path = spec.k3s.bin_dir.join(name);
    let shown = shown_path.display();
    let target = context.target(&shown_path);
    let absolute_k3s = spec.k3s.bin_dir.join("k3s");

    let (action, summary) = match inspect(&target)? {
        Found::Missing => (Action::Create, format!("link {shown} -> k3s")),
        Found::Symlink { target: link } if link == Path::new("k3s") || link == absolute_k3s => {
            (Action::None, format!("{shown} links to k3s"))
        }
        Found::Symlink { target: link } => (
            Action::None,
            format!(
                "leave {shown} alone: it is a symlink to {} that k3sprov did not make",
                link.display()
            ),
        ),
        found => (
            Action::None,
            format!(
                "leave {shown} alone: it is {} that k3sprov did not make",
                found.describe()
            ),
        ),
    };
    let work = match action {
        Action::Create => Work::Symlink { link: target },
        _ => Work::Nothing,
    };
    Ok(Step {
        id: format!("symlink:{name}"),
        action,
        summary,
        diff: None,
        work,
    })
}
