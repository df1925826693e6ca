"""HTTP API latency benchmark (issue 11): the running `tipoff serve`, driven by concurrent clients
in separate processes.

By default builds ~90 days of simulated history in a store (history_job, train_job with the fast
grid, a scored slate through `tipoff run`; not timed; `--data-dir` keeps it for the next run),
starts `tipoff serve` as a child process (`TIPOFF_NOW` fixed half an hour after the slate's as-of so
the slate's date is "today"; `--workers` uvicorn workers) on the real Redis under a unique key
prefix, and measures, at 1, 8 and 32 concurrent clients (`--clients`):

* cached: /v1/slates/{date}, a repeated /v1/predict, /v1/games/{id} (answered from Redis);
* uncached on-demand: /v1/predict with prices no one asked before (a cache miss each), after
  every worker reports its warm-up (the date's matchup grid and its scores) done in /healthz;
* throughput (requests/s) of each phase; and the slate with Redis unreachable (from the store).

Each client is its own process (spawned, stdlib only: `http.client` on one keep-alive connection),
so the client's Python is not in the server's GIL; all clients start together on a barrier and
throughput is requests / (last finish - first start).  The machine's load average is printed with
each phase (the server and the clients share the same cores).

Goals: cached p50 < 5 ms and p99 < 20 ms; uncached on-demand p99 < 200 ms (after warm-up).
`--url http://host:port --date D` drives a server that is already running (its own store and
clock); `--results bench/RESULTS.md` appends the table there.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import platform
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HISTORY = ("2025-10-21", "2026-01-20")
DAY = "2026-01-21"
AS_OF = f"{DAY}T17:00:00+00:00"
NOW = f"{DAY}T17:30:00+00:00"
CACHED_GOAL = (5.0, 20.0)      # p50, p99 ms
UNCACHED_P99_GOAL = 200.0


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, timeout: float = 120) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def start_server(data_dir: Path, redis_url: str, prefix: str, workers: int
                 ) -> tuple[subprocess.Popen, str]:
    """`tipoff serve` (the real command) in a child process; (process, base URL) once it answers."""
    port = free_port()
    env = dict(os.environ, TIPOFF_DATA_DIR=str(data_dir), PYTHONPATH=str(REPO), TIPOFF_NOW=NOW,
               TIPOFF_REDIS_URL=redis_url, TIPOFF_CACHE_PREFIX=prefix)
    env.pop("TIPOFF_API_KEYS", None)
    env.pop("TIPOFF_PREDICTIONS_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "pipeline_assets.cli", "serve", "--port",
                             str(port), "--workers", str(workers), "--log-level", "warning"],
                            env=env, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    for _ in range(3000):
        try:
            get_json(url + "/healthz", timeout=2)
            return proc, url
        except OSError:
            pass
        if proc.poll() is not None:
            raise SystemExit("the server process exited")
        time.sleep(0.1)
    proc.terminate()  # uvicorn's supervisor stops its workers (a kill would orphan them)
    raise SystemExit("the server did not come up in 300 s")


# ----------------------------------------------------------------------------- client processes

def _client(url: str, paths: list[str], barrier, out) -> None:
    """One client process: one keep-alive connection, `paths` in order, latencies out."""
    u = urllib.parse.urlsplit(url)
    lat, error = [], None
    barrier.wait()  # every client spawned (slow under load: connect after, or keep-alive expires)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    conn.request("GET", "/healthz")
    conn.getresponse().read()
    start = time.monotonic()   # CLOCK_MONOTONIC: one clock for every process of the machine
    for path in paths:
        t0 = time.perf_counter()
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        lat.append(time.perf_counter() - t0)
        if r.status != 200 and error is None:
            error = f"{r.status} {body[:200]!r}"
    out.put((lat, start, time.monotonic(), error))
    conn.close()


def drive(url: str, paths: list[str], clients: int) -> dict:
    """Issue `paths` spread over `clients` client processes that start together."""
    ctx = mp.get_context("spawn")
    chunks = [paths[i::clients] for i in range(clients)]
    chunks = [c for c in chunks if c]
    barrier, out = ctx.Barrier(len(chunks)), ctx.Queue()
    procs = [ctx.Process(target=_client, args=(url, c, barrier, out)) for c in chunks]
    for p in procs:
        p.start()
    results = []
    while len(results) < len(procs):
        try:
            results.append(out.get(timeout=1))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in procs):
                for p in procs:
                    p.kill()
                raise SystemExit("a client process failed (see its traceback above)")
    for p in procs:
        p.join()
    errors = [e for *_, e in results if e]
    if errors:
        raise SystemExit(f"{len(errors)} client(s) got errors, e.g. {errors[0]}")
    ms = sorted(x * 1000 for lat, *_ in results for x in lat)
    wall = max(r[2] for r in results) - min(r[1] for r in results)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"n": len(ms), "clients": len(chunks), "p50": q[49], "p99": q[98], "max": ms[-1],
            "rps": len(ms) / wall, "load": os.getloadavg()[0]}


def path(p: str, params: dict | None = None) -> str:
    return p + ("?" + urllib.parse.urlencode(params) if params else "")


ROWS: list[dict] = []


def report(name: str, r: dict, goal: str = "") -> None:
    verdict = ""
    if goal == "cached":
        ok = r["p50"] < CACHED_GOAL[0] and r["p99"] < CACHED_GOAL[1]
        verdict = "met" if ok else "missed"
    elif goal == "uncached":
        verdict = "met" if r["p99"] < UNCACHED_P99_GOAL else "missed"
    ROWS.append({"name": name, **r, "verdict": verdict})
    print(f"{name:<40} n={r['n']:>5} c={r['clients']:<2} p50={r['p50']:8.2f} ms  "
          f"p99={r['p99']:8.2f} ms  max={r['max']:8.1f} ms  {r['rps']:8.1f} req/s  "
          f"load1={r['load']:.1f}  {verdict}", flush=True)


def wait_warm(url: str, workers: int, timeout: float = 300) -> None:
    """Until `workers` distinct worker processes report their warm-up (`Service.warm`: today's
    matchup grid and its scores) done in /healthz (a new connection each time: the kernel
    spreads them over the workers)."""
    t0, ready = time.perf_counter(), {}
    while len(ready) < workers:
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"only {len(ready)} of {workers} workers warm after {timeout:.0f} s")
        w = get_json(url + "/healthz").get("warm", {})
        if w.get("state") == "ready":
            ready[w["pid"]] = w["seconds"]
        elif w.get("state", "").startswith("not warmed"):
            raise SystemExit(f"a worker did not warm up: {w['state']}")
        else:
            time.sleep(0.05)
    print(f"every worker warm {time.perf_counter() - t0:.1f} s after /healthz first answered "
          f"(warm-up seconds per worker: {sorted(ready.values())}); load1 "
          f"{os.getloadavg()[0]:.1f}", flush=True)


def bench(url: str, day: str, client_counts: list[int], n: int, n_miss: int,
          workers: int | None = None) -> None:
    if workers:
        wait_warm(url, workers)
    slate = get_json(f"{url}/v1/slates/{day}")
    games = slate["games"]
    g = games[0]
    q = {"home": g["home"]["abbr"], "away": g["away"]["abbr"], "date": day}
    t0 = time.perf_counter()
    first = get_json(url + path("/v1/predict", q))
    print(f"first /v1/predict of {day} without prices: "
          f"{(time.perf_counter() - t0) * 1000:.0f} ms (compute_ms {first.get('compute_ms')}); "
          f"{len(games)} games on the slate; load1 {os.getloadavg()[0]:.1f}", flush=True)
    drive(url, [path(f"/v1/slates/{day}"), path("/v1/predict", q),
                path(f"/v1/games/{g['game_id']}")] * 100, 4)

    teams = sorted({x["home"]["abbr"] for x in games} | {x["away"]["abbr"] for x in games})
    tag = uuid.uuid4().int % 100_000
    counter = iter(range(10**9))

    def fresh() -> str:
        i = next(counter)
        h, a = teams[i % len(teams)], teams[(i // len(teams) + i + 1) % len(teams)]
        if h == a:
            a = teams[(i + 2) % len(teams)]
        return path("/v1/predict", {"home": h, "away": a, "date": day, "spread": -2.5,
                                    "total": 224.5, "home_ml": -(110 + (tag + i) % 90_000),
                                    "away_ml": 100 + i % 300})
    drive(url, [fresh() for _ in range(20)], 2)  # the models' and Monte Carlo's first calls

    for c in client_counts:
        report("cached GET /v1/slates/{date}", drive(url, [path(f"/v1/slates/{day}")] * n, c),
               "cached")
        report("cached GET /v1/predict", drive(url, [path("/v1/predict", q)] * n, c), "cached")
        report("cached GET /v1/games/{id}", drive(url, [path(f"/v1/games/{g['game_id']}")] * n, c),
               "cached")
        m = max(n_miss, 3 * c)
        report("uncached GET /v1/predict (miss)", drive(url, [fresh() for _ in range(m)], c),
               "uncached")


def results_markdown(args, extra: str) -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor()) \
        if Path("/proc/cpuinfo").exists() else platform.processor()
    lines = [f"### {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: `python bench/bench_api.py "
             f"{' '.join(sys.argv[1:])}`", "",
             f"{os.cpu_count()} CPU ({cpu}), shared with other work: load average "
             f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min) at the end; "
             f"uvicorn workers: {args.workers}; clients: separate processes (http.client, one "
             f"keep-alive connection each) on the same cores as the server.", "",
             "| request | clients | n | p50 ms | p99 ms | max ms | req/s | load1 | goal |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in ROWS:
        lines.append(f"| {r['name']} | {r['clients']} | {r['n']} | {r['p50']:.2f} | "
                     f"{r['p99']:.2f} | {r['max']:.1f} | {r['rps']:,.0f} | {r['load']:.1f} | "
                     f"{r['verdict'] or '--'} |")
    return "\n".join(lines) + "\n" + extra


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", help="drive a running server (with --date)")
    ap.add_argument("--date", default=DAY)
    ap.add_argument("--data-dir", help="a store built by an earlier run (an empty folder is "
                                       "built and kept; default: a temp dir)")
    ap.add_argument("--clients", default="1,8,32", help="concurrent client processes per phase")
    ap.add_argument("-n", type=int, default=2000, help="requests per cached phase")
    ap.add_argument("--misses", type=int, default=60, help="requests per uncached phase (at "
                                                           "least 3 per client)")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn workers of the server")
    ap.add_argument("--redis-url", default=os.environ.get("TIPOFF_REDIS_URL",
                                                          "redis://127.0.0.1:6379/0"))
    ap.add_argument("--results", help="append the table to this markdown file")
    args = ap.parse_args()
    counts = [int(c) for c in args.clients.split(",") if c.strip()]
    extra = ""
    if args.url:
        bench(args.url.rstrip("/"), args.date, counts, args.n, args.misses)
    else:
        with tempfile.TemporaryDirectory() as d:
            root = Path(args.data_dir) if args.data_dir else Path(d)
            if not (root / "models").is_dir():  # an empty --data-dir is built (and kept)
                t0 = time.perf_counter()
                build_store(root)
                print(f"store: {HISTORY[0]}..{HISTORY[1]} simulated history, models, slate {DAY} "
                      f"({time.perf_counter() - t0:.0f} s, not timed)", flush=True)
            prefix = f"tipoff:bench-{uuid.uuid4().hex[:8]}:"
            proc, url = start_server(root, args.redis_url, prefix, args.workers)
            try:
                bench(url, DAY, counts, args.n, args.misses, args.workers)
            finally:
                proc.terminate()
                proc.wait(20)
                sys.path.insert(0, str(REPO))
                from resources.cache import Cache
                Cache(args.redis_url, prefix).clear()
            proc, url = start_server(root, "redis://127.0.0.1:1/0", prefix, args.workers)
            try:
                assert get_json(url + "/healthz")["cache"]["reachable"] is False
                wait_warm(url, args.workers)  # measured without the warm-up's CPU, as above
                c = max(counts)
                report("GET /v1/slates/{date}, Redis unreachable",
                       drive(url, [path(f"/v1/slates/{DAY}")] * max(200, args.n // 5), c))
            finally:
                proc.terminate()
                proc.wait(20)
    if args.results:
        with open(args.results, "a") as f:
            f.write("\n" + results_markdown(args, extra))
        print(f"appended to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
