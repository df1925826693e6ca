"""What MLflow costs a training run: logging each model as an MLflow model and registering it.

For the production version of each model family in a trained store (``--store``, a data root such
as ``data/simulated`` after ``tipoff demo``; default: a short simulated history trained into a
temporary folder first), into a fresh SQLite MLflow store in a temporary folder:

  import      ``import mlflow`` in a new interpreter (paid once per process that logs)
  new db      the first client on a new SQLite database (MLflow's schema migrations; once per store)
  save        the pyfunc model directory (pickle, signature from the schema, input example)
  log         the run: params, metrics, features.txt, the model directory as ``model/``
  register    ``sync_family``: the registered model version, its tags and the production alias
  sync        ``sync-mlflow`` of one version MLflow never saw (logged from the stored files)

Each step is repeated ``--repeat`` times (new versions); the median is printed.  Usage:
``python bench/bench_mlflow.py [--store data/simulated] [--repeat 3]``.
"""
from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

HISTORY = ("2025-10-21", "2026-01-10")


def _median(xs):
    return statistics.median(xs) if xs else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", help="a data root with production models (default: build one)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mlflow"], check=True)
    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    t_import -= time.perf_counter() - t0

    tmp = Path(tempfile.mkdtemp(prefix="tipoff-bench-mlflow-"))
    store = Path(args.store) if args.store else tmp / "store"
    if not args.store:
        from tests.helpers import build_trained_store
        print(f"building a simulated store {HISTORY[0]}..{HISTORY[1]} (history + train) ...")
        t0 = time.perf_counter()
        build_trained_store(store, HISTORY)
        print(f"  built in {time.perf_counter() - t0:.0f} s")

    from pipeline_assets import mlflow_models as mm
    from resources import storage
    from resources.mlflow_tracking import MlflowTracking
    from resources.registry import ModelRegistry
    from tipoff_core import catalog

    reg = ModelRegistry(store / "models")
    games = storage.read_season_tables(catalog.feature("gold", "game"), store)
    players = storage.read_season_tables(catalog.feature("gold", "minutes"), store)
    tracking = MlflowTracking(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}", experiment="bench")
    t0 = time.perf_counter()
    tracking.client()
    t_db = time.perf_counter() - t0

    rows = []
    for name in ("win_market_free", "win_with_market", "minutes"):
        loaded = reg.load_production(name)
        kind = mm.kind_of(name)
        payload = pickle.dumps(loaded.model, protocol=pickle.HIGHEST_PROTOCOL)
        example = mm.example_input(kind, games.tail(20), players)
        save, logt, register = [], [], []
        versions = []
        for i in range(args.repeat):
            d = tmp / f"{name}-{i}"
            t0 = time.perf_counter()
            mm.save_model_dir(name, payload, loaded.feature_cols, d / "model", example)
            save.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            run_id = tracking.log_training(f"{name} bench {i}", params=loaded.metadata["params"],
                                           metrics=loaded.metadata["metrics"],
                                           feature_cols=loaded.feature_cols,
                                           model_path=d / "model", tags={"model_name": name})
            logt.append(time.perf_counter() - t0)
            versions.append({"version": f"vbench_{i}", "state": "production", "run_id": run_id})
            for v in versions[:-1]:
                v["state"] = "archived"
            t0 = time.perf_counter()
            tracking.sync_family(name, versions, versions[-1]["version"], lambda v: None)
            register.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        mm.mirror(reg, tracking, [name])  # the stored versions: none has a run in this store
        t_sync = (time.perf_counter() - t0) / max(len(reg.list_versions(name)), 1)
        rows.append((name, len(example), _median(save), _median(logt), _median(register), t_sync))

    load = os.getloadavg()
    print(f"cpus {os.cpu_count()}, load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; "
          f"import mlflow {t_import:.2f} s; new SQLite store {t_db:.2f} s")
    print(f"{'model':18s} {'example rows':>12s} {'save s':>7s} {'log s':>7s} {'register s':>10s} "
          f"{'total s':>8s} {'sync s/version':>15s}")
    total = 0.0
    for name, n, s, lg, r, sy in rows:
        total += s + lg + r
        print(f"{name:18s} {n:12d} {s:7.2f} {lg:7.2f} {r:10.2f} {s + lg + r:8.2f} {sy:15.2f}")
    print(f"per training (three models, warm process): {total:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
