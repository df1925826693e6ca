"""File-based model registry: versions, state transitions, the promotion gate, rollback, concurrency."""
from __future__ import annotations

import hashlib
import json
import os
import re
import threading

import numpy as np
import pandas as pd
import pytest

from resources.registry import (GateDecision, ModelRegistry, NoProductionModelError, RegistryError,
                                data_fingerprint, training_metadata)

FEATS = ["elo_diff", "rest_home", "rest_away"]
FLOORS = {"max_log_loss": 0.693, "min_accuracy": 0.5}


def model(tag, size=1000):
    payload = np.random.default_rng(tag).bytes(size)
    return {"tag": tag, "payload": payload, "sha": hashlib.sha256(payload).hexdigest()}


def meta(tag, log_loss=0.65, **kw):
    return {"metrics": {"log_loss": log_loss, "accuracy": 0.6}, "params": {"C": 0.1}, "tag": tag,
            "train_start": "2021-10-19", "train_end": "2024-04-14", "n_rows": 3690,
            "data_fingerprint": "abc", "mlflow_run_id": None, **kw}


@pytest.fixture
def reg(tmp_path):
    return ModelRegistry(tmp_path / "models")


def states(reg, name):
    return dict(reg.list_versions(name)[["version", "state"]].itertuples(index=False))


def test_default_root_is_under_data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("TIPOFF_DATA_DIR", str(tmp_path))
    r = ModelRegistry()
    assert r.root == tmp_path.resolve() / "models" and (r.root / "registry.db").is_file()
    other = ModelRegistry()  # a second handle on the same default registry
    v = r.register("minutes", model(1), FEATS, meta(1))
    assert r.promote_if_passes("minutes", v, {"log_loss": 0.6, "accuracy": 0.6}, None, FLOORS)
    assert other.production_version("minutes") == v == other.load_production("minutes").version
    assert list(other.list_versions()["state"]) == ["production"]


def test_register_writes_an_immutable_version_folder(reg):
    v = reg.register("win_market_free", model(1), FEATS, meta(1))
    assert re.fullmatch(r"v\d{8}_\d{6}", v)
    folder = reg.root / "win_market_free" / v
    assert sorted(p.name for p in folder.iterdir()) == ["features.txt", "metadata.json", "model.pkl"]
    assert (folder / "features.txt").read_text().splitlines() == FEATS
    md = json.loads((folder / "metadata.json").read_text())
    for k in ("metrics", "params", "train_start", "train_end", "n_rows", "data_fingerprint",
              "mlflow_run_id", "created_at", "version"):
        assert k in md
    assert md["version"] == v and md["metrics"]["log_loss"] == 0.65
    assert states(reg, "win_market_free") == {v: "candidate"}
    assert reg.production_version("win_market_free") is None
    m, feats, md2, v2 = reg.load("win_market_free", v)
    assert m["tag"] == 1 and feats == FEATS and md2 == md and v2 == v
    assert not [p for p in (reg.root / "win_market_free").iterdir() if p.name.startswith(".tmp")]


def test_same_second_registrations_bump_never_overwrite(reg):
    vs = [reg.register("minutes", model(i), FEATS, meta(i)) for i in range(4)]
    assert len(set(vs)) == 4 and vs == sorted(vs)
    for i, v in enumerate(vs):
        assert reg.load("minutes", v).model["tag"] == i


def test_candidate_production_archived_transitions(reg):
    name = "win_with_market"
    v1 = reg.register(name, model(1), FEATS, meta(1))
    reg.promote(name, v1, reason="first")
    assert states(reg, name) == {v1: "production"}
    assert (reg.root / name / "PRODUCTION").read_text().strip() == v1
    v2 = reg.register(name, model(2), FEATS, meta(2))
    assert states(reg, name) == {v1: "production", v2: "candidate"}
    reg.promote(name, v2)
    assert states(reg, name) == {v1: "archived", v2: "production"}
    loaded = reg.load_production(name)
    assert loaded.version == v2 and loaded.model["tag"] == 2 and loaded.feature_cols == FEATS
    model_, feats, md, version = loaded  # plain 4-tuple too
    assert version == v2
    row = reg.list_versions(name).set_index("version").loc[v1]
    assert row["promoted_at"] and row["archived_at"] and row["reason"] == "first"
    assert list(reg.events(name)["event"]) == ["register", "promote", "register", "archive", "promote"]
    with pytest.raises(RegistryError, match="already production"):
        reg.promote(name, v2)
    with pytest.raises(LookupError, match="no version"):
        reg.promote(name, "v20000101_000000")
    assert reg.verify() == []


