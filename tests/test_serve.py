"""`tipoff serve`: the four endpoints on a small simulated store, through FastAPI's TestClient, with
the real Redis (a unique key prefix per test run, removed afterwards) and with Redis unreachable."""
from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipeline_assets import halftime, scoring, serving, steps
from pipeline_assets.api import create_app
from pipeline_assets.cli import parser
from pipeline_assets.features.asof import market_consensus, one_book_consensus
from pipeline_assets.serving import Plan, Service, ab_arm, ab_split_from_env
from resources import storage
from resources.cache import TTL_SECONDS, Cache
from resources.predictions_log import PredictionsLog
from resources.registry import ModelRegistry
from sensors.cache import on_run_success
from tests.test_shadow import _copy as _copy_with_shadow
from tests.helpers import build_trained_store, partition_dir, read_table, use_simulated_store
from tipoff_core.domain import betting
from tipoff_core.schemas import restore_dtypes

HISTORY = ("2025-10-21", "2025-12-10")
PAST, DAY = "2025-12-10", "2025-12-11"
NOW = pd.Timestamp("2025-12-11T17:30:00Z")   # the API's clock: DAY is "today"


def _use(mp, root: Path) -> None:
    use_simulated_store(mp, root)
    mp.delenv("TIPOFF_API_KEYS", raising=False)


@pytest.fixture(scope="module")
def redis_ok():
    status = Cache(prefix=f"tipoff:probe-{uuid.uuid4().hex[:8]}:").status()
    if not status["reachable"]:
        pytest.skip(f"Redis not reachable at {status['url']}: {status['error']}")
    return status


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """History, production models, a scored slate of PAST (its games final) and of DAY, and an
    in-game (halftime) run of one DAY game."""
    root = tmp_path_factory.mktemp("serve")
    mp = pytest.MonkeyPatch()
    _use(mp, root)
    try:
        build_trained_store(root, HISTORY)
        steps.run(date=PAST, as_of=f"{PAST}T17:00:00+00:00", root=root, n_sims=2000)
        steps.run(date=DAY, as_of=f"{DAY}T17:00:00+00:00", root=root, n_sims=2000)
        slate = read_table("game_scores", DAY, root=root)
        g = slate.iloc[0]
        ht = pd.DataFrame([{
            "game_id": g["game_id"], "game_date": DAY, "home_team_id": int(g["home_team_id"]),
            "away_team_id": int(g["away_team_id"]), "status": "halftime", "period": 2,
            "home_score": 58, "away_score": 51, "margin": 7.0, "p_pregame": g["p_home_win"],
            "p_home_win": 0.81, "margin_mean": 9.5, "margin_sd": 9.0, "margin_p10": -2.0,
            "margin_p50": 9.5, "margin_p90": 21.0, "pregame_run": "20251211T170000Z",
            "model_version": "ht_test"}])
        ht["home_score"] = ht["home_score"].astype("Int64")
        ht["away_score"] = ht["away_score"].astype("Int64")
        halftime.write_run(DAY, pd.Timestamp("2025-12-12T01:45:00Z"), ht, {"games": 1}, root)
    finally:
        mp.undo()
    return root


@pytest.fixture
def env(store, monkeypatch):
    _use(monkeypatch, store)
    return store


@pytest.fixture
def cache(redis_ok):
    c = Cache(prefix=f"tipoff:test-{uuid.uuid4().hex[:12]}:")
    yield c
    c.clear()
    assert c.keys() == []


def _client(root: Path, cache: Cache, **kw) -> tuple[TestClient, Service]:
    service = Service(root=root, cache=cache, clock=lambda: NOW, n_sims=2000)
    return TestClient(create_app(service, api_keys=kw.get("api_keys", ()))), service


# ----------------------------------------------------------------------------- endpoints

def test_healthz_reports_models_data_and_cache(env, cache):
    client, service = _client(env, cache)
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert set(body["models"]) == {"win_market_free", "win_with_market", "minutes"}
    assert all(v and v.startswith("v") for v in body["models"].values())
    assert body["data"]["latest_results_date"] == PAST
    assert body["data"]["latest_slate_date"] == DAY
    assert body["data"]["latest_slate_age_hours"] == pytest.approx(0.5)
    assert body["cache"]["reachable"] is True and body["cache"]["prefix"] == cache.prefix
    assert client.get("/docs").status_code == 200
    assert "/v1/predict" in client.get("/openapi.json").json()["paths"]


