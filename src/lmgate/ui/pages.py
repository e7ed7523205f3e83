"""The admin pages: one handler per page or form, rendered with Jinja2 (autoescaped templates in
ui/templates). Imported on the first /ui request (ui/__init__.py)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from lmgate import __version__
from lmgate.errors import GatewayError
from lmgate.keys.auth import KEYS
from lmgate.server.reload import RELOADER, reload_every_worker
from lmgate.server.state import STATE
from lmgate.ui import auth, charts, data
from lmgate.ui.auth import SESSION

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("lmgate.ui", "templates"),
    autoescape=True,  # every value is escaped unless a template says otherwise (none does)
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_STATIC = {"app.css": "text/css", "app.js": "text/javascript"}
RELOAD_WAIT_S = 10.0  # how long "reload now" waits for this worker's SIGHUP reload under --workers N
# Strict: nothing from anywhere but this page's origin; no inline script (app.js is a file).
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
NOTICES = {
    "blocked": "Key blocked: requests with it are refused from now on.",
    "unblocked": "Key unblocked.",
    "deleted": "Key revoked and deleted.",
    "updated": "Key limits saved.",
    "reloaded": "Config reloaded.",
    "sighup": "Reload sent to every worker (as SIGHUP); this worker's result is below.",
    "redis": "Reload sent through Redis to every worker of every replica; this worker's result is below.",
}


def _when(t: float | None) -> str:
    if not t:
        return "never"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _money(v: float | None) -> str:
    return "—" if v is None else f"${v:,.4f}" if v < 1 else f"${v:,.2f}"


_ENV.filters.update(when=_when, money=_money)


def render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    session = request.get(SESSION)
    key = auth.secret(request)
    context = {
        "page": template.removesuffix(".html"),
        "csrf": session.csrf(key) if session is not None and key is not None else "",
        "signed_in": session is not None,
        "version": __version__,
        "notice": NOTICES.get(request.query.get("done", "")),
        "pid": os.getpid(),
        **values,
    }
    body = _ENV.get_template(template).render(context)
    return web.Response(text=body, status=status, content_type="text/html", headers=HEADERS)


# ---- login -------------------------------------------------------------------------------------------


def _next(target: str | None) -> str:
    """Only a page of this UI (never another site) after login."""
    if not target or not target.startswith("/ui") or target.startswith("//") or "\\" in target:
        return "/ui/models"
    return target


async def login_page(request: web.Request) -> web.StreamResponse:
    if await auth.current(request) is not None:
        raise web.HTTPSeeOther(_next(request.query.get("next")))
    return render(request, "login.html", next=_next(request.query.get("next")), error=None)


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    given, target = form.get("master_key"), _next(str(form.get("next") or ""))
    if not isinstance(given, str) or not auth.master_key_ok(request, given):
        await asyncio.sleep(0.5)  # a guess costs half a second
        return render(request, "login.html", status=401, next=target, error="That is not the master key.")
    response = web.HTTPSeeOther(target)
    auth.start(request, response)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    session = await auth.require(request)
    response = web.HTTPSeeOther(auth.LOGIN)
    await auth.end(request, response, session)
    raise response


# ---- models ------------------------------------------------------------------------------------------


async def models(request: web.Request) -> web.StreamResponse:
    return render(request, "models.html", models=await data.models(request), source=data.live_state_source(request))


async def models_state(request: web.Request) -> web.StreamResponse:
    """The live part of the Models page alone, fetched by app.js every few seconds."""
    return render(request, "models_state.html", models=await data.models(request), source=data.live_state_source(request))


# ---- traffic and requests ----------------------------------------------------------------------------


async def traffic(request: web.Request) -> web.StreamResponse:
    window = request.query.get("window", "hour")
    if window not in data.WINDOWS:
        window = "hour"
    store = data.log_store(request)
    if store is None:
        return render(request, "traffic.html", window=window, traffic=None, charts=None)
    found = await data.traffic(store, window)
    drawn = {
        "timeline": charts.timeline(found["timeline"], found["bucket_s"]),
        "groups": {name: charts.group_bars(rows) for name, rows in found["groups"].items()},
    }
    return render(request, "traffic.html", window=window, traffic=found, charts=drawn)


async def requests_page(request: web.Request) -> web.StreamResponse:
    filters = {k: request.query.get(k, "").strip() for k in ("alias", "key", "status")}
    store = data.log_store(request)
    rows = await data.recent_requests(store, filters["alias"], filters["key"], filters["status"]) if store is not None else None
    return render(request, "requests.html", rows=rows, filters=filters, logged=store is not None)


# ---- keys --------------------------------------------------------------------------------------------


def _number(form: Any, name: str, kind: type[int] | type[float]) -> int | float | None:
    text = str(form.get(name) or "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise GatewayError(f"'{name}' must be a number", status=400, param=name) from None


def _limits(form: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "max_budget": _number(form, "max_budget", float),
        "rpm_limit": _number(form, "rpm_limit", int),
        "tpm_limit": _number(form, "tpm_limit", int),
    }
    budget_duration = str(form.get("budget_duration") or "").strip()
    body["budget_duration"] = budget_duration or None
    return body


async def _keys_view(request: web.Request) -> dict[str, Any]:
    ring = request.app.get(KEYS)
    if ring is None:
        return {"available": False, "keys": [], "logged": False}
    rows = await data.all_keys(ring.admin) if ring.exists else []
    store = data.log_store(request)
    logged = await data.spend_by_key(store) if store is not None else {}
    for row in rows:
        label = data.key_label(row)
        row["label"] = label
        row["logged_spend"] = logged.get(label, 0.0)
    return {"available": True, "keys": rows, "logged": store is not None}


async def keys_page(request: web.Request, error: str | None = None, created: dict[str, Any] | None = None, status: int = 200) -> web.StreamResponse:
    try:
        view = await _keys_view(request)
    except GatewayError as err:
        view, error = {"available": True, "keys": [], "logged": False}, err.message
    return render(request, "keys.html", status=status, view=view, error=error, created=created, now=time.time())


async def _key_operation(request: web.Request, path: str, body: dict[str, Any]) -> Any:
    from lmgate.keys.admin import perform

    ring = request.app.get(KEYS)
    if ring is None:
        raise GatewayError("virtual keys need general_settings.master_key at start-up", status=400)
    return await perform(ring, path, body)


async def key_create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        body = {k: v for k, v in _limits(form).items() if v is not None}
        alias = str(form.get("key_alias") or "").strip()
        if alias:
            body["key_alias"] = alias
        models = [m.strip() for m in str(form.get("models") or "").split(",") if m.strip()]
        if models:
            body["models"] = models
        duration = str(form.get("duration") or "").strip()
        if duration:
            body["duration"] = duration
        result = await _key_operation(request, "/key/generate", body)
    except GatewayError as err:
        return await keys_page(request, error=err.message, status=err.status)
    # the value is shown on this answer only (never stored: the database keeps its hash)
    return await keys_page(request, created={"key": result.body["key"], "label": result.body.get("key_alias") or result.body["key_name"]})


def _key_action(path: str, done: str) -> Handler:
    async def act(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        token = str(form.get("token") or "")
        body: dict[str, Any] = {"keys": [token]} if path == "/key/delete" else {"key": token}
        try:
            if path == "/key/update":
                body.update(_limits(form))
            await _key_operation(request, path, body)
        except GatewayError as err:
            return await keys_page(request, error=err.message, status=err.status)
        raise web.HTTPSeeOther(f"/ui/keys?{urlencode({'done': done})}")

    return act


# ---- config ------------------------------------------------------------------------------------------


async def config_page(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE]
    reloader = request.app[RELOADER]
    return render(
        request, "config.html",
        text=data.masked_config(request),
        source=str(st.config.source) if st.config.source else None,
        loaded_at=st.config.loaded_at,
        warnings=st.config.warnings,
        last=reloader.last,
        reloads=reloader.reloads,
        workers=st.router.worker.count,
        shared=reloader.listening,
    )


async def config_reload(request: web.Request) -> web.StreamResponse:
    reloader = request.app[RELOADER]
    before = reloader.last
    result = await reload_every_worker(request.app, "web UI")
    if isinstance(result, str):  # sent to every worker: wait for it to come back round to this one
        deadline = time.monotonic() + RELOAD_WAIT_S
        while reloader.last is before and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        raise web.HTTPSeeOther(f"/ui/config?done={result}")
    raise web.HTTPSeeOther("/ui/config?done=reloaded" if result.ok else "/ui/config")


# ---- dispatch ----------------------------------------------------------------------------------------

# (method, path) -> handler; every one but the login page needs a session (and POSTs its CSRF token)
PAGES: dict[tuple[str, str], Handler] = {
    ("GET", "/ui/models"): models,
    ("GET", "/ui/models/state"): models_state,
    ("GET", "/ui/traffic"): traffic,
    ("GET", "/ui/requests"): requests_page,
    ("GET", "/ui/keys"): keys_page,
    ("POST", "/ui/keys/create"): key_create,
    ("POST", "/ui/keys/block"): _key_action("/key/block", "blocked"),
    ("POST", "/ui/keys/unblock"): _key_action("/key/unblock", "unblocked"),
    ("POST", "/ui/keys/update"): _key_action("/key/update", "updated"),
    ("POST", "/ui/keys/delete"): _key_action("/key/delete", "deleted"),
    ("GET", "/ui/config"): config_page,
    ("POST", "/ui/config/reload"): config_reload,
    ("POST", "/ui/logout"): logout,
}
PUBLIC: dict[tuple[str, str], Handler] = {("GET", auth.LOGIN): login_page, ("POST", auth.LOGIN): login}


def _static(name: str) -> web.StreamResponse:
    kind = _STATIC.get(name)
    if kind is None:
        raise web.HTTPNotFound()
    body = files("lmgate.ui").joinpath("static", name).read_bytes()
    return web.Response(body=body, content_type=kind, headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"})


async def handle(request: web.Request) -> web.StreamResponse:
    path = request.path.rstrip("/") or "/"
    if path.startswith("/ui/static/"):
        return _static(path.removeprefix("/ui/static/"))  # a stylesheet and a script: nothing secret
    if request.app[STATE].config.master_key is None:
        message = "The admin UI needs general_settings.master_key: set one in the config and reload or restart lmgate."
        return render(request, "error.html", status=403, title="Admin UI is off", message=message)
    public = PUBLIC.get((request.method, path))
    if public is not None:
        return await public(request)
    handler = PAGES.get((request.method, path))
    try:
        await auth.require(request)  # unknown paths too: nothing about the UI is shown before login
    except web.HTTPForbidden as refused:
        return render(request, "error.html", status=403, title="Form refused", message=refused.text)
    if path == "/ui":
        raise web.HTTPSeeOther("/ui/models")
    if handler is None:
        return render(request, "error.html", status=404, title="No such page", message=f"There is no page at {path}.")
    return await handler(request)
