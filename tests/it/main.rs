//! Integration tests: the `k3sprov` binary run the way users run it, and the library's
//! installers run against real files and tools.

// Tests set up fixtures with plain `std::fs` writes, which `clippy.toml` rejects in k3sprov's
// own code.
#![allow(clippy::disallowed_methods)]

mod apply;
mod apply_network;
mod doctor;
mod fetch;
mod mounts;
mod plan;
mod release_mirror;
mod render_yaml;
mod robustness;
mod schema;
mod support;
mod tarball;
mod validate;
mod validate_rules;
