//! Where release artifacts come from.

pub mod release;
pub mod tarball;
