//! Release artifacts: their URLs, and their download, verification and cache.

pub mod cache;
pub mod checksum;
pub mod http;
pub mod proxy;
pub mod redact;
pub mod release;
pub mod settings;
pub mod tarball;
pub mod tls;
pub mod transfer;
pub mod verify;