def test_slate_has_the_stored_numbers_and_is_cached(env, cache):
    client, _ = _client(env, cache)
    stored = read_table("game_scores", DAY, root=env)
    first = client.get(f"/v1/slates/{DAY}")
    assert first.status_code == 200
    body = first.json()
    assert body["cached"] is False and body["date"] == DAY and body["run"] == "20251211T170000Z"
    assert body["run_as_of_ts"] == "2025-12-11T17:00:00+00:00" and body["pinned"] is False
    assert len(body["games"]) == len(stored) > 0
    for g, (_, s) in zip(body["games"], stored.iterrows()):
        assert g["game_id"] == s["game_id"]
        assert g["home"]["team_id"] == s["home_team_id"] and len(g["home"]["abbr"]) == 3
        assert g["p_home_win"] == pytest.approx(s["p_home_win"])
        assert g["margin"]["p50"] == pytest.approx(s["margin_p50"])
        assert g["total"]["p95"] == pytest.approx(s["total_p95"])
        assert g["market"]["p_home"] == pytest.approx(s["p_market_home"])
        assert g["edge_home"] == pytest.approx(s["edge_home"])
        assert g["recommendation"] == s["recommendation"]
        assert g["model_version"].startswith("v") and g["tip_ts"].startswith("2025-12-1")
    again = client.get(f"/v1/slates/{DAY}").json()
    assert again["cached"] is True and again["games"] == body["games"]
    [key] = cache.keys("slate:*")
    assert key.startswith(cache.prefix + f"slate:{DAY}:")
    assert 0 < cache.ttl("slate", DAY, body["run"]) <= TTL_SECONDS["slate"]


def test_slate_follows_pinned_run(env, cache, tmp_path):
    root = tmp_path / "data"
    import shutil
    shutil.copytree(env, root)
    steps.run(date=DAY, as_of=f"{DAY}T18:00:00+00:00", root=root, n_sims=500)
    client, _ = _client(root, cache)
    assert client.get(f"/v1/slates/{DAY}").json()["run"] == "20251211T180000Z"
    storage.pin_run(partition_dir("game_scores", DAY, root), "20251211T170000Z")
    body = client.get(f"/v1/slates/{DAY}").json()
    assert body["run"] == "20251211T170000Z" and body["pinned"] is True


def test_predict_a_scheduled_game_matches_the_slate_and_is_cached(env, cache):
    client, service = _client(env, cache)
    g = client.get(f"/v1/slates/{DAY}").json()["games"][0]
    q = {"home": g["home"]["abbr"], "away": g["away"]["abbr"].lower(), "date": DAY}
    r = client.get("/v1/predict", params=q)
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["cached"] is False and p["scheduled"] is True and p["game_id"] == g["game_id"]
    assert p["model_version"] == g["model_version"]
    assert set(p["model_versions"]) == {"win_market_free", "win_with_market", "minutes"}
    # same snapshot runs and labels as the stored 17:00 run, half an hour later
    assert p["p_home_win"] == pytest.approx(g["p_home_win"], abs=0.01)
    assert p["market"]["p_home"] == pytest.approx(g["market"]["p_home"])
    assert p["prices_source"] == "stored odds"
    m = p["margin"]
    assert m["p05"] <= m["p25"] <= m["p50"] <= m["p75"] <= m["p95"]
    assert p["total"]["p05"] < p["total"]["p50"] < p["total"]["p95"]
    assert p["as_of"] == NOW.isoformat() and p["home"]["state"]["games"] > 10
    again = client.get("/v1/predict", params=q).json()
    assert again["cached"] is True and again["p_home_win"] == p["p_home_win"]
    tag = service.data_tag(DAY)  # what the date's answers were computed from
    for kind, parts in (("predict", None), ("team", (DAY, g["home"]["abbr"], tag)),
                        ("odds", (DAY, tag)), ("model", None)):
        keys = cache.keys(f"{kind}:*")
        assert keys, kind
        if parts:
            assert 0 < cache.ttl(kind, *parts) <= TTL_SECONDS[kind]
        else:
            ttl = cache._client.ttl(keys[0])
            assert 0 < ttl <= TTL_SECONDS[kind]


