"""Every deployment's state for GET /health: healthy, cooling down (until when, why) or over quota, and
the endpoints it said it does not serve (capability, not health: the state stays healthy)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from yarl import URL

from lmgate.limits import Quota, QuotaUsage
from lmgate.routing import usage_limits
from lmgate.routing.router import Router


def _over(quota: Quota, usage: QuotaUsage) -> str | None:
    if quota.rpm is not None and usage.requests_minute >= quota.rpm:
        return f"rpm {usage.requests_minute}/{quota.rpm}"
    if quota.tpm is not None and usage.tokens_minute >= quota.tpm:
        return f"tpm {usage.tokens_minute}/{quota.tpm}"
    if quota.rpd is not None and usage.requests_day >= quota.rpd:
        return f"rpd {usage.requests_day}/{quota.rpd}"
    return None


def _public_base(api_base: str) -> str:
    url = URL(api_base)
    return str(url.with_user(None)) if url.user or url.password else api_base


async def deployment_states(router: Router) -> dict[str, Any]:
    """The /health body: one row per deployment, counts, and each alias's resolved chain."""
    rows: list[dict[str, Any]] = []
    state = router.state
    for d in router.config.deployments:
        stats = state.stats.get(d.name)
        quota = router.quota_of(d.name)
        row: dict[str, Any] = {
            "deployment": d.name,
            "model_name": d.alias,
            "model": f"{d.provider}/{d.upstream_model}",
            "api_base": _public_base(d.api_base),
            "state": "healthy",
            "in_flight": stats.in_flight if stats else 0,
            "requests": stats.requests if stats else 0,
            "failures": stats.failures if stats else 0,
            "failures_last_minute": state.cooldowns.recent_failures(d.name),
            "latency_ms": round(stats.latency * 1000, 1) if stats and stats.latency is not None else None,
            "last_error": (stats.last_error or None) if stats else None,
            "data_policy": d.data_policy,
        }
        if (limit := router.parallel_of(d.name)) is not None:
            row["max_parallel_requests"] = limit
        if d.alias in router.warm_aliases:
            row["loaded"] = state.warm.is_loaded(d)  # None until /api/ps or an answer said
        cooling = state.cooldowns.state(d.name)
        if cooling is not None:
            left, reason = cooling
            until = datetime.fromtimestamp(time.time() + left, UTC).isoformat(timespec="seconds")
            row.update(state="cooling_down", reason=reason, cooldown_until=until, cooldown_remaining_s=round(left, 1))
            if (kind := usage_limits.kind_of(reason)) is not None:
                row["usage_limit"] = kind  # Ollama Cloud session / weekly limit
        unsupported = router.capabilities.of(d.name)
        if unsupported:  # capability, not health: the state stays as it is
            row["unsupported"] = {
                ep: {"reason": why, "until": datetime.fromtimestamp(time.time() + left, UTC).isoformat(timespec="seconds")}
                for ep, (left, why) in unsupported.items()
            }
        if quota:
            usage = await state.quotas.usage(d.name)
            row["quota"] = {
                "rpm": [usage.requests_minute, quota.rpm],
                "tpm": [usage.tokens_minute, quota.tpm],
                "rpd": [usage.requests_day, quota.rpd],
            }
            over = _over(quota, usage)
            if over and cooling is None:
                row.update(state="over_quota", reason=over)
        account = router.accounts.of.get(d.name)
        if account is not None:
            row["free_quota"] = free = await router.accounts.describe(account)
            if "spent" in free and row["state"] == "healthy":
                row.update(state="over_quota", reason=free["spent"])
        rows.append(row)
    healthy = sum(1 for r in rows if r["state"] == "healthy")
    return {
        "status": "healthy" if healthy == len(rows) else "degraded",
        "healthy_count": healthy,
        "unhealthy_count": len(rows) - healthy,
        "deployments": rows,
        "chains": {alias: chain.describe() for alias, chain in router.config.chains.items()},
        "unsupported": [
            {"model_name": u.alias, "model": u.model, "reason": u.reason, "where": u.where}
            for u in router.config.unsupported
        ],
    }
