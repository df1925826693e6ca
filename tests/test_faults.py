"""Nothing wrong gets in: one corruption at a time of a real archive season, each refused with the
file, line and field named, the complete file quarantined, and the dates that do not depend on it
still answered; through the assets, nothing is written for a refused date."""
from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from pipeline_assets import collect
from pipeline_assets.ingest import snapshot_assets
from resources.dagster_resources import SourceResource, StorageResource
from resources.sources.archive import ArchiveSource
from resources.sources.base import SourceError
from tests.fault_corpus import CASES, LINES, mini_archive, row_date
from tipoff_core.tags import RUN_AS_OF_TAG

LATE = pd.Timestamp("2022-12-31T00:00:00Z")


@pytest.fixture(scope="module")
def mini(shared_data_dir, tmp_path_factory):
    return mini_archive(shared_data_dir, tmp_path_factory.mktemp("mini"))


def test_the_clean_mini_archive_has_no_problem(mini):
    src = ArchiveSource(mini)
    for kind in ("schedule", "results", "odds", "box_scores", "rosters", "injuries"):
        assert len(src.table(kind)) > 0
    assert src._problems == []


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_corruption_is_refused_named_and_quarantined(case, mini, tmp_path):
    root = tmp_path / "archive"
    shutil.copytree(mini, root)
    case.corrupt(root)
    src = ArchiveSource(root)
    refused = case.refused or row_date(mini, case.file, case.line)
    for kind in case.kinds:
        with pytest.raises(SourceError) as info:
            src.fetch(kind, dt.date.fromisoformat(refused), LATE)
        err = info.value
        assert err.endpoint == case.file, str(err)
        assert case.message in str(err), str(err)
        if case.field:
            assert err.field == case.field, str(err)
        if case.line:
            assert f"line {case.line}" in str(err), str(err)
        assert err.raw == (root / case.file).read_bytes()  # the complete file, as stored
    # the collect step keeps a record per attempt and the complete payload once
    store = tmp_path / "store"
    for attempt in range(2):
        with pytest.raises(collect.CollectError):
            collect.fetch(src, case.kinds[0], refused, LATE, store)
    records = sorted((store / "quarantine" / case.kinds[0] / refused).glob("*.json"))
    assert len(records) == 2
    payload = Path(json.loads(records[0].read_text())["payload"])
    assert payload.read_bytes() == (root / case.file).read_bytes()
    if case.answered:
        for kind in case.kinds:
            src.fetch(kind, dt.date.fromisoformat(case.answered), LATE)  # not refused
    with pytest.raises(SourceError):  # bulk tables are refused while a problem stands
        src.table(case.kinds[0])


def test_a_refused_date_writes_nothing_and_the_others_are_stored(mini, tmp_path):
    root = tmp_path / "archive"
    shutil.copytree(mini, root)
    bad = next(c for c in CASES if c.name == "a total that is not a number")
    bad.corrupt(root)
    day = row_date(mini, bad.file, bad.line)
    start = (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat()
    end = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
    store = tmp_path / "store"
    odds = [a for a in snapshot_assets if a.key.path[-1] == "odds_snapshot"]
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        odds, instance=instance, raise_on_error=False,
        resources={"source": SourceResource(name="archive", archive_dir=str(root)),
                   "store": StorageResource(root=str(store))},
        tags={"dagster/asset_partition_range_start": start,
              "dagster/asset_partition_range_end": end, RUN_AS_OF_TAG: LATE.isoformat()})
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.user_failure_data
    assert LINES in failure.description and f"line {bad.line}" in failure.description
    assert "'OU'" in failure.description and "1 of 3 date(s) refused" in failure.description
    written = sorted(p.name for p in (store / "live/snapshots/odds").iterdir())
    assert day not in written and written == sorted({start, end})
    assert instance.get_materialized_partitions(dg.AssetKey("odds_snapshot")) == {start, end}
