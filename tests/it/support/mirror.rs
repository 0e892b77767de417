//! A release mirror on 127.0.0.1 that serves a directory in GitHub's release layout and can
//! misbehave on request.
//!
//! ```text
//! let root = tempfile::tempdir()?;
//! write_asset(root.path(), "k3s-io/k3s", "v1.33.5+k3s1", "k3s", b"binary");
//! let mirror = Mirror::start(root.path());           // or Mirror::start_tls(root, &ca)
//! mirror.redirect_assets(true);                      // 302 to a second port, as GitHub does
//! mirror.set_behavior("/k3s", Behavior::FailTimes { status: 503, times: 1 });
//! let url = k3s_url(&mirror.url(), "v1.33.5+k3s1", "k3s");
//! ... download ...
//! assert!(mirror.requests().iter().all(|r| r.header("accept-encoding") != Some("gzip")));
//! ```
//!
//! A request path is percent-decoded (`%2B` becomes `+`) and looked up under the root. Every
//! response closes its connection.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::TcpStream;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection, StreamOwned};
use url::Url;

use super::certificates::TestCa;
use super::http1::{Acceptor, RequestHead, percent_decode, read_head};

/// The way the mirror responds to requests for one path.
#[derive(Clone, Debug)]
pub(crate) enum Behavior {
    /// Serves the file, or 404 when it does not exist. The default.
    Serve,
    NotFound,
    /// Responds with `status` to the first `times` requests, then serves the file.
    FailTimes {
        status: u16,
        times: u32,
    },
    /// Announces the whole file in `Content-Length`, sends `keep` bytes and closes.
    Truncate {
        keep: usize,
    },
    /// Sends no `Content-Length`, sends `keep` bytes and closes, so the body just ends.
    CloseDelimited {
        keep: usize,
    },
    /// Announces the whole file, sends `keep` bytes, then waits `pause` before closing.
    Stall {
        keep: usize,
        pause: Duration,
    },
}

/// Which listener received a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Listener {
    /// The port of [`Mirror::url`].
    Primary,
    /// The second port that redirected asset requests go to.
    Assets,
}

/// A request the mirror received.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub(crate) listener: Listener,
    pub(crate) head: RequestHead,
}

impl Recorded {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }
}

struct State {
    root: PathBuf,
    tls: Option<Arc<ServerConfig>>,
    redirect: AtomicBool,
    assets_port: AtomicU16,
    behaviors: Mutex<Vec<(String, Behavior)>>,
    requests: Mutex<Vec<Recorded>>,
}

/// The running mirror. Dropping it stops both listeners.
pub(crate) struct Mirror {
    state: Arc<State>,
    primary: Acceptor,
    assets: Acceptor,
}

impl Mirror {
    /// Serves `root` over plain HTTP.
    pub(crate) fn start(root: &Path) -> Mirror {
        Mirror::start_with(root, None)
    }

    /// Serves `root` over HTTPS with a server certificate signed by `ca`.
    pub(crate) fn start_tls(root: &Path, ca: &TestCa) -> Mirror {
        Mirror::start_with(root, Some(Arc::clone(&ca.server_config)))
    }

    fn start_with(root: &Path, tls: Option<Arc<ServerConfig>>) -> Mirror {
        let state = Arc::new(State {
            root: root.to_path_buf(),
            tls,
            redirect: AtomicBool::new(false),
            assets_port: AtomicU16::new(0),
            behaviors: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
        });
        let listen = |listener: Listener| {
            let state = Arc::clone(&state);
            Acceptor::spawn(move |stream| serve_connection(&state, listener, stream))
        };
        let primary = listen(Listener::Primary);
        let assets = listen(Listener::Assets);
        state.assets_port.store(assets.port(), Ordering::SeqCst);
        Mirror {
            state,
            primary,
            assets,
        }
    }

    /// Returns the base URL, such as `http://127.0.0.1:40123/`: the `mirror` that replaces
    /// `https://github.com`.
    pub(crate) fn url(&self) -> Url {
        self.url_of(self.primary.port())
    }

    /// Returns the base URL of the second listener.
    pub(crate) fn assets_url(&self) -> Url {
        self.url_of(self.assets.port())
    }

    fn url_of(&self, port: u16) -> Url {
        let scheme = if self.state.tls.is_some() {
            "https"
        } else {
            "http"
        };
        Url::parse(&format!("{scheme}://127.0.0.1:{port}/")).unwrap()
    }

    /// When on, the primary listener responds to every `/releases/download/` request with a 302 redirect to
    /// the same path on the second listener.
    pub(crate) fn redirect_assets(&self, on: bool) {
        self.state.redirect.store(on, Ordering::SeqCst);
    }

