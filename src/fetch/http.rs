//! The HTTP client that downloads release artifacts: `http`, `https` and `file` URLs.
//!
//! - Bytes arrive exactly as published. ureq is built without its `gzip` feature, so nothing is
//!   decoded, and each request sends `Accept-Encoding: identity`. Without that header RFC 9110
//!   lets a server pick any content coding.
//! - Transient failures are retried with exponential backoff; each attempt restarts the
//!   consumer from the first byte.
//! - Redirects are followed here, not inside ureq, so that every hop gets its own proxy choice:
//!   GitHub redirects release assets to another host, which `NO_PROXY` may list.
//! - A stalled transfer times out after [`Timeouts::stall`] without data; a long, healthy
//!   download has no time limit.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Mutex;

use ureq::Agent;
use ureq::http::Response;
use url::Url;

use crate::fetch::proxy::{ProxyEnv, select_proxy};
use crate::fetch::redact::DisplayUrl;
pub use crate::fetch::settings::{ClientSettings, RetryPolicy, Timeouts};
use crate::fetch::tls::{CaFileError, tls_config};
use crate::fetch::transfer::{self, Limits, TransferError, with_causes};

/// How many redirects one request may follow, as curl and ureq allow by default.
const MAX_REDIRECTS: usize = 10;

/// A failed download. Errors that the consumer returns come back as [`DownloadError::Consume`].
#[derive(Debug, thiserror::Error)]
pub enum DownloadError<E> {
    #[error("downloading {url} failed{}", attempts_note(*attempts))]
    Transfer {
        url: DisplayUrl,
        attempts: u32,
        #[source]
        source: TransferError,
    },
    #[error("reading {} failed", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{url} is not a local path that k3sprov can read")]
    FilePath { url: DisplayUrl },
    #[error("{url} has the unsupported scheme `{scheme}`; use https://, http:// or file://")]
    UnsupportedScheme { url: DisplayUrl, scheme: String },
    #[error(transparent)]
    Consume(E),
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    }
}

/// A small text file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    #[error("{url} is larger than {max_bytes} bytes, too large for a checksum file")]
    TooLarge { url: DisplayUrl, max_bytes: u64 },
    #[error("{url} is not UTF-8 text")]
    NotUtf8 { url: DisplayUrl },
    #[error("reading {url} failed")]
    Read {
        url: DisplayUrl,
        #[source]
        source: io::Error,
    },
}

/// The downloader. One client serves many downloads, and can be shared between threads.
pub struct Client {
    tls: ureq::tls::TlsConfig,
    timeouts: Timeouts,
    retry: RetryPolicy,
    proxy_env: ProxyEnv,
    /// One agent per proxy URL (`None`: direct), built on first use, so connections are reused.
    agents: Mutex<HashMap<Option<Url>, Agent>>,
}

impl Client {
    /// Builds a client. A `ca_file` that is missing, unreadable or contains no certificate fails
    /// here, before any download starts.
    pub fn new(settings: ClientSettings) -> Result<Client, CaFileError> {
        Ok(Client {
            tls: tls_config(settings.ca_file.as_deref())?,
            timeouts: settings.timeouts,
            retry: settings.retry,
            proxy_env: settings.proxy_env,
            agents: Mutex::new(HashMap::new()),
        })
    }

    /// Opens `url` and passes its body to `consume`, which returns what it made of it.
    ///
    /// `consume` should read to the end of the body, and may be called again from scratch
    /// after a transient failure, so it must start its work over (a fresh hasher, a fresh
    /// cache writer) each time. An error it returns ends the download without a retry, unless
    /// the error came from reading the body: read errors are classified here, whatever
    /// `consume` made of them.
    pub fn download<T, E>(
        &self,
        url: &Url,
        mut consume: impl FnMut(&mut dyn Read) -> Result<T, E>,
    ) -> Result<T, DownloadError<E>> {
        self.download_sized(url, |body, _| consume(body))
    }

