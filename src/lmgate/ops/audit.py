"""`lmgate audit`: find plaintext secrets in configs and manifests, and world-readable files holding them.

A value is reported when it looks like a provider key (known prefixes such as `sk-`, `gsk_`, `AIza`)
anywhere in a line, commented out or not; when it is one of the example keys LiteLLM's documentation
prints (`sk-1234`: anyone can try it); when a database or Redis URL carries a password; or when a field
named like a secret (`api_key`, `master_key`, `*_token`, `*_password`, `*secret*`) holds a literal of
any length instead of a reference (`os.environ/VAR`, `${VAR}`, `$VAR`, a `secretKeyRef`; SOPS ciphertext is not plaintext either). Values are
never printed whole.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

KEY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Anthropic key", re.compile(r"sk-ant-[A-Za-z0-9_-]{20,}")),
    ("OpenRouter key", re.compile(r"sk-or-v1-[A-Za-z0-9]{32,}")),
    ("OpenAI-style key", re.compile(r"sk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{20,}")),
    ("Groq key", re.compile(r"gsk_[A-Za-z0-9]{20,}")),
    ("xAI key", re.compile(r"xai-[A-Za-z0-9]{20,}")),
    ("Google API key", re.compile(r"AIza[0-9A-Za-z_-]{35}")),
    ("Hugging Face token", re.compile(r"hf_[A-Za-z0-9]{30,}")),
    ("GitHub token", re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}")),
)
# Keys from LiteLLM's docs and examples: published, so whoever reads them can use a proxy that kept them.
EXAMPLE_KEYS = frozenset({"sk-1234", "sk-12345", "sk-123456", "sk-1234567890", "sk-abc", "sk-abcd", "sk-abc123", "sk-my-master-key"})
_EXAMPLE_KEY = re.compile(r"(?<![A-Za-z0-9_-])(" + "|".join(re.escape(k) for k in sorted(EXAMPLE_KEYS, key=len, reverse=True)) + r")(?![A-Za-z0-9_-])")
# scheme://user:PASSWORD@host for databases and Redis; the password group is what gets masked
_URL_PASSWORD = re.compile(
    r"\b(?:postgres(?:ql)?|mysql|mariadb|mssql|oracle|mongodb(?:\+srv)?|rediss?|amqps?)(?:\+\w+)?://[^:/\s@]*:([^@\s/]+)@"
)
SECRET_NAMES = ("api_key", "apikey", "api-key", "master_key", "secret", "secret_key", "password", "passwd", "token", "bearer")
# key: value (YAML, flow or block) or KEY=value (.env); the value is quoted or runs to a separator (a
# value opening a flow mapping or list is not one: its own pairs are matched next)
_PAIR = re.compile(r"""["']?([A-Za-z_][A-Za-z0-9_.-]*)["']?\s*(?::\s+|:(?=["'])|=)\s*("[^"]*"|'[^']*'|[^\s,{}\[\]#][^\s,}\]#]*)""")
# references, and SOPS ciphertext (ENC[AES256_GCM,data:...]): neither is a plaintext secret
_REFERENCE = re.compile(r"^(os\.environ/|\$\{?[A-Za-z_]|\{\{|<.*>$|secretKeyRef|valueFrom|ENC\[AES256_GCM\b)")
_PLACEHOLDER = re.compile(r"^(x+|\.+|\*+|changeme|null|none|true|false|~|your[-_].*|.*[-_]here)$", re.IGNORECASE)
SCANNED_SUFFIXES = (".yaml", ".yml", ".json", ".env", ".toml", ".ini", ".conf", ".cfg")
SKIPPED_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".tox"})
MAX_FILE_BYTES = 1_000_000


@dataclass(slots=True)
class AuditFinding:
    file: str
    line: int | None
    kind: str  # what was found
    key: str | None  # the field that holds it
    value: str | None  # masked: first characters and the length only
    fix: str


@dataclass(slots=True)
class AuditReport:
    files_scanned: int = 0
    findings: list[AuditFinding] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.findings else 0

    def as_json(self) -> dict[str, Any]:
        return {"ok": not self.findings, "files_scanned": self.files_scanned, "findings": [asdict(f) for f in self.findings]}


