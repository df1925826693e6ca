"""Fault suite: corrupt inputs, kill -9 in the middle of backfills, concurrent writers.

    .venv/bin/python bench/fault_suite.py [--kill-trials 20] [--writers 6]

1. corpus   each corruption of tests/fault_corpus.py applied to a copy of one real archive season
            (../shared/data; skipped when absent): the refused dates name file, line and field,
            the complete file is quarantined, dates that do not depend on it are answered;
2. kill -9  a simulated single-run backfill (ingest_job, 45 days) killed at a random instant,
            many times: afterwards every visible file parses, every run folder is complete,
            LATEST names a stored run, and a re-run finishes with exactly the tables of an
            uninterrupted run;
3. writers  several processes writing one gold season file, one run token, one label date and the
            predictions log at once: nothing lost, no torn read, identical writes a no-op.
Prints cases tried / passed per part (record them in bench/RESULTS.md).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from pipeline_assets import collect  # noqa: E402
from resources import storage  # noqa: E402
from resources.sources.archive import ArchiveSource  # noqa: E402
from resources.sources.base import SourceError  # noqa: E402
from tests.fault_corpus import CASES, mini_archive, row_date  # noqa: E402
from tipoff_core import catalog  # noqa: E402

SHARED = Path(os.environ.get("TIPOFF_SHARED_DIR", REPO.parent / "shared"))
LATE = pd.Timestamp("2022-12-31T00:00:00Z")
BACKFILL = ("2025-11-01", "2025-12-15")


# ----------------------------------------------------------------------------- 1. corpus

def corpus(work: Path) -> tuple[int, int, list[str]]:
    if not (SHARED / "data" / "historical_lines").is_dir():
        print(f"corpus: skipped (no real data at {SHARED / 'data'})")
        return 0, 0, []
    mini = mini_archive(SHARED / "data", work / "mini")
    tried = passed = 0
    failures = []
    for case in CASES:
        root = work / "case"
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(mini, root)
        case.corrupt(root)
        src = ArchiveSource(root)
        day = case.refused or row_date(mini, case.file, case.line)
        for kind in case.kinds:
            tried += 1
            try:
                src.fetch(kind, dt.date.fromisoformat(day), LATE)
                failures.append(f"{case.name}: {kind} {day} was answered")
                continue
            except SourceError as err:
                ok = (err.endpoint == case.file and case.message in str(err)
                      and (not case.field or err.field == case.field)
                      and (not case.line or f"line {case.line}" in str(err))
                      and err.raw == (root / case.file).read_bytes())
            store = work / "store"
            try:
                collect.fetch(src, kind, day, LATE, store)
                ok = False
            except collect.CollectError as exc:
                ok &= exc.kept is not None and Path(json.loads(exc.kept.read_text())["payload"]) \
                    .read_bytes() == (root / case.file).read_bytes()
            if case.answered:
                try:
                    src.fetch(kind, dt.date.fromisoformat(case.answered), LATE)
                except SourceError:
                    ok = False
            passed += ok
            if not ok:
                failures.append(f"{case.name}: {kind}")
    print(f"corpus: {passed}/{tried} refusals named, quarantined and contained "
          f"({len(CASES)} corruptions)")
    return tried, passed, failures


# ----------------------------------------------------------------------------- 2. kill -9

BACKFILL_CODE = """
import sys, dagster as dg
from pipeline_assets.definitions import defs
defs.resolve_job_def("ingest_job").execute_in_process(
    instance=dg.DagsterInstance.ephemeral(),
    run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
    tags={"dagster/asset_partition_range_start": sys.argv[1],
          "dagster/asset_partition_range_end": sys.argv[2]})
