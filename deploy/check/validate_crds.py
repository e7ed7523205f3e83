"""Validate the custom resources in rendered manifests against the CRD schemas vendored in crd-schemas/.

kubernetes-validate knows only Kubernetes' own kinds and merely warns about the rest; this checks the
others (ServiceMonitor, ExternalSecret, IngressRoute) strictly (unknown fields rejected, as
kubernetes-validate --strict does) and fails on any non-Kubernetes kind that has no vendored schema.
Runs in the deploy-check tool venv (PyYAML and jsonschema come with kubernetes-validate).

    python validate_crds.py rendered.yaml ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMAS = Path(__file__).with_name("crd-schemas")


def strict(schema: Any) -> Any:
    """Objects that list their properties and allow nothing else (CRD pruning would drop the rest)."""
    if isinstance(schema, dict):
        out = {key: strict(value) for key, value in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def load_schemas() -> dict[tuple[str, str], Any]:
    schemas = {}
    for path in sorted(SCHEMAS.glob("*.json")):
        vendored = json.loads(path.read_text())
        schemas[(vendored["apiVersion"], vendored["kind"])] = strict(vendored["schema"])
    return schemas


def is_kubernetes_own(api_version: str) -> bool:
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def check(path: Path, schemas: dict[tuple[str, str], Any]) -> list[str]:
    problems = []
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc:
            continue
        key = (doc.get("apiVersion", ""), doc.get("kind", ""))
        name = f"{path}: {key[1]}/{doc.get('metadata', {}).get('name', '?')}"
        if is_kubernetes_own(key[0]):
            continue
        schema = schemas.get(key)
        if schema is None:
            problems.append(f"{name}: no vendored schema for {key[0]} {key[1]}")
            continue
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
        problems += [f"{name}: {'.'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors]
        if not errors:
            print(f"INFO {name} passed against the vendored {key[0]} {key[1]} schema")
    return problems


def main(argv: list[str]) -> int:
    schemas = load_schemas()
    problems = [p for arg in argv for p in check(Path(arg), schemas)]
    for problem in problems:
        print(f"ERROR {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
