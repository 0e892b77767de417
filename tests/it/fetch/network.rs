//! TLS trust and proxy selection, end to end.

use std::process::Command;

use super::*;

/// The variable through which a parent test hands its mirror URL to a child process.
const CHILD_URL: &str = "K3SPROV_TEST_CHILD_URL";

fn tls_mirror(root: &Path, ca: &TestCa) -> (Mirror, Vec<u8>) {
    let binary = b"binary served over TLS".to_vec();
    write_asset(root, K3S, TAG, "k3s", &binary);
    (Mirror::start_tls(root, ca), binary)
}

#[test]
fn private_ca_is_rejected_without_trust() {
    let root = tempfile::tempdir().unwrap();
    let ca = TestCa::generate();
    let (mirror, _) = tls_mirror(root.path(), &ca);
    let url = k3s_url(&mirror.url(), TAG, "k3s");

    let error = client().download(&url, read_all).unwrap_err();

    assert!(
        matches!(error, DownloadError::Transfer { attempts: 1, .. }),
        "{error:?}"
    );
    let text = chain(&error);
    assert!(text.contains("TLS connection"), "{text}");
    assert!(text.contains("ca_file"), "{text}");
}

#[test]
fn ca_file_adds_trust() {
    let root = tempfile::tempdir().unwrap();
    let ca = TestCa::generate();
    let (mirror, binary) = tls_mirror(root.path(), &ca);
    mirror.redirect_assets(true);
    let mut settings = settings();
    settings.ca_file = Some(ca.write_ca_file(root.path()));

    let bytes = Client::new(settings)
        .unwrap()
        .download(&k3s_url(&mirror.url(), TAG, "k3s"), read_all)
        .unwrap();

    assert_eq!(bytes, binary);
}

#[test]
fn ssl_cert_file_adds_trust() {
    let root = tempfile::tempdir().unwrap();
    let ca = TestCa::generate();
    let (mirror, _) = tls_mirror(root.path(), &ca);
    let url = k3s_url(&mirror.url(), TAG, "k3s");

    // The platform verifier reads SSL_CERT_FILE from the process environment, which tests
    // running in parallel share, so the download runs in a child process of this test binary.
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "fetch::network::download_in_child_process",
            "--ignored",
        ])
        .env("SSL_CERT_FILE", ca.write_ca_file(root.path()))
        .env_remove("SSL_CERT_DIR")
        .env(CHILD_URL, url.as_str())
        .output()
        .unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    assert_eq!(mirror.requests().len(), 1);
}

#[test]
#[ignore = "run by ssl_cert_file_adds_trust in a child process with SSL_CERT_FILE set"]
fn download_in_child_process() {
    let url = Url::parse(&std::env::var(CHILD_URL).unwrap()).unwrap();
    let bytes = client().download(&url, read_all).unwrap();
    assert_eq!(bytes, b"binary served over TLS");
}

#[test]
fn missing_ca_file_fails_client_creation() {
    let mut settings = settings();
    settings.ca_file = Some("/nonexistent/k3sprov-ca.pem".into());
    let error = Client::new(settings)
        .err()
        .expect("a missing CA file is an error");
    assert!(
        error.to_string().contains("/nonexistent/k3sprov-ca.pem"),
        "{error}"
    );
}

#[test]
fn https_proxy_tunnels_tls_download() {
    let root = tempfile::tempdir().unwrap();
    let ca = TestCa::generate();
    let (mirror, binary) = tls_mirror(root.path(), &ca);
    let proxy = ConnectProxy::start();
    let mut settings = settings();
    settings.ca_file = Some(ca.write_ca_file(root.path()));
    settings.proxy_env = proxy_env(&[("https_proxy", proxy.url())]);

    let bytes = Client::new(settings)
        .unwrap()
        .download(&k3s_url(&mirror.url(), TAG, "k3s"), read_all)
        .unwrap();

    assert_eq!(bytes, binary);
    let port = mirror.url().port().unwrap();
    assert_eq!(proxy.tunnelled(), [format!("127.0.0.1:{port}")]);
}

#[test]
fn http_proxy_sees_every_redirect_hop() {
    let root = tempfile::tempdir().unwrap();
    let (mirror, binary) = k3s_mirror(root.path());
    mirror.redirect_assets(true);
    let proxy = ConnectProxy::start();
    let mut settings = settings();
    settings.proxy_env = proxy_env(&[("http_proxy", proxy.url())]);

    let bytes = Client::new(settings)
        .unwrap()
        .download(&k3s_url(&mirror.url(), TAG, "k3s"), read_all)
        .unwrap();

    assert_eq!(bytes, binary);
    let primary = mirror.url().port().unwrap();
    let assets = mirror.assets_url().port().unwrap();
    assert_eq!(
        proxy.tunnelled(),
        [
            format!("127.0.0.1:{primary}"),
            format!("127.0.0.1:{assets}")
        ]
    );
}

#[test]
fn https_proxy_is_not_used_for_http() {
    let root = tempfile::tempdir().unwrap();
    let (mirror, _) = k3s_mirror(root.path());
    let proxy = ConnectProxy::start();
    let mut settings = settings();
    settings.proxy_env = proxy_env(&[("HTTPS_PROXY", proxy.url())]);

    Client::new(settings)
        .unwrap()
        .download(&k3s_url(&mirror.url(), TAG, "k3s"), read_all)
        .unwrap();

    assert!(proxy.tunnelled().is_empty(), "{:?}", proxy.tunnelled());
}

#[test]
fn no_proxy_cidr_with_spaces_bypasses_proxy() {
    let root = tempfile::tempdir().unwrap();
    let (mirror, binary) = k3s_mirror(root.path());
    mirror.redirect_assets(true);
    let proxy = ConnectProxy::start();
    let mut settings = settings();
    settings.proxy_env = proxy_env(&[
        ("http_proxy", proxy.url()),
        ("NO_PROXY", " localhost , 127.0.0.0/8 ".to_owned()),
    ]);

    let bytes = Client::new(settings)
        .unwrap()
        .download(&k3s_url(&mirror.url(), TAG, "k3s"), read_all)
        .unwrap();

    assert_eq!(bytes, binary);
    assert!(proxy.tunnelled().is_empty(), "{:?}", proxy.tunnelled());
}

#[test]
fn no_proxy_is_checked_for_each_hop() {
    let root = tempfile::tempdir().unwrap();
    let (mirror, _) = k3s_mirror(root.path());
    mirror.redirect_assets(true);
    let proxy = ConnectProxy::start();
    let primary = mirror.url().port().unwrap();
    let assets = mirror.assets_url().port().unwrap();
    let mut settings = settings();
    settings.proxy_env = proxy_env(&[
        ("http_proxy", proxy.url()),
        ("no_proxy", format!("example.com,127.0.0.1:{assets}")),
    ]);

    Client::new(settings)
        .unwrap()
        .download(&k3s_url(&mirror.url(), TAG, "k3s"), read_all)
        .unwrap();

    assert_eq!(proxy.tunnelled(), [format!("127.0.0.1:{primary}")]);
}
