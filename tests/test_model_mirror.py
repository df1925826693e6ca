"""The model checks' logic (feature list vs schema, gate outcome) and the MLflow mirror's sync on a
small registry of stand-in models (no training: the trained path is in test_end_to_end)."""
from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest

from pipeline_assets import mlflow_models, training
from pipeline_assets.features import FEATURE_SCHEMA_VERSION
from resources.mlflow_tracking import MlflowTracking
from resources.registry import ModelRegistry
from tests.helpers import mlflow_sqlite_uri

FREE = training.WIN_FREE


def _register(reg: ModelRegistry, name: str, features: list[str] | None = None,
              schema: str = FEATURE_SCHEMA_VERSION) -> str:
    return reg.register(name, {"model": "stand-in"}, features or training.expected_features(name),
                        {"feature_schema_version": schema, "metrics": {"log_loss": 0.6}})


def test_feature_problems_name_what_differs(tmp_path):
    reg = ModelRegistry(tmp_path / "models")
    good = _register(reg, FREE)
    assert training.feature_problems(reg, FREE, [good]) == []
    short = _register(reg, FREE, training.expected_features(FREE)[:-1] + ["elo_diff"])
    old = _register(reg, FREE, schema="features-v1")
    problems = training.feature_problems(reg, FREE, [short, old])
    last = training.expected_features(FREE)[-1]
    assert any(short in p and f"missing ['{last}']" in p and "extra ['elo_diff']" in p
               for p in problems), problems
    assert any(old in p and "features-v1" in p for p in problems), problems
    assert len(problems) == 2
    # the newest version and production are the ones checked
    reg.promote(FREE, good)
    assert training.versions_to_check(reg, FREE) == [old, good]
    for name in (training.WIN_MARKET, training.MINUTES_NAME):  # every feature is schema or derived
        assert training.feature_problems(reg, name, []) == []


def test_gate_outcome_of_the_newest_version(tmp_path):
    reg = ModelRegistry(tmp_path / "models")
    assert training.gate_outcome(reg, FREE)["passed"] is None
    v1 = _register(reg, FREE)
    assert training.gate_outcome(reg, FREE)["passed"] is None  # never gated
    reg.promote_if_passes(FREE, v1, {"log_loss": 0.6}, None, {"max_log_loss": 0.7})
    assert training.gate_outcome(reg, FREE) | {"reason": ""} == {
        "version": v1, "state": "production", "passed": True, "reason": "", "production": v1}
    v2 = _register(reg, FREE)
    reg.promote_if_passes(FREE, v2, {"log_loss": 0.65}, {"log_loss": 0.6})
    out = training.gate_outcome(reg, FREE)
    assert out["version"] == v2 and out["passed"] is False and out["production"] == v1
    assert out["reason"].startswith("gate failed")


