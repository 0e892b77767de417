//! The stock profiles from `profiles/`, compiled into the binary so that `k3sprov plan gvisor`
//! and `extends = "gvisor"` work without the repository.

/// A stock profile: its name and its TOML text.
#[derive(Debug)]
pub struct StockProfile {
    pub name: &'static str,
    pub text: &'static str,
}

static STOCK: [StockProfile; 3] = [
    StockProfile {
        name: "gvisor",
        text: include_str!("../../profiles/gvisor.toml"),
    },
    StockProfile {
        name: "docker",
        text: include_str!("../../profiles/docker.toml"),
    },
    StockProfile {
        name: "host",
        text: include_str!("../../profiles/host.toml"),
    },
];

/// Finds the stock profile called `name`.
pub fn find(name: &str) -> Option<&'static StockProfile> {
    STOCK.iter().find(|profile| profile.name == name)
}

/// Returns the names of all stock profiles.
pub fn names() -> Vec<&'static str> {
    STOCK.iter().map(|profile| profile.name).collect()
}
