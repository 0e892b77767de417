//! A minimal HTTP CONNECT proxy on 127.0.0.1 that records the targets it tunnelled to.
//!
//! It opens tunnels only to loopback addresses and responds 403 to any other target, so a test
//! can never send traffic off the machine through it. Any method but CONNECT gets 405.

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};

use super::http1::{Acceptor, read_head};

/// The running proxy. Dropping it stops accepting; open tunnels end when either side closes.
pub(crate) struct ConnectProxy {
    acceptor: Acceptor,
    tunnelled: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    pub(crate) fn start() -> ConnectProxy {
        let tunnelled = Arc::new(Mutex::new(Vec::new()));
        let acceptor = Acceptor::spawn({
            let tunnelled = Arc::clone(&tunnelled);
            move |stream| {
                let _ = tunnel(stream, &tunnelled);
            }
        });
        ConnectProxy {
            acceptor,
            tunnelled,
        }
    }

    /// Returns the proxy's URL, such as `http://127.0.0.1:40123`, for `https_proxy` and friends.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.acceptor.port())
    }

    /// Returns the `host:port` targets of the CONNECT requests received so far, in order.
    pub(crate) fn tunnelled(&self) -> Vec<String> {
        self.tunnelled.lock().unwrap().clone()
    }
}

fn tunnel(mut client: TcpStream, tunnelled: &Mutex<Vec<String>>) -> io::Result<()> {
    let head = read_head(&mut client)?;
    if head.method != "CONNECT" {
        return client.write_all(
            b"HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        );
    }
    tunnelled.lock().unwrap().push(head.target.clone());
    let target: Option<SocketAddr> = head.target.parse().ok();
    let Some(target) = target.filter(|address| address.ip().is_loopback()) else {
        return client.write_all(
            b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        );
    };
    let Ok(server) = TcpStream::connect(target) else {
        return client.write_all(
            b"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        );
    };
    client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;

    let (mut client_read, mut server_write) = (client.try_clone()?, server.try_clone()?);
    let upstream = std::thread::spawn(move || {
        let _ = io::copy(&mut client_read, &mut server_write);
        let _ = server_write.shutdown(Shutdown::Write);
    });
    let (mut server_read, mut client_write) = (server, client);
    let _ = io::copy(&mut server_read, &mut client_write);
    let _ = client_write.shutdown(Shutdown::Write);
    let _ = upstream.join();
    Ok(())
}
