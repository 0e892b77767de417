//! The reasons one attempt to fetch a URL fails, and whether another attempt may succeed.

use std::io;
use std::time::Duration;

use crate::fetch::proxy::ProxyError;
use crate::fetch::redact::DisplayUrl;

/// One failed attempt. `url` is the URL being requested when it failed, which after a redirect
/// is not the URL the download started from.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("{url} returned HTTP status {status}{}", reason_phrase(*status))]
    Status { url: DisplayUrl, status: u16 },
    #[error("connecting to {url} timed out after {} s", limit.as_secs_f64())]
    ConnectTimeout { url: DisplayUrl, limit: Duration },
    #[error(
        "the transfer from {url} stalled: no data arrived for {} s, so it timed out",
        limit.as_secs_f64()
    )]
    Stalled { url: DisplayUrl, limit: Duration },
    #[error("the request to {url} timed out ({phase})")]
    Timeout { url: DisplayUrl, phase: String },
    #[error("the connection to {url} closed before the whole body arrived")]
    Truncated {
        url: DisplayUrl,
        #[source]
        source: io::Error,
    },
    #[error("connecting to {url} failed")]
    Connect {
        url: DisplayUrl,
        #[source]
        source: ureq::Error,
    },
    #[error(
        "the TLS connection to {url} failed; if a proxy intercepts TLS, add its CA certificate with ca_file under [download]"
    )]
    Tls {
        url: DisplayUrl,
        #[source]
        source: ureq::Error,
    },
    #[error("the proxy for {url} failed")]
    Proxy {
        url: DisplayUrl,
        #[source]
        source: ureq::Error,
    },
    #[error(transparent)]
    ProxySetting(#[from] ProxyError),
    #[error("{} (through the proxy {proxy}, set in {variable})", with_causes(&**inner))]
    ViaProxy {
        proxy: DisplayUrl,
        variable: &'static str,
        inner: Box<TransferError>,
    },
    #[error("the redirect from {url} cannot be followed: {reason}")]
    Redirect { url: DisplayUrl, reason: String },
    #[error("receiving the body of {url} failed")]
    Body {
        url: DisplayUrl,
        #[source]
        source: io::Error,
    },
    #[error("requesting {url} failed")]
    Request {
        url: DisplayUrl,
        #[source]
        source: ureq::Error,
    },
}

impl TransferError {
    /// Tells whether another attempt may succeed: timeouts, connection failures, early closes
    /// and the statuses that mean "try later" (408, 429, 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            TransferError::Status { status, .. } => {
                matches!(status, 408 | 429) || (500..=599).contains(status)
            }
            TransferError::ConnectTimeout { .. }
            | TransferError::Stalled { .. }
            | TransferError::Timeout { .. }
            | TransferError::Truncated { .. }
            | TransferError::Connect { .. } => true,
            TransferError::Body { source, .. } => is_transient_kind(source.kind()),
            TransferError::ViaProxy { inner, .. } => inner.is_transient(),
            TransferError::Tls { .. }
            | TransferError::Proxy { .. }
            | TransferError::ProxySetting(_)
            | TransferError::Redirect { .. }
            | TransferError::Request { .. } => false,
        }
    }
}

/// The timeouts the client set, to state the limit that expired.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) connect: Duration,
    pub(crate) stall: Duration,
}

/// Classifies an error from sending a request or receiving its headers.
pub(crate) fn from_request(url: DisplayUrl, error: ureq::Error, limits: Limits) -> TransferError {
    match error {
        ureq::Error::StatusCode(status) => TransferError::Status { url, status },
        ureq::Error::Timeout(phase) => from_timeout(url, phase, limits),
        ureq::Error::Io(source) => from_io(url, source, limits),
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            TransferError::Connect { url, source: error }
        }
        ureq::Error::Tls(_) | ureq::Error::Pem(_) | ureq::Error::Rustls(_) => {
            TransferError::Tls { url, source: error }
        }
        ureq::Error::ConnectProxyFailed(_) | ureq::Error::InvalidProxyUrl => {
            TransferError::Proxy { url, source: error }
        }
        _ => TransferError::Request { url, source: error },
    }
}

/// Classifies an error from reading the body. ureq wraps its own errors in `io::Error`, and
/// reports a body shorter than its `Content-Length` as `UnexpectedEof`.
pub(crate) fn from_io(url: DisplayUrl, error: io::Error, limits: Limits) -> TransferError {
    if error
        .get_ref()
        .is_some_and(<dyn std::error::Error + Send + Sync>::is::<ureq::Error>)
    {
        let inner = error
            .into_inner()
            .and_then(|inner| inner.downcast::<ureq::Error>().ok())
            .expect("the inner error was checked to be a ureq::Error");
        return from_request(url, *inner, limits);
    }
    if error
        .get_ref()
        .is_some_and(<dyn std::error::Error + Send + Sync>::is::<rustls::Error>)
    {
        return TransferError::Tls {
            url,
            source: ureq::Error::Io(error),
        };
    }
    match error.kind() {
        io::ErrorKind::UnexpectedEof => TransferError::Truncated { url, source: error },
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => TransferError::Stalled {
            url,
            limit: limits.stall,
        },
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::NotConnected
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable => TransferError::Connect {
            url,
            source: ureq::Error::Io(error),
        },
        _ => TransferError::Body { url, source: error },
    }
}

fn from_timeout(url: DisplayUrl, phase: ureq::Timeout, limits: Limits) -> TransferError {
    match phase {
        ureq::Timeout::Connect => TransferError::ConnectTimeout {
            url,
            limit: limits.connect,
        },
        ureq::Timeout::PerRead => TransferError::Stalled {
            url,
            limit: limits.stall,
        },
        other => TransferError::Timeout {
            url,
            phase: other.to_string(),
        },
    }
}

fn is_transient_kind(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::Interrupted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::TimedOut
    )
}

fn reason_phrase(status: u16) -> String {
    ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
        .map(|reason| format!(" {reason}"))
        .unwrap_or_default()
}

/// Formats an error with its chain of causes on one line, for log lines.
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
