"""Small shortcuts shared by tests (reading a partition of an asset by name, pointing the code
location at a temporary simulated store)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from resources import storage
from tipoff_core import catalog


def read_table(asset: str, partition: str, run: str = "latest", root: Path | None = None) -> pd.DataFrame:
    return storage.read_partition(catalog.table(asset), partition, run, root)


def run_folder(asset: str, partition: str, run: str = "latest", root: Path | None = None) -> Path:
    return storage.run_folder(catalog.table(asset), partition, run, root)


def partition_dir(asset: str, partition: str, root: Path | None = None) -> Path:
    return storage.partition_dir(catalog.table(asset), partition, root)


def use_simulated_store(mp, root: Path) -> None:
    """Point the code location's environment at a simulated store under ``root`` (``mp``: a
    pytest MonkeyPatch, so the caller restores the environment)."""
    mp.setenv("TIPOFF_DATA_DIR", str(root))
    mp.setenv("TIPOFF_SOURCE", "simulated")
    mp.setenv("TIPOFF_SEED", "7")
    mp.setenv("TIPOFF_SHOCK", "")
    mp.setenv("MLFLOW_TRACKING_URI", mlflow_sqlite_uri(root))
    mp.delenv("TIPOFF_PREDICTIONS_URL", raising=False)


def mlflow_sqlite_uri(root: Path) -> str:
    """``sqlite:///<root>/mlflow.db`` (the default store's layout), seeded with a copy of an
    empty, migrated MLflow database made once per machine: a new database runs MLflow's ~50
    schema migrations (2-7 s), a copy takes milliseconds."""
    import os
    import shutil
    import tempfile
    from importlib.metadata import version

    template = Path(tempfile.gettempdir()) / f"tipoff-mlflow-template-{version('mlflow')}.db"
    if not template.exists():
        from mlflow.tracking import MlflowClient
        tmp = template.with_name(f"{template.name}.{os.getpid()}.tmp")
        MlflowClient(tracking_uri=f"sqlite:///{tmp}").search_experiments()  # creates + migrates
        os.replace(tmp, template)  # atomic: concurrent workers each publish a complete file
    db = Path(root) / "mlflow.db"
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, db)
    return f"sqlite:///{db}"


QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def build_trained_store(root: Path, history: tuple[str, str]) -> None:
    """A simulated history (history_job over ``history``) and production models (train_job,
    fast grid, lenient floor) under ``root``; the environment is restored afterwards."""
    import dagster as dg
    import pytest

    mp = pytest.MonkeyPatch()
    use_simulated_store(mp, root)
    try:
        from pipeline_assets.definitions import defs
        inst = dg.DagsterInstance.ephemeral()
        assert defs.resolve_job_def("history_job").execute_in_process(
            instance=inst, run_config=QUIET,
            tags={"dagster/asset_partition_range_start": history[0],
                  "dagster/asset_partition_range_end": history[1]}).success
        assert defs.resolve_job_def("train_job").execute_in_process(
            instance=inst, tags={"tipoff/retrain_reason": "test"},
            run_config={**QUIET, "ops": {
                "win_model": {"config": {"fast": True, "max_log_loss": 1.0}},
                "minutes_model": {"config": {"fast": True}}}}).success
    finally:
        mp.undo()


class RecordingWebhook:
    """A local Slack-like webhook (http.server in a thread) that records every POST body; answers
    the statuses in ``statuses`` first (e.g. [503] to make the sender retry), then 200."""

    def __init__(self, statuses: list[int] | None = None):
        import http.server
        import json
        import threading

        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self.statuses = list(statuses or [])
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.paths.append(self.path)
                status = hook.statuses.pop(0) if hook.statuses else 200
                if status == 200:
                    hook.bodies.append(json.loads(body))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):  # the path is the secret: never print it
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/s3cr3tW3bh00k"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "RecordingWebhook":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def texts(self) -> list[str]:
        return [b["text"] for b in self.bodies]
