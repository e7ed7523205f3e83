#!/usr/bin/env python3
"""Generate the mock-upstream bodies and nginx.conf for the gateway benchmark.

Writes, next to this script:
  chat_completion.json  fixed OpenAI chat.completion body (with usage)
  chat_stream.sse       fixed SSE body: 22 chat.completion.chunk events + [DONE]
  models.json           /v1/models list
  ollama_chat.json      fixed Ollama /api/chat answer for stream:false (one object, counts + ns durations)
  ollama_chat.ndjson    fixed Ollama /api/chat NDJSON stream: 19 done:false lines + a done:true line
  $BENCH_NGINX_PREFIX/nginx.conf  nginx config (generated, not committed: it holds absolute paths)
Run state (pid, logs, temp dirs) goes to $BENCH_NGINX_PREFIX (default /tmp/bench-nginx).
"""
import json, os

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = os.environ.get("BENCH_NGINX_PREFIX", "/tmp/bench-nginx")
# BENCH_MOCK_PORT_OFFSET=100 moves every port up by 100 (18180..18183), so a second mock can run
# beside the default one (bench/route_ollama_bench.sh uses its own prefix and offset).
OFF = int(os.environ.get("BENCH_MOCK_PORT_OFFSET", "0"))
P0, P1, P2, P3 = 18080 + OFF, 18081 + OFF, 18082 + OFF, 18083 + OFF
C = (",", ":")

body = {
    "id": "chatcmpl-bench0000000000000000000000001",
    "object": "chat.completion",
    "created": 1730000000,
    "model": "bench-model",
    "system_fingerprint": "fp_bench",
    "choices": [{
        "index": 0,
        "message": {"role": "assistant",
                    "content": "Hello! This is a fixed benchmark response from the mock upstream. "
                               "It is about as long as a short real answer, so that serialisation "
                               "costs are realistic but small.",
                    "refusal": None},
        "logprobs": None,
        "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 19, "completion_tokens": 35, "total_tokens": 54,
              "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
              "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                            "accepted_prediction_tokens": 0,
                                            "rejected_prediction_tokens": 0}},
}
chat_json = json.dumps(body, separators=C)

words = ["Hello", "!", " This", " is", " a", " fixed", " benchmark", " stream", " from", " the",
         " mock", " upstream", ",", " sent", " as", " twenty", " chunks", " in", " one"]
base = {"id": "chatcmpl-bench0000000000000000000000002", "object": "chat.completion.chunk",
        "created": 1730000000, "model": "bench-model", "system_fingerprint": "fp_bench"}
events = [dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""},
                               "logprobs": None, "finish_reason": None}])]
events += [dict(base, choices=[{"index": 0, "delta": {"content": w}, "logprobs": None,
                                "finish_reason": None}]) for w in words]
