"""Where users wait (issue 13 item 4): code-location import, a one-partition CLI materialization,
and the gold history's Dagster bookkeeping.

    python bench/bench_startup.py [--reps 7] [--skip-cli] [--skip-history] [--history-dates N]

1. import: fresh interpreters alternating `import dagster` and `import pipeline_assets.definitions`
   (`--reps` each); medians of wall and CPU (user+sys) time; the goal is definitions - dagster
   < 1 s.  Also lists any heavy library the definitions loaded (there should be none).
2. CLI: `dagster asset materialize -m pipeline_assets.definitions --select schedule_snapshot
   --partition D` on the simulated default in a fresh DAGSTER_HOME (first call creates the
   instance), three dates; then the same run in one process with a timer per phase (import,
   instance, run).  Goal < 5 s.
3. history: `gold_features` (both gold assets) as one single-run backfill over every date of the
   archive (2007-10-01 .. 2022-06-16, 5,373 dates x 2 assets), on an empty store: the Dagster
   bookkeeping alone (planned events, one materialization per partition and asset, partitioned
   checks), console logging at WARNING as `tipoff` runs it.  The computation for the same
   history is `python bench/bench_backfill.py archive_gold_compute`; the whole run end to end (reading
   the stored history, compute, bookkeeping) is `bench_backfill.py archive_history --store DIR`.
   Run once with DAGSTER_EVENT_BATCH_SIZE=0 to see the unbatched figure.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HISTORY = ("2007-10-01", "2022-06-16")
CLI_DATES = ("2026-01-14", "2026-01-15", "2026-01-16")
HEAVY = ("sklearn", "lightgbm", "xgboost", "mlflow", "matplotlib", "numba", "scipy", "redis",
         "requests", "fastapi", "pdfplumber", "celery", "psycopg2")


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(cmd: list[str], env: dict | None = None) -> tuple[float, float, subprocess.CompletedProcess]:
    c0, t0 = _cpu_children(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
    return time.perf_counter() - t0, _cpu_children() - c0, proc


def bench_import(reps: int) -> None:
    runs: dict[str, list[tuple[float, float]]] = {"dagster": [], "pipeline_assets.definitions": []}
    for _ in range(reps):
        for mod in runs:
            wall, cpu, proc = _timed([sys.executable, "-c", f"import {mod}"])
            if proc.returncode:
                raise SystemExit(f"import {mod} failed:\n{proc.stderr[-2000:]}")
            runs[mod].append((wall, cpu))
    med = {m: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
           for m, v in runs.items()}
    (dw, dc), (pw, pc) = med["dagster"], med["pipeline_assets.definitions"]
    print(f"import dagster                      : wall {dw:5.2f} s  cpu {dc:5.2f} s  (median of {reps})")
    print(f"import pipeline_assets.definitions  : wall {pw:5.2f} s  cpu {pc:5.2f} s")
    print(f"definitions - dagster               : wall {pw - dw:5.2f} s  cpu {pc - dc:5.2f} s  "
          f"| goal < 1 s: {(pw - dw) / 1.0:.2f}x")
    probe = ("import json, sys; import pipeline_assets.definitions; "
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    loaded = set(json.loads(subprocess.check_output([sys.executable, "-c", probe], cwd=REPO,
                                                    text=True).splitlines()[-1]))
    print(f"heavy libraries loaded by the definitions: {sorted(loaded & set(HEAVY)) or 'none'}")


def _env(home: Path) -> dict:
    env = dict(os.environ, DAGSTER_HOME=str(home / "dagster_home"), TIPOFF_DATA_DIR=str(home / "data"))
    env.pop("TIPOFF_SOURCE", None)  # the simulated default
    (home / "dagster_home").mkdir(parents=True, exist_ok=True)
    (home / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return env


def bench_cli() -> None:
    dagster = str(Path(sys.executable).with_name("dagster"))
    with tempfile.TemporaryDirectory() as d:
        env = _env(Path(d))
        for i, day in enumerate(CLI_DATES):
            wall, cpu, proc = _timed([dagster, "asset", "materialize", "-m",
                                      "pipeline_assets.definitions", "--select",
                                      "schedule_snapshot", "--partition", day], env)
            ok = "ok" if proc.returncode == 0 else f"FAILED: {proc.stderr[-500:]}"
            note = " (creates the instance)" if i == 0 else ""
            print(f"CLI materialize schedule_snapshot {day}: wall {wall:5.2f} s  cpu {cpu:5.2f} s  "
                  f"| goal < 5 s: {wall / 5:.2f}x  {ok}{note}")
    with tempfile.TemporaryDirectory() as d:
        env = _env(Path(d))
        _timed([dagster, "asset", "materialize", "-m", "pipeline_assets.definitions", "--select",
                "schedule_snapshot", "--partition", CLI_DATES[0]], env)  # instance created
        proc = subprocess.run([sys.executable, __file__, "--phases", CLI_DATES[1]], cwd=REPO,
                              env=env, capture_output=True, text=True)
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if not line:
            print(f"phases: FAILED\n{proc.stderr[-2000:]}")
            return
        p = json.loads(line[-1])
        print("  one process, by phase: " + ", ".join(f"{k} {v:.2f} s" for k, v in p.items()))


def phases(day: str) -> None:
    """The CLI's work in one process, timed by phase (run by bench_cli in a child)."""
    out, t = {}, time.perf_counter()
    import dagster as dg
    out["import dagster"], t = time.perf_counter() - t, time.perf_counter()
    from pipeline_assets.definitions import defs
    out["import definitions"], t = time.perf_counter() - t, time.perf_counter()
    instance = dg.DagsterInstance.get()
    job = defs.resolve_implicit_global_asset_job_def()
    out["instance + job"], t = time.perf_counter() - t, time.perf_counter()
    result = job.execute_in_process(instance=instance, partition_key=day,
                                    asset_selection=[dg.AssetKey("schedule_snapshot")],
                                    run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
    out["run (incl. fetch + store)"] = time.perf_counter() - t
    assert result.success
    print(json.dumps(out))


def history(n_dates: int | None) -> None:
    """gold_features over the archive's dates on an empty store (run in a child process)."""
    import dagster as dg

    from pipeline_assets.definitions import defs
    from pipeline_assets.feature_assets import gold_features
    keys = gold_features.partitions_def.get_partition_keys()
    dates = keys[keys.index(HISTORY[0]):keys.index(HISTORY[1]) + 1][:n_dates]
    instance = dg.DagsterInstance.get()
    tags = {"dagster/asset_partition_range_start": dates[0],
            "dagster/asset_partition_range_end": dates[-1]}
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    result = dg.materialize([gold_features], instance=instance, tags=tags,
                            resources={"store": defs.resources["store"]},
                            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
    wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    assert result.success
    status = {a: len(instance.get_materialized_partitions(dg.AssetKey(a)))
              for a in ("gold_game_features", "gold_minutes_features")}
    print(json.dumps({"dates": len(dates), "wall_s": wall,
                      "cpu_s": r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime,
                      "materialized": status,
                      "batch": os.environ.get("DAGSTER_EVENT_BATCH_SIZE", "(default)")}))


def bench_history(n_dates: int | None) -> None:
    with tempfile.TemporaryDirectory() as d:
        env = _env(Path(d))
        proc = subprocess.run([sys.executable, __file__, "--history-child", str(n_dates or 0)],
                              cwd=REPO, env=env, capture_output=True, text=True)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not line:
        print(f"history: FAILED\n{proc.stderr[-3000:]}")
        return
    r = json.loads(line[-1])
    n = r["dates"]
    print(f"gold history bookkeeping, {n} dates x 2 assets, batch size {r['batch']}: "
          f"wall {r['wall_s']:.1f} s ({1000 * r['wall_s'] / n:.2f} ms/date)  cpu {r['cpu_s']:.1f} s; "
          f"partitions materialized in the instance: {r['materialized']}")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--skip-import", action="store_true")
    ap.add_argument("--skip-cli", action="store_true")
    ap.add_argument("--skip-history", action="store_true")
    ap.add_argument("--history-dates", type=int, default=None, help="first N dates only")
    ap.add_argument("--phases", help=argparse.SUPPRESS)
    ap.add_argument("--history-child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.phases:
        phases(args.phases)
        return 0
    if args.history_child is not None:
        history(args.history_child or None)
        return 0
    print(f"machine: {os.cpu_count()} cpus, python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.2f}")
    if not args.skip_import:
        bench_import(args.reps)
    if not args.skip_cli:
        bench_cli()
    if not args.skip_history:
        bench_history(args.history_dates)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
