//! Checks of `[config]`: flags of the profile's role, secrets and NUL characters.

use super::{Checker, SECRET_KEYS, key};
use crate::diagnostic::Diagnostic;
use crate::flags::{self, Role};
use crate::profile::spec::{ConfigEntry, ConfigValue};
use crate::profile::tree::Origin;

impl Checker<'_> {
    pub(super) fn config(
        &mut self,
        config: indexmap::IndexMap<String, crate::profile::model::ConfigValue>,
        role: Role,
    ) -> Vec<ConfigEntry> {
        let mut entries = Vec::new();
        for (name, value) in config {
            let path = [key("config"), key(&name)];
            let Some(flag) = flags::find(role, &name) else {
                let origin = self.key_origin(&path);
                let inherited = origin
                    .as_ref()
                    .is_some_and(|origin| origin.file != self.top);
                self.diagnostics
                    .push(wrong_role(&name, role, origin, inherited));
                continue;
            };
            if SECRET_KEYS.contains(&name.as_str()) {
                self.diagnostics
                    .push(secret_warning(&name, self.origin_at(&path)));
            }
            if let (&"data-dir", crate::profile::model::ConfigValue::String(path)) =
                (&name.as_str(), &value)
                && !path.starts_with('/')
            {
                self.error(
                    Diagnostic::error(self.origin_at(&path_of(&name)), format!("`data-dir` must be an absolute path, not {path:?}"))
                        .with_help("k3s would resolve a relative path against the directory it starts in; write it from `/`"),
                );
            }
            if contains_nul(&value) {
                self.error(
                    Diagnostic::error(
                        self.origin_at(&path),
                        format!("the value of `{name}` contains a NUL character"),
                    )
                    .with_help(
                        "k3s reads its flags as C strings, which end at NUL; remove the character",
                    ),
                );
            }
            entries.push(ConfigEntry {
                value: ConfigValue::for_flag(value, flag.value_type),
                key: name,
            });
        }
        if role == Role::Agent && !entries.iter().any(|entry| entry.key == "server") {
            self.diagnostics.push(
                Diagnostic::warning(self.origin(&["k3s", "role"]), "an agent profile without `server`")
                    .with_help("`k3s agent` needs the server's URL: set `server` under [config], or K3S_URL in k3s's environment"),
            );
        }
        entries
    }
}

/// Warns about a secret written into the profile itself.
fn secret_warning(name: &str, origin: Option<Origin>) -> Diagnostic {
    let file_key = format!("{name}-file");
    let help = if flags::find_any(&file_key).is_some() {
        format!(
            "profiles are often kept in public repositories; put the secret in a file and set `{file_key}` to its path"
        )
    } else {
        "profiles are often kept in public repositories; keep this one private".to_string()
    };
    Diagnostic::warning(origin, format!("`{name}` holds a secret in the profile"))
        .with_help(help)
        .with_hidden_source()
}

fn path_of(name: &str) -> [crate::profile::tree::PathSegment; 2] {
    [key("config"), key(name)]
}

fn contains_nul(value: &crate::profile::model::ConfigValue) -> bool {
    use crate::profile::model::ConfigValue as Raw;
    match value {
        Raw::String(text) => text.contains('\0'),
        Raw::List(items) => items.iter().any(|item| item.contains('\0')),
        Raw::Bool(_) | Raw::Int(_) => false,
    }
}

/// Reports a `[config]` key that is a flag of the other role. One inherited from a parent
/// profile is left out with a warning, because the child cannot remove it; one written in the
/// profile itself is an error.
fn wrong_role(name: &str, role: Role, origin: Option<Origin>, inherited: bool) -> Diagnostic {
    if inherited {
        let other = match role {
            Role::Agent => "server",
            Role::Server => "agent",
        };
        return Diagnostic::warning(
            origin,
            format!(
                "leaving out `{name}`, inherited from a parent profile: it is a k3s {other} flag, and this profile's role is {}",
                role.as_str()
            ),
        );
    }
    match role {
        Role::Agent => Diagnostic::error(
            origin,
            format!("`{name}` is a k3s server flag, not an agent flag"),
        )
        .with_label("`k3s agent` exits on keys it does not know")
        .with_help("remove it, or set `role = \"server\"` under [k3s]"),
        Role::Server => Diagnostic::error(
            origin,
            format!("`{name}` is a k3s agent flag, not a server flag"),
        )
        .with_label("`k3s server` skips keys it does not know")
        .with_help("remove it, or set `role = \"agent\"` under [k3s]"),
    }
}