    /// Works as [`Client::download`], and also passes `consume` the length of the body when
    /// the server announced it or the file system reports it, for progress display.
    pub fn download_sized<T, E>(
        &self,
        url: &Url,
        mut consume: impl FnMut(&mut dyn Read, Option<u64>) -> Result<T, E>,
    ) -> Result<T, DownloadError<E>> {
        match url.scheme() {
            "file" => return read_file(url, consume),
            "http" | "https" => {}
            scheme => {
                return Err(DownloadError::UnsupportedScheme {
                    url: url.into(),
                    scheme: scheme.to_owned(),
                });
            }
        }
        let mut attempt = 1;
        loop {
            let error = match self.attempt(url, &mut consume) {
                Ok(value) => return Ok(value),
                Err(Attempt::Consume(error)) => return Err(DownloadError::Consume(error)),
                Err(Attempt::Transfer(error)) => error,
            };
            if !error.is_transient() || attempt > self.retry.retries {
                return Err(DownloadError::Transfer {
                    url: url.into(),
                    attempts: attempt,
                    source: error,
                });
            }
            let delay = self.retry.delay(attempt);
            tracing::warn!(
                url = %DisplayUrl::new(url),
                attempt,
                error = %with_causes(&error),
                "download failed; retrying in {} s",
                delay.as_secs_f64()
            );
            std::thread::sleep(delay);
            attempt += 1;
        }
    }

    /// Downloads a small text file such as a checksum file, failing when it contains more than
    /// `max_bytes` bytes.
    pub fn get_text(&self, url: &Url, max_bytes: u64) -> Result<String, DownloadError<TextError>> {
        self.download(url, |body| {
            let mut bytes = Vec::new();
            body.take(max_bytes.saturating_add(1))
                .read_to_end(&mut bytes)
                .map_err(|source| TextError::Read {
                    url: url.into(),
                    source,
                })?;
            if bytes.len() as u64 > max_bytes {
                return Err(TextError::TooLarge {
                    url: url.into(),
                    max_bytes,
                });
            }
            String::from_utf8(bytes).map_err(|_| TextError::NotUtf8 { url: url.into() })
        })
    }

    fn attempt<T, E>(
        &self,
        url: &Url,
        consume: &mut impl FnMut(&mut dyn Read, Option<u64>) -> Result<T, E>,
    ) -> Result<T, Attempt<E>> {
        let (response, final_url) = self.open(url).map_err(Attempt::Transfer)?;
        let mut body = response.into_body();
        let length = body.content_length();
        let mut reader = WatchedReader::new(body.as_reader());
        let result = consume(&mut reader, length);
        // NOTE: ureq fails the read when the connection closes before `Content-Length` bytes
        // arrived. A body without `Content-Length` ends at connection close, so a cut there
        // looks like a normal end: only the caller's digest check catches it.
        if let Some(error) = reader.failure {
            return Err(Attempt::Transfer(transfer::from_io(
                DisplayUrl::new(&final_url),
                error,
                self.limits(),
            )));
        }
        result.map_err(Attempt::Consume)
    }

