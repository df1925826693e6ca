"""Gold and live feature paths agree on real archive dates (needs ../shared/data)."""
from __future__ import annotations

import dagster as dg

from tests.helpers import read_table
from pipeline_assets.featureio import parity
from pipeline_assets.ingest import label_assets, snapshot_assets
from pipeline_assets.feature_assets import gold_features
from resources.dagster_resources import SourceResource, StorageResource

START, END = "2022-01-03", "2022-01-16"


def test_archive_dates_have_identical_gold_and_live_features(shared_data_dir, tmp_path):
    resources = {"source": SourceResource(name="archive", archive_dir=str(shared_data_dir)),
                 "store": StorageResource(root=str(tmp_path))}
    result = dg.materialize([*snapshot_assets, *label_assets, gold_features],
                            instance=dg.DagsterInstance.ephemeral(), resources=resources,
                            tags={"dagster/asset_partition_range_start": START,
                                  "dagster/asset_partition_range_end": END})
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks), [c.check_name for c in checks if not c.passed]
    for day in ("2022-01-05", "2022-01-12", END):
        gold = read_table("gold_game_features", day, root=tmp_path)
        assert len(gold) >= 3 and gold["mkt_available"].all()
        diffs = parity(day, tmp_path)
        assert diffs["game"].empty, diffs["game"].to_dict("records")
        assert diffs["minutes"].empty, diffs["minutes"].to_dict("records")
        # the candidates cover nearly everyone who played
        rows = read_table("gold_minutes_features", day, root=tmp_path)
        played = rows["label_played"].fillna(False).astype(bool)
        box = read_table("player_box_scores", day, root=tmp_path)
        assert played.sum() >= 0.9 * len(box)
