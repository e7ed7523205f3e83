"""e2e-webui: Open WebUI with both of its connections on lmgate (OpenAI API and Ollama API).

Open WebUI runs offline (no account: WEBUI_AUTH=False) in a throwaway data directory; lmgate serves its
embedded mock models. Checks: both connections list lmgate's aliases, and a chat through each answers,
streamed and not. Run with `make e2e-webui` (the first run installs Open WebUI, ~7 GB).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson
from common import check, install, log_file  # puts the repo on sys.path for tests.*
from tests.processes import serving, stop
from tests.servers import free_port
from tests.wait import wait_for

PROMPT = "hello from open webui"
EXPECTED = f"echo: {PROMPT}"  # what lmgate's mock-chat answers


def webui_env(lmgate: str, data: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATA_DIR": str(data),
        "PORT": str(port),
        "WEBUI_AUTH": "False",
        "OFFLINE_MODE": "true",
        "HF_HUB_OFFLINE": "1",
        "RAG_EMBEDDING_MODEL_AUTO_UPDATE": "False",
        "ENABLE_OLLAMA_API": "true",
        "OLLAMA_BASE_URLS": lmgate,
        "ENABLE_OPENAI_API": "true",
        "OPENAI_API_BASE_URLS": lmgate + "/v1",
        "OPENAI_API_KEYS": "none",
        # Without a prefix Open WebUI merges one alias from its two connections into one model.
        "OPENAI_API_CONFIGS": orjson.dumps({"0": {"enable": True, "prefix_id": "lmg"}}).decode(),
        "WEBUI_SECRET_KEY": "e2e-only",
    }


def chat(client: httpx.Client, model: str, stream: bool) -> str:
    body = {"model": model, "messages": [{"role": "user", "content": PROMPT}], "stream": stream}
    if not stream:
        r = client.post("/api/chat/completions", json=body)
        r.raise_for_status()
        return str(r.json()["choices"][0]["message"]["content"])
    text = []
    with client.stream("POST", "/api/chat/completions", json=body) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                event = orjson.loads(line[6:])
                for choice in event.get("choices") or []:
                    text.append((choice.get("delta") or {}).get("content") or "")
    return "".join(text)


def main() -> None:
    home = install("webui")
    with tempfile.TemporaryDirectory() as tmp, serving() as lmgate:  # the embedded mock config
        port = free_port()
        log = log_file("open-webui")
        started = time.monotonic()
        with log.open("w") as out:
            ui = subprocess.Popen([str(home / "venv" / "bin" / "open-webui"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                                  env=webui_env(lmgate, Path(tmp), port), stdout=out, stderr=subprocess.STDOUT, cwd=tmp)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: ui.poll() is not None or httpx.get(base + "/health", timeout=2).status_code == 200,
                     "Open WebUI to start", 600, interval=1)
            check(ui.poll() is None, f"Open WebUI up in {time.monotonic() - started:.0f} s (log: {log})")
            token = httpx.post(base + "/api/v1/auths/signin", json={"email": "", "password": ""}, timeout=30).json()["token"]
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
                ids = {m["id"] for m in client.get("/api/models").json()["data"]}
                check({"lmg.mock-chat", "mock-chat"} <= ids, f"both connections list lmgate's aliases ({sorted(ids)})")
                for model, via in (("lmg.mock-chat", "OpenAI connection"), ("mock-chat", "Ollama connection")):
                    for stream in (False, True):
                        got = chat(client, model, stream)
                        check(got == EXPECTED, f"{via}, {'streamed' if stream else 'not streamed'}: {got!r}")
        finally:
            stop(ui)
    print("e2e-webui: passed")


if __name__ == "__main__":
    sys.exit(main())
