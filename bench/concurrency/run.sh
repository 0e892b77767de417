#!/usr/bin/env bash
# Compares three ways to run k3sprov's two concurrent downloads, side by side in one run:
#   threads        ureq 3 + std::thread::scope, one thread per download
#   tokio-reqwest  tokio (multi-thread) + reqwest 0.13 with rustls, streaming bytes_stream()
#   tokio-ureq     tokio (multi-thread) + spawn_blocking around the same ureq code
# Each program streams a 70 MiB random "k3s" binary to a file and gunzips and unpacks a
# 50 MiB "CNI plugins" tarball of random files, hashing both bodies with SHA-256 on the way.
# The files come from python3's http.server on 127.0.0.1; nothing leaves loopback.
#
# Usage: bench/concurrency/run.sh
# Environment:
#   WORK_DIR     inputs, outputs and logs (default /tmp/k3sprov-bench-concurrency)
#   TARGET_ROOT  one CARGO_TARGET_DIR per variant below it (default /tmp/k3sprov-bench-concurrency-target)
#   PORT         port of the local HTTP server (default 18437)
#   ROUNDS       hyperfine rounds (default 6); each round starts with the next variant
#   RUNS         timed runs per variant and round, after one warm-up run (default 3)
#   CLEAN_BUILD  1 (default) deletes each target dir and times a clean release build;
#                0 reuses existing binaries and leaves the build-time column empty
# Needs: cargo, python3, hyperfine, GNU time (/usr/bin/time), curl, strip, sha256sum.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MAIN_DIR="$(cd "$BENCH_DIR/../.." && pwd)"
WORK_DIR="${WORK_DIR:-/tmp/k3sprov-bench-concurrency}"
TARGET_ROOT="${TARGET_ROOT:-/tmp/k3sprov-bench-concurrency-target}"
PORT="${PORT:-18437}"
ROUNDS="${ROUNDS:-6}"
RUNS="${RUNS:-3}"
CLEAN_BUILD="${CLEAN_BUILD:-1}"
VARIANTS=(threads tokio-reqwest tokio-ureq)

SERVE_DIR="$WORK_DIR/serve"
TARBALL_SOURCE="$WORK_DIR/cni-source"
RESULTS="$WORK_DIR/results"
BINARY_URL="http://127.0.0.1:$PORT/k3s"
TARBALL_URL="http://127.0.0.1:$PORT/cni-plugins.tgz"

for tool in cargo python3 hyperfine /usr/bin/time curl strip sha256sum; do
    if ! command -v "$tool" >/dev/null; then
        echo "error: $tool not found. Install it first (Debian: apt-get install hyperfine time curl binutils)." >&2
        exit 1
    fi
done

binary_of() { echo "$TARGET_ROOT/$1/release/bench-$1"; }

# Random bytes, so gzip cannot shrink the tarball: it stays about 50 MiB on the wire.
make_inputs() {
    mkdir -p "$SERVE_DIR" "$RESULTS"
    if [[ ! -f "$SERVE_DIR/k3s" ]]; then
        head -c $((70 * 1024 * 1024)) /dev/urandom >"$SERVE_DIR/k3s.partial"
        mv "$SERVE_DIR/k3s.partial" "$SERVE_DIR/k3s"
    fi
    if [[ ! -f "$SERVE_DIR/cni-plugins.tgz" || ! -d "$TARBALL_SOURCE" ]]; then
        rm -rf "$TARBALL_SOURCE" && mkdir -p "$TARBALL_SOURCE"
        # 20 files of 2.5 MiB, about the shape of the real CNI plugins tarball.
        for i in $(seq -w 1 20); do
            head -c $((2560 * 1024)) /dev/urandom >"$TARBALL_SOURCE/plugin-$i"
        done
        tar -czf "$SERVE_DIR/cni-plugins.tgz.partial" -C "$TARBALL_SOURCE" --sort=name .
        mv "$SERVE_DIR/cni-plugins.tgz.partial" "$SERVE_DIR/cni-plugins.tgz"
    fi
    EXPECTED_BINARY_SHA="$(sha256sum "$SERVE_DIR/k3s" | cut -d' ' -f1)"
    EXPECTED_TARBALL_SHA="$(sha256sum "$SERVE_DIR/cni-plugins.tgz" | cut -d' ' -f1)"
}

