"""Backfill benchmark: single-run backfills through Dagster on a real on-disk SQLite instance.

Scenarios (each in its own process, so peak memory is per scenario):
  sim_ingest    a full simulated regular season, all six snapshot/label assets, one run
  sim_gold      gold game + minutes features for that season, one run
  archive_ingest / archive_gold   the same for the 2021-22 archive season (needs ../shared/data)
  archive_gold_compute            gold features for ALL archive history without Dagster (pure compute)
  archive_history                 ALL archive history (2007-10-01 .. 2022-06-16): ingest (not timed),
                                  then both gold assets over every date in one run (timed: the
                                  issue 13 goal, < 30 s including Dagster bookkeeping); opt-in: the
                                  untimed ingest of 32k snapshot/label partitions takes tens of minutes

Usage: python bench/bench_backfill.py [scenario ...]      (default: all)
       python bench/bench_backfill.py archive_history --store DIR
           keeps the ingested history in DIR (DIR/data, and DIR/ingest_home: the Dagster instance
           that records which dates are ingested) and ingests only the dates missing there, one
           run per season; then times the gold run alone, three times: DIR/data/gold is wiped and
           each run writes to a fresh copy of the ingest instance (no gold event in it), so a
           re-run on the same store always times a real, complete gold run with exact partition
           status (asserted: every date of both gold assets).  Run 1 reads the store as it is
           (after a full ingest by this call: the read cache the ingest wrote), run 2 without the
           read cache (DIR/data/cache wiped: every stored file read), run 3 with the cache run 2
           wrote (a rebuild of the history, e.g. after a feature change).
Prints wall time, partitions/s, per-partition ms and peak RSS; goals from the issues are shown as ratios.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TIPOFF_SHARED_DIR", REPO.parent / "shared")) / "data"
SIM_SEASON = ("2025-10-21", "2026-04-12")     # the simulated 2025-26 regular season
ARCHIVE_SEASON = ("2021-10-19", "2022-06-16")  # 2021-22 incl. playoffs
ARCHIVE_HISTORY = ("2007-10-01", "2022-06-16")  # every archive season
SCENARIOS = ["sim_ingest", "sim_gold", "archive_ingest", "archive_gold", "archive_gold_compute"]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    """CPU seconds of this process (a fairer figure than wall time on a shared machine)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_scenario(name: str, workdir: Path, store: Path | None = None) -> dict:
    if store is not None:
        return _archive_history_on_store(store, workdir)
    os.environ["TIPOFF_DATA_DIR"] = str(workdir / "data")
    os.environ["DAGSTER_HOME"] = str(workdir / "dagster_home")
    (workdir / "dagster_home").mkdir(parents=True, exist_ok=True)
    if name.startswith("archive"):
        os.environ["TIPOFF_SOURCE"] = "archive"
        os.environ["TIPOFF_ARCHIVE_DIR"] = str(SHARED_DATA)
    if name == "archive_gold_compute":
        return _archive_gold_compute()
    import dagster as dg

    from pipeline_assets.definitions import defs
    start, end = (SIM_SEASON if name.startswith("sim") else
                  ARCHIVE_HISTORY if name == "archive_history" else ARCHIVE_SEASON)
    instance = dg.DagsterInstance.get()
    job = "ingest_job" if name.endswith("ingest") else "gold_job"
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # as `tipoff` runs
    t0 = time.perf_counter()
    if job == "gold_job":
        # gold needs its inputs: ingest first (not timed), then the gold run alone
        defs.resolve_job_def("ingest_job").execute_in_process(
            instance=instance, tags={"dagster/asset_partition_range_start": start,
                                     "dagster/asset_partition_range_end": end}, run_config=quiet)
        t0 = time.perf_counter()
    cpu0 = _cpu()
    result = _execute(defs, job, instance, start, end, quiet)
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    n_dates = len(defs.resolve_job_def("ingest_job").partitions_def.get_partition_keys_in_range(
        dg.PartitionKeyRange(start, end)))
    n_assets = 6 if job == "ingest_job" else 2
    parts = n_dates * n_assets
    return {"scenario": name, "ok": result, "dates": n_dates, "asset_partitions": parts,
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "partitions_per_s": round(parts / wall, 1),
            "ms_per_partition": round(1000 * wall / parts, 2), "peak_rss_mb": round(_peak_mb())}


def _execute(defs, job: str, instance, start: str, end: str, run_config: dict) -> bool:
    tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
    if job == "ingest_job":
        return defs.resolve_job_def("ingest_job").execute_in_process(
            instance=instance, tags=tags, run_config=run_config).success
    from dagster import materialize

    from pipeline_assets.feature_assets import gold_features
    return materialize([gold_features], instance=instance, tags=tags, run_config=run_config,
                       resources={k: v for k, v in defs.resources.items() if k == "store"}).success


