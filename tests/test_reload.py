"""Hot reload: POST /config/reload, file watch (ConfigMap symlink swap too), SIGHUP; invalid files keep
the old config; requests in flight finish; upstream connections are reused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import openai
import pytest

from tests.routing_kit import MASTER, MSGS
from tests.servers import Behaviour, FakeOpenAIUpstream, ServerThread, free_port

AUTH = {"Authorization": f"Bearer {MASTER}"}


def config_text(base: str, watch: float = 0, extra: str = "") -> str:
    return f"""
model_list:
  - model_name: m
    litellm_params: {{model: openai/up-model, api_base: "{base}", timeout: 10}}
{extra}
general_settings:
  master_key: {MASTER}
  config_watch_interval: {watch}
"""


@pytest.fixture
def two() -> Iterator[tuple[FakeOpenAIUpstream, FakeOpenAIUpstream]]:
    a, b = FakeOpenAIUpstream().start(), FakeOpenAIUpstream().start()
    a.default.content, b.default.content = "from a", "from b"
    yield a, b
    a.stop()
    b.stop()


def answer(gw: ServerThread, model: str = "m") -> str:
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=MASTER, max_retries=0, timeout=15)
    return client.chat.completions.create(model=model, messages=MSGS).choices[0].message.content or ""


def reload(gw: ServerThread, key: str | None = MASTER) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(gw.url + "/config/reload", headers=headers, timeout=15)


def wait_for(check: Callable[[], bool], what: str, seconds: float = 8.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_post_reload_swaps_config_and_reuses_upstream_connections(tmp_path, two, make_gateway):
    a, b = two
    path = tmp_path / "config.yaml"
    path.write_text(config_text(a.base))
    gw = make_gateway(path)
    assert answer(gw) == "from a"
    peer = a.seen[-1].peer
    path.write_text(config_text(a.base, extra=f'  - model_name: n\n    litellm_params: {{model: openai/x, api_base: "{b.base}"}}'))
    r = reload(gw)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "reloaded" and r.json()["models"] == 2
    assert answer(gw) == "from a" and answer(gw, "n") == "from b"
    assert a.seen[-1].peer == peer, "the keep-alive connection to an unchanged origin survives the reload"


def test_reload_needs_the_master_key(tmp_path, two, make_gateway):
    path = tmp_path / "config.yaml"
    path.write_text(config_text(two[0].base))
    gw = make_gateway(path)
    assert reload(gw, key=None).status_code == 401
    assert reload(gw, key="sk-wrong").status_code == 401


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        ("model_list: [\n", "not valid YAML"),
        ("", "the config is empty"),  # a file caught mid-write: never an unguarded gateway with no models
        ("model_list:\n  - model_name: m\n    litellm_params: {model: mock/x}\n", "never turns authentication off"),
        ("model_list:\n  - model_name: m\n    litellm_params: {model: nope/x}\n", "unknown provider 'nope'"),
        (None, "'ghost' is not a model_name"),
    ],
)
def test_invalid_reload_keeps_the_old_config(tmp_path, two, make_gateway, broken, expected):
    a, _ = two
    path = tmp_path / "config.yaml"
    path.write_text(config_text(a.base))
    gw = make_gateway(path)
    path.write_text(broken if broken is not None else config_text(a.base) + "litellm_settings:\n  fallbacks: [{m: [ghost]}]\n")
    r = reload(gw)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_config"
    assert any(expected in e and str(path) in e for e in r.json()["errors"]), r.json()["errors"]
    assert answer(gw) == "from a", "the previous config keeps serving"
    models = httpx.get(gw.url + "/v1/models", headers=AUTH, timeout=5).json()
    assert [m["id"] for m in models["data"]] == ["m"]


def test_file_watch_reloads_on_change_and_ignores_a_broken_file(tmp_path, two, make_gateway):
    a, b = two
    path = tmp_path / "config.yaml"
    path.write_text(config_text(a.base, watch=0.05))
    gw = make_gateway(path)
    assert answer(gw) == "from a"
    path.write_text("model_list: [\n")
    time.sleep(0.5)  # several watch intervals: the broken file is seen and rejected
    assert answer(gw) == "from a"
    path.write_text(config_text(b.base, watch=0.05))
    wait_for(lambda: answer(gw) == "from b", "the watcher to load the fixed file")


def test_kubernetes_configmap_symlink_swap_is_noticed(tmp_path, two, make_gateway):
    a, b = two
    # The layout the kubelet writes: config.yaml -> ..data/config.yaml, ..data -> ..<timestamp>/
    (tmp_path / "..2026_01").mkdir()
    (tmp_path / "..2026_01" / "config.yaml").write_text(config_text(a.base, watch=0.05))
    os.symlink("..2026_01", tmp_path / "..data")
    os.symlink("..data/config.yaml", tmp_path / "config.yaml")
    gw = make_gateway(tmp_path / "config.yaml")
    assert answer(gw) == "from a"
    (tmp_path / "..2026_02").mkdir()
    (tmp_path / "..2026_02" / "config.yaml").write_text(config_text(b.base, watch=0.05))
    os.symlink("..2026_02", tmp_path / "..data_tmp")
    os.replace(tmp_path / "..data_tmp", tmp_path / "..data")  # the atomic swap
    wait_for(lambda: answer(gw) == "from b", "the watcher to follow the symlink swap")


def test_hot_reload_under_load_fails_no_request(tmp_path, two, make_gateway):
    a, b = two
    a.default = Behaviour("ok", content="from a", delay=0.03)
    b.default = Behaviour("ok", content="from b", delay=0.03)
    path = tmp_path / "config.yaml"
    path.write_text(config_text(a.base, watch=0.02))
    gw = make_gateway(path)
    stop = threading.Event()
    answers: list[str] = []
    failures: list[BaseException] = []

    def hammer(stream: bool) -> None:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key=MASTER, max_retries=0, timeout=15)
        while not stop.is_set():
            try:
                if stream:
                    chunks = client.chat.completions.create(model="m", messages=MSGS, stream=True)
                    answers.append("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
                else:
                    answers.append(client.chat.completions.create(model="m", messages=MSGS).choices[0].message.content or "")
            except BaseException as exc:  # noqa: BLE001 - every failure is the test's finding
                failures.append(exc)

    threads = [threading.Thread(target=hammer, args=(i % 2 == 0,)) for i in range(6)]
    for t in threads:
        t.start()
    try:
        for i in range(10):
            base = b.base if i % 2 == 0 else a.base
            path.write_text(config_text(base, watch=0.02))
            if i % 3 == 0:
                assert reload(gw).status_code == 200
            time.sleep(0.15)
    finally:
        stop.set()
        for t in threads:
            t.join(20)
    assert not failures, failures[:3]
    assert len(answers) > 30
    assert {"from a", "from b"} <= set(answers)


def test_sighup_reloads_a_running_server(tmp_path):
    path = tmp_path / "config.yaml"
    dead = f"http://127.0.0.1:{free_port()}/v1"
    path.write_text(config_text(dead))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lmgate", "serve", "--config", str(path), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    url = f"http://127.0.0.1:{port}"

    def model_ids() -> list[str]:
        try:
            r = httpx.get(url + "/v1/models", headers=AUTH, timeout=2)
        except httpx.HTTPError:
            return []
        return [m["id"] for m in r.json()["data"]] if r.status_code == 200 else []

    try:
        wait_for(lambda: model_ids() == ["m"], "lmgate serve to start", 30)
        path.write_text(config_text(dead, extra=f'  - model_name: added\n    litellm_params: {{model: openai/x, api_base: "{dead}"}}'))
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: model_ids() == ["m", "added"], "SIGHUP to reload the config")
        assert proc.poll() is None, "SIGHUP must not stop the server"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
