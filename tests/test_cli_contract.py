"""What every `lmgate` command promises (issue 14), through the real CLI in subprocesses, and in a pty
where terminal behaviour matters: one exit-code table, one-line errors without tracebacks, `serve`
bound before it says so, read-only commands without the secrets, output that pipes whole, NO_COLOR,
and user text never read as rich markup or emoji."""

from __future__ import annotations

import fcntl
import os
import pty
import socket
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.processes import LMGATE
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
K3S_VARS = ("OLLAMA_API_KEY", "OPENAI_API_KEY", "GROQ_API_KEY", "GEMINI_API_KEY", "MISTRAL_API_KEY", "REDIS_HOST",
            "DATABASE_URL", "LITELLM_MASTER_KEY")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", *K3S_VARS)}
    return {**env, **extra}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LMGATE, *args], capture_output=True, text=True, timeout=60, env=env or clean_env())


def in_terminal(*args: str, env: dict[str, str] | None = None, columns: int = 80) -> tuple[int, str]:
    """Run lmgate with stdin/stdout/stderr on a pty of `columns` columns; (exit code, everything shown)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen([*LMGATE, *args], stdin=slave, stdout=slave, stderr=slave,
                            env={**(env or clean_env()), "TERM": "xterm-256color"}, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(30), b"".join(chunks).decode(errors="replace")


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# --- the exit-code table, --version --------------------------------------------------------------------


def test_version():
    res = run("--version")
    assert res.returncode == 0 and res.stdout.startswith("lmgate ") and res.stdout.split()[1][0].isdigit()


TABLE_ROWS = ("0    ok", "1    check failed", "2    usage or config error", "3    unavailable", "4    internal error")


def test_help_documents_the_one_exit_code_table():
    for command in ([], ["serve"]):  # two through a real process; every command below in-process (fast)
        out = run(*command, "--help").stdout
        assert all(row in out for row in TABLE_ROWS), out
    from typer.testing import CliRunner

    from lmgate.cli import app

    for command in (["validate"], ["models"], ["doctor"], ["drill"], ["audit"], ["usage"]):
        out = CliRunner().invoke(app, [*command, "--help"]).stdout
        assert all(row in out for row in TABLE_ROWS), (command, out)


def test_docs_carry_the_same_exit_code_table():
    from lmgate.cli.common import ExitCode

    text = (ROOT / "docs" / "operations.md").read_text()
    for code in ExitCode:
        assert f"| {int(code)} |" in text, f"docs/operations.md lacks exit code {int(code)}"


# --- serve: bind first, one line when it cannot -------------------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_on_a_busy_port_is_one_line_and_exit_3(busy_port: int, workers: str):
    res = run("serve", "--port", str(busy_port), "--workers", workers)
    assert res.returncode == 3
    line = one_error_line(res.stderr)
    assert f"cannot listen on 127.0.0.1:{busy_port}: Address already in use" in line and "--port" in line
    assert "listening" not in res.stdout + res.stderr


def test_serve_on_an_address_this_machine_lacks():
    res = run("serve", "--host", "192.0.2.1", "--port", str(free_port()))  # TEST-NET-1: never assigned
    assert res.returncode == 3
    assert "pass an address this machine has" in one_error_line(res.stderr)


def test_serve_with_a_bad_log_level_is_a_usage_error():
    res = run("serve", "--log-level", "loud")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and "'loud' is not one of" in res.stderr


def test_serve_says_listening_only_once_the_port_accepts(tmp_path: Path):
    port = free_port()
    proc = subprocess.Popen([*LMGATE, "serve", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=clean_env(), start_new_session=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "listening on" in line:
                break
        else:
            raise AssertionError("serve exited without saying it listens")
        assert f"http://127.0.0.1:{port}" in line
        socket.create_connection(("127.0.0.1", port), timeout=2).close()  # refused here = said so too early
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(15)


# --- failures nobody planned for: one line, --debug for the traceback -----------------------------------


def test_an_unexpected_failure_is_one_line_exit_4_and_debug_shows_the_traceback(tmp_path: Path):
    log = tmp_path / "requests.jsonl"
    log.write_text('{"time": "not a number"}\n')  # no lmgate writer produces this record
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"model_list: []\ngeneral_settings: {{request_log_path: '{log}'}}\n")
    res = run("logs", "tail", "--config", str(cfg))
    assert res.returncode == 4
    assert "internal error: ValueError" in one_error_line(res.stderr) and "--debug" in res.stderr
    debug = run("--debug", "logs", "tail", "--config", str(cfg))
    assert debug.returncode == 4 and "Traceback (most recent call last)" in debug.stderr


# --- read-only commands need no secrets; validate says what it does --------------------------------------


def test_read_only_commands_work_without_the_configs_secrets(tmp_path: Path):
    log = tmp_path / "requests.jsonl"
    log.write_text(orjson.dumps({"time": time.time(), "status": 200, "requested_model": "a", "provider": "openai"}).decode() + "\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "model_list:\n"
        "  - {model_name: a, litellm_params: {model: openai/gpt-4o, api_key: os.environ/LMGATE_T_UNSET_KEY}}\n"
        f"general_settings: {{request_log_path: '{log}'}}\n"
    )
    for command in (["models"], ["usage", "--last", "1h"], ["logs", "tail"]):
        res = run(*command, "--config", str(cfg))
        assert res.returncode == 0, (command, res.stderr)
        assert "LMGATE_T_UNSET_KEY" in res.stderr and "not set" in res.stderr, command
    as_json = orjson.loads(run("models", "--config", str(cfg), "--json").stdout)
    assert as_json["models"][0]["alias"] == "a" and as_json["unset_env"] == ["LMGATE_T_UNSET_KEY"]
    strict = run("validate", "--config", str(cfg))
    assert strict.returncode == 1 and "--allow-missing-env" in strict.stderr
    lenient = run("validate", "--config", str(cfg), "--allow-missing-env")
    assert lenient.returncode == 0 and "LMGATE_T_UNSET_KEY" in lenient.stderr
    assert "valid: 1 models, 1 deployments; 1 variable(s) not set" in lenient.stdout


def test_readme_validate_of_the_k3s_example_on_a_fresh_machine():
    """README: without the cluster's variables validate exits 1 naming them and the flag; with it, 0."""
    cfg = str(EXAMPLES / "k3s-gatekeeper.yaml")
    strict = run("validate", "--config", cfg)
    assert strict.returncode == 1 and "OLLAMA_API_KEY" in strict.stderr and "--allow-missing-env" in strict.stderr
    lenient = run("validate", "--config", cfg, "--allow-missing-env")
    assert lenient.returncode == 0, lenient.stderr
    assert "13 models, 13 deployments" in lenient.stdout


