//! Concurrency benchmark, variant (a): ureq 3 with one scoped thread per download.
//!
//! Usage: `bench-threads BINARY_URL TARBALL_URL OUT_DIR`
//!
//! Streams BINARY_URL into `OUT_DIR/k3s` and unpacks the gzipped tarball at TARBALL_URL
//! into `OUT_DIR/cni/`, both at once, hashing each response body with SHA-256 on the way.
//! Prints one `name sha256` line per download, so the caller can check the bytes.

#[path = "../../shared/blocking.rs"]
mod blocking;

use std::path::Path;
use std::process::ExitCode;
use std::{fs, thread};

use blocking::{BenchError, download_file, download_tarball, io_error};

fn run(binary_url: &str, tarball_url: &str, out_dir: &Path) -> Result<(), BenchError> {
    let agent = ureq::Agent::new_with_defaults();
    let binary_path = out_dir.join("k3s");
    let tarball_dir = out_dir.join("cni");
    fs::create_dir_all(&tarball_dir)
        .map_err(io_error(format!("cannot create {}", tarball_dir.display())))?;

    let (binary, tarball) = thread::scope(|scope| {
        let binary = scope.spawn(|| download_file(&agent, binary_url, &binary_path));
        let tarball = scope.spawn(|| download_tarball(&agent, tarball_url, &tarball_dir));
        (join(binary), join(tarball))
    });
    println!("k3s {}", binary?);
    println!("cni {}", tarball?);
    Ok(())
}

/// Waits for a download thread and re-raises its panic, if it had one.
fn join<T>(handle: thread::ScopedJoinHandle<'_, T>) -> T {
    handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    blocking::report(match args.as_slice() {
        [binary_url, tarball_url, out_dir] => run(binary_url, tarball_url, Path::new(out_dir)),
        _ => Err(BenchError::Usage),
    })
}