@pytest.fixture
def mirror_env(tmp_path, monkeypatch):
    monkeypatch.setenv("TIPOFF_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_sqlite_uri(tmp_path))
    return ModelRegistry(tmp_path / "models"), MlflowTracking()


def _state(reg: ModelRegistry, name: str) -> dict:
    df = reg.list_versions(name)
    return {"versions": dict(zip(df["version"], df["state"])),
            "production": reg.production_version(name)}


def test_mirror_follows_promotions_and_repairs_what_it_missed(mirror_env):
    reg, tracking = mirror_env
    v1 = _register(reg, FREE)  # never logged to MLflow: mirror logs it from the stored files
    reg.promote(FREE, v1)
    changes = mlflow_models.mirror(reg, tracking)
    assert changes[FREE]["registered"] == [v1] and changes[FREE]["alias"] == v1
    assert tracking.family_state(FREE) == _state(reg, FREE)
    v2 = _register(reg, FREE)
    reg.promote(FREE, v2)
    changes = mlflow_models.mirror(reg, tracking, [FREE])
    assert changes[FREE]["registered"] == [v2] and changes[FREE]["retagged"] == [v1]
    assert changes[FREE]["alias_moved"]
    assert tracking.family_state(FREE) == _state(reg, FREE)
    reg.rollback(FREE)
    mlflow_models.mirror(reg, tracking, [FREE])
    assert tracking.family_state(FREE) == _state(reg, FREE)
    assert tracking.family_state(FREE)["production"] == v1
    again = mlflow_models.mirror(reg, tracking, [FREE])  # idempotent
    assert again[FREE] == {"registered": [], "retagged": [], "alias": v1, "alias_moved": False}
    # a version logged by sync-mlflow is an MLflow model built from the stored pickle
    from mlflow.tracking import MlflowClient
    client = MlflowClient(tracking_uri=tracking.resolved_tracking_uri())
    mv = client.get_model_version_by_alias("tipoff.win_market_free", "production")
    local = Path(client.download_artifacts(mv.run_id, "model"))
    assert (local / "MLmodel").is_file()
    assert pickle.loads((local / "data" / "tipoff" / "model.pkl").read_bytes()) == {"model": "stand-in"}
    assert client.get_run(mv.run_id).data.tags["logged_by"] == "sync-mlflow"


def test_mirror_or_warn_keeps_going_when_mlflow_is_down(mirror_env, monkeypatch, caplog):
    reg, _ = mirror_env
    reg.promote(FREE, _register(reg, FREE))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    down = MlflowTracking(tracking_uri="http://127.0.0.1:9")
    with caplog.at_level("WARNING"):
        assert mlflow_models.mirror_or_warn(reg, down, [FREE]) is None
    assert "tipoff models sync-mlflow" in caplog.text
    with pytest.raises(Exception):
        mlflow_models.mirror(reg, down, [FREE])



def test_training_hooks_warn_once_and_skip_mlflow_after_a_failure(tmp_path, caplog):
    class Down:  # a tracking server that never answers; counts what was asked of it
        calls = 0

        def log_training(self, *a, **k):
            Down.calls += 1
            raise ConnectionError("connection refused")

        def sync_family(self, *a, **k):
            Down.calls += 1
            raise ConnectionError("connection refused")

    reg = ModelRegistry(tmp_path / "models")
    hooks = mlflow_models.TrainingHooks(reg, Down())
    kw = dict(params={}, metrics={}, feature_cols=["a"], tags={}, model={"model": 1},
              games=pd.DataFrame(), players=pd.DataFrame())
    with caplog.at_level("WARNING"):
        assert hooks.log_run(run_name="x", family=FREE, **kw) is None
        assert hooks.log_run(run_name="y", family=training.WIN_MARKET, **kw) is None
        hooks.on_registry_change([FREE])
    assert Down.calls == 1 and "connection refused" in hooks.failed
    assert caplog.text.count("sync-mlflow") == 1


@pytest.mark.slow  # the MLflow server takes 10-40 s to start on a loaded 2-core machine
def test_mlflow_ui_on_the_local_store_shows_the_production_alias(tmp_path, monkeypatch):
    """The README's `mlflow ui --backend-store-uri sqlite:///data/simulated/mlflow.db`, run from
    a checkout-like folder, serves the mirrored registry with the `production` alias."""
    import json
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    from urllib.request import urlopen

    root = tmp_path / "data" / "simulated"
    monkeypatch.setenv("TIPOFF_DATA_DIR", str(root))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_sqlite_uri(root))
    reg = ModelRegistry(root / "models")
    version = _register(reg, FREE)
    reg.promote(FREE, version)
    mlflow_models.mirror(reg, MlflowTracking())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [str(Path(sys.executable).parent / "mlflow"), "ui", "--backend-store-uri",
           "sqlite:///data/simulated/mlflow.db", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/api/2.0/mlflow/registered-models/get?name=tipoff.{FREE}"
        deadline, body = time.monotonic() + 120, None
        while body is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                body = json.loads(urlopen(url, timeout=5).read())
            except OSError:
                time.sleep(1)
        assert body is not None, "mlflow ui did not answer"
        model = body["registered_model"]
        assert model["aliases"] == [{"alias": "production", "version": "1"}]
        tags = {t["key"]: t["value"] for t in model["latest_versions"][0]["tags"]}
        assert tags == {"tipoff_version": version, "tipoff_state": "production"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