def test_predict_any_matchup_with_prices_gives_edge_and_stake(env, cache):
    client, service = _client(env, cache)
    q = {"home": "BOS", "away": "LAL", "date": "2025-12-13", "spread": -3.5, "total": 221.5,
         "home_ml": -150, "away_ml": 130}
    r = client.get("/v1/predict", params=q)
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["scheduled"] is False and p["home"]["abbr"] == "BOS" and p["away"]["abbr"] == "LAL"
    ph, pa = betting.american_to_prob(np.array([-150.0, 130.0]))
    assert p["market"]["p_home"] == pytest.approx(ph / (ph + pa))
    assert p["market"]["home_spread"] == -3.5 and p["market"]["total"] == 221.5
    assert p["edge_home"] == pytest.approx(p["p_home_win"] - p["market"]["p_home"])
    assert p["recommendation"] in ("home", "away", "none")
    assert 0 <= p["stake"] <= 0.05 and p["prices_source"] == "request"
    assert 0 < p["p_home_win"] < 1 and math.isfinite(p["margin"]["mean"])
    # other prices are another prediction
    other = client.get("/v1/predict", params={**q, "home_ml": 200, "away_ml": -240}).json()
    assert other["cached"] is False and other["edge_home"] != p["edge_home"]
    assert other["p_home_win"] == pytest.approx(p["p_home_win"])


@pytest.mark.parametrize("prices", [{}, {"spread": -2.0, "home_ml": -120.0}])
def test_the_matchup_grid_equals_the_live_builders_on_one_target(env, cache, prices):
    _, service = _client(env, cache)
    p = {k: prices.get(k) for k in ("spread", "total", "home_ml", "away_ml")}
    g = read_table("game_scores", DAY, root=env).iloc[1]
    for h, a in ((int(g["home_team_id"]), int(g["away_team_id"])),
                 (service.team_id("BOS", "home"), service.team_id("LAL", "away"))):
        exact = service.exact_features(h, a, DAY, NOW, p)
        grid = service.grid_features(h, a, DAY, NOW, p)
        for e, x in zip(exact[:3], grid[:3]):
            pd.testing.assert_frame_equal(e, x)
        assert exact[4] == grid[4]


AMERICAN = st.one_of(st.none(), st.integers(-1000, -100).map(float),
                     st.integers(100, 1000).map(float))
PRICES = st.fixed_dictionaries({
    "spread": st.one_of(st.none(), st.integers(-40, 40).map(lambda x: x / 2)),
    "total": st.one_of(st.none(), st.integers(380, 500).map(lambda x: x / 2)),
    "home_ml": AMERICAN, "away_ml": AMERICAN})


@given(prices=PRICES)
def test_one_book_consensus_is_market_consensus_of_that_row(prices):
    cutoff = pd.Timestamp("2025-12-11T17:30:00Z")
    target = pd.DataFrame({"game_id": ["G1"], "cutoff_ts": [cutoff]})
    odds = restore_dtypes(pd.DataFrame([{
        "game_id": "G1", "bookmaker": "request", "home_ml": prices["home_ml"],
        "away_ml": prices["away_ml"], "home_spread": prices["spread"], "total": prices["total"],
        "snapshot_ts": cutoff}]), "odds")
    frame = market_consensus(target, odds).iloc[0].to_dict()
    fast = one_book_consensus(prices["home_ml"], prices["away_ml"], prices["spread"],
                              prices["total"])
    assert set(fast) == set(frame) - {"game_id"}
    for k, v in fast.items():
        assert v == pytest.approx(frame[k], nan_ok=True, rel=1e-12), k


def test_a_miss_scored_from_the_grid_equals_the_full_scoring_path(env, cache):
    """What `_predict` runs on a miss -- the grid's price-free parts (every pair scored by the
    models at once), `score_priced` and the caller's prices as their own latest odds row -- gives
    the numbers of `score_slate` on the pair's own rows and odds, for random pairs and prices."""
    service = Service(root=env, cache=cache, clock=lambda: NOW, n_sims=500)
    models, ids = service.models(), sorted(service.teams)

    @settings(max_examples=25, deadline=None)
    @given(hi=st.integers(0, len(ids) - 1), ai=st.integers(0, len(ids) - 1), prices=PRICES)
    def check(hi, ai, prices):
        assume(hi != ai)
        fast = service._score_from_grid(ids[hi], ids[ai], DAY, NOW, prices, models)[0]
        games, players, _, odds, _ = service.grid_features(ids[hi], ids[ai], DAY, NOW, prices)
        full = scoring.score_game_table(games, players, models, odds, NOW, service.policy, 500)
        pd.testing.assert_frame_equal(fast, full, check_exact=False, rtol=1e-9, atol=1e-12)
        assert fast["p_home_win"].notna().all() and fast["p_home_win_with_market"].notna().all()
    check()


