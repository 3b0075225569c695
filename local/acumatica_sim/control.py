"""The ``/_sim`` control API (never subject to auth, limits or fault injection)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from acumatica_sim.app import jsonable
from acumatica_sim.queries import QUERIES

if TYPE_CHECKING:
    from acumatica_sim.app import AcumaticaSimulator


async def state(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    return JSONResponse(sim.dump())

async def reset(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    body = await _json(request)
    sim.reset(body.get("seed") if isinstance(body, dict) else None)
    return JSONResponse({"ok": True})

async def clock(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    body = await _json(request)
    return JSONResponse({"now": sim.advance(float(body.get("seconds", 0))).isoformat()})

async def stamp_lag(request: Request) -> Response:
    """Long transactions: ``{"seconds": N}`` stamps later transactions N seconds before their commit (0 ends)."""
    sim: AcumaticaSimulator = request.app.state.sim
    try:
        return JSONResponse({"seconds": sim.set_stamp_lag(float((await _json(request)).get("seconds", 0)))})
    except (ValueError, TypeError, AttributeError) as e:
        return JSONResponse({"error": str(e)}, status_code=400)

async def limits(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    if request.method == "PUT":
        try:
            return JSONResponse(sim.set_limits(**(await _json(request))))
        except (ValueError, TypeError) as e:
            return JSONResponse({"error": str(e)}, status_code=400)
    return JSONResponse({**sim.config.limits.to_dict(), "counters": sim.sessions.snapshot()})

async def faults(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    if request.method == "POST":
        try:
            return JSONResponse(jsonable(sim.faults.add(await _json(request)).__dict__))
        except (ValueError, TypeError) as e:
            return JSONResponse({"error": str(e)}, status_code=400)
    if request.method == "DELETE":
        sim.faults.clear()
        return Response(status_code=204)
    return JSONResponse({"rules": sim.faults.rules(), "stats": sim.faults.stats,
                         "late_commits": sim.faults.late_commits_view()})

async def numbering(request: Request) -> Response:
    """The next number of each sequence; PUT ``{"ST": 24}`` sets an order type's (see ``set_next_number``)."""
    sim: AcumaticaSimulator = request.app.state.sim
    if request.method == "PUT":
        body = await _json(request)
        if not isinstance(body, dict):
            return JSONResponse({"error": 'send {"<order type>": <next number>, ...}'}, status_code=400)
        try:
            for order_type, next_number in body.items():
                sim.set_next_number(order_type, next_number)
        except ValueError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
    with sim.lock:
        return JSONResponse(dict(sim.store.numbering))

async def destinations(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    if request.method == "PUT":
        try:
            sim.set_push_destinations(await _json(request))
        except (ValueError, TypeError) as e:
            return JSONResponse({"error": str(e)}, status_code=400)
    return JSONResponse([d.__dict__ for d in sim.push.destinations])

async def push_faults(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    if request.method == "PUT":
        try:
            return JSONResponse(sim.set_push_faults(**(await _json(request))))
        except (ValueError, TypeError) as e:
            return JSONResponse({"error": str(e)}, status_code=400)
    return JSONResponse(sim.config.push_faults.to_dict())

async def push_settings(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    if request.method == "PUT":
        try:
            sim.push.set_settings(**(await _json(request)))
        except (ValueError, TypeError) as e:
            return JSONResponse({"error": str(e)}, status_code=400)
    return JSONResponse(sim.config.push.__dict__)

async def failed(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    if request.method == "DELETE":
        return JSONResponse({"deleted": sim.push.delete_failed()})
    return JSONResponse(jsonable(sim.push.failed_list()))

async def resend(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    return JSONResponse({"resent": sim.push.resend_failed()})

async def log(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    return JSONResponse(sim.push.log_view())

async def sent(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    return JSONResponse(sim.push.sent)

async def pause(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    sim.push.pause()
    return JSONResponse({"paused": True})

async def resume(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    sim.push.resume()
    return JSONResponse({"paused": False})

async def idle(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    timeout = float(request.query_params.get("timeout", "10"))
    import asyncio

    ok = await asyncio.to_thread(sim.wait_push_idle, timeout)
    return JSONResponse({"idle": ok})

async def query_defs(request: Request) -> Response:
    return JSONResponse([{"name": q.name, "columns": list(q.columns), "key": list(q.key)} for q in QUERIES])

async def shipvias(request: Request) -> Response:
    sim: AcumaticaSimulator = request.app.state.sim
    return JSONResponse([{"ShipVia": k, "Description": v["Description"]} for k, v in sim.store.shipvias.items()])


def control_routes(sim: AcumaticaSimulator) -> list[Route]:
    return [
        Route("/_sim/state", state, methods=["GET"]), Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/clock/advance", clock, methods=["POST"]), Route("/_sim/limits", limits, methods=["GET", "PUT"]),
        Route("/_sim/clock/stamp-lag", stamp_lag, methods=["PUT"]),
        Route("/_sim/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sim/numbering", numbering, methods=["GET", "PUT"]),
        Route("/_sim/push/destinations", destinations, methods=["GET", "PUT"]),
        Route("/_sim/push/faults", push_faults, methods=["GET", "PUT"]),
        Route("/_sim/push/settings", push_settings, methods=["GET", "PUT"]),
        Route("/_sim/push/failed", failed, methods=["GET", "DELETE"]),
        Route("/_sim/push/failed/resend", resend, methods=["POST"]),
        Route("/_sim/push/log", log, methods=["GET"]), Route("/_sim/push/sent", sent, methods=["GET"]),
        Route("/_sim/push/pause", pause, methods=["POST"]), Route("/_sim/push/resume", resume, methods=["POST"]),
        Route("/_sim/push/idle", idle, methods=["GET"]), Route("/_sim/push/queries", query_defs, methods=["GET"]),
        Route("/_sim/shipvias", shipvias, methods=["GET"]),
    ]


async def _json(request: Request) -> Any:
    raw = await request.body()
    import json

    return json.loads(raw) if raw else {}
