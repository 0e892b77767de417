//! The certificate authorities the HTTP client trusts.
//!
//! Without `ca_file`, ureq's platform verifier decides (rustls-platform-verifier 0.7). On Linux
//! it reads `SSL_CERT_FILE` and `SSL_CERT_DIR` when either is set, and the system store
//! otherwise. ureq's default, Mozilla's roots compiled in, would ignore both and reject a
//! TLS-intercepting proxy's CA.
//!
//! With `ca_file`, the roots are the system's (rustls-native-certs, which honours the same two
//! variables) plus every certificate in the file, because ureq cannot add one CA to the platform
//! verifier.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// A `ca_file` that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CaFileError {
    #[error("reading the CA file {} failed", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the CA file {} is not valid PEM", path.display())]
    Pem {
        path: PathBuf,
        #[source]
        source: ureq::Error,
    },
    #[error(
        "the CA file {} contains no certificate; it must hold one or more `-----BEGIN CERTIFICATE-----` blocks",
        path.display()
    )]
    NoCertificate { path: PathBuf },
}

/// Builds the TLS settings: the platform verifier, or the system roots plus `ca_file`.
pub fn tls_config(ca_file: Option<&Path>) -> Result<TlsConfig, CaFileError> {
    let roots = match ca_file {
        None => RootCerts::PlatformVerifier,
        Some(path) => {
            let mut roots = system_roots();
            roots.extend(read_ca_file(path)?);
            RootCerts::Specific(Arc::new(roots))
        }
    };
    Ok(TlsConfig::builder().root_certs(roots).build())
}

/// Reads the certificates of a PEM file; keys and other blocks in it are ignored.
pub fn read_ca_file(path: &Path) -> Result<Vec<Certificate<'static>>, CaFileError> {
    let bytes = std::fs::read(path).map_err(|source| CaFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut certificates = Vec::new();
    for item in ureq::tls::parse_pem(&bytes) {
        let item = item.map_err(|source| CaFileError::Pem {
            path: path.to_path_buf(),
            source,
        })?;
        if let PemItem::Certificate(certificate) = item {
            certificates.push(certificate);
        }
    }
    if certificates.is_empty() {
        return Err(CaFileError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certificates)
}

/// Loads the system's roots. A store that is missing or partly unreadable is logged and not
/// fatal: with `ca_file` given, that file's CA may be all the user needs.
fn system_roots() -> Vec<Certificate<'static>> {
    let loaded = rustls_native_certs::load_native_certs();
    for error in &loaded.errors {
        tracing::warn!(%error, "some system CA certificates could not be loaded");
    }
    loaded
        .certs
        .iter()
        .map(|certificate| Certificate::from_der(certificate.as_ref()).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_ca_file_names_the_path() {
        let error = tls_config(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(matches!(error, CaFileError::Read { .. }));
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
    }

    #[test]
    fn file_without_certificate_is_rejected() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("empty.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let error = tls_config(Some(&path)).unwrap_err();
        assert!(
            matches!(error, CaFileError::NoCertificate { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("empty.pem"), "{error}");
    }

    #[test]
    fn broken_pem_block_is_rejected() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("broken.pem");
        std::fs::write(&path, "-----BEGIN CERTIFICATE-----\n!!!!\n").unwrap();
        let error = tls_config(Some(&path)).unwrap_err();
        assert!(error.to_string().contains("broken.pem"), "{error}");
    }
}
