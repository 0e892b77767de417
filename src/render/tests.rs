//! Tests of config rendering, redaction and diffs.

use super::*;

#[test]
fn redact_hides_secret_values() {
    let text = "token: \"s3cret\"\nsnapshotter: \"native\"\ndatastore-endpoint: |\n  postgres://u:p@h\nnode-name: \"a\"\n";
    let redacted = redact(text, &HashSet::new());
    assert!(!redacted.contains("s3cret"), "{redacted}");
    assert!(!redacted.contains("u:p@h"), "{redacted}");
    assert!(redacted.contains("token: <redacted>\n"));
    assert!(redacted.contains("snapshotter: \"native\"\n"));
    assert!(redacted.contains("node-name: \"a\"\n"));
}

#[test]
fn changed_secret_shows_in_diff() {
    let text = diff(
        "/c.yaml",
        Some("token: \"old\"\na: 1\n"),
        "token: \"new\"\na: 1\n",
    );
    assert!(text.contains("-token: <redacted>\n"), "{text}");
    assert!(text.contains("+token: <redacted, changed>\n"), "{text}");
    assert!(!text.contains("old"), "{text}");
    assert!(!text.contains("new\""), "{text}");
}

#[test]
fn url_passwords_are_masked() {
    let text = redact(
        "etcd-s3-proxy: \"http://user:pw@127.0.0.1:3128\"\n",
        &HashSet::new(),
    );
    assert_eq!(text, "etcd-s3-proxy: \"http://user:****@127.0.0.1:3128\"\n");
}

#[test]
fn diff_of_new_file_adds_every_line() {
    let text = diff("/etc/x.yaml", None, "a: 1\nb: 2\n");
    assert!(text.contains("--- /dev/null"), "{text}");
    assert!(text.contains("+a: 1\n+b: 2\n"), "{text}");
}
