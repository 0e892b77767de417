#!/usr/bin/env bash
# Times `k3sprov apply` side by side with the way the official install scripts work, in one run.
# It measures three things:
#   cold    k3sprov apply on a fresh root with a fresh cache, against
#           bench/apply/install-script-way.sh (curl, sha256sum, mv and tar -xzf, one by one)
#   no-op   k3sprov apply on a root it already installed, against sha256sum of the installed
#           files (k3s and every CNI plugin)
#   memory  peak resident set size of a cold k3sprov apply, from GNU time
# Then it prints a markdown table with the ratios and the targets. With DIAGNOSE=1 it also
# times k3s alone, the CNI plugins alone, a faster HTTP server (busybox httpd) and a file://
# mirror, and counts system calls with strace, to show where the cold time goes.
#
# The mirror lives under WORK_DIR in GitHub's release layout: a stand-in k3s (a `#!/bin/sh`
# line and then random bytes) and a CNI plugins tarball packed from Debian's real plugins in
# /usr/lib/cni. Servers listen on 127.0.0.1 only and are stopped by PID; nothing leaves loopback.
#
# Usage: bench/apply.sh
# Environment:
#   WORK_DIR   mirror, roots, caches and results (default /tmp/k3sprov-bench-apply)
#   PORT       port of python3's http.server; busybox httpd uses PORT+1 (default 18439)
#   K3S_MIB    size of the stand-in k3s in MiB (default 70)
#   ROUNDS     hyperfine rounds per comparison (default 6); the order alternates each round
#   RUNS       timed runs per command and round for cold applies, after one warm-up (default 3)
#   NOOP_RUNS  timed runs per command and round for no-op applies, after two warm-ups (default 10)
#   RSS_RUNS   cold applies measured with GNU time (default 5)
#   DIAGNOSE   1 (default) runs the extra comparisons that explain the cold figures; 0 skips them
# Needs: cargo, python3, hyperfine, GNU time (/usr/bin/time), curl, tar, sha256sum, and
# Debian's containernetworking-plugins. DIAGNOSE=1 also uses busybox, eatmydata and strace
# when they are installed.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
WORK_DIR="${WORK_DIR:-/tmp/k3sprov-bench-apply}"
PORT="${PORT:-18439}"
BUSYBOX_PORT=$((PORT + 1))
K3S_MIB="${K3S_MIB:-70}"
ROUNDS="${ROUNDS:-6}"
RUNS="${RUNS:-3}"
NOOP_RUNS="${NOOP_RUNS:-10}"
RSS_RUNS="${RSS_RUNS:-5}"
DIAGNOSE="${DIAGNOSE:-1}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_DIR/target}"

K3SPROV="$CARGO_TARGET_DIR/release/k3sprov"
SCRIPT_WAY="$BENCH_DIR/apply/install-script-way.sh"
SERVE_DIR="$WORK_DIR/serve"
PLUGIN_SOURCE="$WORK_DIR/cni-source"
RESULTS="$WORK_DIR/results"
PYTHON_URL="http://127.0.0.1:$PORT"
BUSYBOX_URL="http://127.0.0.1:$BUSYBOX_PORT"
K3S_PATH="k3s-io/k3s/releases/download/v1.33.5+k3s1"
CNI_PATH="containernetworking/plugins/releases/download/v1.6.2"
CNI_ASSET="cni-plugins-linux-amd64-v1.6.2.tgz"
# The plugins of CNI v1.6; Debian's package lacks dummy and tap, which are copies of loopback.
PLUGINS=(bandwidth bridge dhcp dummy firewall host-device host-local ipvlan loopback macvlan
    portmap ptp sbr static tap tuning vlan vrf)
SERVER_PIDS=()

for tool in cargo python3 hyperfine /usr/bin/time curl tar sha256sum; do
    if ! command -v "$tool" >/dev/null; then
        echo "error: $tool not found. Install it first (Debian: apt-get install hyperfine time curl)." >&2
        exit 1
    fi
done
if [[ ! -x /usr/lib/cni/loopback ]]; then
    echo "error: /usr/lib/cni/loopback not found. Run: apt-get install containernetworking-plugins" >&2
    exit 1
fi

stop_servers() {
    local pid
    for pid in "${SERVER_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    SERVER_PIDS=()
}
trap stop_servers EXIT

