//! Concurrency benchmark, variant (b): tokio and reqwest, the usual async way.
//!
//! Usage: `bench-tokio-reqwest BINARY_URL TARBALL_URL OUT_DIR`
//!
//! Does the same work as variant (a) with async code throughout: two `tokio::spawn`ed
//! tasks read `bytes_stream()`, hash each chunk, and write it with `tokio::fs` (the binary)
//! or feed it through async-compression and astral-tokio-tar (the tarball).

use std::fmt::{self, Write as _};
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use async_compression::tokio::bufread::GzipDecoder;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio_util::io::StreamReader;

/// Buffer for the output file, the same size as in the blocking variants.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// A failed download, naming the URL or path involved.
#[derive(Debug)]
enum BenchError {
    Usage,
    Http { url: String, source: reqwest::Error },
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

fn io_error(context: String) -> impl FnOnce(io::Error) -> BenchError {
    move |source| BenchError::Io { context, source }
}

fn http_error(url: &str) -> impl FnOnce(reqwest::Error) -> BenchError {
    move |source| BenchError::Http { url: url.to_owned(), source }
}

fn hex_digest(hasher: Sha256) -> String {
    hasher.finalize().iter().fold(String::with_capacity(64), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

async fn get(client: &reqwest::Client, url: &str) -> Result<reqwest::Response, BenchError> {
    let response = client.get(url).send().await.map_err(http_error(url))?;
    response.error_for_status().map_err(http_error(url))
}

/// Streams `url` into the file at `path` and returns the body's SHA-256.
async fn download_file(client: reqwest::Client, url: String, path: PathBuf) -> Result<String, BenchError> {
    let response = get(&client, &url).await?;
    let file = tokio::fs::File::create(&path)
        .await
        .map_err(io_error(format!("cannot create {}", path.display())))?;
    let mut writer = BufWriter::with_capacity(WRITE_BUFFER_BYTES, file);
    let mut hasher = Sha256::new();
    let mut body = response.bytes_stream();
    let context = || format!("cannot write {}", path.display());
    while let Some(chunk) = body.try_next().await.map_err(http_error(&url))? {
        hasher.update(&chunk);
        writer.write_all(&chunk).await.map_err(io_error(context()))?;
    }
    writer.flush().await.map_err(io_error(context()))?;
    Ok(hex_digest(hasher))
}

/// Gunzips and unpacks the tarball at `url` into `dir` and returns the body's SHA-256.
async fn download_tarball(client: reqwest::Client, url: String, dir: PathBuf) -> Result<String, BenchError> {
    let response = get(&client, &url).await?;
    let mut hasher = Sha256::new();
    let body = response
        .bytes_stream()
        .inspect_ok(|chunk| hasher.update(chunk))
        .map_err(io::Error::other);
    let context = || format!("cannot unpack {url} into {}", dir.display());
    let mut archive = tokio_tar::Archive::new(GzipDecoder::new(StreamReader::new(body)));
    archive.unpack(&dir).await.map_err(io_error(context()))?;

    // tar stops reading at the end-of-archive blocks. Reading the decoder to its end checks
    // the gzip trailer and pulls the rest of the body through the hasher.
    let Ok(mut decoder) = archive.into_inner() else {
        unreachable!("Archive::unpack drops its entry stream before it returns");
    };
    tokio::io::copy(&mut decoder, &mut tokio::io::sink()).await.map_err(io_error(context()))?;
    drop(decoder);
    Ok(hex_digest(hasher))
}

async fn run(binary_url: String, tarball_url: String, out_dir: &Path) -> Result<(), BenchError> {
    let client = reqwest::Client::builder()
        .build()
        .map_err(http_error(&binary_url))?;
    let tarball_dir = out_dir.join("cni");
    tokio::fs::create_dir_all(&tarball_dir)
        .await
        .map_err(io_error(format!("cannot create {}", tarball_dir.display())))?;

    let binary = tokio::spawn(download_file(client.clone(), binary_url, out_dir.join("k3s")));
    let tarball = tokio::spawn(download_tarball(client, tarball_url, tarball_dir));
    let (binary, tarball) = (join(binary).await, join(tarball).await);
    println!("k3s {}", binary?);
    println!("cni {}", tarball?);
    Ok(())
}

/// Waits for a task and re-raises its panic, if it had one.
async fn join<T>(handle: tokio::task::JoinHandle<T>) -> T {
    match handle.await {
        Ok(value) => value,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

fn start(args: Vec<String>) -> Result<(), BenchError> {
    let Ok([binary_url, tarball_url, out_dir]) = <[String; 3]>::try_from(args) else {
        return Err(BenchError::Usage);
    };
    // reqwest's `rustls-no-provider` feature uses the process-wide rustls provider. An Err
    // only means that a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(io_error("cannot start the tokio runtime".to_owned()))?;
    runtime.block_on(run(binary_url, tarball_url, Path::new(&out_dir)))
}

fn main() -> ExitCode {
    let Err(error) = start(std::env::args().skip(1).collect()) else {
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
