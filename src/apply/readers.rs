//! Readers that sit between a download and its consumer: a copy into the cache, and progress
//! reporting with a floor on the transfer speed.

use std::io::Read;

use super::Reporter;

/// Copies every byte read into `copy`, such as a cache entry being written. A failed write
/// fails the read, so a full disk stops the transfer.
pub(super) struct Tee<R, W> {
    pub(super) inner: R,
    pub(super) copy: W,
}

impl<R: Read, W: std::io::Write> Read for Tee<R, W> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let count = self.inner.read(buffer)?;
        self.copy.write_all(&buffer[..count]).map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!("writing the cache entry failed: {error}"),
            )
        })?;
        Ok(count)
    }
}

/// The slowest transfer accepted: fewer bytes than this in [`LOW_SPEED_WINDOW`] fails it.
/// A server that trickles a byte now and then resets every read timeout, so it could otherwise
/// hold an apply for hours. curl's `--speed-limit` and `--speed-time` guard the same way.
const LOW_SPEED_BYTES: u64 = 60 * 1024;
const LOW_SPEED_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// Reports the bytes read from a download to the reporter, and fails a transfer that stays
/// below 1 KiB/s for a whole minute.
pub(super) struct Progress<'a, R> {
    inner: R,
    reporter: &'a dyn Reporter,
    name: &'a str,
    window_start: std::time::Instant,
    window_bytes: u64,
}

impl<'a, R> Progress<'a, R> {
    pub(super) fn new(inner: R, reporter: &'a dyn Reporter, name: &'a str) -> Self {
        Progress {
            inner,
            reporter,
            name,
            window_start: std::time::Instant::now(),
            window_bytes: 0,
        }
    }
}

impl<R: Read> Read for Progress<'_, R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let count = self.inner.read(buffer)?;
        self.reporter.download_progress(self.name, count as u64);
        self.window_bytes += count as u64;
        if count > 0 && self.window_start.elapsed() >= LOW_SPEED_WINDOW {
            if self.window_bytes < LOW_SPEED_BYTES {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the transfer stayed below 1 KiB/s for {} s",
                        LOW_SPEED_WINDOW.as_secs()
                    ),
                ));
            }
            self.window_start = std::time::Instant::now();
            self.window_bytes = 0;
        }
        Ok(count)
    }
}
