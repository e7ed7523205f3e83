-- wrk script: POST one small Ollama-native chat request (POST /api/chat) per call.
-- Env: BENCH_MODEL (default ollama-bench), BENCH_STREAM (1 = "stream": true, Ollama's default;
-- 0 = "stream": false), BENCH_PATH (default /api/chat), BENCH_KEY (default sk-bench; sent as
-- Authorization: Bearer, which lmgate wants when a master key is set and Ollama ignores).
-- done() prints the same BENCHRESULT line as chat.lua.
local model  = os.getenv("BENCH_MODEL") or "ollama-bench"
local stream = (os.getenv("BENCH_STREAM") or "0") == "1"
local path   = os.getenv("BENCH_PATH") or "/api/chat"
local key    = os.getenv("BENCH_KEY") or "sk-bench"

wrk.method = "POST"
wrk.path   = path
wrk.headers["Content-Type"]  = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.body = '{"model":"' .. model .. '","messages":[{"role":"user","content":'
        .. '"Write one short sentence about benchmarking."}],"options":{"num_predict":64},'
        .. '"stream":' .. (stream and "true" or "false") .. '}'

function done(summary, latency, requests)
  local e = summary.errors
  local n = summary.requests
  io.write(string.format(
    "BENCHRESULT requests=%d duration_s=%.3f rps=%.1f bytes_per_req=%.0f "
    .. "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f mean_ms=%.3f max_ms=%.3f "
    .. "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    n, summary.duration / 1e6, n / (summary.duration / 1e6), (n > 0) and summary.bytes / n or 0,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.mean / 1e3, latency.max / 1e3,
    e.connect, e.read, e.write, e.status, e.timeout))
end
