"""Shadow deployment: the shadow loader, shadow rows in the predictions log beside production (the
`game_scores` table untouched), the shadow-vs-production comparison, the gate's note, migration."""
from __future__ import annotations

import copy
import shutil
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from pipeline_assets import steps, training
from pipeline_assets.monitoring import report as mon
from pipeline_assets.monitoring.shadow import compare_shadow, predictions_of_record, shadow_note
from resources import storage
from resources.predictions_log import COLUMNS, PredictionsLog
from resources.registry import ModelIntegrityError, ModelRegistry
from tests.helpers import build_trained_store, partition_dir, run_folder, use_simulated_store
from tipoff_core import catalog

WIN = "win_market_free"
HISTORY = ("2025-10-21", "2025-12-10")
DAY, AS_OF = "2025-12-11", "2025-12-11T17:00:00+00:00"
TOKEN = "20251211T170000Z"
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
FLOORS = {"max_log_loss": 0.70}


# ----------------------------------------------------------------------------- the loader

def _reg(tmp_path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "models")


def _add(reg, tag, ll=None, prod_ll=None):
    v = reg.register(WIN, {"tag": tag}, ["x"], {"metrics": {"log_loss": ll or 0.6}})
    if ll is not None:
        reg.promote_if_passes(WIN, v, {"log_loss": ll}, {"log_loss": prod_ll} if prod_ll else None,
                              FLOORS)
    return v


def test_shadow_is_the_newest_candidate_that_passed_training(tmp_path):
    reg = _reg(tmp_path)
    assert reg.shadow_version(WIN) is None and reg.load_shadow(WIN) is None
    prod = _add(reg, "prod", ll=0.62)                   # first version: floors only -> production
    assert reg.production_version(WIN) == prod and reg.load_shadow(WIN) is None
    cand = _add(reg, "cand")                            # registered, never gated
    shadow = reg.load_shadow(WIN)
    assert shadow.version == cand and shadow.model == {"tag": "cand"}
    lost = _add(reg, "lost", ll=0.63, prod_ll=0.62)      # gated out by production only: shadow
    assert reg.list_versions(WIN).set_index("version").loc[lost, "state"] == "candidate"
    assert reg.shadow_version(WIN) == lost
    bad = _add(reg, "bad", ll=0.80, prod_ll=0.62)        # its floor failed: never scored
    assert reg.shadow_version(WIN) == lost != bad
    newer = _add(reg, "newer", ll=0.61, prod_ll=0.62)    # passed the gate: now production
    assert reg.production_version(WIN) == newer and reg.shadow_version(WIN) is None
    # the sha256 is checked like production's
    again = _add(reg, "again")
    path = reg.root / WIN / again / "model.pkl"
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ModelIntegrityError):
        reg.load_shadow(WIN)


def test_the_gate_reports_the_shadow_record_without_changing_its_decision(tmp_path):
    reg = _reg(tmp_path)
    prod, cand = _add(reg, "prod", ll=0.62), _add(reg, "cand")
    ids = [f"g{i}" for i in range(6)]
    labelled = pd.DataFrame({"game_id": ids, "game_date": "2026-01-10",
                             "label_home_win": [1, 0, 1, 1, 0, 1]})
    plog = PredictionsLog(f"sqlite:///{tmp_path / 'p.db'}")
    plog.append(_log_rows(ids, prod, [0.6] * 6, "production"))
    plog.append(_log_rows(ids, cand, [0.7, 0.3, 0.7, 0.7, 0.3, 0.7], "shadow"))
    notes = training.shadow_gate_notes(reg, WIN, plog, labelled, min_games=5)
    assert len(notes) == 1 and f"shadow record of {cand}" in notes[0] and "6 live games" in notes[0]
    assert "log loss 0.3567 vs" in notes[0] and "information only" in notes[0]
    assert "not enough" in training.shadow_gate_notes(reg, WIN, plog, labelled, min_games=10)[0]
    assert training.shadow_gate_notes(reg, WIN, None, labelled) == []
    # recorded in the registry's reason, the decision is the gate's own
    nxt = reg.register(WIN, {"tag": "next"}, ["x"], {})
    d = reg.promote_if_passes(WIN, nxt, {"log_loss": 0.65}, {"log_loss": 0.62}, FLOORS, notes=notes)
    assert not d.promote and d.reasons[-1] == notes[0]
    assert notes[0] in reg.list_versions(WIN).set_index("version").loc[nxt, "reason"]
    assert reg.shadow_version(WIN) == nxt  # the notes do not read as a floor failure