def test_gate_first_version_needs_floors_only(reg):
    name = "win_market_free"
    bad = reg.register(name, model(1), FEATS, meta(1, log_loss=0.70))
    d = reg.promote_if_passes(name, bad, {"log_loss": 0.70, "accuracy": 0.58}, None, FLOORS)
    assert not d and d.promote is False and any("max_log_loss" in r for r in d.reasons)
    assert reg.production_version(name) is None
    assert states(reg, name) == {bad: "candidate"}
    assert reg.list_versions(name).iloc[0]["reason"].startswith("gate failed")
    good = reg.register(name, model(2), FEATS, meta(2))
    d = reg.promote_if_passes(name, good, {"log_loss": 0.64, "accuracy": 0.62}, {}, FLOORS)
    assert d.promote and any("first version" in r for r in d.reasons)
    assert reg.production_version(name) == good


def test_gate_compares_with_production_and_fail_leaves_it_untouched(reg):
    name = "win_market_free"
    v1 = reg.register(name, model(1), FEATS, meta(1))
    reg.promote(name, v1)
    prod = {"log_loss": 0.640, "accuracy": 0.63}
    worse = reg.register(name, model(2), FEATS, meta(2))
    d = reg.gate(name, worse, {"log_loss": 0.645, "accuracy": 0.64}, prod, FLOORS)
    assert isinstance(d, GateDecision) and not d.promote
    assert states(reg, name) == {v1: "production", worse: "candidate"}  # gate() alone changes nothing
    d = reg.promote_if_passes(name, worse, {"log_loss": 0.645, "accuracy": 0.64}, prod, FLOORS)
    assert not d.promote and reg.production_version(name) == v1
    assert states(reg, name) == {v1: "production", worse: "candidate"}
    assert "0.6450 > production" in reg.list_versions(name).set_index("version").loc[worse, "reason"]
    assert reg.load_production(name).model["tag"] == 1
    # tolerance admits a tie-ish candidate; floors still apply
    assert reg.gate(name, worse, {"log_loss": 0.645, "accuracy": 0.64}, prod, FLOORS, tolerance=0.01).promote
    assert not reg.gate(name, worse, {"log_loss": 0.645, "accuracy": 0.49}, prod, FLOORS,
                        tolerance=0.01).promote
    assert not reg.gate(name, worse, {"log_loss": float("nan")}, prod, {}).promote
    assert not reg.gate(name, worse, {"log_loss": 0.6}, {}, {}).promote  # nothing to compare with
    better = reg.register(name, model(3), FEATS, meta(3))
    d = reg.promote_if_passes(name, better, {"log_loss": 0.635, "accuracy": 0.64}, prod, FLOORS)
    assert d.promote and reg.production_version(name) == better
    assert states(reg, name) == {v1: "archived", worse: "candidate", better: "production"}
    assert reg.list_versions(name).set_index("version").loc[better, "reason"].startswith("gate passed")
    # other metrics (e.g. minutes pinball loss) can drive the comparison
    assert reg.gate(name, worse, {"pinball_mean": 1.9}, {"pinball_mean": 2.0}, {},
                    metric="pinball_mean").promote
    with pytest.raises(ValueError, match="max_<metric>"):
        reg.gate(name, worse, {"log_loss": 0.6}, prod, {"log_loss": 0.7})


def test_rollback_restores_previous_production(reg):
    name = "minutes"
    v1, v2, v3 = (reg.register(name, model(i), FEATS, meta(i)) for i in range(3))
    with pytest.raises(RegistryError, match="cannot roll back"):
        reg.rollback(name)
    reg.promote(name, v1)
    with pytest.raises(RegistryError, match="cannot roll back"):
        reg.rollback(name)
    reg.promote(name, v2)
    assert reg.rollback(name) == v1
    assert reg.production_version(name) == v1 and reg.load_production(name).model["tag"] == 0
    assert states(reg, name) == {v1: "production", v2: "archived", v3: "candidate"}
    assert reg.rollback(name) == v2  # rolling back a rollback returns to the newer version
    reg.promote(name, v3)
    assert reg.rollback(name) == v2 and reg.rollback(name) == v3
    assert "rollback" in set(reg.events(name)["event"])
    assert reg.verify() == []


