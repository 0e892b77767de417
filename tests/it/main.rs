//! Integration tests: the `k3sprov` binary run the way users run it.

mod fetch;
mod plan;
mod schema;
mod support;
mod validate;
