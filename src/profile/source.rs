//! Reading a profile and everything it `extends` into one merged tree.

use std::path::{Path, PathBuf};

use toml::de::DeTable;

use super::stock;
use super::tree::{FileId, Node, NodeValue, Origin};
use crate::diagnostic::{Diagnostic, SourceFile, SourceMap};

/// A profile read from disk or from the stock set, merged with its ancestors.
#[derive(Debug)]
pub struct Merged {
    /// The merged document; `None` when a file could not be read or parsed.
    pub tree: Option<Node>,
    /// The file the user named.
    pub top: Option<FileId>,
    /// True when an `extends` could not be followed, so keys the parent would set may be missing.
    pub incomplete: bool,
}

/// How a profile was named: by path, or by the name of a stock profile.
enum Reference {
    Path(PathBuf),
    Stock(&'static stock::StockProfile),
}

/// Reads the profile `argument` (a path, or a stock profile's name) and merges its `extends` chain.
///
/// Every problem goes into `diagnostics`; reading stops only where it cannot go on.
pub fn load(argument: &str, sources: &mut SourceMap, diagnostics: &mut Vec<Diagnostic>) -> Merged {
    let reference = match resolve_argument(argument) {
        Ok(reference) => reference,
        Err(diagnostic) => {
            diagnostics.push(diagnostic);
            return Merged {
                tree: None,
                top: None,
                incomplete: true,
            };
        }
    };
    let mut chain = Vec::new();
    let mut incomplete = false;
    let mut top = None;
    let tree = load_chain(
        &reference,
        None,
        &mut ChainState {
            sources,
            diagnostics,
            chain: &mut chain,
            incomplete: &mut incomplete,
            top: &mut top,
        },
    );
    Merged {
        tree,
        top,
        incomplete,
    }
}

struct ChainState<'a> {
    sources: &'a mut SourceMap,
    diagnostics: &'a mut Vec<Diagnostic>,
    /// The profiles being read, outermost first, as (identity, name shown), to detect cycles.
    chain: &'a mut Vec<(String, String)>,
    incomplete: &'a mut bool,
    top: &'a mut Option<FileId>,
}

fn resolve_argument(argument: &str) -> Result<Reference, Diagnostic> {
    let path = Path::new(argument);
    if looks_like_path(argument) || path.exists() {
        return Ok(Reference::Path(path.to_path_buf()));
    }
    stock::find(argument).map(Reference::Stock).ok_or_else(|| {
        Diagnostic::error(
            None,
            format!("no profile file `{argument}` and no stock profile of that name"),
        )
        .with_help(format!(
            "give the path of a profile file, or one of the stock profiles: {}",
            stock::names().join(", ")
        ))
    })
}

/// Treats a value as a path when it has a slash or a `.toml` suffix; a bare word names a stock
/// profile.
fn looks_like_path(value: &str) -> bool {
    value.contains('/')
        || Path::new(value)
            .extension()
            .is_some_and(|ext| ext == "toml")
}

/// Reads one profile, then recursively its parent, and returns their merge.
///
/// `via` is the `extends` value that led here, for errors about this file as a whole.
fn load_chain(
    reference: &Reference,
    via: Option<&Origin>,
    state: &mut ChainState<'_>,
) -> Option<Node> {
    let (identity, file) = match read_reference(reference, via) {
        Ok(found) => found,
        Err(diagnostic) => {
            state.diagnostics.push(diagnostic);
            *state.incomplete = true;
            return None;
        }
    };

    if let Some(start) = state.chain.iter().position(|(seen, _)| *seen == identity) {
        let mut cycle: Vec<&str> = state.chain[start..]
            .iter()
            .map(|(_, name)| name.as_str())
            .collect();
        cycle.push(&file.name);
        state.diagnostics.push(
            Diagnostic::error(
                via.cloned(),
                format!("`extends` forms a cycle: {}", cycle.join(" -> ")),
            )
            .with_help("remove `extends` from one of these profiles"),
        );
        *state.incomplete = true;
        return None;
    }

    let name = file.name.clone();
    let id = state.sources.add(file);
    if state.top.is_none() {
        *state.top = Some(id);
    }
    let node = parse_file(id, state)?;
    state.chain.push((identity, name));
    let merged = merge_parent(node, id, state);
    state.chain.pop();
    Some(merged)
}

