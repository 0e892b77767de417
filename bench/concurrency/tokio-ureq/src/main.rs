//! Concurrency benchmark, variant (c): ureq 3 inside `tokio::task::spawn_blocking`.
//!
//! Usage: `bench-tokio-ureq BINARY_URL TARBALL_URL OUT_DIR`
//!
//! Does the same work as variant (a) with the same blocking code, but starts the two
//! downloads as blocking tasks on a multi-threaded tokio runtime, as an async k3sprov
//! would have to.

#[path = "../../shared/blocking.rs"]
mod blocking;

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;

use blocking::{BenchError, download_file, download_tarball, io_error};

async fn run(binary_url: String, tarball_url: String, out_dir: PathBuf) -> Result<(), BenchError> {
    let agent = ureq::Agent::new_with_defaults();
    let binary_path = out_dir.join("k3s");
    let tarball_dir = out_dir.join("cni");
    fs::create_dir_all(&tarball_dir)
        .map_err(io_error(format!("cannot create {}", tarball_dir.display())))?;

    let binary_agent = agent.clone();
    let binary = tokio::task::spawn_blocking(move || {
        download_file(&binary_agent, &binary_url, &binary_path)
    });
    let tarball = tokio::task::spawn_blocking(move || {
        download_tarball(&agent, &tarball_url, &tarball_dir)
    });
    let (binary, tarball) = (join(binary).await, join(tarball).await);
    println!("k3s {}", binary?);
    println!("cni {}", tarball?);
    Ok(())
}

/// Waits for a blocking task and re-raises its panic, if it had one.
async fn join<T>(handle: tokio::task::JoinHandle<T>) -> T {
    match handle.await {
        Ok(value) => value,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Ok([binary_url, tarball_url, out_dir]) = <[String; 3]>::try_from(args) else {
        return blocking::report(Err(BenchError::Usage));
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().build() {
        Ok(runtime) => runtime,
        Err(source) => {
            let context = "cannot start the tokio runtime".to_owned();
            return blocking::report(Err(BenchError::Io { context, source }));
        }
    };
    blocking::report(runtime.block_on(run(binary_url, tarball_url, PathBuf::from(out_dir))))
}