"""


def _backfill(root: Path, kill_after: float | None) -> tuple[bool, float]:
    env = {**os.environ, "TIPOFF_DATA_DIR": str(root), "TIPOFF_SOURCE": "simulated",
           "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-c", BACKFILL_CODE, *BACKFILL], env=env, cwd=REPO,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if kill_after is None:
        return p.wait() == 0, time.perf_counter() - t0
    try:
        p.wait(timeout=kill_after)
        return True, time.perf_counter() - t0   # finished before the kill
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        return False, time.perf_counter() - t0


def _tables(root: Path) -> dict[str, bytes]:
    """Every stored table's bytes by path (run folders, label tables); the label versions file
    is left out: it records when each version was stored, which differs from run to run."""
    out = {}
    for p in root.rglob("*.parquet"):
        rel = p.relative_to(root)
        if not any(part.startswith(".") for part in rel.parts) and p.name != "versions.parquet":
            out[rel.as_posix()] = p.read_bytes()
    return out


def _partial_state(root: Path) -> list[str]:
    """What a reader could trip on after a crash (hidden temp names are ignored by readers)."""
    problems = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not p.is_file():
            continue
        try:
            if p.suffix == ".parquet":
                with open(p, "rb") as fh:
                    pq.read_table(fh)
            elif p.suffix == ".json":
                json.loads(p.read_text())
        except Exception as exc:  # noqa: BLE001
            problems.append(f"{rel}: {type(exc).__name__}")
    for t in catalog.TABLE_LIST:
        if not t.per_run:
            continue
        for base in (root / t.folder).glob("*") if (root / t.folder).is_dir() else []:
            for run in storage.list_runs(base):
                if not (base / f"run={run}" / t.file).is_file():
                    problems.append(f"{base.relative_to(root)}/run={run}: incomplete")
            latest = base / storage.LATEST
            if latest.exists() and latest.read_text().strip() not in storage.list_runs(base):
                problems.append(f"{latest.relative_to(root)} names no stored run")
    return problems


def kill_trials(work: Path, trials: int, seed: int) -> tuple[int, int, list[str], float]:
    ref = work / "reference"
    ok, full = _backfill(ref, None)
    if not ok:
        raise SystemExit("the uninterrupted reference backfill failed")
    reference = _tables(ref)
    rng = random.Random(seed)
    passed, failures, temps = 0, [], 0
    for i in range(trials):
        root = work / f"kill{i}"
        finished, _ = _backfill(root, rng.uniform(0.25 * full, 0.98 * full))
        broken = _partial_state(root)
        temps += sum(1 for p in root.rglob(".*tmp*"))
        ok, _ = _backfill(root, None)     # the re-run
        got = _tables(root)
        same = got == reference
        if not same:
            diff = sorted(k for k in set(got) | set(reference) if got.get(k) != reference.get(k))
            failures.append(f"trial {i}: {len(diff)} table(s) differ, e.g. {diff[:3]}")
        if not broken and ok and same:
            passed += 1
        else:
            failures.append(f"trial {i}: partial={broken[:3]} rerun_ok={ok} same={same}")
        shutil.rmtree(root, ignore_errors=True)
    print(f"kill -9: {passed}/{trials} trials left no partial state and re-ran to the reference "
          f"tables (backfill {BACKFILL[0]}..{BACKFILL[1]}: {full:.1f}s uninterrupted; "
          f"{temps} hidden temp file(s) left by kills, ignored by readers)")
    return trials, passed, failures, full


# ----------------------------------------------------------------------------- 3. writers

def writers(work: Path, n: int) -> tuple[int, int, list[str]]:
    sys.path.insert(0, str(REPO / "tests"))
    import test_concurrency as tc  # the same writers the tests use, more of them
    tried = passed = 0
    failures = []
    for name, fn in (("season file", tc.test_writers_of_one_season_file_lose_no_rows_and_readers_never_tear),
                     ("identical run token", tc.test_identical_concurrent_writes_of_one_run_are_a_no_op),
                     ("LATEST ordering", tc.test_latest_never_moves_backwards_under_concurrent_runs),
                     ("predictions log", tc.test_concurrent_prediction_log_writers_lose_no_rows),
                     ("label date", tc.test_concurrent_label_writers_never_lose_a_final)):
        for k in range(n):
            tried += 1
            d = Path(tempfile.mkdtemp(dir=work))
            try:
                fn(d)
                passed += 1
            except AssertionError as exc:
                failures.append(f"{name} #{k}: {exc}")
    print(f"writers: {passed}/{tried} concurrent-writer scenarios lost nothing ({n} each)")
    return tried, passed, failures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kill-trials", type=int, default=20)
    ap.add_argument("--writers", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tipoff-faults-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        parts = {"corpus": corpus(work)[:3], "kill": kill_trials(work, args.kill_trials, args.seed)[:3],
                 "writers": writers(work, args.writers)}
        for name, (tried, passed, failures) in parts.items():
            for f in failures[:10]:
                print(f"  FAILED {name}: {f}")
        tried = sum(p[0] for p in parts.values())
        passed = sum(p[1] for p in parts.values())
        print(f"total: {passed}/{tried} passed in {time.perf_counter() - t0:.0f}s")
    return 0 if passed == tried else 1


if __name__ == "__main__":
    mp.set_start_method("fork", force=True)
    sys.exit(main())
