"""The admin web UI at /ui, served by the gateway itself: server-rendered pages (Jinja2 templates in
ui/templates, one stylesheet and one script in ui/static), behind a login with the master key.

`install(app)` adds two routes and nothing else: the pages module (Jinja2, SQLAlchemy queries) is
imported on the first /ui request, so the model endpoints never pay for it.
"""

from __future__ import annotations

from aiohttp import web

PREFIX = "/ui"


def is_ui_path(path: str) -> bool:
    """/ui and everything under it: the UI's own cookie login guards these, not the API key check."""
    return path == PREFIX or path.startswith(PREFIX + "/")


async def _dispatch(request: web.Request) -> web.StreamResponse:
    from lmgate.ui import pages  # Jinja2 and the queries load with the first /ui request

    return await pages.handle(request)


def install(app: web.Application) -> None:
    from lmgate.ui.auth import SIGNED_OUT, SignedOut

    app[SIGNED_OUT] = SignedOut()
    app.router.add_route("*", PREFIX, _dispatch)
    app.router.add_route("*", PREFIX + "/{tail:.*}", _dispatch)
