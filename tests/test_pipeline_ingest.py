"""Snapshot and label assets through Dagster: layout, idempotency, checks, bad input, CLI."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
import subprocess
import sys

import dagster as dg
import pandas as pd

from pipeline_assets import cli
from tests.helpers import read_table
from pipeline_assets.ingest import label_assets, snapshot_assets
from tipoff_core.tags import RUN_AS_OF_TAG
from resources.dagster_resources import SourceResource, StorageResource
from resources.sources.base import SourceError
from resources.sources.simulated import SimulatedSource

DAY = "2026-01-14"
AS_OF = "2026-01-14T20:00:00Z"


def _resources(root, source=None):
    return {"source": source or SourceResource(name="simulated", seed=7),
            "store": StorageResource(root=str(root))}


def _materialize(root, tags, source=None, partition_key=DAY, assets=None):
    return dg.materialize([*(assets or snapshot_assets + label_assets)], instance=dg.DagsterInstance.ephemeral(),
                          resources=_resources(root, source), partition_key=partition_key, tags=tags,
                          raise_on_error=False)


def test_snapshot_run_layout_checks_and_idempotency(tmp_path):
    result = _materialize(tmp_path, {RUN_AS_OF_TAG: AS_OF})
    assert result.success
    folder = tmp_path / "live/snapshots/odds" / DAY / "run=20260114T200000Z"
    assert {p.name for p in folder.iterdir()} == {"raw.json", "table.parquet", "meta.json"}
    assert (tmp_path / "live/snapshots/odds" / DAY / "LATEST").read_text() == "20260114T200000Z"
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    odds = read_table("odds_snapshot", DAY, root=tmp_path)
    assert len(odds) and (odds["snapshot_ts"] <= pd.Timestamp(AS_OF)).all()
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert _materialize(tmp_path, {RUN_AS_OF_TAG: AS_OF}).success
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before  # same bytes, no new run folders, no duplicates


def test_later_as_of_adds_a_run_and_moves_latest(tmp_path):
    assert _materialize(tmp_path, {RUN_AS_OF_TAG: AS_OF}).success
    assert _materialize(tmp_path, {RUN_AS_OF_TAG: "2026-01-14T23:00:00Z"}).success
    base = tmp_path / "live/snapshots/odds" / DAY
    assert sorted(p.name for p in base.glob("run=*")) == ["run=20260114T200000Z", "run=20260114T230000Z"]
    early = read_table("odds_snapshot", DAY, run="20260114T200000Z", root=tmp_path)
    late = read_table("odds_snapshot", DAY, root=tmp_path)
    assert len(late) >= len(early)


def test_past_date_defaults_to_before_first_tip(tmp_path):
    assert _materialize(tmp_path, {}).success
    sched = SimulatedSource(7).fetch("schedule", dt.date.fromisoformat(DAY), pd.Timestamp("2026-06-01", tz="UTC"))
    expected = (sched.table["tip_ts"].min() - pd.Timedelta(minutes=5)).strftime("%Y%m%dT%H%M%SZ")
    assert (tmp_path / "live/snapshots/injuries" / DAY / "LATEST").read_text() == expected


class _BrokenSource:
    """Simulated league whose odds endpoint returns a malformed payload on one date."""

    name = "broken"

    def __init__(self, bad_day: str):
        self.inner, self.bad_day = SimulatedSource(7), bad_day

    def fetch(self, kind, game_date, as_of):
        if kind == "odds" and game_date.isoformat() == self.bad_day:
            raise SourceError("broken", "odds.v4", "expected a number, got 'abc'",
                              field="bookmakers[0].markets[0].outcomes[0].price", raw=b'{"price": "abc"}')
        return self.inner.fetch(kind, game_date, as_of)


class _BrokenResource(SourceResource):
    bad_day: str = DAY

    def get(self):
        return _BrokenSource(self.bad_day)


def test_bad_payload_fails_loudly_keeps_raw_and_writes_nothing(tmp_path):
    odds = [a for a in snapshot_assets if a.key.path[-1] == "odds_snapshot"]
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(odds, instance=instance,
                            resources=_resources(tmp_path, _BrokenResource(bad_day="2026-01-15")),
                            tags={"dagster/asset_partition_range_start": "2026-01-14",
                                  "dagster/asset_partition_range_end": "2026-01-16",
                                  RUN_AS_OF_TAG: "2026-01-16T20:00:00Z"},
                            raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.user_failure_data
    assert "broken" in failure.description and "odds.v4" in failure.description
    assert "bookmakers[0].markets[0].outcomes[0].price" in failure.description
    records = list((tmp_path / "quarantine/odds/2026-01-15").glob("*.json"))
    assert len(records) == 1
    kept = json.loads(records[0].read_text())
    assert Path(kept["payload"]).read_bytes() == b'{"price": "abc"}'
    assert "1 of 3 date(s) refused" in failure.description
    # nothing for the bad date; the good dates of the same run are stored and materialized
    assert sorted(p.name for p in (tmp_path / "live/snapshots/odds").iterdir()) == [
        "2026-01-14", "2026-01-16"]
    assert instance.get_materialized_partitions(dg.AssetKey("odds_snapshot")) == {
        "2026-01-14", "2026-01-16"}


def test_empty_slate_is_a_valid_empty_partition(tmp_path):
    assert _materialize(tmp_path, {RUN_AS_OF_TAG: "2026-07-04T20:00:00Z"}, partition_key="2026-07-04").success
    for asset in ("schedule_snapshot", "odds_snapshot", "game_results"):
        df = read_table(asset, "2026-07-04", root=tmp_path)
        assert df.empty and len(df.columns) > 3


def test_show_prints_csv_and_clear_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TIPOFF_DATA_DIR", str(tmp_path))
    assert _materialize(tmp_path, {RUN_AS_OF_TAG: AS_OF}).success
    assert cli.main(["show", "game_results", "--partition", DAY]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("game_id,season,game_date")
    assert len(out.splitlines()) == 1 + len(read_table("game_results", DAY, root=tmp_path))
    assert cli.main(["show", "no_such_asset", "--partition", DAY]) == 2
    assert "unknown asset" in capsys.readouterr().err
    assert cli.main(["show", "odds_snapshot", "--partition", "2026-02-01"]) == 2
    assert "no runs" in capsys.readouterr().err
    assert cli.main(["show", "odds_snapshot", "--partition", DAY, "--run", "20990101T000000Z"]) == 2


def test_definitions_validate():
    proc = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate", "-m",
                           "pipeline_assets.definitions"], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
