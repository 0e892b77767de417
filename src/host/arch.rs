//! The CPU architectures k3s publishes binaries for.

use serde::Serialize;

use crate::profile::model::ArchChoice;

/// An architecture with k3s and CNI release assets, named as the release assets name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Amd64,
    Arm64,
    Arm,
}

impl Arch {
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
            Arch::Arm => "arm",
        }
    }

    /// Maps a Rust target architecture (`std::env::consts::ARCH`) to a release architecture.
    pub fn from_target(target: &str) -> Option<Arch> {
        match target {
            "x86_64" => Some(Arch::Amd64),
            "aarch64" => Some(Arch::Arm64),
            "arm" => Some(Arch::Arm),
            _ => None,
        }
    }

    /// Resolves the profile's choice; `auto` means the architecture this binary was built for,
    /// which is the machine's, since k3sprov runs natively.
    pub fn resolve(choice: ArchChoice) -> Result<Arch, UnsupportedArch> {
        match choice {
            ArchChoice::Amd64 => Ok(Arch::Amd64),
            ArchChoice::Arm64 => Ok(Arch::Arm64),
            ArchChoice::Arm => Ok(Arch::Arm),
            ArchChoice::Auto => Arch::from_target(std::env::consts::ARCH)
                .ok_or(UnsupportedArch(std::env::consts::ARCH)),
        }
    }
}

/// The machine's architecture has no k3s release.
#[derive(Debug, thiserror::Error)]
#[error(
    "k3s publishes no binary for this machine's architecture `{0}`; set `arch` under [download] to amd64, arm64 or arm to download for another"
)]
pub struct UnsupportedArch(pub &'static str);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_names_map_to_release_names() {
        assert_eq!(Arch::from_target("x86_64"), Some(Arch::Amd64));
        assert_eq!(Arch::from_target("aarch64"), Some(Arch::Arm64));
        assert_eq!(Arch::from_target("riscv64"), None);
        assert_eq!(Arch::resolve(ArchChoice::Arm).unwrap(), Arch::Arm);
    }
}
