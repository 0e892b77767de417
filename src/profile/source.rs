//! Reading a profile and everything it `extends` into one merged tree.

use std::io::Read as _;
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

/// A profile named by path, or by the name of a stock profile.
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
    let (identity, file, invalid_utf8) = match read_reference(reference, via) {
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
    let node = parse_file(id, invalid_utf8, state)?;
    state.chain.push((identity, name));
    let merged = merge_parent(node, id, state);
    state.chain.pop();
    Some(merged)
}

/// The maximum number of syntax errors reported for one file; a file that is not TOML at all has one per
/// line, and quoting all of them helps no one.
const MAX_SYNTAX_ERRORS: usize = 10;

fn parse_file(id: FileId, invalid_utf8: Option<usize>, state: &mut ChainState<'_>) -> Option<Node> {
    if let Some(offset) = invalid_utf8 {
        state.diagnostics.push(
            Diagnostic::error(
                Some(Origin {
                    file: id,
                    span: offset..offset + 1,
                }),
                "the file is not valid UTF-8 text",
            )
            .with_help("TOML files are UTF-8; save the profile as UTF-8"),
        );
        *state.incomplete = true;
        return None;
    }
    let text = &state.sources.get(id).text;
    let (table, errors) = DeTable::parse_recoverable(text);
    if errors.is_empty() {
        return Some(Node::from_toml(&table, id));
    }
    let count = errors.len();
    for error in errors.into_iter().take(MAX_SYNTAX_ERRORS) {
        let origin = error.span().map(|span| Origin { file: id, span });
        let message = error.message().trim_end();
        let mut diagnostic = Diagnostic::error(origin, format!("invalid TOML: {message}"));
        if message.contains("leading zero") {
            diagnostic = diagnostic.with_help("TOML numbers have no leading zeros; write a mode such as 0644 as the string \"0644\"");
        }
        state.diagnostics.push(diagnostic);
    }
    if count > MAX_SYNTAX_ERRORS {
        state.diagnostics.push(Diagnostic::error(
            Some(Origin {
                file: id,
                span: 0..0,
            }),
            format!(
                "{} more syntax errors are not shown; is this a TOML profile?",
                count - MAX_SYNTAX_ERRORS
            ),
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
    if Path::new(value)
        .extension()
        .is_none_or(|extension| extension != "toml")
    {
        return Err(
            Diagnostic::error(None, format!("`{value}` is not a .toml file")).with_help(
                "`extends` takes the name of a stock profile or the path of a .toml profile file",
            ),
        );
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

/// The largest profile file read. The stock profiles are about 2 KiB; the limit keeps a path
/// such as `/dev/zero` from using up memory.
const MAX_PROFILE_BYTES: u64 = 1 << 20;

/// Reads a profile file after checking that it is a regular file of reasonable size. Devices
/// and FIFOs are rejected before they are opened, since opening a FIFO blocks.
fn world_readable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o004 != 0)
}

fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
    let shown = printable(&path.display().to_string());
    let metadata = std::fs::metadata(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => format!("profile file `{shown}` not found"),
        _ => format!("cannot read profile file `{shown}`: {error}"),
    })?;
    if !metadata.is_file() {
        return Err(format!("profile `{shown}` is not a regular file"));
    }
    if metadata.len() > MAX_PROFILE_BYTES {
        return Err(format!(
            "profile file `{shown}` has {} bytes, more than the 1 MiB a profile may have",
            metadata.len()
        ));
    }
    let mut bytes = Vec::new();
    fs_err::File::open(path)
        .and_then(|file| file.take(MAX_PROFILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|error| format!("cannot read profile file `{shown}`: {error}"))?;
    Ok(bytes)
}

/// Escapes control characters in a name read from the command line or a file, so it cannot
/// move the cursor or recolour the terminal when printed.
pub fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|character| {
            let escaped: Vec<char> = if character.is_control() {
                character.escape_default().collect()
            } else {
                vec![character]
            };
            escaped
        })
        .collect()
}

/// Reads the text behind a reference, and returns an identity for cycle detection with it.
///
/// The third element is the offset of the first byte that is not UTF-8, if any.
fn read_reference(
    reference: &Reference,
    via: Option<&Origin>,
) -> Result<(String, SourceFile, Option<usize>), Diagnostic> {
    match reference {
        Reference::Stock(profile) => Ok((
            format!("stock:{}", profile.name),
            SourceFile {
                name: format!("stock/{}.toml", profile.name),
                path: None,
                text: profile.text.to_string(),
                quotable: true,
            },
            None,
        )),
        Reference::Path(path) => {
            let bytes = read_limited(path).map_err(|message| {
                Diagnostic::error(via.cloned(), message)
                    .with_help("give the path of a TOML profile file")
            })?;
            let identity = fs_err::canonicalize(path).map_or_else(
                |_| path.display().to_string(),
                |real| real.display().to_string(),
            );
            let invalid_utf8 = std::str::from_utf8(&bytes)
                .err()
                .map(|error| error.valid_up_to());
            Ok((
                identity,
                SourceFile {
                    name: printable(&path.display().to_string()),
                    path: Some(path.clone()),
                    text: String::from_utf8_lossy(&bytes).into_owned(),
                    // The user named the top profile; a parent is quoted only when anyone may
                    // read it anyway.
                    quotable: via.is_none() || world_readable(path),
                },
                invalid_utf8,
            ))
        }
    }
}