def test_starting_the_app_warms_todays_grid_in_the_background(env, cache):
    service = Service(root=env, cache=cache, clock=lambda: NOW, n_sims=500)
    assert service.health()["warm"]["state"] == "not started"
    with TestClient(create_app(service, api_keys=())) as client:
        for _ in range(600):  # the warm-up runs in its own thread: /healthz answers meanwhile
            warm = client.get("/healthz").json()["warm"]
            if warm["state"] not in ("not started", "building"):
                break
            time.sleep(0.1)
        assert warm["state"] == "ready" and warm["date"] == DAY and warm["pid"] == os.getpid()
    grid = service._grids[DAY]
    assert tuple(service.models().versions().items()) in grid.price_free
    # a miss after the warm-up builds nothing: it reads the same grid
    service.predict("BOS", "LAL", DAY, spread=-1.5, home_ml=-120, away_ml=105)
    assert service._grids[DAY] is grid


def test_an_aged_grid_answers_while_it_is_rebuilt_in_the_background(env, cache):
    service = Service(root=env, cache=cache, clock=lambda: NOW, n_sims=500)
    service.warm()
    old = service._grids[DAY]
    old.built -= serving.GRID_MAX_AGE + 1
    assert service.grid(DAY, NOW) is old  # no request waits for the rebuild
    for _ in range(1200):
        if service._grids[DAY] is not old and not service._refreshing:
            break
        time.sleep(0.1)
    new = service._grids[DAY]
    assert new is not old and tuple(service.models().versions().items()) in new.price_free
    assert service.grid(DAY, NOW) is new and not service._refreshing
    pd.testing.assert_frame_equal(new.games, old.games)


def test_bad_input_is_4xx_with_a_message(env, cache):
    client, _ = _client(env, cache)
    cases = [
        ("/v1/predict", {"home": "XXX", "away": "LAL", "date": DAY}, 400, "unknown team"),
        ("/v1/predict", {"home": "BOS", "away": "BOS", "date": DAY}, 400, "same team"),
        ("/v1/predict", {"home": "BOS", "away": "LAL", "date": "2025-13-01"}, 400, "not a date"),
        ("/v1/predict", {"home": "BOS", "away": "LAL", "date": PAST}, 400, "in the past"),
        ("/v1/predict", {"home": "BOS", "away": "LAL", "date": DAY, "home_ml": 50}, 400,
         "American price"),
        ("/v1/predict", {"home": "BOS", "date": DAY}, 422, None),
        ("/v1/predict", {"home": "BOS", "away": "LAL", "date": DAY, "spread": "x"}, 422, None),
        (f"/v1/slates/12-11-2025", {}, 400, "not a date"),
        ("/v1/slates/2025-12-20", {}, 404, "no scored slate"),
        ("/v1/games/0099999999", {}, 404, "unknown game"),
        ("/v1/games/bad$id", {}, 400, "malformed"),
    ]
    for path, params, status, msg in cases:
        r = client.get(path, params=params)
        assert r.status_code == status, (path, params, r.text)
        assert r.json()["detail"]
        if msg:
            assert msg in r.json()["detail"], r.json()


def test_games_have_prediction_result_and_in_game_score(env, cache):
    client, _ = _client(env, cache)
    past = read_table("game_scores", PAST, root=env).iloc[0]
    res = read_table("game_results", PAST, root=env).set_index("game_id").loc[past["game_id"]]
    r = client.get(f"/v1/games/{past['game_id']}")
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["final"] is True and b["cached"] is False and b["game_date"] == PAST
    assert b["prediction"]["p_home_win"] == pytest.approx(past["p_home_win"])
    assert b["result"]["home_pts"] == res["home_pts"] and b["result"]["away_pts"] == res["away_pts"]
    assert b["result"]["winner"] == ("home" if res["home_pts"] > res["away_pts"] else "away")
    assert b["in_game"] is None
    assert client.get(f"/v1/games/{past['game_id']}").json()["cached"] is True
    today = read_table("game_scores", DAY, root=env)
    live = client.get(f"/v1/games/{today.iloc[0]['game_id']}").json()
    assert live["final"] is False and live["result"] is None
    assert live["in_game"]["period"] == 2 and live["in_game"]["home_score"] == 58
    assert live["in_game"]["p_home_win"] == pytest.approx(0.81)
    other = client.get(f"/v1/games/{today.iloc[1]['game_id']}").json()
    assert other["in_game"] is None and other["prediction"]["game_id"] == today.iloc[1]["game_id"]


