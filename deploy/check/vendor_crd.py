"""Refresh a vendored CRD schema: `python vendor_crd.py CRD.yaml "owner/repo path at COMMIT"`.

Writes crd-schemas/<kind>-<group>-<version>.json with the stored version's openAPIV3Schema, unchanged.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml


def main(crd_file: str, source: str) -> None:
    crd = yaml.safe_load(Path(crd_file).read_text())
    version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    out = {
        "apiVersion": f"{group}/{version['name']}",
        "kind": kind,
        "source": source,
        "schema": version["schema"]["openAPIV3Schema"],
    }
    target = Path(__file__).with_name("crd-schemas") / f"{kind.lower()}-{group}-{version['name']}.json"
    target.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(target)


if __name__ == "__main__":
    main(*sys.argv[1:])
