//! Profiles: reading, merging `extends`, validating, and turning them into a checked spec.

pub mod model;
pub mod tree;