def test_api_keys_guard_everything_but_healthz(env, cache):
    client, _ = _client(env, cache, api_keys=("k-one", "k-two"))
    assert client.get("/healthz").status_code == 200
    r = client.get(f"/v1/slates/{DAY}")
    assert r.status_code == 401 and "X-API-Key" in r.json()["detail"]
    assert client.get(f"/v1/slates/{DAY}", headers={"X-API-Key": "nope"}).status_code == 403
    assert client.get(f"/v1/slates/{DAY}", headers={"X-API-Key": "k-two"}).status_code == 200
    q = {"home": "BOS", "away": "LAL", "date": DAY}
    assert client.get("/v1/predict", params=q).status_code == 401
    assert client.get("/v1/predict", params=q, headers={"X-API-Key": "k-one"}).status_code == 200


def test_api_keys_come_from_the_environment(env, cache, monkeypatch):
    monkeypatch.setenv("TIPOFF_API_KEYS", " a1 , b2 ,")
    service = Service(root=env, cache=cache, clock=lambda: NOW, n_sims=500)
    client = TestClient(create_app(service))
    assert client.get(f"/v1/slates/{DAY}").status_code == 401
    assert client.get(f"/v1/slates/{DAY}", headers={"X-API-Key": "b2"}).status_code == 200


def test_without_redis_the_api_answers_from_the_stores(env):
    down = Cache("redis://127.0.0.1:1/0", prefix=f"tipoff:down-{uuid.uuid4().hex[:8]}:")
    client, _ = _client(env, down)
    h = client.get("/healthz")
    assert h.status_code == 200
    assert h.json()["cache"]["reachable"] is False and h.json()["cache"]["error"]
    for _ in range(2):
        s = client.get(f"/v1/slates/{DAY}")
        assert s.status_code == 200 and s.json()["cached"] is False and s.json()["games"]
    gid = s.json()["games"][0]["game_id"]
    assert client.get(f"/v1/games/{gid}").json()["cached"] is False
    p = client.get("/v1/predict", params={"home": "BOS", "away": "LAL", "date": DAY})
    assert p.status_code == 200 and p.json()["cached"] is False and 0 < p.json()["p_home_win"] < 1


# ----------------------------------------------------------------------------- invalidation

def test_live_run_invalidates_and_warms_promotion_invalidates(env, cache):
    client, service = _client(env, cache)
    client.get(f"/v1/slates/{DAY}")
    client.get("/v1/predict", params={"home": "BOS", "away": "LAL", "date": DAY})
    client.get("/v1/predict", params={"home": "BOS", "away": "LAL", "date": "2025-12-12"})
    assert cache.keys(f"predict:{DAY}:*") and cache.keys("model:*")
    out = on_run_success("live_job", DAY, service)
    assert out["deleted"] >= 3 and out["warmed"] is True
    assert not cache.keys(f"predict:{DAY}:*") and cache.keys("predict:2025-12-12:*")
    assert client.get(f"/v1/slates/{DAY}").json()["cached"] is True   # warmed
    on_run_success("train_job", None, service)
    assert not cache.keys("model:*") and not cache.keys("predict:*")
    assert on_run_success("labels_job", PAST, service) == {}


def test_cache_keys_are_prefixed_and_invalidation_is_by_date(cache):
    cache.set("slate", {"a": 1}, "2025-12-11", "t1")
    cache.set("slate", {"a": 2}, "2025-12-12", "t1")
    cache.set("model", {"v": float("nan")}, "production", "x")
    assert cache.get("model", "production", "x") == {"v": None}
    assert all(k.startswith("tipoff:") for k in cache.keys())
    assert cache.invalidate("2025-12-11") == 1
    assert cache.get("slate", "2025-12-12", "t1") == {"a": 2}
    with pytest.raises(ValueError):
        cache.key("nope")


