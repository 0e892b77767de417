//! Profile documents as trees whose every key and value remembers the file and span it came from.
//!
//! `extends` merges several files into one tree, and a problem found in the merged tree must still
//! point at the file and line that set the value, so origins travel with the values.

use std::ops::Range;

use indexmap::IndexMap;
use serde_json::Value;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Index of a file in a [`SourceMap`](crate::diagnostic::SourceMap).
pub type FileId = usize;

/// The file and byte range in which a key or value was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: FileId,
    pub span: Range<usize>,
}

/// A value of the merged profile document.
#[derive(Clone, Debug)]
pub struct Node {
    pub value: NodeValue,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub enum NodeValue {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    /// A TOML date-time. No profile key takes one, so it is kept only to be reported.
    Datetime(String),
    Array(Vec<Node>),
    Table(IndexMap<String, Entry>),
}

/// A table entry: the key's own origin, and its value.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key_origin: Origin,
    pub node: Node,
}

/// One step of a path into the tree: a key of a table or an index of an array.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

impl Node {
    /// Converts a parsed TOML document of file `file` into a tree.
    pub fn from_toml(table: &Spanned<DeTable<'_>>, file: FileId) -> Node {
        Node {
            value: table_value(table.get_ref(), file),
            origin: Origin {
                file,
                span: table.span(),
            },
        }
    }

    pub fn as_table(&self) -> Option<&IndexMap<String, Entry>> {
        match &self.value {
            NodeValue::Table(table) => Some(table),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::String(text) => Some(text),
            _ => None,
        }
    }

    /// Returns the entry at `key` of this table.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.as_table()?.get(key)
    }

    /// Follows `path` from this node and returns the entry or array item it ends at.
    ///
    /// The second element is the key's origin when the path ends at a table key.
    pub fn lookup(&self, path: &[PathSegment]) -> Option<(&Node, Option<&Origin>)> {
        let mut node = self;
        let mut key_origin = None;
        for segment in path {
            match (segment, &node.value) {
                (PathSegment::Key(key), NodeValue::Table(table)) => {
                    let entry = table.get(key)?;
                    key_origin = Some(&entry.key_origin);
                    node = &entry.node;
                }
                (PathSegment::Index(index), NodeValue::Array(items)) => {
                    node = items.get(*index)?;
                    key_origin = None;
                }
                _ => return None,
            }
        }
        Some((node, key_origin))
    }

    /// Names the TOML type of this value, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            NodeValue::String(_) => "a string",
            NodeValue::Integer(_) => "an integer",
            NodeValue::Float(_) => "a float",
            NodeValue::Boolean(_) => "a boolean",
            NodeValue::Datetime(_) => "a date-time",
            NodeValue::Array(_) => "an array",
            NodeValue::Table(_) => "a table",
        }
    }

    /// Converts the tree into JSON, the form the JSON Schema validator and serde read.
    pub fn to_json(&self) -> Value {
        match &self.value {
            NodeValue::String(text) | NodeValue::Datetime(text) => Value::String(text.clone()),
            NodeValue::Integer(number) => Value::from(*number),
            NodeValue::Float(number) => Value::from(*number),
            NodeValue::Boolean(flag) => Value::Bool(*flag),
            NodeValue::Array(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Table(table) => Value::Object(
                table
                    .iter()
                    .map(|(key, entry)| (key.clone(), entry.node.to_json()))
                    .collect(),
            ),
        }
    }

    /// Merges `child` over `self`: tables merge key by key, anything else in `child` replaces.
    #[must_use]
    pub fn merge(self, child: Node) -> Node {
        match (self.value, child.value) {
            (NodeValue::Table(mut parent), NodeValue::Table(overrides)) => {
                // An overridden key keeps the parent's position; new keys follow.
                for (key, entry) in overrides {
                    if let Some((index, key, base)) = parent.shift_remove_full(&key) {
                        let merged = Entry {
                            key_origin: entry.key_origin,
                            node: base.node.merge(entry.node),
                        };
                        parent.shift_insert(index, key, merged);
                    } else {
                        parent.insert(key, entry);
                    }
                }
                Node {
                    value: NodeValue::Table(parent),
                    origin: child.origin,
                }
            }
            (_, value) => Node {
                value,
                origin: child.origin,
            },
        }
    }
}

