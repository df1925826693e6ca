"""File-based model registry (plain Python, no Dagster).

Layout under ``root`` (default ``<data root>/models``)::

    registry.db                          SQLite: model_versions (state machine) + model_events (audit)
    <name>/v20250301_120000/             one immutable folder per version
        model.pkl  features.txt  metadata.json
    <name>/PRODUCTION                    the production version's name (one line)

Versions are ``v{YYYYMMDD_HHMMSS}`` in UTC; when that name is taken the timestamp is bumped one second
at a time, so nothing is ever overwritten.  A version folder is written under a temporary name and
renamed into place, and the ``PRODUCTION`` pointer is replaced atomically (``os.replace``) inside the
same SQLite write transaction (``BEGIN IMMEDIATE``) that updates the table -- a reader calling
``load_production`` while another thread or process promotes sees either the old or the new version,
never a half-written one.  The table is the source of truth: every write transaction first re-syncs
the pointer to it (repairing a crash between the pointer switch and the commit).

States: ``candidate`` (registered) -> ``production`` (promoted) -> ``archived`` (replaced by a newer
production).  ``rollback`` re-promotes the most recently archived former production version.

Shadow: ``load_shadow`` returns the newest candidate registered after the production version that
passed training -- it was never gated, or its gate failed only the comparison with production
(its floors held) -- so it can score live slates beside production (``role=shadow`` in the
predictions log) until the next retrain replaces it.

Model names used by the pipeline: ``win_market_free``, ``win_with_market``, ``minutes``.
"""
from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import math
import os
import pickle
import shutil
import sqlite3
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, NamedTuple, Sequence

import numpy as np
import pandas as pd

from resources import storage

MODEL_NAMES = ("win_market_free", "win_with_market", "minutes")
STATES = ("candidate", "production", "archived")
FALLBACK_KEY = "loaded_in_place_of"
VERSION_FORMAT = "v%Y%m%d_%H%M%S"
MODEL_FILE, FEATURES_FILE, METADATA_FILE, POINTER_FILE = ("model.pkl", "features.txt",
                                                           "metadata.json", "PRODUCTION")
STANDARD_METADATA = ("metrics", "params", "train_start", "train_end", "n_rows", "data_fingerprint",
                     "mlflow_run_id")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS model_versions (
    name         TEXT NOT NULL,
    version      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('candidate', 'production', 'archived')),
    created_at   TEXT NOT NULL,
    promoted_at  TEXT,
    archived_at  TEXT,
    metrics_json TEXT NOT NULL DEFAULT '{}',
    reason       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (name, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS one_production_per_name
    ON model_versions (name) WHERE state = 'production';
CREATE TABLE IF NOT EXISTS model_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    name    TEXT NOT NULL,
    version TEXT NOT NULL,
    event   TEXT NOT NULL,
    at      TEXT NOT NULL,
    reason  TEXT NOT NULL DEFAULT ''
);
"""


class RegistryError(RuntimeError):
    pass


class NoProductionModelError(RegistryError, LookupError):
    pass


class VersionNotFoundError(RegistryError, LookupError):
    pass


class ModelIntegrityError(RegistryError):
    """A stored model file does not match what the registry recorded (truncated, swapped...)."""


class LoadedModel(NamedTuple):
    model: Any
    feature_cols: list[str]
    metadata: dict
    version: str

    @property
    def fallback_from(self) -> str | None:
        """The production version that failed its integrity check when this one was loaded in
        its place (see `ModelRegistry.load_production`)."""
        return self.metadata.get(FALLBACK_KEY)


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reasons: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.promote

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


# ---------------------------------------------------------------- helpers

def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (pd.Timestamp, dt.datetime, dt.date)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)


def data_fingerprint(df: pd.DataFrame, id_cols: Sequence[str], label_cols: Sequence[str] | str) -> str:
    """sha256 of the training frame's ids + labels, sorted by the ids (row order does not matter)."""
    label_cols = [label_cols] if isinstance(label_cols, str) else list(label_cols)
    cols = list(id_cols) + label_cols
    sub = df[cols].sort_values(list(id_cols), kind="stable").astype(str)
    return hashlib.sha256(sub.to_csv(index=False, lineterminator="\n").encode()).hexdigest()


