"""Scale-out on Celery: runs whose steps execute on a real dagster-celery worker (RabbitMQ at
127.0.0.1:5672), with the production instance (deploy/dagster.yaml: PostgreSQL run, event and
schedule storage) and the worker config of deploy/celery/ -- the deployment docs/SCALING.md describes.

Each test has its own database, Celery queue and data root (others share the broker:
TIPOFF_TEST_BROKER_URL, default guest@127.0.0.1:5672), starts its worker in a new process group and
kills that group in a `finally`, and bounds every wait, so a worker that crashes or hangs fails the
test instead of hanging the suite.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import yaml

from resources import storage
from tipoff_core import catalog

pytest.importorskip("dagster_celery", reason="dagster-celery not installed: pip install -e '.[celery]'")
kombu = pytest.importorskip("kombu")

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BROKER = os.environ.get("TIPOFF_TEST_BROKER_URL", "pyamqp://guest:guest@127.0.0.1:5672//")
DATES = ["2026-01-12", "2026-01-13", "2026-01-14"]
INGESTED = [t.asset for t in catalog.of_layer("snapshot") + catalog.of_layer("label")]


@pytest.fixture
def celery_queue():
    """A queue name of our own on the shared broker; the queue and its exchange are deleted after."""
    try:
        with kombu.Connection(BROKER, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 - any failure to reach the broker means: skip
        pytest.skip(f"no RabbitMQ answering at {BROKER.split('@')[-1]} (guest/guest): {exc}")
    name = f"tipoff_test_{uuid.uuid4().hex[:8]}"
    yield name
    with kombu.Connection(BROKER, connect_timeout=3) as conn:
        conn.default_channel.queue_delete(name)
        conn.default_channel.exchange_delete(name)


@dataclass
class Deployment:
    home: Path           # DAGSTER_HOME holding deploy/dagster.yaml
    data: Path           # TIPOFF_DATA_DIR, the data root workers and launcher share
    queue: str
    env: dict[str, str]  # the environment of every process of the deployment
    logs: Path

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))


@pytest.fixture
def deployment(tmp_path, celery_queue, pg_database, monkeypatch):
    home, data, logs = tmp_path / "dagster_home", tmp_path / "data", tmp_path / "logs"
    for d in (home, data, logs):
        d.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    pg = {"TIPOFF_PG_HOST": "127.0.0.1", "TIPOFF_PG_USER": "postgres", "TIPOFF_PG_PASSWORD": "",
          "TIPOFF_PG_DB": pg_database}
    for var, value in pg.items():  # the test process reads the same instance
        monkeypatch.setenv(var, value)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TIPOFF_", "DAGSTER_", "MLFLOW_", "PYTEST_"))}
    env.update(pg, DAGSTER_HOME=str(home), TIPOFF_DATA_DIR=str(data), TIPOFF_SOURCE="simulated",
               TIPOFF_SEED="7", TIPOFF_SHOCK="", TIPOFF_CELERY_BROKER_URL=BROKER,
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", PYTHONUNBUFFERED="1")
    return Deployment(home, data, celery_queue, env, logs)


def _tail(path: Path, n: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path.exists() else ""


def _stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop a process we started in its own session, and everything it started."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def background(dep: Deployment, name: str, args: list[str]):
    log = dep.logs / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, cwd=REPO, env=dep.env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        yield proc, log
    finally:
        _stop(proc)


@contextmanager
def celery_worker(dep: Deployment, concurrency: int = 1, ready_timeout: float = 60.0):
    """`dagster-celery worker start` on our queue, as docs/SCALING.md starts it; yields
    (process, node name) once the worker is consuming."""
    name = f"tipoff-{dep.queue}"
    args = [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
            "-y", str(REPO / "deploy" / "celery" / "worker.yaml"), "-q", dep.queue, "-n", name,
            "--", "-c", str(concurrency), "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with background(dep, "worker", args) as (proc, log):
        deadline = time.monotonic() + ready_timeout
        while " ready." not in log.read_text(errors="replace"):
            if proc.poll() is not None:
                pytest.fail(f"the Celery worker exited with {proc.returncode}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"the Celery worker was not ready after {ready_timeout:.0f} s:\n{_tail(log)}")
            time.sleep(0.3)
        yield proc, f"{name}@{socket.gethostname()}"


def run_command(dep: Deployment, name: str, args: list[str], timeout: float) -> subprocess.Popen:
    """Run a Dagster CLI command of the deployment to completion (killed after `timeout`)."""
    with background(dep, name, args) as (proc, log):
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`{' '.join(args[:3])}` did not finish in {timeout:.0f} s:\n{_tail(log)}")
    assert proc.returncode == 0, f"`{' '.join(args[:3])}` exited {proc.returncode}:\n{_tail(log)}"
    return proc


def assert_steps_ran_on_worker(instance: dg.DagsterInstance, run_id: str, worker: subprocess.Popen,
                               node: str, launcher_pids: set[int]) -> set[str]:
    """Every step of the run started in the worker's process group, each handed over by our
    worker's Celery task; returns the step keys."""
    records = instance.all_logs(run_id)
    starts = {r.step_key: r.dagster_event.pid for r in records
              if r.dagster_event and r.dagster_event.event_type == dg.DagsterEventType.STEP_START}
    assert starts, f"run {run_id} started no step"
    handed_over = {}
    for r in records:
        event = r.dagster_event
        if event and event.event_type == dg.DagsterEventType.ENGINE_EVENT and r.step_key:
            meta = {k: getattr(v, "value", v) for k, v in event.engine_event_data.metadata.items()}
            if "Celery worker" in meta:
                handed_over[r.step_key] = meta["Celery worker"]
    assert handed_over == {step: node for step in starts}, \
        f"steps not executed by worker {node}: {handed_over}"
    for step, pid in starts.items():
        assert pid not in launcher_pids, f"{step} ran in the launching process {pid}"
        assert os.getpgid(pid) == worker.pid, f"{step} ran in pid {pid}, outside the worker {worker.pid}"
    return set(starts)