events.append(dict(base, choices=[{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]))
events.append(dict(base, choices=[], usage={"prompt_tokens": 19, "completion_tokens": 19, "total_tokens": 38}))
sse = "".join("data: " + json.dumps(e, separators=C) + "\n\n" for e in events) + "data: [DONE]\n\n"

models = {"object": "list", "data": [
    {"id": "bench-model", "object": "model", "created": 1730000000, "owned_by": "bench"},
    {"id": "bench-model-stream", "object": "model", "created": 1730000000, "owned_by": "bench"}]}
models_json = json.dumps(models, separators=C)

# --- Ollama native API (PROTOCOLS.md 1.4; ollama docs/api.md): POST /api/chat ---------------------
# Durations are nanoseconds; created_at is RFC 3339 with nanoseconds; the streamed final line has
# message.content "" and carries done_reason, counts and durations.
O_MODEL = "bench-ollama:latest"
o_text = body["choices"][0]["message"]["content"]
o_final = {"done_reason": "stop", "total_duration": 812345678, "load_duration": 12345678,
           "prompt_eval_count": 19, "prompt_eval_duration": 45678901,
           "eval_count": 35, "eval_duration": 654321098}
o_json = json.dumps({"model": O_MODEL, "created_at": "2026-11-22T00:00:00.123456789Z",
                     "message": {"role": "assistant", "content": o_text}, "done": True, **o_final},
                    separators=C)
o_lines = [{"model": O_MODEL, "created_at": f"2026-11-22T00:00:00.{100000000 + i * 1000:09d}Z",
            "message": {"role": "assistant", "content": w}, "done": False} for i, w in enumerate(words)]
o_lines.append({"model": O_MODEL, "created_at": "2026-11-22T00:00:00.812345678Z",
                "message": {"role": "assistant", "content": ""}, "done": True,
                **dict(o_final, eval_count=len(words))})
o_ndjson = "".join(json.dumps(x, separators=C) + "\n" for x in o_lines)
o_tags = json.dumps({"models": [{"name": O_MODEL, "model": O_MODEL, "modified_at": "2026-11-22T00:00:00Z",
                                 "size": 0, "digest": "0" * 64, "details": {"format": "gguf", "family": "bench"}}]},
                    separators=C)

for name, text in [("chat_completion.json", chat_json), ("chat_stream.sse", sse), ("models.json", models_json),
                   ("ollama_chat.json", o_json), ("ollama_chat.ndjson", o_ndjson)]:
    with open(os.path.join(HERE, name), "w") as f:
        f.write(text)


def ngx(s):
    """Quote a body for an nginx single-quoted string (nginx turns \\n back into LF)."""
    assert "$" not in s, "nginx would treat $ as a variable"
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


conf = f"""# Generated by gen_mock.py -- mock OpenAI-compatible upstream for gateway benchmarks.
# Start: nginx -p {PREFIX}/ -c {PREFIX}/nginx.conf     (see mock.sh)
worker_processes 1;
pid {PREFIX}/nginx.pid;
error_log {PREFIX}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    server_tokens off;
    client_body_temp_path {PREFIX}/client_body;
    proxy_temp_path {PREFIX}/proxy;
    fastcgi_temp_path {PREFIX}/fastcgi;
    uwsgi_temp_path {PREFIX}/uwsgi;
    scgi_temp_path {PREFIX}/scgi;
    keepalive_timeout 300s;
    keepalive_requests 10000000;
    client_max_body_size 1m;

    # Port 18080: JSON at /v1/chat/completions, SSE at /v1/stream/chat/completions
    # (so a gateway model with api_base http://127.0.0.1:18080/v1/stream gets SSE).
    server {{
        listen 127.0.0.1:{P0} backlog=4096;
        location = /v1/chat/completions {{
            default_type application/json;
            return 200 {ngx(chat_json)};
        }}
        # The SSE body is longer than nginx's 4 KiB config-token limit, so it is served as a static
        # file: `return 405` + `error_page 405 =200` redirects internally (as GET) to /_mock/.
        location = /v1/stream/chat/completions {{
            error_page 405 =200 /_mock/chat_stream.sse;
            return 405;
        }}
        location = /v1/models {{
            default_type application/json;
            return 200 {ngx(models_json)};
        }}
        location = /v1/stream/models {{
            default_type application/json;
            return 200 {ngx(models_json)};
        }}
        location = /health {{ default_type text/plain; return 200 'ok'; }}
        location ^~ /_mock/ {{
            internal;
            alias {HERE}/;
            types {{ text/event-stream sse; application/json json; }}
            add_header Cache-Control no-cache;
            etag off;
        }}
        location / {{
            default_type application/json;
            return 404 '{{"error":{{"message":"mock: unknown path","type":"invalid_request_error"}}}}';
        }}
    }}

    # Port 18082: an Ollama instance whose POST /api/chat always streams NDJSON
    #   (gateway api_base http://127.0.0.1:18082; clients send "stream": true).
    # Port 18083: an Ollama instance whose POST /api/chat always answers one JSON object
    #   (api_base http://127.0.0.1:18083; clients send "stream": false).
    # Static nginx cannot switch on the body's "stream" field, hence two ports, as for OpenAI above.
    server {{
        listen 127.0.0.1:{P2} backlog=4096;
        location = /api/chat {{
            error_page 405 =200 /_mock/ollama_chat.ndjson;
            return 405;
        }}
        location = / {{ default_type text/plain; return 200 'Ollama is running'; }}
        location = /api/version {{ default_type application/json; return 200 '{{"version":"0.12.6"}}'; }}
        location = /api/tags {{ default_type application/json; return 200 {ngx(o_tags)}; }}
        location ^~ /_mock/ {{
            internal;
            alias {HERE}/;
            types {{ application/x-ndjson ndjson; application/json json; }}
            etag off;
        }}
        location / {{
            default_type application/json;
            return 404 '{{"error":"mock: unknown path"}}';
        }}
    }}
    server {{
        listen 127.0.0.1:{P3} backlog=4096;
        location = /api/chat {{
            default_type application/json;
            return 200 {ngx(o_json)};
        }}
        location = / {{ default_type text/plain; return 200 'Ollama is running'; }}
        location = /api/version {{ default_type application/json; return 200 '{{"version":"0.12.6"}}'; }}
        location = /api/tags {{ default_type application/json; return 200 {ngx(o_tags)}; }}
        location / {{
            default_type application/json;
            return 404 '{{"error":"mock: unknown path"}}';
        }}
    }}

    # Port 18081: SSE at the plain /v1/chat/completions path (for gateways that cannot use a path prefix).
    server {{
        listen 127.0.0.1:{P1} backlog=4096;
        location = /v1/chat/completions {{
            error_page 405 =200 /_mock/chat_stream.sse;
            return 405;
        }}
        location = /v1/models {{
            default_type application/json;
            return 200 {ngx(models_json)};
        }}
        location ^~ /_mock/ {{
            internal;
            alias {HERE}/;
            types {{ text/event-stream sse; application/json json; }}
            add_header Cache-Control no-cache;
            etag off;
        }}
        location / {{
            default_type application/json;
            return 404 '{{"error":{{"message":"mock: unknown path","type":"invalid_request_error"}}}}';
        }}
    }}
}}
"""
os.makedirs(PREFIX, exist_ok=True)
with open(os.path.join(PREFIX, "nginx.conf"), "w") as f:
    f.write(conf)
print("wrote", os.path.join(PREFIX, "nginx.conf"), "json", len(chat_json), "B; sse", len(sse), "B,",
      sse.count("data: "), "data lines; ollama json", len(o_json), "B; ndjson", len(o_ndjson), "B,",
      len(o_lines), "lines")