fn table_value(table: &DeTable<'_>, file: FileId) -> NodeValue {
    let entries = table
        .iter()
        .map(|(key, value)| {
            let entry = Entry {
                key_origin: Origin {
                    file,
                    span: key.span(),
                },
                node: value_node(value, file),
            };
            (key.get_ref().to_string(), entry)
        })
        .collect();
    NodeValue::Table(entries)
}

fn value_node(value: &Spanned<DeValue<'_>>, file: FileId) -> Node {
    let converted = match value.get_ref() {
        DeValue::String(text) => NodeValue::String(text.to_string()),
        DeValue::Integer(number) => integer_value(number.as_str(), number.radix()),
        DeValue::Float(number) => NodeValue::Float(number.as_str().parse().unwrap_or(f64::NAN)),
        DeValue::Boolean(flag) => NodeValue::Boolean(*flag),
        DeValue::Datetime(datetime) => NodeValue::Datetime(datetime.to_string()),
        DeValue::Array(items) => {
            NodeValue::Array(items.iter().map(|item| value_node(item, file)).collect())
        }
        DeValue::Table(table) => table_value(table, file),
    };
    Node {
        value: converted,
        origin: Origin {
            file,
            span: value.span(),
        },
    }
}

/// Converts a TOML integer. One beyond the range of i64 becomes a float, so the schema check
/// still reports it instead of dropping it.
fn integer_value(digits: &str, radix: u32) -> NodeValue {
    match i64::from_str_radix(digits, radix) {
        Ok(number) => NodeValue::Integer(number),
        Err(_) => NodeValue::Float(digits.parse().unwrap_or(f64::INFINITY)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, file: FileId) -> Node {
        Node::from_toml(&DeTable::parse(text).unwrap(), file)
    }

    #[test]
    fn merge_tables_key_by_key() {
        let parent = parse("[k3s]\nversion = \"a\"\nrole = \"server\"\n", 0);
        let child = parse("[k3s]\nrole = \"agent\"\n", 1);
        let merged = parent.merge(child);
        let role = merged.entry("k3s").unwrap().node.entry("role").unwrap();
        let version = merged.entry("k3s").unwrap().node.entry("version").unwrap();
        assert_eq!(role.node.as_str(), Some("agent"));
        assert_eq!(role.node.origin.file, 1);
        assert_eq!(version.node.origin.file, 0);
    }

    #[test]
    fn merge_keeps_parent_order() {
        let parent = parse("a = 1\nb = 2\n", 0);
        let child = parse("c = 3\na = 4\n", 1);
        let merged = parent.merge(child);
        let keys: Vec<&String> = merged.as_table().unwrap().keys().collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(merged.to_json()["a"], 4);
    }

    #[test]
    fn merge_replaces_arrays() {
        let parent = parse("list = [1, 2, 3]\n", 0);
        let child = parse("list = [4]\n", 1);
        let merged = parent.merge(child);
        assert_eq!(merged.to_json()["list"], serde_json::json!([4]));
    }

    #[test]
    fn lookup_returns_key_origin() {
        let tree = parse("[[mount]]\npath = \"/x\"\n", 3);
        let path = [
            PathSegment::Key("mount".into()),
            PathSegment::Index(0),
            PathSegment::Key("path".into()),
        ];
        let (node, key) = tree.lookup(&path).unwrap();
        assert_eq!(node.as_str(), Some("/x"));
        assert_eq!(key.unwrap().span, 10..14);
    }
}
