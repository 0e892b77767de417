//! k3sprov: declarative, idempotent k3s provisioning.
//!
//! The pipeline runs in one direction: a TOML profile is parsed and merged with what it
//! `extends` ([`profile`]), checked into a [`profile::spec::Spec`], compared with the machine
//! ([`host`], [`steps`]) into a [`plan::Plan`], and printed or applied.

// Unit tests set up fixtures with plain `std::fs` writes. The library itself is still linted
// by `clippy.toml`'s list without this exception, as the non-test build of the crate.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod apply;
pub mod cli;
pub mod diagnostic;
pub mod digest;
pub mod doctor;
pub mod fetch;
pub mod flags;
pub mod fsx;
pub mod host;
pub mod plan;
pub mod profile;
pub mod render;
pub mod schema;
pub mod state;
pub mod steps;
mod suggest;
