"""CPU cost of one uncached on-demand prediction (issue 11 item 3), in process: a `Service` on a
store built by `bench/bench_api.py --data-dir DIR`, its matchup grid warmed, then `--misses`
`/v1/predict` answers with prices no one asked before (a Redis miss each), one at a time.

Prints wall and CPU (process time: every thread of this process) per miss, so the figure is
comparable on a shared machine, and with `--profile` the top functions of a cProfile.

    python bench/bench_api.py --data-dir /tmp/store --clients 1   # builds the store once
    python bench/bench_miss_cpu.py --data-dir /tmp/store --misses 50 --profile
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_api import DAY, NOW  # noqa: E402


def concurrent(miss, n: int, threads: int) -> None:
    """`n` misses from `threads` threads started together: latency p50/p99, misses/s, CPU."""
    lat, lock, start = [], threading.Lock(), threading.Barrier(threads)

    def client(k: int) -> None:
        start.wait()
        for i in range(k + 50_000, n + 50_000, threads):
            t0 = time.perf_counter()
            miss(i)
            with lock:
                lat.append((time.perf_counter() - t0) * 1000)
    w0, c0, t0 = time.perf_counter(), time.process_time(), os.times()
    pool = [threading.Thread(target=client, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall, cpu, t1 = time.perf_counter() - w0, time.process_time() - c0, os.times()
    q = statistics.quantiles(lat, n=100, method="inclusive")
    print(f"{n} misses from {threads} threads at once: p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms, "
          f"{n / wall:.1f} misses/s, CPU {cpu / n * 1000:.1f} ms per miss (user "
          f"{(t1.user - t0.user) / n * 1000:.1f}, "
          f"system {(t1.system - t0.system) / n * 1000:.1f}); "
          f"load1 {os.getloadavg()[0]:.1f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", required=True, help="a store built by bench/bench_api.py")
    ap.add_argument("--misses", type=int, default=50)
    ap.add_argument("--profile", action="store_true", help="print the cProfile top 30")
    ap.add_argument("--threads", type=int, default=0, help="then as many misses again from this "
                    "many threads at once (the API's thread pool): wall p50/p99 and misses/s")
    ap.add_argument("--redis-url", default=os.environ.get("TIPOFF_REDIS_URL",
                                                          "redis://127.0.0.1:6379/0"))
    args = ap.parse_args()
    os.environ.update(TIPOFF_DATA_DIR=args.data_dir, TIPOFF_NOW=NOW)
    os.environ.pop("TIPOFF_PREDICTIONS_URL", None)
    import pandas as pd

    from pipeline_assets.serving import Service
    from resources.cache import Cache

    cache = Cache(args.redis_url, f"tipoff:bench-cpu-{uuid.uuid4().hex[:8]}:")
    service = Service(root=Path(args.data_dir), cache=cache, clock=lambda: pd.Timestamp(NOW))
    try:
        teams = sorted(service.by_abbr)
        t0 = time.perf_counter()
        service.predict(teams[0], teams[1], DAY)
        print(f"warm-up (grid, models): {time.perf_counter() - t0:.2f} s; "
              f"load1 {os.getloadavg()[0]:.1f}")

        def miss(i: int) -> None:
            h, a = teams[i % len(teams)], teams[(i * 7 + 3) % len(teams)]
            a = a if a != h else teams[(i + 1) % len(teams)]
            out = service.predict(h, a, DAY, spread=-2.5 - i % 7, total=220.5 + i % 9,
                                  home_ml=-(110 + i), away_ml=100 + i % 300)
            assert out["cached"] is False
        for i in range(10):  # the first calls of every path (numba, models)
            miss(10_000 + i)
        prof = cProfile.Profile() if args.profile else None
        wall, cpu = [], []
        for i in range(args.misses):
            w0, c0, t0 = time.perf_counter(), time.process_time(), os.times()
            if prof:
                prof.enable()
            miss(i)
            if prof:
                prof.disable()
            wall.append((time.perf_counter() - w0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        print(f"{args.misses} misses, one at a time: wall p50 {statistics.median(wall):.1f} ms "
              f"(max {max(wall):.1f}), CPU p50 {statistics.median(cpu):.1f} ms "
              f"(mean {statistics.mean(cpu):.1f}); load1 {os.getloadavg()[0]:.1f}"
              f"{' (under cProfile)' if prof else ''}")
        if args.threads:
            concurrent(miss, args.misses, args.threads)
        if prof:
            pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
            pstats.Stats(prof).sort_stats("tottime").print_stats(15)
    finally:
        cache.clear()
    return 0


if __name__ == "__main__":
    sys.exit(main())