# Fetches first, so the timed build measures compiling and linking, not downloading.
build_variant() {
    local variant="$1" target="$TARGET_ROOT/$1"
    (cd "$BENCH_DIR/$variant" && cargo fetch --locked -q)
    if [[ "$CLEAN_BUILD" == 1 ]]; then
        rm -rf "$target"
        # Wall seconds, then user + system CPU seconds of cargo and everything it started.
        (cd "$BENCH_DIR/$variant" && CARGO_TARGET_DIR="$target" /usr/bin/time -f '%e %U %S' \
            -o "$RESULTS/$variant.build-time" cargo build --release --locked -q)
        awk '{ printf "%.0f %.0f\n", $1, $2 + $3 }' "$RESULTS/$variant.build-time" \
            >"$RESULTS/$variant.build-seconds"
    else
        (cd "$BENCH_DIR/$variant" && CARGO_TARGET_DIR="$target" cargo build --release --locked -q)
        echo "- -" >"$RESULTS/$variant.build-seconds"
    fi
}

# Counts the packages compiled for the host, without the bench crate itself, and how many
# of them k3sprov's own dependency graph does not have yet.
count_crates() {
    local variant="$1" tree="$RESULTS/$1.crates"
    (cd "$BENCH_DIR/$variant" && cargo tree --locked -e normal,build --prefix none --format '{p}') \
        | sed 's/ (\*)$//; s/ (proc-macro)$//' | grep -v "^bench-$variant " | sort -u >"$tree"
    wc -l <"$tree" >"$RESULTS/$variant.crate-count"
    comm -23 "$tree" "$RESULTS/k3sprov.crates" | wc -l >"$RESULTS/$variant.new-crate-count"
}

# The k3sprov graph comes from the committed Cargo.toml and Cargo.lock (HEAD), copied to a
# scratch package, so uncommitted edits in the work tree neither break nor shift the count.
count_k3sprov_crates() {
    local scratch="$WORK_DIR/k3sprov-head"
    rm -rf "$scratch" && mkdir -p "$scratch/src"
    git -C "$MAIN_DIR" show HEAD:Cargo.toml >"$scratch/Cargo.toml"
    git -C "$MAIN_DIR" show HEAD:Cargo.lock >"$scratch/Cargo.lock"
    echo 'fn main() {}' >"$scratch/src/main.rs"
    git -C "$MAIN_DIR" rev-parse --short HEAD >"$RESULTS/k3sprov.commit"
    (cd "$scratch" && cargo tree --locked -e normal,build --prefix none --format '{p}') \
        | sed 's/ (\*)$//; s/ (proc-macro)$//' | grep -v '^k3sprov ' | sort -u >"$RESULTS/k3sprov.crates"
}

start_server() {
    python3 -m http.server --bind 127.0.0.1 --directory "$SERVE_DIR" "$PORT" \
        >"$WORK_DIR/server.log" 2>&1 &
    SERVER_PID=$!
    trap 'kill "$SERVER_PID" 2>/dev/null || true' EXIT
    for _ in $(seq 1 50); do
        curl -sf -o /dev/null -r 0-0 "$BINARY_URL" && return 0
        sleep 0.1
    done
    echo "error: the HTTP server on 127.0.0.1:$PORT did not respond; see $WORK_DIR/server.log" >&2
    exit 1
}

# One checked run per variant: wrong digests or wrong files stop the benchmark.
verify_variant() {
    local variant="$1" out="$WORK_DIR/out/$1"
    rm -rf "$out" && mkdir -p "$out"
    "$(binary_of "$variant")" "$BINARY_URL" "$TARBALL_URL" "$out" >"$RESULTS/$variant.digests"
    local expected
    expected="$(printf 'k3s %s\ncni %s\n' "$EXPECTED_BINARY_SHA" "$EXPECTED_TARBALL_SHA")"
    if [[ "$(cat "$RESULTS/$variant.digests")" != "$expected" ]]; then
        echo "error: $variant printed wrong digests:" >&2
        cat "$RESULTS/$variant.digests" >&2
        exit 1
    fi
    cmp "$SERVE_DIR/k3s" "$out/k3s"
    diff -r "$TARBALL_SOURCE" "$out/cni"
}

