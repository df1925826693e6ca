"""What a user sees of the code location in the Dagster UI: every asset has owners, the tipoff
tags and (live and label assets) a freshness policy; the definitions load without a warning."""
from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg
import pytest

from pipeline_assets.asset_catalog import LABEL_ASSETS, LIVE_ASSETS
from tipoff_core.tags import DOMAIN_TAG, LAYER_TAG, SOURCE_API_TAG


@pytest.fixture(scope="module")
def graph():
    from pipeline_assets.definitions import defs
    return defs.resolve_asset_graph()


def test_every_asset_has_owners_and_the_tipoff_tags(graph):
    """A new asset fails here until it has a row in pipeline_assets/asset_catalog.ASSETS."""
    missing = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        lacks = [t for t in (LAYER_TAG, DOMAIN_TAG, SOURCE_API_TAG) if not node.tags.get(t)]
        if not node.owners:
            lacks.append("owners")
        if lacks:
            missing[key.to_user_string()] = lacks
    assert not missing, f"add a row to asset_catalog.ASSETS for: {missing}"
    assert len(list(graph.get_all_asset_keys())) >= 18


def test_live_and_label_assets_have_freshness_policies(graph):
    for name in (*LIVE_ASSETS, *LABEL_ASSETS):
        policy = graph.get(dg.AssetKey(name)).freshness_policy
        assert isinstance(policy, dg.FreshnessPolicy), name
        assert policy.timezone == "America/New_York"
    assert graph.get(dg.AssetKey("game_scores")).freshness_policy.deadline_cron == "30 11 * * *"
    assert graph.get(dg.AssetKey("game_results")).freshness_policy.deadline_cron == "0 4 * * *"


def test_output_assets_have_checks_on_their_partitions(graph):
    from pipeline_assets.partitions import DAILY
    checks = {}
    for ck in graph.asset_check_keys:
        checks.setdefault(ck.asset_key.to_user_string(), set()).add(ck.name)
    assert {"probabilities_in_unit_interval", "one_row_per_game", "stakes_within_cap",
            "schedule_covered"} <= checks["game_scores"]
    assert {"probabilities_in_unit_interval", "one_row_per_player"} <= checks["minutes_scores"]
    assert "metrics_in_range" in checks["model_performance"]
    assert "metrics_sane" in checks["backtest_report"]
    from pipeline_assets.output_checks import output_checks
    for cdef in output_checks:   # a check without the asset's partitions would read every date
        for spec in cdef.check_specs:
            assert spec.partitions_def is not None, spec.key


LOAD_ALL = """
import warnings
warnings.simplefilter("error")
from pipeline_assets.definitions import defs
defs.resolve_asset_graph()
for job in defs.resolve_all_job_defs():
    pass
defs.resolve_implicit_global_asset_job_def()
print("ok")
"""


def test_definitions_load_without_a_warning():
    """`python -W error`: any warning while the code location loads and its jobs resolve (e.g.
    `Asset job live_job materializes assets with varying BackfillPolicies`) is an error."""
    env = {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-W", "error", "-c", LOAD_ALL], capture_output=True,
                         text=True, env=env, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]
