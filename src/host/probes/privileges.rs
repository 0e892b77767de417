//! The probing process's privileges: its user, effective capabilities and user namespace.

use serde::Serialize;

use super::{Roots, read_trimmed};

/// Capability bit numbers from `<linux/capability.h>`.
const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;

#[derive(Clone, Debug, Serialize)]
pub struct Privileges {
    /// The effective user id; `None` when `/proc/self/status` cannot be read.
    pub uid: Option<u32>,
    pub cap_sys_admin: bool,
    pub cap_net_admin: bool,
    /// True when `/proc/self/uid_map` maps anything other than the whole id range onto itself.
    pub user_namespace: bool,
}

impl Privileges {
    pub fn is_root(&self) -> bool {
        self.uid == Some(0)
    }
}

pub fn probe(roots: &Roots) -> Privileges {
    let status = std::fs::read_to_string(roots.proc.join("self/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let uid = field("Uid")
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|id| id.parse().ok());
    let effective = field("CapEff")
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .unwrap_or(0);
    let uid_map = read_trimmed(&roots.proc.join("self/uid_map")).unwrap_or_default();
    Privileges {
        uid,
        cap_sys_admin: effective & (1 << CAP_SYS_ADMIN) != 0,
        cap_net_admin: effective & (1 << CAP_NET_ADMIN) != 0,
        user_namespace: !is_identity_map(&uid_map),
    }
}

/// True for the initial namespace's map, `0 0 4294967295`, in any spacing.
fn is_identity_map(uid_map: &str) -> bool {
    let fields: Vec<&str> = uid_map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_map_detected() {
        assert!(is_identity_map("         0          0 4294967295"));
        assert!(!is_identity_map("0 100000 65536"));
        assert!(!is_identity_map(""));
    }
}
