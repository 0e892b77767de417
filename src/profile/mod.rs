//! Profiles: reading, merging `extends`, validating, and turning them into a checked spec.
//!
//! [`load`] runs the whole pipeline and collects every problem it finds, in every file of the
//! `extends` chain, before giving up.

pub mod check;
pub mod model;
pub mod mount_options;
pub mod schema_check;
pub mod source;
pub mod spec;
pub mod stock;
pub mod tree;

use serde_json::Value;

use crate::diagnostic::{Diagnostic, SourceMap};
use crate::flags::Role;
use spec::Spec;
use tree::{Node, PathSegment};

/// The result of loading a profile: the files read, the problems found, and the spec when
/// there was no error.
#[derive(Debug)]
pub struct Loaded {
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
    pub spec: Option<Spec>,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Loads the profile `argument`, a path or a stock profile's name, and checks it completely.
pub fn load(argument: &str) -> Loaded {
    let mut sources = SourceMap::default();
    let mut diagnostics = Vec::new();
    let merged = source::load(argument, &mut sources, &mut diagnostics);
    let spec = match (merged.tree, merged.top) {
        (Some(tree), Some(top)) => {
            let checked = Checked {
                tree: &tree,
                top,
                incomplete: merged.incomplete,
            };
            checked.run(argument, label(&sources, top), &mut diagnostics)
        }
        _ => None,
    };
    // Report in reading order: by file, then by position in it.
    diagnostics.sort_by_key(|diagnostic| {
        diagnostic
            .origin
            .as_ref()
            .map(|origin| (origin.file, origin.span.start))
    });
    let spec = spec.filter(|_| !diagnostics.iter().any(Diagnostic::is_error));
    Loaded {
        sources,
        diagnostics,
        spec,
    }
}

/// Names the profile in the config file's header, independently of the current directory.
fn label(sources: &SourceMap, top: tree::FileId) -> String {
    let file = sources.get(top);
    match &file.path {
        Some(path) => fs_err::canonicalize(path).map_or_else(
            |_| path.display().to_string(),
            |real| real.display().to_string(),
        ),
        None => format!(
            "{} (built into k3sprov)",
            file.name
                .trim_start_matches("stock/")
                .trim_end_matches(".toml")
        ),
    }
}

/// The maximum number of problems reported for one profile; a file that is not a profile at all would
/// otherwise print thousands of lines.
const MAX_PROBLEMS: usize = 200;

/// A merged tree about to be checked.
struct Checked<'a> {
    tree: &'a Node,
    top: tree::FileId,
    /// True when an `extends` could not be followed.
    incomplete: bool,
}

impl Checked<'_> {
    /// Checks the tree against the schema and the rules beyond it.
    ///
    /// Values that break the schema are pruned before the typed checks run, so those checks
    /// still report problems in the rest of the profile.
    fn run(&self, name: &str, label: String, diagnostics: &mut Vec<Diagnostic>) -> Option<Spec> {
        let role = role_of(self.tree);
        let (mut schema_diagnostics, invalid_paths) = schema_check::check(self.tree, role);
        check::report_datetimes(self.tree, diagnostics);
        let mut instance = self.tree.to_json();
        let mut incomplete = self.incomplete;
        if !schema_diagnostics.is_empty() {
            incomplete = true;
            if schema_diagnostics.len() > MAX_PROBLEMS {
                let more = schema_diagnostics.len() - MAX_PROBLEMS;
                schema_diagnostics.truncate(MAX_PROBLEMS);
                schema_diagnostics.push(Diagnostic::error(
                    None,
                    format!("{more} more problems are not shown"),
                ));
            }
            diagnostics.extend(schema_diagnostics);
            for path in &invalid_paths {
                prune(&mut instance, path);
            }
        }
        let mounts = take_mounts(&mut instance);
        let profile = serde_json::from_value(instance).ok()?;
        let mut checker = check::Checker {
            tree: self.tree,
            diagnostics,
            incomplete,
            top: self.top,
        };
        checker.build(name, label, profile, mounts)
    }
}

/// Takes the `[[mount]]` entries out of the document, each with its position, leaving out
/// those the schema rejected.
fn take_mounts(instance: &mut Value) -> Vec<(usize, model::MountToml)> {
    let Some(Value::Array(items)) = instance
        .as_object_mut()
        .and_then(|object| object.swap_remove("mount"))
    else {
        return Vec::new();
    };
    items
        .into_iter()
        .enumerate()
        .filter_map(|(index, item)| {
            serde_json::from_value(item)
                .ok()
                .map(|mount| (index, mount))
        })
        .collect()
}

/// Reads `k3s.role` from the tree, defaulting to server when it is absent or invalid.
fn role_of(tree: &Node) -> Role {
    let path = [
        PathSegment::Key("k3s".into()),
        PathSegment::Key("role".into()),
    ];
    match tree.lookup(&path).and_then(|(node, _)| node.as_str()) {
        Some("agent") => Role::Agent,
        _ => Role::Server,
    }
}

/// Removes the invalid value at `path` from a JSON document.
///
/// A `[[mount]]` entry with a problem becomes null, so the other entries keep their positions
/// and their problems point at the right lines. A problem inside any other array removes the
/// whole array, for the same reason.
fn prune(instance: &mut Value, path: &[PathSegment]) {
    let in_mounts =
        matches!(path, [PathSegment::Key(key), PathSegment::Index(_), ..] if key == "mount");
    let cut = match path
        .iter()
        .position(|segment| matches!(segment, PathSegment::Index(_)))
    {
        Some(index) if in_mounts => index + 1,
        Some(index) => index,
        None => path.len(),
    };
    let Some((last, parents)) = path[..cut].split_last() else {
        return;
    };
    let mut current = &mut *instance;
    for segment in parents {
        let next = match segment {
            PathSegment::Key(key) => current.get_mut(key.as_str()),
            PathSegment::Index(index) => current.get_mut(*index),
        };
        match next {
            Some(next) => current = next,
            None => return,
        }
    }
    match (last, current) {
        // The order of keys no longer matters once a problem was found, so the cheaper
        // swap_remove keeps pruning linear in the number of problems.
        (PathSegment::Key(key), Value::Object(object)) => {
            object.swap_remove(key);
        }
        (PathSegment::Index(index), Value::Array(items)) if *index < items.len() => {
            items[*index] = Value::Null;
        }
        _ => {}
    }
}
