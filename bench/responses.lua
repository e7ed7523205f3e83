-- wrk script: POST one small Responses API request per call (lmgate translates it to chat upstream).
-- Reuses chat.lua (headers, BENCHRESULT line) and replaces path and body.
-- Env: BENCH_DIR (this folder), BENCH_MODEL, BENCH_STREAM (1 = "stream": true), BENCH_STORE (1 = "store": true), BENCH_KEY.
dofile((os.getenv("BENCH_DIR") or "bench") .. "/chat.lua")
local model  = os.getenv("BENCH_MODEL") or "bench-model"
local stream = (os.getenv("BENCH_STREAM") or "0") == "1"
local store  = (os.getenv("BENCH_STORE") or "0") == "1"

wrk.path = "/v1/responses"
wrk.body = '{"model":"' .. model .. '","input":"Write one short sentence about benchmarking.",'
        .. '"max_output_tokens":64,"stream":' .. (stream and "true" or "false")
        .. ',"store":' .. (store and "true" or "false") .. '}'
