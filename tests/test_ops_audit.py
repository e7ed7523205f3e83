"""`lmgate audit`: plaintext secrets in configs, manifests and env files, and their permissions."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from lmgate.cli import app

runner = CliRunner()

OPENAI = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
GROQ = "gsk_" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0"
GOOGLE = "AIza" + "SyD3f9K2mQ7xL0pR8vT4wZ6yB1nC5hJ2kE9"
OPENROUTER = "sk-or-v1-" + "0123456789abcdef" * 4
MASTER = "my-very-own-master-key-2026"

CONFIG = f"""\
model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o
      api_key: {OPENAI}
      max_tokens: 123456789
  - model_name: groq
    litellm_params: {{model: groq/llama-3.3-70b, api_key: os.environ/GROQ_API_KEY}}
  # old: api_key: {GROQ}
general_settings:
  master_key: "{MASTER}"
  database_url: os.environ/DATABASE_URL
"""

CONFIGMAP = f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: lmgate-config
data:
  config.yaml: |
    model_list:
      - model_name: gemini
        litellm_params:
          model: gemini/gemini-2.5-flash
          api_key: {GOOGLE}
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
        - name: lmgate
          env:
            - name: OPENAI_API_KEY
              valueFrom:
                secretKeyRef: {name: lmgate-keys, key: OPENAI_API_KEY}
            - name: LMGATE_TOKEN
              value: ${LMGATE_TOKEN}
"""

CLEAN = """\
model_list:
  - model_name: x
    litellm_params:
      model: openai/gpt-4o
      api_key: "os.environ/OPENAI_API_KEY"
      password: <your-password-here>
"""


def make_tree(root):
    (root / "k8s").mkdir()
    (root / ".venv").mkdir()
    cfg = root / "config.yaml"
    cfg.write_text(CONFIG)
    cfg.chmod(0o644)
    (root / "k8s" / "configmap.yaml").write_text(CONFIGMAP)
    (root / "k8s" / "configmap.yaml").chmod(0o600)
    (root / "k8s" / "deployment.yaml").write_text(DEPLOYMENT)
    env = root / ".env"
    env.write_text(f"# keys\nexport OPENROUTER_API_KEY={OPENROUTER}\nLOG_LEVEL=info\n")
    env.chmod(0o600)
    (root / ".venv" / "leak.yaml").write_text(f"api_key: {OPENAI}\n")
    (root / "clean.yaml").write_text(CLEAN)
    return cfg


def test_finds_each_plaintext_secret_and_never_prints_it(tmp_path):
    cfg = make_tree(tmp_path)
    result = runner.invoke(app, ["audit", "--path", str(tmp_path), "--json"])
    assert result.exit_code == 1
    for secret in (OPENAI, GROQ, GOOGLE, OPENROUTER, MASTER):
        assert secret not in result.stdout
    data = orjson.loads(result.stdout)
    assert data["files_scanned"] == 5  # .venv skipped
    found = {(f["file"].removeprefix(str(tmp_path) + "/"), f["line"], f["kind"]) for f in data["findings"]}
    assert found == {
        ("config.yaml", 5, "OpenAI-style key"),
        ("config.yaml", 9, "Groq key"),  # commented out, still in the file
        ("config.yaml", 11, "literal value in 'master_key'"),
        ("config.yaml", None, "world-readable (-rw-r--r--) file holding secrets"),
        ("k8s/configmap.yaml", 11, "Google API key"),
        (".env", 2, "OpenRouter key"),
    }
    fixes = {f["file"].removeprefix(str(tmp_path) + "/"): f["fix"] for f in data["findings"] if f["line"]}
    assert "os.environ/VAR" in fixes["config.yaml"]
    assert "secretKeyRef" in fixes["k8s/configmap.yaml"]
    assert "chmod 600" in fixes[".env"]
    world = next(f for f in data["findings"] if f["line"] is None)
    assert world["fix"] == f"chmod 600 {cfg}"
    masked = next(f for f in data["findings"] if f["kind"] == "literal value in 'master_key'")
    assert masked["value"] == f"my-v… ({len(MASTER)} chars)"


def test_clean_files_pass_and_config_option(tmp_path):
    make_tree(tmp_path)
    clean = runner.invoke(app, ["audit", "--path", str(tmp_path / "clean.yaml"), "--path", str(tmp_path / "k8s" / "deployment.yaml")])
    assert clean.exit_code == 0 and "no plaintext secrets in 2 file(s)" in clean.stdout
    table = runner.invoke(app, ["audit", "--config", str(tmp_path / "config.yaml")], env={"COLUMNS": "200"})
    assert table.exit_code == 1 and "master_key" in table.stdout and "chmod 600" in table.stdout
    missing = runner.invoke(app, ["audit", "--path", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "not found" in missing.stderr  # errors go to stderr, one line


def test_names_of_secrets_are_not_secrets(tmp_path):
    """Helm's existingSecret and external-secrets' secretKey name a Secret and a key, SOPS values are
    ciphertext; a literal value in a field called secretKey (MinIO-style) is still reported."""
    values = tmp_path / "values.yaml"
    values.write_text(
        "existingSecret: lmgate-keys\n"
        "externalSecret:\n"
        "  data:\n"
        "    - secretKey: OLLAMA_API_KEY\n"
        "      remoteRef: {key: ai/lmgate, property: ollama_api_key}\n"
        "stringData:\n"  # a SOPS-encrypted Secret: ciphertext, not plaintext
        "  OLLAMA_API_KEY: ENC[AES256_GCM,data:3q2+7w==,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n"
    )
    assert runner.invoke(app, ["audit", "--path", str(values)]).exit_code == 0
    values.write_text("minio:\n  secretKey: minio-admin-2026\n")
    result = runner.invoke(app, ["audit", "--path", str(values), "--json"])
    assert result.exit_code == 1
    assert [f["kind"] for f in orjson.loads(result.stdout)["findings"]][0] == "literal value in 'secretKey'"
