"""e2e-model: lmgate in front of a real model server nobody on the team wrote (llama.cpp + SmolLM2-135M).

Checks: greedy output through lmgate is identical to the direct answer (non-streamed and streamed), an
alias whose first tier is dead falls over to the model server, and time to first token through lmgate
is printed beside the direct figure. Run with `make e2e-model`.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import openai
from common import check, install, log_file, median_ms  # puts the repo on sys.path for tests.*
from tests.processes import serving, stop
from tests.servers import closed_port, free_port
from tests.wait import wait_for

PROMPTS = ["Name three colours.", "What is the capital of France?", "Count from one to five."]
GREEDY = {"temperature": 0, "max_tokens": 24, "seed": 7}
KEY = "sk-e2e"


def config(model_base: str) -> str:
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    return f"""
model_list:
  - model_name: smol
    litellm_params: {{model: hosted_vllm/smollm2, api_base: "{model_base}", timeout: 120}}
  - model_name: smol-chain
    litellm_params: {{model: openai/cloud-model, api_base: "{dead}", timeout: 5}}
litellm_settings:
  fallbacks: [{{smol-chain: [smol]}}]
general_settings: {{master_key: {KEY}, request_log_path: false}}
"""


def complete(client: openai.OpenAI, model: str, prompt: str, stream: bool) -> tuple[str, float]:
    """(text, seconds to the first token) of one greedy chat."""
    started = time.perf_counter()
    msgs = [{"role": "user", "content": prompt}]
    if not stream:
        out = client.chat.completions.create(model=model, messages=msgs, **GREEDY)  # type: ignore[arg-type]
        return out.choices[0].message.content or "", time.perf_counter() - started
    first = 0.0
    parts = []
    for chunk in client.chat.completions.create(model=model, messages=msgs, stream=True, **GREEDY):  # type: ignore[arg-type]
        piece = chunk.choices[0].delta.content if chunk.choices else None
        if piece:
            first = first or time.perf_counter() - started
            parts.append(piece)
    return "".join(parts), first


def main() -> None:
    home = install("model")
    port = free_port()
    log = log_file("llama")
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(home / "venv" / "bin" / "python"), "-m", "llama_cpp.server", "--model", str(home / "model.gguf"),
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--model_alias", "smollm2"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        started = time.monotonic()
        wait_for(lambda: server.poll() is not None or httpx.get(base + "/models", timeout=2).status_code == 200,
                 "the llama.cpp server to load the model", 180, interval=0.2)
        check(server.poll() is None, f"llama.cpp server up in {time.monotonic() - started:.1f} s (log: {log})")
        direct = openai.OpenAI(base_url=base, api_key="none", max_retries=0, timeout=120)
        complete(direct, "smollm2", PROMPTS[0], False)  # warm the prompt cache: a cold first answer may differ
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Path(tmp) / "config.yaml"
            cfg.write_text(config(base))
            with serving("--config", str(cfg)) as url:
                gate = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=120)
                print("greedy output, direct vs through lmgate:")
                for prompt in PROMPTS:
                    want, _ = complete(direct, "smollm2", prompt, False)
                    for model, stream in (("smol", False), ("smol", True), ("smol-chain", False)):
                        got, _ = complete(gate, model, prompt, stream)
                        how = f"{model}{' streamed' if stream else ''}"
                        check(got == want and bool(want), f"{how:<18} {prompt!r} -> {want[:40]!r}")
                raw = gate.chat.completions.with_raw_response.create(
                    model="smol-chain", messages=[{"role": "user", "content": "hi"}], max_tokens=4)
                route = raw.headers.get("x-lmgate-route", "")
                check(raw.headers.get("x-lmgate-deployment") == "smol" and route.startswith("smol-chain:"),
                      f"dead first tier falls over to the model server (route: {route})")
                ttft = {"direct": [], "lmgate": []}
                for _ in range(5):
                    for name, client, model in (("direct", direct, "smollm2"), ("lmgate", gate, "smol")):
                        ttft[name].append(complete(client, model, PROMPTS[1], True)[1])
                d, g = ttft["direct"], ttft["lmgate"]
                print(f"time to first token (median of 5): direct {median_ms(d)}, through lmgate {median_ms(g)}")
    finally:
        stop(server)
    print("e2e-model: passed")


if __name__ == "__main__":
    sys.exit(main())
