//! Rendering the k3s config file from `templates/config.yaml.hbs`, and showing changes to it
//! with secrets hidden.

pub mod yaml;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::OnceLock;

use handlebars::Handlebars;
use serde::Serialize;

use crate::profile::check::SECRET_KEYS;
use crate::profile::spec::{ConfigValue, Spec};

const TEMPLATE: &str = include_str!("../../templates/config.yaml.hbs");

/// The template failed to render; the template is compiled in, so this is a bug in k3sprov.
#[derive(Debug, thiserror::Error)]
#[error("failed to render the k3s config file from the compiled-in template")]
pub struct RenderError(#[source] Box<handlebars::RenderError>);

fn registry() -> &'static Handlebars<'static> {
    static REGISTRY: OnceLock<Handlebars<'static>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        // Values arrive as finished YAML text, so the default HTML escaping must not touch them.
        registry.register_escape_fn(handlebars::no_escape);
        registry
            .register_template_string("config", TEMPLATE)
            .expect("the compiled-in config template parses");
        registry
    })
}

#[derive(Serialize)]
struct TemplateData {
    profile: String,
    entries: Vec<TemplateEntry>,
}

/// One key, with either a scalar or the items of a block sequence, already in YAML syntax.
#[derive(Serialize)]
struct TemplateEntry {
    key: String,
    scalar: String,
    items: Vec<String>,
}

/// Renders the k3s config file for `spec`.
pub fn config_file(spec: &Spec) -> Result<String, RenderError> {
    let entries = spec
        .config
        .iter()
        .map(|entry| {
            let (scalar, items) = match &entry.value {
                ConfigValue::Bool(flag) => (flag.to_string(), Vec::new()),
                ConfigValue::Int(number) => (number.to_string(), Vec::new()),
                ConfigValue::String(text) => (yaml::quote(text), Vec::new()),
                ConfigValue::List(items) if items.is_empty() => ("[]".to_string(), Vec::new()),
                ConfigValue::List(items) => (
                    String::new(),
                    items.iter().map(|item| yaml::quote(item)).collect(),
                ),
            };
            TemplateEntry {
                key: entry.key.clone(),
                scalar,
                items,
            }
        })
        .collect();
    let data = TemplateData {
        profile: yaml::quote(&spec.label),
        entries,
    };
    registry()
        .render("config", &data)
        .map_err(|error| RenderError(Box::new(error)))
}

/// Replaces the values of secret keys (`token` and the like) in YAML text with `<redacted>`,
/// and the password of any URL with credentials with `****`.
///
/// Works line by line on top-level keys, and also hides the indented lines that continue a
/// secret's value, so a block scalar on disk does not leak either. Keys in `changed` are
/// marked `<redacted, changed>`, so a diff still shows that a secret changed.
fn redact(text: &str, changed: &HashSet<String>) -> String {
    let mut out = String::with_capacity(text.len());
    for (key, block) in split_top_level(text) {
        match key {
            Some(key) if changed.contains(key) => {
                let _ = writeln!(out, "{key}: <redacted, changed>");
            }
            Some(key) => {
                let _ = writeln!(out, "{key}: <redacted>");
            }
            None => out.push_str(&mask_passwords(block)),
        }
    }
    out
}

/// Splits YAML text into top-level entries: each secret key with the lines that continue its
/// value, and runs of other lines (with `None`).
fn split_top_level(text: &str) -> Vec<(Option<&str>, &str)> {
    let mut parts: Vec<(Option<&str>, &str)> = Vec::new();
    let mut start = 0;
    let mut current: Option<&str> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let continues = line.starts_with([' ', '\t']) || line.starts_with("- ");
        let key = secret_key(line);
        let boundary = key.is_some() || (current.is_some() && !continues);
        if boundary && offset > start {
            parts.push((current, &text[start..offset]));
            start = offset;
        }
        if boundary {
            current = key;
        }
        offset += line.len();
    }
    if offset > start {
        parts.push((current, &text[start..offset]));
    }
    parts
}

/// Returns the secret keys whose values differ between `old` and `new`, including secrets
/// that only one of them has.
fn changed_secrets(old: &str, new: &str) -> HashSet<String> {
    let secrets = |text| -> Vec<(String, String)> {
        split_top_level(text)
            .into_iter()
            .filter_map(|(key, block)| key.map(|key| (key.to_string(), block.to_string())))
            .collect()
    };
    let (old, new) = (secrets(old), secrets(new));
    let mut changed = HashSet::new();
    for (key, block) in old.iter().chain(&new) {
        let in_old = old
            .iter()
            .any(|(other, value)| other == key && value == block);
        let in_new = new
            .iter()
            .any(|(other, value)| other == key && value == block);
        if !(in_old && in_new) {
            changed.insert(key.clone());
        }
    }
    changed
}

/// Hides the password of URLs such as `http://user:password@host`.
///
/// # Panics
///
/// Never: the pattern is a constant that compiles.
pub fn mask_passwords(text: &str) -> std::borrow::Cow<'_, str> {
    static CREDENTIALS: OnceLock<regex::Regex> = OnceLock::new();
    let pattern = CREDENTIALS.get_or_init(|| {
        regex::Regex::new(r#"(://[^/\s:@"']*):[^@/\s"']*@"#).expect("the pattern is valid")
    });
    pattern.replace_all(text, "$1:****@")
}

fn secret_key(line: &str) -> Option<&str> {
    let (key, _) = line.split_once(':')?;
    let key = key.trim_end();
    let bare = key.trim_matches(['"', '\'']);
    SECRET_KEYS.contains(&bare).then_some(key)
}

/// Returns a unified diff from `old` to `new`, labelled with `path`, with secrets redacted in
/// both. `old` is `None` when the file does not exist yet.
pub fn diff(path: &str, old: Option<&str>, new: &str) -> String {
    let changed = changed_secrets(old.unwrap_or_default(), new);
    let old_text = old
        .map(|text| redact(text, &HashSet::new()))
        .unwrap_or_default();
    let new_text = redact(new, &changed);
    let old_label = if old.is_some() { path } else { "/dev/null" };
    similar::TextDiff::from_lines(&old_text, &new_text)
        .unified_diff()
        .context_radius(3)
        .header(old_label, path)
        .to_string()
}

#[cfg(test)]
mod tests;
