//! k3sprov: declarative, idempotent k3s provisioning.
//!
//! The pipeline runs in one direction: a TOML profile is parsed and merged with what it
//! `extends` ([`profile`]), checked into a [`profile::spec::Spec`], compared with the machine
//! ([`host`], [`steps`]) into a [`plan::Plan`], and printed or applied.

pub mod cli;
pub mod diagnostic;
pub mod digest;
pub mod fetch;
pub mod flags;
pub mod host;
pub mod plan;
pub mod profile;
pub mod render;
pub mod schema;
pub mod state;
pub mod steps;
mod suggest;
