"""examples/three-ollamas.yaml: three Ollama instances (voice, reasoning, vision) behind one port."""

from __future__ import annotations

import base64
from pathlib import Path

import ollama
import openai

from tests.servers_ollama import PNG_B64, FakeOllamaUpstream

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "three-ollamas.yaml"


def test_each_alias_reaches_its_own_instance(make_gateway):
    instances = {port: FakeOllamaUpstream().start() for port in (11434, 11435, 11436)}
    try:
        text = EXAMPLE.read_text()
        for port, fake in instances.items():  # the same file, with the fakes' loopback ports
            text = text.replace(f"http://127.0.0.1:{port}", fake.base)
        gw = make_gateway(text)
        client = ollama.Client(host=gw.url)
        for alias in ("voice", "reasoning", "vision"):
            reply = client.chat(model=alias, messages=[{"role": "user", "content": f"hi {alias}"}], stream=False)
            assert reply.message.content == "hello from ollama"
        sent = {port: [s.body.get("model") for s in fake.seen] for port, fake in instances.items()}
        assert sent == {11434: ["llama3.2:3b"], 11435: ["qwen3:8b"], 11436: ["qwen2.5vl:7b"]}
        assert instances[11434].seen[0].body["keep_alive"] == "30m"
        assert instances[11435].seen[0].body["think"] is True

        # An OpenAI client's image reaches the vision instance as Ollama base64.
        oa = openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0)
        url = "data:image/png;base64," + PNG_B64
        oa.chat.completions.create(
            model="vision",
            messages=[{"role": "user", "content": [{"type": "text", "text": "what is this"},
                                                   {"type": "image_url", "image_url": {"url": url}}]}],
        )
        images = instances[11436].seen[-1].body["messages"][-1]["images"]
        assert base64.b64decode(images[0]) == base64.b64decode(PNG_B64)

        # The reasoning instance goes down: its alias falls back to the voice model.
        instances[11435].stop()
        reply = client.chat(model="reasoning", messages=[{"role": "user", "content": "still there?"}], stream=False)
        assert reply.message.content == "hello from ollama"
        assert instances[11434].seen[-1].body["model"] == "llama3.2:3b"
    finally:
        for fake in instances.values():
            fake.stop()
