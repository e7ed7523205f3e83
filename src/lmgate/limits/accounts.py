"""Provider-wide free quotas: limits that an upstream counts per account (per key), not per model.

OpenRouter counts its free limits across every `:free` model of one key: 20 requests a minute, and a
day's allowance that depends on the account (`is_free_tier` in `GET /api/v1/key`: 50 a day until
credits were bought, else 1000), reset at UTC midnight. So lmgate keeps ONE counter per OpenRouter key
(and base URL), shared by every free deployment using it, in the router's quota store (exact across
workers and replicas with Redis: one atomic script, limits/redis.py), and skips those deployments
before sending when it is spent (route trace `quota-free-rpm` / `quota-free-rpd`; GET /health shows
the account).

The day counter lives under a key named by the UTC date, so it starts again at UTC midnight as the
upstream's does. The day's allowance is read at start-up and every `free_tier_check_interval` seconds
(AccountPoller); until the first answer, and when the check fails, the smaller allowance is assumed.
Accounts are named by a hash of base URL and key: the key never appears in a counter, log or /health.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from lmgate.limits.base import Quota, QuotaDenial, QuotaStore, share

if TYPE_CHECKING:
    from lmgate.core import Deployment
    from lmgate.providers.http import UpstreamPool
    from lmgate.routing.router import Router

log = logging.getLogger("lmgate.accounts")
DEFAULT_CHECK_INTERVAL_S = 3600.0
CHECK_TIMEOUT = aiohttp.ClientTimeout(total=10.0, sock_connect=3.0)
IDLE_S = 5.0  # how often to look again while no deployment has a free account (a reload may add one)


@dataclass(frozen=True, slots=True)
class FreeLimits:
    """A provider's account-wide free limits (a vendor fact, overridable in router_settings)."""

    rpm: int  # across every free model of the account
    rpd: int  # a day, for an account that bought credits
    rpd_free_tier: int  # a day, for an account that never did (`is_free_tier`)


@dataclass(slots=True)
class AccountState:
    """What this process knows of one account's day allowance (kept across reloads)."""

    free_tier: bool | None = None  # None: not checked yet (or the check failed): the smaller allowance
    checked_at: float | None = None  # unix time of the last successful check
    error: str | None = None  # why the last check failed


def account_name(d: Deployment) -> str:
    """`openrouter:3f2a9c...`: one per base URL and key; never the key."""
    digest = hashlib.sha256(f"{d.api_base}\n{d.api_key or ''}".encode()).hexdigest()[:16]
    return f"{d.provider}:{digest}"


def utc_day(now: float) -> tuple[str, float]:
    """Today's UTC date and the seconds until the next UTC midnight."""
    today = datetime.fromtimestamp(now, UTC)
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)
    return today.strftime("%Y-%m-%d"), max(1.0, midnight.timestamp() - now)


@dataclass(slots=True)
class FreeAccounts:
    """Per-account state; lives on RouterState so a reload keeps it."""

    known: dict[str, AccountState] = field(default_factory=dict)

    def state(self, account: str) -> AccountState:
        found = self.known.get(account)
        if found is None:
            found = self.known[account] = AccountState()
        return found


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    limits: FreeLimits


