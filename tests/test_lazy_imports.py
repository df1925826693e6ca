"""Loading the code location stays cheap (issue 13 item 4): heavy libraries load when used.

Behavioural guards, not timings (those are in bench/bench_startup.py): a fresh interpreter that
imports the definitions has none of the heavy libraries in sys.modules; numba kernels compile on
their first call; the local SQLite instance's batched event writes store what one-by-one writes
store."""
from __future__ import annotations

import json
import subprocess
import sys

import dagster as dg
import numpy as np
import pytest

from resources import instance_tuning
from tipoff_core.jit import LazyKernel, njit

# Each of these costs 0.1-1 s to import; they belong to the runs that use them.
HEAVY = ("sklearn", "lightgbm", "xgboost", "mlflow", "matplotlib", "numba", "llvmlite", "scipy",
         "redis", "requests", "fastapi", "uvicorn", "pdfplumber", "celery", "psycopg2", "alembic",
         "dagster._core.storage.event_log.sqlite.sqlite_event_log")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_loading_the_definitions_imports_no_heavy_library():
    loaded = _loaded_after("import pipeline_assets.definitions")
    assert "pipeline_assets.definitions" in loaded
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert not heavy, ("the code location imports heavy libraries at load time; import them "
                       f"where they are used (tipoff_core/jit.py): {heavy[:15]}")


def test_a_kernel_loads_numba_on_its_first_call_only():
    loaded = _loaded_after("from tipoff_core.domain import montecarlo")
    assert "tipoff_core.domain.montecarlo" in loaded and "numba" not in loaded
    loaded = _loaded_after("from tipoff_core.domain import montecarlo\n"
                           "montecarlo.simulate_slate([3.0], [220.0], n_sims=200, seed=1)")
    assert "numba" in loaded


@njit(cache=False)
def _square_plus(x, y):
    return x * x + y


@njit(cache=False)
def _sum_squares(a):
    total = 0.0
    for i in range(a.shape[0]):
        total = _square_plus(a[i], total)  # a kernel calling a kernel: numba must see it compiled
    return total


def test_lazy_kernels_compile_with_their_callees_and_match_python():
    a = np.arange(1.0, 6.0)
    assert isinstance(_sum_squares, LazyKernel)
    assert _sum_squares(a) == pytest.approx(55.0)
    assert _sum_squares.py_func(a) == pytest.approx(55.0)  # same function, run by Python
    assert type(_sum_squares.compiled()).__module__.startswith("numba")
    assert _sum_squares.compiled() is _sum_squares.compiled()  # compiled once


DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run(),
          check_specs=[dg.AssetCheckSpec("rows", asset="batched_days", partitions_def=DAYS)])
def batched_days(context):
    yield dg.MaterializeResult(metadata={"dates": len(context.partition_keys)})
    yield dg.AssetCheckResult(check_name="rows", passed=True)


def _backfill(tmp_path, name: str, batch_size: str, monkeypatch) -> dict:
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", batch_size)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / name))
    (tmp_path / name).mkdir()
    instance_tuning.install()
    with dg.instance_for_test(temp_dir=str(tmp_path / name)) as inst:
        tags = {"dagster/asset_partition_range_start": "2024-01-01",
                "dagster/asset_partition_range_end": "2024-02-09"}
        run = dg.materialize([batched_days], instance=inst, tags=tags)
        assert run.success
        key = batched_days.key
        latest = inst.get_latest_materialization_event(key)
        records = {t: inst.fetch_materializations(key, limit=1000).records if t == "mat" else
                   inst.get_event_records(dg.EventRecordsFilter(
                       dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, asset_key=key))
                   for t in ("mat", "planned")}
        return {
            "materialized": sorted(inst.get_materialized_partitions(key)),
            "latest_partition": latest.dagster_event.partition,
            "latest_run": latest.run_id == run.run_id,
            "materializations": sorted(r.partition_key for r in records["mat"]),
            "planned": len(records["planned"]),
            "run_events": sum(1 for r in inst.all_logs(run.run_id)
                              if r.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION),
            "last_run_id": inst.get_asset_records([key])[0].asset_entry.last_run_id == run.run_id,
            "check_runs": sorted(((r.partition, r.status.value, r.run_id == run.run_id) for r in
                                 inst.event_log_storage.get_asset_check_execution_history(
                                     dg.AssetCheckKey(key, "rows"), limit=1000)), key=str),
        }


def test_batched_sqlite_event_writes_store_what_single_writes_store(tmp_path, monkeypatch):
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    if SqliteEventLogStorage.__dict__.get("store_event_batch") not in (
            None, instance_tuning._store_event_batch):
        pytest.skip("this Dagster's SQLite storage writes batches itself")
    batches: list[int] = []

    def spy(self, events):
        batches.append(len(events))
        return instance_tuning._store_event_batch(self, events)

    monkeypatch.setattr(SqliteEventLogStorage, "store_event_batch", spy, raising=False)
    one_by_one = _backfill(tmp_path, "single", "0", monkeypatch)
    assert not batches
    batched = _backfill(tmp_path, "batched", "2000", monkeypatch)
    assert max(batches) >= 40, batches  # the 40 materializations went in one batch
    assert batched == one_by_one
    assert one_by_one["materialized"][0] == "2024-01-01" and len(one_by_one["materialized"]) == 40
    assert one_by_one["planned"] == 40 and one_by_one["run_events"] == 40
    assert [p for p, *_ in one_by_one["check_runs"]].count("2024-01-01") == 1
