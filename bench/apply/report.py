"""Prints the markdown tables of bench/apply.sh from its hyperfine exports.

Usage: report.py RESULTS ROUNDS TARBALL_BYTES K3S_BYTES INSTALLED_BYTES

Each comparison NAME has one hyperfine JSON export per round, RESULTS/NAME-ROUND.json. The
times of a command are merged over all rounds before the median is taken.
"""

import json
import os
import statistics
import sys

COLD_TARGET = 0.5
NOOP_RATIO_TARGET = 0.05
NOOP_SECONDS_TARGET = 0.020
RSS_TARGET_MIB = 16


def load_times(results, name, rounds):
    """Returns {label: [seconds, ...]} over all rounds of NAME, or None when it did not run."""
    times = {}
    for round_number in range(1, rounds + 1):
        path = os.path.join(results, f"{name}-{round_number}.json")
        if not os.path.exists(path):
            return None
        with open(path) as export:
            for result in json.load(export)["results"]:
                times.setdefault(result["command"], []).extend(result["times"])
    return times


def load_cpu(results, name, rounds):
    """Returns {label: mean user+system seconds per run} over all rounds of NAME."""
    totals = {}
    for round_number in range(1, rounds + 1):
        with open(os.path.join(results, f"{name}-{round_number}.json")) as export:
            for result in json.load(export)["results"]:
                runs = len(result["times"])
                seconds, count = totals.get(result["command"], (0.0, 0))
                totals[result["command"]] = (seconds + (result["user"] + result["system"]) * runs, count + runs)
    return {label: seconds / count for label, (seconds, count) in totals.items()}


def milliseconds(seconds):
    return f"{seconds * 1000:.1f}" if seconds < 0.1 else f"{seconds * 1000:.0f}"


def spread(samples):
    """Median, with the interquartile range and the number of runs, as one cell."""
    if len(samples) < 2:
        return f"{milliseconds(samples[0])} (n=1)"
    quartiles = statistics.quantiles(samples, n=4)
    return (f"{milliseconds(statistics.median(samples))} "
            f"(IQR {milliseconds(quartiles[0])}–{milliseconds(quartiles[2])}, n={len(samples)})")


def verdict(met):
    return "**met**" if met else "**missed**"


def main_table(results, rounds):
    cold = load_times(results, "cold", rounds)
    noop = load_times(results, "noop", rounds)
    with open(os.path.join(results, "rss-kib")) as rss_file:
        rss = [int(line) / 1024 for line in rss_file if line.strip()]

    cold_k3sprov = statistics.median(cold["k3sprov/python"])
    cold_script = statistics.median(cold["install-script/python"])
    cold_ratio = cold_k3sprov / cold_script
    noop_k3sprov = statistics.median(noop["k3sprov"])
    noop_sha = statistics.median(noop["sha256sum"])
    noop_ratio = noop_k3sprov / noop_sha
    noop_met = noop_ratio <= NOOP_RATIO_TARGET and noop_k3sprov < NOOP_SECONDS_TARGET

    print("| Measurement | k3sprov, median ms | Reference, median ms | Ratio | Target | Result |")
    print("|---|---|---|---|---|---|")
    print(f"| Cold apply (python3 http.server) | {spread(cold['k3sprov/python'])} "
          f"| install-script way: {spread(cold['install-script/python'])} | {cold_ratio:.2f}× "
          f"| ≤ {COLD_TARGET:.2f}× | {verdict(cold_ratio <= COLD_TARGET)} |")
    print(f"| No-op re-apply | {spread(noop['k3sprov'])} "
          f"| `sha256sum` of installed files: {spread(noop['sha256sum'])} | {noop_ratio:.3f}× "
          f"| ≤ {NOOP_RATIO_TARGET:.2f}× and < {NOOP_SECONDS_TARGET * 1000:.0f} ms | {verdict(noop_met)} |")
    print(f"| Re-apply with `--verify` (for reference) | {spread(noop['k3sprov --verify'])} "
          f"| `sha256sum` of installed files | "
          f"{statistics.median(noop['k3sprov --verify']) / noop_sha:.2f}× | — | — |")
    print(f"| Peak RSS of a cold apply, MiB | max {max(rss):.1f}, median {statistics.median(rss):.1f} "
          f"(n={len(rss)}) | — | — | < {RSS_TARGET_MIB} MiB (max) | {verdict(max(rss) < RSS_TARGET_MIB)} |")
    cpu = load_cpu(results, "cold", rounds)
    print(f"\nCPU time of a cold apply, user + system, mean: k3sprov {milliseconds(cpu['k3sprov/python'])} ms, "
          f"install-script way {milliseconds(cpu['install-script/python'])} ms (the HTTP server's CPU is not counted).")