# ----------------------------------------------------------------------------- the log

def _log_rows(ids, version, p, role, run="2026-01-10T17:00:00+00:00", day="2026-01-10"):
    return pd.DataFrame({"game_id": ids, "run_as_of_ts": run, "model_version": version,
                         "game_date": day, "mode": "live", "source": "simulated",
                         "home_team_id": 1, "away_team_id": 2, "p_home_win": p,
                         "logged_at": run, "kind": "pregame", "role": role,
                         **{c: None for c in ("p_market_home", "edge_home", "margin_mean",
                                              "total_mean", "recommendation", "stake", "p_elo")}})


def test_an_old_log_gets_role_production_and_keeps_shadow_rows_apart(tmp_path):
    db = tmp_path / "old.db"
    eng = sa.create_engine(f"sqlite:///{db}")
    with eng.begin() as con:  # the log as it was before `kind` and `role`
        con.execute(sa.text(
            "CREATE TABLE predictions_log (game_id VARCHAR(32), run_as_of_ts VARCHAR(32), "
            "model_version VARCHAR(32), game_date VARCHAR(10) NOT NULL, mode VARCHAR(16) NOT NULL, "
            "source VARCHAR(16) NOT NULL, home_team_id BIGINT NOT NULL, away_team_id BIGINT NOT NULL,"
            " p_home_win FLOAT NOT NULL, p_market_home FLOAT, edge_home FLOAT, margin_mean FLOAT, "
            "total_mean FLOAT, recommendation VARCHAR(8), stake FLOAT, p_elo FLOAT, "
            "logged_at VARCHAR(32) NOT NULL, PRIMARY KEY (game_id, run_as_of_ts, model_version))"))
        con.execute(sa.text("INSERT INTO predictions_log (game_id, run_as_of_ts, model_version, "
                            "game_date, mode, source, home_team_id, away_team_id, p_home_win, "
                            "logged_at) VALUES ('g1', 'r', 'v1', '2026-01-10', 'live', 'simulated',"
                            " 1, 2, 0.6, 'r')"))
    eng.dispose()
    log = PredictionsLog(f"sqlite:///{db}")
    old = log.read()
    assert list(old.columns) == COLUMNS and old.iloc[0]["role"] == "production"
    assert old.iloc[0]["kind"] == "pregame"
    # a caller that does not pass role logs production rows; a shadow row of the same game and
    # run has its own version, so both are kept
    rows = _log_rows(["g1"], "v1", [0.61], "production", run="r").drop(columns=["role", "kind"])
    assert log.append(rows) == 1
    log.append(_log_rows(["g1"], "v2", [0.7], "shadow", run="r"))
    got = log.read().set_index("model_version")
    assert len(got) == 2 and got.loc["v1", "role"] == "production" and got.loc["v1", "p_home_win"] == 0.61
    assert got.loc["v2", "role"] == "shadow"
    assert len(log.read(role="shadow")) == 1 and len(log.read(dates=["2026-01-10"])) == 2
    PredictionsLog(f"sqlite:///{db}")  # re-opening migrates nothing twice


def test_the_halftime_model_reads_production_pregame_rows_only(tmp_path):
    from pipeline_assets.halftime import logged_pregame
    log = PredictionsLog(f"sqlite:///{tmp_path / 'p.db'}")
    log.append(_log_rows(["g1"], "v1", [0.6], "production"))
    log.append(_log_rows(["g1"], "v2", [0.9], "shadow"))  # same run, logged after production
    assert logged_pregame(log).to_dict() == {"g1": 0.6}


# ----------------------------------------------------------------------------- the comparison

def _hand_made_log() -> pd.DataFrame:
    early, late, after = ("2026-01-10T15:00:00+00:00", "2026-01-10T21:00:00+00:00",
                          "2026-01-11T02:00:00+00:00")
    parts = [
        _log_rows(["a", "b", "c"], "p1", [0.9, 0.9, 0.9], "production", run=early),  # superseded
        _log_rows(["a", "b", "c"], "p1", [0.6, 0.4, 0.7], "production", run=late),
        _log_rows(["a", "b"], "s1", [0.8, 0.2], "shadow", run=late),
        _log_rows(["a"], "s1", [0.01], "shadow", run=after),                         # after tip
        _log_rows(["d"], "s1", [0.5], "shadow", run=late),          # no production row
    ]
    return pd.concat(parts, ignore_index=True)


