//! The k3s command-line flags that `[config]` keys are checked against.
//!
//! The two tables were read from the source of k3s v1.33.5+k3s1 and are compiled into the binary,
//! so validation works offline. `k3s server` skips unknown config keys with a warning, while
//! `k3s agent` exits on them, which is why keys are checked against the flags of the profile's role.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

const SERVER_TABLE: &str = include_str!("k3s-server-flags.tsv");
const AGENT_TABLE: &str = include_str!("k3s-agent-flags.tsv");

/// The k3s subcommand a profile configures: `server` (control plane, and by default a kubelet
/// too) or `agent` (a worker that joins a server).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    Server,
    Agent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Agent => "agent",
        }
    }
}

/// The value type of a flag, as k3s's flag parser reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagType {
    Bool,
    Int,
    String,
    /// A repeatable flag: a list of strings, or a single string.
    StringSlice,
    /// A Go duration such as `10m0s`.
    Duration,
}

impl FlagType {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "bool" => Some(Self::Bool),
            "int" => Some(Self::Int),
            "string" => Some(Self::String),
            "string-slice" => Some(Self::StringSlice),
            "duration" => Some(Self::Duration),
            _ => None,
        }
    }

    /// Names the expected TOML type, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Bool => "a boolean",
            Self::Int => "an integer",
            Self::String => "a string",
            Self::StringSlice => "a string or an array of strings",
            Self::Duration => "a duration string such as \"10m0s\"",
        }
    }
}

/// One k3s flag.
#[derive(Debug)]
pub struct Flag {
    pub name: &'static str,
    pub value_type: FlagType,
    pub default: &'static str,
    pub usage: &'static str,
    /// Hidden or experimental flags work, but `k3s --help` does not list them.
    pub hidden: bool,
}

/// Returns every flag of `role`, in the order k3s declares them.
pub fn flags(role: Role) -> &'static [Flag] {
    static SERVER: OnceLock<Vec<Flag>> = OnceLock::new();
    static AGENT: OnceLock<Vec<Flag>> = OnceLock::new();
    match role {
        Role::Server => SERVER.get_or_init(|| parse_table(SERVER_TABLE)),
        Role::Agent => AGENT.get_or_init(|| parse_table(AGENT_TABLE)),
    }
}

/// Finds the flag `name` of `role`.
pub fn find(role: Role, name: &str) -> Option<&'static Flag> {
    flags(role).iter().find(|flag| flag.name == name)
}

/// Finds `name` among the flags of either role.
pub fn find_any(name: &str) -> Option<&'static Flag> {
    find(Role::Server, name).or_else(|| find(Role::Agent, name))
}

/// Returns the flag of `role` whose name is closest to `name`, if one is close enough to be a typo.
pub fn suggest(role: Role, name: &str) -> Option<&'static str> {
    // Flag names are lower case, so `TLS-SAN` is a typo of `tls-san` too.
    crate::suggest::closest(
        &name.to_lowercase(),
        flags(role).iter().map(|flag| flag.name),
    )
}

/// Parses a table with the columns name, type, default, usage, status, aliases and env.
///
/// The tables are compiled in, so a malformed row is a bug in this repository and panics in tests.
fn parse_table(table: &'static str) -> Vec<Flag> {
    table
        .lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let columns: Vec<&'static str> = line.split('\t').collect();
            let value_type = FlagType::parse(columns[1])
                .unwrap_or_else(|| panic!("unknown flag type in compiled-in table: {line}"));
            Flag {
                name: columns[0],
                value_type,
                default: columns[2],
                usage: columns[3],
                hidden: columns[4].contains("hidden") || columns[4].contains("experimental"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_parse_completely() {
        assert_eq!(flags(Role::Server).len(), SERVER_TABLE.lines().count() - 1);
        assert_eq!(flags(Role::Agent).len(), AGENT_TABLE.lines().count() - 1);
    }

    #[test]
    fn server_only_flag_is_missing_for_agent() {
        assert!(find(Role::Server, "disable").is_some());
        assert!(find(Role::Agent, "disable").is_none());
        assert_eq!(
            find(Role::Agent, "kubelet-arg").unwrap().value_type,
            FlagType::StringSlice
        );
    }

    #[test]
    fn typo_gets_suggestion() {
        assert_eq!(suggest(Role::Server, "snapshoter"), Some("snapshotter"));
        assert_eq!(suggest(Role::Server, "zzzzzzzz"), None);
    }
}
