"""Concurrent writers in real processes lose nothing and readers never see a torn file."""
from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

import pandas as pd

from resources import storage
from resources.predictions_log import PredictionsLog
from tipoff_core import catalog

GOLD = catalog.feature("gold", "game")
CTX = mp.get_context("fork")


def _season_writer(root: str, worker: int, dates: int, rows: int) -> None:
    for d in range(dates):
        day = f"2026-01-{1 + worker * dates + d:02d}"
        df = pd.DataFrame({"game_date": [day] * rows,
                           "game_id": [f"{day}-{i}" for i in range(rows)],
                           "x": [float(worker)] * rows})
        storage.write_season_rows(GOLD, "2025-26", [day], df, Path(root))


def _season_reader(root: str, stop_at: float, out) -> None:
    path = storage.season_path(GOLD, "2025-26", Path(root))
    seen, bad = 0, 0
    while time.time() < stop_at:
        if path.exists():
            try:
                storage.read_parquet(path)
                seen += 1
            except Exception:  # noqa: BLE001 - any failure is a torn read
                bad += 1
    out.put((seen, bad))


def test_writers_of_one_season_file_lose_no_rows_and_readers_never_tear(tmp_path):
    workers, dates, rows = 4, 5, 30
    q = CTX.Queue()
    reader = CTX.Process(target=_season_reader, args=(str(tmp_path), time.time() + 6, q))
    reader.start()
    procs = [CTX.Process(target=_season_writer, args=(str(tmp_path), w, dates, rows))
             for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    reader.join(30)
    seen, bad = q.get(timeout=5)
    got = storage.read_season_tables(GOLD, tmp_path)
    assert len(got) == workers * dates * rows and not got.duplicated(["game_id"]).any()
    assert bad == 0 and seen > 0


def _same_run(base: str, token: str, n: int, out) -> None:
    results = []
    for _ in range(n):
        try:
            f = storage.write_run_folder(Path(base), token, {"t.bin": b"same bytes"})
            results.append("created" if f.created else "noop")
        except Exception as exc:  # noqa: BLE001
            results.append(f"{type(exc).__name__}: {exc}")
    out.put(results)


def test_identical_concurrent_writes_of_one_run_are_a_no_op(tmp_path):
    q = CTX.Queue()
    procs = [CTX.Process(target=_same_run, args=(str(tmp_path / "odds" / "d"),
                                                 "20260101T150000Z", 50, q)) for _ in range(6)]
    for p in procs:
        p.start()
    results = [r for _ in procs for r in q.get(timeout=60)]
    for p in procs:
        p.join(30)
    assert results.count("created") == 1, results[:5]
    assert set(results) <= {"created", "noop"}, {r for r in results if r not in ("created", "noop")}
    assert storage.list_runs(tmp_path / "odds" / "d") == ["20260101T150000Z"]
    assert not [p for p in (tmp_path / "odds" / "d").iterdir() if p.name.endswith(".tmp")]


def _many_runs(base: str, tokens: list[str]) -> None:
    for t in tokens:
        storage.write_run_folder(Path(base), t, {"t.bin": t.encode()})


def test_latest_never_moves_backwards_under_concurrent_runs(tmp_path):
    base = tmp_path / "k" / "d"
    tokens = [f"20260101T{h:02d}{m:02d}00Z" for h in range(10, 20) for m in range(0, 60, 6)]
    chunks = [tokens[i::4][::-1] for i in range(4)]  # each writer goes newest -> oldest
    procs = [CTX.Process(target=_many_runs, args=(str(base), c)) for c in chunks]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert (base / "LATEST").read_text() == max(tokens)
    assert storage.list_runs(base) == sorted(tokens)


def _log_writer(url: str, worker: int, n: int) -> None:
    log = PredictionsLog(url)
    for i in range(n):
        log.append(pd.DataFrame([{
            "game_id": f"g{worker}-{i}", "run_as_of_ts": "2026-01-14T16:00:00+00:00",
            "model_version": "v1", "game_date": "2026-01-14", "mode": "live",
            "source": "simulated", "home_team_id": 1, "away_team_id": 2, "p_home_win": 0.5,
            "p_market_home": None, "edge_home": None, "margin_mean": 0.0, "total_mean": 220.0,
            "recommendation": "none", "stake": 0.0, "p_elo": 0.5, "logged_at": "x"}]))


def test_concurrent_prediction_log_writers_lose_no_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    PredictionsLog(url)  # create the table once
    procs = [CTX.Process(target=_log_writer, args=(url, w, 25)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert len(PredictionsLog(url).read("2026-01-14")) == 100


def _label_writer(root: str, games: list[str], as_of: str, out) -> None:
    from tests.test_labels import _results
    try:
        storage.write_label_table(catalog.label("results"), "2026-01-14",
                                  _results({g: (100, 90) for g in games}), b"{}",
                                  pd.Timestamp(as_of), Path(root))
        out.put("ok")
    except storage.LabelShrinkError:
        out.put("shrink")


def test_concurrent_label_writers_never_lose_a_final(tmp_path):
    q = CTX.Queue()
    runs = [(["g1", "g2"], "2026-01-15T04:00:00Z"), (["g1", "g2", "g3"], "2026-01-15T05:00:00Z"),
            (["g1", "g2", "g3", "g4"], "2026-01-15T06:00:00Z")] * 3
    procs = [CTX.Process(target=_label_writer, args=(str(tmp_path), g, a, q)) for g, a in runs]
    for p in procs:
        p.start()
    outcomes = [q.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    stored = storage.read_partition(catalog.label("results"), "2026-01-14", root=tmp_path)
    # whatever the order, the largest set of finals is stored and none was lost on the way
    assert set(stored["game_id"]) == {"g1", "g2", "g3", "g4"} and "ok" in outcomes
