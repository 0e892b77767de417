//! Where release artifacts come from.

pub mod release;
