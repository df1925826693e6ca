"""Run folders are atomic, addressable and never silently overwritten; rewrites are idempotent."""
from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resources import storage
from tipoff_core import catalog

GOLD = catalog.feature("gold", "game")


def test_identical_rewrite_is_noop_and_different_content_refused(tmp_path):
    base = tmp_path / "odds" / "2026-01-01"
    first = storage.write_run_folder(base, "20260101T150000Z", {"a.bin": b"x"})
    again = storage.write_run_folder(base, "20260101T150000Z", {"a.bin": b"x"})
    assert first.created and not again.created
    with pytest.raises(storage.RunExistsError, match="never overwritten"):
        storage.write_run_folder(base, "20260101T150000Z", {"a.bin": b"y"})
    assert (base / "run=20260101T150000Z" / "a.bin").read_bytes() == b"x"


def test_latest_follows_newest_and_pin_overrides(tmp_path):
    base = tmp_path / "k" / "d"
    storage.write_run_folder(base, "20260101T150000Z", {"f": b"1"})
    storage.write_run_folder(base, "20260101T200000Z", {"f": b"2"})
    storage.write_run_folder(base, "20260101T170000Z", {"f": b"3"})  # late re-run of an older as-of
    assert storage.resolve_run(base).name == "run=20260101T200000Z"
    storage.pin_run(base, "20260101T150000Z")
    assert storage.resolve_run(base).name == "run=20260101T150000Z"
    storage.pin_run(base, None)
    assert storage.resolve_run(base).name == "run=20260101T200000Z"
    with pytest.raises(FileNotFoundError):
        storage.pin_run(base, "20990101T000000Z")


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    base = tmp_path / "k" / "d"

    class Boom(dict):
        def items(self):
            yield "ok.bin", b"1"
            raise OSError("disk full")

    with pytest.raises(OSError):
        storage.write_run_folder(base, "20260101T150000Z", Boom())
    assert list(base.iterdir()) == []


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["2026-01-01", "2026-01-02", "2026-01-03"]),
                          st.integers(0, 5)), min_size=1, max_size=12))
def test_season_rows_replace_by_date_idempotently(tmp_path_factory, writes):
    root = tmp_path_factory.mktemp("root")
    expected: dict[str, pd.DataFrame] = {}
    for day, n in writes:
        rows = pd.DataFrame({"game_date": [day] * n, "game_id": [f"{day}-{i}" for i in range(n)]})
        storage.write_season_rows(GOLD, "2025-26", [day], rows, root)
        expected[day] = rows
    before = storage.season_path(GOLD, "2025-26", root).read_bytes()
    last_day, last_n = writes[-1]
    storage.write_season_rows(GOLD, "2025-26", [last_day], expected[last_day], root)
    assert storage.season_path(GOLD, "2025-26", root).read_bytes() == before
    got = storage.read_season_tables(GOLD, root)
    assert not got.duplicated().any()
    assert len(got) == sum(len(v) for v in expected.values())


def test_read_many_equals_a_dataset_scan_across_layouts_and_empty_files(tmp_path):
    """read_many reads file by file and skips empty files: the same frame as the Arrow dataset
    scan it replaced, including a file stored before the price columns existed (comes back NA)."""
    import pyarrow.dataset as ds

    from tipoff_core.schemas import arrow_schema, empty_frame, restore_dtypes
    ts = pd.Timestamp("2022-01-15 12:00", tz="UTC")
    rows = pd.DataFrame({"game_id": ["g1", "g2"], "bookmaker": ["a", "b"], "home_ml": [-150.0, 120.0],
                         "away_ml": [130.0, -140.0], "home_spread": [-3.5, 2.0],
                         "total": [220.5, 210.0], "home_spread_price": [-110.0, None],
                         "away_spread_price": [-110.0, None], "over_price": [-105.0, None],
                         "under_price": [-115.0, None], "snapshot_ts": [ts, ts]})
    old_layout = rows.drop(columns=["home_spread_price", "away_spread_price", "over_price",
                                    "under_price"]).assign(game_id=["g3", "g4"])
    files = []
    for i, df in enumerate([rows, empty_frame("odds"), old_layout, rows.assign(bookmaker="c")]):
        files.append(tmp_path / f"{i}.parquet")
        files[-1].write_bytes(storage.parquet_bytes(df))
    want = restore_dtypes(ds.dataset([str(f) for f in files], format="parquet",
                                     schema=arrow_schema("odds")).to_table().to_pandas(), "odds")
    got = storage.read_many(files, "odds")
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert len(got) == 6 and got.loc[got["game_id"] == "g3", "over_price"].isna().all()
    pd.testing.assert_frame_equal(storage.read_many(files[1:2], "odds"),
                                  restore_dtypes(ds.dataset([str(files[1])], format="parquet",
                                                            schema=arrow_schema("odds"))
                                                 .to_table().to_pandas(), "odds"))