def test_compare_shadow_uses_the_latest_prediction_before_tip_on_the_same_games():
    log = _hand_made_log()
    tips = pd.DataFrame({"game_id": ["a", "b", "c", "d"],
                         "tip_ts": pd.Timestamp("2026-01-11T00:30:00Z")})
    results = pd.DataFrame({"game_id": ["a", "b", "c", "d"], "home_win": [1.0, 0.0, 1.0, 1.0]})
    rec = predictions_of_record(log, tips)
    assert len(rec) == 6 and rec.set_index(["game_id", "model_version"]).loc[("a", "s1"),
                                                                             "p_home_win"] == 0.8
    cmp = compare_shadow(log, results, tips)
    assert len(cmp) == 1
    r = cmp.iloc[0]
    assert r["shadow_version"] == "s1" and r["production_versions"] == "p1" and r["n"] == 2
    assert r["shadow_log_loss"] == pytest.approx(-np.log(0.8))
    assert r["production_log_loss"] == pytest.approx(-np.log(0.6))
    assert r["shadow_brier"] == pytest.approx(0.04) and r["production_brier"] == pytest.approx(0.16)
    assert r["log_loss_diff"] == pytest.approx(np.log(0.6) - np.log(0.8))
    # an as-of before the late run sees only what was logged by then: no shadow rows
    assert compare_shadow(log, results, tips, pd.Timestamp("2026-01-10T16:00Z")).empty
    # without the tip the post-tip row would be the one of record
    assert compare_shadow(log, results).iloc[0]["shadow_log_loss"] == pytest.approx(
        (-np.log(0.01) - np.log(0.8)) / 2)
    assert "shadow record of s1" in shadow_note(cmp, "s1", 2)


def test_model_performance_reports_the_shadow_comparison(tmp_path):
    root = tmp_path / "data"
    day = "2026-01-10"
    res = pd.DataFrame({"game_id": ["a", "b", "c", "d"], "home_pts": [110, 100, 105, 99],
                        "away_pts": [100, 110, 100, 98],
                        "final_ts": pd.Timestamp("2026-01-11T03:00Z")})
    storage.atomic_write_bytes(partition_dir("game_results", day, root) / "table.parquet",
                               storage.parquet_bytes(res))
    log = PredictionsLog(f"sqlite:///{root / 'predictions.db'}")
    log.append(_hand_made_log())
    rep = mon.performance_report(day, root, None, pd.Timestamp("2026-01-11T08:00Z"),
                                 predictions_log=log)
    s = rep.summary["shadow"]
    assert s["window"][1] == day and set(s["versions"]) == {"s1"}
    v = s["versions"]["s1"]
    # no scored slate to take the tips from: the latest logged prediction before the as-of
    assert v["n"] == 2 and v["production_log_loss"] == pytest.approx(-np.log(0.6))
    assert list(rep.table["window"]) == list(mon.WINDOWS)
    assert mon.performance_report(day, root, None, None).summary["shadow"]["versions"] == {}
    # the asset finds the log under the store and puts the comparison in its metadata
    from pipeline_assets.monitoring_assets import model_performance
    from resources.dagster_resources import RegistryResource, StorageResource
    res = dg.materialize([model_performance], partition_key=day,
                         resources={"store": StorageResource(root=str(root)),
                                    "registry": RegistryResource(root=str(root / "models"))},
                         tags={"tipoff/run_as_of_ts": "2026-01-11T08:00:00Z"},
                         instance=dg.DagsterInstance.ephemeral())
    md = res.asset_materializations_for_node("model_performance")[0].metadata
    assert "| s1 | p1 | 2 |" in md["shadow"].value and md["shadow_version"].value == "none"


# ----------------------------------------------------------------------------- a real slate

