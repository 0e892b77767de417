//! Release asset URLs of k3s and the CNI plugins, in GitHub's release layout.
//!
//! k3s: `<mirror>/k3s-io/k3s/releases/download/<tag>/<asset>`, with `+` in the tag sent as `%2B`
//! as k3s's install script sends it, and checksums in `sha256sum-<arch>.txt`.
//! CNI: `<mirror>/containernetworking/plugins/releases/download/<tag>/cni-plugins-linux-<arch>-<tag>.tgz`,
//! with its checksum in `<asset>.sha256`.

use url::Url;

use crate::host::arch::Arch;

/// Returns the name of the k3s binary asset for `arch`.
pub fn k3s_asset(arch: Arch) -> &'static str {
    match arch {
        Arch::Amd64 => "k3s",
        Arch::Arm64 => "k3s-arm64",
        Arch::Arm => "k3s-armhf",
    }
}

/// Returns the name of the k3s checksum file for `arch`.
pub fn k3s_checksum_asset(arch: Arch) -> String {
    format!("sha256sum-{}.txt", arch.as_str())
}

/// Returns the name of the CNI plugins tarball for `arch` and `tag`.
pub fn cni_asset(arch: Arch, tag: &str) -> String {
    format!("cni-plugins-linux-{}-{tag}.tgz", arch.as_str())
}

/// Returns the URL of the k3s release asset `asset`.
pub fn k3s_url(mirror: &Url, tag: &str, asset: &str) -> Url {
    asset_url(mirror, "k3s-io/k3s", tag, asset)
}

/// Returns the URL of the CNI plugins release asset `asset`.
pub fn cni_url(mirror: &Url, tag: &str, asset: &str) -> Url {
    asset_url(mirror, "containernetworking/plugins", tag, asset)
}

fn asset_url(mirror: &Url, repository: &str, tag: &str, asset: &str) -> Url {
    let base = mirror.as_str().trim_end_matches('/');
    let tag = tag.replace('+', "%2B");
    let text = format!("{base}/{repository}/releases/download/{tag}/{asset}");
    Url::parse(&text).expect("a valid base URL with checked tag and asset names stays valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k3s_url_encodes_plus() {
        let mirror = Url::parse("https://github.com").unwrap();
        let url = k3s_url(&mirror, "v1.33.5+k3s1", k3s_asset(Arch::Amd64));
        assert_eq!(
            url.as_str(),
            "https://github.com/k3s-io/k3s/releases/download/v1.33.5%2Bk3s1/k3s"
        );
    }

    #[test]
    fn cni_url_under_mirror_path() {
        let mirror = Url::parse("file:///srv/mirror/").unwrap();
        let asset = cni_asset(Arch::Arm64, "v1.6.2");
        assert_eq!(
            cni_url(&mirror, "v1.6.2", &asset).as_str(),
            "file:///srv/mirror/containernetworking/plugins/releases/download/v1.6.2/cni-plugins-linux-arm64-v1.6.2.tgz"
        );
        assert_eq!(k3s_checksum_asset(Arch::Arm), "sha256sum-arm.txt");
    }
}