fn parse_file(id: FileId, state: &mut ChainState<'_>) -> Option<Node> {
    let text = &state.sources.get(id).text;
    let (table, errors) = DeTable::parse_recoverable(text);
    if errors.is_empty() {
        return Some(Node::from_toml(&table, id));
    }
    for error in errors {
        let origin = error.span().map(|span| Origin { file: id, span });
        state.diagnostics.push(Diagnostic::error(
            origin,
            format!("invalid TOML: {}", error.message().trim_end()),
        ));
    }
    *state.incomplete = true;
    None
}

/// Follows the `extends` key of `node`, if any, and merges `node` over the parent.
fn merge_parent(mut node: Node, id: FileId, state: &mut ChainState<'_>) -> Node {
    let NodeValue::Table(table) = &mut node.value else {
        return node;
    };
    let Some(entry) = table.shift_remove("extends") else {
        return node;
    };
    let Some(value) = entry.node.as_str() else {
        // The schema check reports the wrong type; here there is nothing to follow.
        table.insert("extends".into(), entry);
        return node;
    };
    let parent = match resolve_extends(value, id, state.sources) {
        Ok(reference) => load_chain(&reference, Some(&entry.node.origin), state),
        Err(diagnostic) => {
            state
                .diagnostics
                .push(diagnostic.with_origin(entry.node.origin.clone()));
            *state.incomplete = true;
            None
        }
    };
    match parent {
        Some(parent) => parent.merge(node),
        None => node,
    }
}

/// Resolves an `extends` value written in file `id`.
fn resolve_extends(value: &str, id: FileId, sources: &SourceMap) -> Result<Reference, Diagnostic> {
    if !looks_like_path(value) {
        return stock::find(value).map(Reference::Stock).ok_or_else(|| {
            let mut diagnostic =
                Diagnostic::error(None, format!("`{value}` is not a stock profile"));
            if let Some(close) = crate::suggest::closest(value, stock::names().into_iter()) {
                diagnostic = diagnostic.with_label(format!("did you mean `{close}`?"));
            }
            diagnostic.with_help(format!(
                "name a stock profile ({}) or give a path ending in .toml, relative to this file",
                stock::names().join(", ")
            ))
        });
    }
    let Some(base) = &sources.get(id).path else {
        return Err(Diagnostic::error(
            None,
            format!("a stock profile cannot extend the file `{value}`"),
        ));
    };
    let directory = base.parent().unwrap_or(Path::new(""));
    Ok(Reference::Path(directory.join(value)))
}

/// Reads the text behind a reference, and returns an identity for cycle detection with it.
fn read_reference(
    reference: &Reference,
    via: Option<&Origin>,
) -> Result<(String, SourceFile), Diagnostic> {
    match reference {
        Reference::Stock(profile) => Ok((
            format!("stock:{}", profile.name),
            SourceFile {
                name: format!("stock/{}.toml", profile.name),
                path: None,
                text: profile.text.to_string(),
            },
        )),
        Reference::Path(path) => {
            let text = fs_err::read_to_string(path).map_err(|error| {
                let message = match error.kind() {
                    std::io::ErrorKind::NotFound => {
                        format!("profile file `{}` not found", path.display())
                    }
                    _ => format!("cannot read profile file: {error}"),
                };
                Diagnostic::error(via.cloned(), message)
            })?;
            let identity = fs_err::canonicalize(path).map_or_else(
                |_| path.display().to_string(),
                |real| real.display().to_string(),
            );
            Ok((
                identity,
                SourceFile {
                    name: path.display().to_string(),
                    path: Some(path.clone()),
                    text,
                },
            ))
        }
    }
}