def test_load_production_error_explains_what_to_do(reg):
    with pytest.raises(NoProductionModelError, match="train and register"):
        reg.load_production("win_market_free")
    reg.register("win_market_free", model(1), FEATS, meta(1))
    with pytest.raises(NoProductionModelError, match=r"tipoff models promote win_market_free"):
        reg.load_production("win_market_free")
    with pytest.raises(LookupError):  # NoProductionModelError is a LookupError
        reg.load_production("win_market_free")


def test_failed_promotion_leaves_pointer_and_table_unchanged(reg, monkeypatch):
    name = "win_market_free"
    v1, v2 = (reg.register(name, model(i), FEATS, meta(i)) for i in range(2))
    reg.promote(name, v1)
    real = reg._event

    def boom(con, n, version, event, *a, **k):
        if event == "promote":  # after the archive UPDATE and before the pointer is committed
            reg._set_pointer(name, version)
            raise OSError("disk full")
        return real(con, n, version, event, *a, **k)

    monkeypatch.setattr(reg, "_event", boom)
    with pytest.raises(OSError):
        reg.promote(name, v2)
    assert reg.production_version(name) == v1
    assert states(reg, name) == {v1: "production", v2: "candidate"}
    assert reg.verify() == []


def test_stale_pointer_is_repaired_from_the_table(reg):
    name = "win_market_free"
    v1, v2 = (reg.register(name, model(i), FEATS, meta(i)) for i in range(2))
    reg.promote(name, v1)
    (reg.root / name / "PRODUCTION").write_text(v2)  # e.g. a crash between pointer switch and commit
    assert reg.verify()
    reg.register(name, model(9), FEATS, meta(9))  # any write transaction re-syncs
    assert reg.production_version(name) == v1 and reg.verify() == []