@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A short simulated history with production models (fast grid, lenient floor)."""
    root = tmp_path_factory.mktemp("shadow_base")
    build_trained_store(root, HISTORY)
    return root


def _copy(base, path: Path, with_shadow: bool) -> tuple[Path, str | None]:
    shutil.copytree(base, path)
    if not with_shadow:
        return path, None
    reg = ModelRegistry(path / "models")
    prod = reg.load_production(WIN)
    obj = copy.deepcopy(prod.model)
    obj["model"].model.coef = obj["model"].model.coef * 0.5  # a different, still sane model
    return path, reg.register(WIN, obj, prod.feature_cols, {"metrics": prod.metadata["metrics"]})


def test_a_slate_logs_production_and_shadow_rows_and_game_scores_do_not_change(base, tmp_path,
                                                                              monkeypatch):
    plain, _ = _copy(base, tmp_path / "plain", False)
    shadowed, shadow_v = _copy(base, tmp_path / "shadow", True)
    dagster_root = tmp_path / "dagster"
    shutil.copytree(shadowed, dagster_root)  # the same shadow version
    docs = {}
    for root in (plain, shadowed):
        use_simulated_store(monkeypatch, root)
        docs[root] = steps.run(date=DAY, as_of=AS_OF, root=root, n_sims=500,
                               registry=ModelRegistry(root / "models"),
                               predictions_log=PredictionsLog())
    prod_v = ModelRegistry(plain / "models").production_version(WIN)
    assert docs[plain]["storage"]["shadow_version"] is None
    assert docs[shadowed]["storage"]["shadow_version"] == shadow_v != prod_v
    n = docs[shadowed]["metadata"]["total_games"]
    assert n > 0 and docs[shadowed]["storage"]["shadow_predictions_logged"] == n

    use_simulated_store(monkeypatch, dagster_root)
    from pipeline_assets.definitions import defs
    r = defs.resolve_job_def("live_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), partition_key=DAY,
        tags={"tipoff/run_as_of_ts": AS_OF},
        run_config={**QUIET, "ops": {"game_scores": {"config": {"n_sims": 500}}}})
    assert r.success
    md = r.asset_materializations_for_node("game_scores")[0].metadata
    assert md["shadow_version"].value == shadow_v and md["shadow_logged_predictions"].value == n
    assert md["logged_predictions"].value == n

    # the stored slate is production's, byte for byte, with or without a shadow
    files = {root: {name: (run_folder("game_scores", DAY, TOKEN, root) / name).read_bytes()
                    for name in ("table.parquet", "summary.json")}
             for root in (plain, shadowed, dagster_root)}
    assert files[plain]["table.parquet"] == files[shadowed]["table.parquet"] \
        == files[dagster_root]["table.parquet"]
    assert files[plain]["summary.json"] == files[shadowed]["summary.json"]

    scores = pd.read_parquet(run_folder("game_scores", DAY, TOKEN, plain) / "table.parquet")
    for root in (plain, shadowed, dagster_root):
        log = PredictionsLog(f"sqlite:///{root / 'predictions.db'}").read(DAY)
        prod_rows = log[log["role"] == "production"].set_index("game_id").sort_index()
        assert len(prod_rows) == n and set(prod_rows["model_version"]) == {prod_v}
        assert np.allclose(prod_rows.loc[scores["game_id"], "p_home_win"], scores["p_home_win"])
        shadow_rows = log[log["role"] == "shadow"].set_index("game_id").sort_index()
        if root == plain:
            assert shadow_rows.empty
            continue
        assert len(shadow_rows) == n and set(shadow_rows["model_version"]) == {shadow_v}
        assert set(shadow_rows["run_as_of_ts"]) == set(prod_rows["run_as_of_ts"])
        assert (shadow_rows["p_home_win"] != prod_rows["p_home_win"]).any()
        # the shadow model is less confident (halved coefficients): closer to 0.5 than production
        assert (np.abs(shadow_rows["p_home_win"] - 0.5)
                <= np.abs(prod_rows["p_home_win"] - 0.5) + 1e-9).mean() > 0.8
    a = PredictionsLog(f"sqlite:///{shadowed / 'predictions.db'}").read(DAY)
    b = PredictionsLog(f"sqlite:///{dagster_root / 'predictions.db'}").read(DAY)
    cols = ["game_id", "model_version", "role", "p_home_win", "edge_home", "stake"]
    pd.testing.assert_frame_equal(a[cols].sort_values(["role", "game_id"], ignore_index=True),
                                  b[cols].sort_values(["role", "game_id"], ignore_index=True))
