"""MLflow experiment tracking and model registry (plain Python; `resources.dagster_resources.MlflowResource` wraps it).

Tracking URI: ``tracking_uri`` if set, else ``$MLFLOW_TRACKING_URI``, else the local SQLite store
``sqlite:///<data root>/mlflow.db`` with artifacts under ``<data root>/mlartifacts``.  SQLite, not
the file store: MLflow 3 keeps the file store in maintenance mode and its model registry is what
Tipoff mirrors its versions into (``tipoff.<family>``, see ``sync_family``).  Production points
``MLFLOW_TRACKING_URI`` at a tracking server or straight at PostgreSQL
(``postgresql+psycopg2://user@host/mlflow`` -- with SQLAlchemy 2.1 a bare ``postgresql://``
wants psycopg 3, which is not installed; artifacts then default to ``<data root>/mlartifacts``, a
shared volume, or ``artifact_root``).  A configured ``file:`` URI still tracks runs (this resource
sets ``MLFLOW_ALLOW_FILE_STORE=true`` for it) but the registry mirror then fails with a warning.

With SQLite the experiment's artifact location must be given explicitly -- MLflow's default is
``./mlruns`` relative to the *current working directory* -- so the experiment is created with
``artifact_root`` (default ``<folder of the .db>/mlartifacts``).  The first use of a new SQLite
database runs MLflow's schema migrations (2-7 s); later runs are fast.

``MLFLOW_DISABLE_TELEMETRY`` defaults to ``true`` (MLflow 3 otherwise reports usage to its
maintainers); set it to ``false`` in the environment to allow it.

``mlflow`` is imported lazily inside the methods (the import alone takes 1.5-4 s), and runs go
through ``MlflowClient`` rather than the global fluent API, so concurrent Dagster steps do not share
an "active run".
"""
from __future__ import annotations

import math
import os
import re
import tempfile
from pathlib import Path
from typing import Callable

from resources import storage

_PARAM_MAX = 6000  # MLflow's limit on a param value's length
_KEY_BAD = re.compile(r"[^A-Za-z0-9_\-./ ]")
REGISTERED_PREFIX = "tipoff."
VERSION_TAG, STATE_TAG = "tipoff_version", "tipoff_state"  # on every MLflow model version
PRODUCTION_ALIAS = "production"
MODEL_ARTIFACT = "model"  # where a run keeps its MLflow model (MLmodel + data)
_DATABASES = ("postgresql", "mysql", "mssql")  # SQLAlchemy URIs MLflow stores runs in
UI_URL_ENV, DEFAULT_UI_URL = "TIPOFF_MLFLOW_UI_URL", "http://127.0.0.1:5000"


def _key(k) -> str:
    return _KEY_BAD.sub("_", str(k))[:250] or "_"


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    p = uri[len("sqlite:///"):]
    return Path(p) if p and p != ":memory:" else None


def _quiet_env() -> None:
    """No usage reports to MLflow's maintainers unless the environment asks for them."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def quiet_logs() -> None:
    """MLflow's INFO lines (schema migrations, "validating input example") and download
    progress bars stay out of Tipoff's output; its warnings still show."""
    import logging
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)