def test_serve_subcommand_defaults():
    args = parser().parse_args(["serve"])
    assert (args.host, args.port, args.workers) == ("127.0.0.1", 8000, 1)
    assert parser().parse_args(["serve", "--port", "9001"]).port == 9001


# ----------------------------------------------------------------------------- several processes

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(env: dict) -> tuple[subprocess.Popen, str]:
    """`tipoff serve` in a child process on a free port; (process, base URL) once /healthz answers."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline_assets.cli", "serve", "--port",
                             str(port), "--log-level", "warning"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"tipoff serve exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("tipoff serve did not answer /healthz in 120 s")


def test_two_api_processes_answer_from_the_postgres_log_and_share_redis(
        env, cache, pg_database, tmp_path, monkeypatch):
    """Two `tipoff serve` processes over the predictions log in the real PostgreSQL and the real
    Redis, with NO file store of their own: both answer the slate and a game from the log, the
    same; a new live run logged is answered by both once the cache sensor has run."""
    root = tmp_path / "store"
    shutil.copytree(env, root)
    _use(monkeypatch, root)
    url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{pg_database}"
    log = PredictionsLog(url)
    day = "2025-12-12"
    steps.run(date=day, as_of=f"{day}T16:00:00+00:00", root=root, n_sims=2000,
              predictions_log=log)
    table = read_table("game_scores", day, root=root)
    empty = tmp_path / "api-root"  # the servers see no parquet, no models: the log is all
    empty.mkdir()
    child = dict(os.environ, TIPOFF_DATA_DIR=str(empty), TIPOFF_PREDICTIONS_URL=url,
                 TIPOFF_CACHE_PREFIX=cache.prefix, PYTHONPATH=str(Path(__file__).parents[1]))
    child.pop("TIPOFF_REDIS_URL", None)
    servers = [_serve(child) for _ in range(2)]
    try:
        (_, u1), (_, u2) = servers
        for u in (u1, u2):
            assert httpx.get(f"{u}/healthz").json()["data"]["predictions_from"] == "predictions log"
        a = httpx.get(f"{u1}/v1/slates/{day}").json()
        b = httpx.get(f"{u2}/v1/slates/{day}").json()
        assert (a.pop("cached"), b.pop("cached")) == (False, True)   # one Redis for both
        assert a == b and a["run"] == "20251212T160000Z" and len(a["games"]) == len(table)
        want = dict(zip(table["game_id"].astype(str), table["p_home_win"]))
        assert {g["game_id"]: g["p_home_win"] for g in a["games"]} == pytest.approx(want)
        assert cache.ttl("slate", day, a["run"]) <= TTL_SECONDS["slate"]
        gid = a["games"][-1]["game_id"]
        ga = httpx.get(f"{u1}/v1/games/{gid}").json()
        gb = httpx.get(f"{u2}/v1/games/{gid}").json()
        assert ga["prediction"] == gb["prediction"] == a["games"][-1]

        # a later live run lands in the log; the cache sensor invalidates and warms
        steps.run(date=day, as_of=f"{day}T18:00:00+00:00", root=root, n_sims=2000,
                  predictions_log=log)
        out = on_run_success("live_job", day, Service(root=root, cache=cache, log=log,
                                                      clock=lambda: NOW, n_sims=2000))
        assert out["warmed"] is True
        a2 = httpx.get(f"{u1}/v1/slates/{day}").json()
        b2 = httpx.get(f"{u2}/v1/slates/{day}").json()
        assert a2["run"] == b2["run"] == "20251212T180000Z" and a2["cached"] and b2["cached"]
        assert httpx.get(f"{u2}/v1/games/{gid}").json()["prediction"]["run"] == "20251212T180000Z"
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait(15)
    # reruns replace their rows: logging a run again does not double it
    rows = log.read(day, kind="pregame", role="production")
    assert len(rows) == 2 * len(table)
    log.append(scoring.prediction_log_rows(table, pd.Timestamp(f"{day}T16:00:00+00:00"),
                                           rows["model_version"].iloc[0], "simulated"))
    assert len(log.read(day, kind="pregame", role="production")) == 2 * len(table)


# ----------------------------------------------------------------------------- traffic split

def test_ab_split_is_deterministic_and_sends_its_share_to_the_candidate(monkeypatch):
    arms = [ab_arm(0.1, DAY, "BOS", "LAL", i) for i in range(4000)]
    assert 0.08 < arms.count("treatment") / len(arms) < 0.12
    assert arms == [ab_arm(0.1, DAY, "BOS", "LAL", i) for i in range(4000)]   # same request, same arm
    assert set(ab_arm(0.0, DAY, i) for i in range(100)) == {"control"}
    monkeypatch.setenv("TIPOFF_AB_SPLIT", "0.1")
    assert ab_split_from_env() == 0.1
    for bad in ("ten percent", "1.5", "-0.1"):
        monkeypatch.setenv("TIPOFF_AB_SPLIT", bad)
        with pytest.raises(ValueError, match="TIPOFF_AB_SPLIT"):
            ab_split_from_env()
    from pipeline_assets.cli import main
    assert main(["serve"]) == 2   # `tipoff serve` refuses it in one line before uvicorn starts


def test_ab_split_answers_with_the_candidate_and_logs_both_arms(env, cache, tmp_path, monkeypatch):
    root, candidate = _copy_with_shadow(env, tmp_path / "ab", True)
    _use(monkeypatch, root)
    prod = ModelRegistry(root / "models").production_version("win_market_free")
    ticks = itertools.count()  # each request its own instant: the log's key has run_as_of_ts
    service = Service(root=root, cache=cache, n_sims=500, ab_split=0.5,
                      clock=lambda: NOW + pd.Timedelta(milliseconds=next(ticks)))
    client = TestClient(create_app(service, api_keys=()))
    seen = {}
    for i in range(24):
        q = {"home": "BOS", "away": "LAL", "date": DAY, "home_ml": -120 - i, "away_ml": 105}
        r = client.get("/v1/predict", params=q).json()
        prices = {"spread": None, "total": None, "home_ml": float(q["home_ml"]), "away_ml": 105.0}
        arm = ab_arm(0.5, DAY, "BOS", "LAL", json.dumps(prices, sort_keys=True))
        assert r["variant"] == arm and r["cached"] is False
        assert (r["model_version"], r["role"]) == ((candidate, "shadow") if arm == "treatment"
                                                   else (prod, "production"))
        seen[arm] = seen.get(arm, 0) + 1
        again = client.get("/v1/predict", params=q).json()
        assert again["cached"] is True and again["variant"] == arm
    assert seen.get("treatment", 0) > 0 and seen.get("control", 0) > 0
    assert service.flush_log() == 24
    log = PredictionsLog(f"sqlite:///{root / 'predictions.db'}").read(DAY, kind="on_demand")
    assert len(log) == 24 and log["variant"].value_counts().to_dict() == seen
    assert set(log.loc[log["variant"] == "treatment", "model_version"]) == {candidate}
    assert set(log.loc[log["variant"] == "treatment", "role"]) == {"shadow"}
    assert set(log.loc[log["variant"] == "control", "model_version"]) == {prod}
    # slates and the models' own comparison never see on-demand rows
    pregame = PredictionsLog(f"sqlite:///{root / 'predictions.db'}").read(DAY, kind="pregame")
    assert len(pregame) and pregame["variant"].isna().all()


# ----------------------------------------------------------------------------- writers invalidate

def _seed(cache: Cache, day: str, other: str) -> None:
    for kind in ("odds", "predict", "slate", "team"):
        cache.set(kind, {"x": 1}, day, "old")
    cache.set("predict", {"x": 1}, other, "old")
    cache.set("model", {"x": 1}, "production", "old")


def test_odds_snapshot_runs_and_the_odds_backfill_invalidate_their_dates(env, cache, tmp_path,
                                                                        monkeypatch):
    """An odds_job run (what the odds cadence sensor launches; live_job runs the same asset) and
    `tipoff odds backfill` drop the odds and on-demand predictions of the dates they wrote,
    nothing else."""
    import dagster as dg

    from pipeline_assets import odds_history
    from pipeline_assets.definitions import defs
    from resources.sources.simulated import SimulatedSource
    from tests.helpers import QUIET
    root = tmp_path / "odds"
    shutil.copytree(env, root)
    _use(monkeypatch, root)
    monkeypatch.setenv("TIPOFF_CACHE_PREFIX", cache.prefix)
    _seed(cache, DAY, "2025-12-12")
    r = defs.resolve_job_def("odds_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), partition_key=DAY, run_config=QUIET,
        tags={"tipoff/run_as_of_ts": f"{DAY}T18:00:00+00:00"})
    assert r.success
    assert r.asset_materializations_for_node("odds_snapshot")[0].metadata[
        "cache_entries_invalidated"].value == 2
    assert not cache.keys(f"odds:{DAY}:*") and not cache.keys(f"predict:{DAY}:*")
    assert cache.keys(f"slate:{DAY}:*") and cache.keys(f"team:{DAY}:*")
    assert cache.keys("predict:2025-12-12:*") and cache.keys("model:*")

    _seed(cache, "2025-12-12", DAY)
    report = odds_history.backfill(SimulatedSource(seed=7), pd.Timestamp("2025-12-12").date(),
                                   pd.Timestamp("2025-12-12").date(),
                                   odds_history.SlotPlan.parse("close", None, None), root,
                                   now=pd.Timestamp("2026-06-01T00:00:00Z"), log=lambda _: None)
    assert report.written
    assert not cache.keys("predict:2025-12-12:*") and not cache.keys("odds:2025-12-12:*")
    assert cache.keys(f"predict:{DAY}:*") and cache.keys("slate:2025-12-12:*")


def test_promotion_and_rollback_from_the_cli_invalidate_models_and_predictions(
        env, cache, tmp_path, monkeypatch, capsys):
    from pipeline_assets.cli import main
    root, candidate = _copy_with_shadow(env, tmp_path / "promo", True)
    _use(monkeypatch, root)
    monkeypatch.setenv("TIPOFF_CACHE_PREFIX", cache.prefix)
    _seed(cache, DAY, "2025-12-12")
    assert main(["models", "promote", "win_market_free", candidate]) == 0
    assert not cache.keys("model:*") and not cache.keys("predict:*")
    assert cache.keys(f"slate:{DAY}:*") and cache.keys(f"odds:{DAY}:*")
    _seed(cache, DAY, "2025-12-12")
    assert main(["models", "rollback", "win_market_free"]) == 0
    assert not cache.keys("model:*") and not cache.keys("predict:*")


def test_keys_carry_versions_and_data_digests_so_stale_entries_are_never_served(
        env, cache, tmp_path, monkeypatch):
    """Without any invalidation (Redis kept its entries): a new odds snapshot, or a new
    production version, makes the same request a new key."""
    from pipeline_assets import collect, serving
    from resources.sources.simulated import SimulatedSource
    root, candidate = _copy_with_shadow(env, tmp_path / "digest", True)
    _use(monkeypatch, root)
    monkeypatch.setattr(serving, "RECHECK_SECONDS", 0.0)
    service = Service(root=root, cache=cache, clock=lambda: NOW, n_sims=500)
    q = dict(home="BOS", away="LAL", day=DAY)
    first = service.predict(**q)
    assert first["cached"] is False and service.predict(**q)["cached"] is True
    as_of = pd.Timestamp(f"{DAY}T17:10:00Z")
    collect.write_snapshot(collect.fetch(SimulatedSource(seed=7), "odds", DAY, as_of, root), DAY,
                           as_of, root)
    again = service.predict(**q)
    assert again["cached"] is False and len(cache.keys(f"predict:{DAY}:*")) == 2
    ModelRegistry(root / "models").promote("win_market_free", candidate, force=True,
                                           reason="test")
    promoted = service.predict(**q)
    assert promoted["cached"] is False and promoted["model_version"] == candidate


def test_identical_concurrent_misses_are_computed_once(env, cache):
    """Single-flight: six identical misses at once run `produce` once and get the same answer."""
    service = Service(root=env, cache=cache, clock=lambda: NOW, n_sims=500)
    calls, release = [], threading.Event()

    def produce():
        calls.append(1)
        release.wait(30)
        return {"p_home_win": 0.6}
    plan = Plan("predict", (DAY, "single-flight", uuid.uuid4().hex), produce)
    out = []
    threads = [threading.Thread(target=lambda: out.append(service.answer(plan))) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.3)  # let them pile up (a late one finds the value in Redis: still one call)
    release.set()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(out) == 6 and {o["p_home_win"] for o in out} == {0.6}
    assert service.answer(plan)["cached"] is True
