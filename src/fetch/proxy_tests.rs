use std::collections::HashMap;

use super::*;

fn env(pairs: &[(&str, &str)]) -> ProxyEnv {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    ProxyEnv::from_lookup(|name| map.get(name).cloned())
}

fn proxy_for(url: &str, pairs: &[(&str, &str)]) -> Option<String> {
    let url = Url::parse(url).unwrap();
    select_proxy(&url, &env(pairs))
        .unwrap()
        .map(|proxy| format!("{}={}", proxy.variable, proxy.url))
}

fn bypassed(no_proxy: &str, url: &str) -> bool {
    NoProxy::parse(no_proxy).matches(&Url::parse(url).unwrap())
}

#[test]
fn https_url_uses_https_proxy() {
    let pairs = [
        ("https_proxy", "http://secure:3128"),
        ("http_proxy", "http://plain:3128"),
    ];
    assert_eq!(
        proxy_for("https://github.com/x", &pairs).as_deref(),
        Some("https_proxy=http://secure:3128/")
    );
}

#[test]
fn http_url_uses_http_proxy_not_https_proxy() {
    let only_https = [("HTTPS_PROXY", "http://secure:3128")];
    assert_eq!(proxy_for("http://mirror/x", &only_https), None);
    let both = [("HTTPS_PROXY", "http://s:1"), ("http_proxy", "http://p:2")];
    assert_eq!(
        proxy_for("http://mirror/x", &both).as_deref(),
        Some("http_proxy=http://p:2/")
    );
}

#[test]
fn lower_case_wins_over_upper_case() {
    let pairs = [
        ("https_proxy", "http://low:1"),
        ("HTTPS_PROXY", "http://up:2"),
    ];
    assert_eq!(
        proxy_for("https://h/", &pairs).as_deref(),
        Some("https_proxy=http://low:1/")
    );
    let pairs = [
        ("http_proxy", "http://low:1"),
        ("HTTP_PROXY", "http://up:2"),
    ];
    assert_eq!(
        proxy_for("http://h/", &pairs).as_deref(),
        Some("http_proxy=http://low:1/")
    );
}

#[test]
fn upper_case_http_proxy_is_a_fallback() {
    let pairs = [("HTTP_PROXY", "http://up:2")];
    assert_eq!(
        proxy_for("http://h/", &pairs).as_deref(),
        Some("HTTP_PROXY=http://up:2/")
    );
}

#[test]
fn all_proxy_is_the_fallback_for_both_schemes() {
    let pairs = [("ALL_PROXY", "http://every:9")];
    assert_eq!(
        proxy_for("https://h/", &pairs).as_deref(),
        Some("ALL_PROXY=http://every:9/")
    );
    assert_eq!(
        proxy_for("http://h/", &pairs).as_deref(),
        Some("ALL_PROXY=http://every:9/")
    );
    let pairs = [
        ("all_proxy", "http://every:9"),
        ("https_proxy", "http://s:1"),
    ];
    assert_eq!(
        proxy_for("https://h/", &pairs).as_deref(),
        Some("https_proxy=http://s:1/")
    );
}

#[test]
fn empty_variable_counts_as_unset() {
    let pairs = [("https_proxy", "  "), ("HTTPS_PROXY", "http://up:2")];
    assert_eq!(
        proxy_for("https://h/", &pairs).as_deref(),
        Some("HTTPS_PROXY=http://up:2/")
    );
}

#[test]
fn file_url_never_uses_a_proxy() {
    let pairs = [("ALL_PROXY", "http://every:9")];
    assert_eq!(proxy_for("file:///srv/mirror/k3s", &pairs), None);
}

#[test]
fn proxy_without_scheme_or_port_gets_curl_defaults() {
    assert_eq!(
        proxy_for("https://h/", &[("https_proxy", "proxy.corp")]).as_deref(),
        Some("https_proxy=http://proxy.corp:1080/")
    );
    assert_eq!(
        proxy_for("https://h/", &[("https_proxy", "http://proxy.corp:80")]).as_deref(),
        Some("https_proxy=http://proxy.corp/")
    );
    assert_eq!(
        proxy_for("https://h/", &[("https_proxy", "https://proxy.corp")]).as_deref(),
        Some("https_proxy=https://proxy.corp/")
    );
}

