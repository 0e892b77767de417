//! The rendered config file read back by a YAML 1.1 parser (`PyYAML`), as k3s's go-yaml v2
//! reads it: every value must come back exactly as the profile wrote it.

use std::fmt::Write as _;
use std::process::Command;

use serde_json::{Value, json};

use crate::apply::Setup;
use crate::release_mirror::ReleaseMirror;
use crate::support::stderr;

/// Values that YAML 1.1 reads as something else when unquoted, or that need escapes.
const HOSTILE: &[&str] = &[
    "0644",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "true",
    "False",
    "null",
    "~",
    "1e3",
    "0x1f",
    "0o17",
    "12:30:00",
    "2024-01-01",
    ".inf",
    "-.nan",
    "",
    " ",
    "a: b",
    "#comment",
    "a #b",
    "- item",
    "[x]",
    "{x: 1}",
    "*alias",
    "&anchor",
    "!tag",
    "%directive",
    "@at",
    "`tick`",
    "'single'",
    "\"double\"",
    "back\\slash",
    "tab\there",
    "new\nline",
    "cr\rreturn",
    "nel\u{85}x",
    "ls\u{2028}x",
    "ps\u{2029}x",
    "bom\u{feff}x",
    "del\u{7f}x",
    "grüße",
    "日本語",
    "emoji 🚀",
    "|",
    ">",
    "---",
    "...",
    "? key",
];

/// A small deterministic generator, so failures can be reproduced from the seed.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Returns a string of up to 12 characters drawn from an alphabet of YAML trouble.
    fn string(&mut self) -> String {
        const ALPHABET: &[char] = &[
            'a', 'Z', '0', '9', ' ', ':', '#', '-', '?', '"', '\'', '\\', '\n', '\t', '{', '}',
            '[', ']', ',', '&', '*', '!', '|', '>', '%', '@', '`', '\u{85}', '\u{2028}', '\u{7f}',
            'é', '🚀', '\u{1}', '\u{1b}', '~', '.',
        ];
        let length = self.next() % 13;
        (0..length)
            .map(|_| ALPHABET[usize::try_from(self.next() % ALPHABET.len() as u64).unwrap()])
            .collect()
    }
}

/// Writes a TOML basic string, escaping quotes, backslashes and every character outside
/// printable ASCII, so the profile itself is always valid TOML.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(character),
            _ => {
                let _ = write!(out, "\\U{:08X}", u32::from(character));
            }
        }
    }
    out.push('"');
    out
}

fn parse_with_pyyaml(path: &std::path::Path) -> Value {
    let script = "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1], encoding='utf-8'))))";
    let output = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "PyYAML failed (the README's test command installs it): {}",
        stderr(&output)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn rendered_values_read_back_exactly() {
    let mut generator = Generator(0x9e37_79b9_7f4a_7c15);
    let mut labels: Vec<String> = HOSTILE.iter().map(|text| (*text).to_string()).collect();
    labels.extend((0..300).map(|_| generator.string()));
    let node_name = "on: \"yes\" # 0644\n\u{2028}end";

    let items: Vec<String> = labels.iter().map(|label| toml_string(label)).collect();
    let profile = format!(
        "extends = \"gvisor\"\nmount = []\n[config]\nnode-name = {}\nnode-label = [{}]\ncluster-init = true\nhttps-listen-port = 6443\ndisable = \"traefik\"\n",
        toml_string(node_name),
        items.join(", ")
    );
    let release = ReleaseMirror::build(1 << 12);
    let setup = Setup::new(&profile);
    let output = setup.run("apply", &release.file_url(), &[]);
    assert!(output.status.success(), "{}", stderr(&output));

    let parsed = parse_with_pyyaml(&setup.path("/etc/rancher/k3s/config.yaml"));
    assert_eq!(parsed["node-name"], json!(node_name));
    assert_eq!(parsed["node-label"], json!(labels));
    assert_eq!(parsed["cluster-init"], json!(true));
    assert_eq!(parsed["https-listen-port"], json!(6443));
    assert_eq!(parsed["disable"], json!(["traefik"]));
    assert_eq!(parsed["snapshotter"], json!("native"));
    assert_eq!(parsed["write-kubeconfig-mode"], json!("0644"));
}

#[test]
fn rendering_is_stable() {
    let release = ReleaseMirror::build(1 << 12);
    let first = Setup::new("extends = \"gvisor\"\nmount = []\n");
    let second = Setup::new("extends = \"gvisor\"\nmount = []\n");
    assert!(
        first
            .run("apply", &release.file_url(), &[])
            .status
            .success()
    );
    assert!(
        second
            .run("apply", &release.file_url(), &[])
            .status
            .success()
    );
    let text = std::fs::read_to_string(first.path("/etc/rancher/k3s/config.yaml")).unwrap();
    let expected = format!(
        "# Written by k3sprov from the profile \"{}\".\n\
         # k3sprov apply replaces this file whenever it differs from the profile.\n\
         snapshotter: \"native\"\n\
         kubelet-arg:\n  - \"local-storage-capacity-isolation=false\"\n\
         write-kubeconfig-mode: \"0644\"\n",
        std::fs::canonicalize(&first.profile).unwrap().display()
    );
    assert_eq!(text, expected);
    assert!(text.starts_with("# Written by k3sprov"));
    let other = std::fs::read_to_string(second.path("/etc/rancher/k3s/config.yaml")).unwrap();
    assert_eq!(
        text.lines().skip(1).collect::<Vec<_>>(),
        other.lines().skip(1).collect::<Vec<_>>()
    );
}
