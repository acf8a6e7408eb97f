"""Benchmark of the Python package against ``cluster-testnodes``.

    pip install ./bindings/python     # the release library, in the wheel
    python bench.py --testnodes target/release/cluster-testnodes

Measures (printed as a table, with the targets):
  1. create+delete pairs per second on 3 test nodes at 0 latency (one
     thread, then several threads sharing one client);
  2. the time of one create_group on 16 test nodes answering after 20 ms
     (the create and the verification are two parallel rounds).
Build the binary in release first (see the README); CLUSTER_CLIENT_LIB
benchmarks another build of the library.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List, Tuple

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True  # run from a checkout: leave no __pycache__ behind

try:
    import cluster_client  # the installed package (its own library)
except ModuleNotFoundError:
    # Not installed: the checkout's sources, with $CLUSTER_CLIENT_LIB.
    sys.path.insert(0, str(HERE / "src"))
    import cluster_client


class Nodes:
    def __init__(self, binary: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [binary, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.hosts = self.proc.stdout.readline().strip().split(",")

    def __enter__(self) -> "Nodes":
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def pairs_per_second(client: cluster_client.ClusterClient, threads: int, seconds: float) -> float:
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def work(t: int) -> None:
        i = 0
        while time.monotonic() < stop:
            gid = f"bench-{t}-{i}"
            if not client.create_group(gid) or client.delete_group(gid):
                raise RuntimeError(f"pair {gid} failed: {client.last_error}")
            i += 1
        counts[t] = i

    start = time.monotonic()
    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.monotonic() - start)


def create_latency(client: cluster_client.ClusterClient, runs: int) -> Tuple[float, float, float]:
    times: List[float] = []
    for i in range(runs):
        start = time.perf_counter()
        if not client.create_group(f"wide-{i}"):
            raise RuntimeError(f"create failed: {client.last_error}")
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return statistics.median(times), p95, times[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--testnodes", default=os.environ.get("CLUSTER_TESTNODES"))
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    if not args.testnodes:
        parser.error("--testnodes (or $CLUSTER_TESTNODES) is required")

    rows = []
    with Nodes(args.testnodes, "--count", "3") as nodes:
        with cluster_client.ClusterClient(nodes.hosts) as client:
            pairs_per_second(client, 1, 0.5)  # warm up: connections open
            one = pairs_per_second(client, 1, args.seconds)
            many = pairs_per_second(client, args.threads, args.seconds)
    rows.append(("create+delete pairs/s, 3 nodes, 0 ms, 1 thread", f"{one:,.0f}", ">= 1400"))
    rows.append(
        (f"create+delete pairs/s, 3 nodes, 0 ms, {args.threads} threads", f"{many:,.0f}", "")
    )
    with Nodes(args.testnodes, "--count", "16", "--latency", "20ms") as nodes:
        with cluster_client.ClusterClient(nodes.hosts) as client:
            create_latency(client, 3)  # warm up
            median, p95, worst = create_latency(client, args.runs)
    rows.append(("create_group, 16 nodes at 20 ms: median ms", f"{median:.1f}", "<= 50"))
    rows.append(("create_group, 16 nodes at 20 ms: p95 ms", f"{p95:.1f}", ""))
    rows.append(("create_group, 16 nodes at 20 ms: max ms", f"{worst:.1f}", ""))

    print(f"cluster_client {cluster_client.library_version}, Python {sys.version.split()[0]}")
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure'.ljust(width)} | {'result':>8} | target  |")
    print(f"|{'-' * (width + 2)}|{'-' * 10}|---------|")
    for name, value, target in rows:
        print(f"| {name.ljust(width)} | {value:>8} | {target:<7} |")


if __name__ == "__main__":
    main()
