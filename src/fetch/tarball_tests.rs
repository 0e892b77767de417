//! Tests of `tarball.rs`.

use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::*;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Builds an uncompressed tar archive of regular files, with paths written as given.
fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(EntryType::Regular);
        header.set_size(content.len() as u64);
        header.set_mode(0o755);
        header.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_cksum();
        builder.append(&header, *content).unwrap();
    }
    builder.into_inner().unwrap()
}

fn hidden_names(directory: &Path) -> Vec<String> {
    std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect()
}

#[test]
fn classify_path_cases() {
    let cases: [(&[u8], Result<EntryPath<'_>, &str>); 12] = [
        (b"./bridge", Ok(EntryPath::Name(b"bridge"))),
        (b"bridge", Ok(EntryPath::Name(b"bridge"))),
        (b"./", Ok(EntryPath::Top)),
        (b"", Ok(EntryPath::Top)),
        (b".", Ok(EntryPath::Top)),
        (b"./.hidden", Ok(EntryPath::Name(b".hidden"))),
        (b"/etc/passwd", Err("its path is absolute")),
        (b"../evil", Err("its path contains `..`")),
        (b"./..", Err("its path contains `..`")),
        (b"./sub/../bridge", Err("its path contains `..`")),
        (
            b"./sub/bridge",
            Err("its path has more than one component, and plugins sit at the top level"),
        ),
        (
            b"././bridge",
            Err("its path has more than one component, and plugins sit at the top level"),
        ),
    ];
    for (path, expected) in cases {
        assert_eq!(classify_path(path), expected, "{}", path.escape_ascii());
    }
}

#[test]
fn plugin_names_checked() {
    for name in ["", ".", "..", "a/b", "/bridge"] {
        let error = check_plugin_names(&[name]).unwrap_err();
        assert!(
            matches!(error, TarballError::InvalidPluginName { .. }),
            "{name}"
        );
    }
    assert_eq!(check_plugin_names(&["bridge", "bridge"]).unwrap().len(), 1);
}

#[test]
fn duplicate_entry_rejected() {
    let directory = tempfile::tempdir().unwrap();
    let tarball = gzip(&tar_of(&[("./bridge", b"one"), ("bridge", b"two")]));

    let error = stage_plugins(&tarball[..], directory.path(), &["bridge"]).unwrap_err();

    assert!(matches!(&error, TarballError::DuplicateEntry { entry } if entry == "bridge"));
    assert!(hidden_names(directory.path()).is_empty());
}

#[test]
fn short_entry_rejected() {
    let directory = tempfile::tempdir().unwrap();
    let content = vec![7u8; 4096];
    let mut archive = tar_of(&[("./bridge", &content)]);
    // The header and 1000 bytes of the data, in a gzip stream that is itself complete.
    archive.truncate(512 + 1000);

    let error = stage_plugins(&gzip(&archive)[..], directory.path(), &["bridge"]).unwrap_err();

    assert!(
        matches!(&error, TarballError::ReadEntry { entry, .. } if entry == "bridge"),
        "{error}"
    );
    assert!(hidden_names(directory.path()).is_empty());
    assert!(!directory.path().join("bridge").exists());
}

#[test]
fn staged_digest_and_size() {
    let directory = tempfile::tempdir().unwrap();
    let tarball = gzip(&tar_of(&[("./LICENSE", b"text"), ("./bridge", b"abc")]));

    let staged = stage_plugins(&tarball[..], directory.path(), &["bridge"]).unwrap();

    let [plugin] = staged.plugins() else {
        panic!("one plugin staged")
    };
    assert_eq!(plugin.name(), "bridge");
    assert_eq!(plugin.size(), 3);
    assert_eq!(
        plugin.sha256(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(plugin.target(), directory.path().join("bridge"));
    staged.commit().unwrap();
    assert_eq!(
        std::fs::read(directory.path().join("bridge")).unwrap(),
        b"abc"
    );
    assert!(!directory.path().join("LICENSE").exists());
}

#[test]
fn non_utf8_name_rejected() {
    let directory = tempfile::tempdir().unwrap();
    let mut archive = tar_of(&[("./bridgX", b"abc")]);
    // Replace `X` with a byte that is not UTF-8 and fix the header checksum.
    let mut header = tar::Header::new_gnu();
    header.as_mut_bytes().copy_from_slice(&archive[..512]);
    header.as_gnu_mut().unwrap().name[7] = 0xff;
    header.set_cksum();
    archive[..512].copy_from_slice(header.as_bytes());

    let error = stage_plugins(&gzip(&archive)[..], directory.path(), &["bridge"]).unwrap_err();

    assert_eq!(
        error.to_string(),
        "the tarball contains an unsafe entry `./bridg\u{fffd}` (regular file): its name is not valid UTF-8"
    );
}