def training_metadata(df: pd.DataFrame, id_cols: Sequence[str], label_col: str,
                      date_col: str | None = "game_date", *, metrics: dict | None = None,
                      params: dict | None = None, mlflow_run_id: str | None = None, **extra) -> dict:
    """The standard ``metadata`` for ``register``: window, n_rows, fingerprint, metrics, params."""
    lab = df[df[label_col].notna()]
    meta = {"metrics": metrics or {}, "params": params or {}, "n_rows": int(len(lab)),
            "data_fingerprint": data_fingerprint(lab, id_cols, label_col),
            "mlflow_run_id": mlflow_run_id, "train_start": None, "train_end": None}
    if date_col and date_col in lab.columns and len(lab):
        d = pd.to_datetime(lab[date_col])
        meta["train_start"], meta["train_end"] = str(d.min().date()), str(d.max().date())
    meta.update(extra)
    return meta


def _check_name(name: str) -> None:
    if not name or not all(c.isalnum() or c in "_-" for c in name):
        raise ValueError(f"invalid model name {name!r} (letters, digits, _ and - only)")


FLOOR_FAILED_MARKERS = (" violated: ", ": candidate has no ")


def floors_failed(reason: str | None) -> bool:
    """Whether a recorded gate reason (``_gate``'s wording) says a floor failed."""
    return any(m in (reason or "") for m in FLOOR_FAILED_MARKERS)


# ---------------------------------------------------------------- registry

