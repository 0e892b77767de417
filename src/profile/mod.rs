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
    let spec = merged
        .tree
        .and_then(|tree| check_tree(&tree, argument, merged.incomplete, &mut diagnostics));
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

/// Checks a merged tree against the schema and the rules beyond it.
///
/// Values that break the schema are pruned before the typed checks run, so those checks still
/// report problems in the rest of the profile.
fn check_tree(
    tree: &Node,
    name: &str,
    mut incomplete: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Spec> {
    let role = role_of(tree);
    let (schema_diagnostics, invalid_paths) = schema_check::check(tree, role);
    check::report_datetimes(tree, diagnostics);
    let mut instance = tree.to_json();
    if !schema_diagnostics.is_empty() {
        incomplete = true;
        diagnostics.extend(schema_diagnostics);
        for path in invalid_paths.iter().rev() {
            prune(&mut instance, path);
        }
    }
    let profile = serde_json::from_value(instance).ok()?;
    let mut checker = check::Checker {
        tree,
        diagnostics,
        incomplete,
    };
    checker.build(name, profile)
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

/// Removes the value at `path` from a JSON document; a path into an array removes the whole
/// array item, so a half-valid `[[mount]]` entry is dropped rather than left without a key.
fn prune(instance: &mut Value, path: &[PathSegment]) {
    let cut = path
        .iter()
        .position(|segment| matches!(segment, PathSegment::Index(_)))
        .map_or(path.len(), |index| index + 1);
    let path = &path[..cut];
    let Some((last, parents)) = path.split_last() else {
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
        (PathSegment::Key(key), Value::Object(object)) => {
            object.shift_remove(key);
        }
        (PathSegment::Index(index), Value::Array(items)) if *index < items.len() => {
            items.remove(*index);
        }
        _ => {}
    }
}
