//! The download layer against real servers on 127.0.0.1: the release mirror, a TLS mirror with
//! a private CA, and a CONNECT proxy.

use std::error::Error;
use std::io::{self, Read};
use std::path::Path;
use std::time::{Duration, Instant};

use k3sprov::fetch::cache::Cache;
use k3sprov::fetch::checksum::digest_from_sum_file;
use k3sprov::fetch::http::{
    Client, ClientSettings, DownloadError, RetryPolicy, TextError, Timeouts,
};
use k3sprov::fetch::proxy::ProxyEnv;
use k3sprov::fetch::redact::DisplayUrl;
use k3sprov::fetch::release::{k3s_checksum_asset, k3s_url};
use k3sprov::fetch::verify::{HashMismatch, HashingReader, verify};
use k3sprov::host::arch::Arch;
use url::Url;

use crate::support::certificates::TestCa;
use crate::support::connect_proxy::ConnectProxy;
use crate::support::mirror::{Behavior, Listener, Mirror, write_asset};

const TAG: &str = "v1.33.5+k3s1";
const K3S: &str = "k3s-io/k3s";

/// Returns settings for tests: no proxy whatever the environment contains, one quick retry.
fn settings() -> ClientSettings {
    ClientSettings {
        ca_file: None,
        timeouts: Timeouts {
            connect: Duration::from_secs(5),
            stall: Duration::from_secs(5),
        },
        retry: RetryPolicy {
            retries: 1,
            first_delay: Duration::from_millis(10),
        },
        proxy_env: ProxyEnv::default(),
    }
}

fn client() -> Client {
    Client::new(settings()).unwrap()
}

fn proxy_env(pairs: &[(&str, String)]) -> ProxyEnv {
    let pairs = pairs.to_vec();
    ProxyEnv::from_lookup(move |name| {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
    })
}

/// Starts a mirror that serves a 200 kB k3s binary, and returns it with the binary's bytes.
fn k3s_mirror(root: &Path) -> (Mirror, Vec<u8>) {
    let binary: Vec<u8> = (0..200_000u32).map(|index| (index % 251) as u8).collect();
    write_asset(root, K3S, TAG, "k3s", &binary);
    (Mirror::start(root), binary)
}