# Writes one mirror: `full` has the stand-in k3s of K3S_MIB MiB, `tiny` a k3s of a few bytes
# and the same tarball, so that a full apply from `tiny` costs about what the CNI part costs.
make_mirror() {
    local full="$SERVE_DIR/full" tiny="$SERVE_DIR/tiny"
    rm -rf "$SERVE_DIR" "$PLUGIN_SOURCE" "$RESULTS"
    mkdir -p "$full/$K3S_PATH" "$full/$CNI_PATH" "$tiny/$K3S_PATH" "$tiny/$CNI_PATH" \
        "$PLUGIN_SOURCE" "$RESULTS"
    { printf '#!/bin/sh\necho "k3s stand-in"\nexit 0\n'; head -c $((K3S_MIB * 1048576)) /dev/urandom; } \
        >"$full/$K3S_PATH/k3s"
    printf '#!/bin/sh\necho "k3s stand-in"\nexit 0\n' >"$tiny/$K3S_PATH/k3s"

    local plugin
    for plugin in "${PLUGINS[@]}"; do
        case "$plugin" in
            dummy | tap) cp /usr/lib/cni/loopback "$PLUGIN_SOURCE/$plugin" ;;
            *) cp "/usr/lib/cni/$plugin" "$PLUGIN_SOURCE/$plugin" ;;
        esac
    done
    echo "Apache License 2.0 (stand-in text)" >"$PLUGIN_SOURCE/LICENSE"
    echo "# CNI plugins" >"$PLUGIN_SOURCE/README.md"
    # `tar -C DIR .` gives the `./bridge` entry names of the upstream tarball.
    tar -czf "$full/$CNI_PATH/$CNI_ASSET" -C "$PLUGIN_SOURCE" .
    ln "$full/$CNI_PATH/$CNI_ASSET" "$tiny/$CNI_PATH/$CNI_ASSET"

    local mirror
    for mirror in "$full" "$tiny"; do
        # Upstream's list names the air-gap image tarballs too; k3sprov must pick the k3s line.
        (cd "$mirror/$K3S_PATH" && {
            echo "$(printf 'airgap' | sha256sum | cut -d' ' -f1)  k3s-airgap-images-amd64.tar.gz"
            sha256sum k3s
        } >sha256sum-amd64.txt)
        (cd "$mirror/$CNI_PATH" && sha256sum "$CNI_ASSET" >"$CNI_ASSET.sha256")
    done
    printf 'extends = "gvisor"\nmount = []\n' >"$WORK_DIR/profile.toml"
    printf 'kind = "sandbox"\n\n[k3s]\nversion = "v1.33.5+k3s1"\n' >"$WORK_DIR/k3s-only.toml"
}

wait_for() {
    local url="$1" log="$2"
    for _ in $(seq 1 50); do
        curl -sf -o /dev/null "$url/full/$K3S_PATH/sha256sum-amd64.txt" && return 0
        sleep 0.1
    done
    echo "error: no HTTP server responded at $url; see $log" >&2
    exit 1
}

start_servers() {
    python3 -m http.server --bind 127.0.0.1 --directory "$SERVE_DIR" "$PORT" \
        >"$WORK_DIR/python-server.log" 2>&1 &
    SERVER_PIDS+=($!)
    wait_for "$PYTHON_URL" "$WORK_DIR/python-server.log"
    if [[ "$DIAGNOSE" == 1 ]] && command -v busybox >/dev/null; then
        busybox httpd -f -p "127.0.0.1:$BUSYBOX_PORT" -h "$SERVE_DIR" \
            >"$WORK_DIR/busybox-server.log" 2>&1 &
        SERVER_PIDS+=($!)
        wait_for "$BUSYBOX_URL" "$WORK_DIR/busybox-server.log"
    fi
}

# Prints the command line of a k3sprov apply: PROFILE MIRROR ROOT CACHE [FLAGS...].
k3sprov_command() {
    local profile="$1" mirror="$2" root="$3" cache="$4"
    shift 4
    echo "$K3SPROV apply $profile --root $root --mirror $mirror --cache-dir $cache $*"
}

# Checks that both ways install what the mirror serves, so the timings compare equal work.
check_installs() {
    local root
    for root in "$WORK_DIR/check-k3sprov" "$WORK_DIR/check-script"; do
        rm -rf "$root" "$WORK_DIR/check-cache" && mkdir -p "$root"
    done
    $(k3sprov_command "$WORK_DIR/profile.toml" "$PYTHON_URL/full" "$WORK_DIR/check-k3sprov" \
        "$WORK_DIR/check-cache") >"$RESULTS/check-k3sprov.log" 2>&1
    "$SCRIPT_WAY" "$PYTHON_URL/full" "$WORK_DIR/check-script" >"$RESULTS/check-script.log" 2>&1
    local plugin
    for root in "$WORK_DIR/check-k3sprov" "$WORK_DIR/check-script"; do
        cmp "$SERVE_DIR/full/$K3S_PATH/k3s" "$root/usr/local/bin/k3s"
        for plugin in "${PLUGINS[@]}"; do
            cmp "$PLUGIN_SOURCE/$plugin" "$root/opt/cni/bin/$plugin"
        done
    done
}