#[test]
fn socks_proxy_is_rejected_with_the_variable_name() {
    let url = Url::parse("https://h/").unwrap();
    let error = select_proxy(&url, &env(&[("ALL_PROXY", "socks5://user:pw@proxy:1080")]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("ALL_PROXY"), "{error}");
    assert!(error.contains("socks5"), "{error}");
    assert!(!error.contains("pw@"), "the password leaked: {error}");
}

#[test]
fn no_proxy_bypasses_selection() {
    let pairs = [
        ("https_proxy", "http://p:1"),
        ("no_proxy", "github.com, 10.0.0.0/8"),
    ];
    assert_eq!(proxy_for("https://api.github.com/x", &pairs), None);
    assert_eq!(proxy_for("https://10.1.2.3/x", &pairs), None);
    assert!(proxy_for("https://example.org/x", &pairs).is_some());
}

#[test]
fn lower_case_no_proxy_wins() {
    let pairs = [
        ("https_proxy", "http://p:1"),
        ("no_proxy", "a.example"),
        ("NO_PROXY", "b.example"),
    ];
    assert_eq!(proxy_for("https://a.example/", &pairs), None);
    assert!(proxy_for("https://b.example/", &pairs).is_some());
}

#[test]
fn star_matches_everything() {
    assert!(bypassed("*", "https://anything.example/"));
    assert!(bypassed("foo, * ", "http://10.0.0.1/"));
}

#[test]
fn domain_matches_itself_and_subdomains() {
    for entry in [
        "example.com",
        ".example.com",
        "*.example.com",
        " EXAMPLE.com ",
    ] {
        assert!(bypassed(entry, "https://example.com/"), "{entry}");
        assert!(bypassed(entry, "https://a.b.example.com/"), "{entry}");
        assert!(!bypassed(entry, "https://badexample.com/"), "{entry}");
        assert!(!bypassed(entry, "https://example.com.evil/"), "{entry}");
    }
}

#[test]
fn trailing_dots_are_ignored() {
    assert!(bypassed("example.com.", "https://example.com/"));
    assert!(bypassed("example.com", "https://www.example.com./"));
}

#[test]
fn entries_are_trimmed() {
    assert!(bypassed("localhost, 127.0.0.1", "http://127.0.0.1:8080/"));
    assert!(bypassed(" localhost ,\t127.0.0.1 ", "http://localhost/"));
}

#[test]
fn address_matches_exactly() {
    assert!(bypassed("192.168.1.10", "http://192.168.1.10/"));
    assert!(!bypassed("192.168.1.10", "http://192.168.1.100/"));
    assert!(!bypassed("10.0.", "http://10.0.3.4/"));
    assert!(bypassed("::1", "http://[::1]:8080/"));
    assert!(bypassed("[::1]", "http://[::1]/"));
}

#[test]
fn cidr_ranges_match_addresses_inside() {
    assert!(bypassed("127.0.0.0/8", "http://127.4.5.6/"));
    assert!(!bypassed("127.0.0.0/8", "http://128.0.0.1/"));
    assert!(bypassed("10.1.0.0/16", "http://10.1.255.1/"));
    assert!(!bypassed("10.1.0.0/16", "http://10.2.0.1/"));
    assert!(bypassed("0.0.0.0/0", "http://8.8.8.8/"));
    assert!(bypassed("::1/128", "http://[::1]/"));
    assert!(bypassed("fd00::/8", "http://[fd12::1]/"));
    assert!(!bypassed("fd00::/8", "http://[fe80::1]/"));
    assert!(!bypassed("10.0.0.0/8", "http://[::1]/"));
}

#[test]
fn ranges_never_match_names() {
    assert!(!bypassed("0.0.0.0/0", "http://localhost/"));
}

#[test]
fn invalid_entries_are_skipped() {
    assert!(!bypassed("10.0.0.0/33, /8, ,", "http://10.0.0.1/"));
    assert!(bypassed("10.0.0.0/33, 10.0.0.1", "http://10.0.0.1/"));
}

#[test]
fn port_restricts_an_entry() {
    assert!(bypassed("example.com:8443", "https://example.com:8443/"));
    assert!(!bypassed("example.com:8443", "https://example.com/"));
    assert!(bypassed("example.com:443", "https://example.com/"));
    assert!(bypassed("127.0.0.1:80", "http://127.0.0.1/"));
    assert!(bypassed("[::1]:8080", "http://[::1]:8080/"));
    assert!(!bypassed("[::1]:8080", "http://[::1]:9090/"));
}
