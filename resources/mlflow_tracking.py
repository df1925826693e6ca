"""MLflow experiment tracking (plain Python; `resources.dagster_resources.MlflowResource` wraps it).

Tracking URI: ``tracking_uri`` if set, else ``$MLFLOW_TRACKING_URI``, else the file store
``file://<data root>/mlruns`` (the design's default).

Note on the file store: MLflow 3.x (3.17 here) *refuses* it by default --
``FileStore.__init__`` raises "The filesystem tracking backend ... is in maintenance mode" unless the
environment has ``MLFLOW_ALLOW_FILE_STORE=true``.  A configured ``file:`` URI (or bare path) still
works: this resource then sets ``MLFLOW_ALLOW_FILE_STORE=true`` for the process (unless the variable
is already set).  With SQLite the experiment's artifact location must be given explicitly -- MLflow's
default is ``./mlruns`` relative to the *current working directory* -- so the experiment is created
with ``artifact_root`` (default ``<folder of the .db>/mlartifacts``).  The first use of a new SQLite
database runs MLflow's schema migrations (~2 s); later runs are fast.

``mlflow`` is imported lazily inside the methods (the import alone takes ~1.5 s), and runs go through
``MlflowClient`` rather than the global fluent API, so concurrent Dagster steps do not share an
"active run".
"""
from __future__ import annotations

import math
import os
import re
import tempfile
from pathlib import Path

from resources import storage

_PARAM_MAX = 6000  # MLflow's limit on a param value's length
_KEY_BAD = re.compile(r"[^A-Za-z0-9_\-./ ]")


def _key(k) -> str:
    return _KEY_BAD.sub("_", str(k))[:250] or "_"


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    p = uri[len("sqlite:///"):]
    return Path(p) if p and p != ":memory:" else None


def _is_file_store(uri: str) -> bool:
    return uri.startswith("file:") or "://" not in uri and not uri.startswith(("databricks", "sqlite"))


class MlflowTracking:
    """Logs training runs (params, metrics, feature list, model file) to MLflow."""

    def __init__(self, tracking_uri: str = "", experiment: str = "tipoff", artifact_root: str = ""):
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.artifact_root = artifact_root  # where a new experiment stores artifacts ("" = module doc)

    def resolved_tracking_uri(self) -> str:
        if self.tracking_uri:
            return self.tracking_uri
        if os.environ.get("MLFLOW_TRACKING_URI"):
            return os.environ["MLFLOW_TRACKING_URI"]
        # The design's default: a file store under the data root (MLflow 3 keeps it behind
        # MLFLOW_ALLOW_FILE_STORE, which client() sets); point MLFLOW_TRACKING_URI at a server or
        # sqlite:///... to use another backend.
        root = storage.data_root() / "mlruns"
        root.mkdir(parents=True, exist_ok=True)
        return root.as_uri()

    def _artifact_location(self, uri: str) -> str | None:
        if self.artifact_root:
            return self.artifact_root if "://" in self.artifact_root else Path(self.artifact_root).resolve().as_uri()
        db = _sqlite_path(uri)
        if db is not None:
            return (db.resolve().parent / "mlartifacts" / _key(self.experiment)).as_uri()
        return None  # file store / server: its own default

    def client(self):
        """(MlflowClient, experiment_id), creating the experiment if needed."""
        uri = self.resolved_tracking_uri()
        if _is_file_store(uri):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        db = _sqlite_path(uri)
        if db is not None:
            db.parent.mkdir(parents=True, exist_ok=True)
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        exp = client.get_experiment_by_name(self.experiment)
        if exp is None:
            try:
                return client, client.create_experiment(self.experiment,
                                                        artifact_location=self._artifact_location(uri))
            except MlflowException:  # created concurrently by another process
                exp = client.get_experiment_by_name(self.experiment)
                if exp is None:
                    raise
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp.experiment_id)
        return client, exp.experiment_id

    def log_training(self, run_name: str, params: dict, metrics: dict, feature_cols: list[str],
                     model_path: Path | None = None, tags: dict | None = None) -> str:
        """Start a run, log params / metrics / tags, ``features.txt`` and the model file (or folder)
        as artifacts, end the run; return its run id.  Non-finite or non-numeric metrics are skipped
        (their names are kept in the ``skipped_metrics`` tag)."""
        from mlflow.entities import Metric, Param, RunTag

        client, exp_id = self.client()
        run = client.create_run(exp_id, run_name=run_name,
                                tags={_key(k): str(v) for k, v in (tags or {}).items()})
        run_id = run.info.run_id
        try:
            now_ms = int(run.info.start_time or 0)
            ps = [Param(_key(k), str(v)[:_PARAM_MAX]) for k, v in (params or {}).items()]
            ms, skipped = [], []
            for k, v in (metrics or {}).items():
                try:
                    f = float(v)
                except (TypeError, ValueError):
                    skipped.append(str(k))
                    continue
                if math.isfinite(f):
                    ms.append(Metric(_key(k), f, now_ms, 0))
                else:
                    skipped.append(str(k))
            extra = [RunTag("n_features", str(len(feature_cols)))]
            if skipped:
                extra.append(RunTag("skipped_metrics", ",".join(skipped)[:5000]))
            for i in range(0, max(len(ps), 1), 100):  # log_batch allows 100 params per call
                client.log_batch(run_id, metrics=ms if i == 0 else [], params=ps[i:i + 100],
                                 tags=extra if i == 0 else [])
            with tempfile.TemporaryDirectory(prefix="tipoff-mlflow-") as tmp:
                feat = Path(tmp) / "features.txt"
                feat.write_text("".join(f"{c}\n" for c in feature_cols))
                client.log_artifact(run_id, str(feat))
            if model_path is not None:
                mp = Path(model_path)
                if mp.is_dir():
                    client.log_artifacts(run_id, str(mp), artifact_path="model")
                else:
                    client.log_artifact(run_id, str(mp), artifact_path="model")
        except BaseException:
            client.set_terminated(run_id, status="FAILED")
            raise
        client.set_terminated(run_id, status="FINISHED")
        return run_id
