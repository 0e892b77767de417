//! Checking a merged profile against the JSON Schema, with messages in the profile's terms.
//!
//! The `jsonschema` crate finds every violation at once; this module turns each into a
//! diagnostic that points at the key or value in the TOML file that set it.

use std::fmt::Write as _;
use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use serde_json::Value;

use super::tree::{Node, NodeValue, PathSegment};
use crate::diagnostic::Diagnostic;
use crate::flags::{self, Role};
use crate::schema;

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::validator_for(schema::profile_schema())
            .expect("the generated profile schema is a valid JSON Schema")
    })
}

/// Checks `tree` against the profile schema and returns one diagnostic per violation, with the
/// paths of the values found invalid.
///
/// `role` picks the flag list that did-you-mean suggestions for `[config]` come from.
pub fn check(tree: &Node, role: Role) -> (Vec<Diagnostic>, Vec<Vec<PathSegment>>) {
    let instance = tree.to_json();
    let mut diagnostics = Vec::new();
    let mut invalid = Vec::new();
    let mut reported = std::collections::HashSet::new();
    for error in validator().iter_errors(&instance) {
        let path: Vec<PathSegment> = error
            .instance_path()
            .iter()
            .map(|segment| match segment {
                LocationSegment::Property(name) => PathSegment::Key(name.into_owned()),
                LocationSegment::Index(index) => PathSegment::Index(index),
            })
            .collect();
        if let ValidationErrorKind::AdditionalProperties { unexpected } = error.kind() {
            for key in unexpected {
                let mut child = path.clone();
                child.push(PathSegment::Key(key.clone()));
                invalid.push(child);
            }
        } else if reported.insert(path.clone()) {
            invalid.push(path.clone());
        } else {
            // One value can break several keywords (`type` and `enum`); one message is enough.
            continue;
        }
        diagnostics.extend(describe(
            tree,
            &path,
            error.kind(),
            role,
            &error.to_string(),
        ));
    }
    // Prune deepest paths first, and array items from the back, so indexes stay valid.
    invalid.sort_by(|a, b| compare_paths(a, b));
    invalid.dedup();
    (diagnostics, invalid)
}

fn compare_paths(a: &[PathSegment], b: &[PathSegment]) -> std::cmp::Ordering {
    for (left, right) in a.iter().zip(b) {
        let order = match (left, right) {
            (PathSegment::Index(x), PathSegment::Index(y)) => x.cmp(y),
            (PathSegment::Key(x), PathSegment::Key(y)) => x.cmp(y),
            (PathSegment::Index(_), PathSegment::Key(_)) => std::cmp::Ordering::Less,
            (PathSegment::Key(_), PathSegment::Index(_)) => std::cmp::Ordering::Greater,
        };
        if order.is_ne() {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

fn describe(
    tree: &Node,
    path: &[PathSegment],
    kind: &ValidationErrorKind,
    role: Role,
    fallback: &str,
) -> Vec<Diagnostic> {
    let Some((node, _)) = tree.lookup(path) else {
        return vec![Diagnostic::error(Some(tree.origin.clone()), fallback)];
    };
    let origin = Some(node.origin.clone());
    let name = dotted(path);
    let diagnostic = match kind {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            return unexpected
                .iter()
                .map(|key| unknown_key(node, path, key, role))
                .collect();
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(single) => article(&single.to_string()).to_string(),
                TypeKind::Multiple(set) => set
                    .iter()
                    .map(|one| article(&one.to_string()))
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            wrong_type(&name, node, &expected)
        }
        // The only `anyOf` in the schema is that of repeatable k3s flags.
        ValidationErrorKind::AnyOf { .. } => repeatable_flag(&name, node),
        ValidationErrorKind::Enum { options } => invalid_choice(&name, node, options),
        ValidationErrorKind::Pattern { .. } if node.as_str().is_none() => {
            wrong_type(&name, node, "a string")
        }
        ValidationErrorKind::Pattern { .. } => Diagnostic::error(
            origin,
            format!("invalid value {} for `{name}`", shown(node)),
        )
        .with_help(pattern_help(path)),
        ValidationErrorKind::Required { property } => {
            Diagnostic::error(origin, format!("missing key {property} in `{name}`"))
        }
        _ => Diagnostic::error(origin, format!("invalid `{name}`: {fallback}")),
    };
    if holds_password(node) {
        return vec![diagnostic.with_hidden_source()];
    }
    vec![diagnostic]
}

fn unknown_key(table: &Node, path: &[PathSegment], key: &str, role: Role) -> Diagnostic {
    let mut child = path.to_vec();
    child.push(PathSegment::Key(key.to_string()));
    let origin = table
        .entry(key)
        .map(|entry| entry.key_origin.clone())
        .or_else(|| Some(table.origin.clone()));

    if path == [PathSegment::Key("config".into())] {
        let mut diagnostic = Diagnostic::error(
            origin,
            format!("unknown k3s {} flag `{key}` in [config]", role.as_str()),
        )
        .with_help(format!(
            "keys in [config] are the flags of `k3s {0}` without the leading dashes; \
             `k3s {0} --help` lists them",
            role.as_str()
        ));
        if let Some(close) = flags::suggest(role, key) {
            diagnostic = diagnostic.with_label(format!("did you mean `{close}`?"));
        }
        if !key.is_ascii() {
            let escaped: String = key.chars().flat_map(char::escape_unicode).collect();
            let _ = write!(
                diagnostic.message,
                " (it has non-ASCII characters: {escaped})"
            );
        }
        return diagnostic;
    }

    let known = allowed_keys(path);
    let section = if path.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in `{}`", dotted(path))
    };
    let mut diagnostic = Diagnostic::error(origin, format!("unknown key `{key}` {section}"))
        .with_help(format!("the keys allowed here are: {}", known.join(", ")));
    if let Some(close) = crate::suggest::closest(key, known.iter().map(String::as_str)) {
        diagnostic = diagnostic.with_label(format!("did you mean `{close}`?"));
    }
    diagnostic
}

fn wrong_type(name: &str, node: &Node, expected: &str) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        Some(node.origin.clone()),
        format!(
            "`{name}` must be {expected}, but this is {}",
            node.type_name()
        ),
    );
    let scalar = !matches!(node.value, NodeValue::Array(_) | NodeValue::Table(_));
    let help = match expected {
        "a string" if scalar => "put the value in double quotes",
        "a boolean" => "write true or false, without quotes",
        "an integer" => "write a number without quotes",
        _ => return diagnostic,
    };
    diagnostic.with_help(help)
}

