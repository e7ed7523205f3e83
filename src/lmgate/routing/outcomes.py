"""What to do after a failed attempt (ARCHITECTURE.md section 5), and how long to wait before a retry.

One classifier tells capability from health. "The deployment's model is gone" (Ollama's `model 'x' not
found`, a retired OpenRouter id) is health: cool down and fall back. "This deployment does not serve this
endpoint" (a chat model asked for embeddings) is capability: never a failure, remembered per
(deployment, endpoint) by the router (routing/capabilities.py). "This model lacks a feature the request
uses" (tools, thinking, images on a model without them) is capability for that one request only.
The phrasings are the upstreams' own (OpenAI, Azure, vLLM, Ollama, llama.cpp); tests/test_capabilities.py
replays them.
"""

from __future__ import annotations

import enum
import random
import re

from lmgate.config.chains import RoutingPolicy
from lmgate.errors import UpstreamConnectFailed, UpstreamError, UpstreamStatus


class Verdict(enum.Enum):
    RETRY = "retry"  # may heal: retry this deployment (backoff), then the next candidate
    NEXT = "next"  # try the next candidate without retrying this one
    COOL_NOW = "cool-now"  # our key or model name is wrong there: cool down at once, next candidate
    FATAL = "fatal"  # the client's request is at fault: answer with this error, no fallback
    CONTEXT = "context-window"  # prompt too long: only context_window_fallbacks may help
    CONTENT = "content-policy"  # refused by a content filter: only content_policy_fallbacks may help
    UNSUPPORTED = "unsupported"  # the deployment does not serve this endpoint: remember, next candidate
    LACKS = "lacks-feature"  # the model lacks a feature this request uses (tools...): next candidate


_CONTEXT = re.compile(
    r"context[ _-]?(length|window)|maximum context|too many tokens|prompt is too long|input is too long"
    r"|reduce the length|exceeds? the (model'?s? )?(max|context)",
    re.IGNORECASE,
)
_CONTENT = re.compile(
    r"content[ _-]?(policy|management|filter)|safety system|responsible ?ai|flagged by", re.IGNORECASE
)


# "This deployment does not serve this endpoint or mode", as the upstreams word it:
_UNSUPPORTED = re.compile(
    # OpenAI (404): "This is a chat model and not supported in the v1/completions endpoint" and
    # "This is not a chat model and thus not supported in the v1/chat/completions endpoint"
    r"not supported in the v1/|is not a chat model|is a chat model and not"
    # Azure OpenAI (400 OperationNotSupported): "The embeddings operation does not work with the
    # specified model, gpt-35-turbo" / "The chatCompletion operation ..."
    r"|operation does not work with the specified model"
    # vLLM: "The model does not support Embeddings API" / "... Chat Completions API" / "... Completions API"
    r"|does not support (chat )?(completions|embeddings) api"
    # vLLM base model without a chat template (400)
    r"|default chat template is no longer allowed|does not have a chat template"
    # Ollama: "this model does not support embeddings", '"x" does not support generate' / "chat",
    # "embedding models do not support chat"
    r"|do(es)? not support (embeddings?|generate|chat|completions?)\b"
    # llama.cpp (501 not_supported_error): "This server does not support embeddings. Start it with --embeddings"
    r"|server does not support|not_supported_error",
    re.IGNORECASE,
)
# A route the upstream does not have at all: FastAPI's {"detail":"Not Found"}, Go's "404 page not found",
# aiohttp's "404: Not Found", llama.cpp's "File Not Found"; an empty 404/405 body.
_NO_ROUTE = re.compile(
    r"answered 40[45]: (\(empty body\)|(40[45]:? )?(page |file )?not found\.?|(405:? )?method not allowed\.?)$",
    re.IGNORECASE,
)
# "This model lacks a feature the request uses" (Ollama 400: "... does not support tools", "... thinking",
# "... insert"; "image input is not supported"): another deployment may have it.
_LACKS = re.compile(
    r"does not support (tools|thinking|insert|vision|images?)\b|(image|vision) input is not supported",
    re.IGNORECASE,
)


def classify(exc: UpstreamError) -> Verdict:
    if isinstance(exc, UpstreamConnectFailed):
        return Verdict.NEXT
    if not isinstance(exc, UpstreamStatus):
        return Verdict.RETRY  # timeouts, resets, garbage bodies
    status = exc.status
    if status in (400, 404, 405, 422, 500, 501):
        if status == 501 or _UNSUPPORTED.search(exc.message) or _NO_ROUTE.search(exc.message):
            return Verdict.UNSUPPORTED
        if status in (400, 422) and _LACKS.search(exc.message):
            return Verdict.LACKS
    if status in (400, 413, 422):
        if _CONTEXT.search(exc.message):
            return Verdict.CONTEXT
        if _CONTENT.search(exc.message):
            return Verdict.CONTENT
        return Verdict.FATAL
    if status in (401, 403, 404):
        return Verdict.COOL_NOW
    if status in (408, 429) or status >= 500:
        return Verdict.RETRY
    return Verdict.NEXT


def backoff_delay(round_: int, retry_after: float | None, policy: RoutingPolicy, rng: random.Random) -> float:
    """Seconds before retry round `round_` (1, 2, ...): the upstream's Retry-After when it gave one,
    else exponential backoff with jitter (between half and all of base * 2^(round-1), capped)."""
    if retry_after is not None:
        return min(retry_after, policy.backoff_max)
    step = min(policy.backoff_max, policy.backoff_base * 2 ** (round_ - 1))
    return step / 2 + rng.random() * step / 2
