//! Facts about the machine: its architecture, what is mounted where, and paths under `--root`.

pub mod arch;
pub mod mountinfo;
pub mod paths;
pub mod probes;
