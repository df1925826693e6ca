"""The HTTP API of `tipoff serve` (FastAPI; OpenAPI docs at /docs).

    GET /healthz               model versions, data freshness, cache status (no API key needed)
    GET /v1/slates/{date}      the date's latest (or PINNED) scored slate
    GET /v1/predict            ?home=BOS&away=LAL&date=YYYY-MM-DD[&spread=&total=&home_ml=&away_ml=]
    GET /v1/games/{game_id}    a game's latest prediction, result once final, latest in-game score

Every answer is computed by `pipeline_assets.serving.Service` (plain functions over the stores,
cached in Redis).  A caller's mistake is a 4xx with {"detail": message}.  When `TIPOFF_API_KEYS`
(comma-separated) is set, every route but /healthz needs one of them in the `X-API-Key` header.
"""
from __future__ import annotations

import hmac
import os
import threading
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from pipeline_assets.serving import Plan, ServingError, Service
from resources.cache import dumps

API_KEYS_ENV = "TIPOFF_API_KEYS"


class StrictJSON(JSONResponse):
    """JSON without NaN (null instead), compact."""

    def render(self, content) -> bytes:
        return dumps(content)


def api_keys_from_env() -> tuple[str, ...]:
    return tuple(k.strip() for k in os.environ.get(API_KEYS_ENV, "").split(",") if k.strip())


def create_app(service: Service | None = None, api_keys: tuple[str, ...] | None = None,
               warm: bool = True) -> FastAPI:
    """The app over `service` (default: the data root and Redis of the environment).  With
    `warm`, starting the app (each uvicorn worker) warms the service in a background thread
    (`Service.warm`: today's matchup grid and its scores), so /healthz answers at once and no
    user request pays for the build."""
    service = service or Service()
    keys = api_keys_from_env() if api_keys is None else tuple(api_keys)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        if warm:
            threading.Thread(target=service.warm, name="tipoff-warm", daemon=True).start()
        yield

    app = FastAPI(title="Tipoff", version="1", default_response_class=StrictJSON, lifespan=lifespan,
                  description="Leak-free NBA predictions: scored slates, on-demand matchups, games.")
    app.state.service = service

    async def require_key(x_api_key: str | None = Header(default=None, alias="X-API-Key")) -> None:
        if not keys:
            return
        if not x_api_key:
            raise HTTPException(401, "missing API key: send it in the X-API-Key header")
        if not any(hmac.compare_digest(x_api_key, k) for k in keys):
            raise HTTPException(403, "invalid API key")

    @app.exception_handler(ServingError)
    async def serving_error(_: Request, exc: ServingError):
        return StrictJSON({"detail": str(exc)}, status_code=exc.status)

    async def respond(plan: Plan) -> Response:
        """A cache hit goes out as the stored bytes, on the event loop; a miss is computed in
        the thread pool (feature builds, models, Monte Carlo)."""
        raw = service.cached_bytes(plan)
        if raw is not None:
            return Response(raw, media_type="application/json")
        return StrictJSON(await run_in_threadpool(service.answer, plan))

    @app.get("/healthz", summary="Model versions, data freshness and cache status")
    def healthz():
        return service.health()

    @app.get("/v1/slates/{date}", dependencies=[Depends(require_key)],
             summary="The date's latest (or pinned) scored slate")
    async def slate(date: str):
        return await respond(service.plan_slate(date))

    @app.get("/v1/predict", dependencies=[Depends(require_key)],
             summary="On-demand prediction of a matchup on a date from today on, as of now")
    async def predict(home: str = Query(..., description="home team tricode (BOS) or team id"),
                away: str = Query(..., description="away team tricode or team id"),
                date: str = Query(..., description="league date YYYY-MM-DD, today or later"),
                spread: float | None = Query(None, description="home spread, e.g. -3.5"),
                total: float | None = Query(None, description="total points line"),
                home_ml: float | None = Query(None, description="home American price, e.g. -150"),
                away_ml: float | None = Query(None, description="away American price, e.g. 130")):
        return await respond(service.plan_predict(home, away, date, spread=spread, total=total,
                                                  home_ml=home_ml, away_ml=away_ml))

    @app.get("/v1/games/{game_id}", dependencies=[Depends(require_key)],
             summary="A game's latest prediction, its result once final, its latest in-game score")
    async def game(game_id: str):
        return await respond(service.plan_game(game_id))

    return app


def app_from_env() -> FastAPI:
    """The uvicorn factory `tipoff serve` uses (`pipeline_assets.api:app_from_env`)."""
    return create_app()