def diagnostics_table(results, rounds):
    """Prints the extra cold cases, timed in the same rounds as the main cold pair."""
    rows = [
        ("k3s only (python3 http.server)", "k3s-only"),
        ("CNI plugins only, k3s of 40 bytes (python3 http.server)", "cni-only"),
        ("Cold apply, busybox httpd", "busybox"),
        ("Cold apply, `file://` mirror", "file"),
        ("Fresh root, artifacts from k3sprov's cache", "cached"),
        ("Cold apply with fsync turned off (eatmydata, python3 http.server)", "no-fsync"),
    ]
    cold = load_times(results, "cold", rounds)
    cpu = load_cpu(results, "cold", rounds)
    if "k3sprov/k3s-only" not in cold:
        return
    print("\n| Diagnostic | k3sprov, median ms | k3sprov CPU, mean ms "
          "| Install-script way, median ms | Install-script CPU, mean ms | Ratio |")
    print("|---|---|---|---|---|---|")
    for title, name in rows:
        k3sprov = cold.get(f"k3sprov/{name}")
        if k3sprov is None:
            continue
        script = cold.get(f"install-script/{name}")
        k3sprov_cpu = milliseconds(cpu[f"k3sprov/{name}"])
        if script is None:
            print(f"| {title} | {spread(k3sprov)} | {k3sprov_cpu} | — | — | — |")
        else:
            ratio = statistics.median(k3sprov) / statistics.median(script)
            print(f"| {title} | {spread(k3sprov)} | {k3sprov_cpu} | {spread(script)} "
                  f"| {milliseconds(cpu[f'install-script/{name}'])} | {ratio:.2f}× |")


def syscall_lines(results):
    """Summarizes `strace -c -w` of one cold run of each way: fsync, write and read calls."""
    for program, file_name in (("k3sprov", "strace-k3sprov.txt"), ("install-script way", "strace-script.txt")):
        path = os.path.join(results, file_name)
        if not os.path.exists(path):
            return
        counts = {}
        with open(path) as table:
            for line in table:
                fields = line.split()
                if len(fields) >= 5 and fields[-1] in ("fsync", "fdatasync", "write", "read", "recvfrom"):
                    counts[fields[-1]] = (int(fields[3]), float(fields[1]))
        parts = [f"{name} {calls} calls, {seconds * 1000:.0f} ms inside them" for name, (calls, seconds) in sorted(counts.items())]
        print(f"\n`strace -f -c -w`, one cold run of {program} (slowed down by strace): " + "; ".join(parts) + ".")


def main():
    results, rounds = sys.argv[1], int(sys.argv[2])
    tarball_bytes, k3s_bytes, installed_bytes = (int(value) for value in sys.argv[3:6])
    print(f"Inputs: stand-in k3s {k3s_bytes / 1048576:.1f} MiB, CNI tarball {tarball_bytes / 1048576:.1f} MiB, "
          f"installed files {installed_bytes / 1048576:.1f} MiB; {rounds} hyperfine rounds per comparison.\n")
    main_table(results, rounds)
    diagnostics_table(results, rounds)
    syscall_lines(results)
    print(f"\nLoad average after the runs: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
