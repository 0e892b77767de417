//! Fetching and verifying the artifacts a plan needs, concurrently, into staged files.
//!
//! Each artifact is read once: from the network (or the cache) through SHA-256, into the
//! cache and, for the CNI tarball, through gunzip and untar into staged plugin files. The
//! staged files are renamed into place by the steps only after the digest matched.

use std::collections::HashMap;
use std::io::Read;

use url::Url;

use super::Reporter;
use super::readers::{Progress, Tee};
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
    #[error("cannot install the CNI plugins from {url}")]
    Tarball {
        url: DisplayUrl,
        #[source]
        source: tarball::TarballError,
    },
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
        let (expected, fresh) = self.expected_digest(
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
        let staged = self.stage_artifact(&expected, &work.url, "k3s", stage)?;
        self.remember(&work.checksum_url, &work.asset, fresh.as_deref())?;
        Ok(staged)
    }

    fn fetch_plugins(
        &self,
        works: &[&PluginWork],
    ) -> Result<HashMap<String, StagedFile>, ArtifactError> {
        let tarball = &works[0].tarball;
        let (expected, fresh) = self.expected_digest(
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
            let staged = staged.map_err(|source| ArtifactError::Tarball {
                url: url.clone(),
                source,
            })?;
            Ok(staged
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
        let staged = self.stage_artifact(&expected, &tarball.url, "CNI plugins", stage)?;
        self.remember(&tarball.checksum_url, &tarball.asset, fresh.as_deref())?;
        Ok(staged)
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
                let progress = Progress::new(body, self.reporter, name);
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
    ///
    /// A published digest read on an earlier run is remembered in the cache under its checksum
    /// URL, so a cached artifact can be used without network. The second value is a digest
    /// just read from the network, to be remembered once the artifact has been verified.
    fn expected_digest(
        &self,
        pinned: Option<&str>,
        asset: &str,
        checksum_url: &Url,
        kind: ChecksumKind,
    ) -> Result<(String, Option<String>), ArtifactError> {
        let key = format!("{} {asset}", DisplayUrl::new(checksum_url));
        // A cached copy of the pinned artifact needs no network at all.
        if let Some(pin) = pinned
            && self.cache.contains(pin)
        {
            return Ok((pin.to_string(), None));
        }
        let remembered = self.cache.known_digest(&key);
        let published = match &remembered {
            Some(digest) => Ok(digest.clone()),
            None => self.published_digest(asset, checksum_url, kind),
        };
        let fresh = remembered.is_none();
        match (pinned, published) {
            (Some(pin), Ok(published)) if pin != published => Err(ArtifactError::PinMismatch {
                asset: asset.to_string(),
                checksum_url: DisplayUrl::new(checksum_url),
                pinned: pin.to_string(),
                published,
            }),
            (Some(pin), Ok(_)) => Ok((pin.to_string(), None)),
            (Some(pin), Err(error)) => {
                // The pin decides; the checksum file could only have confirmed it.
                tracing::warn!(
                    url = %DisplayUrl::new(checksum_url),
                    error = %crate::fetch::transfer::with_causes(&error),
                    "cannot cross-check the pinned sha256 against the release's checksum file; using the pin"
                );
                Ok((pin.to_string(), None))
            }
            (None, Ok(published)) => Ok((published.clone(), fresh.then_some(published))),
            (None, Err(error)) => Err(error),
        }
    }

    /// Remembers a digest read from a checksum file, after the artifact it describes was
    /// verified, so a rejected artifact leaves nothing behind.
    fn remember(
        &self,
        checksum_url: &Url,
        asset: &str,
        digest: Option<&str>,
    ) -> Result<(), ArtifactError> {
        if let Some(digest) = digest {
            let key = format!("{} {asset}", DisplayUrl::new(checksum_url));
            self.cache.remember_digest(&key, digest)?;
        }
        Ok(())
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
