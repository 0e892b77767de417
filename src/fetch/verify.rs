//! Hashing bytes as they stream past, and checking the result against the expected digest.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use crate::digest::to_hex;
use crate::fetch::redact::DisplayUrl;

/// A reader that hashes every byte it returns with SHA-256, counts them, and can copy them into
/// a writer (such as a cache file) on the way.
///
/// A failed write to the copy is returned as a read error, so a full disk stops the transfer.
pub struct HashingReader<R, W = io::Sink> {
    inner: R,
    copy: W,
    hasher: Sha256,
    length: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> HashingReader<R> {
        HashingReader::with_copy(inner, io::sink())
    }
}

impl<R: Read, W: Write> HashingReader<R, W> {
    /// Wraps `inner`, writing every byte read into `copy` as well.
    pub fn with_copy(inner: R, copy: W) -> HashingReader<R, W> {
        HashingReader {
            inner,
            copy,
            hasher: Sha256::new(),
            length: 0,
        }
    }

    /// Returns the number of bytes read so far.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// Reads to the end of the stream, so that the digest covers everything.
    pub fn drain(&mut self) -> io::Result<u64> {
        io::copy(self, &mut io::sink())
    }

    /// Returns the lowercase hex digest of the bytes read, the wrapped reader, and the writer
    /// that received the copy.
    pub fn finish(self) -> (String, R, W) {
        (to_hex(&self.hasher.finalize()), self.inner, self.copy)
    }
}

impl<R: Read, W: Write> Read for HashingReader<R, W> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buffer)?;
        let bytes = &buffer[..count];
        self.hasher.update(bytes);
        self.copy.write_all(bytes)?;
        self.length += count as u64;
        Ok(count)
    }
}

/// Downloaded bytes whose digest differs from the expected one.
#[derive(Debug, thiserror::Error)]
#[error("the SHA-256 digest of {url} does not match\n  expected: {expected}\n  actual:   {actual}")]
pub struct HashMismatch {
    pub url: DisplayUrl,
    pub expected: String,
    pub actual: String,
}

/// Compares the `actual` digest of what was read from `url` with the `expected` one. Both are
/// lowercase hex; `expected` is compared without regard to case.
pub fn verify(expected: &str, actual: &str, url: &DisplayUrl) -> Result<(), HashMismatch> {
    if expected.eq_ignore_ascii_case(actual) {
        Ok(())
    } else {
        Err(HashMismatch {
            url: url.clone(),
            expected: expected.to_owned(),
            actual: actual.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use url::Url;

    use super::*;

    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn reader_hashes_counts_and_copies() {
        let mut reader = HashingReader::with_copy(&b"abc"[..], Vec::new());
        let mut read = Vec::new();
        reader.read_to_end(&mut read).unwrap();
        assert_eq!(reader.length(), 3);
        let (digest, _, copy) = reader.finish();
        assert_eq!(digest, ABC);
        assert_eq!(read, b"abc");
        assert_eq!(copy, b"abc");
    }

    #[test]
    fn drain_covers_the_rest() {
        let mut reader = HashingReader::new(&b"abc"[..]);
        let mut first = [0u8; 1];
        reader.read_exact(&mut first).unwrap();
        assert_eq!(reader.drain().unwrap(), 2);
        assert_eq!(reader.finish().0, ABC);
    }

    #[test]
    fn failed_copy_fails_the_read() {
        let mut target = [0u8; 1];
        let mut reader = HashingReader::with_copy(&b"abc"[..], &mut target[..]);
        let error = reader.drain().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WriteZero);
    }

    #[test]
    fn mismatch_names_url_and_both_digests_on_lines() {
        let url = DisplayUrl::new(&Url::parse("https://u:pw@mirror.example/k3s").unwrap());
        assert!(verify(ABC, &ABC.to_uppercase(), &url).is_ok());
        let zeros = "0".repeat(64);
        let message = verify(&zeros, ABC, &url).unwrap_err().to_string();
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines.len(), 3, "{message}");
        assert!(
            lines[0].contains("https://u:****@mirror.example/k3s"),
            "{message}"
        );
        assert!(lines[1].contains(&zeros), "{message}");
        assert!(lines[2].contains(ABC), "{message}");
    }
}
