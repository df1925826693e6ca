"""HTTP API latency benchmark (issue 11): `tipoff serve` with the Redis cache, concurrent clients.

By default builds ~90 days of simulated history in a temp store (history_job, train_job with the
fast grid, a scored slate through `tipoff run`; not timed), starts the API in a child process
(uvicorn, one worker, the clock fixed at half an hour after the slate's as-of so the slate's date
is "today"), and measures over keep-alive HTTP connections:

* cached: /v1/slates/{date} and a repeated /v1/predict (served from Redis), C concurrent clients;
* uncached on-demand: /v1/predict with prices no one asked before (a cache miss each), after a
  warm-up that builds the date's matchup grid -- sequential, and with C concurrent clients;
* throughput (requests/s) of each phase; and the slate without Redis (unreachable URL).

Goals: cached p50 < 5 ms and p99 < 20 ms; uncached on-demand p99 < 200 ms.
`--url http://host:port --date D` drives a running server instead (its own clock and store).
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HISTORY = ("2025-10-21", "2026-01-20")
DAY = "2026-01-21"
AS_OF = f"{DAY}T17:00:00+00:00"
NOW = f"{DAY}T17:30:00+00:00"


def build_store(root: Path) -> None:
    os.environ.update(TIPOFF_DATA_DIR=str(root), TIPOFF_SOURCE="simulated", TIPOFF_SEED="7",
                      TIPOFF_SHOCK="", MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}")
    import dagster as dg

    from pipeline_assets import steps
    from pipeline_assets.definitions import defs
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    inst = dg.DagsterInstance.ephemeral()
    defs.resolve_job_def("history_job").execute_in_process(
        instance=inst, run_config=quiet, tags={"dagster/asset_partition_range_start": HISTORY[0],
                                               "dagster/asset_partition_range_end": HISTORY[1]})
    defs.resolve_job_def("train_job").execute_in_process(
        instance=inst, tags={"tipoff/retrain_reason": "bench"},
        run_config={**quiet, "ops": {"win_model": {"config": {"fast": True, "max_log_loss": 1.0}},
                                     "minutes_model": {"config": {"fast": True}}}})
    steps.run(date=DAY, as_of=AS_OF, root=root)


def serve_child(args) -> None:
    """The server process: the API over `--data-dir` with the clock fixed at `--now`."""
    import pandas as pd
    import uvicorn

    from pipeline_assets.api import create_app
    from pipeline_assets.serving import Service
    from resources.cache import Cache
    now = pd.Timestamp(args.now)
    service = Service(root=Path(args.data_dir), cache=Cache(args.redis_url, args.prefix),
                      clock=lambda: now)
    uvicorn.run(create_app(service, api_keys=()), host="127.0.0.1", port=args.port,
                log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, redis_url: str, prefix: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, TIPOFF_DATA_DIR=str(data_dir), PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, __file__, "--serve-child", "--data-dir", str(data_dir),
                             "--port", str(port), "--now", NOW, "--redis-url", redis_url,
                             "--prefix", prefix], env=env, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    import httpx
    for _ in range(600):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit("the server process exited")
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not come up in 60 s")


def drive(url: str, paths: list[tuple[str, dict]], clients: int) -> dict:
    """Issue `paths` (spread over `clients` threads, one keep-alive connection each)."""
    import httpx
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    chunks = [paths[i::clients] for i in range(clients)]

    def worker(chunk):
        mine = []
        with httpx.Client(base_url=url, timeout=30) as c:
            for path, params in chunk:
                t0 = time.perf_counter()
                r = c.get(path, params=params)
                mine.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
        with lock:
            lat.extend(mine)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(ch,)) for ch in chunks if ch]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise SystemExit(f"{len(errors)} failed requests, e.g. {errors[0]}")
    ms = sorted(x * 1000 for x in lat)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"n": len(ms), "clients": clients, "p50": q[49], "p99": q[98], "max": ms[-1],
            "rps": len(ms) / wall}


def report(name: str, r: dict, goal: str = "") -> None:
    print(f"{name:<44} n={r['n']:>5} c={r['clients']:<2} p50={r['p50']:7.2f} ms  "
          f"p99={r['p99']:7.2f} ms  max={r['max']:7.1f} ms  {r['rps']:8.1f} req/s  {goal}",
          flush=True)


def bench(url: str, day: str, clients: int, n: int) -> None:
    import httpx
    slate = httpx.get(f"{url}/v1/slates/{day}", timeout=30).json()
    games = slate["games"]
    g = games[0]
    q = {"home": g["home"]["abbr"], "away": g["away"]["abbr"], "date": day}
    t0 = time.perf_counter()
    httpx.get(f"{url}/v1/predict", params=q, timeout=120)  # builds the date's matchup grid
    print(f"warm-up (first /v1/predict of {day}: matchup grid): "
          f"{(time.perf_counter() - t0) * 1000:.0f} ms; {len(games)} games on the slate")
    drive(url, [(f"/v1/slates/{day}", {})] * 200 + [("/v1/predict", q)] * 200, clients)

    r = drive(url, [(f"/v1/slates/{day}", {})] * n, clients)
    report("cached GET /v1/slates/{date}", r, "(goal p50 < 5, p99 < 20)")
    r = drive(url, [("/v1/predict", q)] * n, clients)
    report("cached GET /v1/predict", r, "(goal p50 < 5, p99 < 20)")
    r = drive(url, [(f"/v1/games/{g['game_id']}", {})] * n, clients)
    report("cached GET /v1/games/{id}", r)
    for c in (1, 2):
        r = drive(url, [(f"/v1/slates/{day}", {})] * n, c)
        report(f"cached GET /v1/slates/{{date}}, {c} client(s)", r)
        r = drive(url, [("/v1/predict", q)] * n, c)
        report(f"cached GET /v1/predict, {c} client(s)", r)

    teams = sorted({x["home"]["abbr"] for x in games} | {x["away"]["abbr"] for x in games})
    tag = uuid.uuid4().int % 10_000

    def fresh(i: int) -> tuple[str, dict]:
        h, a = teams[i % len(teams)], teams[(i + 1 + i // len(teams)) % len(teams)]
        if h == a:
            a = teams[(i + 2) % len(teams)]
        return ("/v1/predict", {"home": h, "away": a, "date": day, "spread": -2.5,
                                "total": 224.5, "home_ml": -(110 + (tag + i) % 5000),
                                "away_ml": 100 + (tag + i) % 300})
    m = max(60, n // 20)
    r = drive(url, [fresh(i) for i in range(m)], 1)
    report("uncached GET /v1/predict (miss), 1 client", r, "(goal p99 < 200)")
    r = drive(url, [fresh(m + i) for i in range(m)], clients)
    report("uncached GET /v1/predict (miss)", r, "(goal p99 < 200)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", help="drive a running server (with --date)")
    ap.add_argument("--date", default=DAY)
    ap.add_argument("--data-dir", help="a store built by an earlier run (an empty folder is "
                                       "built and kept; default: a temp dir)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("-n", type=int, default=2000, help="requests per cached phase")
    ap.add_argument("--redis-url", default=os.environ.get("TIPOFF_REDIS_URL",
                                                          "redis://127.0.0.1:6379/0"))
    ap.add_argument("--serve-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--now", help=argparse.SUPPRESS)
    ap.add_argument("--prefix", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_child:
        serve_child(args)
        return 0
    if args.url:
        bench(args.url.rstrip("/"), args.date, args.clients, args.n)
        return 0
    with tempfile.TemporaryDirectory() as d:
        root = Path(args.data_dir) if args.data_dir else Path(d)
        if not (root / "models").is_dir():  # an empty --data-dir is built (and kept)
            t0 = time.perf_counter()
            build_store(root)
            print(f"store: {HISTORY[0]}..{HISTORY[1]} simulated history, models, slate {DAY} "
                  f"({time.perf_counter() - t0:.0f} s, not timed)", flush=True)
        prefix = f"tipoff:bench-{uuid.uuid4().hex[:8]}:"
        proc, url = start_server(root, args.redis_url, prefix)
        try:
            bench(url, DAY, args.clients, args.n)
        finally:
            proc.terminate()
            proc.wait(10)
            from resources.cache import Cache
            Cache(args.redis_url, prefix).clear()
        proc, url = start_server(root, "redis://127.0.0.1:1/0", prefix)
        try:
            import httpx
            assert httpx.get(url + "/healthz").json()["cache"]["reachable"] is False
            r = drive(url, [(f"/v1/slates/{DAY}", {})] * max(200, args.n // 5), args.clients)
            report("GET /v1/slates/{date}, Redis unreachable", r, "(from the store)")
        finally:
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