def assert_partitions_stored(dep: Deployment, instance: dg.DagsterInstance, dates: list[str]) -> None:
    """Dagster's PostgreSQL event log has every partition materialized, and the data root holds
    the tables the worker wrote."""
    for asset in INGESTED:
        stored = instance.get_materialized_partitions(dg.AssetKey(asset))
        assert set(dates) <= stored, f"{asset}: materialized {sorted(stored)}, want {dates}"
        for day in dates:
            table = storage.read_partition(catalog.table(asset), day, root=dep.data)
            assert table is not None and list(table.columns), f"{asset} {day}: no table"
    for day in dates:  # the simulated league plays every one of these dates
        assert len(storage.read_partition(catalog.table("schedule_snapshot"), day, root=dep.data)) > 0
        assert len(storage.read_partition(catalog.table("game_results"), day, root=dep.data)) > 0


def test_partition_range_materializes_on_the_celery_worker(deployment):
    """One run over three dates (the snapshot and label assets, single-run backfill) launched with
    `dagster asset materialize` and deploy/celery/run_config.yaml: each step is a Celery task."""
    dep = deployment
    run_config = yaml.safe_load((REPO / "deploy" / "celery" / "run_config.yaml").read_text())
    # Our queue; the reply queue expires a minute after use (the broker is shared).
    run_config["execution"]["config"]["celery"]["config_source"].update(
        task_default_queue=dep.queue, result_expires=60)
    run_config["loggers"] = {"console": {"config": {"log_level": "WARNING"}}}
    (dep.logs / "run_config.yaml").write_text(yaml.safe_dump(run_config))
    with celery_worker(dep) as (worker, node):
        started = time.monotonic()
        launcher = run_command(dep, "materialize", [
            str(BIN / "dagster"), "asset", "materialize", "-m", "pipeline_assets.definitions",
            "--select", "group:snapshots or group:labels", "--partition-range", f"{DATES[0]}...{DATES[-1]}",
            "-c", str(dep.logs / "run_config.yaml")], timeout=240)
        elapsed = time.monotonic() - started
        with dep.instance() as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            runs = instance.get_runs()
            assert len(runs) == 1 and runs[0].status == dg.DagsterRunStatus.SUCCESS, \
                f"{[(r.run_id, r.status) for r in runs]}\n{_tail(dep.logs / 'materialize.log')}"
            steps = assert_steps_ran_on_worker(instance, runs[0].run_id, worker, node,
                                               {launcher.pid, os.getpid()})
            assert steps == set(INGESTED)
            assert_partitions_stored(dep, instance, DATES)
            # Steps hand data over through the data root only (no step output under DAGSTER_HOME),
            # so workers on other machines need no shared Dagster storage besides PostgreSQL.
            stored = dep.home / "storage" / runs[0].run_id
            leftovers = {p.name for p in stored.iterdir()} if stored.exists() else set()
            assert leftovers <= {"compute_logs"}, leftovers
    print(f"celery partition-range run: {len(steps)} steps x {len(DATES)} dates in {elapsed:.1f} s")


