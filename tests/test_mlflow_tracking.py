"""MlflowTracking logs a training run (params, metrics, features.txt, model file) to a local store
(SQLite under the data root by default; an explicit file store still tracks runs)."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from resources.mlflow_tracking import MlflowTracking
from tests.helpers import mlflow_sqlite_uri


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TIPOFF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY", raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)  # nothing may land in the working directory (MLflow's ./mlruns default)
    return tmp_path / "data"


def _model_file(tmp_path: Path) -> Path:
    p = tmp_path / "model.pkl"
    p.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    return p


def _check_run(uri: str, run_id: str):
    from mlflow.tracking import MlflowClient
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "win_market_free-2024-04-15"
    assert run.data.params == {"C": "0.1", "candidate": "logistic_C0.1", "calibration": "none"}
    assert run.data.metrics == {"cv_log_loss": pytest.approx(0.61), "n_rows": 3690.0}
    assert run.data.tags["model_name"] == "win_market_free"
    assert run.data.tags["skipped_metrics"] == "nan_metric,train_start"
    arts = {a.path for a in client.list_artifacts(run_id)}
    assert arts == {"features.txt", "model"}
    assert {a.path for a in client.list_artifacts(run_id, "model")} == {"model/model.pkl"}
    local = Path(client.download_artifacts(run_id, "features.txt"))
    assert local.read_text().splitlines() == ["elo_diff", "rest_home"]
    return run


def _log(res: MlflowTracking, model_path: Path | None) -> str:
    return res.log_training(
        "win_market_free-2024-04-15",
        params={"C": 0.1, "candidate": "logistic_C0.1", "calibration": "none"},
        metrics={"cv_log_loss": 0.61, "n_rows": 3690, "nan_metric": float("nan"),
                 "train_start": "2021-10-19"},
        feature_cols=["elo_diff", "rest_home"], model_path=model_path,
        tags={"model_name": "win_market_free"})


def test_default_store_is_sqlite_under_the_data_root(data_dir, tmp_path):
    mlflow_sqlite_uri(data_dir)  # seeds <data root>/mlflow.db (skips MLflow's migrations)
    res = MlflowTracking()
    uri = res.resolved_tracking_uri()
    assert uri == f"sqlite:///{data_dir.resolve() / 'mlflow.db'}"
    run_id = _log(res, _model_file(tmp_path))
    run = _check_run(uri, run_id)
    assert run.info.artifact_uri.startswith((data_dir.resolve() / "mlartifacts").as_uri())
    assert list(Path.cwd().iterdir()) == []
    assert len(list((data_dir / "mlartifacts").rglob("model.pkl"))) == 1
    assert os.environ.get("MLFLOW_DISABLE_TELEMETRY") == "true"  # nothing phones home
    # a second run reuses the experiment
    assert _log(res, None) != run_id


def test_env_tracking_uri_wins_over_default(data_dir, tmp_path, monkeypatch):
    uri = (tmp_path / "other-mlruns").as_uri()  # a file store keeps this test fast
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    res = MlflowTracking(experiment="tipoff-test")
    assert res.resolved_tracking_uri() == uri
    _check_run(uri, _log(res, _model_file(tmp_path)))
    assert not (data_dir / "mlflow.db").exists()
    assert MlflowTracking(tracking_uri="sqlite:///x.db").resolved_tracking_uri() == "sqlite:///x.db"


def test_explicit_file_store_works_offline(data_dir, tmp_path):
    uri = (tmp_path / "mlruns").as_uri()  # MLflow 3 refuses this unless MLFLOW_ALLOW_FILE_STORE=true
    res = MlflowTracking(tracking_uri=uri)
    run_id = _log(res, _model_file(tmp_path))
    assert os.environ.get("MLFLOW_ALLOW_FILE_STORE") == "true"
    _check_run(uri, run_id)
    assert list((tmp_path / "mlruns").rglob("features.txt"))