# --- output that pipes ------------------------------------------------------------------------------------


def test_piped_tables_and_errors_are_neither_wrapped_nor_truncated(tmp_path: Path):
    long_model = "org/" + "a-very-long-upstream-model-name-" * 5 + "end"
    deep = tmp_path / ("directory-with-a-long-name-" * 3)
    deep.mkdir()
    cfg = deep / "config.yaml"
    cfg.write_text(f"model_list: [{{model_name: long-alias-{'x' * 40}, litellm_params: {{model: mock/{long_model}}}}}]\n")
    out = run("models", "--config", str(cfg)).stdout
    assert any(f"mock/{long_model}" in line for line in out.splitlines()), out
    bad = deep / "bad.yaml"
    bad.write_text("model_list:\n  - {model_name: a, litellm_params: {model: nosuch/x}}\n  - {model_name: b, litellm_params: {model: nosuch/y}}\n")
    errors = [line for line in run("validate", "--config", str(bad)).stderr.splitlines() if "unknown provider" in line]
    assert len(errors) == 2 and all(line.strip().startswith(f"{bad}:") for line in errors), errors


def _log_with(tmp_path: Path, record: dict[str, object]) -> Path:
    log = tmp_path / "requests.jsonl"
    log.write_text(orjson.dumps({"time": time.time(), **record}).decode() + "\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"model_list: []\ngeneral_settings: {{request_log_path: '{log}'}}\n")
    return cfg


def test_user_text_is_shown_as_written_in_a_terminal(tmp_path: Path):
    cfg = _log_with(tmp_path, {"status": 200, "requested_model": "[bold]literal[/bold]", "deployment": "gpt-4o",
                               "route": [["gpt-4o", "ok", 0.004]]})
    code, shown = in_terminal("logs", "tail", "--config", str(cfg))
    assert code == 0, shown
    assert "[bold]literal[/bold]" in shown and "gpt-4o:ok" in shown
    assert "\N{SQUARED OK}" not in shown


def test_drill_route_traces_are_not_emoji(tmp_path: Path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model_list:\n  - {model_name: gpt-4o, litellm_params: {model: mock/a}}\n"
                   "  - {model_name: backup, litellm_params: {model: mock/b}}\n"
                   "litellm_settings: {fallbacks: [{gpt-4o: [backup]}]}\n")
    code, shown = in_terminal("drill", "gpt-4o", "--config", str(cfg), columns=200)
    assert code == 0, shown
    assert "gpt-4o:ok:" in shown and "\N{SQUARED OK}" not in shown


def test_no_color_is_honoured_in_a_terminal(tmp_path: Path):
    cfg = _log_with(tmp_path, {"status": 503, "requested_model": "m"})
    code, coloured = in_terminal("logs", "tail", "--config", str(cfg))
    assert code == 0 and "\x1b[" in coloured, "a terminal without NO_COLOR gets colour (else this test proves nothing)"
    code, plain = in_terminal("logs", "tail", "--config", str(cfg), env=clean_env(NO_COLOR="1"))
    assert code == 0 and "503" in plain and "\x1b[" not in plain
