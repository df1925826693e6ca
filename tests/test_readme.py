"""Every bash command in README.md is exercised by a test: run here, or by the named test of
another file, or (slow) run here under `-m slow`.  A README command without a row in COVERED
fails `test_every_readme_command_is_covered`: add the row (and the test) with the command."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HERE = "tests/test_readme.py"

# (pattern matching the start of a README command, the test exercising it, why it is not run
# literally when it is not)
COVERED: list[tuple[str, str, str]] = [
    (r"bash scripts/demo\.sh", f"{HERE}::test_demo_ends_with_a_readable_slate",
     "slow; runs the `tipoff demo` that demo.sh execs after scripts/install.sh (CI installs "
     "through scripts/test.sh)"),
    (r"bash scripts/test\.sh", ".ci/run", "CI itself runs it (and `-m slow`)"),
    (r"DAY=", f"{HERE}::test_look_at_what_it_made", ""),
    (r"\.venv/bin/tipoff show schedule_snapshot", f"{HERE}::test_look_at_what_it_made", ""),
    (r"\.venv/bin/tipoff show odds_snapshot", f"{HERE}::test_look_at_what_it_made", ""),
    (r"\.venv/bin/tipoff show game_scores", f"{HERE}::test_demo_ends_with_a_readable_slate",
     "slow: needs a scored slate"),
    (r"\.venv/bin/dagster dev", f"{HERE}::test_dagster_dev_serves_the_ui", "slow; on a free port"),
    (r"\.venv/bin/dg list defs", f"{HERE}::test_dg_commands", ""),
    (r"\.venv/bin/dg check defs", f"{HERE}::test_dg_commands", ""),
    (r"\.venv/bin/dg launch", f"{HERE}::test_dg_launch_runs_the_job", "slow: needs trained models"),
    (r"\.venv/bin/dg dev", f"{HERE}::test_dagster_dev_serves_the_ui", "slow; on a free port"),
    (r"TIPOFF_SOURCE=archive .*tipoff demo --date",
     f"{HERE}::test_archive_demo_scores_a_past_date", "slow; needs ../shared/data"),
    (r"ODDS_API_KEY=\.\.\. .*tipoff odds backfill",
     "tests/test_odds_history.py::test_backfill_stops_at_the_budget_and_resumes_without_writing_or_paying_twice",
     "no key here: the CLI runs against recorded responses"),
    (r"\.venv/bin/tipoff models (list|promote|rollback)",
     "tests/test_end_to_end.py::test_gate_failure_leaves_production_and_rollback_restores", ""),
    (r"\.venv/bin/tipoff models sync-mlflow",
     "tests/test_end_to_end.py::test_training_survives_mlflow_down_and_sync_mlflow_repairs", ""),
    (r"\.venv/bin/mlflow ui --backend-store-uri",
     "tests/test_model_mirror.py::test_mlflow_ui_on_the_local_store_shows_the_production_alias",
     "slow; on a free port"),
    (r"\.venv/bin/tipoff backtest --data-dir \.\./shared/data",
     "tests/test_backtest.py::test_real_data_one_season", "slow: one real season, not three"),
    (r"dagster-celery worker start",
     "tests/test_celery.py::test_partition_range_materializes_on_the_celery_worker", ""),
    (r"TIPOFF_EXECUTOR=celery dagster-daemon run",
     "tests/test_celery.py::test_daemon_backfill_runs_on_the_celery_workers", ""),
    (r"\.venv/bin/tipoff serve", "tests/test_serve.py::test_serve_subcommand_defaults",
     "the app is served in process (TestClient), not on a port"),
    (r"export TIPOFF_PREDICTIONS_URL=postgresql",
     "tests/test_serve.py::test_two_api_processes_answer_from_the_postgres_log_and_share_redis",
     "the test's own PostgreSQL database, not `tipoff`"),
    (r"curl -s localhost:8000/healthz", "tests/test_serve.py::test_healthz_reports_models_data_and_cache", ""),
    (r"curl -s localhost:8000/v1/slates/", "tests/test_serve.py::test_slate_has_the_stored_numbers_and_is_cached", ""),
    (r"curl -s 'localhost:8000/v1/predict\?home=BOS&away=LAL&date=[0-9-]+'",
     "tests/test_serve.py::test_predict_a_scheduled_game_matches_the_slate_and_is_cached", ""),
    (r"curl -s 'localhost:8000/v1/predict\?home=BOS&away=LAL&date=[0-9-]+&spread",
     "tests/test_serve.py::test_predict_any_matchup_with_prices_gives_edge_and_stake", ""),
    (r"curl -s localhost:8000/v1/games/", "tests/test_serve.py::test_games_have_prediction_result_and_in_game_score", ""),
    (r"curl -s -H 'X-API-Key", "tests/test_serve.py::test_api_keys_guard_everything_but_healthz", ""),
]


def readme_commands() -> list[str]:
    """Each command line of README.md's ```bash blocks (comments dropped)."""
    text = (REPO / "README.md").read_text()
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            cmd = re.sub(r"\s+#.*$", "", line).strip()
            if cmd and not cmd.startswith("#"):
                out.append(cmd)
    return out


