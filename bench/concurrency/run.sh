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
#   RUNS         hyperfine runs per variant after 2 warm-up runs (default 10)
#   CLEAN_BUILD  1 (default) deletes each target dir and times a clean release build;
#                0 reuses existing binaries and leaves the build-time column empty
# Needs: cargo, python3, hyperfine, GNU time (/usr/bin/time), curl, strip, sha256sum.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MAIN_DIR="$(cd "$BENCH_DIR/../.." && pwd)"
WORK_DIR="${WORK_DIR:-/tmp/k3sprov-bench-concurrency}"
TARGET_ROOT="${TARGET_ROOT:-/tmp/k3sprov-bench-concurrency-target}"
PORT="${PORT:-18437}"
RUNS="${RUNS:-10}"
CLEAN_BUILD="${CLEAN_BUILD:-1}"
VARIANTS=(threads tokio-reqwest tokio-ureq)

SERVE_DIR="$WORK_DIR/serve"
TARBALL_SOURCE="$WORK_DIR/cni-source"
RESULTS="$WORK_DIR/results"
BINARY_URL="http://127.0.0.1:$PORT/k3s"
TARBALL_URL="http://127.0.0.1:$PORT/cni-plugins.tgz"

for tool in cargo python3 hyperfine /usr/bin/time curl strip sha256sum; do
    command -v "$tool" >/dev/null || { echo "error: $tool not found; install it first" >&2; exit 1; }
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
    local variant="$1" target="$TARGET_ROOT/$1" seconds="-"
    (cd "$BENCH_DIR/$variant" && cargo fetch --locked -q)
    if [[ "$CLEAN_BUILD" == 1 ]]; then
        rm -rf "$target"
        local start end
        start="$(date +%s.%N)"
        (cd "$BENCH_DIR/$variant" && CARGO_TARGET_DIR="$target" cargo build --release --locked -q)
        end="$(date +%s.%N)"
        seconds="$(python3 -c "print(f'{$end - $start:.0f}')")"
    else
        (cd "$BENCH_DIR/$variant" && CARGO_TARGET_DIR="$target" cargo build --release --locked -q)
    fi
    echo "$seconds" >"$RESULTS/$variant.build-seconds"
}

# Counts the packages compiled for the host, without the bench crate itself, and how many
# of them k3sprov's own dependency graph does not have yet.
count_crates() {
    local variant="$1" tree="$RESULTS/$1.crates"
    (cd "$BENCH_DIR/$variant" && cargo tree --locked -e normal,build --prefix none --format '{p}') \
        | sed 's/ (\*)$//; s/ (proc-macro)$//' | grep -v "^bench-$variant " | sort -u >"$tree"
    wc -l <"$tree" >"$RESULTS/$variant.crate-count"
    if [[ -s "$RESULTS/k3sprov.crates" ]]; then
        comm -23 "$tree" "$RESULTS/k3sprov.crates" | wc -l >"$RESULTS/$variant.new-crate-count"
    else
        echo "-" >"$RESULTS/$variant.new-crate-count"
    fi
}

# The k3sprov graph is read from its Cargo.lock without touching it; "-" if that fails.
count_k3sprov_crates() {
    (cd "$MAIN_DIR" && cargo tree --locked --offline -e normal,build --prefix none --format '{p}' 2>/dev/null) \
        | sed 's/ (\*)$//; s/ (proc-macro)$//; s/ (\/.*)$//' | grep -v '^k3sprov ' | sort -u \
        >"$RESULTS/k3sprov.crates" || : >"$RESULTS/k3sprov.crates"
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
    echo "error: the HTTP server on 127.0.0.1:$PORT did not answer; see $WORK_DIR/server.log" >&2
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

run_hyperfine() {
    local commands=()
    for variant in "${VARIANTS[@]}"; do
        commands+=(-n "$variant" "$(binary_of "$variant") $BINARY_URL $TARBALL_URL $WORK_DIR/out/$variant")
    done
    hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$RESULTS/hyperfine.json" "${commands[@]}" \
        >"$RESULTS/hyperfine.txt"
}

print_table() {
    RESULTS="$RESULTS" python3 - "${VARIANTS[@]}" <<'EOF'
import json, os, sys

results = os.environ["RESULTS"]
def read(variant, name):
    with open(os.path.join(results, f"{variant}.{name}")) as f:
        return f.read().strip()

times = {r["command"]: r for r in json.load(open(os.path.join(results, "hyperfine.json")))["results"]}
print("| Variant | Wall time, mean ± σ (s) | Min (s) | Peak RSS (MiB) | Binary (MiB) | Stripped (MiB) "
      "| Crates | Crates not in k3sprov | Clean release build (s) |")
print("|---|---|---|---|---|---|---|---|---|")
for variant in sys.argv[1:]:
    t = times[variant]
    mib = lambda n: f"{int(n) / 1048576:.1f}"
    print(f"| {variant} | {t['mean']:.3f} ± {t['stddev']:.3f} | {t['min']:.3f} "
          f"| {int(read(variant, 'rss-kib')) / 1024:.1f} | {mib(read(variant, 'size'))} "
          f"| {mib(read(variant, 'stripped-size'))} | {read(variant, 'crate-count')} "
          f"| {read(variant, 'new-crate-count')} | {read(variant, 'build-seconds')} |")
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
