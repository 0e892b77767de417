use std::io::Read;
use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::digest::to_hex;

fn digest_of(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    to_hex(&Sha256::digest(bytes))
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    move |name| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| OsString::from(value))
    }
}

#[test]
fn explicit_directory_wins() {
    let path = resolve_cache_dir(Some(Path::new("/srv/cache")), env(&[("HOME", "/root")]));
    assert_eq!(path.unwrap(), Path::new("/srv/cache"));
}

#[test]
fn xdg_cache_home_before_home() {
    let lookup = env(&[("XDG_CACHE_HOME", "/x/cache"), ("HOME", "/home/u")]);
    assert_eq!(
        resolve_cache_dir(None, lookup).unwrap(),
        Path::new("/x/cache/k3sprov")
    );
}

#[test]
fn home_is_the_fallback() {
    let lookup = env(&[("XDG_CACHE_HOME", "relative/cache"), ("HOME", "/home/u")]);
    assert_eq!(
        resolve_cache_dir(None, lookup).unwrap(),
        Path::new("/home/u/.cache/k3sprov")
    );
}

#[test]
fn no_variable_is_an_error() {
    let error = resolve_cache_dir(None, env(&[])).unwrap_err();
    assert!(matches!(error, CacheError::NoDirectory), "{error}");
}

#[test]
fn open_creates_directory_with_mode_0700() {
    let root = tempfile::tempdir().unwrap();
    let directory = root.path().join("a/b/k3sprov");
    Cache::open(directory.clone()).unwrap();
    let mode = fs::metadata(&directory).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

#[test]
fn committed_entry_is_found_and_verified() {
    let root = tempfile::tempdir().unwrap();
    let cache = Cache::open(root.path().to_path_buf()).unwrap();
    let digest = digest_of(b"payload");
    let mut writer = cache.writer(&digest).unwrap();
    writer.write_all(b"payload").unwrap();
    let path = writer.commit().unwrap();
    assert_eq!(path, root.path().join(format!("sha256-{digest}")));

    let mut file = cache.open_verified(&digest).unwrap().expect("a cache hit");
    let mut content = String::new();
    file.read_to_string(&mut content).unwrap();
    assert_eq!(content, "payload");
}

#[test]
fn missing_entry_is_a_miss() {
    let root = tempfile::tempdir().unwrap();
    let cache = Cache::open(root.path().to_path_buf()).unwrap();
    assert!(cache.open_verified(&digest_of(b"x")).unwrap().is_none());
}

#[test]
fn corrupted_entry_is_deleted() {
    let root = tempfile::tempdir().unwrap();
    let cache = Cache::open(root.path().to_path_buf()).unwrap();
    let digest = digest_of(b"payload");
    let path = cache.entry_path(&digest).unwrap();
    fs::write(&path, b"payloaX").unwrap();
    assert!(cache.open_verified(&digest).unwrap().is_none());
    assert!(!path.exists(), "the corrupted entry is still there");
}

#[test]
fn dropped_writer_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    let cache = Cache::open(root.path().to_path_buf()).unwrap();
    let mut writer = cache.writer(&digest_of(b"x")).unwrap();
    writer.write_all(b"half").unwrap();
    drop(writer);
    assert_eq!(fs::read_dir(root.path()).unwrap().count(), 0);
}

#[test]
fn digest_that_is_no_hex_is_rejected() {
    let root = tempfile::tempdir().unwrap();
    let cache = Cache::open(root.path().to_path_buf()).unwrap();
    for bad in ["../../etc/passwd", "abc", &"A".repeat(64)] {
        let error = cache.open_verified(bad).unwrap_err();
        assert!(
            matches!(error, CacheError::InvalidDigest(_)),
            "{bad}: {error}"
        );
        assert!(cache.writer(bad).is_err(), "{bad}");
    }
}
