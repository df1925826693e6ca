"""Labels are append-only: a later run never silently deletes or changes a stored final."""
from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resources import storage
from tipoff_core import catalog
from tipoff_core.schemas import empty_frame

RESULTS = catalog.label("results")
DAY = "2026-01-14"


def _results(games: dict[str, tuple[int, int]], snap: str = "2026-01-15T03:00:00Z") -> pd.DataFrame:
    rows = []
    for gid, (h, a) in sorted(games.items()):
        rows.append({"game_id": gid, "season": "2025-26", "game_date": DAY, "home_team_id": 1,
                     "away_team_id": 2, "home_pts": h, "away_pts": a, **{
                         f"{s}_{q}": pd.NA for s in ("home", "away")
                         for q in ("q1", "q2", "q3", "q4", "ot")},
                     "overtime_periods": 0, "final_ts": pd.Timestamp("2026-01-15T02:30:00Z"),
                     "snapshot_ts": pd.Timestamp(snap)})
    df = pd.DataFrame(rows) if rows else empty_frame("results")
    return df


def _write(root, games, as_of="2026-01-15T04:00:00Z", force=False, snap="2026-01-15T03:00:00Z"):
    return storage.write_label_table(RESULTS, DAY, _results(games, snap), b"{}",
                                     pd.Timestamp(as_of), root, force=force)


def _stored(root) -> dict[str, tuple[int, int]]:
    t = storage.read_partition(RESULTS, DAY, root=root)
    return {r.game_id: (r.home_pts, r.away_pts) for r in t.itertuples()}


def test_an_earlier_or_empty_run_cannot_drop_finals(tmp_path):
    _write(tmp_path, {"g1": (100, 90), "g2": (101, 99), "g3": (88, 95)})
    before = (tmp_path / "labels/results" / DAY / "table.parquet").read_bytes()
    for games in ({}, {"g1": (100, 90)}):
        with pytest.raises(storage.LabelShrinkError, match="fewer final"):
            _write(tmp_path, games, as_of="2026-01-15T01:00:00Z")
    assert (tmp_path / "labels/results" / DAY / "table.parquet").read_bytes() == before


def test_a_correction_is_a_new_version_and_both_stay_visible(tmp_path):
    _write(tmp_path, {"g1": (100, 90), "g2": (101, 99)})
    w = _write(tmp_path, {"g1": (100, 91), "g2": (101, 99)}, as_of="2026-01-16T04:00:00Z",
               snap="2026-01-16T03:00:00Z")
    assert (w.added, w.corrected, w.removed, w.changed) == (0, 1, 0, True)
    assert _stored(tmp_path) == {"g1": (100, 91), "g2": (101, 99)}
    versions = pd.read_parquet(tmp_path / "labels/results" / DAY / "versions.parquet")
    g1 = versions[versions["game_id"] == "g1"].sort_values(storage.VERSION_AS_OF)
    assert list(g1["away_pts"]) == [90, 91]
    # the unchanged final keeps its first snapshot_ts (when it became knowable)
    t = storage.read_partition(RESULTS, DAY, root=tmp_path).set_index("game_id")
    assert t.loc["g2", "snapshot_ts"] == pd.Timestamp("2026-01-15T03:00:00Z")


def test_forced_shrink_drops_from_the_view_but_keeps_the_versions(tmp_path):
    _write(tmp_path, {"g1": (100, 90), "g2": (101, 99)})
    w = _write(tmp_path, {"g1": (100, 90)}, force=True)
    assert w.removed == 1 and _stored(tmp_path) == {"g1": (100, 90)}
    versions = pd.read_parquet(tmp_path / "labels/results" / DAY / "versions.parquet")
    assert set(versions["game_id"]) == {"g1", "g2"}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["g1", "g2", "g3", "g4"]),
                                st.tuples(st.integers(80, 130), st.integers(80, 130)),
                                max_size=4), min_size=1, max_size=6))
def test_no_sequence_of_runs_loses_a_stored_final(tmp_path_factory, runs):
    root = tmp_path_factory.mktemp("labels")
    truth: dict[str, tuple[int, int]] = {}
    for i, games in enumerate(runs):
        as_of = f"2026-01-{15 + i:02d}T04:00:00Z"
        shrinks = bool(set(truth) - set(games))
        if shrinks:
            with pytest.raises(storage.LabelShrinkError):
                _write(root, games, as_of=as_of)
            continue
        _write(root, games, as_of=as_of)
        truth.update(games)
        assert _stored(root) == truth
        again = _write(root, games, as_of=as_of)   # an identical re-run changes nothing
        assert not again.changed
    if truth:
        versions = pd.read_parquet(root / "labels/results" / DAY / "versions.parquet")
        assert set(versions["game_id"]) == set(truth)


def test_an_earlier_label_run_through_the_asset_fails_and_keeps_the_finals(tmp_path):
    import dagster as dg

    from pipeline_assets.ingest import label_assets
    from resources.dagster_resources import SourceResource, StorageResource
    from tipoff_core.tags import RUN_AS_OF_TAG
    results = [a for a in label_assets if a.key.path[-1] == "game_results"]
    res = {"source": SourceResource(name="simulated", seed=7),
           "store": StorageResource(root=str(tmp_path))}

    def run(as_of, config=None):
        return dg.materialize(results, instance=dg.DagsterInstance.ephemeral(), resources=res,
                              partition_key=DAY, tags={RUN_AS_OF_TAG: as_of},
                              run_config=config, raise_on_error=False)

    assert run("2026-01-15T12:00:00Z").success
    stored = _stored(tmp_path)
    assert stored, "the simulated league plays on this date"
    early = run("2026-01-14T12:00:00Z")          # before any game of the date was final
    assert not early.success
    failure = early.get_step_failure_events()[0].step_failure_data.user_failure_data
    assert "fewer final" in failure.description and "force_shrink" in failure.description
    assert _stored(tmp_path) == stored
    forced = run("2026-01-14T12:00:00Z",
                 {"ops": {"game_results": {"config": {"force_shrink": True}}}})
    assert forced.success and _stored(tmp_path) == {}


def test_each_source_has_its_own_data_folder(monkeypatch):
    monkeypatch.delenv("TIPOFF_DATA_DIR", raising=False)
    roots = set()
    for name in ("simulated", "archive", "live"):
        monkeypatch.setenv("TIPOFF_SOURCE", name)
        roots.add(storage.data_root())
    assert len(roots) == 3 and all(r.name in ("simulated", "archive", "live") for r in roots)