def _matches(cmd: str) -> list[tuple[str, str, str]]:
    return [row for row in COVERED if re.match(row[0], cmd)]


def test_every_readme_command_is_covered():
    cmds = readme_commands()
    assert len(cmds) >= 20
    problems = [f"{c!r}: {len(_matches(c))} rows" for c in cmds if len(_matches(c)) != 1]
    assert not problems, "README commands without exactly one COVERED row: " + "; ".join(problems)
    unused = [p for p, _, _ in COVERED if not any(re.match(p, c) for c in cmds)]
    assert not unused, f"COVERED rows matching no README command (remove them): {unused}"


def test_every_named_test_exists():
    for _, where, _ in COVERED:
        if "::" not in where:
            assert (REPO / where).exists(), where
            continue
        path, name = where.split("::")
        assert re.search(rf"^def {name}\(", (REPO / path).read_text(), re.M), where


# ----------------------------------------------------------------------------- running them

def _env(root: Path, **extra) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TIPOFF_DATA_DIR": str(root),
           "DAGSTER_HOME": str(root / "dagster_home"), "TIPOFF_SOURCE": "simulated",
           "MLFLOW_TRACKING_URI": f"file://{root / 'mlruns'}", "MLFLOW_ALLOW_FILE_STORE": "true",
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("TIPOFF_PREDICTIONS_URL", None)
    env.update(extra)
    return env


def _bash(cmd: str, env: dict, timeout: float = 900) -> subprocess.CompletedProcess:
    """A README line as a user types it, with `.venv/bin/` meaning this interpreter's bin."""
    line = cmd.replace(".venv/bin/", f"{BIN}/")
    return subprocess.run(["bash", "-c", f'DAY=$(TZ=America/New_York date +%F); {line}'],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def _readme(pattern: str) -> str:
    [cmd] = [c for c in readme_commands() if re.match(pattern, c)]
    return cmd


def test_look_at_what_it_made(tmp_path):
    """`tipoff show` of today's schedule and odds after the snapshots of today are stored."""
    env = _env(tmp_path)
    day = subprocess.run(["bash", "-c", _readme(r"DAY=") + "; echo $DAY"], capture_output=True,
                         text=True, check=True).stdout.strip()
    # today's snapshots (the first phase of the live slate), through the CLI's job runner
    code = ("from pipeline_assets.cli import run_job; "
            f"run_job('ingest_job', '{day}', log_level='ERROR')")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True,
                   timeout=600, cwd=REPO)
    for pattern in (r"\.venv/bin/tipoff show schedule_snapshot", r"\.venv/bin/tipoff show odds_snapshot"):
        out = _bash(_readme(pattern), env)
        assert out.returncode == 0, out.stderr
        header = out.stdout.splitlines()[0]
        assert header.startswith("game_id,"), header