def test_concurrent_reader_never_sees_half_written_model(reg):
    name = "win_market_free"
    v0 = reg.register(name, model(0, 300_000), FEATS, meta(0))
    reg.promote(name, v0)
    stop, errors, seen, reads = threading.Event(), [], set(), []

    def reader():
        while not stop.is_set():
            try:
                m, feats, md, v = reg.load_production(name)
                assert m["sha"] == hashlib.sha256(m["payload"]).hexdigest()
                assert md["version"] == v and md["tag"] == m["tag"] and feats == FEATS
                seen.add(v)
                reads.append(v)
            except Exception as exc:  # noqa: BLE001 - any failure is a test failure
                errors.append(repr(exc))
                return

    def writer(offset):
        try:
            for i in range(6):
                v = reg.register(name, model(offset + i, 300_000), FEATS, meta(offset + i))
                if i == 4:
                    reg.rollback(name)
                elif i % 2:
                    reg.promote(name, v)
                else:
                    reg.promote_if_passes(name, v, {"log_loss": 0.6, "accuracy": 0.6},
                                          {"log_loss": 0.61}, FLOORS)
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    readers = [threading.Thread(target=reader) for _ in range(3)]
    writers = [threading.Thread(target=writer, args=(k * 100 + 1,)) for k in range(2)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert errors == []
    assert len(seen) >= 2 and len(reads) >= 10, (len(seen), len(reads))
    df = reg.list_versions(name)
    assert len(df) == 13 and df["version"].is_unique and (df["state"] == "production").sum() == 1
    assert reg.verify() == []


def test_data_fingerprint_is_order_free_and_label_sensitive():
    df = pd.DataFrame({"game_id": [3, 1, 2], "label_home_win": [1, 0, 1], "x": [0.1, 0.2, 0.3]})
    fp = data_fingerprint(df, ["game_id"], "label_home_win")
    assert fp == data_fingerprint(df.iloc[::-1], ["game_id"], "label_home_win")
    assert fp == data_fingerprint(df.assign(x=9.0), ["game_id"], "label_home_win")
    assert fp != data_fingerprint(df.assign(label_home_win=[1, 1, 1]), ["game_id"], "label_home_win")
    md = training_metadata(df.assign(game_date=pd.to_datetime(["2024-01-03", "2024-01-01", "2024-01-02"])),
                           ["game_id"], "label_home_win", metrics={"log_loss": 0.6}, mlflow_run_id="r1")
    assert md["train_start"] == "2024-01-01" and md["train_end"] == "2024-01-03"
    assert md["n_rows"] == 3 and md["data_fingerprint"] == fp and md["mlflow_run_id"] == "r1"


def test_registry_is_usable_from_another_process(reg, tmp_path):
    import subprocess
    import sys
    v = reg.register("minutes", model(5), FEATS, meta(5))
    reg.promote("minutes", v)
    code = ("import sys; from resources.registry import ModelRegistry; "
            f"r = ModelRegistry({str(reg.root)!r}); print(r.load_production('minutes').version)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(__file__)), check=True)
    assert out.stdout.strip() == v


# ----------------------------------------------------------------------------- integrity

def _two_productions(reg):
    v1 = reg.register("minutes", model(1), FEATS, meta(1))
    reg.promote("minutes", v1)
    v2 = reg.register("minutes", model(2), FEATS, meta(2))
    reg.promote("minutes", v2)
    return v1, v2


@pytest.mark.parametrize("damage", ["truncate", "swap"])
def test_a_damaged_model_file_is_named_and_the_last_good_production_scores(reg, damage):
    from resources.registry import ModelIntegrityError
    v1, v2 = _two_productions(reg)
    path = reg.root / "minutes" / v2 / "model.pkl"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    else:  # another version's (valid) pickle put in its place
        path.write_bytes((reg.root / "minutes" / v1 / "model.pkl").read_bytes())
    with pytest.raises(ModelIntegrityError, match=rf"minutes {v2}: .*model\.pkl"):
        reg.load("minutes", v2)
    with pytest.raises(ModelIntegrityError):
        reg.load_production("minutes", fall_back=False)
    got = reg.load_production("minutes")
    assert got.version == v1 and got.fallback_from == v2 and got.model["tag"] == 1
    assert reg.production_version("minutes") == v2   # the pointer is not moved behind anyone's back


def test_promoting_a_candidate_that_failed_the_gate_needs_force_and_is_recorded(reg):
    v1 = reg.register("minutes", model(1), FEATS, meta(1))
    reg.promote("minutes", v1)
    v2 = reg.register("minutes", model(2), FEATS, meta(2, log_loss=0.69))
    d = reg.promote_if_passes("minutes", v2, {"log_loss": 0.69, "accuracy": 0.6},
                              {"log_loss": 0.60, "accuracy": 0.6}, FLOORS)
    assert not d.promote
    with pytest.raises(RegistryError, match="failed the promotion gate.*--force"):
        reg.promote("minutes", v2, "looks fine to me")
    assert reg.production_version("minutes") == v1
    reg.promote("minutes", v2, "gate window was a holiday week", force=True, who="alice")
    assert reg.production_version("minutes") == v2
    ev = reg.events("minutes")
    forced = ev[ev["event"] == "forced_promotion"]
    assert len(forced) == 1 and "alice" in forced.iloc[0]["reason"] \
        and "holiday" in forced.iloc[0]["reason"]


def test_cli_promote_of_a_failed_candidate_exits_2_and_force_needs_a_reason(tmp_path, monkeypatch, capsys):
    from pipeline_assets.cli import main
    monkeypatch.setenv("TIPOFF_DATA_DIR", str(tmp_path))
    r = ModelRegistry()
    v1 = r.register("minutes", model(1), FEATS, meta(1))
    r.promote("minutes", v1)
    v2 = r.register("minutes", model(2), FEATS, meta(2))
    r.promote_if_passes("minutes", v2, {"log_loss": 0.69}, {"log_loss": 0.6}, FLOORS)
    assert main(["models", "promote", "minutes", v2]) == 2
    assert "failed the promotion gate" in capsys.readouterr().err
    assert main(["models", "promote", "minutes", v2, "--force"]) == 2
    assert "--force needs a --reason" in capsys.readouterr().err
    assert main(["models", "promote", "minutes", v2, "--force", "--reason", "checked by hand"]) == 0
    assert r.production_version("minutes") == v2
