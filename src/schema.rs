//! The JSON Schema of profiles, generated from the serde types in [`crate::profile::model`].
//!
//! `[config]` gets one property per k3s flag, with its type and usage text, so editors that read
//! the schema complete flag names. The schema lists the flags of both roles; the role-specific
//! check happens in validation, where the role is known.

use std::fmt::Write as _;
use std::sync::OnceLock;

use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value, json};

use crate::flags::{self, Flag, FlagType, Role};
use crate::profile::model::ProfileToml;

/// Pattern of a Go duration as k3s's flag parser accepts it, such as `10m0s` or `1h30m`.
pub const DURATION_PATTERN: &str = r"^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$";

/// Returns the profile schema as JSON.
pub fn profile_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut value = schemars::schema_for!(ProfileToml).to_value();
        strip_null(&mut value);
        value["$id"] = json!("https://k3sprov.invalid/schema/profile.schema.json");
        value
    })
}

/// Returns the schema text as `k3sprov schema` prints it and `schema/profile.schema.json` keeps it.
pub fn profile_schema_text() -> String {
    // The alternate form of a JSON value's Display is pretty-printed.
    format!("{:#}\n", profile_schema())
}

/// Removes the `null` alternative that schemars gives every `Option` field.
///
/// TOML has no null, so an absent key is the only way to leave a field unset, and a schema that
/// admits null would only make editors offer it.
fn strip_null(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if let Some(Value::Array(types)) = object.get_mut("type") {
                types.retain(|name| name != "null");
                if types.len() == 1 {
                    let single = types.remove(0);
                    object.insert("type".into(), single);
                }
            }
            if let Some(Value::Array(alternatives)) = object.get_mut("anyOf") {
                alternatives.retain(|alternative| *alternative != json!({ "type": "null" }));
                if alternatives.len() == 1 {
                    let Some(Value::Object(single)) = alternatives.pop() else {
                        unreachable!("one alternative was just counted");
                    };
                    object.remove("anyOf");
                    object.extend(single);
                }
            }
            object.values_mut().for_each(strip_null);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}

/// Builds the schema of `[config]`: one property per flag of either role.
pub fn config_schema(_generator: &mut SchemaGenerator) -> Schema {
    let mut properties = Map::new();
    for flag in flags::flags(Role::Server)
        .iter()
        .chain(flags::flags(Role::Agent))
    {
        if properties.contains_key(flag.name) {
            continue;
        }
        properties.insert(flag.name.to_string(), flag_schema(flag));
    }
    json_schema!({
        "description": "The k3s config file's content. Keys are k3s flag names without the \
            leading dashes; a list becomes one flag per item.",
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    })
}

fn flag_schema(flag: &Flag) -> Value {
    let roles = match (
        flags::find(Role::Server, flag.name).is_some(),
        flags::find(Role::Agent, flag.name).is_some(),
    ) {
        (true, true) => "server and agent",
        (true, false) => "server only",
        _ => "agent only",
    };
    let mut description = format!("{} [{roles}]", flag.usage);
    if !flag.default.is_empty() {
        let _ = write!(description, " (k3s default: {})", flag.default);
    }
    let mut schema = match flag.value_type {
        FlagType::Bool => json!({ "type": "boolean" }),
        FlagType::Int => json!({ "type": "integer" }),
        FlagType::String => json!({ "type": "string" }),
        FlagType::Duration => json!({ "type": "string", "pattern": DURATION_PATTERN }),
        FlagType::StringSlice => json!({
            "anyOf": [
                { "type": "string" },
                { "type": "array", "items": { "type": "string" } },
            ]
        }),
    };
    schema["description"] = Value::String(description);
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lists_every_flag() {
        let schema = profile_schema();
        let properties = &schema["properties"]["config"]["properties"];
        assert_eq!(properties["snapshotter"]["type"], "string");
        assert_eq!(properties["cluster-init"]["type"], "boolean");
        assert!(properties["disable-apiserver-lb"].is_object());
        let server_count = flags::flags(Role::Server).len();
        assert!(properties.as_object().unwrap().len() > server_count);
    }

    #[test]
    fn duration_pattern_matches_go_durations() {
        let pattern = regex::Regex::new(DURATION_PATTERN).unwrap();
        for good in ["0", "10m0s", "1h30m", "1.5h", "300ms"] {
            assert!(pattern.is_match(good), "{good}");
        }
        for bad in ["", "10", "ten minutes", "5m-"] {
            assert!(!pattern.is_match(bad), "{bad}");
        }
    }
}