class AccountQuotas:
    """The router's view for one config: which deployments count against which account, and the check
    made before each is sent. Built once per config; the counters live in the quota store."""

    def __init__(
        self,
        deployments: list[Deployment],
        overrides: FreeLimits | None,
        store: QuotaStore,
        accounts: FreeAccounts,
        workers: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.of: dict[str, Account] = {}  # deployment name -> its account
        for d in deployments:
            limits = d.adapter.free_limits(d)
            if limits is not None:
                self.of[d.name] = Account(account_name(d), overrides or limits)
        self._store = store
        self._accounts = accounts
        self._split = 1 if store.shared else workers
        self._clock = clock

    def __bool__(self) -> bool:
        return bool(self.of)

    def day_limit(self, account: Account) -> int:
        tier = self._accounts.state(account.name).free_tier
        return account.limits.rpd if tier is False else account.limits.rpd_free_tier

    async def acquire(self, account: Account) -> QuotaDenial | None:
        """Count one request against the account's minute and day, or say which one is spent (with the
        seconds until it frees). The minute is checked first: a request refused there counts nothing."""
        rpm = share(account.limits.rpm, self._split)
        denial = await self._store.acquire("account:" + account.name, Quota(rpm=rpm))
        if denial is not None:
            return QuotaDenial("free-rpm", denial.retry_after)
        day, until_midnight = utc_day(self._clock())
        rpd = share(self.day_limit(account), self._split)
        denial = await self._store.acquire(f"account:{account.name}:{day}", Quota(rpd=rpd))
        if denial is not None:
            return QuotaDenial("free-rpd", until_midnight)
        return None

    async def describe(self, account: Account) -> dict[str, Any]:
        """For GET /health: the account's use and limits, and where the day's allowance came from."""
        day, until_midnight = utc_day(self._clock())
        minute = await self._store.usage("account:" + account.name)
        today = await self._store.usage(f"account:{account.name}:{day}")
        st = self._accounts.state(account.name)
        rpd = self.day_limit(account)
        out: dict[str, Any] = {
            "account": account.name,
            "rpm": [minute.requests_minute, account.limits.rpm],
            "rpd": [today.requests_day, rpd],
            "resets_in_s": round(until_midnight),
            "is_free_tier": st.free_tier,
            "limits_from": "key check" if st.checked_at is not None else "assumed (not checked yet)",
        }
        if st.error:
            out["check_error"] = st.error
        if today.requests_day >= rpd:
            out["spent"] = f"free rpd {today.requests_day}/{rpd} (account-wide, resets at UTC midnight)"
        elif minute.requests_minute >= account.limits.rpm:
            out["spent"] = f"free rpm {minute.requests_minute}/{account.limits.rpm} (account-wide)"
        return out


def parse_key_check(raw: bytes) -> bool | None:
    """`is_free_tier` of OpenRouter's `GET /key` answer (`{"data": {..., "is_free_tier": true}}`)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    inner = data.get("data") if isinstance(data, dict) else None
    tier = inner.get("is_free_tier") if isinstance(inner, dict) else None
    return tier if isinstance(tier, bool) else None


class AccountPoller:
    """Reads each free account's tier at start-up and every `free_tier_check_interval` seconds; one per
    process, run from the app's lifespan; follows reloads through `current`."""

    def __init__(self, current: Callable[[], tuple[Router, UpstreamPool]]) -> None:
        self._current = current

    async def run(self) -> None:
        while True:
            router, pool = self._current()
            checks = {
                account.name: d
                for d in router.config.deployments
                if (account := router.accounts.of.get(d.name)) is not None
            }
            if not checks:
                await asyncio.sleep(IDLE_S)
                continue
            accounts = router.state.accounts
            await asyncio.gather(*(self.check(pool, accounts.state(name), d) for name, d in checks.items()))
            await asyncio.sleep(router.config.file.router_settings.free_tier_check_interval or DEFAULT_CHECK_INTERVAL_S)

    @staticmethod
    async def check(pool: UpstreamPool, st: AccountState, d: Deployment) -> None:
        path = d.adapter.key_check_path(d.provider)
        if path is None:
            return
        try:
            async with pool.session(d.api_base).get(d.api_base + path, headers=d.headers, timeout=CHECK_TIMEOUT) as resp:
                raw = await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            st.error = f"GET {path}: {type(exc).__name__}"
            return
        tier = parse_key_check(raw) if status == 200 else None
        if tier is None:
            st.error = f"GET {path} answered {status} without is_free_tier"
            return
        st.free_tier, st.checked_at, st.error = tier, time.time(), None
        log.info("free account %s: is_free_tier=%s", account_name(d), tier)