# Installs the root that the no-op applies run on, and checks that a second apply changes nothing.
prepare_noop_root() {
    local root="$WORK_DIR/root-noop"
    rm -rf "$root" "$WORK_DIR/cache-noop" && mkdir -p "$root"
    local command
    command="$(k3sprov_command "$WORK_DIR/profile.toml" "$PYTHON_URL/full" "$root" "$WORK_DIR/cache-noop")"
    $command >/dev/null 2>&1
    if ! $command 2>&1 | grep -q '^0 created, 0 updated, 23 unchanged\.$'; then
        echo "error: a second apply on $root was not a no-op:" >&2
        $command >&2
        exit 1
    fi
    INSTALLED_FILES="$root/usr/local/bin/k3s"
    local plugin
    for plugin in "${PLUGINS[@]}"; do
        INSTALLED_FILES+=" $root/opt/cni/bin/$plugin"
    done
}

# Times labelled commands in ROUNDS hyperfine runs, changing their order each round.
#   compare NAME RUNS WARMUP HYPERFINE_FLAGS LABEL COMMAND PREPARE [LABEL COMMAND PREPARE]...
# An empty PREPARE means none. Rounds go to $RESULTS/NAME-ROUND.json.
compare() {
    local name="$1" runs="$2" warmup="$3" flags="$4"
    shift 4
    local labels=() commands=() prepares=()
    while (($#)); do
        labels+=("$1") commands+=("$2") prepares+=("$3")
        shift 3
    done
    local count=${#labels[@]} round
    for round in $(seq 1 "$ROUNDS"); do
        local arguments=() index
        # shellcheck disable=SC2206 # FLAGS is a list of words on purpose
        arguments=($flags)
        # Odd rounds go forward and even rounds backward, from a start that moves each round.
        local start=$(((round - 1) % count)) offset
        for offset in $(seq 0 $((count - 1))); do
            if ((round % 2)); then
                index=$(((start + offset) % count))
            else
                index=$(((start - offset + count) % count))
            fi
            if [[ -n "${prepares[index]}" ]]; then
                arguments+=(--prepare "${prepares[index]}")
            fi
            arguments+=(-n "${labels[index]}" "${commands[index]}")
        done
        echo "  $name, round $round of $ROUNDS" >&2
        hyperfine --warmup "$warmup" --runs "$runs" --export-json "$RESULTS/$name-$round.json" \
            "${arguments[@]}" >"$RESULTS/$name-$round.txt" 2>"$RESULTS/$name-$round.log"
    done
}

# Cold cases, as (label, command, prepare) triples, all timed together by time_cold.
COLD_CASES=()

# Adds a cold case pair for MIRROR: k3sprov with PROFILE, and the install-script way for PARTS.
add_cold_pair() {
    local name="$1" mirror="$2" profile="$3" parts="$4"
    local k_root="$WORK_DIR/root-$name-k3sprov" k_cache="$WORK_DIR/cache-$name"
    local s_root="$WORK_DIR/root-$name-script"
    COLD_CASES+=(
        "k3sprov/$name" "$(k3sprov_command "$profile" "$mirror" "$k_root" "$k_cache")"
        "rm -rf $k_root $k_cache && mkdir $k_root && sync"
        "install-script/$name" "$SCRIPT_WAY $mirror $s_root $parts"
        "rm -rf $s_root && mkdir $s_root && sync"
    )
}

# Times every cold case in the same rounds, so that load from other jobs on the machine
# falls on all of them alike and the diagnostics can be compared with the main figures.
# Each prepare step ends with `sync`. The install-script way does not fsync, so without it the
# writeback of its 140 MiB would land on whichever command runs next.
time_cold() {
    add_cold_pair python "$PYTHON_URL/full" "$WORK_DIR/profile.toml" all
    if [[ "$DIAGNOSE" == 1 ]]; then
        add_cold_pair k3s-only "$PYTHON_URL/full" "$WORK_DIR/k3s-only.toml" k3s
        add_cold_pair cni-only "$PYTHON_URL/tiny" "$WORK_DIR/profile.toml" cni
        if command -v busybox >/dev/null; then
            add_cold_pair busybox "$BUSYBOX_URL/full" "$WORK_DIR/profile.toml" all
        fi
        add_cold_pair file "file://$SERVE_DIR/full" "$WORK_DIR/profile.toml" all
        # Downloads nothing: the artifacts come from a filled cache, the root is fresh.
        local root="$WORK_DIR/root-cached"
        COLD_CASES+=(
            "k3sprov/cached" "$(k3sprov_command "$WORK_DIR/profile.toml" "$PYTHON_URL/full" \
                "$root" "$WORK_DIR/cache-noop")"
            "rm -rf $root && mkdir $root && sync"
        )
        # eatmydata turns fsync into a no-op, which shows what k3sprov's fsyncs cost.
        if command -v eatmydata >/dev/null; then
            root="$WORK_DIR/root-no-fsync"
            local cache="$WORK_DIR/cache-no-fsync"
            COLD_CASES+=(
                "k3sprov/no-fsync" "eatmydata $(k3sprov_command "$WORK_DIR/profile.toml" \
                    "$PYTHON_URL/full" "$root" "$cache")"
                "rm -rf $root $cache && mkdir $root && sync"
            )
        fi
    fi
    compare cold "$RUNS" 1 "" "${COLD_CASES[@]}"
}

# GNU time's maximum resident set size of RSS_RUNS cold applies, in KiB, one per line.
measure_rss() {
    local root="$WORK_DIR/root-rss" cache="$WORK_DIR/cache-rss" run
    : >"$RESULTS/rss-kib"
    for run in $(seq 1 "$RSS_RUNS"); do
        rm -rf "$root" "$cache" && mkdir -p "$root"
        /usr/bin/time -v -o "$RESULTS/rss-$run.txt" \
            $(k3sprov_command "$WORK_DIR/profile.toml" "$PYTHON_URL/full" "$root" "$cache") \
            >/dev/null 2>&1
        sed -n 's/.*Maximum resident set size (kbytes): //p' "$RESULTS/rss-$run.txt" >>"$RESULTS/rss-kib"
    done
}

# Counts the fsync, write and read calls of one cold apply of each way, with the wall time
# spent in them. Without `-w`, strace would count only system CPU time and hide disk waits.
count_syscalls() {
    command -v strace >/dev/null || return 0
    local root="$WORK_DIR/root-strace" cache="$WORK_DIR/cache-strace"
    rm -rf "$root" "$cache" && mkdir -p "$root"
    strace -f -c -w -o "$RESULTS/strace-k3sprov.txt" \
        $(k3sprov_command "$WORK_DIR/profile.toml" "$PYTHON_URL/full" "$root" "$cache") \
        >/dev/null 2>&1
    rm -rf "$root" && mkdir -p "$root"
    strace -f -c -w -o "$RESULTS/strace-script.txt" "$SCRIPT_WAY" "$PYTHON_URL/full" "$root" \
        >/dev/null 2>&1
}

describe_machine() {
    local cpu memory
    cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    memory="$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "Machine: $(nproc) CPUs ($cpu), $memory of memory, Linux $(uname -r)," \
        "k3sprov commit $(git -C "$REPO_DIR" rev-parse --short HEAD), $(hyperfine --version)," \
        "$(curl --version | head -n 1 | cut -d' ' -f1-2), $(python3 --version)."
    echo "Load average before the runs: $LOAD_BEFORE."
    echo
}

main() {
    LOAD_BEFORE="$(cut -d' ' -f1 /proc/loadavg)"
    echo "building k3sprov (release)" >&2
    (cd "$REPO_DIR" && cargo build --release --locked -q)
    echo "writing the mirror under $SERVE_DIR" >&2
    make_mirror
    start_servers
    check_installs
    prepare_noop_root

    echo "timing with hyperfine" >&2
    time_cold
    compare noop "$NOOP_RUNS" 2 "-N" \
        "k3sprov" "$(k3sprov_command "$WORK_DIR/profile.toml" "$PYTHON_URL/full" \
            "$WORK_DIR/root-noop" "$WORK_DIR/cache-noop")" "" \
        "sha256sum" "sha256sum $INSTALLED_FILES" "" \
        "k3sprov --verify" "$(k3sprov_command "$WORK_DIR/profile.toml" "$PYTHON_URL/full" \
            "$WORK_DIR/root-noop" "$WORK_DIR/cache-noop" --verify)" ""
    echo "measuring peak memory" >&2
    measure_rss
    if [[ "$DIAGNOSE" == 1 ]]; then
        count_syscalls
    fi
    stop_servers

    {
        describe_machine
        python3 "$BENCH_DIR/apply/report.py" "$RESULTS" "$ROUNDS" \
            "$(stat -c %s "$SERVE_DIR/full/$CNI_PATH/$CNI_ASSET")" \
            "$(stat -c %s "$SERVE_DIR/full/$K3S_PATH/k3s")" \
            "$(cat $INSTALLED_FILES | wc -c)"
    } | tee "$RESULTS/table.md"
}

main "$@"
