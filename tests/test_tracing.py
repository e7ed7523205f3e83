"""OpenTelemetry: spans reach an OTLP/HTTP collector stand-in on loopback, with GenAI attributes."""

from __future__ import annotations

import openai
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.servers import Behaviour, ServerThread
from tests.wait import wait_for


class Collector:
    def __init__(self) -> None:
        self.spans: list = []
        self.server = ServerThread(self._app)

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/traces", self._traces)
        return app

    async def _traces(self, request: web.Request) -> web.Response:
        req = ExportTraceServiceRequest()
        req.ParseFromString(await request.read())
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                self.spans.extend(ss.spans)
        return web.Response(body=b"", content_type="application/x-protobuf")


def attrs(span) -> dict:
    out = {}
    for kv in span.attributes:
        v = kv.value
        out[kv.key] = v.string_value or v.int_value or v.bool_value or v.double_value
    return out


def test_spans_per_request_and_attempt(monkeypatch, upstream, make_gateway):
    collector = Collector()
    collector.server.start()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.server.url)
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
        gw = make_gateway(f"""
model_list:
  - model_name: m
    litellm_params: {{model: openai/up, api_base: "{upstream.base}", api_key: sk-never-in-traces-1234}}
router_settings: {{num_retries: 1}}
general_settings: {{request_log_path: false}}
""")
        upstream.script = [Behaviour("status", 503)]
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0)
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        wait_for(lambda: len(collector.spans) >= 3, "the server span and both attempt spans to be exported")
        by_name = {s.name: s for s in collector.spans}
        server = by_name["chat m"]
        a = attrs(server)
        assert a["gen_ai.request.model"] == "m" and a["gen_ai.response.model"] == "up"
        assert a["gen_ai.usage.input_tokens"] == 5 and a["http.response.status_code"] == 200
        children = [s for s in collector.spans if s.parent_span_id == server.span_id]
        assert [attrs(c)["lmgate.outcome"] for c in children] == ["503", "ok"]
        raw = b"".join(s.SerializeToString() for s in collector.spans)
        assert b"sk-never-in-traces" not in raw and b"127.0.0.1" not in raw
    finally:
        collector.server.stop()