/// Reports a repeatable flag whose value is neither a string nor an array of strings, pointing
/// at the first item that is not a string when it is an array.
fn repeatable_flag(name: &str, node: &Node) -> Diagnostic {
    if let NodeValue::Array(items) = &node.value
        && let Some(item) = items.iter().find(|item| item.as_str().is_none())
    {
        return Diagnostic::error(
            Some(item.origin.clone()),
            format!(
                "the items of `{name}` must be strings, but this is {}",
                item.type_name()
            ),
        )
        .with_help("put each item in double quotes");
    }
    wrong_type(name, node, "a string or an array of strings")
        .with_help("write one string, or an array of strings such as [\"a\", \"b\"]")
}

fn invalid_choice(name: &str, node: &Node, options: &Value) -> Diagnostic {
    let choices: Vec<&str> = options
        .as_array()
        .map(|values| values.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let listed: Vec<String> = choices
        .iter()
        .map(|choice| format!("\"{choice}\""))
        .collect();
    let mut diagnostic = Diagnostic::error(
        Some(node.origin.clone()),
        format!("invalid value {} for `{name}`", shown(node)),
    )
    .with_help(format!("use one of {}", listed.join(", ")));
    if let Some(close) = node
        .as_str()
        .and_then(|text| crate::suggest::closest(text, choices.iter().copied()))
    {
        diagnostic = diagnostic.with_label(format!("did you mean \"{close}\"?"));
    }
    diagnostic
}

/// Explains what a value with a `pattern` in the schema must look like.
fn pattern_help(path: &[PathSegment]) -> String {
    let field = path.iter().rev().find_map(|segment| match segment {
        PathSegment::Key(key) => Some(key.as_str()),
        PathSegment::Index(_) => None,
    });
    let section = match path.first() {
        Some(PathSegment::Key(key)) => key.as_str(),
        _ => "",
    };
    match (section, field.unwrap_or("")) {
        ("k3s", "version") => "use an exact k3s release tag such as \"v1.33.5+k3s1\"".into(),
        ("cni", "version") => "use an exact CNI plugins release tag such as \"v1.6.2\"".into(),
        (_, "amd64" | "arm64" | "arm") => {
            "use the 64 lowercase hex digits of a SHA-256 digest".into()
        }
        (_, "symlinks" | "plugins") => {
            "use a plain file name of letters, digits, `.`, `_`, `+` and `-`".into()
        }
        ("download", "mirror") => "use a URL starting with https://, http:// or file://".into(),
        ("config", _) => "use a Go duration such as \"10m0s\" or \"1h30m\"".into(),
        _ => "use an absolute path, starting with `/`".into(),
    }
}

/// Returns the keys the schema allows in the table at `path`.
fn allowed_keys(path: &[PathSegment]) -> Vec<String> {
    let root = schema::profile_schema();
    let mut current = root;
    for segment in path {
        current = resolve_reference(root, current);
        current = match segment {
            PathSegment::Key(key) => &current["properties"][key],
            PathSegment::Index(_) => &current["items"],
        };
    }
    resolve_reference(root, current)["properties"]
        .as_object()
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}

fn resolve_reference<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => root
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or(schema),
        None => schema,
    }
}

/// Writes a path the way a profile author reads it: `k3s.version`, `mount[0].type`.
pub fn dotted(path: &[PathSegment]) -> String {
    let mut text = String::new();
    for segment in path {
        match segment {
            PathSegment::Key(key) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            PathSegment::Index(index) => {
                let _ = write!(text, "[{index}]");
            }
        }
    }
    text
}

fn article(json_type: &str) -> &'static str {
    match json_type {
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean",
        "array" => "an array",
        "object" => "a table",
        _ => "another type",
    }
}

/// Shows a scalar value in TOML syntax for a message.
fn shown(node: &Node) -> String {
    match node.as_str() {
        Some(text) => format!("{:?}", crate::render::mask_passwords(text)),
        None => node.type_name().to_string(),
    }
}

/// Returns true when the value contains a URL password, which the source line would show.
fn holds_password(node: &Node) -> bool {
    node.as_str()
        .is_some_and(|text| crate::render::mask_passwords(text) != text)
}
