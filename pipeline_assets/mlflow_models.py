"""Tipoff models as MLflow models, and the mirror of Tipoff's registry in MLflow's (plain Python).

Flavor: **pyfunc wrapping the project's own model file**, not a native flavor.  A stored Tipoff
model is a composite a native flavor cannot hold: the win models are the expected-lineup pipeline
(box weights + a LightGBM availability classifier + a logistic model on its strength columns, and
for ``win_with_market`` a market stack on top), the minutes model is the same lineup model with
LightGBM quantile boosters and a reconciliation step.  The MLflow model directory holds the very
pickle Tipoff's registry stores (``data/tipoff/model.pkl``) and this module as its loader
(``loader_module``), so ``mlflow.pyfunc.load_model("models:/tipoff.win_market_free@production")``
predicts exactly what the scorers do.  Loading it needs the ``tipoff`` package installed.

Input (the signature is built from the versioned feature schema, so it is the same for every
version of a schema):
  ``win_*``    one row per candidate player -- the ``gold_minutes_features`` id and feature columns
               -- with its game's ``gold_game_features`` id, feature and market columns joined on
               ``game_id``; output one row per game: ``game_id``, ``p_home_win``.
  ``minutes``  the ``gold_minutes_features`` rows of the candidates; output per candidate:
               ``game_id``, ``team_id``, ``player_id``, ``p_play``, ``p10``, ``p50``, ``p90``
               (minutes if he plays, reconciled to 240 per team).
  ``tip_ts`` / ``cutoff_ts`` are UTC as timezone-naive datetimes (MLflow's ``datetime`` type has
  no time zone).

The mirror (``mirror``): MLflow's registered model ``tipoff.<family>`` gets one version per Tipoff
version (tags ``tipoff_version`` and ``tipoff_state``) and the ``production`` alias on the
production version.  Training, ``tipoff models promote|rollback`` and the gate call it after every
change; ``tipoff models sync-mlflow`` repairs MLflow from Tipoff's registry (Tipoff's registry is
the source of truth; a version trained while MLflow was down is logged from its stored files).
"""
from __future__ import annotations

import json
import logging
import pickle
import tempfile
import warnings
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from pipeline_assets.features.schema import SCHEMAS
from pipeline_assets.training import minutes_prediction, win_probability
from resources.mlflow_tracking import MlflowTracking, quiet_logs
from resources.registry import FEATURES_FILE, METADATA_FILE, MODEL_FILE, ModelRegistry

log = logging.getLogger(__name__)

KIND_FILE = "tipoff.json"
_MLFLOW_TYPES = {"str": "string", "date": "string", "ts": "datetime", "int": "long",
                 "float": "double", "bool": "boolean"}
OUTPUT_COLUMNS = {"win": [("game_id", "str"), ("p_home_win", "float")],
                  "minutes": [("game_id", "str"), ("team_id", "int"), ("player_id", "int"),
                              ("p_play", "float"), ("p10", "float"), ("p50", "float"),
                              ("p90", "float")]}


def kind_of(family: str) -> str:
    """``win`` for the win families, ``minutes`` for the minutes model."""
    return "minutes" if family == "minutes" else "win"


def _inputs(feature_set: str) -> list[tuple[str, str]]:
    s = SCHEMAS[feature_set]
    return s["id"] + s["feature"] + s["market"]


def input_columns(kind: str) -> list[tuple[str, str]]:
    """(column, logical dtype) of the pyfunc input (see the module docstring)."""
    cols = _inputs("minutes")
    if kind == "win":
        have = {c for c, _ in cols}
        cols = cols + [(c, t) for c, t in _inputs("game") if c not in have]
    return cols


def signature(kind: str):
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    def schema(cols):
        return Schema([ColSpec(_MLFLOW_TYPES[t], c) for c, t in cols])
    return ModelSignature(inputs=schema(input_columns(kind)), outputs=schema(OUTPUT_COLUMNS[kind]))


def example_input(kind: str, games: pd.DataFrame, players: pd.DataFrame, n_games: int = 1
                  ) -> pd.DataFrame:
    """The pyfunc input of the first ``n_games`` games of ``games`` (their candidate rows)."""
    ids = games["game_id"].drop_duplicates().head(n_games)
    p = players[players["game_id"].isin(ids)]
    if kind == "win":
        shared = [c for c in games.columns if c in p.columns and c != "game_id"]
        p = p.merge(games[games["game_id"].isin(ids)].drop(columns=shared), on="game_id",
                    how="left")
    cols = input_columns(kind)
    out = p.reindex(columns=[c for c, _ in cols]).reset_index(drop=True)
    for c in _ts_columns(cols):  # MLflow's datetime is timezone-naive: UTC, as naive
        out[c] = pd.to_datetime(out[c], utc=True).dt.tz_localize(None)
    return out


