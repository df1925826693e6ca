"""Fast-forward a simulated season day by day through Tipoff's schedules and sensors.

Both scenarios start from the same history (the second half of the previous season plus the
current one up to 2026-01-22, with a first production model) and replay 2026-01-23 .. 2026-02-01 with
`sensors.replay`: every schedule ticks at its cron time (New York), `new_games_sensor` ticks at
02:00 and `drift_sensor` at 06:00 with the clock set to the tick, every requested run is executed
in process (ephemeral Dagster instance), a sensor's cursor is kept only after a successful tick.

* ``no_shock``: the plain simulated league.
* ``shock``: ``TIPOFF_SHOCK`` = a league realignment from 2026-01-23 (`SimulatedSource`
  "league_realignment"): the true ratings of the 20 teams farthest from the league mean are
  mirrored around it, so strong teams turn weak and weak teams strong; the market follows the new
  truth at once, the model's Elo/form features lag behind it.

With the shock the production window (all post-shock games) degrades to log loss ~0.78 against a
baseline of 0.60; the drift sensor fires on 2026-01-30 (50 games) and the drift retrain runs through
the gate, which keeps it out (trained before the shock, it is no better on the half post-shock
window); without it only the monthly retrain (2026-02-01) runs.

The two replays run in parallel subprocesses (one per core).  What the drift sensor saw in each is
written to ``fastforward_report.json`` in the test's temporary folder and printed (``pytest -s``).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import mlflow_sqlite_uri

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # ~2.5 min: run by .ci/run (`bash scripts/test.sh -m slow`)

HISTORY = "2025-01-15:2025-04-13,2025-10-21:2026-01-22"
# The 16:00 refresh is evaluated every day and its requests checked, but not executed: it runs the
# same job as the 11:00 slate and would add a third of the replay's time.
RECORD_ONLY = "live_afternoon_schedule"
START, DAYS = "2026-01-23", 10
# the shock starts with the replay, so every game the first production model scores is post-shock
SHOCK = {"date": START, "kind": "league_realignment"}
N_SIMS = 1000


def _env(data_dir: Path, shock: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIPOFF_", "DAGSTER_"))}
    env.update({"TIPOFF_DATA_DIR": str(data_dir), "TIPOFF_SOURCE": "simulated", "TIPOFF_SEED": "7",
                "TIPOFF_SHOCK": json.dumps(shock) if shock else "",
                "DAGSTER_HOME": str(data_dir / "dagster_home"), "PYTHONPATH": str(REPO),
                "MLFLOW_TRACKING_URI": mlflow_sqlite_uri(data_dir)})
    (data_dir / "dagster_home").mkdir(parents=True, exist_ok=True)
    (data_dir / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return env


def _replay(data_dir: Path, args: list[str], shock: dict | None = None) -> subprocess.Popen:
    out = data_dir / "replay.json"
    return subprocess.Popen(
        [sys.executable, "-m", "sensors.replay", *args, "--fast-train", "--n-sims", str(N_SIMS),
         "--output", str(out), "--quiet"],
        cwd=REPO, env=_env(data_dir, shock), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)


def _wait(proc: subprocess.Popen, what: str) -> None:
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, f"{what} failed:\n{output[-4000:]}"


@pytest.fixture(scope="module")
def replays(tmp_path_factory):
    t0 = time.perf_counter()
    base = tmp_path_factory.mktemp("season_base")
    _wait(_replay(base, ["--bootstrap", HISTORY]), "bootstrap")
    t_boot = time.perf_counter() - t0
    dirs = {}
    for name in ("no_shock", "shock"):
        d = tmp_path_factory.mktemp(name)
        shutil.copytree(base, d, dirs_exist_ok=True, ignore=shutil.ignore_patterns("replay.json"))
        dirs[name] = d
    procs = {name: _replay(d, ["--start", START, "--days", str(DAYS), "--record-only", RECORD_ONLY],
                           SHOCK if name == "shock" else None) for name, d in dirs.items()}
    for name, p in procs.items():
        _wait(p, f"replay {name}")
    out = {name: {"dir": d, "events": json.loads((d / "replay.json").read_text())["events"]}
           for name, d in dirs.items()}
    out["timing"] = {"bootstrap_s": round(t_boot, 1),
                     "replays_s": round(time.perf_counter() - t0 - t_boot, 1),
                     "total_s": round(time.perf_counter() - t0, 1)}
    report = _report(out)
    path = base.parent / "fastforward_report.json"
    path.write_text(json.dumps(report, indent=1, default=str))
    print("\n" + json.dumps(report, indent=1, default=str))
    out["report"] = report
    return out


def _runs(events, job=None, executed=True):
    return [r for e in events for r in e["runs"] if r.get("executed", True) == executed
            and (job is None or r["job"] == job)]


def _drift_ticks(events):
    return [e for e in events if e["name"] == "drift_sensor"]


def _report(out) -> dict:
    rep = {"timing": out["timing"]}
    for name in ("no_shock", "shock"):
        ev = out[name]["events"]
        ticks = []
        for e in _drift_ticks(ev):
            ev_ = e.get("evaluation") or {}
            pw, c = ev_.get("production_window") or {}, ev_.get("checks") or {}
            ticks.append({"tick": e["time"][:16], "evaluated_date": ev_.get("date"),
                          "version": ev_.get("production_version"),
                          "games": pw.get("n_evaluated"), "accuracy": pw.get("accuracy"),
                          "log_loss": pw.get("log_loss"),
                          "baseline_accuracy": (ev_.get("baseline") or {}).get("accuracy"),
                          "baseline_log_loss": (ev_.get("baseline") or {}).get("log_loss"),
                          "log_loss_z": c.get("log_loss_z"), "accuracy_z": c.get("accuracy_z"),
                          "max_psi": c.get("max_psi"), "max_psi_feature": c.get("max_psi_feature"),
                          "psi_rows": c.get("psi_rows"), "would_fire": ev_.get("would_fire"),
                          "fired": bool(e["runs"]), "skip": (e.get("skip") or "")[:160]})
        trains = [{"reason": r["tags"].get("tipoff/retrain_reason"),
                   "detail": r["tags"].get("tipoff/drift_detail"), "success": r.get("success")}
                  for r in _runs(ev, "train_job")]
        rep[name] = {"runs": dict(Counter(r["job"] for r in _runs(ev))),
                     "run_seconds": round(sum(r.get("seconds", 0) for r in _runs(ev)), 1),
                     "train_runs": trains, "drift_ticks": ticks,
                     "registry": _registry(out[name]["dir"]),
                     "shocked_teams": _shocked_teams(out[name]["dir"])}
    return rep


def _registry(data_dir: Path) -> list[dict]:
    from resources.registry import METADATA_FILE, ModelRegistry
    reg = ModelRegistry(str(data_dir / "models"))
    df = reg.list_versions("win_market_free")
    out = []
    for r in df.itertuples():
        meta = json.loads((reg.root / "win_market_free" / r.version / METADATA_FILE).read_text())
        out.append({"version": r.version, "state": r.state, "trigger": meta.get("trigger"),
                    "train_end": meta.get("train_end"), "gate_window": meta.get("gate_window"),
                    "log_loss": json.loads(r.metrics_json).get("log_loss"),
                    "promoted_at": r.promoted_at, "reason": r.reason[:160]})
    return out


def shock_teams() -> dict[str, int]:
    """The teams whose true rating the shock moves on its date."""
    from resources.sources.simulated import SimulatedSource, teams_frame
    day = pd.Timestamp(SHOCK["date"]).date()
    a = SimulatedSource(seed=7, shock=SHOCK).team_ratings("2025-26").loc[day]
    b = SimulatedSource(seed=7).team_ratings("2025-26").loc[day]
    moved = (a - b).abs() > 1e-9
    ids = dict(zip(teams_frame()["team"], teams_frame()["team_id"]))
    return {t: int(ids[t]) for t in moved[moved].index}


def _shocked_teams(data_dir: Path) -> dict:
    """Model vs outcome on the games of the teams the shock touches."""
    from pipeline_assets.monitoring.evaluation import final_results, scored_games, win_metrics
    days = pd.date_range(SHOCK["date"], periods=DAYS - 1).strftime("%Y-%m-%d")
    games = pd.concat([scored_games(d, data_dir, None, final_results(d, data_dir)) for d in days],
                      ignore_index=True)
    teams = shock_teams()
    ids = list(teams.values())
    sel = games[games["home_team_id"].isin(ids) | games["away_team_id"].isin(ids)]
    return {"teams": sorted(teams), "games": int(len(sel)),
            **{k: win_metrics(sel).get(k) for k in ("accuracy", "log_loss", "market_log_loss")},
            "all_games": {k: win_metrics(games).get(k) for k in ("n_evaluated", "accuracy", "log_loss",
                                                                 "market_log_loss")}}


# ----------------------------------------------------------------------------- the checks

@pytest.mark.parametrize("name", ["no_shock", "shock"])
def test_every_requested_run_succeeds_and_the_day_is_complete(replays, name):
    ev = replays[name]["events"]
    failed = [(r["job"], r["partition"], r.get("error", "")[:300]) for r in _runs(ev) if not r["success"]]
    assert not failed, failed
    assert not [e for e in ev if e.get("error")], "a sensor tick raised"
    days = pd.date_range(START, periods=DAYS).strftime("%Y-%m-%d").tolist()
    live = _runs(ev, "live_job")
    # the 11:00 New York slate ran every day, as of the tick; the 16:00 refresh was requested
    # every day, as of its tick (recorded, not executed: see RECORD_ONLY)
    assert Counter(r["partition"] for r in live) == {d: 1 for d in days}
    assert {r["tags"]["tipoff/run_as_of_ts"][11:16] for r in live} == {"16:00"}
    refresh = _runs(ev, "live_job", executed=False)
    assert Counter(r["partition"] for r in refresh) == {d: 1 for d in days}
    assert {r["tags"]["tipoff/run_as_of_ts"][11:16] for r in refresh} == {"21:00"}
    # labels arrive through new_games_sensor (one run per date with new finals), the overnight
    # schedule re-checks yesterday and validates it
    labels = _runs(ev, "labels_job")
    assert {r["partition"] for r in labels} == set(pd.date_range(
        pd.Timestamp(START) - pd.Timedelta(days=1), periods=DAYS).strftime("%Y-%m-%d"))
    assert all(r["run_key"].startswith(f"labels-{r['partition']}-") for r in labels)
    overnight = _runs(ev, "overnight_job")
    assert len(overnight) == DAYS
    # weekly re-evaluation on Monday 2026-01-26 of the 7 days before
    weekly = [r for r in _runs(ev, "performance_job")]
    assert sorted(r["partition"] for r in weekly) == pd.date_range(
        "2026-01-19", "2026-01-25").strftime("%Y-%m-%d").tolist()
    # every date was validated: model_performance written with a summary the drift sensor reads
    root = replays[name]["dir"]
    for d in days[:-1]:
        assert (root / "artifacts" / "model_performance" / d / "LATEST").exists(), d
    # the run registry has one entry per live run
    from pipeline_assets.monitoring.live_runs import read_live_runs
    reg = read_live_runs(root)
    assert len(reg) == len(live) and set(reg["status"]) == {"SUCCESS"}


@pytest.mark.parametrize("name", ["no_shock", "shock"])
def test_monthly_retrain_fires_once_on_the_first(replays, name):
    trains = _runs(replays[name]["events"], "train_job")
    monthly = [r for r in trains if r["tags"].get("tipoff/retrain_reason") == "monthly"]
    assert len(monthly) == 1 and monthly[0]["run_key"] == "retrain-monthly-2026-02"
    assert monthly[0]["success"]


def test_without_a_shock_nothing_but_the_monthly_retrain_fires(replays):
    trains = _runs(replays["no_shock"]["events"], "train_job")
    assert [r["tags"]["tipoff/retrain_reason"] for r in trains] == ["monthly"]
    ticks = _drift_ticks(replays["no_shock"]["events"])
    assert len(ticks) == DAYS and not any(t["runs"] for t in ticks)


def test_the_shock_is_live_in_the_shock_scenario_only(replays):
    from tests.helpers import read_table
    teams = shock_teams()  # two thirds of the league mirrored around the mean
    assert len(teams) == 20
    # the league is identical up to the day before the shock (shared bootstrap) and differs from
    # the shock date on: the market re-prices the mirrored teams at once
    for day, same in (("2026-01-22", True), ("2026-01-23", False)):
        a = read_table("game_results", day, root=replays["shock"]["dir"])
        b = read_table("game_results", day, root=replays["no_shock"]["dir"])
        assert a["game_id"].tolist() == b["game_id"].tolist()
        assert (a[["home_pts", "away_pts"]].to_numpy() == b[["home_pts", "away_pts"]].to_numpy()
                ).all() == same, day


def _drift_trains(name, replays):
    return [r for r in _runs(replays[name]["events"], "train_job")
            if r["tags"].get("tipoff/retrain_reason") == "drift"]


def test_drift_sensor_evaluated_the_production_model_in_both_scenarios(replays):
    """What the drift sensor saw is in the report (see docs/OPERATIONS.md, "What drift detection
    can see")."""
    for name in ("no_shock", "shock"):
        ticks = replays["report"][name]["drift_ticks"]
        evaluated = [t for t in ticks if t["games"]]
        assert evaluated, name
        assert max(t["games"] for t in evaluated) >= 50, name   # performance checks were active
        assert all(t["baseline_log_loss"] for t in evaluated)
    # without the shock: nothing would fire, not even with the bare thresholds
    from sensors.drift import DriftThresholds, evaluate_drift
    bare = DriftThresholds(min_z=0)
    ev = [e["evaluation"] for e in _drift_ticks(replays["no_shock"]["events"])
          if e.get("evaluation")]
    assert not any(evaluate_drift(x, bare).fire for x in ev)
    assert not _drift_trains("no_shock", replays)


def test_the_realignment_fires_the_drift_sensor_and_the_retrain_runs(replays):
    ticks = replays["report"]["shock"]["drift_ticks"]
    fired = [t for t in ticks if t["fired"]]
    assert len(fired) == 1, ticks            # then the cooldown (7 days) holds
    t = fired[0]
    assert t["games"] >= 50 and t["would_fire"]
    assert t["log_loss"] - t["baseline_log_loss"] > 0.02 and t["log_loss_z"] >= 1.645
    drift = _drift_trains("shock", replays)
    assert len(drift) == 1 and drift[0]["success"] and drift[0]["tags"].get("tipoff/drift_detail")
    assert drift[0]["run_key"].startswith("drift-")
    # the drift retrain went through the gate.  It was trained before the gate window (the newest
    # 14 days), so it has seen no post-shock game: it is no better than production on the window,
    # which is half post-shock, and the gate keeps it out (docs/OPERATIONS.md).
    reg = replays["report"]["shock"]["registry"]
    retrain = [v for v in reg if v["trigger"] == "drift"]
    assert len(retrain) == 1 and retrain[0]["reason"].startswith("gate failed"), reg
    assert retrain[0]["train_end"] < SHOCK["date"] <= retrain[0]["gate_window"][1]
    assert retrain[0]["state"] == "candidate"
    prod = [v for v in reg if v["state"] == "production"]
    assert len(prod) == 1 and prod[0]["trigger"] == "initial", reg