GOLD_ASSETS = ("gold_game_features", "gold_minutes_features")


def _archive_history_on_store(store: Path, workdir: Path) -> dict:
    """Ingest what `store` lacks (untimed), then time gold runs over the whole history."""
    import dagster as dg

    os.environ.update(TIPOFF_SOURCE="archive", TIPOFF_ARCHIVE_DIR=str(SHARED_DATA),
                      TIPOFF_DATA_DIR=str(store / "data"))
    ingest_home = store / "ingest_home"
    ingest_home.mkdir(parents=True, exist_ok=True)
    (ingest_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(ingest_home)
    from pipeline_assets.definitions import defs
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    ingest = defs.resolve_job_def("ingest_job")
    dates = ingest.partitions_def.get_partition_keys_in_range(dg.PartitionKeyRange(*ARCHIVE_HISTORY))
    with dg.DagsterInstance.get() as instance:
        done = set(dates)
        for key in ingest.asset_layer.executable_asset_keys:
            done &= set(instance.get_materialized_partitions(key))
        missing = [d for d in dates if d not in done]
        for chunk in _season_chunks(missing):
            t0 = time.perf_counter()
            ok = ingest.execute_in_process(
                instance=instance, run_config=quiet,
                tags={"dagster/asset_partition_range_start": chunk[0],
                      "dagster/asset_partition_range_end": chunk[-1]}).success
            print(f"ingest {chunk[0]}..{chunk[-1]} ({len(chunk)} dates): ok={ok} "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
            if not ok:
                raise SystemExit(f"ingest of {chunk[0]}..{chunk[-1]} failed")
    # 1. the store as it is (right after an ingest: the read cache its backfill runs wrote);
    # 2. the read cache wiped (every stored file read); 3. a rebuild (the cache run 2 wrote)
    first = _timed_gold_run(defs, store, workdir / "as_stored", dates, quiet, wipe_cache=False)
    no_cache = _timed_gold_run(defs, store, workdir / "no_cache", dates, quiet, wipe_cache=True)
    rebuild = _timed_gold_run(defs, store, workdir / "rebuild", dates, quiet, wipe_cache=False)
    parts = 2 * len(dates)
    return {"scenario": "archive_history", "ok": True, "dates": len(dates), "asset_partitions": parts,
            "ingested_now": len(missing), **first, "no_cache": no_cache, "rebuild": rebuild,
            "partitions_per_s": round(parts / first["wall_s"], 1),
            "ms_per_partition": round(1000 * first["wall_s"] / parts, 2),
            "peak_rss_mb": round(_peak_mb())}


def _timed_gold_run(defs, store: Path, workdir: Path, dates: list[str], quiet: dict,
                    wipe_cache: bool) -> dict:
    """One gold run over `dates` with no gold output in the store, into a fresh copy of the ingest
    instance (its events, no gold event).  `wipe_cache`: the store's read cache (cache/packs,
    written by the first read of many dated files) is removed first, as right after an ingest."""
    import shutil

    import dagster as dg

    shutil.rmtree(store / "data" / "gold", ignore_errors=True)
    if wipe_cache:
        shutil.rmtree(store / "data" / "cache", ignore_errors=True)
    shutil.copytree(store / "ingest_home", workdir / "dagster_home")
    os.environ["DAGSTER_HOME"] = str(workdir / "dagster_home")
    with dg.DagsterInstance.get() as instance:
        before = {a: len(instance.get_materialized_partitions(dg.AssetKey(a))) for a in GOLD_ASSETS}
        assert not any(before.values()), f"gold events in the ingest instance: {before}"
        load0 = os.getloadavg()[0]
        t0, cpu0 = time.perf_counter(), _cpu()
        ok = _execute(defs, "gold_job", instance, dates[0], dates[-1], quiet)
        wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
        load1 = os.getloadavg()[0]
        status = {a: len(instance.get_materialized_partitions(dg.AssetKey(a))) for a in GOLD_ASSETS}
    assert ok and all(n == len(dates) for n in status.values()), (ok, status, len(dates))
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "load_1min": [load0, load1],
            "materialized": status}


def _season_chunks(dates: list[str]) -> list[list[str]]:
    """Consecutive runs of `dates` split at each July 1st: one ingest run per season, so an
    interrupted ingest keeps the seasons it finished."""
    chunks: list[list[str]] = []
    for d in dates:
        prev = chunks[-1][-1] if chunks else None
        if prev is None or d[5:] == "07-01" or _next_day(prev) != d:
            chunks.append([d])
        else:
            chunks[-1].append(d)
    return chunks


def _next_day(day: str) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()


def _archive_gold_compute() -> dict:
    import pandas as pd

    from pipeline_assets.features import build_game_features, build_minutes_features
    from resources.sources.archive import ArchiveSource
    t0 = time.perf_counter()
    src = ArchiveSource(SHARED_DATA)
    tables = {k: src.table(k) for k in ("schedule", "results", "box_scores", "injuries", "odds")}
    t_load = time.perf_counter() - t0
    targets = tables["schedule"].assign(cutoff_ts=tables["schedule"]["tip_ts"])
    t1 = time.perf_counter()
    games = build_game_features(targets, tables["results"], tables["box_scores"], tables["injuries"],
                                tables["odds"])
    t_games = time.perf_counter() - t1
    box = tables["box_scores"]
    t2 = time.perf_counter()
    minutes = build_minutes_features(targets, tables["results"], box, tables["injuries"],
                                     tables["odds"])
    t_min = time.perf_counter() - t2
    del pd
    return {"scenario": "archive_gold_compute", "ok": True, "game_rows": len(games),
            "minutes_rows": len(minutes), "load_s": round(t_load, 2), "games_s": round(t_games, 2),
            "minutes_s": round(t_min, 2),
            "game_rows_per_s": round(len(games) / t_games), "minutes_rows_per_s": round(len(minutes) / t_min),
            "peak_rss_mb": round(_peak_mb())}


def main(argv: list[str]) -> int:
    store = None
    if "--store" in argv:
        i = argv.index("--store")
        store = Path(argv[i + 1]).resolve()
        argv = argv[:i] + argv[i + 2:]
        if argv[-1:] != ["archive_history"] or len(argv) not in (1, 2):
            raise SystemExit("--store goes with the archive_history scenario alone")
    if argv[:1] == ["--child"]:
        with tempfile.TemporaryDirectory() as d:
            print(json.dumps(run_scenario(argv[1], Path(d), store)))
        return 0
    wanted = argv or SCENARIOS  # archive_history only when named (it ingests 15 seasons first)
    print(f"machine: {os.cpu_count()} cpus, python {sys.version.split()[0]}")
    for name in wanted:
        if name.startswith("archive") and not (SHARED_DATA / "historical_lines").is_dir():
            print(f"{name}: skipped (no archive data at {SHARED_DATA})")
            continue
        cmd = [sys.executable, __file__, "--child", name] + (["--store", str(store)] if store else [])
        # the ingest's progress lines (stderr) go straight to the terminal or log
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=None if store else subprocess.PIPE,
                              text=True, cwd=REPO)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode or not lines:
            print(f"{name}: FAILED\n{(proc.stderr or '')[-3000:]}")
            continue
        r = json.loads(lines[-1])
        if "asset_partitions" in r:
            goal = ""
            if name == "sim_ingest":
                goal = f" | goal 60 s for the season: {r['wall_s'] / 60:.2f}x"
            if name == "archive_history":
                goal = f" | goal 30 s for the whole history: {r['wall_s'] / 30:.2f}x"
            if "load_1min" in r:
                print(f"dates ingested now: {r['ingested_now']} of {r['dates']}")
                for label, t in (("store as left (by the ingest if it ingested every date)", r),
                                 ("read cache wiped", r["no_cache"]),
                                 ("rebuild (read cache of the run before)", r["rebuild"])):
                    print(f"  gold run, {label}: wall {t['wall_s']} s, cpu {t['cpu_s']} s, load "
                          f"(1 min) before/after {[round(x, 2) for x in t['load_1min']]}, "
                          f"partitions materialized {t['materialized']}")
            print(f"{name:22s} {r['dates']} dates x {r['asset_partitions'] // r['dates']} assets = "
                  f"{r['asset_partitions']} partitions in {r['wall_s']} s (cpu {r['cpu_s']} s) -> {r['partitions_per_s']} "
                  f"partitions/s, {r['ms_per_partition']} ms/partition, peak {r['peak_rss_mb']} MB{goal}")
        else:
            print(f"{name:22s} load {r['load_s']} s; games {r['game_rows']} rows in {r['games_s']} s "
                  f"({r['game_rows_per_s']}/s); minutes {r['minutes_rows']} rows in {r['minutes_s']} s "
                  f"({r['minutes_rows_per_s']}/s); peak {r['peak_rss_mb']} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
