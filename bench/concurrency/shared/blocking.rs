//! Blocking download code shared by the two ureq variants of the concurrency benchmark.
//!
//! Each function streams one response body, hashes it with SHA-256 on the way and returns
//! the digest in lowercase hex.

use std::fmt::{self, Write as _};
use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};

/// Buffer for the output file, so `io::copy` moves data in 64 KiB blocks.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// A failed download, naming the URL or path involved.
#[derive(Debug)]
pub(crate) enum BenchError {
    Usage,
    Http { url: String, source: ureq::Error },
    Io { context: String, source: io::Error },
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage => f.write_str("expected three arguments: BINARY_URL TARBALL_URL OUT_DIR"),
            Self::Http { url, .. } => write!(f, "GET {url} failed"),
            Self::Io { context, .. } => f.write_str(context),
        }
    }
}

impl std::error::Error for BenchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Usage => None,
            Self::Http { source, .. } => Some(source),
            Self::Io { source, .. } => Some(source),
        }
    }
}

pub(crate) fn io_error(context: String) -> impl FnOnce(io::Error) -> BenchError {
    move |source| BenchError::Io { context, source }
}

/// A reader that feeds every byte it passes on into a SHA-256 hasher.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buf)?;
        self.hasher.update(&buf[..count]);
        Ok(count)
    }
}

impl<R> HashingReader<R> {
    fn new(inner: R) -> Self {
        Self { inner, hasher: Sha256::new() }
    }

    fn hex_digest(self) -> String {
        self.hasher.finalize().iter().fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
    }
}

fn open_body(agent: &ureq::Agent, url: &str) -> Result<HashingReader<impl Read>, BenchError> {
    let response = agent
        .get(url)
        .call()
        .map_err(|source| BenchError::Http { url: url.to_owned(), source })?;
    Ok(HashingReader::new(response.into_body().into_reader()))
}

/// Streams `url` into the file at `path` and returns the body's SHA-256.
pub(crate) fn download_file(agent: &ureq::Agent, url: &str, path: &Path) -> Result<String, BenchError> {
    let mut body = open_body(agent, url)?;
    let file = fs::File::create(path).map_err(io_error(format!("cannot create {}", path.display())))?;
    let mut writer = BufWriter::with_capacity(WRITE_BUFFER_BYTES, file);
    let context = || format!("cannot copy {url} to {}", path.display());
    io::copy(&mut body, &mut writer).map_err(io_error(context()))?;
    writer.flush().map_err(io_error(context()))?;
    Ok(body.hex_digest())
}

/// Gunzips and unpacks the tarball at `url` into `dir` and returns the body's SHA-256.
pub(crate) fn download_tarball(agent: &ureq::Agent, url: &str, dir: &Path) -> Result<String, BenchError> {
    let body = open_body(agent, url)?;
    let mut archive = tar::Archive::new(GzDecoder::new(body));
    let context = || format!("cannot unpack {url} into {}", dir.display());
    archive.unpack(dir).map_err(io_error(context()))?;

    // tar stops reading at the end-of-archive blocks. Reading the decoder to its end checks
    // the gzip trailer and pulls the rest of the body through the hasher.
    let mut decoder = archive.into_inner();
    io::copy(&mut decoder, &mut io::sink()).map_err(io_error(context()))?;
    Ok(decoder.into_inner().hex_digest())
}

/// Prints the outcome of `run` with its chain of causes and returns the exit code.
pub(crate) fn report(result: Result<(), BenchError>) -> ExitCode {
    let Err(error) = result else {
        return ExitCode::SUCCESS;
    };
    eprintln!("error: {error}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
    ExitCode::FAILURE
}
