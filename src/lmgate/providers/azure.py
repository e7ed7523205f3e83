"""Azure OpenAI (`azure/<deployment>`): the OpenAI wire at Azure's paths.

    POST {api_base}/openai/deployments/{deployment}/chat/completions?api-version={api_version}
         .../completions, .../embeddings              header `api-key: <key>` (or a Bearer `azure_ad_token`)

`api_version` comes from litellm_params, else `AZURE_API_VERSION`, else `DEFAULT_API_VERSION`. Azure's
error bodies (`{"error": {"code": "content_filter", "message", "innererror": {"code":
"ResponsibleAIPolicyViolation", ...}}}`) keep their code in the message, so a content-filter refusal
is classified as a content-policy refusal (-> `content_policy_fallbacks`), and so is a whole answer
whose every choice Azure cut with `finish_reason: content_filter` and left empty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import orjson
from yarl import URL

from lmgate.core import GatewayRequest
from lmgate.errors import UpstreamStatus
from lmgate.providers.http import error_message
from lmgate.providers.openai_compat import PATHS, OpenAICompatible

if TYPE_CHECKING:
    from lmgate.core import Deployment

DEFAULT_API_VERSION = "2024-10-21"  # the newest generally available data-plane version
STREAM_USAGE_SINCE = "2024-09-01"  # api-versions before this reject stream_options


def describe_error(raw: bytes) -> str:
    """Azure's error message with its code in front: `content_filter (ResponsibleAIPolicyViolation): ...`."""
    message = error_message(raw)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return message
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return message
    code = err.get("code")
    inner = err.get("innererror")
    inner_code = inner.get("code") if isinstance(inner, dict) else None
    if not isinstance(code, str) or code.isdigit():  # Azure also sends "code": "429"
        return message
    return f"{code} ({inner_code}): {message}" if isinstance(inner_code, str) else f"{code}: {message}"


def filtered_away(data: dict[str, Any]) -> bool:
    """Every choice was stopped by Azure's content filter with nothing left to show."""
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        return False
    for choice in choices:
        if not isinstance(choice, dict) or choice.get("finish_reason") != "content_filter":
            return False
        message = choice.get("message")
        text = message.get("content") if isinstance(message, dict) else choice.get("text")
        if text:
            return False
    return True


class Azure(OpenAICompatible):
    prefixes: ClassVar[tuple[str, ...]] = ("azure",)
    wire = "openai"
    param_keys = frozenset({"api_version", "azure_ad_token"})
    param_env: ClassVar[dict[str, str]] = {"api_version": "AZURE_API_VERSION", "azure_ad_token": "AZURE_AD_TOKEN"}
    probe = "none"  # lmgate doctor has no Azure probe yet

    def default_api_base(self, prefix: str) -> str | None:
        return None

    def api_key_env(self, prefix: str) -> str | None:
        return "AZURE_API_KEY"

    def zero_cost(self, prefix: str, api_base: str, upstream_model: str) -> bool:
        return False

    def key_check_path(self, prefix: str) -> str | None:
        return None

    def catalog(self, prefix: str) -> str | None:
        return None

    def unsupported_params(self, prefix: str) -> frozenset[str]:
        return frozenset()

    def normalise_api_base(self, prefix: str, api_base: str) -> tuple[str, str | None]:
        base = api_base.rstrip("/")
        for suffix in ("/openai/v1", "/openai"):
            if base.endswith(suffix):
                return base[: -len(suffix)], f"removed '{suffix}' (lmgate appends /openai/deployments/... itself)"
        return base, None

    def headers(self, deployment: Deployment) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        token = deployment.params.get("azure_ad_token")
        if deployment.api_key:
            headers["api-key"] = deployment.api_key
        elif token:
            headers["Authorization"] = f"Bearer {token}"
        headers.update(deployment.extra_headers)
        return headers

    @staticmethod
    def api_version(deployment: Deployment) -> str:
        return str(deployment.params.get("api_version") or DEFAULT_API_VERSION)

    def url(self, deployment: Deployment, request: GatewayRequest) -> str:
        path = f"/openai/deployments/{deployment.upstream_model}{PATHS[request.endpoint]}"
        return str(URL(deployment.api_base + path).with_query({"api-version": self.api_version(deployment)}))

    def upstream_body(self, deployment: Deployment, request: GatewayRequest) -> dict[str, Any]:
        body = super().upstream_body(deployment, request)
        if request.stream and self.api_version(deployment)[:10] < STREAM_USAGE_SINCE:
            client_options = request.body_for(self.wire).get("stream_options")
            if client_options is None:
                body.pop("stream_options", None)
        return body

    def describe_error(self, raw: bytes) -> str:
        return describe_error(raw)

    def check(self, deployment: Deployment, request: GatewayRequest, data: dict[str, Any]) -> None:
        if request.endpoint != "embedding" and filtered_away(data):
            raise UpstreamStatus(
                400,
                f"upstream '{deployment.name}' answered with content_filter: Azure's content management policy "
                "filtered the whole answer",
                deployment=deployment.name,
            )
