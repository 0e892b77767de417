//! Fetching and verifying the artifacts a plan needs, concurrently, into staged files.
//!
//! Each artifact is read once: from the network (or the cache) through SHA-256, into the
//! cache and, for the CNI tarball, through gunzip and untar into staged plugin files. The
//! staged files are renamed into place by the steps only after the digest matched.

use std::collections::HashMap;
use std::io::Read;

use url::Url;

use super::Reporter;
use crate::fetch::cache::Cache;
use crate::fetch::http::{Client, DownloadError, TextError};
use crate::fetch::redact::DisplayUrl;
use crate::fetch::{checksum, tarball, verify};
use crate::fsx::{self, AtomicFile, PreparedFile};
use crate::plan::Plan;
use crate::steps::Work;
use crate::steps::binary::{BinaryWork, EXECUTABLE_MODE};
use crate::steps::cni::PluginWork;

/// A verified file, written next to its target and ready to be renamed into place.
pub(super) struct StagedFile {
    pub(super) file: PreparedFile,
    pub(super) sha256: String,
}

/// Everything the plan's install steps need, verified.
#[derive(Default)]
pub(super) struct Prepared {
    pub(super) k3s: Option<StagedFile>,
    pub(super) plugins: HashMap<String, StagedFile>,
}

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error(
        "the sha256 pinned in the profile for {asset} does not match the release's checksum file {checksum_url}\n  pinned:    {pinned}\n  published: {published}\nthe mirror is not to be trusted; check the pin and the mirror"
    )]
    PinMismatch {
        asset: String,
        checksum_url: crate::fetch::redact::DisplayUrl,
        pinned: String,
        published: String,
    },
    #[error(transparent)]
    ChecksumFile(#[from] DownloadError<TextError>),
    #[error(transparent)]
    Checksum(#[from] checksum::ChecksumError),
    #[error(transparent)]
    Download(Box<DownloadError<ArtifactError>>),
    #[error(transparent)]
    Verify(#[from] verify::HashMismatch),
    #[error(transparent)]
    Tarball(#[from] tarball::TarballError),
    #[error(transparent)]
    Cache(#[from] crate::fetch::cache::CacheError),
    #[error(transparent)]
    Fs(#[from] fsx::FsError),
    #[error("reading {url} failed")]
    Read {
        url: DisplayUrl,
        #[source]
        source: std::io::Error,
    },
    #[error("a download thread panicked")]
    Panicked,
}

/// Fetches and verifies what the steps of `plan` install, k3s and CNI at the same time.
pub(super) fn prepare(
    plan: &Plan,
    client: &Client,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<Prepared, ArtifactError> {
    let binary = plan.steps.iter().find_map(|step| match &step.work {
        Work::Binary(work) => Some(work),
        _ => None,
    });
    let plugins: Vec<&PluginWork> = plan
        .steps
        .iter()
        .filter_map(|step| match &step.work {
            Work::Plugin(work) => Some(work),
            _ => None,
        })
        .collect();
    let context = Context {
        client,
        cache,
        reporter,
    };

    // ureq is blocking, so each download gets a thread of its own.
    std::thread::scope(|scope| {
        let k3s = binary.map(|work| scope.spawn(|| context.fetch_binary(work)));
        let cni = (!plugins.is_empty()).then(|| scope.spawn(|| context.fetch_plugins(&plugins)));
        let k3s = k3s.map(join).transpose();
        let plugins = cni.map(join).transpose();
        Ok(Prepared {
            k3s: k3s?,
            plugins: plugins?.unwrap_or_default(),
        })
    })
}

fn join<T>(
    handle: std::thread::ScopedJoinHandle<'_, Result<T, ArtifactError>>,
) -> Result<T, ArtifactError> {
    handle.join().unwrap_or(Err(ArtifactError::Panicked))
}

struct Context<'a> {
    client: &'a Client,
    cache: &'a Cache,
    reporter: &'a dyn Reporter,
}

/// Size of the reads while copying a download, large enough that writes stay few.
const BUFFER_SIZE: usize = 256 * 1024;

impl Context<'_> {
    fn fetch_binary(&self, work: &BinaryWork) -> Result<StagedFile, ArtifactError> {
        let key = format!("{} {}", work.source, work.asset);
        let expected = self.expected_digest(
            &key,
            work.pinned.as_deref(),
            &work.asset,
            &work.checksum_url,
            ChecksumKind::SumFile,
        )?;
        if let Some(parent) = work.target.parent() {
            fsx::create_dir_all(parent)?;
        }
        let url = DisplayUrl::new(&work.url);
        let stage = |reader: &mut dyn Read| -> Result<StagedFile, ArtifactError> {
            let mut staged = AtomicFile::create(&work.target)?;
            let mut hashing = verify::HashingReader::new(reader);
            let mut buffer = vec![0u8; BUFFER_SIZE];
            loop {
                let count = hashing
                    .read(&mut buffer)
                    .map_err(|source| ArtifactError::Read {
                        url: url.clone(),
                        source,
                    })?;
                if count == 0 {
                    break;
                }
                staged.append(&buffer[..count])?;
            }
            let (digest, _, _) = hashing.finish();
            verify::verify(&expected, &digest, &url)?;
            Ok(StagedFile {
                file: staged.prepare(EXECUTABLE_MODE)?,
                sha256: digest,
            })
        };
        self.stage_artifact(&expected, &work.url, "k3s", stage)
    }

    fn fetch_plugins(
        &self,
        works: &[&PluginWork],
    ) -> Result<HashMap<String, StagedFile>, ArtifactError> {
        let tarball = &works[0].tarball;
        let key = format!("{} {}", works[0].source, tarball.asset);
        let expected = self.expected_digest(
            &key,
            tarball.pinned.as_deref(),
            &tarball.asset,
            &tarball.checksum_url,
            ChecksumKind::SingleFile,
        )?;
        fsx::create_dir_all(&tarball.directory)?;
        let wanted: Vec<&str> = works.iter().map(|work| work.name.as_str()).collect();
        let url = DisplayUrl::new(&tarball.url);
        let stage = |reader: &mut dyn Read| -> Result<HashMap<String, StagedFile>, ArtifactError> {
            let mut hashing = verify::HashingReader::new(reader);
            let staged = tarball::stage_plugins(&mut hashing, &tarball.directory, &wanted);
            // A digest mismatch explains a broken stream better than the unpacking error
            // it causes, so it is checked first.
            hashing.drain().map_err(|source| ArtifactError::Read {
                url: url.clone(),
                source,
            })?;
            let (digest, _, _) = hashing.finish();
            verify::verify(&expected, &digest, &url)?;
            Ok(staged?
                .into_plugins()
                .into_iter()
                .map(|plugin| {
                    let name = plugin.name().to_string();
                    let sha256 = plugin.sha256().to_string();
                    (
                        name,
                        StagedFile {
                            file: plugin.into_file(),
                            sha256,
                        },
                    )
                })
                .collect())
        };
        self.stage_artifact(&expected, &tarball.url, "CNI plugins", stage)
    }

    /// Runs `stage` over the cached artifact with digest `expected` when the cache has a
    /// sound copy, and over the download from `url` otherwise, keeping a verified download in
    /// the cache.
    fn stage_artifact<T>(
        &self,
        expected: &str,
        url: &Url,
        name: &str,
        mut stage: impl FnMut(&mut dyn Read) -> Result<T, ArtifactError>,
    ) -> Result<T, ArtifactError> {
        if let Some(mut file) = self.cache.open_verified(expected)? {
            let length = file.metadata().ok().map(|metadata| metadata.len());
            self.reporter.download_started(name, url, length);
            let value = stage(&mut file)?;
            self.reporter.download_finished(name, true);
            return Ok(value);
        }
        let value = self
            .client
            .download_sized(url, |body, length| {
                self.reporter.download_started(name, url, length);
                let writer = self.cache.writer(expected).map_err(ArtifactError::from)?;
                let progress = Progress {
                    inner: body,
                    reporter: self.reporter,
                    name,
                };
                // `stage` hashes the bytes and checks the digest, so the copy only copies.
                let mut copying = Tee {
                    inner: progress,
                    copy: writer,
                };
                let value = stage(&mut copying)?;
                copying.copy.commit()?;
                Ok::<T, ArtifactError>(value)
            })
            .map_err(|error| match error {
                DownloadError::Consume(error) => error,
                other => ArtifactError::Download(Box::new(other)),
            })?;
        self.reporter.download_finished(name, false);
        Ok(value)
    }

    /// Decides the digest an artifact must have: the profile's pin, or the digest its
    /// release publishes, and stops when both exist and differ.
    fn expected_digest(
        &self,
        key: &str,
        pinned: Option<&str>,
        asset: &str,
        checksum_url: &Url,
        kind: ChecksumKind,
    ) -> Result<String, ArtifactError> {
        // A cached copy of the pinned artifact needs no network at all.
        if let Some(pin) = pinned
            && self.cache.contains(pin)
        {
            return Ok(pin.to_string());
        }
        let published = if let Some(digest) = self.cache.known_digest(key) {
            digest
        } else {
            let digest = self.published_digest(asset, checksum_url, kind)?;
            self.cache.remember_digest(key, &digest)?;
            digest
        };
        match pinned {
            Some(pin) if pin != published => Err(ArtifactError::PinMismatch {
                asset: asset.to_string(),
                checksum_url: DisplayUrl::new(checksum_url),
                pinned: pin.to_string(),
                published,
            }),
            _ => Ok(published),
        }
    }

    /// Downloads and parses the release's checksum file for `asset`.
    fn published_digest(
        &self,
        asset: &str,
        checksum_url: &Url,
        kind: ChecksumKind,
    ) -> Result<String, ArtifactError> {
        let text = self.client.get_text(checksum_url, MAX_CHECKSUM_FILE)?;
        let url = DisplayUrl::new(checksum_url);
        let digest = match kind {
            ChecksumKind::SumFile => checksum::digest_from_sum_file(&text, asset, &url)?,
            ChecksumKind::SingleFile => checksum::digest_from_single_file(&text, asset, &url)?,
        };
        Ok(digest)
    }
}

/// The largest checksum file accepted; k3s's lists a dozen assets in about 1 KiB.
const MAX_CHECKSUM_FILE: u64 = 64 * 1024;

/// The two checksum file formats of the releases.
#[derive(Clone, Copy)]
enum ChecksumKind {
    /// k3s's `sha256sum-<arch>.txt`, one line per asset.
    SumFile,
    /// CNI's `<asset>.sha256`, one line.
    SingleFile,
}

/// Copies every byte read into `copy`, such as a cache entry being written. A failed write
/// fails the read, so a full disk stops the transfer.
struct Tee<R, W> {
    inner: R,
    copy: W,
}

impl<R: Read, W: std::io::Write> Read for Tee<R, W> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let count = self.inner.read(buffer)?;
        self.copy.write_all(&buffer[..count])?;
        Ok(count)
    }
}

/// Reports the bytes read from a download to the reporter.
struct Progress<'a, R> {
    inner: R,
    reporter: &'a dyn Reporter,
    name: &'a str,
}

impl<R: Read> Read for Progress<'_, R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let count = self.inner.read(buffer)?;
        self.reporter.download_progress(self.name, count as u64);
        Ok(count)
    }
}