fn read_all(body: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    body.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Formats an error and its causes, as the CLI prints them.
fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str("\ncaused by: ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn sha256_hex(bytes: &[u8]) -> String {
    let mut reader = HashingReader::new(bytes);
    reader.drain().unwrap();
    reader.finish().0
}

#[test]
fn download_follows_redirect_to_second_host() {
    let root = tempfile::tempdir().unwrap();
    let (mirror, binary) = k3s_mirror(root.path());
    mirror.redirect_assets(true);
    let url = k3s_url(&mirror.url(), TAG, "k3s");

    let bytes = client().download(&url, read_all).unwrap();

    assert_eq!(bytes, binary);
    let requests = mirror.requests();
    let listeners: Vec<Listener> = requests.iter().map(|request| request.listener).collect();
    assert_eq!(listeners, [Listener::Primary, Listener::Assets]);
    assert_eq!(
        requests[1].head.target,
        "/k3s-io/k3s/releases/download/v1.33.5%2Bk3s1/k3s"
    );
}

#[test]
fn requests_never_ask_for_gzip() {
    let root = tempfile::tempdir().unwrap();
    let (mirror, _) = k3s_mirror(root.path());
    mirror.redirect_assets(true);
    client()
        .download(&k3s_url(&mirror.url(), TAG, "k3s"), read_all)
        .unwrap();
    for request in mirror.requests() {
        assert_eq!(
            request.header("accept-encoding"),
            Some("identity"),
            "{request:?}"
        );
        let agent = request.header("user-agent").unwrap_or_default();
        assert!(agent.starts_with("k3sprov/"), "{request:?}");
    }
}

#[test]
fn not_found_names_url_and_status() {
    let root = tempfile::tempdir().unwrap();
    let (mirror, _) = k3s_mirror(root.path());
    let url = k3s_url(&mirror.url(), TAG, "k3s-arm64");

    let error = client().download(&url, read_all).unwrap_err();

    let text = chain(&error);
    assert!(text.contains(url.as_str()), "{text}");
    assert!(text.contains("404 Not Found"), "{text}");
    assert_eq!(mirror.requests().len(), 1, "a 404 was retried");
}

#[test]
fn not_found_after_redirect_names_both_urls() {
    let root = tempfile::tempdir().unwrap();
    let (mirror, _) = k3s_mirror(root.path());
    mirror.redirect_assets(true);
    mirror.set_behavior("/k3s", Behavior::NotFound);
    let url = k3s_url(&mirror.url(), TAG, "k3s");

    let text = chain(&client().download(&url, read_all).unwrap_err());

    assert!(text.contains(url.as_str()), "{text}");
    assert!(text.contains(mirror.assets_url().as_str()), "{text}");
    assert!(text.contains("404"), "{text}");
}

#[test]
fn truncated_body_is_an_error_and_retried() {
    let root = tempfile::tempdir().unwrap();
    let (mirror, _) = k3s_mirror(root.path());
    mirror.set_behavior("/k3s", Behavior::Truncate { keep: 1000 });
    let url = k3s_url(&mirror.url(), TAG, "k3s");

    let error = client().download(&url, read_all).unwrap_err();

    assert!(
        matches!(error, DownloadError::Transfer { attempts: 2, .. }),
        "{error:?}"
    );
    let text = chain(&error);
    assert!(
        text.contains("closed before the whole body arrived"),
        "{text}"
    );
    assert!(text.contains("after 2 attempts"), "{text}");
    assert_eq!(mirror.requests().len(), 2);
}

#[test]
fn cut_close_delimited_body_is_caught_by_digest() {
    let root = tempfile::tempdir().unwrap();
    let (mirror, binary) = k3s_mirror(root.path());
    mirror.set_behavior("/k3s", Behavior::CloseDelimited { keep: 1000 });
    let url = k3s_url(&mirror.url(), TAG, "k3s");
    let expected = sha256_hex(&binary);

    let error = client()
        .download(&url, |body| {
            let mut reader = HashingReader::new(body);
            reader.drain().map_err(|_| unreachable_read())?;
            verify(&expected, &reader.finish().0, &DisplayUrl::new(&url))
        })
        .unwrap_err();

    let DownloadError::Consume(mismatch) = error else {
        panic!("expected a digest mismatch, got {error:?}");
    };
    assert_eq!(mismatch.expected, expected);
    assert_eq!(mirror.requests().len(), 1, "a digest mismatch was retried");
}

fn unreachable_read() -> HashMismatch {
    panic!("the close-delimited body read without error")
}

#[test]
fn retry_after_503_succeeds() {
    let root = tempfile::tempdir().unwrap();
    let (mirror, binary) = k3s_mirror(root.path());
    mirror.set_behavior(
        "/k3s",
        Behavior::FailTimes {
            status: 503,
            times: 1,
        },
    );

    let bytes = client()
        .download(&k3s_url(&mirror.url(), TAG, "k3s"), read_all)
        .unwrap();

    assert_eq!(bytes, binary);
    assert_eq!(mirror.requests().len(), 2);
}

#[test]
fn persistent_503_fails_after_retries() {
    let root = tempfile::tempdir().unwrap();
    let (mirror, _) = k3s_mirror(root.path());
    mirror.set_behavior(
        "/k3s",
        Behavior::FailTimes {
            status: 503,
            times: 10,
        },
    );

    let error = client()
        .download(&k3s_url(&mirror.url(), TAG, "k3s"), read_all)
        .unwrap_err();

    let text = chain(&error);
    assert!(text.contains("after 2 attempts"), "{text}");
    assert!(text.contains("503 Service Unavailable"), "{text}");
}

#[test]
fn stalled_transfer_times_out() {
    let root = tempfile::tempdir().unwrap();
    let (mirror, _) = k3s_mirror(root.path());
    let pause = Duration::from_secs(5);
    mirror.set_behavior("/k3s", Behavior::Stall { keep: 100, pause });
    let mut settings = settings();
    settings.timeouts.stall = Duration::from_millis(300);
    settings.retry.retries = 0;

    let started = Instant::now();
    let error = Client::new(settings)
        .unwrap()
        .download(&k3s_url(&mirror.url(), TAG, "k3s"), read_all)
        .unwrap_err();

    assert!(
        started.elapsed() < pause,
        "the client waited for the server to give up"
    );
    let text = chain(&error);
    assert!(text.contains("stalled"), "{text}");
    assert!(text.contains("timed out"), "{text}");
    assert!(text.contains("0.3 s"), "{text}");
}

#[test]
fn consumer_error_is_not_retried() {
    let root = tempfile::tempdir().unwrap();
    let (mirror, _) = k3s_mirror(root.path());
    let url = k3s_url(&mirror.url(), TAG, "k3s");

    let error = client()
        .download(&url, |body| {
            let mut reader = HashingReader::new(body);
            reader.drain().unwrap();
            verify(&"0".repeat(64), &reader.finish().0, &DisplayUrl::new(&url))
        })
        .unwrap_err();

    assert!(matches!(error, DownloadError::Consume(_)), "{error:?}");
    assert!(error.to_string().contains("expected: 0000"), "{error}");
    assert_eq!(mirror.requests().len(), 1);
}

#[test]
fn checksum_file_through_get_text() {
    let root = tempfile::tempdir().unwrap();
    let (mirror, binary) = k3s_mirror(root.path());
    let digest = sha256_hex(&binary);
    let sums = format!(
        "{}  k3s-airgap-images-amd64.tar\n{digest}  k3s\n",
        "1".repeat(64)
    );
    let name = k3s_checksum_asset(Arch::Amd64);
    write_asset(root.path(), K3S, TAG, &name, sums.as_bytes());
    let url = k3s_url(&mirror.url(), TAG, &name);

    let text = client().get_text(&url, 64 * 1024).unwrap();

    assert_eq!(
        digest_from_sum_file(&text, "k3s", &DisplayUrl::new(&url)).unwrap(),
        digest
    );
}

#[test]
fn get_text_rejects_large_file() {
    let root = tempfile::tempdir().unwrap();
    let (mirror, _) = k3s_mirror(root.path());
    let url = k3s_url(&mirror.url(), TAG, "k3s");

    let error = client().get_text(&url, 1024).unwrap_err();

    assert!(
        matches!(
            error,
            DownloadError::Consume(TextError::TooLarge {
                max_bytes: 1024,
                ..
            })
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains(url.as_str()), "{error}");
}

#[test]
fn file_url_reads_local_mirror() {
    let root = tempfile::tempdir().unwrap();
    let binary = b"offline binary".to_vec();
    write_asset(root.path(), K3S, TAG, "k3s", &binary);
    let mirror = Url::from_directory_path(root.path()).unwrap();

    let bytes = client()
        .download(&k3s_url(&mirror, TAG, "k3s"), read_all)
        .unwrap();
    assert_eq!(bytes, binary);

    let missing = k3s_url(&mirror, TAG, "k3s-arm64");
    let error = client().download(&missing, read_all).unwrap_err();
    assert!(matches!(error, DownloadError::File { .. }), "{error:?}");
    let expected_path = root
        .path()
        .join("k3s-io/k3s/releases/download/v1.33.5+k3s1/k3s-arm64");
    assert!(
        error
            .to_string()
            .contains(&*expected_path.to_string_lossy()),
        "{error}"
    );
}

#[test]
fn download_into_cache_then_hit() {
    let root = tempfile::tempdir().unwrap();
    let (mirror, binary) = k3s_mirror(root.path());
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(cache_dir.path().join("k3sprov")).unwrap();
    let digest = sha256_hex(&binary);
    let url = k3s_url(&mirror.url(), TAG, "k3s");

    let path = client()
        .download(&url, |body| {
            let writer = cache.writer(&digest).unwrap();
            let mut reader = HashingReader::with_copy(body, writer);
            reader.drain().unwrap();
            let (actual, _, writer) = reader.finish();
            verify(&digest, &actual, &DisplayUrl::new(&url))?;
            Ok::<_, HashMismatch>(writer.commit().unwrap())
        })
        .unwrap();

    assert_eq!(std::fs::read(&path).unwrap(), binary);
    let mut cached = Vec::new();
    let mut file = cache.open_verified(&digest).unwrap().expect("a cache hit");
    file.read_to_end(&mut cached).unwrap();
    assert_eq!(cached, binary);
    let names: Vec<_> = std::fs::read_dir(cache.directory()).unwrap().collect();
    assert_eq!(names.len(), 1, "a temporary file was left behind");
}

mod network;
