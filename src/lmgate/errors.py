"""The one exception tree of lmgate. Every inbound protocol renders these; nothing else is raised to clients.

    GatewayError                      status, type, message (never holds a secret)
    ├── BadRequest (400)              client sent something we cannot serve
    │   ├── InvalidJSON
    │   └── UnsupportedEndpoint
    ├── AuthenticationFailed (401)
    ├── PermissionDenied (403)
    │   └── DataPolicyRefused         a strict-privacy request found no deployment that keeps nothing
    ├── ModelNotFound (404)           alias unknown to this gateway
    ├── RouteNotFound (404)
    ├── BodyTooLarge (413)
    ├── ProviderNotSupported (501)    the alias is served only by providers lmgate does not support yet
    ├── QuotaExceeded (429)           every candidate is over its upstream quota (rpm/tpm/rpd); nothing was sent
    ├── RateLimited (429)             the virtual key, its team or (key, model) is at its rpm/tpm/parallel limit
    ├── BudgetExceeded (402)          the key's or team's money budget is spent; only paid tiers were left
    ├── BudgetUnavailable (429)       the shared budget counters (Redis) are unreachable: paid tiers refused
    ├── NoHealthyDeployment (503)     every candidate is cooling down after failures; nothing was sent
    └── UpstreamError                 an upstream attempt failed; `retryable` says whether another candidate may help
        ├── UpstreamStatus            upstream answered with an HTTP error (status and message kept)
        ├── UpstreamTimeout (504)
        ├── UpstreamUnreachable (502) connect refused / reset / DNS
        │   └── UpstreamConnectFailed no connection at all (refused, DNS): not worth retrying the same host
        └── UpstreamProtocolError (502)  garbage or wrong content type from upstream
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    status: int = 500
    type: str = "internal_error"
    code: str | None = None
    route_trace: Any = None  # set by the router on failures: the attempts made before giving up

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.param = param
        self.headers = headers or {}


class BadRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class InvalidJSON(BadRequest):
    code = "invalid_json"


class UnsupportedEndpoint(BadRequest):
    code = "unsupported_endpoint"


class AuthenticationFailed(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"


class DataPolicyRefused(PermissionDenied):
    """A strict-privacy request: every candidate may retain or train on prompts (or says nothing); nothing
    was sent, no upstream's health is touched (routing/privacy.py)."""

    code = "data_policy"


class ModelNotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


class RouteNotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class BodyTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class ProviderNotSupported(GatewayError):
    """The alias exists in the config, but only with deployments of providers lmgate does not serve yet."""

    status = 501
    type = "invalid_request_error"
    code = "provider_not_supported"


class QuotaExceeded(GatewayError):
    """Every candidate deployment has used its upstream quota; `retry_after` says when one frees up."""

    status = 429
    type = "rate_limit_error"
    code = "upstream_quota_exceeded"


class RateLimited(GatewayError):
    """A virtual key's own limit (rpm_limit, tpm_limit, max_parallel_requests: the key's, its team's or
    per model); nothing was sent. Headers carry Retry-After and LiteLLM's x-ratelimit-*."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class BudgetExceeded(GatewayError):
    """The key's (or its team's, or the key's per-model) money budget cannot cover this request and no
    zero-cost candidate was left; nothing was sent. 402, not 429: retrying does not help until the
    budget resets (Retry-After says when, for budgets with a budget_duration)."""

    status = 402
    type = "budget_exceeded"
    code = "budget_exceeded"


class BudgetUnavailable(GatewayError):
    """The shared budget counters (Redis) are unreachable, so a money budget cannot be checked across
    replicas: paid candidates are refused rather than let each replica spend the whole budget."""

    status = 429
    type = "rate_limit_error"
    code = "budget_unavailable"


class NoHealthyDeployment(GatewayError):
    """Every candidate deployment is cooling down after failures."""

    status = 503
    type = "api_error"
    code = "no_healthy_deployment"


class UpstreamError(GatewayError):
    """An attempt against one deployment failed. `retryable` tells the router another candidate may help."""

    status = 502
    type = "api_error"
    retryable = True

    def __init__(self, message: str, *, deployment: str = "", retry_after: float | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.deployment = deployment
        self.retry_after = retry_after

    @property
    def outcome(self) -> str:
        """Short label for route traces: a status code or a failure kind."""
        return str(self.status)


class UpstreamStatus(UpstreamError):
    """The upstream answered with an HTTP error status; its message is kept (secrets scrubbed)."""

    _TYPES = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        408: "timeout_error",
        413: "invalid_request_error",
        422: "invalid_request_error",
        429: "rate_limit_error",
    }

    def __init__(self, status: int, message: str, **kw: Any) -> None:
        super().__init__(message, status=status, **kw)
        self.type = self._TYPES.get(status, "api_error")
        # A client's bad request will not get better on another deployment (except special
        # 400s, which the router classifies); everything else may.
        self.retryable = status not in (400, 413, 422)


class UpstreamTimeout(UpstreamError):
    status = 504
    type = "timeout_error"

    @property
    def outcome(self) -> str:
        return "timeout"


class UpstreamUnreachable(UpstreamError):
    status = 502
    type = "api_connection_error"

    @property
    def outcome(self) -> str:
        return "unreachable"


class UpstreamConnectFailed(UpstreamUnreachable):
    """No connection could be made (refused, DNS, unreachable host)."""


class UpstreamProtocolError(UpstreamError):
    status = 502
    type = "api_error"
    code = "bad_upstream_response"

    @property
    def outcome(self) -> str:
        return "bad-response"