@pytest.mark.slow
def test_daemon_backfill_runs_on_the_celery_workers(deployment):
    """The deployment as an operator runs it: `dagster-daemon` with deploy/dagster.yaml (queued
    runs), TIPOFF_EXECUTOR=celery so every job defaults to the workers, and `dagster job backfill`
    of three partitions of ingest_job: three queued runs, every step on the worker."""
    dep = deployment
    dep.env.update(TIPOFF_EXECUTOR="celery", TIPOFF_CELERY_QUEUE=dep.queue)
    with celery_worker(dep, concurrency=2) as (worker, node), \
            background(dep, "daemon", [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"]) as (daemon, _):
        run_command(dep, "backfill", [
            str(BIN / "dagster"), "job", "backfill", "-w", "workspace.yaml", "-j", "ingest_job",
            "--from", DATES[0], "--to", DATES[-1], "--noprompt"], timeout=120)
        with dep.instance() as instance:
            deadline = time.monotonic() + 300
            while True:
                runs = instance.get_runs()
                if len(runs) == len(DATES) and all(r.is_finished for r in runs):
                    break
                if daemon.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"runs {[(r.tags.get('dagster/partition'), r.status) for r in runs]} "
                                f"(daemon exit {daemon.poll()}):\n{_tail(dep.logs / 'daemon.log')}")
                time.sleep(1)
            assert sorted(r.tags["dagster/partition"] for r in runs) == DATES
            for run in runs:
                assert run.status == dg.DagsterRunStatus.SUCCESS, (run.run_id, run.status)
                assert "execution" not in run.run_config  # the celery executor came from TIPOFF_EXECUTOR
                queued = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_ENQUEUED)
                assert queued, f"run {run.run_id} did not go through the run queue"
                steps = assert_steps_ran_on_worker(instance, run.run_id, worker, node,
                                                   {daemon.pid, os.getpid()})
                assert steps == set(INGESTED)
            assert_partitions_stored(dep, instance, DATES)


def test_worker_run_and_default_configs_agree(monkeypatch):
    """deploy/celery/worker.yaml, run_config.yaml and the TIPOFF_EXECUTOR=celery default point at the
    same broker, backend and settings; every job takes the run config and defaults to in process."""
    from dagster_celery.cli import get_config_value_from_yaml

    from pipeline_assets import executors
    from pipeline_assets.definitions import defs

    worker = get_config_value_from_yaml(str(REPO / "deploy" / "celery" / "worker.yaml"))
    run_config = yaml.safe_load((REPO / "deploy" / "celery" / "run_config.yaml").read_text())
    assert run_config["execution"]["config"]["celery"] == worker == executors.CELERY_DEFAULTS
    monkeypatch.setenv("TIPOFF_CELERY_QUEUE", "tipoff_q")
    assert executors.default_config("celery")["celery"]["config_source"] == {
        **worker["config_source"], "task_default_queue": "tipoff_q"}

    monkeypatch.setenv("TIPOFF_CELERY_BROKER_URL", BROKER)
    for job in defs.resolve_all_job_defs():
        assert job.executor_def is executors.tipoff_executor, job.name
        assert dg.validate_run_config(job, run_config)["execution"]["tipoff"]["celery"]["broker"] == BROKER
        assert set(dg.validate_run_config(job, {})["execution"]["tipoff"]) == {"in_process"}


def test_unknown_executor_is_refused_naming_the_choices(monkeypatch):
    from pipeline_assets import executors

    monkeypatch.setenv("TIPOFF_EXECUTOR", "dask")
    with pytest.raises(dg.DagsterInvalidDefinitionError, match="TIPOFF_EXECUTOR='dask': set it to one of in_process, celery"):
        executors.default_mode()
    monkeypatch.setenv("TIPOFF_EXECUTOR", "celery")
    assert executors.default_mode() == "celery"