    /// Sets the response to requests whose decoded path ends with `path_suffix`. A later call
    /// for the same suffix replaces the earlier one.
    pub(crate) fn set_behavior(&self, path_suffix: &str, behavior: Behavior) {
        let mut behaviors = self.state.behaviors.lock().unwrap();
        behaviors.retain(|(suffix, _)| suffix != path_suffix);
        behaviors.push((path_suffix.to_owned(), behavior));
    }

    /// Returns the requests received so far, on both listeners, in arrival order.
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }
}

/// Writes `bytes` as the release asset `asset` of `repository` (such as `k3s-io/k3s`) at `tag`
/// under `root`, and returns its path. The tag is written as is, with a literal `+`.
pub(crate) fn write_asset(
    root: &Path,
    repository: &str,
    tag: &str,
    asset: &str,
    bytes: &[u8],
) -> PathBuf {
    let directory = root.join(repository).join("releases/download").join(tag);
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join(asset);
    std::fs::write(&path, bytes).unwrap();
    path
}

trait Stream: io::Read + io::Write {}
impl<T: io::Read + io::Write> Stream for T {}

fn serve_connection(state: &State, listener: Listener, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    match &state.tls {
        None => {
            let mut stream = stream;
            let _ = answer(state, listener, &mut stream);
        }
        Some(config) => {
            let Ok(connection) = ServerConnection::new(Arc::clone(config)) else {
                return;
            };
            let mut stream = StreamOwned::new(connection, stream);
            if answer(state, listener, &mut stream).is_ok() {
                stream.conn.send_close_notify();
                let _ = stream.flush();
            }
        }
    }
}

fn answer(state: &State, listener: Listener, stream: &mut dyn Stream) -> io::Result<()> {
    let head = read_head(stream)?;
    state.requests.lock().unwrap().push(Recorded {
        listener,
        head: head.clone(),
    });
    let path = percent_decode(head.target.split('?').next().unwrap_or_default());

    let redirect = state.redirect.load(Ordering::SeqCst);
    if listener == Listener::Primary && redirect && path.contains("/releases/download/") {
        let port = state.assets_port.load(Ordering::SeqCst);
        let scheme = if state.tls.is_some() { "https" } else { "http" };
        let location = format!("{scheme}://127.0.0.1:{port}{}", head.target);
        return write_head(
            stream,
            "302 Found",
            &[("Location", &location), ("Content-Length", "0")],
        );
    }

    let Some(bytes) = read_file(&state.root, &path) else {
        return not_found(stream);
    };
    match take_behavior(state, &path) {
        Behavior::Serve => send_body(stream, &bytes, bytes.len(), true),
        Behavior::NotFound => not_found(stream),
        Behavior::FailTimes { status, .. } => {
            let status_line = format!("{status} Failing on purpose");
            write_head(stream, &status_line, &[("Content-Length", "0")])
        }
        Behavior::Truncate { keep } => send_body(stream, &bytes, keep, true),
        Behavior::CloseDelimited { keep } => send_body(stream, &bytes, keep, false),
        Behavior::Stall { keep, pause } => {
            send_body(stream, &bytes, keep, true)?;
            std::thread::sleep(pause);
            Ok(())
        }
    }
}

/// Returns the behavior for `path`, counting down a `FailTimes` budget; an exhausted budget
/// serves the file.
fn take_behavior(state: &State, path: &str) -> Behavior {
    let mut behaviors = state.behaviors.lock().unwrap();
    let Some((_, behavior)) = behaviors
        .iter_mut()
        .find(|(suffix, _)| path.ends_with(suffix.as_str()))
    else {
        return Behavior::Serve;
    };
    match behavior {
        Behavior::FailTimes { times: 0, .. } => Behavior::Serve,
        Behavior::FailTimes { times, .. } => {
            *times -= 1;
            behavior.clone()
        }
        other => other.clone(),
    }
}

/// Reads the file for a decoded request path, refusing paths that leave the root.
fn read_file(root: &Path, path: &str) -> Option<Vec<u8>> {
    let relative = Path::new(path.trim_start_matches('/'));
    if relative
        .components()
        .any(|part| !matches!(part, Component::Normal(_)))
    {
        return None;
    }
    let full = root.join(relative);
    if !full.is_file() {
        return None;
    }
    std::fs::read(full).ok()
}

fn send_body(
    stream: &mut dyn Stream,
    bytes: &[u8],
    keep: usize,
    announce_length: bool,
) -> io::Result<()> {
    let length = bytes.len().to_string();
    let mut headers = vec![("Content-Type", "application/octet-stream")];
    if announce_length {
        headers.push(("Content-Length", length.as_str()));
    }
    write_head(stream, "200 OK", &headers)?;
    stream.write_all(&bytes[..keep.min(bytes.len())])?;
    stream.flush()
}

fn not_found(stream: &mut dyn Stream) -> io::Result<()> {
    write_head(stream, "404 Not Found", &[("Content-Length", "0")])
}

fn write_head(stream: &mut dyn Stream, status: &str, headers: &[(&str, &str)]) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.flush()
}
