"""`include:` — other YAML files merged into the config (LiteLLM's form: one file name or a list).

Paths are relative to the including file. Merging: a key only the included file sets is taken as is;
lists (`model_list`) are concatenated in include order after the including file's own entries; mappings
(`router_settings`, …) are merged key by key, and a key set in two files is an error naming both.
Included files may include others (cycles are an error). Every line number in later errors points into
the file the value came from.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

KEY = "include"
Where = tuple[str, int]  # (file, line)
Lines = dict[tuple[str | int, ...], Where]
Parse = Callable[[str, str], tuple[dict[str, Any], Lines]]  # (text, file name) -> (data, lines)


def _where(lines: Lines, path: tuple[str | int, ...], fallback: str) -> str:
    hit = lines.get(path)
    return f"{hit[0]}:{hit[1]}" if hit else fallback


def _shift(lines: Lines, key: str, offset: int) -> Lines:
    """The included file's line entries under `key`, list indexes moved by `offset`."""
    out: Lines = {}
    for path, at in lines.items():
        if len(path) < 2 or path[0] != key:
            continue
        index = path[1]
        out[(key, index + offset, *path[2:]) if isinstance(index, int) else path] = at
    return out


def merge_includes(
    data: dict[str, Any], lines: Lines, name: str, base: Path, parse: Parse, errors: list[str], seen: tuple[Path, ...] = ()
) -> None:
    """Merge every file named by `data["include"]` into `data` (and `lines`), in place."""
    raw = data.pop(KEY)
    at = _where(lines, (KEY,), name)
    files = [raw] if isinstance(raw, str) else raw
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        errors.append(f"{at}: include: must be a file name or a list of file names")
        return
    for i, rel in enumerate(files):
        path = (base / rel).resolve()
        here = _where(lines, (KEY, i), at)
        if path in seen:
            errors.append(f"{here}: include[{i}]: {rel} includes itself (through {' -> '.join(p.name for p in seen)})")
            continue
        try:
            text = path.read_text()
        except OSError as exc:
            errors.append(f"{here}: include[{i}]: cannot read {path}: {exc.strerror or exc}")
            continue
        sub, sub_lines = parse(text, str(path))
        if KEY in sub:
            merge_includes(sub, sub_lines, str(path), path.parent, parse, errors, (*seen, path))
        _merge(data, lines, sub, sub_lines, str(path), errors)


def _merge(data: dict[str, Any], lines: Lines, sub: dict[str, Any], sub_lines: Lines, file: str, errors: list[str]) -> None:
    for key, value in sub.items():
        mine = data.get(key)
        if key not in data or mine is None:
            data[key] = value
            lines.update({p: w for p, w in sub_lines.items() if p and p[0] == key})
        elif isinstance(mine, list) and isinstance(value, list):
            lines.update(_shift(sub_lines, key, len(mine)))
            data[key] = mine + value
        elif isinstance(mine, dict) and isinstance(value, dict):
            for k, v in value.items():
                if k in mine:
                    errors.append(
                        f"{_where(sub_lines, (key, k), file)}: {key}.{k}: also set at {_where(lines, (key, k), '?')}"
                    )
                    continue
                mine[k] = v
                lines.update({p: w for p, w in sub_lines.items() if p[:2] == (key, k)})
        else:
            errors.append(f"{_where(sub_lines, (key,), file)}: {key}: also set at {_where(lines, (key,), '?')}")
