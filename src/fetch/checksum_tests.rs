use url::Url;

use super::*;

const AIRGAP: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const BINARY: &str = "2222222222222222222222222222222222222222222222222222222222222222";

fn url() -> DisplayUrl {
    DisplayUrl::new(
        &Url::parse(
            "https://github.com/k3s-io/k3s/releases/download/v1.33.5%2Bk3s1/sha256sum-amd64.txt",
        )
        .unwrap(),
    )
}

fn sum_file() -> String {
    format!(
        "{AIRGAP}  k3s-airgap-images-amd64.tar\n{AIRGAP}  k3s-airgap-images-amd64.tar.gz\n{BINARY}  k3s\n"
    )
}

#[test]
fn exact_name_selects_the_binary() {
    assert_eq!(
        digest_from_sum_file(&sum_file(), "k3s", &url()).unwrap(),
        BINARY
    );
}

#[test]
fn airgap_name_selects_its_own_line() {
    let digest = digest_from_sum_file(&sum_file(), "k3s-airgap-images-amd64.tar", &url()).unwrap();
    assert_eq!(digest, AIRGAP);
}

#[test]
fn prefix_of_a_name_does_not_match() {
    let text = format!("{AIRGAP}  k3s-airgap-images-amd64.tar\n");
    let error = digest_from_sum_file(&text, "k3s", &url()).unwrap_err();
    assert!(matches!(error, ChecksumError::Missing { .. }), "{error}");
    assert!(error.to_string().contains("sha256sum-amd64.txt"), "{error}");
    assert!(error.to_string().contains("`k3s`"), "{error}");
}

#[test]
fn binary_mode_line_is_accepted() {
    let text = format!("{BINARY} *k3s\n");
    assert_eq!(digest_from_sum_file(&text, "k3s", &url()).unwrap(), BINARY);
}

#[test]
fn crlf_and_missing_final_newline_are_accepted() {
    let text = format!("{AIRGAP}  other\r\n{BINARY}  k3s");
    assert_eq!(digest_from_sum_file(&text, "k3s", &url()).unwrap(), BINARY);
}

#[test]
fn malformed_line_is_reported_with_its_number() {
    let text = format!("{AIRGAP}  a\n{BINARY}k3s\n");
    let error = digest_from_sum_file(&text, "k3s", &url()).unwrap_err();
    assert!(
        matches!(error, ChecksumError::Malformed { line: 2, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("line 2"), "{error}");
}

#[test]
fn malformed_line_fails_even_when_another_line_matches() {
    let text = format!("{BINARY}  k3s\ngarbage\n");
    let error = digest_from_sum_file(&text, "k3s", &url()).unwrap_err();
    assert!(
        matches!(error, ChecksumError::Malformed { line: 2, .. }),
        "{error}"
    );
}

#[test]
fn single_space_separator_is_malformed() {
    let text = format!("{BINARY} k3s\n");
    let error = digest_from_sum_file(&text, "k3s", &url()).unwrap_err();
    assert!(
        matches!(error, ChecksumError::Malformed { line: 1, .. }),
        "{error}"
    );
}

#[test]
fn short_digest_is_wrong_length() {
    let text = format!("{AIRGAP}  a\n{}  k3s\n", &BINARY[..63]);
    let error = digest_from_sum_file(&text, "k3s", &url()).unwrap_err();
    assert!(
        matches!(
            error,
            ChecksumError::WrongLength {
                line: 2,
                length: 63,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("63 characters"), "{error}");
}

#[test]
fn long_digest_is_wrong_length() {
    let text = format!("{BINARY}0  k3s\n");
    let error = digest_from_sum_file(&text, "k3s", &url()).unwrap_err();
    assert!(
        matches!(error, ChecksumError::WrongLength { length: 65, .. }),
        "{error}"
    );
}

#[test]
fn upper_case_or_non_hex_digest_is_rejected() {
    for bad in ['A', 'g', 'z'] {
        let digest = format!("{bad}{}", &BINARY[1..]);
        let text = format!("{digest}  k3s\n");
        let error = digest_from_sum_file(&text, "k3s", &url()).unwrap_err();
        assert!(
            matches!(error, ChecksumError::NotHex { line: 1, character, .. } if character == bad),
            "{error}"
        );
    }
}

#[test]
fn same_name_twice_with_different_digests_is_rejected() {
    let text = format!("{BINARY}  k3s\n{AIRGAP}  x\n{AIRGAP}  k3s\n");
    let error = digest_from_sum_file(&text, "k3s", &url()).unwrap_err();
    assert!(
        matches!(
            error,
            ChecksumError::Conflicting {
                line: 3,
                first_line: 1,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn same_name_twice_with_one_digest_is_accepted() {
    let text = format!("{BINARY}  k3s\n{BINARY} *k3s\n");
    assert_eq!(digest_from_sum_file(&text, "k3s", &url()).unwrap(), BINARY);
}

#[test]
fn empty_file_has_no_entry() {
    let error = digest_from_sum_file("", "k3s", &url()).unwrap_err();
    assert!(matches!(error, ChecksumError::Missing { .. }), "{error}");
}

#[test]
fn single_file_returns_its_digest() {
    let asset = "cni-plugins-linux-amd64-v1.6.2.tgz";
    let text = format!("{BINARY}  {asset}\n");
    assert_eq!(
        digest_from_single_file(&text, asset, &url()).unwrap(),
        BINARY
    );
}

#[test]
fn single_file_must_name_the_asset() {
    let text = format!("{BINARY}  cni-plugins-linux-arm64-v1.6.2.tgz\n");
    let error =
        digest_from_single_file(&text, "cni-plugins-linux-amd64-v1.6.2.tgz", &url()).unwrap_err();
    assert!(
        matches!(error, ChecksumError::WrongName { line: 1, .. }),
        "{error}"
    );
}

#[test]
fn single_file_with_two_lines_is_rejected() {
    let text = format!("{BINARY}  a\n{AIRGAP}  a\n");
    let error = digest_from_single_file(&text, "a", &url()).unwrap_err();
    assert!(
        matches!(error, ChecksumError::NotOneLine { count: 2, .. }),
        "{error}"
    );
}

#[test]
fn single_file_checks_the_digest_format() {
    let text = format!("{}  a\n", &BINARY[..10]);
    let error = digest_from_single_file(&text, "a", &url()).unwrap_err();
    assert!(
        matches!(error, ChecksumError::WrongLength { line: 1, .. }),
        "{error}"
    );
}
