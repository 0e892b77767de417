#!/usr/bin/env bash
# Installs k3s and the CNI plugins the way the official install scripts do, one step after
# the other: download to a temporary directory with curl, check with sha256sum, then move
# k3s into place and unpack the tarball with tar. It writes the same files as
# `k3sprov apply` with the gvisor profile, so the two can be timed side by side. Like the
# official scripts, it does not fsync what it writes.
#
# Usage: install-script-way.sh MIRROR_URL ROOT [PARTS]
#   MIRROR_URL  base URL in GitHub's release layout (http://127.0.0.1:PORT or file:///DIR)
#   ROOT        existing directory that stands for /; receives usr/local/bin, opt/cni/bin, etc
#   PARTS       all (default), k3s or cni: which artifacts to install, to time each alone
set -euo pipefail

mirror="$1"
root="$2"
parts="${3:-all}"
k3s_dir="$mirror/k3s-io/k3s/releases/download/v1.33.5%2Bk3s1"
cni_asset="cni-plugins-linux-amd64-v1.6.2.tgz"
cni_dir="$mirror/containernetworking/plugins/releases/download/v1.6.2"

temporary="$(mktemp -d "$root/.install.XXXXXX")"
trap 'rm -rf "$temporary"' EXIT

# The checksum list, then the binary, then a comparison, chmod and mv, as k3s's install.sh does.
install_k3s() {
    curl -fsSL -o "$temporary/sha256sum-amd64.txt" "$k3s_dir/sha256sum-amd64.txt"
    curl -fsSL -o "$temporary/k3s" "$k3s_dir/k3s"
    local expected actual
    expected="$(grep -E '  k3s$' "$temporary/sha256sum-amd64.txt" | cut -d' ' -f1)"
    actual="$(sha256sum "$temporary/k3s" | cut -d' ' -f1)"
    if [[ "$expected" != "$actual" ]]; then
        echo "error: k3s digest $actual does not match $expected" >&2
        exit 1
    fi
    chmod 755 "$temporary/k3s"
    mkdir -p "$root/usr/local/bin"
    mv -f "$temporary/k3s" "$root/usr/local/bin/k3s"
    for link in kubectl crictl ctr; do
        ln -sfn k3s "$root/usr/local/bin/$link"
    done
}

# The tarball and its .sha256 file, `sha256sum -c`, then `tar -xzf`.
install_cni() {
    curl -fsSL -o "$temporary/$cni_asset" "$cni_dir/$cni_asset"
    curl -fsSL -o "$temporary/$cni_asset.sha256" "$cni_dir/$cni_asset.sha256"
    (cd "$temporary" && sha256sum --quiet -c "$cni_asset.sha256")
    mkdir -p "$root/opt/cni/bin"
    tar -xzf "$temporary/$cni_asset" -C "$root/opt/cni/bin"
}

case "$parts" in
    all) install_k3s && install_cni ;;
    k3s) install_k3s ;;
    cni) install_cni ;;
    *) echo "error: PARTS must be all, k3s or cni, not '$parts'" >&2 && exit 2 ;;
esac

# The settings that k3sprov writes to config.yaml for the gvisor profile, without its header.
mkdir -p "$root/etc/rancher/k3s"
cat >"$root/etc/rancher/k3s/config.yaml" <<'YAML'
snapshotter: "native"
kubelet-arg:
  - "local-storage-capacity-isolation=false"
write-kubeconfig-mode: "0644"
YAML
chmod 600 "$root/etc/rancher/k3s/config.yaml"
