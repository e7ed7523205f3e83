"""`lmgate drill ALIAS`: prove a fallback chain by breaking its tiers on purpose.

For a chain `a -> b -> c` the drill starts the real gateway app in-process on a loopback port once per
round: round 0 breaks nothing, round 1 breaks `a`, round 2 breaks `a` and `b`. A broken tier's
deployments are rewritten to point at a loopback target that fails the chosen way (`refused`: a
closed port; `error`: a server answering 503; `hang`: a server that accepts and never answers) and
lose their keys, so no secret is ever sent anywhere new. The round's request goes through the real
router, and the `x-lmgate-deployment` / `x-lmgate-route` headers say who answered and what was
tried. A round fails when the wrong tier answers or when answering took longer than the target.

The copy of the config used for the rounds has the request log, database and callbacks switched
off, so drill requests are not counted as usage, and no file watch (the real file is not re-read).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from lmgate.config import Deployment, RuntimeConfig
from lmgate.config.loader import prepare
from lmgate.ops.common import classify_failure, new_session
from lmgate.providers import adapter_for

FAILURE_MODES = ("refused", "error", "hang")
DEFAULT_TARGET_S = 5.0
MIN_ROUND_LIMIT_S = 30.0  # a round is abandoned after max(this, 3 x target), whatever the config's timeouts say


@dataclass(slots=True)
class DrillRound:
    broken: list[str]
    expected: str | None  # the tier that should answer (None in round 0: any)
    answered_by: str | None = None  # deployment name from x-lmgate-deployment
    answered_alias: str | None = None
    route: str = ""
    status: int | None = None
    seconds: float = 0.0
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(slots=True)
class DrillReport:
    alias: str
    tiers: list[str]
    failure: str
    target_seconds: float
    rounds: list[DrillRound] = field(default_factory=list)
    problem: str | None = None  # the drill could not run at all

    @property
    def ok(self) -> bool:
        return self.problem is None and bool(self.rounds) and all(r.ok for r in self.rounds)

    def as_json(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "tiers": self.tiers,
            "failure": self.failure,
            "target_seconds": self.target_seconds,
            "ok": self.ok,
            "problem": self.problem,
            "rounds": [{**asdict(r), "ok": r.ok} for r in self.rounds],
        }


def _broken(d: Deployment, base: str) -> Deployment:
    adapter = adapter_for("openai")
    assert adapter is not None
    return prepare(
        dataclasses.replace(
            d, provider="openai", adapter=adapter, api_base=base, api_key=None, extra_headers={}, params={},
            organization=None,
        )
    )


def drill_config(config: RuntimeConfig, broken: set[str], base: str) -> RuntimeConfig:
    """A copy of `config` whose aliases in `broken` point at `base`; no logging, sinks or file watch."""
    deployments = [_broken(d, base) if d.alias in broken else d for d in config.deployments]
    aliases: dict[str, list[Deployment]] = {}
    for d in deployments:
        aliases.setdefault(d.alias, []).append(d)
    file = config.file.model_copy(
        update={
            "general_settings": config.file.general_settings.model_copy(update={"request_log_path": False, "database_url": None}),
            "litellm_settings": config.file.litellm_settings.model_copy(update={"callbacks": None, "success_callback": None}),
        }
    )
    return dataclasses.replace(config, source=None, file=file, deployments=deployments, aliases=aliases)


@asynccontextmanager
async def _serving(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def _failing_app(mode: str) -> web.Application:
    async def answer(request: web.Request) -> web.Response:
        if mode == "hang":
            await asyncio.Event().wait()  # until the drill ends and the server is torn down
        body = b'{"error": {"message": "lmgate drill: this tier is broken on purpose", "type": "server_error"}}'
        return web.Response(status=503, body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


@asynccontextmanager
async def _failing_target(mode: str) -> AsyncIterator[str]:
    if mode == "refused":
        # bind a port, close it: nothing listens there while the round runs
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        yield f"http://127.0.0.1:{port}/v1"
        return
    async with _serving(_failing_app(mode)) as url:
        yield url + "/v1"


def _request(config: RuntimeConfig, alias: str) -> tuple[str, dict[str, Any]]:
    deps = config.aliases[alias]
    if deps[0].mode == "embedding":
        return "/v1/embeddings", {"model": alias, "input": "lmgate drill"}
    return "/v1/chat/completions", {"model": alias, "messages": [{"role": "user", "content": "lmgate drill: reply ok"}], "max_tokens": 5}


async def run_round(config: RuntimeConfig, alias: str, broken: list[str], expected: str | None, base: str, target: float) -> DrillRound:
    from lmgate.server.app import create_app  # the server stack loads only when a drill runs

    rnd = DrillRound(broken, expected)
    path, body = _request(config, alias)
    headers = {"Authorization": f"Bearer {config.master_key}"} if config.master_key else {}
    names = {d.name: d.alias for d in config.deployments}
    async with _serving(create_app(drill_config(config, set(broken), base))) as url, new_session() as session:
        started = time.monotonic()
        try:
            async with session.post(url + path, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=max(MIN_ROUND_LIMIT_S, 3 * target))) as resp:
                text = await resp.text()
                rnd.status = resp.status
                rnd.answered_by = resp.headers.get("x-lmgate-deployment")
                rnd.route = resp.headers.get("x-lmgate-route", "")
        except (TimeoutError, aiohttp.ClientError) as exc:
            rnd.seconds = time.monotonic() - started
            rnd.problem = f"no answer from the gateway ({classify_failure(exc)[1]} after {rnd.seconds:.1f} s): lower the tiers' timeout / connect_timeout"
            return rnd
        rnd.seconds = time.monotonic() - started
    rnd.answered_alias = names.get(rnd.answered_by or "")
    if rnd.status != 200:
        rnd.problem = f"the gateway answered {rnd.status}: {text[:300]} (run `lmgate doctor --model {alias}` for the tiers that should have answered)"
    elif expected is not None and rnd.answered_alias != expected:
        rnd.problem = f"expected tier '{expected}' to answer, but '{rnd.answered_alias}' did"
    elif rnd.seconds > target:
        rnd.problem = (
            f"took {rnd.seconds:.1f} s, over the {target:g} s target: lower connect_timeout/timeout on the broken tiers, "
            "or set num_retries lower"
        )
    return rnd


async def run_drill(
    config: RuntimeConfig,
    alias: str,
    failure: str = "refused",
    target: float = DEFAULT_TARGET_S,
    on_round: Callable[[DrillRound], None] | None = None,
) -> DrillReport:
    if alias not in config.aliases:
        known = ", ".join(sorted(config.aliases))
        return DrillReport(alias, [], failure, target, problem=f"no model_name '{alias}' in the config (known: {known})")
    chain = config.chains.get(alias)
    tiers = [alias, *(chain.fallbacks if chain else ())]
    report = DrillReport(alias, tiers, failure, target)
    if len(tiers) < 2:
        report.problem = f"'{alias}' has no fallback chain to drill: add router_settings.fallbacks: [{{{alias}: [<backup alias>]}}]"
        return report
    async with _failing_target(failure) as base:
        for k in range(len(tiers)):
            rnd = await run_round(config, alias, tiers[:k], tiers[k] if k else None, base, target)
            report.rounds.append(rnd)
            if on_round:
                on_round(rnd)
    return report
