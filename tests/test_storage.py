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


def _odds_rows(game: str, book: str = "a") -> pd.DataFrame:
    ts = pd.Timestamp("2022-01-14 12:00", tz="UTC")
    return pd.DataFrame({"game_id": [game], "bookmaker": [book], "home_ml": [-150.0],
                         "away_ml": [130.0], "home_spread": [-3.5], "total": [220.5],
                         "home_spread_price": [-110.0], "away_spread_price": [-110.0],
                         "over_price": [-105.0], "under_price": [-115.0], "snapshot_ts": [ts]})


def test_snapshot_history_reads_through_season_packs_that_follow_the_files(tmp_path, monkeypatch):
    """A long read goes through per-season packs (cache/packs): the same frame as reading every
    file, a pack is reused only while its files are unchanged, and a new run, another date range
    or another season never sees a stale pack."""
    monkeypatch.setattr(storage, "PACK_MIN_FILES", 2)
    table = catalog.snapshot("odds")
    days = ["2022-01-14", "2022-01-15", "2022-01-16", "2022-08-20"]  # the last one: 2022-23

    def put(day: str, hour: int, game: str) -> None:
        folder = storage.partition_dir(table, day, tmp_path) / f"run={day.replace('-', '')}T{hour:02d}0000Z"
        storage.write_run_folder(folder.parent, folder.name[4:], {table.file: storage.parquet_bytes(
            _odds_rows(game))})

    def every_file(dates: list[str]) -> pd.DataFrame:
        files = [storage.partition_dir(table, d, tmp_path) / f"run={t}" / table.file for d in dates
                 for t in storage.list_runs(storage.partition_dir(table, d, tmp_path))]
        return storage.read_many(files, table.kind).drop_duplicates(ignore_index=True)

    for i, d in enumerate(days):
        put(d, 12, f"g{i}")
    first = storage.read_snapshot_history(table, days, tmp_path)
    pd.testing.assert_frame_equal(first, every_file(days), check_exact=True)
    assert (tmp_path / storage.PACKS / table.folder / "season=2021-22.parquet").exists()
    assert not (tmp_path / storage.PACKS / table.folder / "season=2022-23.parquet").exists()

    real_read = storage._arrow_tables
    with monkeypatch.context() as m:  # unchanged files: the 2021-22 rows come from the pack
        m.setattr(storage, "_arrow_tables", lambda files, schema: pytest.fail("read files") if len(
            files) > 1 else real_read(files, schema))
        pd.testing.assert_frame_equal(storage.read_snapshot_history(table, days, tmp_path), first)

    put("2022-01-15", 18, "g_new")  # a new run of a packed date
    pd.testing.assert_frame_equal(storage.read_snapshot_history(table, days, tmp_path),
                                  every_file(days), check_exact=True)
    assert "g_new" in set(storage.read_snapshot_history(table, days, tmp_path)["game_id"])
    for subset in (days[:2], days[1:3], days):  # other ranges of the same season
        pd.testing.assert_frame_equal(storage.read_snapshot_history(table, subset, tmp_path),
                                      every_file(subset), check_exact=True)


def test_partition_dirs_are_partition_dir_and_refuse_what_is_not_a_date(tmp_path):
    table = catalog.snapshot("odds")
    days = ["2021-10-19", "2022-01-15"]
    assert storage.partition_dirs(table, days, tmp_path) == [
        storage.partition_dir(table, d, tmp_path) for d in days]
    for bad in ("../../etc", "2022-1-15", "2022-01-15/../..", "20220115"):
        with pytest.raises(storage.LayoutError):
            storage.partition_dirs(table, [bad], tmp_path)


def test_a_backfill_leaves_the_packs_a_long_read_of_its_seasons_uses(tmp_path, monkeypatch):
    """warm_read_cache after writing many dates: a later read of a calendar range covering those
    seasons (dates without a folder included, as a gold backfill asks) reads only the packs."""
    monkeypatch.setattr(storage, "PACK_MIN_FILES", 2)
    table = catalog.snapshot("odds")
    days = ["2021-12-01", "2021-12-02", "2021-12-05", "2022-08-10", "2022-09-01"]
    for i, day in enumerate(days):
        storage.write_run_folder(storage.partition_dir(table, day, tmp_path), day.replace("-", "") + "T120000Z",
                                 {table.file: storage.parquet_bytes(_odds_rows(f"g{i}"))})
    assert storage.warm_read_cache(table, days[:1], tmp_path) == []  # one date: nothing packed
    assert storage.warm_read_cache(table, days, tmp_path) == ["2021-22", "2022-23"]
    calendar = [d.strftime("%Y-%m-%d") for d in pd.date_range("2021-10-01", "2022-09-30")]
    with monkeypatch.context() as m:
        m.setattr(storage, "_arrow_tables", lambda files, schema: pytest.fail("read files"))
        got = storage.read_snapshot_history(table, calendar, tmp_path)
    assert sorted(got["game_id"]) == ["g0", "g1", "g2", "g3", "g4"]
