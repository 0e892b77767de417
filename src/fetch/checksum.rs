//! Strict parsing of published checksum files.
//!
//! Both formats are `sha256sum` output: one `<64 lowercase hex>  <name>` line per file, or
//! `<hex> *<name>` in binary mode. k3s publishes `sha256sum-<arch>.txt` with one line per release
//! asset; the CNI plugins publish `<asset>.sha256` with a single line. A line that does not fit,
//! a missing entry or two different digests for one name is an error: the parser never guesses.

use crate::fetch::redact::DisplayUrl;

const DIGEST_LENGTH: usize = 64;

/// A checksum file that does not vouch for the asset.
#[derive(Debug, thiserror::Error)]
pub enum ChecksumError {
    #[error(
        "{url} line {line}: expected `<sha256 hex>  <file name>`, found {found:?}; the checksum file is malformed"
    )]
    Malformed {
        url: DisplayUrl,
        line: usize,
        found: String,
    },
    #[error(
        "{url} line {line}: the digest has {length} characters, but a SHA-256 digest has 64 hex digits"
    )]
    WrongLength {
        url: DisplayUrl,
        line: usize,
        length: usize,
    },
    #[error(
        "{url} line {line}: the digest contains {character:?}, but a SHA-256 digest has only the hex digits 0-9 and a-f"
    )]
    NotHex {
        url: DisplayUrl,
        line: usize,
        character: char,
    },
    #[error("{url} has no entry for `{asset}`")]
    Missing { url: DisplayUrl, asset: String },
    #[error(
        "{url} line {line}: `{asset}` has a second, different digest (the first is on line {first_line})"
    )]
    Conflicting {
        url: DisplayUrl,
        asset: String,
        line: usize,
        first_line: usize,
    },
    #[error("{url} line {line}: the entry names `{found}`, but this file must name `{asset}`")]
    WrongName {
        url: DisplayUrl,
        line: usize,
        found: String,
        asset: String,
    },
    #[error("{url} has {count} lines, but a `.sha256` file has exactly one")]
    NotOneLine { url: DisplayUrl, count: usize },
}

/// One parsed line: the digest and the file name it vouches for.
struct Line<'a> {
    number: usize,
    digest: &'a str,
    name: &'a str,
}

/// Returns the digest of `asset` from a k3s `sha256sum-<arch>.txt` file at `url`.
///
/// Every line is checked, not only the one for `asset`, and the name must equal `asset` exactly:
/// `k3s` does not match `k3s-airgap-images-amd64.tar`.
pub fn digest_from_sum_file(
    text: &str,
    asset: &str,
    url: &DisplayUrl,
) -> Result<String, ChecksumError> {
    let mut found: Option<Line<'_>> = None;
    for line in parse_lines(text, url) {
        let line = line?;
        if line.name != asset {
            continue;
        }
        match &found {
            Some(first) if first.digest != line.digest => {
                return Err(ChecksumError::Conflicting {
                    url: url.clone(),
                    asset: asset.to_owned(),
                    line: line.number,
                    first_line: first.number,
                });
            }
            Some(_) => {}
            None => found = Some(line),
        }
    }
    found
        .map(|line| line.digest.to_owned())
        .ok_or_else(|| ChecksumError::Missing {
            url: url.clone(),
            asset: asset.to_owned(),
        })
}

/// Returns the digest from a CNI `<asset>.sha256` file at `url`, which must hold exactly one
/// line, naming `asset`.
pub fn digest_from_single_file(
    text: &str,
    asset: &str,
    url: &DisplayUrl,
) -> Result<String, ChecksumError> {
    let lines: Vec<Line<'_>> = parse_lines(text, url).collect::<Result<_, _>>()?;
    let [line] = lines.as_slice() else {
        return Err(ChecksumError::NotOneLine {
            url: url.clone(),
            count: lines.len(),
        });
    };
    if line.name != asset {
        return Err(ChecksumError::WrongName {
            url: url.clone(),
            line: line.number,
            found: line.name.to_owned(),
            asset: asset.to_owned(),
        });
    }
    Ok(line.digest.to_owned())
}

/// Parses every non-empty line, numbered from 1. A final newline is optional, and a blank line
/// is skipped rather than rejected, because it vouches for nothing.
fn parse_lines<'a>(
    text: &'a str,
    url: &'a DisplayUrl,
) -> impl Iterator<Item = Result<Line<'a>, ChecksumError>> + 'a {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(move |(index, line)| parse_line(line, index + 1, url))
}

fn parse_line<'a>(
    line: &'a str,
    number: usize,
    url: &DisplayUrl,
) -> Result<Line<'a>, ChecksumError> {
    let malformed = || ChecksumError::Malformed {
        url: url.clone(),
        line: number,
        found: line.to_owned(),
    };
    // The digest ends at the first space; then comes a space (text mode) or `*` (binary mode).
    let (digest, rest) = line.split_once(' ').ok_or_else(malformed)?;
    let name = rest
        .strip_prefix(' ')
        .or_else(|| rest.strip_prefix('*'))
        .ok_or_else(malformed)?;
    if name.is_empty() || name.starts_with(' ') || name.ends_with(' ') {
        return Err(malformed());
    }
    if let Some(character) = digest
        .chars()
        .find(|character| !matches!(character, '0'..='9' | 'a'..='f'))
    {
        return Err(ChecksumError::NotHex {
            url: url.clone(),
            line: number,
            character,
        });
    }
    if digest.len() != DIGEST_LENGTH {
        return Err(ChecksumError::WrongLength {
            url: url.clone(),
            line: number,
            length: digest.len(),
        });
    }
    Ok(Line {
        number,
        digest,
        name,
    })
}

#[cfg(test)]
#[path = "checksum_tests.rs"]
mod tests;
