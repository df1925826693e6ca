"""Benchmark the slate Monte Carlo: 10,000 sims x 15 games, goal < 15 ms per slate after JIT.

    python bench/bench_montecarlo.py [--reps 50] [--sims 10000] [--games 15] [--threads 1]

Prints the cold-start time (first call in this process: loads the compiled kernels from numba's
disk cache when present, otherwise compiles), then the median over ``--reps`` warm calls.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

GOAL_MS = 15.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--sims", type=int, default=10_000)
    ap.add_argument("--games", type=int, default=15)
    ap.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    args = ap.parse_args()

    t0 = time.perf_counter()
    import numpy as np

    from tipoff_core.domain import montecarlo as mc
    t_import = time.perf_counter() - t0

    rng = np.random.default_rng(0)
    g = args.games
    mu_m = rng.normal(0, 6, g)
    mu_t = rng.normal(226, 6, g)
    spread = -np.round(mu_m * 2) / 2 + 0.5
    line = np.round(mu_t) + 0.5

    def call(n_threads: int = 1):
        return mc.simulate_slate(mu_m, mu_t, 12.0, 18.0, 0.1, n_sims=args.sims, seed=1,
                                 home_spread=spread, total_line=line, n_threads=n_threads)

    t0 = time.perf_counter()
    call()
    t_cold = time.perf_counter() - t0
    print(f"numpy {np.__version__}, numba {mc.numba.__version__}, cpus {os.cpu_count()}")
    print(f"import montecarlo: {t_import * 1e3:8.1f} ms")
    print(f"cold first call  : {t_cold * 1e3:8.1f} ms  (JIT compile, or numba disk-cache load when warm)")

    for n_threads in args.threads:
        call(n_threads)  # warm-up (thread pool start)
        times = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            call(n_threads)
            times.append(time.perf_counter() - t0)
        ms = np.median(times) * 1e3
        print(f"threads={n_threads}: {args.sims:,} sims x {g} games, median of {args.reps}: {ms:6.2f} ms/slate "
              f"(min {np.min(times) * 1e3:.2f}, p90 {np.percentile(times, 90) * 1e3:.2f}) | "
              f"{ms * 1e3 / g:7.1f} us/game | {ms / GOAL_MS:.3f} x the {GOAL_MS:.0f} ms goal "
              f"({'OK' if ms < GOAL_MS else 'OVER'})")

    # spread/total pricing (issue 10): the same simulation keeping its draws, plus every book's
    # line re-evaluated on them (4 books x 15 games here)
    gi = np.repeat(np.arange(g), 4)
    books_sp = np.repeat(spread, 4) + np.tile([0.0, 0.5, -0.5, 1.0], g)
    books_tl = np.repeat(line, 4) + np.tile([0.0, 0.5, -0.5, 1.0], g)
    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        _, h, a = mc.simulate_slate_scores(mu_m, mu_t, 12.0, 18.0, 0.1, n_sims=args.sims, seed=1,
                                           home_spread=spread, total_line=line)
        mc.line_probs_at(h, a, gi, books_sp, books_tl)
        times.append(time.perf_counter() - t0)
    ms = np.median(times) * 1e3
    print(f"keep draws + {len(gi)} book lines: median {ms:6.2f} ms/slate "
          f"({ms / GOAL_MS:.3f} x the {GOAL_MS:.0f} ms goal)")


if __name__ == "__main__":
    main()