def test_dg_commands(tmp_path):
    env = _env(tmp_path)
    out = _bash(_readme(r"\.venv/bin/dg list defs") + " --json", env)
    assert out.returncode == 0, out.stderr[-2000:]
    import json
    listed = json.loads(out.stdout)
    assets = {a["asset_key"]: a for a in listed["assets"]}
    assert {"game_scores", "win_model", "model_performance"} <= set(assets)
    assert assets["game_scores"]["owners"] and any(t["key"] == "tipoff/layer"
                                                   for t in assets["game_scores"]["tags"])
    assert any(c["key"] == "game_scores:probabilities_in_unit_interval"
               for c in listed["asset_checks"])
    out = _bash(_readme(r"\.venv/bin/dg check defs"), env)
    assert out.returncode == 0 and "All definitions loaded successfully" in out.stdout, out.stderr


# ----------------------------------------------------------------------------- slow

@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`tipoff demo` (what scripts/demo.sh runs after installing) on a short history."""
    root = tmp_path_factory.mktemp("readme_demo")
    env = _env(root)
    out = subprocess.run([str(BIN / "tipoff"), "demo", "--history-days", "120"], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=1800)
    return root, env, out


@pytest.mark.slow
def test_demo_ends_with_a_readable_slate(demo):
    root, env, out = demo
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    # quiet: the phases, the slate and the summary, no DEBUG events
    assert [ln[:len("[tipoff]")] for ln in lines if "/3 " in ln] == ["[tipoff]"] * 3
    assert " DEBUG " not in out.stderr and len(out.stderr.splitlines()) < 200
    i = next(k for k, ln in enumerate(lines) if ln.startswith("[tipoff] slate of "))
    header = lines[i + 1].split()
    assert header[:3] == ["game", "tip", "(NY)"], header
    games = lines[i + 2:]
    games = games[:next(k for k, ln in enumerate(games) if ln.startswith("[tipoff]"))]
    assert games and all(re.match(r"\s*[A-Z]{3} at [A-Z]{3}\s+\d\d:\d\d ", g) for g in games)
    assert lines[-1].startswith("[tipoff] done in ")
    # the last slate shown has the market (before the books open today, the demo adds the last
    # game day as of before its tip): model and market probability side by side
    last = max(k for k, ln in enumerate(lines) if ln.startswith("[tipoff] slate of "))
    rows = [ln.split() for ln in lines[last + 2:] if re.match(r"\s*[A-Z]{3} at ", ln)]
    assert rows and any(r[5] != "NaN" for r in rows), lines[last:]
    day = re.search(r"slate of (\d{4}-\d\d-\d\d)", lines[i]).group(1)
    shown = _bash(_readme(r"\.venv/bin/tipoff show game_scores").replace("$DAY", day), env)
    assert shown.returncode == 0 and shown.stdout.count("\n") == len(games) + 1


@pytest.mark.slow
def test_dg_launch_runs_the_job(demo):
    root, env, _ = demo
    out = _bash(_readme(r"\.venv/bin/dg launch"), env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "RUN_SUCCESS" in out.stderr + out.stdout


@pytest.mark.slow
def test_archive_demo_scores_a_past_date(shared_data_dir, tmp_path):
    cmd = _readme(r"TIPOFF_SOURCE=archive").replace("../shared/data", str(shared_data_dir))
    out = _bash(cmd, _env(tmp_path), timeout=1800)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "[tipoff] slate of 2022-01-15" in out.stdout
    assert re.search(r"^\s*[A-Z]{3} at [A-Z]{3}\s+\d\d:\d\d ", out.stdout, re.M)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("pattern", [r"\.venv/bin/dagster dev", r"\.venv/bin/dg dev"])
def test_dagster_dev_serves_the_ui(tmp_path, pattern):
    port = _free_port()
    cmd = _readme(pattern).replace(".venv/bin/", f"{BIN}/") + f" -p {port}"
    (tmp_path / "dagster_home").mkdir()   # Dagster wants DAGSTER_HOME to exist
    proc = subprocess.Popen(cmd.split(), cwd=REPO, env=_env(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            assert proc.poll() is None, f"{cmd} exited with {proc.returncode}"
            try:
                with urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as r:
                    assert r.status == 200
                    break
            except OSError:
                time.sleep(2)
        else:
            pytest.fail(f"{cmd} did not answer within 300 s")
    finally:
        os.killpg(proc.pid, 15)   # the webserver, daemon and code servers share its group
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass   # a slow shutdown on a loaded machine is not what this test is about
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)
    shutil.rmtree(tmp_path, ignore_errors=True)