class ModelRegistry:
    """See module docstring.  Safe to share between threads and processes on one filesystem."""

    def __init__(self, root: Path | str | None = None, *, timeout: float = 60.0):
        self.root = Path(root).resolve() if root else storage.data_root() / "models"
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "registry.db"
        self.timeout = timeout
        with self._connect() as con:
            con.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"ModelRegistry({str(self.root)!r})"

    # -- plumbing
    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.db_path, timeout=self.timeout, isolation_level=None)
        con.row_factory = sqlite3.Row
        return con

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One serialized write transaction (BEGIN IMMEDIATE) across threads and processes.

        Pointers are re-synced to the committed table on entry, and again after a rollback (so a
        pointer switched inside a failed transaction is switched back)."""
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                self._sync_pointers(con)
                yield con
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                try:
                    con.execute("BEGIN IMMEDIATE")
                    self._sync_pointers(con)
                    con.execute("COMMIT")
                except sqlite3.Error:  # best effort; the next write re-syncs anyway
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                raise
        finally:
            con.close()

    def _pointer(self, name: str) -> Path:
        return self.root / name / POINTER_FILE

    def _read_pointer(self, name: str) -> str | None:
        try:
            v = self._pointer(name).read_text().strip()
        except FileNotFoundError:
            return None
        return v or None

    def _set_pointer(self, name: str, version: str | None) -> None:
        if version is None:
            self._pointer(name).unlink(missing_ok=True)
        else:
            storage.atomic_write_bytes(self._pointer(name), f"{version}\n".encode())

    def _table_production(self, con: sqlite3.Connection, name: str) -> str | None:
        row = con.execute("SELECT version FROM model_versions WHERE name = ? AND state = 'production'",
                          (name,)).fetchone()
        return row["version"] if row else None

    def _sync_pointers(self, con: sqlite3.Connection) -> None:
        names = {r["name"] for r in con.execute("SELECT DISTINCT name FROM model_versions")}
        names |= {p.parent.name for p in self.root.glob(f"*/{POINTER_FILE}")}
        for name in names:
            want = self._table_production(con, name)
            if self._read_pointer(name) != want:
                self._set_pointer(name, want)

    def _event(self, con, name, version, event, reason="", at: str | None = None) -> None:
        con.execute("INSERT INTO model_events (name, version, event, at, reason) VALUES (?, ?, ?, ?, ?)",
                    (name, version, event, at or _iso(_now()), reason))

    def _row(self, con, name: str, version: str) -> sqlite3.Row:
        row = con.execute("SELECT * FROM model_versions WHERE name = ? AND version = ?",
                          (name, version)).fetchone()
        if row is None:
            raise VersionNotFoundError(f"model {name!r} has no version {version!r} in {self.root} "
                                       f"(see list_versions({name!r}))")
        return row

    # -- writing
    def register(self, name: str, model_obj: Any, feature_cols: Sequence[str], metadata: dict | None = None
                 ) -> str:
        """Store a new immutable version (state ``candidate``) and return its name ``vYYYYMMDD_HHMMSS``.

        ``metadata`` should carry ``metrics``, ``params``, ``train_start``, ``train_end``, ``n_rows``,
        ``data_fingerprint`` and ``mlflow_run_id`` (see ``training_metadata``); missing standard keys
        are stored as null.  ``version``, ``name``, ``created_at`` and ``feature_cols`` are added.
        """
        _check_name(name)
        feature_cols = [str(c) for c in feature_cols]
        if any("\n" in c for c in feature_cols):
            raise ValueError("feature names must not contain newlines")
        meta = {k: None for k in STANDARD_METADATA}
        meta.update(_jsonable(dict(metadata or {})))
        meta["metrics"] = meta.get("metrics") or {}
        payload = pickle.dumps(model_obj, protocol=pickle.HIGHEST_PROTOCOL)

        base = self.root / name
        base.mkdir(parents=True, exist_ok=True)
        tmp = base / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        final: Path | None = None
        try:
            (tmp / MODEL_FILE).write_bytes(payload)
            (tmp / FEATURES_FILE).write_text("".join(f"{c}\n" for c in feature_cols))
            with self._write() as con:
                now = _now()
                t = now.replace(microsecond=0)
                taken = {r["version"] for r in con.execute(
                    "SELECT version FROM model_versions WHERE name = ?", (name,))}
                while (version := t.strftime(VERSION_FORMAT)) in taken or (base / version).exists():
                    t += dt.timedelta(seconds=1)  # never overwrite: bump to the next free second
                meta.update({"name": name, "version": version, "created_at": _iso(now),
                             "feature_cols": feature_cols, "n_features": len(feature_cols),
                             "model_sha256": hashlib.sha256(payload).hexdigest()})
                with open(tmp / METADATA_FILE, "w") as fh:
                    json.dump(meta, fh, indent=2, sort_keys=True)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.rename(tmp, base / version)  # the folder appears complete or not at all
                final = base / version
                con.execute("INSERT INTO model_versions (name, version, state, created_at, metrics_json,"
                            " reason) VALUES (?, ?, 'candidate', ?, ?, '')",
                            (name, version, _iso(now), json.dumps(meta["metrics"], sort_keys=True)))
                self._event(con, name, version, "register")
            return version
        except BaseException:
            if final is not None and final.exists():  # transaction failed: no orphan folder
                os.rename(final, tmp)
            raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _promote_locked(self, con, name: str, version: str, reason: str, event: str = "promote") -> None:
        row = self._row(con, name, version)
        if row["state"] == "production":
            raise RegistryError(f"{name} {version} is already production")
        if not (self.root / name / version / MODEL_FILE).exists():
            raise RegistryError(f"{name} {version}: version folder missing under {self.root / name}")
        now = _iso(_now())
        old = self._table_production(con, name)
        if old is not None:
            con.execute("UPDATE model_versions SET state = 'archived', archived_at = ? "
                        "WHERE name = ? AND version = ?", (now, name, old))
            self._event(con, name, old, "archive", f"replaced by {version}", now)
        con.execute("UPDATE model_versions SET state = 'production', promoted_at = ?, reason = ? "
                    "WHERE name = ? AND version = ?", (now, reason, name, version))
        self._event(con, name, version, event, reason, now)
        self._set_pointer(name, version)  # COMMIT follows; on failure _write re-syncs the pointer

    def promote(self, name: str, version: str, reason: str = "", *, force: bool = False,
                who: str = "") -> None:
        """Make ``version`` production; the previous production version becomes ``archived``.

        A candidate that failed the promotion gate is refused unless ``force``; a forced promotion
        records who did it and why in the version's history (``events``)."""
        with self._write() as con:
            failed = con.execute(
                "SELECT reason FROM model_events WHERE name = ? AND version = ? AND "
                "event = 'gate_failed' ORDER BY id DESC LIMIT 1", (name, version)).fetchone()
            if failed is not None and not force:
                raise RegistryError(
                    f"{name} {version} failed the promotion gate ({failed['reason'][:300]}); "
                    "promote it anyway with --force and a --reason")
            if failed is not None:
                who = who or getpass.getuser()
                self._event(con, name, version, "forced_promotion",
                            f"by {who}: {reason or 'no reason given'}")
            self._promote_locked(con, name, version, reason or "manual promotion")

    def rollback(self, name: str, reason: str = "") -> str:
        """Re-promote the most recently archived version that was production before; return it."""
        with self._write() as con:
            row = con.execute(
                "SELECT version FROM model_versions WHERE name = ? AND state = 'archived' "
                "AND promoted_at IS NOT NULL ORDER BY archived_at DESC, promoted_at DESC LIMIT 1",
                (name,)).fetchone()
            if row is None:
                cur = self._table_production(con, name)
                raise RegistryError(f"cannot roll back {name!r}: no archived version that was production "
                                    f"before (current production: {cur or 'none'})")
            self._promote_locked(con, name, row["version"], reason or "rollback", event="rollback")
            return row["version"]

    # -- the promotion gate
    def gate(self, name: str, candidate_version: str, eval_df_metrics: dict,
             production_metrics: dict | None, floors: dict | None = None, *, tolerance: float = 0.0,
             metric: str = "log_loss") -> GateDecision:
        """Decide whether ``candidate_version`` may replace production (it does not promote).

        Promote iff ``eval_df_metrics[metric] <= production_metrics[metric] + tolerance`` (both scored
        on the same recent window; lower is better) and every floor holds.  ``floors`` keys are
        ``max_<metric>`` / ``min_<metric>`` (e.g. ``{"max_log_loss": 0.693, "min_accuracy": 0.55}``).
        When the name has no production version yet only the floors apply.
        """
        con = self._connect()
        try:
            return self._gate(con, name, candidate_version, eval_df_metrics, production_metrics, floors,
                              tolerance, metric)
        finally:
            con.close()

    def _gate(self, con, name, candidate_version, cand, prod, floors, tolerance, metric) -> GateDecision:
        row = self._row(con, name, candidate_version)
        ok, reasons = True, []
        if row["state"] == "production":
            return GateDecision(False, [f"{candidate_version} is already production"])

        def value(d, key):
            v = (d or {}).get(key)
            try:
                v = float(v)
            except (TypeError, ValueError):
                return None
            return v if math.isfinite(v) else None

        for key, bound in sorted((floors or {}).items()):
            kind, _, m = key.partition("_")
            if kind not in ("max", "min") or not m:
                raise ValueError(f"floor {key!r} must be max_<metric> or min_<metric>")
            v = value(cand, m)
            if v is None:
                ok = False
                reasons.append(f"floor {key}: candidate has no {m}")
            elif (kind == "max" and v > bound) or (kind == "min" and v < bound):
                ok = False
                reasons.append(f"floor {key}={bound:g} violated: {m}={v:.4f}")
            else:
                reasons.append(f"floor {key}={bound:g} ok: {m}={v:.4f}")

        current = self._table_production(con, name)
        c = value(cand, metric)
        if current is None:
            reasons.append(f"no production version of {name}: first version, floors only")
        else:
            p = value(prod, metric)
            if c is None or p is None:
                ok = False
                reasons.append(f"cannot compare {metric}: candidate={c} production({current})={p}")
            elif c <= p + tolerance:
                reasons.append(f"{metric} {c:.4f} <= production {current} {p:.4f} + {tolerance:g}")
            else:
                ok = False
                reasons.append(f"{metric} {c:.4f} > production {current} {p:.4f} + {tolerance:g}")
        return GateDecision(ok, reasons)

    def promote_if_passes(self, name: str, candidate_version: str, eval_df_metrics: dict,
                          production_metrics: dict | None, floors: dict | None = None, *,
                          tolerance: float = 0.0, metric: str = "log_loss",
                          notes: Sequence[str] = ()) -> GateDecision:
        """``gate`` + ``promote`` in one write transaction; the decision is recorded either way
        (``reason`` column of the candidate, ``model_events``).  Production is untouched on a fail.
        ``notes`` are appended to the reasons as they are (information, not part of the decision:
        e.g. the live shadow record)."""
        with self._write() as con:
            decision = self._gate(con, name, candidate_version, eval_df_metrics, production_metrics,
                                  floors, tolerance, metric)
            if notes:
                decision = GateDecision(decision.promote, [*decision.reasons, *notes])
            reason = ("gate passed: " if decision.promote else "gate failed: ") + decision.reason
            if decision.promote:
                self._promote_locked(con, name, candidate_version, reason)
            else:
                con.execute("UPDATE model_versions SET reason = ? WHERE name = ? AND version = ?",
                            (reason, name, candidate_version))
                self._event(con, name, candidate_version, "gate_failed", reason)
            return decision

    # -- reading
    def list_versions(self, name: str | None = None) -> pd.DataFrame:
        """One row per version: name, version, state, created_at, promoted_at, archived_at,
        metrics_json, reason (sorted by name, version)."""
        con = self._connect()
        try:
            q = "SELECT * FROM model_versions" + (" WHERE name = ?" if name else "")
            rows = con.execute(q + " ORDER BY name, version", (name,) if name else ()).fetchall()
        finally:
            con.close()
        cols = ["name", "version", "state", "created_at", "promoted_at", "archived_at", "metrics_json",
                "reason"]
        return pd.DataFrame([dict(r) for r in rows], columns=cols)

    def events(self, name: str | None = None) -> pd.DataFrame:
        con = self._connect()
        try:
            q = "SELECT * FROM model_events" + (" WHERE name = ?" if name else "")
            rows = con.execute(q + " ORDER BY id", (name,) if name else ()).fetchall()
        finally:
            con.close()
        return pd.DataFrame([dict(r) for r in rows], columns=["id", "name", "version", "event", "at",
                                                               "reason"])

    def shadow_version(self, name: str) -> str | None:
        """The version ``load_shadow`` loads: the newest ``candidate`` registered after the
        production version (any candidate when there is none) that passed training -- never
        gated, or gated out only by the comparison with production, its floors holding.  A
        candidate whose floors failed is not scored.  None when there is no such version."""
        con = self._connect()
        try:
            prod = self._table_production(con, name)
            rows = con.execute("SELECT version, reason FROM model_versions WHERE name = ? AND "
                               "state = 'candidate' ORDER BY created_at DESC, version DESC",
                               (name,)).fetchall()
            prod_created = (self._row(con, name, prod)["created_at"] if prod else "")
            created = {r["version"]: r["created_at"] for r in con.execute(
                "SELECT version, created_at FROM model_versions WHERE name = ?", (name,))}
        finally:
            con.close()
        for r in rows:
            if created[r["version"]] <= prod_created:
                break  # older than production: production was trained after it
            if not floors_failed(r["reason"]):
                return r["version"]
        return None

    def load_shadow(self, name: str) -> LoadedModel | None:
        """The shadow version of ``name`` (see ``shadow_version``) loaded and checked against its
        recorded sha256 like ``load``; None when there is none.  A damaged shadow file raises
        ``ModelIntegrityError`` (there is no fallback: a caller skips the shadow)."""
        version = self.shadow_version(name)
        return None if version is None else self.load(name, version)

    def production_version(self, name: str) -> str | None:
        """The version the ``PRODUCTION`` pointer names (None if there is none)."""
        return self._read_pointer(name)

    def load(self, name: str, version: str) -> LoadedModel:
        """(model, feature_cols, metadata, version) of one stored version, after checking the model
        file against the sha256 recorded at registration."""
        folder = self.root / name / version
        path = folder / MODEL_FILE
        if not path.is_file():
            raise VersionNotFoundError(f"model {name!r} has no version {version!r} under {self.root / name}"
                                       f" (see `tipoff models list {name}`)")
        try:
            metadata = json.loads((folder / METADATA_FILE).read_text())
            feature_cols = (folder / FEATURES_FILE).read_text().splitlines()
        except (OSError, ValueError) as exc:
            raise ModelIntegrityError(f"model {name} {version}: cannot read {METADATA_FILE} / "
                                      f"{FEATURES_FILE} in {folder}: {exc}") from None
        payload = path.read_bytes()
        want, got = metadata.get("model_sha256"), hashlib.sha256(payload).hexdigest()
        if want and want != got:
            raise ModelIntegrityError(f"model {name} {version}: {path} does not match its recorded "
                                      f"sha256 (expected {want[:12]}..., file has {got[:12]}...; "
                                      f"{len(payload)} bytes) -- truncated or replaced")
        try:
            model = pickle.loads(payload)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means a damaged file
            raise ModelIntegrityError(f"model {name} {version}: {path} cannot be loaded "
                                      f"({type(exc).__name__}: {exc})") from None
        return LoadedModel(model, feature_cols, metadata, version)

    def load_production(self, name: str, *, fall_back: bool = True) -> LoadedModel:
        """The production version of ``name``.  When its files fail the integrity check and
        ``fall_back`` is set, the newest earlier production version that loads is returned with
        ``fallback_from`` naming the version that failed (the pointer is left as it is)."""
        version = self._read_pointer(name)
        if version is None:
            known = self.list_versions(name)
            hint = (f"{len(known)} candidate/archived version(s) exist -- promote one with "
                    f"`tipoff models promote {name} <version>`"
                    if len(known) else
                    "no version is registered yet -- train and register one first (materialize "
                    "win_model / minutes_model); the promotion gate promotes the first version "
                    "whose metrics pass the floors")
            raise NoProductionModelError(f"no production version of model {name!r} in {self.root}: {hint}")
        try:
            return self.load(name, version)
        except ModelIntegrityError as exc:
            if not fall_back:
                raise
            for earlier in self._former_production(name, version):
                try:
                    loaded = self.load(name, earlier)
                    return loaded._replace(metadata={**loaded.metadata, FALLBACK_KEY: version})
                except ModelIntegrityError:
                    continue
            raise ModelIntegrityError(f"{exc}; no earlier production version of {name} loads "
                                      "either") from None

    def _former_production(self, name: str, current: str) -> list[str]:
        """Versions that were production before, most recently promoted first."""
        con = self._connect()
        try:
            rows = con.execute("SELECT version FROM model_versions WHERE name = ? AND version != ? "
                               "AND promoted_at IS NOT NULL ORDER BY promoted_at DESC",
                               (name, current)).fetchall()
        finally:
            con.close()
        return [r["version"] for r in rows]

    def verify(self) -> list[str]:
        """Inconsistencies between the table, the pointers and the folders (empty = consistent)."""
        problems = []
        df = self.list_versions()
        for name, g in df.groupby("name"):
            prod = g.loc[g["state"] == "production", "version"].tolist()
            if len(prod) > 1:
                problems.append(f"{name}: several production rows {prod}")
            ptr = self._read_pointer(name)
            if ptr != (prod[0] if prod else None):
                problems.append(f"{name}: PRODUCTION pointer {ptr} != table {prod}")
            for v in g["version"]:
                if not (self.root / name / v / MODEL_FILE).is_file():
                    problems.append(f"{name} {v}: folder missing")
        return problems