def _ts_columns(cols: list[tuple[str, str]]) -> list[str]:
    return [c for c, t in cols if t == "ts"]


# ------------------------------------------------------------------------ the pyfunc loader

class TipoffPyfunc:
    """What ``mlflow.pyfunc.load_model`` wraps: the stored Tipoff model and its kind."""

    def __init__(self, model, kind: str, feature_cols: list[str]):
        self.model, self.kind, self.feature_cols = model, kind, feature_cols

    def predict(self, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        df = pd.DataFrame(model_input).reset_index(drop=True)
        for c in _ts_columns(input_columns(self.kind)):  # naive UTC in, tz-aware as in the tables
            if c in df:
                df[c] = pd.to_datetime(df[c], utc=True)
        players = df[[c for c, _ in _inputs("minutes") if c in df.columns]]
        if self.kind == "minutes":
            pred, _ = minutes_prediction(self.model, players)
            return pred[[c for c, _ in OUTPUT_COLUMNS["minutes"]]].reset_index(drop=True)
        games = (df[[c for c, _ in _inputs("game") if c in df.columns]]
                 .drop_duplicates("game_id").reset_index(drop=True))
        p = win_probability(self.model["model"], games, players)
        return pd.DataFrame({"game_id": games["game_id"].astype(str),
                             "p_home_win": np.asarray(p, float)})


def _load_pyfunc(data_path: str) -> TipoffPyfunc:
    """MLflow's ``loader_module`` hook: ``data_path`` is the model directory's ``data/tipoff``."""
    folder = Path(data_path)
    info = json.loads((folder / KIND_FILE).read_text())
    model = pickle.loads((folder / MODEL_FILE).read_bytes())
    return TipoffPyfunc(model, info["kind"], (folder / FEATURES_FILE).read_text().splitlines())


def _requirements() -> list[str]:
    """Pinned to what trained it; given explicitly (MLflow's inference would load the model in
    a subprocess, seconds per model)."""
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for dist in ("tipoff", "mlflow", "pandas", "numpy", "scikit-learn", "lightgbm", "scipy",
                 "pyarrow"):
        try:
            out.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            out.append(dist)
    return out


def save_model_dir(family: str, model_pickle: bytes, feature_cols: Iterable[str], dest: Path,
                   input_example: pd.DataFrame | None = None) -> Path:
    """Write the MLflow pyfunc model of one Tipoff model (pickled bytes as the registry stores
    them) into ``dest`` (must not exist); returns ``dest``."""
    import mlflow.pyfunc

    quiet_logs()
    kind = kind_of(family)
    with tempfile.TemporaryDirectory(prefix="tipoff-pyfunc-") as tmp:
        data = Path(tmp) / "tipoff"  # MLflow copies it to the model's data/tipoff/
        data.mkdir()
        (data / MODEL_FILE).write_bytes(model_pickle)
        (data / FEATURES_FILE).write_text("".join(f"{c}\n" for c in feature_cols))
        (data / KIND_FILE).write_text(json.dumps({"family": family, "kind": kind}))
        with warnings.catch_warnings():  # no input example when logged by sync-mlflow: known
            warnings.filterwarnings("ignore", message=".*input example was not provided")
            mlflow.pyfunc.save_model(str(dest), loader_module=__name__, data_path=str(data),
                                     signature=signature(kind), input_example=input_example,
                                     pip_requirements=_requirements())
    return dest


# ------------------------------------------------------------------------ the registry mirror

def _run_id(registry: ModelRegistry, name: str, version: str) -> str | None:
    try:
        meta = json.loads((registry.root / name / version / METADATA_FILE).read_text())
    except (OSError, ValueError):
        return None
    return meta.get("mlflow_run_id")


def _log_stored(registry: ModelRegistry, tracking: MlflowTracking, name: str, version: str) -> str:
    """Log a stored version (trained while MLflow was unreachable) as a new run; its run id."""
    folder = registry.root / name / version
    meta = json.loads((folder / METADATA_FILE).read_text())
    feats = (folder / FEATURES_FILE).read_text().splitlines()
    with tempfile.TemporaryDirectory(prefix="tipoff-sync-") as tmp:
        model_dir = save_model_dir(name, (folder / MODEL_FILE).read_bytes(), feats,
                                   Path(tmp) / "model")
        return tracking.log_training(
            f"{name} {version} (sync-mlflow)", params=meta.get("params") or {},
            metrics=meta.get("metrics") or {}, feature_cols=feats, model_path=model_dir,
            tags={"model_name": name, "tipoff_version": version, "logged_by": "sync-mlflow"})


def mirror(registry: ModelRegistry, tracking: MlflowTracking,
           names: Iterable[str] | None = None) -> dict[str, dict]:
    """Make MLflow agree with Tipoff's registry for ``names`` (default: every model name there
    is); ``{name: what changed}`` (see ``MlflowTracking.sync_family``).  Raises when MLflow
    cannot be reached -- ``mirror_or_warn`` is the forgiving form."""
    df = registry.list_versions()
    names = list(names) if names is not None else sorted(set(df["name"]))
    out = {}
    for name in names:
        g = df[df["name"] == name]
        versions = [{"version": r.version, "state": r.state,
                     "run_id": _run_id(registry, name, r.version)} for r in g.itertuples()]
        out[name] = tracking.sync_family(
            name, versions, registry.production_version(name),
            lambda v, _n=name: _log_stored(registry, tracking, _n, v))
    return out


def mirror_or_warn(registry: ModelRegistry, tracking: MlflowTracking | None,
                   names: Iterable[str] | None = None, logger=None) -> dict[str, dict] | None:
    """``mirror``, but an unreachable or failing MLflow is a warning (Tipoff's registry has
    already changed; `tipoff models sync-mlflow` repairs MLflow later).  None on failure."""
    if tracking is None:
        return None
    try:
        return mirror(registry, tracking, names)
    except Exception as exc:  # noqa: BLE001 - MLflow is a mirror; training and promotion go on
        (logger or log).warning(
            f"MLflow registry not updated ({type(exc).__name__}: {str(exc)[:300]}); Tipoff's "
            "registry is unchanged by this -- repair MLflow with `tipoff models sync-mlflow`")
        return None


class TrainingHooks:
    """Training's MLflow hooks (``training.train_win`` / ``train_minutes``): ``log_run`` logs the
    run with the trained model as an MLflow pyfunc (signature, input example: the first game of
    the held-out window), ``on_registry_change`` mirrors the registry after the gate.  Failures
    are warnings -- training goes on -- and after the first one the others are skipped, so an
    unreachable tracking server costs one retry budget per asset, not one per call."""

    def __init__(self, registry: ModelRegistry, tracking: MlflowTracking | None, logger=None):
        self.registry, self.tracking, self.log = registry, tracking, logger or log
        self.failed: str | None = None

    def _warn(self, what: str, exc: Exception) -> None:
        self.failed = f"{type(exc).__name__}: {str(exc)[:300]}"
        self.log.warning(f"MLflow: {what} ({self.failed}); training goes on and skips MLflow "
                         "for the rest of this step -- `tipoff models sync-mlflow` catches up")

    def log_run(self, *, run_name: str, params: dict, metrics: dict, feature_cols: list[str],
                tags: dict, family: str, model, games: pd.DataFrame, players: pd.DataFrame
                ) -> str | None:
        if self.tracking is None or self.failed:
            return None
        try:
            kind = kind_of(family)
            example = example_input(kind, games, players) if len(games) else None
            with tempfile.TemporaryDirectory(prefix="tipoff-mlflow-model-") as tmp:
                model_dir = save_model_dir(
                    family, pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL), feature_cols,
                    Path(tmp) / "model", example)
                return self.tracking.log_training(run_name, params=params, metrics=metrics,
                                                  feature_cols=feature_cols,
                                                  model_path=model_dir, tags=tags)
        except Exception as exc:  # noqa: BLE001 - tracking must never stop training
            self._warn(f"run of {family} not logged", exc)
            return None

    def on_registry_change(self, names: list[str]) -> None:
        if self.tracking is None or self.failed:
            return
        try:
            mirror(self.registry, self.tracking, names)
        except Exception as exc:  # noqa: BLE001 - MLflow is a mirror; training goes on
            self._warn(f"registry of {', '.join(names)} not mirrored", exc)

    def kwargs(self) -> dict:
        return {"log_run": self.log_run, "on_registry_change": self.on_registry_change}