def registered_name(family: str) -> str:
    """The MLflow registered model of a Tipoff model family (``tipoff models list`` names)."""
    return f"{REGISTERED_PREFIX}{family}"


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
        # SQLite under the data root (see the module docstring: the file store has no registry)
        return f"sqlite:///{storage.data_root() / 'mlflow.db'}"

    def _artifact_location(self, uri: str) -> str | None:
        if self.artifact_root:
            return self.artifact_root if "://" in self.artifact_root else Path(self.artifact_root).resolve().as_uri()
        db = _sqlite_path(uri)
        if db is not None:
            return (db.resolve().parent / "mlartifacts" / _key(self.experiment)).as_uri()
        if uri.split(":", 1)[0].split("+", 1)[0] in _DATABASES:  # e.g. PostgreSQL: not ./mlruns
            return (storage.data_root() / "mlartifacts" / _key(self.experiment)).as_uri()
        return None  # file store / tracking server: its own default

    def client(self):
        """(MlflowClient, experiment_id), creating the experiment if needed."""
        uri = self.resolved_tracking_uri()
        _quiet_env()
        if _is_file_store(uri):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        db = _sqlite_path(uri)
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        quiet_logs()
        if db is None:
            client = MlflowClient(tracking_uri=uri)
        else:
            # a new database is migrated when the client opens it: one process at a time (two
            # steps on Celery workers would otherwise race on the schema); later opens ~10 ms
            db.parent.mkdir(parents=True, exist_ok=True)
            with storage.locked(db):
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
        """Start a run, log params / metrics / tags, ``features.txt`` and the model file (or
        folder: an MLflow model directory becomes the run's ``model/``) as artifacts, end the
        run; return its run id.  Non-finite or non-numeric metrics are skipped
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
                    client.log_artifacts(run_id, str(mp), artifact_path=MODEL_ARTIFACT)
                else:
                    client.log_artifact(run_id, str(mp), artifact_path=MODEL_ARTIFACT)
        except BaseException:
            client.set_terminated(run_id, status="FAILED")
            raise
        client.set_terminated(run_id, status="FINISHED")
        return run_id

    # ------------------------------------------------------------ model registry mirror
    def has_logged_model(self, run_id: str | None) -> bool:
        """Whether run ``run_id`` exists and holds an MLflow model under ``model/``."""
        if not run_id:
            return False
        from mlflow.exceptions import MlflowException

        client, _ = self.client()
        try:
            return any(a.path == f"{MODEL_ARTIFACT}/MLmodel"
                       for a in client.list_artifacts(run_id, MODEL_ARTIFACT))
        except (MlflowException, OSError):
            return False

    def sync_family(self, family: str, versions: list[dict], production: str | None,
                    log_missing: Callable[[str], str]) -> dict:
        """Make MLflow's registered model ``tipoff.<family>`` agree with Tipoff's registry.

        ``versions``: one dict per Tipoff version (``version``, ``state``, ``run_id`` -- the
        training run, None when MLflow was down then); ``production``: the production version or
        None.  A version MLflow does not have yet is registered from its run's ``model/`` (or,
        when that run has no model, from the run ``log_missing(version)`` logs); every MLflow
        version carries ``tipoff_version`` and ``tipoff_state`` tags, and the ``production`` alias
        points at the production version (removed when there is none).  MLflow versions whose
        Tipoff version is unknown here are tagged ``tipoff_state=unknown``.  Returns what changed:
        ``{"registered": [...], "retagged": [...], "alias": version|None, "alias_moved": bool}``.
        """
        from mlflow.exceptions import MlflowException

        client, _ = self.client()
        name = registered_name(family)
        try:
            client.create_registered_model(
                name, description=f"Tipoff `{family}` model (mirror of `tipoff models list "
                                  f"{family}`; alias `{PRODUCTION_ALIAS}` = the production version)")
        except MlflowException as exc:
            if "RESOURCE_ALREADY_EXISTS" not in str(getattr(exc, "error_code", "")) + str(exc):
                raise
        have = {}
        for mv in client.search_model_versions(f"name = '{name}'"):
            tv = mv.tags.get(VERSION_TAG)
            if tv and (tv not in have or int(mv.version) < int(have[tv].version)):
                have[tv] = mv  # duplicates (two syncs at once): the first one counts
        out = {"registered": [], "retagged": [], "alias": None, "alias_moved": False}
        known = {v["version"] for v in versions}
        for v in versions:
            tv, state = v["version"], v["state"]
            mv = have.get(tv)
            if mv is None:
                run_id = v.get("run_id")
                if not self.has_logged_model(run_id):
                    run_id = log_missing(tv)
                mv = client.create_model_version(
                    name, f"runs:/{run_id}/{MODEL_ARTIFACT}", run_id=run_id,
                    tags={VERSION_TAG: tv, STATE_TAG: state},
                    description=f"Tipoff {family} {tv}")
                client.set_tag(run_id, VERSION_TAG, tv)  # the run page names its version too
                have[tv] = mv
                out["registered"].append(tv)
            elif mv.tags.get(STATE_TAG) != state:
                client.set_model_version_tag(name, mv.version, STATE_TAG, state)
                out["retagged"].append(tv)
        for tv, mv in have.items():
            if tv not in known and mv.tags.get(STATE_TAG) != "unknown":
                client.set_model_version_tag(name, mv.version, STATE_TAG, "unknown")
                out["retagged"].append(tv)
        current = self._alias_version(client, name)
        want = have[production].version if production in have else None
        if want is None and current is not None:
            client.delete_registered_model_alias(name, PRODUCTION_ALIAS)
            out["alias_moved"] = True
        elif want is not None and current != str(want):
            client.set_registered_model_alias(name, PRODUCTION_ALIAS, want)
            out["alias_moved"] = True
        out["alias"] = production if want is not None else None
        return out

    @staticmethod
    def _alias_version(client, name: str) -> str | None:
        from mlflow.exceptions import MlflowException
        try:
            return str(client.get_model_version_by_alias(name, PRODUCTION_ALIAS).version)
        except MlflowException:
            return None

    def family_state(self, family: str) -> dict:
        """What MLflow holds for ``tipoff.<family>``: ``{"versions": {tipoff_version: state},
        "production": tipoff version the alias points at (None if no alias)}``."""
        from mlflow.exceptions import MlflowException

        client, _ = self.client()
        name = registered_name(family)
        try:
            mvs = client.search_model_versions(f"name = '{name}'")
        except MlflowException:
            mvs = []
        alias = self._alias_version(client, name)
        prod = next((mv.tags.get(VERSION_TAG) for mv in mvs if str(mv.version) == alias), None)
        return {"versions": {mv.tags.get(VERSION_TAG): mv.tags.get(STATE_TAG) for mv in mvs},
                "production": prod}

    def run_url(self, run_id: str, ui_url: str | None = None) -> str:
        """Link to a run in the MLflow UI (``ui_url``, else ``TIPOFF_MLFLOW_UI_URL``, else
        http://127.0.0.1:5000 -- what `mlflow ui` serves)."""
        base = (ui_url or os.environ.get(UI_URL_ENV) or DEFAULT_UI_URL).rstrip("/")
        client, _ = self.client()
        exp_id = client.get_run(run_id).info.experiment_id
        return f"{base}/#/experiments/{exp_id}/runs/{run_id}"