# Median of three runs of GNU time's maximum resident set size, in KiB.
measure_rss() {
    local variant="$1" out="$WORK_DIR/out/$1" samples=()
    for _ in 1 2 3; do
        /usr/bin/time -f '%M' -o "$RESULTS/$variant.rss" \
            "$(binary_of "$variant")" "$BINARY_URL" "$TARBALL_URL" "$out" >/dev/null
        samples+=("$(tail -n 1 "$RESULTS/$variant.rss")")
    done
    printf '%s\n' "${samples[@]}" | sort -n | sed -n 2p >"$RESULTS/$variant.rss-kib"
}

measure_size() {
    local variant="$1" binary
    binary="$(binary_of "$variant")"
    stat -c %s "$binary" >"$RESULTS/$variant.size"
    strip -o "$RESULTS/$variant.stripped" "$binary"
    stat -c %s "$RESULTS/$variant.stripped" >"$RESULTS/$variant.stripped-size"
}

# The machine is shared, so load changes while the benchmark runs. Several short hyperfine
# rounds, each starting with a different variant, spread that drift over all variants.
run_hyperfine() {
    local round shift
    for round in $(seq 1 "$ROUNDS"); do
        shift=$(( (round - 1) % ${#VARIANTS[@]} ))
        local commands=()
        for variant in "${VARIANTS[@]:shift}" "${VARIANTS[@]:0:shift}"; do
            commands+=(-n "$variant" "$(binary_of "$variant") $BINARY_URL $TARBALL_URL $WORK_DIR/out/$variant")
        done
        hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$RESULTS/hyperfine-$round.json" \
            "${commands[@]}" >"$RESULTS/hyperfine-$round.txt" 2>"$RESULTS/hyperfine-$round.log"
    done
}

print_table() {
    RESULTS="$RESULTS" ROUNDS="$ROUNDS" python3 - "${VARIANTS[@]}" <<'EOF'
import json, os, statistics, sys

results = os.environ["RESULTS"]
def read(variant, name):
    with open(os.path.join(results, f"{variant}.{name}")) as f:
        return f.read().strip()

# Merges the rounds: all wall times of a variant, and its run-weighted mean CPU time.
times, cpu = {}, {}
for round in range(1, int(os.environ["ROUNDS"]) + 1):
    with open(os.path.join(results, f"hyperfine-{round}.json")) as f:
        for r in json.load(f)["results"]:
            times.setdefault(r["command"], []).extend(r["times"])
            cpu.setdefault(r["command"], []).append((r["user"] + r["system"], len(r["times"])))

def mib(n):
    return f"{int(n) / 1048576:.1f}"

print("| Variant | Wall time, median (s) | Mean ± σ (s) | Min (s) | CPU user+sys (s) | Peak RSS (MiB) "
      "| Binary (MiB) | Stripped (MiB) | Crates | Crates not in k3sprov | Clean build, wall (s) "
      "| Clean build, CPU (s) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for variant in sys.argv[1:]:
    t = times[variant]
    cpu_mean = sum(c * n for c, n in cpu[variant]) / sum(n for _, n in cpu[variant])
    build_wall, build_cpu = read(variant, "build-seconds").split()
    print(f"| {variant} | {statistics.median(t):.3f} | {statistics.mean(t):.3f} ± {statistics.stdev(t):.3f} "
          f"| {min(t):.3f} | {cpu_mean:.3f} | {int(read(variant, 'rss-kib')) / 1024:.1f} "
          f"| {mib(read(variant, 'size'))} | {mib(read(variant, 'stripped-size'))} "
          f"| {read(variant, 'crate-count')} | {read(variant, 'new-crate-count')} | {build_wall} | {build_cpu} |")
print(f"\n{len(times[sys.argv[1]])} timed runs per variant; k3sprov commit {read('k3sprov', 'commit')}; "
      f"load average after the runs: {os.getloadavg()[0]:.2f}")
EOF
}

main() {
    make_inputs
    count_k3sprov_crates
    for variant in "${VARIANTS[@]}"; do
        echo "building $variant" >&2
        build_variant "$variant"
        count_crates "$variant"
        measure_size "$variant"
    done
    start_server
    for variant in "${VARIANTS[@]}"; do
        verify_variant "$variant"
        measure_rss "$variant"
    done
    echo "timing with hyperfine" >&2
    run_hyperfine
    kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
    trap - EXIT
    print_table
}

main "$@"