def mask(value: str) -> str:
    """The first characters (fewer for short values, none for very short ones) and the length."""
    shown = 4 if len(value) >= 12 else 2 if len(value) >= 6 else 0
    return f"{value[:shown]}… ({len(value)} chars)"


def _fix_for(text: str, path: Path) -> str:
    if re.search(r"(?m)^kind:\s*Secret\b", text):
        return "keep Secret manifests with literal values out of git: create the Secret with kubectl, or use sealed-secrets / SOPS / an external secret store"
    if re.search(r"(?m)^kind:\s*ConfigMap\b", text):
        return "move the value into a Secret, expose it to the pod with env.valueFrom.secretKeyRef, and write os.environ/VAR in the config"
    if path.name.startswith(".env") or path.suffix == ".env":
        return "keep env files out of git (.gitignore) and readable by their owner only (chmod 600)"
    return "write os.environ/VAR in the config and export VAR where the gateway runs (systemd Environment=, a Kubernetes Secret)"


def _literal(value: str) -> str | None:
    """The value when it is a literal (any length: `master_key: sk-1234` is as bad as a long one)."""
    v = value.strip().strip("\"'")
    if not v or _REFERENCE.match(v) or _PLACEHOLDER.match(v):
        return None
    return v


EXAMPLE_FIX = "this key is printed in LiteLLM's docs, so anyone can use it: generate one (`openssl rand -hex 32`), keep it in a Secret and write os.environ/VAR in the config"
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


def _secret_name(name: str, value: str) -> bool:
    """A field that holds a secret's value, as opposed to naming a Secret object or one of its keys:
    Helm's `existingSecret: <Secret name>`, external-secrets' `secretKey: <ENV_NAME>`."""
    n = name.lower().rsplit(".", 1)[-1]
    if n == "existingsecret" or (n == "secretkey" and _ENV_NAME.fullmatch(value)):
        return False
    return n.endswith(SECRET_NAMES) or ("secret" in n and not n.endswith(("ref", "name")))


def scan_text(text: str, path: Path) -> list[AuditFinding]:
    fix = _fix_for(text, path)
    out: list[AuditFinding] = []
    for number, line in enumerate(text.splitlines(), start=1):
        seen: set[str] = set()
        for m in _EXAMPLE_KEY.finditer(line):
            seen.add(m.group(1))
            out.append(AuditFinding(str(path), number, "LiteLLM's documented example key", None, mask(m.group(1)), EXAMPLE_FIX))
        for m in _URL_PASSWORD.finditer(line):
            password = m.group(1)
            if not _REFERENCE.match(password) and not _PLACEHOLDER.match(password):
                seen.add(password)
                out.append(AuditFinding(str(path), number, "password in a database/Redis URL", None, mask(password), fix))
        for kind, pattern in KEY_PATTERNS:
            for m in pattern.finditer(line):
                if not any(m.group(0) in s or s in m.group(0) for s in seen):
                    seen.add(m.group(0))
                    out.append(AuditFinding(str(path), number, kind, None, mask(m.group(0)), fix))
        code = line.split(" #", 1)[0]
        if code.lstrip().startswith("#"):
            continue
        for m in _PAIR.finditer(code):
            name, value = m.group(1), m.group(2)
            literal = _literal(value)
            if literal and _secret_name(name, literal) and not any(literal in s or s in literal for s in seen):
                seen.add(literal)
                out.append(AuditFinding(str(path), number, f"literal value in '{name}'", name, mask(literal), fix))
    return out


def _candidates(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        for name in sorted(filenames):
            if name.endswith(SCANNED_SUFFIXES) or name.startswith(".env"):
                yield Path(dirpath) / name


def audit(paths: list[Path]) -> AuditReport:
    report = AuditReport()
    done: set[Path] = set()
    for root in paths:
        for path in _candidates(root):
            resolved = path.resolve()
            if resolved in done:
                continue
            done.add(resolved)
            try:
                info = path.stat()
                if info.st_size > MAX_FILE_BYTES:
                    continue
                text = path.read_text(errors="replace")
            except OSError:
                continue
            report.files_scanned += 1
            found = scan_text(text, path)
            report.findings += found
            if found and info.st_mode & stat.S_IROTH:
                mode = stat.filemode(info.st_mode)
                report.findings.append(
                    AuditFinding(str(path), None, f"world-readable ({mode}) file holding secrets", None, None, f"chmod 600 {path}")
                )
    return report