    /// Sends the request and follows redirects, returning the final response and its URL.
    fn open(&self, url: &Url) -> Result<(Response<ureq::Body>, Url), TransferError> {
        let mut current = url.clone();
        for _ in 0..=MAX_REDIRECTS {
            let agent = self.agent_for(&current)?;
            let response = agent.get(current.as_str()).call().map_err(|error| {
                let error = transfer::from_request((&current).into(), error, self.limits());
                // Name the proxy, or a dead proxy reads as a dead server.
                match select_proxy(&current, &self.proxy_env) {
                    Ok(Some(proxy)) => TransferError::ViaProxy {
                        proxy: DisplayUrl::new(&proxy.url),
                        variable: proxy.variable,
                        inner: Box::new(error),
                    },
                    _ => error,
                }
            })?;
            if !response.status().is_redirection() {
                return Ok((response, current));
            }
            let next = redirect_target(&current, &response)?;
            tracing::debug!(from = %DisplayUrl::new(&current), to = %DisplayUrl::new(&next), "following a redirect");
            current = next;
        }
        Err(TransferError::Redirect {
            url: url.into(),
            reason: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }

    fn agent_for(&self, url: &Url) -> Result<Agent, TransferError> {
        let proxy = select_proxy(url, &self.proxy_env)?.map(|proxy| proxy.url);
        let mut agents = self
            .agents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(agent) = agents.get(&proxy) {
            return Ok(agent.clone());
        }
        let ureq_proxy = match &proxy {
            Some(proxy_url) => Some(ureq::Proxy::new(proxy_url.as_str()).map_err(|source| {
                TransferError::Proxy {
                    url: url.into(),
                    source,
                }
            })?),
            None => None,
        };
        let agent = self.build_agent(ureq_proxy);
        agents.insert(proxy, agent.clone());
        Ok(agent)
    }

    fn build_agent(&self, proxy: Option<ureq::Proxy>) -> Agent {
        Agent::config_builder()
            .proxy(proxy)
            .tls_config(self.tls.clone())
            .http_status_as_error(true)
            .max_redirects(0)
            .accept_encoding("identity")
            .user_agent(concat!("k3sprov/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(self.timeouts.connect))
            .timeout_per_read(Some(self.timeouts.stall))
            .timeout_per_write(Some(self.timeouts.stall))
            .build()
            .new_agent()
    }

    fn limits(&self) -> Limits {
        Limits {
            connect: self.timeouts.connect,
            stall: self.timeouts.stall,
        }
    }
}

enum Attempt<E> {
    Transfer(TransferError),
    Consume(E),
}

/// Resolves a redirect's `Location` against the URL that returned it. Only `http` and `https`
/// targets are followed, and never from `https` down to `http`.
fn redirect_target(current: &Url, response: &Response<ureq::Body>) -> Result<Url, TransferError> {
    let invalid = |reason: &str| TransferError::Redirect {
        url: current.into(),
        reason: reason.to_owned(),
    };
    let location = response
        .headers()
        .get(ureq::http::header::LOCATION)
        .ok_or_else(|| invalid("the response has no Location header"))?
        .to_str()
        .map_err(|_| invalid("the Location header is not ASCII"))?;
    let next = current
        .join(location)
        .map_err(|_| invalid("the Location header is not a valid URL"))?;
    match (current.scheme(), next.scheme()) {
        ("https", "http") => Err(invalid("it leads from https:// to http://")),
        (_, "http" | "https") => Ok(next),
        _ => Err(invalid(
            "it leads to a scheme other than http:// or https://",
        )),
    }
}

/// Serves a `file://` URL from the local filesystem, for offline mirrors. There is no retry.
fn read_file<T, E>(
    url: &Url,
    mut consume: impl FnMut(&mut dyn Read, Option<u64>) -> Result<T, E>,
) -> Result<T, DownloadError<E>> {
    let path = url
        .to_file_path()
        .map_err(|()| DownloadError::FilePath { url: url.into() })?;
    let file = File::open(&path).map_err(|source| DownloadError::File {
        path: path.clone(),
        source,
    })?;
    let length = file.metadata().ok().map(|metadata| metadata.len());
    let mut reader = WatchedReader::new(file);
    let result = consume(&mut reader, length);
    if let Some(source) = reader.failure {
        return Err(DownloadError::File { path, source });
    }
    result.map_err(DownloadError::Consume)
}

/// A reader that keeps the first read error, so the client can tell a failed transfer from an
/// error of the consumer's own. The consumer gets a copy of the error's kind and message.
struct WatchedReader<R> {
    inner: R,
    failure: Option<io::Error>,
}

impl<R> WatchedReader<R> {
    fn new(inner: R) -> WatchedReader<R> {
        WatchedReader {
            inner,
            failure: None,
        }
    }
}

impl<R: Read> Read for WatchedReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buffer) {
            Ok(count) => Ok(count),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => Err(error),
            Err(error) => {
                let copy = io::Error::new(error.kind(), error.to_string());
                self.failure.get_or_insert(error);
                Err(copy)
            }
        }
    }
}
