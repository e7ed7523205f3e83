"""Deploy artefacts (Dockerfile, Helm chart, plain manifests, Flux files, systemd unit) agree with the
package and the CLI, and the commands they run work. No external tool needed: `make deploy-check` adds
hadolint, helm, kubernetes-validate and systemd-analyze on top (docs/deploy.md)."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from typer.main import get_command
from typer.testing import CliRunner

from lmgate import __version__
from lmgate.cli import app
from lmgate.ops.common import load_tolerant
from lmgate.ops.systemd import UnitSpec, render_unit, serve_words
from tests.processes import running
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
CHART = ROOT / "deploy" / "helm" / "lmgate"
K8S = ROOT / "deploy" / "k8s"
FLUX = ROOT / "deploy" / "flux"
K3S_EXAMPLE = ROOT / "examples" / "k3s-gatekeeper.yaml"
VENV_BIN = Path(sys.executable).parent


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def serve_options(argv: list[str]) -> dict[str, Any]:
    """Parse `lmgate serve ...` the way the CLI does (unknown options and bad values raise)."""
    assert argv[0] == "serve", argv
    serve = get_command(app).commands["serve"]  # type: ignore[attr-defined]
    return dict(serve.make_context("serve", list(argv[1:])).params)


# --- Dockerfile ---------------------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """Instructions per stage, continuation lines joined, global ARG defaults substituted."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    args: dict[str, str] = {}
    stages: list[list[tuple[str, str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
            continue
        if instruction == "FROM":
            stages.append([])
            rest = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest)
        stages[-1].append((instruction, rest.strip()))
    return stages


def final_stage() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for instruction, rest in dockerfile_stages()[-1]:
        found.setdefault(instruction, []).append(rest)
    return found


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in final_stage()["ENV"]:
        for word in shlex.split(rest):
            name, _, value = word.partition("=")
            env[name] = value
    return env


def image_argv() -> list[str]:
    final = final_stage()
    return [*json.loads(final["ENTRYPOINT"][-1]), *json.loads(final["CMD"][-1])]


def healthcheck_argv() -> list[str]:
    (check,) = final_stage()["HEALTHCHECK"]
    return list(json.loads(check[check.index("CMD ") + 4 :]))


def copied_to(destination: str) -> Path:
    """The build-context file the final stage copies to `destination`."""
    for rest in final_stage()["COPY"]:
        words = rest.split()
        if not words[0].startswith("--from") and words[-1] == destination:
            return ROOT / words[0]
    raise AssertionError(f"nothing in the Dockerfile is copied to {destination}")


def test_image_is_multi_stage_slim_and_non_root():
    stages = dockerfile_stages()
    bases = [rest.split()[0] for stage in stages for instruction, rest in stage if instruction == "FROM"]
    assert len(stages) >= 2 and all("-slim" in base for base in bases), bases
    final = final_stage()
    runs = " ".join(final.get("RUN", []))
    assert "pip" not in runs and "apt-get" not in runs, "the final stage installs nothing"
    uid = final["USER"][-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0


def test_image_entry_point_paths_agree_with_the_cli():
    argv = image_argv()
    assert argv[0] == "lmgate"
    options = serve_options(argv[1:])
    assert options["host"] == "0.0.0.0"
    assert str(options["config"]) == "/etc/lmgate/config.yaml"
    assert copied_to("/etc/lmgate/config.yaml").read_text() == (ROOT / "src/lmgate/config/default.yaml").read_text()
    final = final_stage()
    assert final["EXPOSE"] == [str(options["port"])]
    assert image_env()["LMGATE_STATE_DIR"] in json.loads(final["VOLUME"][-1])
    assert f"127.0.0.1:{options['port']}/health/liveliness" in " ".join(healthcheck_argv())


def dockerignore_excludes(path: str) -> bool:
    """Docker's rule: the last matching pattern wins, `!` re-includes; a directory pattern covers its files."""
    excluded = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.removeprefix("**/")) for p in prefixes):
            excluded = not negate
    return excluded


def test_dockerignore_keeps_what_the_build_copies_and_nothing_else():
    copies = [rest.split() for stage in dockerfile_stages() for i, rest in stage if i == "COPY"]
    sources = [word for words in copies if not words[0].startswith("--from") for word in words[:-1]]
    assert sources
    for source in sources:
        assert not dockerignore_excludes(source), source
    for kept_out in (".venv/bin/python", ".git/config", "tests/test_cli.py", ".env", "deploy/k8s/secret.yaml"):
        assert dockerignore_excludes(kept_out), kept_out


def test_image_command_serves_from_a_venv_and_its_healthcheck_passes(tmp_path):
    """The image's ENTRYPOINT+CMD, run from this venv with the image's paths mapped under tmp_path:
    same arguments (only the port is a free one), same environment, same working directory. Its
    HEALTHCHECK and the manifests' probe paths answer."""
    port = free_port()
    mapped = {"/etc/lmgate/config.yaml": tmp_path / "etc/lmgate/config.yaml"}
    mapped["/etc/lmgate/config.yaml"].parent.mkdir(parents=True)
    mapped["/etc/lmgate/config.yaml"].write_text(copied_to("/etc/lmgate/config.yaml").read_text())
    env = image_env()
    state = tmp_path / env["LMGATE_STATE_DIR"].lstrip("/")
    state.mkdir(parents=True)
    env.update(LMGATE_STATE_DIR=str(state), PATH=f"{VENV_BIN}:/usr/bin:/bin", HOME=str(state))
    argv = [str(mapped.get(word, word)) for word in image_argv()]
    argv[0] = str(VENV_BIN / "lmgate")
    argv[argv.index("--port") + 1] = str(port)
    assert final_stage()["WORKDIR"][-1] == image_env()["LMGATE_STATE_DIR"]

    with running(argv, port, env=env, cwd=str(state)) as (url, proc):
        check = healthcheck_argv()
        check[0] = sys.executable
        check = [word.replace("127.0.0.1:4000", f"127.0.0.1:{port}") for word in check]
        assert subprocess.run(check, timeout=10).returncode == 0
        for path in sorted(probe_paths()):  # what the kubelet will ask
            assert httpx.get(url + path).status_code == 200, path
        ready = httpx.get(url + "/health/readiness").json()
        assert ready["config"] == str(mapped["/etc/lmgate/config.yaml"])
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        reply = client.chat.completions.create(model="mock-chat", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "echo: hi"
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(15) == 0
    assert (state / "requests.jsonl").read_text().count("\n") == 1  # the state dir is the volume


# --- Helm chart, plain manifests, Flux ----------------------------------------------------------


def test_versions_and_image_agree_everywhere():
    assert __version__ == VERSION
    chart = load(CHART / "Chart.yaml")
    assert chart["version"] == chart["appVersion"] == VERSION
    values = load(CHART / "values.yaml")
    assert values["image"]["tag"] == "", "the tag defaults to appVersion, the released version"
    repository = values["image"]["repository"]
    assert re.fullmatch(r"ghcr\.io/[a-z0-9-]+/lmgate", repository)
    workflow = (ROOT / ".github/workflows/image.yml").read_text()
    assert "image=ghcr.io/${GITHUB_REPOSITORY_OWNER,,}/lmgate" in workflow
    assert "tags: [\"v*\"]" in workflow
    (image,) = load(K8S / "kustomization.yaml")["images"]
    assert image == {"name": repository, "newTag": VERSION}
    assert load(K8S / "deployment.yaml")["spec"]["template"]["spec"]["containers"][0]["image"] == repository
    assert load(FLUX / "fleet/gitrepository.yaml")["spec"]["ref"]["tag"] == f"v{VERSION}"


def schema_gaps(values: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    """Keys of values.yaml that values.schema.json does not describe (so a strict schema would reject them)."""
    if not isinstance(values, dict) or "properties" not in schema:
        return []
    gaps = []
    for key, value in values.items():
        if key not in schema["properties"]:
            gaps.append(where + key)
        else:
            gaps += schema_gaps(value, schema["properties"][key], f"{where}{key}.")
    return gaps


def test_values_schema_describes_every_value():
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = load(CHART / "values.yaml")
    assert schema_gaps(values, schema) == []
    assert set(schema["properties"]) == set(values) | {"global"}
    for path in sorted((CHART / "ci").glob("*.yaml")):
        assert schema_gaps(load(path), schema) == [], path.name


def chart_configs() -> dict[str, str]:
    """Every config a deploy file carries, as YAML text."""
    configs = {"chart default": (CHART / "files/default-config.yaml").read_text()}
    for path in sorted((CHART / "ci").glob("*.yaml")):
        config = load(path)["config"]
        configs[path.name] = config if isinstance(config, str) else yaml.safe_dump(config)
    configs["flux helmrelease"] = yaml.safe_dump(load(FLUX / "app/helmrelease.yaml")["spec"]["values"]["config"])
    configs["deploy/k8s/config.yaml"] = (K8S / "config.yaml").read_text()
    return configs


@pytest.mark.parametrize("name", sorted(chart_configs()))
def test_every_shipped_config_loads(name, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(chart_configs()[name])
    loaded = load_tolerant(path)  # os.environ/ references get placeholders; everything else must hold
    assert loaded.errors == [] and loaded.config is not None and loaded.config.aliases


def test_configs_move_unchanged():
    """The LiteLLM config goes into the chart and the manifests verbatim; the chart's default is lmgate's."""
    assert chart_configs()["k3s-gatekeeper-values.yaml"] == K3S_EXAMPLE.read_text()
    assert (K8S / "config.yaml").read_text() == K3S_EXAMPLE.read_text()
    assert chart_configs()["chart default"] == (ROOT / "src/lmgate/config/default.yaml").read_text()


def chart_args() -> list[str]:
    """The Deployment template's container args with `{{ .Values.a.b }}` and `$workers` filled in."""
    values = load(CHART / "values.yaml")
    template = (CHART / "templates/deployment.yaml").read_text()
    block = template[template.index("args:\n") : template.index("ports:\n")]

    def value(path: str) -> str:
        node: Any = values
        for part in path.split("."):
            node = node[part]
        return str(node)

    args = []
    for line in block.splitlines()[1:]:
        item = line.strip()
        if not item.startswith("- ") or item == "- {{ . | quote }}":
            continue  # the {{ range .Values.server.extraArgs }} block (empty by default)
        item = re.sub(r"\{\{ \.Values\.([\w.]+) \}\}", lambda m: value(m.group(1)), item[2:])
        args.append(item.replace("{{ $workers }}", value("server.workers")))
    assert not any("{{" in arg for arg in args), args
    return args


def k8s_container() -> dict[str, Any]:
    return load(K8S / "deployment.yaml")["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("source", ["helm chart", "deploy/k8s"])
def test_manifest_args_parse_and_match_the_image(source):
    args = chart_args() if source == "helm chart" else k8s_container()["args"]
    options = serve_options(args)
    image = serve_options(image_argv()[1:])
    assert (options["host"], options["config"], options["port"]) == (image["host"], image["config"], image["port"])


def test_manifests_mount_config_as_a_directory_and_run_as_the_image_user():
    values = load(CHART / "values.yaml")
    container = k8s_container()
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    config_dir = str(Path(serve_options(image_argv()[1:])["config"]).parent)
    assert mounts["config"]["mountPath"] == config_dir and "subPath" not in mounts["config"]  # hot reload needs it
    state_dir = image_env()["LMGATE_STATE_DIR"]
    assert mounts["state"]["mountPath"] == state_dir
    assert {"name": "LMGATE_STATE_DIR", "value": state_dir} in container["env"]
    template = (CHART / "templates/deployment.yaml").read_text()
    assert f"mountPath: {config_dir}\n" in template and f"mountPath: {state_dir}\n" in template
    assert not re.search(r"^\s*subPath:", template, re.M)
    uid = int(final_stage()["USER"][-1].split(":")[0])
    assert values["podSecurityContext"]["runAsUser"] == uid
    assert load(K8S / "deployment.yaml")["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == uid



def probe_paths() -> set[str]:
    """Every probe path the chart's values and the plain Deployment use."""
    container = k8s_container()
    paths = {probe["path"] for probe in load(CHART / "values.yaml")["probes"].values()}
    paths |= {container[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert paths == {"/health/liveliness", "/health/readiness"}
    return paths


# --- systemd user unit --------------------------------------------------------------------------


def test_committed_unit_is_the_template_with_home_paths():
    words = serve_words("%h/.local/share/lmgate/venv/bin/lmgate", "%h/.config/lmgate/config.yaml", "127.0.0.1", 4000, 1)
    expected = render_unit(UnitSpec(" ".join(words), "%h/.config/lmgate/env"))
    assert (ROOT / "deploy/systemd/lmgate.service").read_text() == expected


def unit_field(unit: str, name: str) -> str:
    (line,) = [line for line in unit.splitlines() if line.startswith(name + "=")]
    return line.split("=", 1)[1]


def systemd_words(exec_start: str) -> list[str]:
    """ExecStart's words as systemd splits them (double quotes, backslash escapes, `%%` and `$$`)."""
    return [w.replace("%%", "%").replace("$$", "$") for w in shlex.split(exec_start)]


def read_env_file(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


CONFIG_WITH_KEY = """\
model_list:
  - model_name: first
    litellm_params: {model: mock/echo, api_key: os.environ/LMGATE_DEPLOY_TEST_KEY}
general_settings:
  config_watch_interval: 0   # only SIGHUP (the unit's ExecReload) reloads
"""


def test_service_install_writes_a_unit_whose_exec_start_serves_and_reloads(tmp_path):
    config_dir = tmp_path / "my configs %d"  # a space and a specifier character: quoting matters
    config_dir.mkdir()
    config = config_dir / "config.yaml"
    config.write_text(CONFIG_WITH_KEY)
    port = free_port()
    home = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    args = ["service", "install", "--user", "--config", str(config), "--port", str(port)]
    result = CliRunner().invoke(app, args, env=home)
    assert result.exit_code == 0, result.output
    unit_path = tmp_path / "xdg/systemd/user/lmgate.service"
    unit = unit_path.read_text()
    env_file = Path(unit_field(unit, "EnvironmentFile").removeprefix("-"))
    assert env_file == tmp_path / "xdg/lmgate/env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert "# LMGATE_DEPLOY_TEST_KEY=" in env_file.read_text()  # the variables the config reads, to fill in
    assert unit_field(unit, "ExecReload") == "/bin/kill -HUP $MAINPID"

    argv = systemd_words(unit_field(unit, "ExecStart"))
    assert argv[0] == str(VENV_BIN / "lmgate") and argv[argv.index("--config") + 1] == str(config)
    base_env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
    missing = subprocess.run(argv, env=base_env, capture_output=True, text=True, timeout=30)
    assert missing.returncode == 2 and "LMGATE_DEPLOY_TEST_KEY is not set" in " ".join(missing.stderr.split())

    env_file.write_text(env_file.read_text() + "LMGATE_DEPLOY_TEST_KEY=from-the-env-file\n")
    with running(argv, port, env={**base_env, **read_env_file(env_file)}) as (url, proc):
        config.write_text(CONFIG_WITH_KEY.replace("model_name: first", "model_name: second"))
        os.kill(proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while [m["id"] for m in httpx.get(url + "/v1/models").json()["data"]] != ["second"]:
            assert time.monotonic() < deadline, "SIGHUP did not reload the config"
            time.sleep(0.05)

    again = CliRunner().invoke(app, args, env=home)
    assert again.exit_code == 2 and "--force" in again.output and unit_path.read_text() == unit
    printed = CliRunner().invoke(app, [*args, "--stdout"], env=home)
    assert printed.exit_code == 0 and printed.output == unit


def test_service_install_refuses_a_broken_config(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("model_list:\n  - model_name: x\n    litellm_params: {}\n")
    result = CliRunner().invoke(app, ["service", "install", "--config", str(config)], env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert result.exit_code == 2 and "config.yaml:" in result.output
    assert not (tmp_path / "systemd").exists()
