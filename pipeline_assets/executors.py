"""The executor of every Tipoff job: in process by default, or on Celery workers when asked.

One executor with two modes chosen by run config, so the same jobs (and their schedules, sensors
and UI pages) run in one process or spread their steps over dagster-celery workers:

    execution: {config: {in_process: {}}}                  # the default
    execution: {config: {celery: {broker: ..., ...}}}      # deploy/celery/run_config.yaml

`TIPOFF_EXECUTOR=celery` where the code location loads (daemon, webserver) makes Celery the default
of every run (deploy/celery/worker.yaml's broker and settings; queue `TIPOFF_CELERY_QUEUE`, else
`dagster`). dagster-celery is the optional extra `tipoff[celery]`; without it the code location
still loads and only the celery mode is refused. docs/SCALING.md has the deployment.
"""
from __future__ import annotations

import os
import warnings

import dagster as dg

try:  # only the config schema is imported here; celery itself loads when a run uses it
    from dagster_celery import celery_executor
    from dagster_celery.executor import CELERY_CONFIG
except ImportError:  # pragma: no cover - exercised only without the extra
    celery_executor = None
    CELERY_CONFIG = dg.Permissive()

EXECUTOR_ENV, BROKER_ENV, QUEUE_ENV = "TIPOFF_EXECUTOR", "TIPOFF_CELERY_BROKER_URL", "TIPOFF_CELERY_QUEUE"
MODES = ("in_process", "celery")
INSTALL_CELERY = "pip install -e '.[celery]'"
# The broker URL is read when a run starts (it may hold a password); step results travel back over
# the broker, and a run's reply queue expires an hour after its last use (Celery's default: a day).
# The same block as deploy/celery/run_config.yaml and worker.yaml (tests/test_celery.py).
CELERY_DEFAULTS = {"broker": {"env": BROKER_ENV}, "backend": "rpc://",
                   "config_source": {"result_expires": 3600}}


def default_mode() -> str:
    mode = os.environ.get(EXECUTOR_ENV, "") or "in_process"
    if mode not in MODES:
        raise dg.DagsterInvalidDefinitionError(f"{EXECUTOR_ENV}={mode!r}: set it to one of {', '.join(MODES)}")
    if mode == "celery" and celery_executor is None:
        raise dg.DagsterInvalidDefinitionError(f"{EXECUTOR_ENV}=celery needs dagster-celery: {INSTALL_CELERY}")
    return mode


def default_config(mode: str) -> dict:
    if mode == "in_process":
        return {"in_process": {}}
    queue = os.environ.get(QUEUE_ENV, "") or "dagster"
    return {"celery": {**CELERY_DEFAULTS, "config_source": {
        **CELERY_DEFAULTS["config_source"], "task_default_queue": queue}}}


def _requirements(config):
    return dg.multiple_process_executor_requirements() if "celery" in config else []


@dg.executor(
    name="tipoff",
    config_schema=dg.Field(
        dg.Selector({"in_process": dg.in_process_executor.config_schema.config_type,
                     "celery": CELERY_CONFIG}),
        default_value=default_config(default_mode()),
        description="in_process (default) or celery (each step a task on a dagster-celery worker)"),
    requirements=_requirements,
)
def tipoff_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    (mode, config), = init_context.executor_config.items()
    if mode == "celery":
        if celery_executor is None:
            raise dg.DagsterInvariantViolationError(
                f"the celery executor needs dagster-celery: {INSTALL_CELERY}")
        # dagster-celery registers its task again for every step it submits: harmless, but loud.
        warnings.filterwarnings("ignore", message="Task name 'execute_plan' is already registered")
    chosen = celery_executor if mode == "celery" else dg.in_process_executor
    # The library's own executor, so its defaults and checks apply unchanged.
    return chosen.executor_creation_fn(dg.InitExecutorContext(
        job=init_context.job, executor_def=chosen, executor_config=config,
        instance=init_context.instance))
