//! k3sprov: declarative, idempotent k3s provisioning.
//!
//! The pipeline runs in one direction: a TOML profile is parsed and merged with what it
//! `extends` ([`profile`]), checked into a [`profile::spec::Spec`], compared with the machine
//! ([`host`], [`steps`]) into a [`plan::Plan`], and printed or applied.

pub mod diagnostic;
pub mod flags;
pub mod profile;
pub mod schema;
mod suggest;
