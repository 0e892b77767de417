//! Where release artifacts come from, and how they are downloaded, verified and cached.

pub mod cache;
pub mod checksum;
pub mod http;
pub mod proxy;
pub mod redact;
pub mod release;
pub mod tls;
pub mod transfer;
pub mod verify;
